// `svc.update(...)` changes the transport options (limits, udpMaxSize) and the former
// restart-only SIP options (allow, realm, tryingDelay, inviteTimeout, dialogIdleTimeout) of a
// running service, observed over real sockets on 127.0.0.1.
import { assert } from "../test_deps.ts";
import { NO_REPLY } from "../../service/chain.ts";
import { start } from "../../service/service.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { withTempDir } from "./_helpers.ts";

const FAST = { t1: 20, t2: 160, t4: 200 };

Deno.test("update: lowering udpMaxSize sends a large MESSAGE over TCP (RFC 3261 §18.1.1: a request larger than the limit MUST go over a congestion-controlled transport)", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    const seen: string[] = [];
    await using uas = await start("upd-uas", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0"],
      callbacks: {
        sipMessage(_req, call) {
          seen.push(call.peer.transport);
          return "ok";
        },
      },
    });
    await using uac = await start("upd-uac", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0"],
    });
    const udp = uas.transports.find((t) => t.transport === "udp")!;
    assert.ok(uas.transports.some((t) => t.transport === "tcp" && t.port === udp.port));
    const target = `sip:bob@127.0.0.1:${udp.port}`;
    const body = "x".repeat(900); // the request is about 1300 bytes minus the headers
    assert.equal((await uac.message(target, { body })).status, 200);
    assert.deepEqual(seen, ["udp"]);
    await uac.update({ udpMaxSize: 600 });
    assert.equal(uac.config.udpMaxSize, 600);
    assert.equal((await uac.message(target, { body })).status, 200);
    assert.deepEqual(seen, ["udp", "tcp"], "the same MESSAGE now goes over TCP");
    await uac.update({ udpMaxSize: null as unknown as number }); // back to the default 1300
    assert.equal((await uac.message(target, { body })).status, 200);
    assert.deepEqual(seen, ["udp", "tcp", "udp"]);
  });
});

Deno.test("update: lowering limits.maxMessageSize on the UAS refuses a message it accepted before", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    let received = 0;
    await using uas = await start("lim-uas", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=tcp"],
      callbacks: {
        sipMessage() {
          received++;
          return "ok";
        },
      },
    });
    await using uac = await start("lim-uac", {
      dataDir,
      registry,
      timers: FAST,
      listen: ["sip:127.0.0.1:0;transport=tcp"],
    });
    const port = uas.transports[0]!.port;
    const target = `sip:bob@127.0.0.1:${port};transport=tcp`;
    const body = "y".repeat(1000);
    assert.equal((await uac.message(target, { body })).status, 200);
    await uas.update({ limits: { maxMessageSize: 600 } });
    assert.equal(uas.config.limits.maxMessageSize, 600);
    const r = await uac.message(target, { body });
    assert.notEqual(r.status, 200, "the oversized message is refused");
    assert.equal(r.response, undefined, "no response: the connection was closed");
    assert.equal(received, 1);
    // Small messages still pass on a new connection.
    assert.equal((await uac.message(target, { body: "small" })).status, 200);
    assert.equal(received, 2);
  });
});

Deno.test("update: a bad transport value is a ConfigError and changes nothing", async () => {
  await withTempDir(async (dataDir) => {
    await using svc = await start("bad-upd", {
      dataDir,
      registry: new ServiceRegistry(),
      listen: ["sip:127.0.0.1:0"],
    });
    await assert.rejects(svc.update({ udpMaxSize: -1 }));
    assert.equal(svc.config.udpMaxSize, 1300);
  });
});

