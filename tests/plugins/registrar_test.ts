// The registrar plugin over real UDP sockets: a UAC service registers to a registrar service
// (RFC 3261 §10.3, RFC 3327). Expiry uses a clock whose "now" the test moves forward while
// its timers stay real, so no test sleeps for the protocol's own lifetimes.
import { assert } from "../test_deps.ts";
import {
  createRegistrar,
  MemoryRegistrarStore,
  normalizeAor,
  registrar,
  registrarBindings,
  registrarClear,
  registrarFind,
  registrarOf,
  type RegistrarStore,
} from "../../plugins/registrar.ts";
import type { Plugin } from "../../service/plugin.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { type Service, start } from "../../service/service.ts";
import type { Clock, TimerId } from "../../sip/clock.ts";
import { parseContact } from "../../sip/header_parsers.ts";

/** Real timers, and a "now" the test can move forward. */
class JumpClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    return setTimeout(fn, ms);
  }
  clearTimeout(id: TimerId): void {
    clearTimeout(id as number);
  }
  jump(seconds: number): void {
    this.offset += seconds * 1000;
  }
}

interface Pair {
  reg: Service;
  uac: Service;
  target: string;
  clock: JumpClock;
  [Symbol.asyncDispose](): Promise<void>;
}

async function pair(
  opts: {
    config?: Record<string, unknown>;
    plugin?: Plugin;
    callbacks?: (get: () => Service) => Record<string, unknown>;
  } = {},
): Promise<Pair> {
  const dir = await Deno.makeTempDir({ prefix: "sipkit-reg-" });
  const registry = new ServiceRegistry();
  const clock = new JumpClock();
  const ref: { svc?: Service } = {};
  const reg = await start("registrar", {
    dataDir: dir,
    registry,
    clock,
    listen: ["sip:127.0.0.1:0"],
    plugins: [opts.plugin ?? registrar],
    pluginConfig: { registrar: opts.config ?? {} },
    callbacks: opts.callbacks?.(() => ref.svc!) ?? {},
  });
  ref.svc = reg;
  const uac = await start("uac", { dataDir: dir, registry, listen: ["sip:127.0.0.1:0"] });
  return {
    reg,
    uac,
    clock,
    target: `sip:127.0.0.1:${reg.transports[0]!.port}`,
    async [Symbol.asyncDispose]() {
      await uac.stop();
      await reg.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const AOR = "sip:alice@example.com";

function contactsOf(res: { response?: { headers(n: string): string[] } | undefined }) {
  return (res.response?.headers("Contact") ?? []).map((v) => parseContact(v));
}

Deno.test("registrar: register, fetch and refresh (RFC 3261 §10.3 step 8: the 200 lists every binding with its expires)", async () => {
  await using p = await pair();
  const first = await p.uac.register(p.target, {
    to: AOR,
    from: AOR,
    callId: "reg-1",
    cseq: 1,
    contact: "<sip:alice@127.0.0.1:5091>;q=0.7",
    expires: 600,
  });
  assert.equal(first.status, 200);
  const c = contactsOf(first);
  assert.equal(c.length, 1);
  assert.equal(c[0]!.uri.toString(), "sip:alice@127.0.0.1:5091");
  assert.equal(c[0]!.expires, 600);
  assert.equal(c[0]!.q, 0.7, "q-value kept");
  // "The response SHOULD include a Date header field."
  const date = first.response?.header("Date");
  assert.ok(date !== undefined && !Number.isNaN(Date.parse(date)));

  // A REGISTER without Contact fetches the bindings and changes nothing.
  p.clock.jump(100);
  const fetched = await p.uac.register(p.target, { to: AOR, from: AOR, contact: false });
  assert.equal(fetched.status, 200);
  const fc = contactsOf(fetched);
  assert.equal(fc.length, 1);
  assert.equal(fc[0]!.expires, 500, "remaining seconds, on the service clock");

  // Refresh: same Call-ID, higher CSeq, new expiry.
  const refreshed = await p.uac.register(p.target, {
    to: AOR,
    from: AOR,
    callId: "reg-1",
    cseq: 2,
    contact: "<sip:alice@127.0.0.1:5091>;q=0.7",
    expires: 3000,
  });
  assert.equal(refreshed.status, 200);
  assert.equal(contactsOf(refreshed)[0]!.expires, 3000);
  assert.deepEqual(await registrarFind(p.reg, AOR), ["sip:alice@127.0.0.1:5091"]);
  const [b] = await registrarBindings(p.reg, AOR);
  assert.equal(b?.cseq, 2);
  assert.equal(b?.callId, "reg-1");

  // The plugin lists REGISTER in the Allow of the default OPTIONS answer.
  const opts = await p.uac.options(p.target);
  assert.ok(opts.response?.headers("Allow").includes("REGISTER"));
  assert.ok(opts.response?.headers("Allow").includes("INVITE"));
});

Deno.test("registrar: expiry from the Contact param, the Expires header or the default; max clamps (§10.3 step 7)", async () => {
  await using p = await pair({ config: { defaultExpires: 1200, maxExpires: 7200 } });
  const r = await p.uac.register(p.target, {
    to: AOR,
    contact: false,
    headers: { Expires: "900" },
    addHeaders: [
      ["Contact", "<sip:a@127.0.0.1:1>;expires=300"],
      ["Contact", "<sip:b@127.0.0.1:2>"],
    ],
  });
  assert.equal(r.status, 200);
  const bob = await p.uac.register(p.target, {
    to: "sip:bob@example.com",
    contact: "<sip:bob@127.0.0.1:3>",
  });
  const huge = await p.uac.register(p.target, {
    to: "sip:carol@example.com",
    contact: "<sip:carol@127.0.0.1:4>;expires=999999",
  });
  const byUri = new Map(contactsOf(r).map((c) => [c.uri.toString(), c.expires]));
  assert.equal(byUri.get("sip:a@127.0.0.1:1"), 300, "the expires param wins");
  assert.equal(byUri.get("sip:b@127.0.0.1:2"), 900, "then the Expires header");
  assert.equal(contactsOf(bob)[0]?.expires, 1200, "then the configured default");
  assert.equal(contactsOf(huge)[0]?.expires, 7200, "longer than maxExpires: shortened");
});

Deno.test("registrar: 423 Interval Too Brief with Min-Expires, nothing stored (§10.3 step 7)", async () => {
  await using p = await pair({ config: { minExpires: 120 } });
  const r = await p.uac.register(p.target, {
    to: AOR,
    contact: false,
    addHeaders: [
      ["Contact", "<sip:ok@127.0.0.1:1>;expires=600"],
      ["Contact", "<sip:short@127.0.0.1:2>;expires=30"],
    ],
  });
  assert.equal(r.status, 423);
  assert.equal(r.response?.header("Min-Expires"), "120");
  assert.deepEqual(await registrarFind(p.reg, AOR), [], "all or nothing");
});

Deno.test("registrar: remove one binding with expires=0, then all with Contact: * and Expires: 0 (§10.2.2, §10.3 step 6)", async () => {
  await using p = await pair();
  const r = await p.uac.register(p.target, {
    to: AOR,
    callId: "two",
    cseq: 1,
    contact: false,
    addHeaders: [
      ["Contact", "<sip:one@127.0.0.1:1>;q=0.2"],
      ["Contact", "<sip:two@127.0.0.1:2>;q=0.9"],
    ],
  });
  assert.equal(r.status, 200);
  assert.deepEqual(await registrarFind(p.reg, AOR), [
    "sip:two@127.0.0.1:2",
    "sip:one@127.0.0.1:1",
  ], "ordered by q");
  const removed = await p.uac.register(p.target, {
    to: AOR,
    callId: "two",
    cseq: 2,
    contact: "<sip:two@127.0.0.1:2>;expires=0",
  });
  assert.equal(removed.status, 200);
  assert.deepEqual(contactsOf(removed).map((c) => c.uri.toString()), ["sip:one@127.0.0.1:1"]);
  const all = await p.uac.register(p.target, {
    to: AOR,
    callId: "two",
    cseq: 3,
    contact: "*",
    expires: 0,
  });
  assert.equal(all.status, 200);
  assert.equal(all.response?.hasHeader("Contact"), false);
  assert.deepEqual(await registrarFind(p.reg, AOR), []);
  assert.deepEqual(await registrarOf(p.reg).store.list(), [], "empty AORs leave the store");
});

Deno.test("registrar: Contact * with a non-zero expiry or with other contacts is a 400 (§10.3 step 6: MUST return 400)", async () => {
  await using p = await pair();
  await p.uac.register(p.target, { to: AOR, contact: "<sip:keep@127.0.0.1:1>" });
  const noExpires = await p.uac.register(p.target, { to: AOR, contact: "*" });
  assert.equal(noExpires.status, 400);
  const nonZero = await p.uac.register(p.target, { to: AOR, contact: "*", expires: 60 });
  assert.equal(nonZero.status, 400);
  const mixed = await p.uac.register(p.target, {
    to: AOR,
    contact: false,
    expires: 0,
    addHeaders: [["Contact", "*"], ["Contact", "<sip:keep@127.0.0.1:1>"]],
  });
  assert.equal(mixed.status, 400);
  const badExpires = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:x@127.0.0.1:1>",
    headers: { Expires: "soon" },
  });
  assert.equal(badExpires.status, 400);
  const badParam = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:x@127.0.0.1:1>;expires=later",
  });
  assert.equal(badParam.status, 400);
  assert.deepEqual(await registrarFind(p.reg, AOR), ["sip:keep@127.0.0.1:1"]);
});

