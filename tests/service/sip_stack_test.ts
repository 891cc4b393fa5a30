// Two sipkit SIP stacks talking over real sockets on 127.0.0.1 (UDP and TCP).
import { assert } from "../test_deps.ts";
import { NO_REPLY } from "../../service/chain.ts";
import {
  createSipStack,
  type DialogHandle,
  type SipStack,
  type SipStackOptions,
} from "../../service/sip_stack.ts";
import type { MethodReply, SipCallbacks } from "../../service/sip_callbacks.ts";
import type { SipRequest } from "../../sip/types.ts";
import { buildAuthorization, buildChallenge, parseChallenges } from "../../sip/digest.ts";
import { makeTestCerts } from "../transport/_certs.ts";

const SDP_OFFER = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 0\r\n";
const SDP_ANSWER = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40002 RTP/AVP 0\r\n";

// Small T1 so that transaction timers (J, K, 2xx retransmission) stay short in tests.
const TIMERS = { t1: 20, t2: 160, t4: 200 };

async function stack(options: SipStackOptions): Promise<SipStack> {
  return await createSipStack({
    listen: ["sip:127.0.0.1:0"],
    timers: TIMERS,
    tryingDelay: 20,
    closeTimeout: 2000,
    ...options,
  });
}

function target(s: SipStack, transport: "udp" | "tcp", user = "uas"): string {
  const l = s.transports.find((t) => t.transport === transport);
  if (l === undefined) throw new Error(`no ${transport} listener`);
  return `sip:${user}@127.0.0.1:${l.port}${transport === "tcp" ? ";transport=tcp" : ""}`;
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function closeAll(...stacks: SipStack[]): Promise<void> {
  for (const s of stacks) await s.close(500);
}

/** UAS callbacks answering every method, recording what they saw. */
function answeringUas(seen: string[], dialogs: DialogHandle[]): Partial<SipCallbacks> {
  const record = (req: SipRequest): void => {
    seen.push(`${req.method}${req.contentLength > 0 ? ":" + req.bodyText().slice(0, 5) : ""}`);
  };
  return {
    sipInvite(req, call) {
      record(req);
      call.reply("ringing");
      return { answer: SDP_ANSWER };
    },
    sipReinvite(req) {
      record(req);
      return { answer: SDP_ANSWER };
    },
    sipAck(req, call) {
      record(req);
      if (call.dialog !== undefined) dialogs.push(call.dialog);
    },
    sipBye(req) {
      record(req);
      return "ok";
    },
    sipOptions(req) {
      record(req);
      return undefined; // falls through to the default 200
    },
    sipRegister(req) {
      record(req);
      return { status: 200, headers: { Contact: req.header("Contact") ?? "*" } };
    },
    sipInfo(req) {
      record(req);
      return "ok";
    },
    sipMessage(req) {
      record(req);
      return "accepted";
    },
    sipSubscribe(req) {
      record(req);
      return { status: 200, headers: { Expires: "60" } };
    },
    sipNotify(req) {
      record(req);
      return "ok";
    },
    sipRefer(req) {
      record(req);
      return "accepted";
    },
    sipPublish(req) {
      record(req);
      return { status: 200, headers: { "SIP-ETag": "e1" } };
    },
    sipUpdate(req) {
      record(req);
      return { answer: SDP_ANSWER };
    },
  };
}

for (const transport of ["udp", "tcp"] as const) {
  Deno.test(`sip stack (${transport}): a UAC and a UAS exchange every method`, async () => {
    const seen: string[] = [];
    const uasDialogs: DialogHandle[] = [];
    const uas = await stack({ name: "uas", callbacks: answeringUas(seen, uasDialogs) });
    const uac = await stack({ name: "uac" });
    try {
      const to = target(uas, transport);
      assert.equal((await uac.options(to)).status, 200);
      assert.equal((await uac.register(to, { expires: 60 })).status, 200);
      assert.equal((await uac.info(to, { body: "hello info" })).status, 200);
      const msg = await uac.message(to, { body: "hello world" });
      assert.equal(msg.status, 202);
      assert.equal((await uac.subscribe(to, { event: "presence", expires: 60 })).status, 200);
      assert.equal((await uac.notify(to, { event: "presence" })).status, 200);
      assert.equal((await uac.refer(to, { referTo: "<sip:carol@127.0.0.1>" })).status, 202);
      const pub = await uac.publish(to, { event: "presence", body: "open" });
      assert.equal(pub.status, 200);
      assert.equal(pub.response?.header("SIP-ETag"), "e1");
      assert.equal((await uac.request("OPTIONS", to)).status, 200);

      // INVITE / ACK, then UPDATE, re-INVITE and BYE in the dialog (RFC 3261 §13-15).
      const provisional: number[] = [];
      const inv = await uac.invite(to, {
        body: SDP_OFFER,
        onProvisional: (r) => provisional.push(r.status),
      });
      assert.equal(inv.status, 200);
      assert.ok(provisional.includes(180));
      const d = inv.dialog;
      assert.ok(d !== undefined);
      assert.equal(d.state, "confirmed");
      assert.equal(d.remoteSdp, SDP_ANSWER);
      await waitFor(() => uasDialogs.length === 1); // the UAS saw the ACK
      assert.equal((await d.update({ body: SDP_OFFER })).status, 200);
      assert.equal((await d.reinvite({ body: SDP_OFFER })).status, 200);
      assert.equal((await d.info({ body: "dtmf" })).status, 200);
      assert.equal((await d.bye()).status, 200);
      assert.equal(d.state, "terminated");
      // Left: the subscription dialogs of SUBSCRIBE and REFER (RFC 6665, RFC 3515).
      await waitFor(() => uas.counts.dialogs === 2 && uac.counts.dialogs === 2);
      for (
        const m of [
          "OPTIONS",
          "REGISTER",
          "INFO:hello",
          "MESSAGE:hello",
          "SUBSCRIBE",
          "NOTIFY",
          "REFER",
          "PUBLISH:open",
          "INVITE:v=0\r\n",
          "ACK",
          "UPDATE:v=0\r\n",
          "BYE",
        ]
      ) {
        assert.ok(seen.includes(m), `${m} not seen in ${seen.join(",")}`);
      }
      assert.equal(seen.filter((m) => m.startsWith("INVITE")).length, 2); // INVITE + re-INVITE
      assert.equal(seen.filter((m) => m === "ACK").length, 2);
    } finally {
      await closeAll(uac, uas);
    }
  });

  Deno.test(`sip stack (${transport}): BYE from the UAS side ends both dialogs`, async () => {
    const uasDialogs: DialogHandle[] = [];
    let uacSawBye = false;
    const uas = await stack({ name: "uas", callbacks: answeringUas([], uasDialogs) });
    const uac = await stack({
      name: "uac",
      callbacks: {
        sipBye() {
          uacSawBye = true;
          return "ok";
        },
      },
    });
    try {
      const inv = await uac.invite(target(uas, transport), { body: SDP_OFFER });
      assert.equal(inv.status, 200);
      await waitFor(() => uasDialogs.length === 1);
      const r = await uasDialogs[0]!.bye();
      assert.equal(r.status, 200);
      assert.ok(uacSawBye);
      await waitFor(() => uas.counts.dialogs === 0 && uac.counts.dialogs === 0);
      assert.equal(inv.dialog?.state, "terminated");
    } finally {
      await closeAll(uac, uas);
    }
  });

  Deno.test(
    `sip stack (${transport}): CANCEL before the 200 gives 487 (RFC 3261 §9.2)`,
    async () => {
      let cancelled = false;
      const uas = await stack({
        name: "uas",
        callbacks: {
          sipInvite(_req, call) {
            call.reply("ringing");
            return NO_REPLY; // never answers: the caller cancels
          },
          sipCancel(invite, cancel) {
            // The INVITE (with its offer) is still given to the TU, although its server
            // transaction released it with the 487.
            seen = `${invite.method} ${invite.bodyText() === SDP_OFFER} ${cancel.method}`;
            cancelled = true;
          },
        },
      });
      let seen = "";
      const uac = await stack({ name: "uac" });
      try {
        const abort = new AbortController();
        const r = await uac.invite(target(uas, transport), {
          body: SDP_OFFER,
          signal: abort.signal,
          onProvisional: (res) => {
            if (res.status === 180) abort.abort();
          },
        });
        assert.equal(r.status, 487);
        await waitFor(() => cancelled);
        assert.equal(seen, "INVITE true CANCEL");
        await waitFor(() => uas.counts.dialogs === 0 && uac.counts.dialogs === 0);
      } finally {
        await closeAll(uac, uas);
      }
    },
  );
}

Deno.test("sip stack: the dialog handle cancels an early INVITE (onDialog)", async () => {
  const uas = await stack({
    name: "uas",
    callbacks: {
      sipInvite(_req, call) {
        call.reply("ringing");
        return NO_REPLY;
      },
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const r = await uac.invite(target(uas, "udp"), {
      onDialog: (d) => {
        assert.equal(d.state, "early");
        d.cancel();
      },
    });
    assert.equal(r.status, 487);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: NkSIP defaults when no callback is implemented", async () => {
  const uas = await stack({ name: "uas" });
  const uac = await stack({ name: "uac" });
  try {
    const to = target(uas, "udp");
    const opt = await uac.options(to);
    assert.equal(opt.status, 200);
    assert.ok(opt.response?.header("Allow")?.includes("INVITE"));
    assert.ok(opt.response?.hasHeader("Accept"));
    assert.ok(opt.response?.hasHeader("Supported"));
    assert.equal((await uac.invite(to)).status, 603);
    assert.equal((await uac.message(to, { body: "x" })).status, 603);
    const reg = await uac.register(to);
    assert.equal(reg.status, 405);
    // NkSIP: REGISTER is not advertised unless a registrar answers it.
    assert.ok(reg.response?.header("Allow")?.includes("INVITE"));
    assert.ok(!reg.response?.header("Allow")?.includes("REGISTER"));
    assert.equal((await uac.info(to)).status, 200);
    assert.equal((await uac.publish(to, { event: "presence" })).status, 405);
    assert.equal((await uac.subscribe(to)).status, 603);
    assert.equal((await uac.refer(to, { referTo: "<sip:x@y>" })).status, 603);
    assert.equal((await uac.notify(to)).status, 200);
    // RFC 3261 §8.2.1: an unknown method gets 501.
    assert.equal((await uac.request("FOO", to)).status, 501);
    // §12.2.2: a request with a To tag that matches no dialog gets 481.
    const bye = await uac.request("BYE", to, { to: `<${to}>;tag=nope` });
    assert.equal(bye.status, 481);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: RFC 3261 §8.2.2.3 an unsupported Require gets 420 with Unsupported", async () => {
  const uas = await stack({ name: "uas", supported: ["timer"] });
  const uac = await stack({ name: "uac" });
  try {
    const to = target(uas, "udp");
    const r = await uac.options(to, { headers: { Require: "foo, timer" } });
    assert.equal(r.status, 420);
    assert.equal(r.response?.header("Unsupported"), "foo");
    assert.equal((await uac.options(to, { headers: { Require: "timer" } })).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: a throw in a SIP callback answers 500 and the next request works", async () => {
  let n = 0;
  const uas = await stack({
    name: "uas",
    callbacks: {
      sipMessage() {
        n++;
        if (n === 1) throw new Error("boom");
        return "ok";
      },
      sipInfo() {
        return Promise.reject(new Error("async boom"));
      },
      sipOptions() {
        return "not-a-reply"; // an unknown shorthand is a callback error too
      },
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const to = target(uas, "udp");
    assert.equal((await uac.message(to, { body: "a" })).status, 500);
    assert.equal((await uac.message(to, { body: "b" })).status, 200);
    assert.equal((await uac.info(to)).status, 500);
    assert.equal((await uac.options(to)).status, 500);
    assert.equal((await uac.message(to, { body: "c" })).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: API calls from inside callbacks, also on the same call, do not deadlock", async () => {
  const uasDialogs: DialogHandle[] = [];
  let optionsFromCallback = 0;
  let updateOnSameCall = 0;
  const base = answeringUas([], uasDialogs);
  const uac = await stack({ name: "uac" });
  const uacTarget = target(uac, "udp", "uac");
  const uas = await stack({
    name: "uas",
    callbacks: {
      ...base,
      async sipInfo(_req, call): Promise<MethodReply> {
        // A request to another party from inside a callback.
        optionsFromCallback = (await call.uac.options(uacTarget)).status;
        // A request on the very same call (same Call-ID) from inside its callback.
        const d = call.dialog;
        if (d !== undefined) updateOnSameCall = (await d.update({ body: SDP_OFFER })).status;
        // A later reply through the handle, from a timer.
        setTimeout(() => call.reply("ok"), 5);
        return NO_REPLY;
      },
    },
  });
  uac.setCallbacks({ sipUpdate: () => ({ answer: SDP_ANSWER }) });
  try {
    const inv = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
    assert.equal(inv.status, 200);
    const r = await inv.dialog!.info({ body: "x" });
    assert.equal(r.status, 200);
    assert.equal(optionsFromCallback, 200);
    assert.equal(updateOnSameCall, 200);
    assert.equal((await inv.dialog!.bye()).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: Digest authentication, challenge and automatic retry (RFC 3261 §22)", async () => {
  const uas = await stack({
    name: "uas",
    realm: "sipkit.test",
    callbacks: {
      sipGetUserPass(user) {
        return user === "alice" ? "secret" : false;
      },
      sipAuthorize(auth) {
        return auth.digest.get("sipkit.test") === true ? "ok" : "authenticate";
      },
      sipMessage() {
        return "ok";
      },
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const to = target(uas, "udp");
    const noAuth = await uac.message(to, { body: "x" });
    assert.equal(noAuth.status, 401);
    assert.ok(noAuth.response?.header("WWW-Authenticate")?.includes('realm="sipkit.test"'));
    const wrong = await uac.message(to, { body: "x", auth: { username: "alice", password: "no" } });
    assert.equal(wrong.status, 401);
    const ok = await uac.message(to, {
      body: "x",
      auth: { username: "alice", password: "secret" },
    });
    assert.equal(ok.status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

// RFC 7616 §3.3 (RFC 2617 §3.2.1): "stale: A case-insensitive flag indicating that the previous
// request from the client was rejected because the nonce value was stale. If stale is TRUE,
// the client may wish to simply retry the request with a new encrypted response, without
// reprompting the user for a new username and password."
Deno.test("sip stack: a right response to a stale nonce is challenged again with stale=true", async () => {
  const secret = "stale-test-secret";
  let authorizeCalls = 0;
  const uas = await stack({
    name: "uas",
    realm: "sipkit.test",
    nonceSecret: secret,
    callbacks: {
      sipGetUserPass: (user) => user === "alice" ? "secret" : false,
      sipAuthorize(auth) {
        authorizeCalls++;
        return auth.digest.get("sipkit.test") === true ? "ok" : "forbidden";
      },
      sipMessage: () => "ok",
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const to = target(uas, "udp");
    // A nonce the UAS itself issued ten minutes ago (older than the 5-minute default).
    const old = parseChallenges(
      buildChallenge({ realm: "sipkit.test", secret, now: Date.now() - 600_000 }),
    )[0]!;
    const creds = (password: string) =>
      buildAuthorization(old, { username: "alice", password, method: "MESSAGE", uri: to });
    const stale = await uac.message(to, {
      body: "x",
      headers: { Authorization: creds("secret") },
    });
    assert.equal(stale.status, 401);
    const fresh = parseChallenges(stale.response!.headers("WWW-Authenticate"))[0]!;
    assert.equal(fresh.stale, true);
    assert.notEqual(fresh.nonce, old.nonce);
    assert.equal(authorizeCalls, 0, "freshness is the stack's business, not the policy's");
    // A wrong password with the stale nonce is a plain failure for the policy to judge.
    const wrong = await uac.message(to, { body: "x", headers: { Authorization: creds("no") } });
    assert.equal(wrong.status, 403);
    assert.equal(authorizeCalls, 1);
    // The fresh nonce works without asking the user again.
    const retry = await uac.message(to, {
      body: "x",
      headers: {
        Authorization: buildAuthorization(fresh, {
          username: "alice",
          password: "secret",
          method: "MESSAGE",
          uri: to,
        }),
      },
    });
    assert.equal(retry.status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: the concurrent call cap answers 503", async () => {
  const uas = await stack({ name: "uas", maxCalls: 0 });
  const uac = await stack({ name: "uac" });
  try {
    assert.equal((await uac.options(target(uas, "udp"))).status, 503);
    await uas.update({ maxCalls: 10 });
    assert.equal((await uac.options(target(uas, "udp"))).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: timeout and unreachable targets give local 408 / 503 results", async () => {
  const uas = await stack({
    name: "uas",
    callbacks: { sipMessage: () => NO_REPLY },
  });
  const uac = await stack({ name: "uac" });
  try {
    const r = await uac.message(target(uas, "udp"), { body: "x", timeout: 50 });
    assert.equal(r.status, 408);
    assert.equal(r.response, undefined);
    const abort = new AbortController();
    const p = uac.message(target(uas, "udp"), { body: "y", signal: abort.signal });
    abort.abort(new Error("stop"));
    await assert.rejects(p, /stop/);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: update opens and closes listeners without failing a call", async () => {
  const uas = await stack({ name: "uas", listen: ["sip:127.0.0.1:0;transport=udp"] });
  const uac = await stack({ name: "uac" });
  try {
    assert.equal(uas.transports.length, 1);
    await uas.update({
      listen: ["sip:127.0.0.1:0;transport=udp", "sip:127.0.0.1:0;transport=tcp"],
      timers: { t1: 25 },
    });
    assert.equal(uas.transports.length, 2);
    assert.equal((await uac.options(target(uas, "tcp"))).status, 200);
    await uas.update({ listen: ["sip:127.0.0.1:0;transport=tcp"] });
    assert.deepEqual(uas.transports.map((t) => t.transport), ["tcp"]);
    assert.equal((await uac.options(target(uas, "tcp"))).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

// RFC 3261 §11.2: the 200 to OPTIONS SHOULD carry Allow, Accept and Supported. The stack
// builds those values once per capabilities change; an update must show in the next answer.
Deno.test("sip stack: OPTIONS 200 carries Allow/Accept/Supported/Allow-Events, rebuilt after update", async () => {
  const uas = await stack({ name: "uas", supported: ["path"], events: ["presence"] });
  const uac = await stack({ name: "uac" });
  try {
    const first = (await uac.options(target(uas, "udp"))).response!;
    assert.equal(first.headers("Allow").join(", "), uas.capabilities.allow.join(", "));
    assert.equal(first.header("Supported"), "path");
    assert.equal(first.header("Accept")?.startsWith("application/sdp"), true);
    assert.equal(first.header("Allow-Events"), "presence");
    await uas.update({
      supported: ["path", "timer"],
      allow: ["INVITE", "ACK", "OPTIONS"],
      events: [],
    });
    const second = (await uac.options(target(uas, "udp"))).response!;
    assert.equal(second.headers("Supported").join(", "), "path, timer");
    assert.equal(second.headers("Allow").join(", "), "INVITE, ACK, OPTIONS");
    assert.equal(second.header("Allow-Events"), undefined);
    // The prebuilt values do not show as a property of the capabilities.
    assert.deepEqual(Object.keys(uas.capabilities), ["allow", "supported", "accept", "events"]);
  } finally {
    await closeAll(uac, uas);
  }
});

// RFC 3261 §12.1.1: the Contact of a dialog-creating response names where the UAS is
// reached. The stack caches that Contact; a listener change must show in the next response.
Deno.test("sip stack: the Contact of a 2xx to INVITE follows a listener change", async () => {
  const uas = await stack({
    name: "uas",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    callbacks: { sipInvite: () => ({ answer: SDP_ANSWER }) },
  });
  const uac = await stack({ name: "uac" });
  try {
    const contactPort = async (): Promise<number> => {
      const r = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
      assert.equal(r.status, 200);
      await r.dialog!.bye();
      return r.response!.contacts[0]!.uri.port ?? 5060;
    };
    const before = uas.transports[0]!.port;
    assert.equal(await contactPort(), before);
    await uas.update({ listen: ["sip:127.0.0.1:0"] });
    const after = uas.transports[0]!.port;
    assert.notEqual(after, before);
    assert.equal(await contactPort(), after);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: close refuses new requests and leaves no dialog or timer", async () => {
  const uasDialogs: DialogHandle[] = [];
  const uas = await stack({ name: "uas", callbacks: answeringUas([], uasDialogs) });
  const uac = await stack({ name: "uac" });
  const inv = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
  assert.equal(inv.status, 200);
  await waitFor(() => uasDialogs.length === 1);
  assert.equal(uac.counts.dialogs, 1);
  await uac.close(500);
  await uas.close(500);
  assert.equal(uac.counts.dialogs, 0);
  assert.equal(uas.counts.dialogs, 0);
  assert.equal(uas.counts.transactions, 0);
  assert.equal(uas.counts.timers, 0);
  assert.equal((await uac.options("sip:127.0.0.1:9")).status, 503);
});

Deno.test("sip stack: close lets a request in flight get its final response", async () => {
  const uas = await stack({
    name: "uas",
    callbacks: {
      sipMessage(_req, call) {
        setTimeout(() => call.reply("ok"), 150);
        return NO_REPLY;
      },
      sipInvite: () => ({ answer: SDP_ANSWER }),
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const inv = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
    assert.equal(inv.status, 200);
    const pending = uac.message(target(uas, "udp"), { body: "slow" });
    await waitFor(() => uas.counts.calls === 2);
    const closing = uas.close(2000);
    // New requests are refused while closing; requests in live dialogs are still served.
    assert.equal((await uac.options(target(uas, "udp"))).status, 503);
    assert.equal((await inv.dialog!.bye()).status, 200);
    assert.equal((await pending).status, 200);
    await closing;
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: sipDialogUpdate and sipSessionUpdate follow the call (RFC 3264)", async () => {
  const events: string[] = [];
  const uas = await stack({
    name: "uas",
    callbacks: {
      sipInvite: () => ({ answer: SDP_ANSWER }),
      sipUpdate: () => ({ answer: SDP_ANSWER }),
      sipDialogUpdate(status) {
        events.push(typeof status === "string" ? status : JSON.stringify(status));
      },
      sipSessionUpdate(status) {
        events.push(
          typeof status === "string" ? `session:${status}` : `session:${Object.keys(status)[0]}`,
        );
      },
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const r = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
    assert.equal(r.status, 200);
    await waitFor(() => events.includes('{"inviteStatus":"confirmed"}'));
    assert.equal((await r.dialog!.update({ body: SDP_OFFER })).status, 200);
    assert.equal((await r.dialog!.bye()).status, 200);
    await waitFor(() => events.some((e) => e.startsWith('{"stop"')));
    assert.deepEqual(events, [
      "start",
      "session:start",
      '{"inviteStatus":"confirmed"}',
      "session:update",
      "session:stop",
      '{"stop":"bye"}',
    ]);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: RFC 3261 §13.3.1.4 the 2xx is retransmitted until the ACK, else BYE", async () => {
  let byeSeen = false;
  let okCount = 0;
  const uas = await stack({
    name: "uas",
    callbacks: { sipInvite: () => ({ answer: SDP_ANSWER }) },
  });
  const uac = await stack({
    name: "uac",
    callbacks: {
      sipBye() {
        byeSeen = true;
        return "ok";
      },
    },
    hooks: {
      active: true,
      messageIn(m) {
        if (m.kind === "response" && m.status === 200 && m.cseq.method === "INVITE") okCount++;
      },
      messageOut() {},
    },
  });
  try {
    // No automatic ACK, and we never send one.
    const r = await uac.invite(target(uas, "udp"), { body: SDP_OFFER, autoAck: false });
    assert.equal(r.status, 200);
    // T1 = 20 ms: retransmissions at 20, 60, 140, ... ms; the UAS gives up after 64*T1.
    await waitFor(() => byeSeen, 5000);
    assert.ok(okCount >= 3, `only ${okCount} copies of the 200`);
    await waitFor(() => uas.counts.dialogs === 0 && uac.counts.dialogs === 0);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: RFC 3261 §14.1 re-INVITE glare is answered 491, then retried after the back-off", async () => {
  const uasDialogs: DialogHandle[] = [];
  const slow = (): Promise<MethodReply> =>
    new Promise((resolve) => setTimeout(() => resolve({ answer: SDP_ANSWER }), 100));
  const uas = await stack({
    name: "uas",
    callbacks: { ...answeringUas([], uasDialogs), sipReinvite: slow },
  });
  const uac = await stack({ name: "uac", callbacks: { sipReinvite: slow } });
  try {
    const r = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
    assert.equal(r.status, 200);
    await waitFor(() => uasDialogs.length === 1);
    const [a, b] = await Promise.all([
      r.dialog!.reinvite({ body: SDP_OFFER, glareRetry: false }),
      uasDialogs[0]!.reinvite({ body: SDP_OFFER, glareRetry: false }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [491, 491]);
    // After the glare, a retry succeeds.
    assert.equal((await r.dialog!.reinvite({ body: SDP_OFFER })).status, 200);
    // Both sides idle (the UAS has the ACK of that re-INVITE), so the next two re-INVITEs are
    // sent in the same turn and cross on the wire.
    await waitFor(() => uasDialogs.length === 2);
    // By default each side waits its §14.1 back-off (the Call-ID owner 2.1-4 s, the other
    // 0-2 s) and retries once: both re-INVITEs end up accepted.
    const t0 = Date.now();
    const [c, d] = await Promise.all([
      r.dialog!.reinvite({ body: SDP_OFFER }),
      uasDialogs[0]!.reinvite({ body: SDP_OFFER }),
    ]);
    assert.deepEqual([c.status, d.status], [200, 200]);
    assert.ok(Date.now() - t0 >= 2100, "the Call-ID owner waits at least 2.1 s");
    assert.equal((await r.dialog!.bye()).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: RFC 3261 §14.2 a re-INVITE asked for while the peer's re-INVITE is in progress is not sent; it is retried after the back-off", async () => {
  const uasDialogs: DialogHandle[] = [];
  let uacCallbacks = 0;
  let uasCallbacks = 0;
  const slow = (): Promise<MethodReply> =>
    new Promise((resolve) => setTimeout(() => resolve({ answer: SDP_ANSWER }), 300));
  const uas = await stack({
    name: "uas",
    callbacks: {
      ...answeringUas([], uasDialogs),
      sipReinvite: () => {
        uasCallbacks++;
        return { answer: SDP_ANSWER };
      },
    },
  });
  const uac = await stack({
    name: "uac",
    callbacks: {
      sipReinvite: () => {
        uacCallbacks++;
        return slow();
      },
    },
  });
  try {
    const r = await uac.invite(target(uas, "udp"), { body: SDP_OFFER });
    assert.equal(r.status, 200);
    await waitFor(() => uasDialogs.length === 1);
    // The UAS's re-INVITE is being answered by the UAC (300 ms): the UAC must not send one.
    const c = uasDialogs[0]!.reinvite({ body: SDP_OFFER });
    await waitFor(() => uacCallbacks === 1);
    const refused = await r.dialog!.reinvite({ body: SDP_OFFER, glareRetry: false });
    assert.equal(refused.status, 491);
    assert.equal(refused.response, undefined, "nothing was sent");
    // By default the UAC (the Call-ID owner) waits 2.1-4 s, when c is long done, and retries.
    const t0 = Date.now();
    const retried = r.dialog!.reinvite({ body: SDP_OFFER });
    assert.equal((await c).status, 200);
    assert.equal(uasCallbacks, 0, "nothing reached the UAS while its own re-INVITE was open");
    const res = await retried;
    assert.equal(res.status, 200);
    assert.ok(res.response !== undefined);
    assert.ok(Date.now() - t0 >= 2100, "the Call-ID owner waited its back-off");
    assert.equal(uasCallbacks, 1, "the UAS saw exactly one re-INVITE from the UAC");
    assert.equal((await r.dialog!.bye()).status, 200);
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: UAC options set the route set, From, To, Contact and headers", async () => {
  let seen: SipRequest | undefined;
  const uas = await stack({
    name: "uas",
    callbacks: {
      sipMessage(req) {
        seen = req;
        return "ok";
      },
    },
  });
  const uac = await stack({ name: "uac" });
  try {
    const port = uas.transports[0]!.port;
    // RFC 3261 §8.1.2: with a preloaded route, the request goes to the first route.
    const r = await uac.message("sip:bob@nowhere.invalid", {
      route: [`<sip:127.0.0.1:${port};lr>`],
      from: "<sip:alice@example.com>",
      to: "<sip:bob@example.com>",
      contact: "<sip:alice@127.0.0.1:5999>",
      headers: { Subject: "hi", "Max-Forwards": "10" },
      addHeaders: [["X-Extra", "1"], ["X-Extra", "2"]],
      body: "<b>x</b>",
      contentType: "text/html",
    });
    assert.equal(r.status, 200);
    assert.ok(seen !== undefined);
    assert.equal(seen.uri.host, "nowhere.invalid");
    assert.equal(seen.routes[0]?.uri.port, port);
    assert.equal(seen.from.uri.user, "alice");
    assert.equal(seen.to.uri.host, "example.com");
    assert.equal(seen.contacts[0]?.uri.port, 5999);
    assert.equal(seen.header("Subject"), "hi");
    assert.equal(seen.maxForwards, 10);
    assert.deepEqual(seen.headers("X-Extra"), ["1", "2"]);
    assert.equal(seen.contentType, "text/html");
    assert.equal(seen.bodyText(), "<b>x</b>");
  } finally {
    await closeAll(uac, uas);
  }
});

Deno.test("sip stack: INVITE and BYE from either side over WS, TLS and IPv6 UDP", async () => {
  const certs = await makeTestCerts();
  const uasDialogs: DialogHandle[] = [];
  const uas = await stack({
    name: "uas",
    listen: [
      "<sip:127.0.0.1:0;transport=ws>",
      `<sip:127.0.0.1:0;transport=tls;tls_certfile=${certs.certFile};tls_keyfile=${certs.keyFile}>`,
      "sip:[::1]:0;transport=udp",
    ],
    callbacks: answeringUas([], uasDialogs),
  });
  const uac = await stack({
    name: "uac",
    listen: ["sip:127.0.0.1:0", "sip:[::1]:0;transport=udp"],
    tls: { caCerts: [certs.caCert] },
  });
  try {
    const port = (t: string): number => uas.transports.find((l) => l.transport === t)!.port;
    const targets = [
      `sip:bob@127.0.0.1:${port("ws")};transport=ws`,
      `sip:bob@127.0.0.1:${port("tls")};transport=tls`,
      `sip:bob@[::1]:${port("udp")}`,
    ];
    for (const [i, to] of targets.entries()) {
      // UAC side hangs up.
      const a = await uac.invite(to, { body: SDP_OFFER });
      assert.equal(a.status, 200, to);
      assert.equal((await a.dialog!.info({ body: "x" })).status, 200, to);
      assert.equal((await a.dialog!.bye()).status, 200, to);
      // UAS side hangs up (over the connection of the dialog for WS and TLS).
      const b = await uac.invite(to, { body: SDP_OFFER });
      assert.equal(b.status, 200, to);
      await waitFor(() => uasDialogs.length === 2 * i + 2);
      assert.equal((await uasDialogs[2 * i + 1]!.bye()).status, 200, to);
      await waitFor(() => b.dialog!.state === "terminated");
    }
    await waitFor(() => uas.counts.dialogs === 0 && uac.counts.dialogs === 0);
  } finally {
    await closeAll(uac, uas);
    await certs.cleanup();
  }
});
