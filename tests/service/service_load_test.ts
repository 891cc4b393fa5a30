// The service shell with the real SIP stack: plugins fed by real traffic, and `update` under a
// bounded SIPp load with zero failed calls.
import { assert } from "../test_deps.ts";
import { stats, statsOf, statsText } from "../../plugins/stats.ts";
import { trace } from "../../plugins/trace.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { start } from "../../service/service.ts";
import { withTempDir } from "./_helpers.ts";

Deno.test("trace and stats see every real SIP message in and out (UDP)", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    const file = `${dir}/trace.log`;
    await using uas = await start("real-uas", {
      dataDir: dir,
      registry,
      listen: ["sip:127.0.0.1:0"],
      plugins: [stats, trace],
      pluginConfig: { trace: { file } },
    });
    await using uac = await start("real-uac", {
      dataDir: dir,
      registry,
      listen: ["sip:127.0.0.1:0"],
    });
    const port = uas.transports[0]?.port ?? 0;
    for (let i = 0; i < 3; i++) {
      assert.equal((await uac.options(`sip:127.0.0.1:${port}`)).status, 200);
    }
    assert.equal((await uac.message(`sip:127.0.0.1:${port}`, { body: "hi" })).status, 603);
    const text = statsText(uas);
    assert.match(
      text,
      /sipkit_sip_requests_received_total\{service="real-uas",method="OPTIONS"\} 3\n/,
    );
    assert.match(
      text,
      /sipkit_sip_responses_sent_total\{service="real-uas",method="OPTIONS",status="200"\} 3\n/,
    );
    assert.match(
      text,
      /sipkit_sip_responses_sent_total\{service="real-uas",method="MESSAGE",status="603"\} 1\n/,
    );
    assert.match(
      text,
      /sipkit_sip_uas_response_seconds_count\{service="real-uas",method="OPTIONS"\} 3\n/,
    );
    assert.equal(statsOf(uas).pending, 0);
    await uas.stop();
    const log = await Deno.readTextFile(file);
    const uacPort = uac.transports[0]?.port;
    assert.equal(log.split("\n").filter((l) => / IN {2}127\.0\.0\.1:\d+ -> /.test(l)).length, 4);
    assert.equal(log.split("\n").filter((l) => / OUT 127\.0\.0\.1:\d+ -> /.test(l)).length, 4);
    assert.ok(log.includes(`IN  127.0.0.1:${uacPort} -> 127.0.0.1:${port} UDP`));
    assert.match(log, /\nMESSAGE sip:127\.0\.0\.1:\d+ SIP\/2\.0\n/);
  });
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name: "update under a bounded SIPp load (INVITE/ACK/BYE, 300 calls) fails zero calls",
  fn: async () => {
    // A missing peer is a failure, never a silent skip.
    try {
      Deno.statSync("/usr/bin/sipp");
    } catch {
      throw new Error("sipp is not installed: apt-get install -y sip-tester");
    }
    await withTempDir(async (dir) => {
      await using svc = await start("load-uas", {
        dataDir: dir,
        registry: new ServiceRegistry(),
        listen: ["sip:127.0.0.1:0"],
        callbacks: { sipInvite: () => "ok" },
      });
      const udp = `sip:127.0.0.1:${svc.transports[0]?.port}`;
      const sipp = new Deno.Command("sipp", {
        args: [
          "-sn",
          "uac",
          udp.slice(4),
          "-i",
          "127.0.0.1",
          "-p",
          String(freePort()),
          "-m",
          "300",
          "-r",
          "100",
          "-d",
          "20",
          "-nostdin",
          "-timeout",
          "30s",
          "-timeout_error",
          "-trace_err",
          "-error_file",
          `${dir}/sipp_errors.log`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const pause = () => new Promise((r) => setTimeout(r, 300));
        await pause();
        await svc.update({ timers: { t1: 300, t2: 3000 } });
        await pause();
        await svc.update({
          plugins: [stats, trace],
          pluginConfig: { trace: { methods: ["NONE"] } },
        });
        await pause();
        await svc.update({ listen: [udp, "sip:127.0.0.1:0;transport=tcp"] });
        await pause();
        await svc.update({
          callbacks: { sipInvite: () => ({ status: 200, headers: { "X-V": "2" } }) },
        });
        await pause();
        await svc.update({ plugins: [stats] });
      } finally {
        const out = await sipp.output();
        const text = new TextDecoder().decode(out.stdout);
        const failed = /Failed call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(text)?.[1];
        const ok = /Successful call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(text)?.[1];
        let errors = "";
        try {
          errors = await Deno.readTextFile(`${dir}/sipp_errors.log`);
        } catch {
          // no error log: SIPp saw no unexpected message
        }
        assert.equal(
          out.code,
          0,
          text.slice(-1500) + new TextDecoder().decode(out.stderr) + errors.slice(0, 4000),
        );
        assert.equal(failed, "0");
        assert.equal(ok, "300");
      }
      assert.equal(svc.config.timers.t1, 300);
      assert.ok(svc.transports.some((t) => t.transport === "tcp"));
      assert.match(statsText(svc), /method="BYE",status="200"\} \d+/);
    });
  },
});