Deno.test("registrar: same Call-ID needs a higher CSeq, else the update is aborted (§10.3 steps 6-7)", async () => {
  await using p = await pair();
  const reg = (cseq: number, contact: string, callId = "order") =>
    p.uac.register(p.target, { to: AOR, callId, cseq, contact });
  assert.equal((await reg(5, "<sip:a@127.0.0.1:1>;expires=600")).status, 200);
  // Same Call-ID, same or lower CSeq: "the update MUST be aborted and the request fails".
  assert.equal((await reg(5, "<sip:a@127.0.0.1:1>;expires=0")).status, 500);
  assert.equal((await reg(4, "<sip:a@127.0.0.1:1>;expires=900")).status, 500);
  const star = await p.uac.register(p.target, {
    to: AOR,
    callId: "order",
    cseq: 3,
    contact: "*",
    expires: 0,
  });
  assert.equal(star.status, 500);
  const [b] = await registrarBindings(p.reg, AOR);
  assert.equal(b?.cseq, 5);
  assert.equal(b?.expires, 600, "unchanged");
  // Another Call-ID (another UA or a reboot) may change it whatever its CSeq.
  const other = await reg(1, "<sip:a@127.0.0.1:1>;expires=0", "other");
  assert.equal(other.status, 200);
  assert.deepEqual(await registrarFind(p.reg, AOR), []);
});

