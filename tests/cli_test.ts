// The sipkit command line: serve (every transport from the command line), client commands,
// usage errors and graceful shutdown.
import { assert } from "./test_deps.ts";
import { parseArgs, UsageError } from "../cli.ts";
import { loadConfigFile } from "../service/config.ts";
import { createSipStack } from "../service/sip_stack.ts";
import { makeTestCerts } from "./transport/_certs.ts";
import { runCli, spawnReady } from "./examples/_spawn.ts";

Deno.test("cli: parseArgs reads commands, repeatable --listen and --flag=value", () => {
  const a = parseArgs(["serve", "--listen", "sip:a", "--listen=sip:b", "--config", "x.yaml"]);
  assert.equal(a.command, "serve");
  assert.deepEqual(a.listen, ["sip:a", "sip:b"]);
  assert.equal(a.flags.get("config"), "x.yaml");
  const o = parseArgs(["options", "sip:127.0.0.1", "--timeout=300"]);
  assert.deepEqual(o.positional, ["sip:127.0.0.1"]);
  assert.equal(o.flags.get("timeout"), "300");
  assert.equal(parseArgs([]).command, "help");
  assert.equal(parseArgs(["serve", "--help"]).command, "help");
  assert.throws(() => parseArgs(["serve", "--bogus"]), UsageError);
  assert.throws(() => parseArgs(["serve", "--listen"]), UsageError);
});

Deno.test("cli: --help prints usage; a bad command line exits 64", async () => {
  const help = await runCli(["cli.ts", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
  assert.match(help.stdout, /serve/);
  const bad = await runCli(["cli.ts", "serve", "--nope"]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /Unknown option --nope/);
  const unknown = await runCli(["cli.ts", "frobnicate"]);
  assert.equal(unknown.code, 64);
  const noUri = await runCli(["cli.ts", "options"]);
  assert.equal(noUri.code, 64);
  for (const t of ["abc", "-1"]) {
    const badTimeout = await runCli(["cli.ts", "options", "sip:127.0.0.1:9", "--timeout", t]);
    assert.equal(badTimeout.code, 64);
    assert.match(badTimeout.stderr, new RegExp(`--timeout must be a number >= 0, got ${t}`));
  }
  const badUri = await runCli(["cli.ts", "options", "notauri"]);
  assert.equal(badUri.code, 64, "a bad URI is a usage error");
  assert.match(badUri.stderr, /Bad request URI notauri: URI has no scheme/);
});

Deno.test("cli: the shipped sipkit.yaml is a valid config", async () => {
  const input = await loadConfigFile(new URL("../sipkit.yaml", import.meta.url).pathname);
  assert.ok(Array.isArray(input.listen) && input.listen.length > 0);
});

Deno.test("cli: serve opens UDP+TCP, TLS and WS from --listen and answers OPTIONS 200 on each", async () => {
  const certs = await makeTestCerts();
  const server = await spawnReady([
    "cli.ts",
    "serve",
    "--name",
    "cli-test",
    "--listen",
    "sip:127.0.0.1:0",
    "--listen",
    `<sip:127.0.0.1:0;transport=tls;tls_certfile=${certs.certFile};tls_keyfile=${certs.keyFile}>`,
    "--listen",
    "<sip:127.0.0.1:0;transport=ws>",
  ], 4);
  const uac = await createSipStack({
    name: "cli-uac",
    listen: ["sip:127.0.0.1:0"],
    tls: { caCerts: [certs.caCert] },
    closeTimeout: 0,
  });
  try {
    assert.deepEqual(server.ready.map((r) => r.transport).sort(), ["tcp", "tls", "udp", "ws"]);
    const udp = server.port("udp");
    assert.equal((await uac.options(`sip:127.0.0.1:${udp}`)).status, 200);
    assert.equal((await uac.options(`sip:127.0.0.1:${udp};transport=tcp`)).status, 200);
    const tls = await uac.options(`sip:127.0.0.1:${server.port("tls")};transport=tls`);
    assert.equal(tls.status, 200);
    const ws = await uac.options(`sip:127.0.0.1:${server.port("ws")};transport=ws`);
    assert.equal(ws.status, 200);
    // The client commands against the running server.
    const opt = await runCli(["cli.ts", "options", `sip:127.0.0.1:${udp}`]);
    assert.equal(opt.code, 0, opt.stderr);
    assert.match(opt.stdout, /^200 OK \d+(\.\d+)? ms$/m);
    const msg = await runCli(["cli.ts", "message", `sip:127.0.0.1:${udp};transport=tcp`, "hi"]);
    assert.equal(msg.code, 1); // the default sipMessage declines: a non-2xx final response
    assert.match(msg.stdout, /^603 Decline$/m);
  } finally {
    await uac.close(0);
    const end = await server.stop("SIGTERM");
    await certs.cleanup();
    // Graceful shutdown on SIGTERM: exit 0 after stopping the service.
    assert.equal(end.code, 0, end.stderr);
    assert.match(end.stderr, /stopped cli-test/);
  }
});

Deno.test("cli: serve reads --config and stops on SIGINT; options to a dead port exits 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipkit-cli-" });
  const file = `${dir}/sipkit.yaml`;
  await Deno.writeTextFile(
    file,
    `name: from-file\nlisten:\n  - sip:127.0.0.1:0;transport=udp\ndataDir: ${dir}/data\n`,
  );
  const server = await spawnReady(["cli.ts", "serve", "--config", file], 1);
  try {
    assert.equal(server.ready[0]?.transport, "udp");
    const opt = await runCli(["cli.ts", "options", `sip:127.0.0.1:${server.port("udp")}`]);
    assert.equal(opt.code, 0, opt.stderr);
  } finally {
    const end = await server.stop("SIGINT");
    assert.equal(end.code, 0, end.stderr);
    assert.match(end.stderr, /stopped from-file/);
  }
  // A port nobody listens on: no response within the timeout.
  const dead = await runCli(["cli.ts", "options", "sip:127.0.0.1:9", "--timeout", "300"]);
  assert.equal(dead.code, 2);
  assert.match(dead.stdout, /408/);
  // A config error names the key.
  await Deno.writeTextFile(file, "listen: 5\n");
  const bad = await runCli(["cli.ts", "serve", "--config", file]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /listen/);
  await Deno.remove(dir, { recursive: true });
});
