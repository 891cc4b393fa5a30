/**
 * Kamailio 5.6 as a transaction-stateful, record-routing proxy (tests/interop/kamailio/
 * proxy.cfg) between sipkit and SIPp, in both directions.
 *
 * RFC 3261 12.1.1 / 12.1.2: the UAS copies Record-Route into its 2xx and the UAC builds its
 * route set from it, so every later in-dialog request (ACK for the 2xx, re-INVITE, BYE) goes
 * through the proxy; 16.12: the proxy loose-routes it. The proxy logs `SIPKIT-LR <method>` for
 * each request it loose-routed and `SIPKIT-NOROUTE` for one that arrived without its Route.
 */
import { assert } from "../test_deps.ts";
import {
  freePort,
  type KamailioProc,
  requireBinary,
  runSipp,
  type SippResult,
  startKamailio,
  startSipkit,
  startSipp,
} from "./_harness.ts";
import { startUac } from "./_uac.ts";

function assertAllOk(r: SippResult, calls: number, k: KamailioProc): void {
  const why = `${r.report}\n--- kamailio ---\n${k.marks().join("\n")}`;
  assert.equal(r.failed, 0, `failed calls\n${why}`);
  assert.equal(r.successful, calls, `successful calls\n${why}`);
  assert.equal(r.code, 0, `sipp exit code\n${why}`);
}

function count(k: KamailioProc, prefix: string): number {
  return k.marks().filter((m) => m.startsWith(prefix)).length;
}

Deno.test("SIPp UAC → Kamailio → sipkit UAS: record-route and loose routing (RFC 3261 12.1, 16.12)", async (t) => {
  requireBinary("sipp", "sip-tester");
  requireBinary("kamailio", "kamailio");
  const port = await freePort();
  const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port}`]);
  try {
    for (
      const tr of [{ name: "UDP", sipp: "u1", proto: "udp" }, {
        name: "TCP",
        sipp: "t1",
        proto: "tcp",
      }] as const
    ) {
      await t.step(`INVITE/ACK/BYE ×5 over ${tr.name}: ACK and BYE pass the proxy`, async () => {
        await using k = await startKamailio(port, tr.proto);
        const r = await runSipp({
          sf: "invite_bye_uac.xml",
          remote: `127.0.0.1:${k.port}`,
          transport: tr.sipp,
          port: await freePort(),
          calls: 5,
          rate: 10,
          timeoutS: 30,
        });
        assertAllOk(r, 5, k);
        assert.ok(count(k, "SIPKIT-LR ACK") >= 5, k.marks().join("\n"));
        assert.ok(count(k, "SIPKIT-LR BYE") >= 5, k.marks().join("\n"));
        assert.equal(count(k, "SIPKIT-NOROUTE"), 0, k.marks().join("\n"));
      });
    }
    await t.step("re-INVITE ×3 over UDP: the re-INVITE is loose-routed too", async () => {
      await using k = await startKamailio(port, "udp");
      const r = await runSipp({
        sf: "reinvite_uac.xml",
        remote: `127.0.0.1:${k.port}`,
        port: await freePort(),
        calls: 3,
        rate: 10,
        timeoutS: 30,
      });
      assertAllOk(r, 3, k);
      assert.ok(count(k, "SIPKIT-LR INVITE") >= 3, k.marks().join("\n"));
      assert.ok(count(k, "SIPKIT-LR BYE") >= 3, k.marks().join("\n"));
    });
    await t.step("CANCEL ×3 over UDP through the stateful proxy: 487", async () => {
      // a second UAS that rings for 60 s, so the CANCEL always wins
      const ringPort = await freePort();
      const ringing = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${ringPort}`], {
        extraArgs: ["--ring-ms", "60000"],
      });
      await using _stopRinging = {
        [Symbol.asyncDispose]: () => ringing.proc.stop().then(() => {}),
      };
      await using k = await startKamailio(ringPort, "udp");
      const r = await runSipp({
        sf: "cancel_uac.xml",
        remote: `127.0.0.1:${k.port}`,
        port: await freePort(),
        calls: 3,
        rate: 10,
        timeoutS: 30,
      });
      assertAllOk(r, 3, k);
      assert.equal(count(k, "SIPKIT-CANCEL"), 3, k.marks().join("\n"));
    });
  } finally {
    await sk.proc.stop();
  }
});

Deno.test("sipkit UAC → Kamailio → SIPp UAS: sipkit follows the recorded route (RFC 3261 12.2.1.1)", async (t) => {
  requireBinary("sipp", "sip-tester");
  requireBinary("kamailio", "kamailio");
  const uac = await startUac(`kamailio-uac-${crypto.randomUUID().slice(0, 8)}`);
  try {
    for (
      const tr of [{ name: "UDP", sipp: "u1", proto: "udp" }, {
        name: "TCP",
        sipp: "t1",
        proto: "tcp",
      }] as const
    ) {
      await t.step(`INVITE/ACK/BYE ×3 over ${tr.name}`, async () => {
        const sippPort = await freePort();
        await using sipp = await startSipp({
          sf: "uas_answer.xml",
          transport: tr.sipp,
          port: sippPort,
          calls: 3,
          timeoutS: 30,
        });
        await using k = await startKamailio(sippPort, tr.proto);
        const suffix = tr.proto === "tcp" ? ";transport=tcp" : "";
        for (let i = 0; i < 3; i++) {
          // the R-URI names the proxy; it rewrites it to the SIPp UAS and record-routes
          const call = await uac.call(`sip:svc@127.0.0.1:${k.port}${suffix}`);
          assert.equal(call.status, 200, k.marks().join("\n"));
          assert.equal(await call.bye(), 200, k.marks().join("\n"));
        }
        assertAllOk(await sipp.result(15_000), 3, k);
        assert.ok(count(k, "SIPKIT-LR ACK") >= 3, k.marks().join("\n"));
        assert.ok(count(k, "SIPKIT-LR BYE") >= 3, k.marks().join("\n"));
        assert.equal(count(k, "SIPKIT-NOROUTE"), 0, k.marks().join("\n"));
      });
    }
  } finally {
    await uac.stop();
  }
});