Deno.test("registrar: bindings expire on the service clock; lazy on read and by the periodic sweep", async () => {
  await using p = await pair({ config: { sweepInterval: 20 } });
  const r = await p.uac.register(p.target, {
    to: AOR,
    contact: false,
    addHeaders: [
      ["Contact", "<sip:short@127.0.0.1:1>;expires=60"],
      ["Contact", "<sip:long@127.0.0.1:2>;expires=3600"],
    ],
  });
  assert.equal(r.status, 200);
  await p.uac.register(p.target, {
    to: "sip:bob@example.com",
    contact: "<sip:bob@127.0.0.1:3>;expires=60",
  });
  p.clock.jump(61);
  // Lazy expiry: the fetch no longer lists it.
  const fetched = await p.uac.register(p.target, { to: AOR, contact: false });
  assert.deepEqual(contactsOf(fetched).map((c) => c.uri.toString()), ["sip:long@127.0.0.1:2"]);
  assert.equal(contactsOf(fetched)[0]?.expires, 3600 - 61);
  // The sweep (every 20 ms real time here) removes bob's AOR without anyone reading it.
  const store = registrarOf(p.reg).store;
  const deadline = Date.now() + 1000;
  while ((await store.list()).includes("sip:bob@example.com") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(await store.list(), [AOR]);
});

Deno.test("registrar: the AOR is the To URI in canonical form (§10.3 step 5)", async () => {
  assert.equal(normalizeAor("sip:%61lice@Example.COM;transport=udp?x=y"), "sip:alice@example.com");
  assert.equal(normalizeAor("sips:bob@example.com:5061"), "sips:bob@example.com:5061");
  assert.throws(() => normalizeAor("tel:+1555"), TypeError);
  await using p = await pair({ config: { domains: ["example.com"] } });
  const r = await p.uac.register(`sip:example.com`, {
    to: "<sip:alice@EXAMPLE.com;user=phone>",
    contact: "<sip:alice@127.0.0.1:9>",
    route: [`${p.target};lr`],
  });
  assert.equal(r.status, 200);
  assert.deepEqual(await registrarFind(p.reg, "sip:alice@example.com"), ["sip:alice@127.0.0.1:9"]);
  // A domain this registrar does not serve: 404 (§10.3 step 1).
  const other = await p.uac.register(p.target, {
    to: "sip:alice@elsewhere.org",
    contact: "<sip:alice@127.0.0.1:9>",
  });
  assert.equal(other.status, 404);
});

Deno.test("registrar: Path is stored and returned to a UA that supports it (RFC 3327 §5.3)", async () => {
  await using p = await pair();
  const path = ["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"];
  const r = await p.uac.register(p.target, {
    to: AOR,
    contact: "<sip:alice@127.0.0.1:7>",
    headers: { Supported: "path" },
    addHeaders: path.map((v) => ["Path", v] as [string, string]),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.response?.headers("Path"), path);
  const [b] = await registrarBindings(p.reg, AOR);
  assert.deepEqual(b?.path, path);
  const noSupport = await p.uac.register(p.target, {
    to: "sip:bob@example.com",
    contact: "<sip:bob@127.0.0.1:7>",
    addHeaders: [["Path", path[0]!]],
  });
  assert.equal(noSupport.status, 200);
  assert.equal(noSupport.response?.hasHeader("Path"), false);
});

Deno.test("registrar: a sipInvite callback redirects (302) to the registered contact through registrarFind", async () => {
  await using p = await pair({
    callbacks: (svc) => ({
      async sipInvite(request: { to: { uri: { toString(): string } } }) {
        const targets = await registrarFind(svc(), request.to.uri.toString());
        return targets.length > 0 ? { redirect: targets } : "not_found";
      },
    }),
  });
  await p.uac.register(p.target, { to: AOR, contact: "<sip:alice@127.0.0.1:5099>" });
  const r = await p.uac.invite(p.target, { to: AOR, body: "v=0\r\n" });
  assert.equal(r.status, 302);
  assert.deepEqual(contactsOf(r).map((c) => c.uri.toString()), ["sip:alice@127.0.0.1:5099"]);
  const missing = await p.uac.invite(p.target, { to: "sip:nobody@example.com", body: "v=0\r\n" });
  assert.equal(missing.status, 404);
  await registrarClear(p.reg, AOR);
  assert.deepEqual(await registrarFind(p.reg, AOR), []);
});

Deno.test("registrar: a custom store is used and bindings survive a restart of the service process", async () => {
  const calls: string[] = [];
  const inner = new MemoryRegistrarStore();
  const store: RegistrarStore = {
    get: (aor) => (calls.push(`get ${aor}`), inner.get(aor)),
    put: (aor, b) => (calls.push(`put ${aor}`), inner.put(aor, b)),
    delete: (aor) => (calls.push(`delete ${aor}`), inner.delete(aor)),
    list: () => inner.list(),
  };
  await using p = await pair({
    plugin: createRegistrar({ store }),
    callbacks: () => ({
      handleCall(msg: unknown) {
        if (msg === "crash") throw new Error("boom");
        return "ok";
      },
    }),
  });
  await p.uac.register(p.target, { to: AOR, contact: "<sip:alice@127.0.0.1:1>" });
  assert.ok(calls.includes(`put ${AOR}`));
  await assert.rejects(p.reg.call("crash"), /boom/);
  assert.equal(p.reg.restarts, 1);
  assert.deepEqual(await registrarFind(p.reg, AOR), ["sip:alice@127.0.0.1:1"]);
  await registrarClear(p.reg);
  assert.ok(calls.includes(`delete ${AOR}`));
  assert.deepEqual(await inner.list(), []);
});

Deno.test("registrar: update re-arms or stops the sweep timer", async () => {
  await using p = await pair({ config: { sweepInterval: 60_000 } });
  const res = registrarOf(p.reg);
  assert.notEqual(res.sweepTimer, undefined);
  await p.reg.update({ pluginConfig: { registrar: { sweepInterval: 0 } } });
  assert.equal(res.sweepTimer, undefined);
  await p.reg.update({ pluginConfig: { registrar: { sweepInterval: 30_000 } } });
  assert.notEqual(res.sweepTimer, undefined);
});

Deno.test("registrar: concurrent REGISTERs for one AOR (different Call-IDs) never lose an update", async () => {
  // A slow store widens the read-modify-write window; the per-AOR serialisation must hold.
  const inner = new MemoryRegistrarStore();
  const slow: RegistrarStore = {
    get: async (aor) => {
      const value = await inner.get(aor);
      await new Promise((r) => setTimeout(r, 5)); // the value read is now stale-prone
      return value;
    },
    put: (aor, b) => inner.put(aor, b),
    delete: (aor) => inner.delete(aor),
    list: () => inner.list(),
  };
  await using p = await pair({ plugin: createRegistrar({ store: slow }) });
  const results = await Promise.all(
    [1, 2, 3, 4, 5, 6].map((i) =>
      p.uac.register(p.target, { to: AOR, callId: `c${i}`, contact: `<sip:ua${i}@127.0.0.1:${i}>` })
    ),
  );
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  assert.equal((await registrarFind(p.reg, AOR)).length, 6);
});

Deno.test("registrar: config errors name the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      start("bad", {
        dataDir: dir,
        registry: new ServiceRegistry(),
        plugins: [registrar],
        pluginConfig: { registrar: { minExpires: 100, maxExpires: 50 } },
      }),
      /maxExpires/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
