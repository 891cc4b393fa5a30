/**
 * SIPp (Debian `sip-tester`) against sipkit, in both roles, over UDP and TCP.
 *
 * - SIPp UAC → `cli.ts serve`: OPTIONS (200) and MESSAGE (603, serve's default).
 * - SIPp UAC → `examples/uas.ts`: INVITE/BYE, re-INVITE, 486 (R-URI user `busy`), CANCEL
 *   (the example started with `--ring-ms`), and `sipp -sn uac` with 10% packet loss
 *   (≥ 99% of calls complete).
 * - A SIPp UAC that never ACKs, against an in-process sipkit UAS with a small T1.
 * - sipkit UAC → SIPp UAS: OPTIONS, MESSAGE, INVITE/ACK/BYE, re-INVITE, CANCEL, 486, and
 *   `sipp -sn uas` with 10% packet loss.
 *
 * The scenarios are in tests/interop/scenarios (written for these tests).
 */
import { assert } from "../test_deps.ts";
import {
  freePort,
  requireBinary,
  runSipp,
  type SippResult,
  startSipkit,
  startSipp,
} from "./_harness.ts";
import { type SipkitUac, startUac } from "./_uac.ts";
import { start } from "../../mod.ts";

const UAS_SDP = "v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 49400 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

const TRANSPORTS = [
  { name: "UDP", sipp: "u1" },
  { name: "TCP", sipp: "t1" },
] as const;

function assertAllOk(r: SippResult, calls: number): void {
  assert.equal(r.failed, 0, `failed calls\n${r.report}`);
  assert.equal(r.successful, calls, `successful calls\n${r.report}`);
  assert.equal(r.code, 0, `sipp exit code\n${r.report}`);
}

Deno.test("SIPp UAC → sipkit serve: OPTIONS (RFC 3261 11.2: 200) and MESSAGE (RFC 3428: final answer), UDP and TCP", async (t) => {
  requireBinary("sipp", "sip-tester");
  const port = await freePort();
  const sk = await startSipkit("cli.ts serve", [`sip:127.0.0.1:${port}`]);
  try {
    for (const tr of TRANSPORTS) {
      await t.step(`OPTIONS ×200 at 100/s over ${tr.name}`, async () => {
        const r = await runSipp({
          sf: "options_uac.xml",
          remote: `127.0.0.1:${port}`,
          transport: tr.sipp,
          port: await freePort(),
          calls: 200,
          rate: 100,
          timeoutS: 30,
        });
        assertAllOk(r, 200);
      });
      await t.step(`MESSAGE ×20 over ${tr.name}: 603, serve's default answer`, async () => {
        const r = await runSipp({
          sf: "message_uac.xml",
          remote: `127.0.0.1:${port}`,
          transport: tr.sipp,
          port: await freePort(),
          calls: 20,
          rate: 50,
          timeoutS: 20,
          traceMsg: true,
        });
        assertAllOk(r, 20);
        // serve has no sipMessage callback: NkSIP's default answer is 603 Decline
        const finals = r.messages.filter((m) =>
          m.direction === "received" && /^SIP\/2\.0 [2-6]\d\d/.test(m.text)
        ).map((m) => m.text.slice(8, 11));
        assert.equal(finals.length, 20, r.report);
        assert.deepEqual([...new Set(finals)], ["603"], r.report);
      });
    }
  } finally {
    await sk.proc.stop();
  }
});

Deno.test("SIPp UAC → sipkit examples/uas.ts: INVITE/BYE, re-INVITE, 486 for user busy, UDP and TCP", async (t) => {
  requireBinary("sipp", "sip-tester");
  const port = await freePort();
  const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port}`]);
  try {
    for (const tr of TRANSPORTS) {
      const cases = [
        // INVITE, 180, 200, ACK, BYE, 200 — BYE follows the dialog's remote target (12.2.1.1)
        { sf: "invite_bye_uac.xml", calls: 20, service: "service" },
        // re-INVITE within the dialog answered 200 (RFC 3261 14.2)
        { sf: "reinvite_uac.xml", calls: 10, service: "service" },
        // user "busy" is answered 486 Busy Here; the ACK for it is absorbed
        { sf: "busy_uac.xml", calls: 10, service: "busy" },
      ];
      for (const c of cases) {
        await t.step(`${c.sf} ×${c.calls} over ${tr.name}`, async () => {
          const r = await runSipp({
            sf: c.sf,
            remote: `127.0.0.1:${port}`,
            transport: tr.sipp,
            port: await freePort(),
            calls: c.calls,
            rate: 20,
            service: c.service,
            timeoutS: 30,
          });
          assertAllOk(r, c.calls);
        });
      }
    }
  } finally {
    await sk.proc.stop();
  }
});

Deno.test("SIPp UAC → sipkit examples/uas.ts --ring-ms: CANCEL after 180 gets 200 and 487 (RFC 3261 9.2), UDP and TCP", async (t) => {
  requireBinary("sipp", "sip-tester");
  const port = await freePort();
  // the example rings for 60 s before answering, so the CANCEL always wins
  const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port}`], {
    extraArgs: ["--ring-ms", "60000"],
  });
  try {
    for (const tr of TRANSPORTS) {
      await t.step(`cancel_uac.xml ×10 over ${tr.name}`, async () => {
        const r = await runSipp({
          sf: "cancel_uac.xml",
          remote: `127.0.0.1:${port}`,
          transport: tr.sipp,
          port: await freePort(),
          calls: 10,
          rate: 20,
          timeoutS: 30,
        });
        assertAllOk(r, 10);
      });
    }
  } finally {
    await sk.proc.stop();
  }
});