Deno.test("update: allow, realm and tryingDelay change live (Allow of OPTIONS, Digest realm, RFC 3261 §17.2.1 100 Trying)", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    await using uas = await start("caps-uas", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      tryingDelay: 0,
      callbacks: {
        sipAuthorize(_auth, req) {
          return req.method === "MESSAGE" ? "authenticate" : "ok";
        },
        sipInvite(_req, call) {
          setTimeout(() => call.reply("busy"), 60);
          return NO_REPLY;
        },
      },
    });
    await using uac = await start("caps-uac", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
    });
    const target = `sip:bob@127.0.0.1:${uas.transports[0]!.port}`;
    const allow1 = (await uac.options(target)).response?.headers("Allow").join(", ") ?? "";
    assert.ok(allow1.includes("SUBSCRIBE"), allow1);
    const challenge1 = (await uac.message(target)).response?.header("WWW-Authenticate") ?? "";
    assert.match(challenge1, /realm="caps-uas"/);
    const provisional: number[] = [];
    const r1 = await uac.invite(target, { onProvisional: (res) => provisional.push(res.status) });
    assert.equal(r1.status, 486);
    assert.deepEqual(provisional, [100]);

    await uas.update({
      allow: ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
      realm: "example.org",
    });
    await uas.update({ tryingDelay: false });
    const allow2 = (await uac.options(target)).response?.headers("Allow").join(", ") ?? "";
    assert.equal(allow2, "INVITE, ACK, CANCEL, BYE, OPTIONS");
    const challenge2 = (await uac.message(target)).response?.header("WWW-Authenticate") ?? "";
    assert.match(challenge2, /realm="example.org"/);
    provisional.length = 0;
    const r2 = await uac.invite(target, { onProvisional: (res) => provisional.push(res.status) });
    assert.equal(r2.status, 486);
    assert.deepEqual(provisional, [], "no 100 Trying once tryingDelay is false");
  });
});

Deno.test("update: inviteTimeout applies to the next INVITE (CANCEL then 487, RFC 3261 §9.1)", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    await using uas = await start("it-uas", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      timers: FAST,
      callbacks: {
        sipInvite(_req, call) {
          call.reply("ringing");
          return NO_REPLY; // never answered: only the UAC's timeout ends it
        },
      },
    });
    await using uac = await start("it-uac", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      timers: FAST,
    });
    await uac.update({ inviteTimeout: 150 });
    const t0 = Date.now();
    const r = await uac.invite(`sip:bob@127.0.0.1:${uas.transports[0]!.port}`);
    assert.equal(r.status, 487);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(uac.stack.counts.dialogs, 0);
  });
});

Deno.test("update: dialogIdleTimeout applies to dialogs created afterwards", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    await using uas = await start("idle-uas", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      timers: FAST,
      callbacks: { sipInvite: () => ({ answer: "v=0\r\n" }) },
    });
    await using uac = await start("idle-uac", {
      dataDir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      timers: FAST,
    });
    await uac.update({ dialogIdleTimeout: 100 });
    const r = await uac.invite(`sip:bob@127.0.0.1:${uas.transports[0]!.port}`, {
      body: "v=0\r\n",
    });
    assert.equal(r.status, 200);
    assert.equal(r.dialog?.state, "confirmed");
    const end = Date.now() + 3000;
    while (uac.stack.counts.dialogs > 0 && Date.now() < end) {
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.equal(uac.stack.counts.dialogs, 0, "the idle dialog ended on the UAC side");
    assert.equal(r.dialog?.state, "terminated");
    // The UAS keeps its dialog (default 30 min); end it there.
    await Promise.all(uas.stack.dialogs().map((d) => d.bye()));
  });
});

Deno.test("update: a listen URI that names an open listener's real port keeps that socket", async () => {
  // Issue 5: "update changes any option live (... listeners added or removed ...) without
  // failing a transaction in flight". Reopening the same UDP port would drop the responses of
  // the transactions in flight on it; the listener is adopted instead.
  await withTempDir(async (dataDir) => {
    await using svc = await start("adopt", {
      registry: new ServiceRegistry(),
      dataDir,
      listen: ["sip:127.0.0.1:0"],
    });
    const before = svc.transports.map((t) => `${t.transport}:${t.port}:${t.id}`).sort();
    const port = svc.transports[0]!.port;
    await svc.update({ listen: [`sip:127.0.0.1:${port}`, "sip:127.0.0.1:0;transport=tcp"] });
    const after = svc.transports.map((t) => `${t.transport}:${t.port}:${t.id}`);
    for (const l of before) assert.ok(after.includes(l), `listener ${l} was reopened`);
    assert.equal(after.length, 3);
    // The adopted URI is now the one on record: removing the extra TCP listener keeps it.
    await svc.update({ listen: [`sip:127.0.0.1:${port}`] });
    assert.deepEqual(svc.transports.map((t) => `${t.transport}:${t.port}:${t.id}`).sort(), before);
    // And the service still answers on it.
    assert.equal((await svc.options(`sip:127.0.0.1:${port}`)).status, 200);
  });
});
