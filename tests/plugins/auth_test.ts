// The auth plugin over real UDP sockets: a UAC service talks to a service protected by
// Digest authentication (RFC 3261 §22), with the UAC's automatic retry (`auth` option).
import { assert } from "../test_deps.ts";
import { auth } from "../../plugins/auth.ts";
import {
  registrar,
  registrarBindings,
  registrarFind,
  registrarOf,
} from "../../plugins/registrar.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { type Service, start } from "../../service/service.ts";
import { computeHa1, parseChallenges } from "../../sip/digest.ts";
import { requireBinary, run } from "../interop/_harness.ts";

const REALM = "example.com";
const AOR = "sip:alice@example.com";

interface Pair {
  srv: Service;
  uac: Service;
  target: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function pair(config: Record<string, unknown>): Promise<Pair> {
  const dir = await Deno.makeTempDir({ prefix: "sipkit-auth-" });
  const registry = new ServiceRegistry();
  const srv = await start("protected", {
    dataDir: dir,
    registry,
    listen: ["sip:127.0.0.1:0"],
    plugins: [registrar, auth],
    pluginConfig: { auth: config },
    callbacks: {
      sipInvite: () => ({ answer: "v=0\r\n" }),
      sipMessage: () => "ok",
    },
  });
  const uac = await start("caller", { dataDir: dir, registry, listen: ["sip:127.0.0.1:0"] });
  return {
    srv,
    uac,
    target: `sip:127.0.0.1:${srv.transports[0]!.port}`,
    async [Symbol.asyncDispose]() {
      await uac.stop();
      await srv.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const users = { alice: "wonderland", bob: `HA1!${computeHa1("MD5", "bob", REALM, "builder")}` };

Deno.test("auth: REGISTER without credentials gets 401 with a Digest challenge (RFC 3261 §22.1: MUST include WWW-Authenticate)", async () => {
  await using p = await pair({ realm: REALM, users });
  const r = await p.uac.register(p.target, { to: AOR, contact: "<sip:alice@127.0.0.1:1>" });
  assert.equal(r.status, 401);
  const challenges = parseChallenges(r.response?.headers("WWW-Authenticate") ?? []);
  assert.equal(challenges.length, 1);
  assert.equal(challenges[0]?.realm, REALM);
  assert.deepEqual(await registrarFind(p.srv, AOR), [], "nothing registered");
});

Deno.test("auth: the UAC's automatic Digest retry (§22.2) registers with the right password", async () => {
  await using p = await pair({ realm: REALM, users });
  const r = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:alice@127.0.0.1:1>",
    auth: { username: "alice", password: "wonderland" },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(await registrarFind(p.srv, AOR), ["sip:alice@127.0.0.1:1"]);
});

Deno.test("auth: wrong password or unknown user after a challenge gets 403, as NkSIP (all credentials failed)", async () => {
  await using p = await pair({ realm: REALM, users });
  const wrong = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:alice@127.0.0.1:1>",
    auth: { username: "alice", password: "looking-glass" },
  });
  assert.equal(wrong.status, 403);
  const unknown = await p.uac.register(p.target, {
    to: "sip:mallory@example.com",
    contact: "<sip:m@127.0.0.1:1>",
    auth: { username: "mallory", password: "x" },
  });
  assert.equal(unknown.status, 403);
  assert.deepEqual(await registrarFind(p.srv, AOR), []);
});

Deno.test('auth: a stored HA1 ("HA1!<hex>") authenticates like the password', async () => {
  await using p = await pair({ realm: REALM, users });
  const ok = await p.uac.register(p.target, {
    to: "sip:bob@example.com",
    contact: "<sip:bob@127.0.0.1:2>",
    auth: { username: "bob", password: "builder" },
  });
  assert.equal(ok.status, 200);
  const bad = await p.uac.register(p.target, {
    to: "sip:bob@example.com",
    contact: "<sip:bob@127.0.0.1:2>",
    auth: { username: "bob", password: "wrecker" },
  });
  assert.equal(bad.status, 403);
});

Deno.test("auth: methods not listed pass without credentials; INVITE is protected by default", async () => {
  await using p = await pair({ realm: REALM, users });
  assert.equal((await p.uac.message(p.target, { body: "hi" })).status, 200);
  assert.equal((await p.uac.options(p.target)).status, 200);
  const invite = await p.uac.invite(`sip:bob@127.0.0.1:${p.srv.transports[0]!.port}`, {
    body: "v=0\r\n",
  });
  assert.equal(invite.status, 401);
  const authed = await p.uac.invite(`sip:bob@127.0.0.1:${p.srv.transports[0]!.port}`, {
    body: "v=0\r\n",
    auth: { username: "alice", password: "wonderland" },
  });
  assert.equal(authed.status, 200);
  // In-dialog requests pass (NkSIP: `dialog` in the auth info).
  const bye = await authed.dialog?.bye();
  assert.equal(bye?.status, 200);
});

Deno.test("auth: methods config, and proxy: true challenges with 407 Proxy-Authenticate (§22.3)", async () => {
  await using p = await pair({ realm: REALM, users, methods: ["MESSAGE"], proxy: true });
  const r = await p.uac.message(p.target, { body: "hi" });
  assert.equal(r.status, 407);
  const ch = parseChallenges(r.response?.headers("Proxy-Authenticate") ?? []);
  assert.equal(ch[0]?.realm, REALM);
  const ok = await p.uac.message(p.target, {
    body: "hi",
    auth: { username: "alice", password: "wonderland" },
  });
  assert.equal(ok.status, 200);
  // REGISTER is no longer protected with this config.
  const reg = await p.uac.register(p.target, { to: AOR, contact: "<sip:alice@127.0.0.1:1>" });
  assert.equal(reg.status, 200);
});

Deno.test("auth: without a realm the service's realm is used", async () => {
  await using p = await pair({ users });
  const r = await p.uac.register(p.target, { to: AOR, contact: "<sip:alice@127.0.0.1:1>" });
  assert.equal(r.status, 401);
  const ch = parseChallenges(r.response?.headers("WWW-Authenticate") ?? []);
  assert.equal(ch[0]?.realm, "protected", "the service name, the default `realm`");
  const ok = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:alice@127.0.0.1:1>",
    auth: { username: "alice", password: "wonderland" },
  });
  assert.equal(ok.status, 200);
});

