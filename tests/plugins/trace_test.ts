import { assert } from "../test_deps.ts";
import { formatTrace, trace } from "../../plugins/trace.ts";
import { ConfigError } from "../../service/config.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { start } from "../../service/service.ts";
import type { MessageInfo } from "../../service/types.ts";
import { parseMessage } from "../../sip/parser.ts";

// RFC 3261 §24.2 style OPTIONS and its answer.
const OPTIONS = "OPTIONS sip:carol@chicago.com SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n" +
  "Max-Forwards: 70\r\nTo: <sip:carol@chicago.com>\r\n" +
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n" +
  "Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n";
const OK = "SIP/2.0 200 OK\r\n" +
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n" +
  "To: <sip:carol@chicago.com>;tag=93810874\r\n" +
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n" +
  "Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n";
const MESSAGE = OPTIONS.replaceAll("OPTIONS", "MESSAGE");

const info = (port: number): MessageInfo => ({
  transport: "udp",
  local: { host: "127.0.0.1", port: 5060 },
  remote: { host: "127.0.0.1", port },
});

Deno.test("trace: formatTrace gives time, direction, addresses, transport and the message", () => {
  const t = formatTrace("in", parseMessage(OPTIONS), info(5070), true, new Date(0));
  assert.match(t, /^1970-01-01T00:00:00\.000Z IN {2}127\.0\.0\.1:5070 -> 127\.0\.0\.1:5060 UDP\n/);
  assert.match(t, /\nOPTIONS sip:carol@chicago\.com SIP\/2\.0\n/);
  assert.match(t, /Call-ID: a84b4c76e66710/);
  const short = formatTrace(
    "out",
    parseMessage(OK),
    {
      transport: "tcp",
      local: { host: "::1", port: 5060 },
      remote: { host: "::1", port: 5080 },
    },
    false,
    new Date(0),
  );
  assert.match(short, /OUT \[::1\]:5060 -> \[::1\]:5080 TCP\nSIP\/2\.0 200 OK\n\n$/);
});

Deno.test("trace: writes every message in and out to a file, filtered by method and peer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/trace.log`;
    const svc = await start("trace-file", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [trace],
      pluginConfig: { trace: { file, methods: ["options"], peers: ["127.0.0.1:5070"] } },
    });
    const hooks = svc.messageHooks;
    assert.equal(hooks.active, true);
    hooks.messageIn(parseMessage(OPTIONS), info(5070));
    hooks.messageOut(parseMessage(OK), info(5070));
    hooks.messageIn(parseMessage(MESSAGE), info(5070)); // other method: filtered
    hooks.messageIn(parseMessage(OPTIONS), info(5999)); // other peer: filtered
    // Change the filter live: all methods, any peer, start lines only.
    // (null resets an option to its default.)
    await svc.update({
      pluginConfig: { trace: { file, full: false, methods: null, peers: null } },
    });
    hooks.messageIn(parseMessage(MESSAGE), info(5999));
    await svc.stop();
    const text = await Deno.readTextFile(file);
    const heads = text.split("\n").filter((l) => / (IN|OUT) /.test(l));
    assert.equal(heads.length, 3, text);
    assert.match(heads[0] ?? "", /IN {2}127\.0\.0\.1:5070 -> 127\.0\.0\.1:5060 UDP/);
    assert.match(heads[1] ?? "", /OUT 127\.0\.0\.1:5060 -> 127\.0\.0\.1:5070 UDP/);
    assert.match(heads[2] ?? "", /IN {2}127\.0\.0\.1:5999/);
    assert.match(text, /SIP\/2\.0 200 OK\n/);
    assert.match(text, /MESSAGE sip:carol@chicago\.com SIP\/2\.0\n\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: without a file, records go to the logger (no throw, no file)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using svc = await start("trace-log", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [trace],
    });
    svc.messageHooks.messageIn(parseMessage(OPTIONS), info(5070));
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".log")),
      [],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trace: bad config names the key", async () => {
  await assert.rejects(
    start("trace-bad", {
      registry: new ServiceRegistry(),
      plugins: [trace],
      pluginConfig: { trace: { methods: 3 } },
    }),
    (e: unknown) => e instanceof ConfigError && e.key === "pluginConfig.trace.methods",
  );
  await assert.rejects(
    start("trace-bad", {
      registry: new ServiceRegistry(),
      plugins: [trace],
      pluginConfig: { trace: { fil: "x" } },
    }),
    (e: unknown) => e instanceof ConfigError && e.key === "pluginConfig.trace.fil",
  );
});
