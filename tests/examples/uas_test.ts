// examples/uas.ts: the answering UAS used by benchmarks and interop, run as a subprocess.
import { assert } from "../test_deps.ts";
import { createSipStack } from "../../service/sip_stack.ts";
import { parseSdp } from "../../sip/sdp.ts";
import { spawnReady } from "./_spawn.ts";

const OFFER = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

Deno.test("example uas: OPTIONS 200; INVITE 180 then 200 with an SDP answer; ACK; BYE 200; user busy 486 (UDP and TCP)", async () => {
  const uas = await spawnReady(["examples/uas.ts", "--listen", "sip:127.0.0.1:0"], 2);
  const uac = await createSipStack({ name: "uas-test", listen: ["sip:127.0.0.1:0"] });
  try {
    const port = uas.port("udp");
    assert.equal(uas.port("tcp"), port);
    for (const suffix of ["", ";transport=tcp"]) {
      const to = `sip:service@127.0.0.1:${port}${suffix}`;
      assert.equal((await uac.options(to)).status, 200);
      const provisional: number[] = [];
      const r = await uac.invite(to, {
        body: OFFER,
        onProvisional: (res) => provisional.push(res.status),
      });
      assert.equal(r.status, 200);
      assert.ok(provisional.includes(180), `provisional: ${provisional}`);
      assert.equal(r.response?.contentType, "application/sdp");
      // RFC 3264 §6: one m= line per offered stream, with a format from the offer.
      const answer = parseSdp(r.response!.bodyText());
      assert.equal(answer.media.length, 1);
      assert.ok(answer.media[0]!.port > 0);
      assert.ok(answer.media[0]!.formats.every((f) => ["0", "8", "101"].includes(f)));
      const d = r.dialog!;
      assert.equal((await d.reinvite({ body: OFFER })).status, 200);
      assert.equal((await d.bye()).status, 200);
    }
    // A late offer (INVITE without SDP): the 200 carries an offer, the ACK the answer.
    const late = await uac.invite(`sip:service@127.0.0.1:${port}`, { autoAck: false });
    assert.equal(late.status, 200);
    assert.ok(late.response!.bodyText().includes("m=audio"));
    await late.dialog!.ack({ body: OFFER });
    assert.equal((await late.dialog!.bye()).status, 200);
    // An offer with no common codec: 488.
    const none = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 99").replace(
      "a=rtpmap:101 telephone-event/8000",
      "a=rtpmap:99 FOO/8000",
    );
    assert.equal((await uac.invite(`sip:service@127.0.0.1:${port}`, { body: none })).status, 488);
    // The user `busy` gets 486 Busy Here, without a 180 first, over UDP and TCP; the UAC's
    // ACK for it (RFC 3261 §17.1.1.3) is absorbed and leaves no dialog behind.
    for (const suffix of ["", ";transport=tcp"]) {
      const provisional: number[] = [];
      const busy = await uac.invite(`sip:busy@127.0.0.1:${port}${suffix}`, {
        body: OFFER,
        onProvisional: (res) => provisional.push(res.status),
      });
      assert.equal(busy.status, 486);
      assert.equal(busy.reason, "Busy Here");
      assert.equal(busy.dialog, undefined);
      assert.ok(!provisional.includes(180), `provisional: ${provisional}`);
    }
    assert.equal(uac.counts.dialogs, 0);
  } finally {
    await uac.close(0);
    const end = await uas.stop();
    assert.equal(end.code, 0, end.stderr);
  }
});

Deno.test("example uas: --ring-ms delays the 200 and a CANCEL in between gives 487", async () => {
  const uas = await spawnReady([
    "examples/uas.ts",
    "--listen",
    "sip:127.0.0.1:0;transport=udp",
    "--ring-ms",
    "2000",
  ], 1);
  const uac = await createSipStack({ name: "uas-test-2", listen: ["sip:127.0.0.1:0"] });
  try {
    const abort = new AbortController();
    const r = await uac.invite(`sip:service@127.0.0.1:${uas.port("udp")}`, {
      body: OFFER,
      signal: abort.signal,
      onProvisional: (res) => {
        if (res.status === 180) abort.abort();
      },
    });
    assert.equal(r.status, 487);
  } finally {
    await uac.close(0);
    const end = await uas.stop("SIGINT");
    assert.equal(end.code, 0, end.stderr);
  }
});