Deno.test("auth: requests from the flow of a current registration pass without credentials (NkSIP's `register`)", async () => {
  await using p = await pair({ realm: REALM, users, methods: ["REGISTER", "MESSAGE"] });
  const from = AOR;
  // Not registered yet: challenged.
  assert.equal((await p.uac.message(p.target, { from, body: "hi" })).status, 401);
  const reg = await p.uac.register(p.target, {
    to: AOR,
    from,
    contact: `<sip:alice@127.0.0.1:${p.uac.transports[0]!.port}>`,
    auth: { username: "alice", password: "wonderland" },
  });
  assert.equal(reg.status, 200);
  // Same transport, address and port as the REGISTER, From = the AOR: passes.
  assert.equal((await p.uac.message(p.target, { from, body: "hi" })).status, 200);
  // Another AOR from the same flow is not registered.
  assert.equal(
    (await p.uac.message(p.target, { from: "sip:bob@example.com", body: "hi" })).status,
    401,
  );
  // The same From from another flow (another port) is challenged.
  const dir = await Deno.makeTempDir();
  try {
    await using other = await start("other", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      listen: ["sip:127.0.0.1:0"],
    });
    assert.equal((await other.message(p.target, { from, body: "hi" })).status, 401);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A REGISTER refresh always needs credentials.
  const refresh = await p.uac.register(p.target, { to: AOR, from, contact: "<sip:a@127.0.0.1:1>" });
  assert.equal(refresh.status, 401);
});

Deno.test("auth + registrar: sipsak registers with Digest (401, then 200 with its binding)", async () => {
  const sipsak = requireBinary("sipsak", "sipsak");
  await using p = await pair({ realm: "127.0.0.1", users, methods: ["REGISTER"] });
  const port = p.srv.transports[0]!.port;
  // usrloc mode: REGISTER (Expires: 15, so allow it), answer the 401, expect a 200.
  await p.srv.update({ pluginConfig: { registrar: { minExpires: 1 } } });
  const r = await run(
    sipsak,
    ["-vvv", "-U", "-s", `sip:alice@127.0.0.1:${port}`, "-u", "alice", "-a", "wonderland"],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.output);
  assert.match(r.stdout, /SIP\/2\.0 401/, r.output);
  assert.match(r.stdout, /SIP\/2\.0 200/, r.output);
  // sipsak writes the To port itself (0.9.8 truncates five-digit ports), so look the AOR up.
  const aors = await registrarOf(p.srv).store.list();
  assert.equal(aors.length, 1, aors.join());
  const [b] = await registrarBindings(p.srv, aors[0]!);
  assert.match(b?.uri ?? "", /^sip:alice@127\.0\.0\.1:\d+$/);
});

Deno.test("auth: config errors name the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [cfg, key] of [
        [{ users: ["alice"] }, /users/],
        [{ users: { alice: 3 } }, /users\.alice/],
        [{ users: { alice: "HA1!zz" } }, /users\.alice/],
        [{ realm: "" }, /realm/],
      ] as const
    ) {
      await assert.rejects(
        start("bad", {
          dataDir: dir,
          registry: new ServiceRegistry(),
          plugins: [auth],
          pluginConfig: { auth: cfg },
        }),
        key,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