Deno.test("SIPp UAC that never ACKs: sipkit's UAS retransmits the 2xx, then sends BYE (RFC 3261 13.3.1.4)", async () => {
  // RFC 3261 13.3.1.4: the 2xx "MUST" be retransmitted (T1, doubling to T2) until the ACK
  // arrives; with no ACK for 64*T1 the session "SHOULD be terminated ... with a BYE".
  // A sipkit UAS in this process with T1 = 50 ms, so 64*T1 is 3.2 s instead of 32 s.
  requireBinary("sipp", "sip-tester");
  const port = await freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "sipkit-noack-" });
  const uas = await start(`noack-${crypto.randomUUID().slice(0, 8)}`, {
    listen: [`sip:127.0.0.1:${port};transport=udp`],
    dataDir,
    timers: { t1: 50, t2: 400 },
    callbacks: { sipInvite: () => ({ answer: UAS_SDP }) },
  });
  try {
    const r = await runSipp({
      sf: "uas_no_ack.xml",
      remote: `127.0.0.1:${port}`,
      transport: "u1",
      port: await freePort(),
      calls: 1,
      timeoutS: 30,
      traceMsg: true,
    });
    assertAllOk(r, 1);
    const ok200 = r.messages.filter((m) =>
      m.direction === "received" && /^SIP\/2\.0 200/.test(m.text) &&
      /^CSeq:\s*1\s+INVITE/im.test(m.text)
    );
    // 64*T1 = 3.2 s with intervals 50, 100, 200, 400, 400, ... ms: about 10 copies
    assert.ok(
      ok200.length >= 4,
      `expected the 2xx retransmitted, got ${ok200.length}\n${r.report}`,
    );
    const bye = r.messages.filter((m) => m.direction === "received" && /^BYE /.test(m.text));
    assert.ok(bye.length >= 1, `expected a BYE from sipkit\n${r.report}`);
  } finally {
    await uas.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("sipp -sn uac with 10% packet loss into examples/uas.ts: at least 99% of 200 calls complete", async () => {
  requireBinary("sipp", "sip-tester");
  const port = await freePort();
  const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port};transport=udp`]);
  try {
    const calls = 200;
    const r = await runSipp({
      sn: "uac",
      remote: `127.0.0.1:${port}`,
      transport: "u1",
      port: await freePort(),
      calls,
      rate: 50,
      timeoutS: 90,
      extra: ["-lost", "10", "-recv_timeout", "40000"],
    });
    assert.ok(
      r.successful >= Math.ceil(calls * 0.99),
      `${r.successful}/${calls} calls completed (failed ${r.failed})\n${r.report}`,
    );
  } finally {
    await sk.proc.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// sipkit as the UAC

async function withUac(
  fn: (uac: SipkitUac) => Promise<void>,
  opts: { t1?: number } = {},
): Promise<void> {
  const uac = await startUac(`sipp-uac-${crypto.randomUUID().slice(0, 8)}`, opts);
  try {
    await fn(uac);
  } finally {
    await uac.stop();
  }
}

Deno.test("sipkit UAC → SIPp UAS: OPTIONS, MESSAGE, INVITE/ACK/BYE, re-INVITE, CANCEL, 486, UDP and TCP", async (t) => {
  requireBinary("sipp", "sip-tester");
  await withUac(async (uac) => {
    for (const tr of TRANSPORTS) {
      const suffix = tr.name === "TCP" ? ";transport=tcp" : "";
      await t.step(`OPTIONS and MESSAGE over ${tr.name}`, async () => {
        const port = await freePort();
        await using sipp = await startSipp({
          sf: "uas_reply200.xml",
          transport: tr.sipp,
          port,
          calls: 2,
          timeoutS: 20,
        });
        assert.equal(await uac.options(`sip:svc@127.0.0.1:${port}${suffix}`), 200);
        assert.equal(await uac.message(`sip:svc@127.0.0.1:${port}${suffix}`, "hello sipp"), 200);
        assertAllOk(await sipp.result(10_000), 2);
      });
      await t.step(`INVITE, 180, 200, ACK, BYE ×3 over ${tr.name}`, async () => {
        const port = await freePort();
        await using sipp = await startSipp({
          sf: "uas_answer.xml",
          transport: tr.sipp,
          port,
          calls: 3,
          timeoutS: 20,
        });
        for (let i = 0; i < 3; i++) {
          const call = await uac.call(`sip:svc@127.0.0.1:${port}${suffix}`);
          assert.equal(call.status, 200);
          assert.equal(await call.bye(), 200);
        }
        assertAllOk(await sipp.result(10_000), 3);
      });
      await t.step(`re-INVITE in the dialog over ${tr.name} (RFC 3261 14.1)`, async () => {
        const port = await freePort();
        await using sipp = await startSipp({
          sf: "uas_reinvite.xml",
          transport: tr.sipp,
          port,
          calls: 1,
          timeoutS: 20,
        });
        const call = await uac.call(`sip:svc@127.0.0.1:${port}${suffix}`);
        assert.equal(call.status, 200);
        assert.equal(await call.reinvite(), 200);
        assert.equal(await call.bye(), 200);
        assertAllOk(await sipp.result(10_000), 1);
      });
      await t.step(`CANCEL after 180 over ${tr.name}: 487 for the INVITE`, async () => {
        const port = await freePort();
        await using sipp = await startSipp({
          sf: "uas_cancel.xml",
          transport: tr.sipp,
          port,
          calls: 1,
          timeoutS: 20,
        });
        const status = await uac.cancelAfterRinging(`sip:svc@127.0.0.1:${port}${suffix}`);
        assert.equal(status, 487);
        assertAllOk(await sipp.result(10_000), 1);
      });
      await t.step(`486 Busy Here over ${tr.name}: ACK sent`, async () => {
        const port = await freePort();
        await using sipp = await startSipp({
          sf: "uas_busy.xml",
          transport: tr.sipp,
          port,
          calls: 1,
          timeoutS: 20,
        });
        const call = await uac.call(`sip:busy@127.0.0.1:${port}${suffix}`);
        assert.equal(call.status, 486);
        assertAllOk(await sipp.result(10_000), 1);
      });
    }
  });
});

Deno.test("sipkit UAC → sipp -sn uas with 10% packet loss: at least 99% of 100 calls complete", async () => {
  // SIPp drops 10% of the packets it sends and receives; sipkit must retransmit INVITE and
  // BYE (Timers A/E) and re-ACK every retransmitted 2xx (RFC 3261 13.2.2.4).
  //
  // SIPp's built-in uas scenario has a limitation of its own under loss: when both its 180
  // and its 200 are dropped, the INVITE retransmission that follows reaches it while it waits
  // for the ACK and it aborts the call ("while expecting 'ACK' ... received 'INVITE'") instead
  // of answering again. Those calls (about 1%) are counted from SIPp's error log and not
  // charged to sipkit; every other call must complete. T1 = 100 ms keeps Timer B/F (64*T1)
  // at 6.4 s, so such a call fails in seconds rather than 32 s.
  requireBinary("sipp", "sip-tester");
  await withUac(async (uac) => {
    const port = await freePort();
    const calls = 100;
    await using sipp = await startSipp({
      sn: "uas",
      transport: "u1",
      port,
      calls,
      timeoutS: 90,
      extra: ["-lost", "10"],
    });
    let completed = 0;
    const errors: string[] = [];
    // at most 10 calls in flight
    const queue = Array.from({ length: calls }, (_, i) => i);
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        try {
          const call = await uac.call(`sip:service@127.0.0.1:${port}`, { timeout: 15_000 });
          const bye = call.status === 200 ? await call.bye() : 0;
          if (bye === 200) completed++;
          else errors.push(`call ${i}: INVITE ${call.status}, BYE ${bye}`);
        } catch (e) {
          errors.push(`call ${i}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }));
    const r = await sipp.result(60_000);
    const peerAborts =
      r.errors.match(/while expecting 'ACK' \(index \d+\), received 'INVITE /g)?.length ?? 0;
    const why = `${completed}/${calls} completed, ${peerAborts} aborted by SIPp itself; ` +
      `${errors.slice(0, 10).join("; ")}\n${r.report}`;
    assert.ok(completed >= calls - peerAborts, why);
    assert.ok(completed >= Math.ceil(calls * 0.96), why);
  }, { t1: 100 });
});
