/**
 * Tests of the interop harness itself, and a self-check of the SIPp scenarios and the
 * Kamailio proxy config with SIPp on both ends (no sipkit involved), so a failure in the
 * sipkit interop tests points at sipkit, not at the scenarios.
 */
import { assert } from "../test_deps.ts";
import {
  freePort,
  parseSippMessages,
  parseSippStat,
  portBound,
  requireBinary,
  runSipp,
  spawn,
  startKamailio,
  startSipp,
} from "./_harness.ts";

Deno.test("requireBinary fails with the apt-get command when a peer is missing", () => {
  assert.throws(
    () => requireBinary("sipkit-no-such-peer-binary", "sipkit-no-such-package"),
    /apt-get install -y sipkit-no-such-package/,
  );
  assert.match(requireBinary("sh", "dash"), /\/sh$/);
});

Deno.test("parseSippStat takes the last row by column; parseSippMessages splits the trace", () => {
  const csv = "StartTime;SuccessfulCall(C);FailedCall(C);\n" +
    "a;0;0;\n" +
    "b;198;2;\n";
  assert.deepEqual(parseSippStat(csv), {
    StartTime: "b",
    "SuccessfulCall(C)": "198",
    "FailedCall(C)": "2",
  });
  assert.deepEqual(parseSippStat(""), {});
  const log = "----------------------------------------------- 2026-01-01 00:00:00.000\n" +
    "UDP message sent (10 bytes):\n\nOPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n\n" +
    "----------------------------------------------- 2026-01-01 00:00:00.001\n" +
    "UDP message received [10] bytes :\n\nSIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n\n";
  const msgs = parseSippMessages(log);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]!.direction, "sent");
  assert.match(msgs[1]!.text, /^SIP\/2\.0 200 OK/);
});

Deno.test("freePort hands out distinct ports free for UDP and TCP", async () => {
  const a = await freePort();
  const b = await freePort();
  assert.notEqual(a, b);
  assert.equal(portBound(a, "udp"), false);
  assert.equal(portBound(a, "tcp"), false);
  const l = Deno.listen({ hostname: "127.0.0.1", port: a });
  try {
    assert.equal(portBound(a, "tcp"), true);
  } finally {
    l.close();
  }
});

Deno.test("Proc.stop ends a child by its pid (SIGTERM) and awaits it", async () => {
  const p = spawn("sleep", ["30"]);
  const t0 = Date.now();
  const s = await p.stop();
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(s.signal, "SIGTERM");
  await assert.rejects(() => spawn("sh", ["-c", "exit 3"]).waitFor(/never/, 5000), /exited/);
});

Deno.test("scenario self-check: each SIPp UAC scenario against its SIPp UAS partner (UDP)", async (t) => {
  requireBinary("sipp", "sip-tester");
  const pairs = [
    ["options_uac.xml", "uas_reply200.xml", "service"],
    ["message_uac.xml", "uas_reply200.xml", "service"],
    ["invite_bye_uac.xml", "uas_answer.xml", "service"],
    ["cancel_uac.xml", "uas_cancel.xml", "service"],
    ["busy_uac.xml", "uas_busy.xml", "busy"],
    ["reinvite_uac.xml", "uas_reinvite.xml", "service"],
  ] as const;
  for (const [uac, uas, service] of pairs) {
    await t.step(`${uac} ↔ ${uas}`, async () => {
      const port = await freePort();
      await using server = await startSipp({ sf: uas, port, calls: 3, timeoutS: 20 });
      const r = await runSipp({
        sf: uac,
        remote: `127.0.0.1:${port}`,
        port: await freePort(),
        calls: 3,
        rate: 20,
        service,
        timeoutS: 20,
      });
      assert.equal(r.successful, 3, r.report);
      assert.equal(r.failed, 0, r.report);
      const s = await server.result(10_000);
      assert.equal(s.successful, 3, s.report);
    });
  }
});

Deno.test("proxy self-check: SIPp → Kamailio (proxy.cfg) → SIPp, ACK and BYE loose-routed", async () => {
  requireBinary("sipp", "sip-tester");
  requireBinary("kamailio", "kamailio");
  const port = await freePort();
  await using server = await startSipp({ sf: "uas_answer.xml", port, calls: 2, timeoutS: 20 });
  await using k = await startKamailio(port, "udp");
  const r = await runSipp({
    sf: "invite_bye_uac.xml",
    remote: `127.0.0.1:${k.port}`,
    port: await freePort(),
    calls: 2,
    rate: 20,
    timeoutS: 20,
  });
  assert.equal(r.successful, 2, `${r.report}\n${k.proc.output()}`);
  const marks = k.marks();
  assert.equal(marks.filter((m) => m.startsWith("SIPKIT-LR BYE")).length, 2, marks.join("\n"));
  assert.equal(marks.filter((m) => m.startsWith("SIPKIT-LR ACK")).length, 2, marks.join("\n"));
  assert.equal((await server.result(10_000)).successful, 2);
});
