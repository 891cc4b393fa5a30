import { assert } from "../test_deps.ts";
import { stats, statsOf, statsText } from "../../plugins/stats.ts";
import { ConfigError } from "../../service/config.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { start } from "../../service/service.ts";
import type { MessageInfo } from "../../service/types.ts";
import { parseMessage } from "../../sip/parser.ts";
import { ManualClock } from "../service/_helpers.ts";

const req = (method: string, branch: string) =>
  parseMessage(
    `${method} sip:bob@biloxi.com SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK${branch}\r\n` +
      "Max-Forwards: 70\r\nTo: <sip:bob@biloxi.com>\r\n" +
      "From: <sip:alice@atlanta.com>;tag=1928301774\r\n" +
      `Call-ID: c-${branch}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
const res = (method: string, branch: string, status: number) =>
  parseMessage(
    `SIP/2.0 ${status} Whatever\r\n` +
      `Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK${branch}\r\n` +
      "To: <sip:bob@biloxi.com>;tag=x\r\nFrom: <sip:alice@atlanta.com>;tag=1928301774\r\n" +
      `Call-ID: c-${branch}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
const info: MessageInfo = {
  transport: "udp",
  local: { host: "127.0.0.1", port: 5060 },
  remote: { host: "127.0.0.1", port: 5070 },
};

Deno.test("stats: counters per method and status, and a UAS response-time histogram", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const clock = new ManualClock();
    await using svc = await start("stats-count", {
      dataDir: dir,
      clock,
      registry: new ServiceRegistry(),
      plugins: [stats],
      pluginConfig: { stats: { buckets: [0.01, 0.1, 1] } },
    });
    const h = svc.messageHooks;
    h.messageIn(req("INVITE", "a"), info);
    h.messageIn(req("INVITE", "a"), info); // retransmission: counted, timed from the first
    clock.advance(50);
    h.messageOut(res("INVITE", "a", 180), info);
    clock.advance(450);
    h.messageOut(res("INVITE", "a", 200), info); // 500 ms after arrival
    h.messageOut(res("INVITE", "a", 200), info); // 2xx retransmission: not timed again
    h.messageIn(req("OPTIONS", "b"), info);
    clock.advance(5);
    h.messageOut(res("OPTIONS", "b", 200), info); // 5 ms
    h.messageOut(req("MESSAGE", "c"), info);
    h.messageIn(res("MESSAGE", "c", 202), info);
    const text = statsText(svc);
    const line = (s: string) => assert.ok(text.includes(s + "\n"), `missing ${s}\n${text}`);
    line('sipkit_sip_requests_received_total{service="stats-count",method="INVITE"} 2');
    line('sipkit_sip_requests_received_total{service="stats-count",method="OPTIONS"} 1');
    line('sipkit_sip_requests_sent_total{service="stats-count",method="MESSAGE"} 1');
    line('sipkit_sip_responses_sent_total{service="stats-count",method="INVITE",status="200"} 2');
    line('sipkit_sip_responses_sent_total{service="stats-count",method="INVITE",status="180"} 1');
    line(
      'sipkit_sip_responses_received_total{service="stats-count",method="MESSAGE",status="202"} 1',
    );
    line("# TYPE sipkit_sip_uas_response_seconds histogram");
    line(
      'sipkit_sip_uas_response_seconds_bucket{service="stats-count",method="INVITE",le="0.1"} 0',
    );
    line('sipkit_sip_uas_response_seconds_bucket{service="stats-count",method="INVITE",le="1"} 1');
    line(
      'sipkit_sip_uas_response_seconds_bucket{service="stats-count",method="INVITE",le="+Inf"} 1',
    );
    line('sipkit_sip_uas_response_seconds_sum{service="stats-count",method="INVITE"} 0.5');
    line(
      'sipkit_sip_uas_response_seconds_bucket{service="stats-count",method="OPTIONS",le="0.01"} 1',
    );
    line('sipkit_sip_uas_response_seconds_count{service="stats-count",method="OPTIONS"} 1');
    assert.equal(statsOf(svc).pending, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stats: counters survive a crash of the service process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using svc = await start("stats-crash", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [stats],
      callbacks: {
        handleCall: () => {
          throw new Error("crash");
        },
      },
    });
    svc.messageHooks.messageIn(req("OPTIONS", "x"), info);
    await assert.rejects(svc.call("x"));
    assert.equal(statsOf(svc).requestsIn.get("OPTIONS"), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stats: served over HTTP on an optional port, closed on stop", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const svc = await start("stats-http", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [stats],
      pluginConfig: { stats: { port: 0 } },
    });
    svc.messageHooks.messageIn(req("OPTIONS", "h"), info);
    const port = statsOf(svc).port;
    assert.ok(port !== undefined && port > 0);
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
    assert.match(
      await r.text(),
      /sipkit_sip_requests_received_total\{service="stats-http",method="OPTIONS"\} 1/,
    );
    const nf = await fetch(`http://127.0.0.1:${port}/other`);
    assert.equal(nf.status, 404);
    await nf.body?.cancel();
    await svc.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stats: config errors name the key; statsText needs the plugin", async () => {
  await assert.rejects(
    start("stats-bad", {
      registry: new ServiceRegistry(),
      plugins: [stats],
      pluginConfig: { stats: { buckets: [1, 0.5] } },
    }),
    (e: unknown) => e instanceof ConfigError && e.key === "pluginConfig.stats.buckets",
  );
  await assert.rejects(
    start("stats-bad", {
      registry: new ServiceRegistry(),
      plugins: [stats],
      pluginConfig: { stats: { port: 70000 } },
    }),
    (e: unknown) => e instanceof ConfigError && e.key === "pluginConfig.stats.port",
  );
  const dir = await Deno.makeTempDir();
  try {
    await using plain = await start("stats-none", {
      dataDir: dir,
      registry: new ServiceRegistry(),
    });
    assert.throws(() => statsText(plain), /does not run the stats plugin/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
