// INVITE sessions (RFC 3261 §13-§15, RFC 3311, RFC 3264) on fake time.
import { assert, fc } from "../test_deps.ts";
import { createResponse, generateBranch } from "../../sip/builders.ts";
import { Dialog, DialogTable } from "../../sip/dialog.ts";
import { parseMessage } from "../../sip/parser.ts";
import { TransactionLayer } from "../../sip/transaction_layer.ts";
import {
  glareBackoff,
  InviteSession,
  type InviteSessionEvent,
  type InviteSessionHost,
  OfferAnswer,
  SessionStateError,
  UacInviteTracker,
} from "../../sip/invite_session.ts";
import type { SipMessage, SipRequest, SipResponse } from "../../sip/types.ts";
import { type FakeClock, fakeClock, request, response, wire } from "./_transaction_helpers.ts";

const SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

interface Env {
  fc: FakeClock;
  host: InviteSessionHost;
  sent: SipMessage[];
  requests: SipRequest[];
  events: InviteSessionEvent[];
  cancels: number;
  random: number;
}

function env(): Env {
  const e: Env = {
    fc: fakeClock(),
    host: undefined as unknown as InviteSessionHost,
    sent: [],
    requests: [],
    events: [],
    cancels: 0,
    random: 0,
  };
  e.host = {
    clock: e.fc.clock,
    timers: { t1: 500, t2: 4000, t4: 5000 },
    random: () => e.random,
    send: (m) => {
      if (m.kind === "request" && m.vias.length === 0) {
        m.prependHeader("Via", `SIP/2.0/UDP pc33.example.com;branch=z9hG4bKack${e.sent.length}`);
      }
      e.sent.push(m);
    },
    sendRequest: (r) => e.requests.push(r),
    onEvent: (ev) => e.events.push(ev),
  };
  return e;
}

function uasSession(e: Env, body = SDP) {
  const inv = request({ contact: "<sip:alice@pc33.example.com>", body });
  const ok = response(inv, 200, { toTag: "uas1", contact: "<sip:bob@192.0.2.4>", body: SDP });
  const dialog = Dialog.asUas(inv, ok, { clock: e.fc.clock });
  const s = new InviteSession(dialog, e.host, inv);
  return { inv, ok, s, dialog };
}

/** A UAS session after the initial offer/answer and ACK: confirmed and stable. */
function establishedUas(e: Env) {
  const u = uasSession(e);
  u.s.send2xx(u.ok);
  u.s.receiveAck(ackFor(u.ok));
  e.sent.length = 0;
  e.events.length = 0;
  assert.equal(u.s.offerAnswer.state, "stable");
  return u;
}

function uacSession(e: Env) {
  const inv = request({ contact: "<sip:alice@pc33.example.com>", body: SDP });
  const ok = response(inv, 200, { toTag: "uac1", contact: "<sip:bob@192.0.2.4>", body: SDP });
  const dialog = Dialog.asUac(inv, ok, { clock: e.fc.clock });
  const s = new InviteSession(dialog, e.host, inv);
  return { inv, ok, s, dialog };
}

const ackFor = (res: SipResponse, body?: string) =>
  request({
    method: "ACK",
    cseqMethod: "ACK",
    cseq: res.cseq.seq,
    toTag: res.to.tag,
    branch: "z9hG4bKack2xx",
    ...(body === undefined ? {} : { body }),
  });

function assertNoTimers(e: Env, ...sessions: InviteSession[]): void {
  for (const s of sessions) assert.equal(s.activeTimers, 0, "session timers left");
  assert.equal(e.fc.countTimers(), 0, "fake timers left");
}

Deno.test("§13.3.1.4: the UAS retransmits its 2xx at T1, 2T1, 4T1 ... capped at T2 until the ACK", () => {
  const e = env();
  const { ok, s } = uasSession(e);
  s.send2xx(ok);
  assert.equal(s.state, "waiting-ack");
  const times: number[] = [];
  for (let t = 0; t < 16_000; t += 100) {
    const before = e.sent.length;
    e.fc.tick(100);
    if (e.sent.length > before) times.push(e.fc.now());
  }
  assert.deepEqual(times, [500, 1500, 3500, 7500, 11500, 15500]);
  assert.equal(s.receiveAck(ackFor(ok)), true);
  assert.equal(s.state, "confirmed");
  assert.ok(e.events.some((ev) => ev.type === "confirmed"));
  e.fc.tick(60_000);
  assert.equal(e.sent.length, 7, "no retransmission after the ACK");
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("§13.3.1.4: an ACK for another CSeq does not stop the 2xx retransmissions", () => {
  const e = env();
  const { ok, s } = uasSession(e);
  s.send2xx(ok);
  const other = request({ method: "ACK", cseqMethod: "ACK", cseq: 1, toTag: "uas1" });
  assert.equal(s.receiveAck(other), false);
  assert.equal(s.state, "waiting-ack");
  s.receiveAck(ackFor(ok));
  assertNoTimers(e, s);
});

Deno.test("§13.3.1.4: without an ACK for 64*T1 the UAS stops, reports it and ends the session with BYE", () => {
  const e = env();
  const { ok, s, dialog } = uasSession(e);
  s.send2xx(ok);
  e.fc.tick(31_999);
  assert.equal(e.requests.length, 0);
  e.fc.tick(1);
  assert.ok(e.events.some((ev) => ev.type === "ack-timeout"));
  assert.equal(e.requests.length, 1);
  assert.equal(e.requests[0]?.method, "BYE");
  assert.equal(e.requests[0]?.uri.toString(), "sip:alice@pc33.example.com");
  assert.equal(s.state, "terminated");
  assert.equal(dialog.state, "terminated", "the INVITE usage was the last one");
  assertNoTimers(e, s);
});

Deno.test("§15.1.1: a UAS BYE before the ACK waits for the ACK", () => {
  const e = env();
  const { ok, s } = uasSession(e);
  s.send2xx(ok);
  assert.equal(s.bye(), undefined);
  assert.equal(e.requests.length, 0);
  s.receiveAck(ackFor(ok));
  assert.equal(e.requests[0]?.method, "BYE");
  assert.equal(s.state, "terminated");
  assertNoTimers(e, s);
});

Deno.test("§15: a UAS must not send BYE on an early dialog", () => {
  const e = env();
  const inv = request();
  const d = Dialog.asUas(inv, response(inv, 180, { toTag: "u" }));
  const s = new InviteSession(d, e.host);
  assert.throws(() => s.bye(), SessionStateError);
  s.terminate();
});

Deno.test("§13.2.2.4: the UAC ACKs a 2xx with the INVITE's CSeq number, sent to the remote target", () => {
  const e = env();
  const { inv, ok, s } = uacSession(e);
  s.receive2xx(ok);
  const ack = e.sent[0];
  assert.ok(ack?.kind === "request");
  assert.equal(ack.method, "ACK");
  assert.equal(ack.cseq.seq, inv.cseq.seq);
  assert.equal(ack.cseq.method, "ACK");
  assert.equal(ack.uri.toString(), "sip:bob@192.0.2.4");
  assert.equal(ack.to.tag, "uac1");
  assert.notEqual(ack.vias[0]?.branch, inv.vias[0]?.branch, "the 2xx ACK is a new transaction");
  assert.equal(s.state, "confirmed");
  assert.equal(s.offerAnswer.state, "stable", "offer in INVITE, answer in 2xx");
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("§13.2.2.4: a retransmitted 2xx gets the very same ACK again", () => {
  const e = env();
  const { ok, s } = uacSession(e);
  s.receive2xx(ok);
  s.receive2xx(wire(ok));
  assert.equal(e.sent.length, 2);
  assert.equal(e.sent[0], e.sent[1]);
  assert.equal(e.sent[1]?.toString(), e.sent[0]?.toString());
  s.terminate();
});

Deno.test("§13.2.2.4: forks — the first 2xx wins; a 2xx from another fork is ACKed then ended with BYE", () => {
  const e = env();
  const inv = request({ body: SDP });
  const dialogs: Dialog[] = [];
  const t = new UacInviteTracker(inv, e.host, {
    cancel: () => "sent",
    onDialog: (d) => dialogs.push(d),
    dialog: { clock: e.fc.clock },
  });
  t.receive(response(inv, 100));
  t.receive(response(inv, 180, { toTag: "forkA", contact: "<sip:a@192.0.2.10>" }));
  t.receive(response(inv, 180, { toTag: "forkB", contact: "<sip:b@192.0.2.11>" }));
  assert.equal(t.earlyDialogs, 2);
  const okA = response(inv, 200, { toTag: "forkA", contact: "<sip:a@192.0.2.10>", body: SDP });
  const sA = t.receive(okA);
  assert.equal(t.session, sA);
  assert.equal(sA?.state, "confirmed");
  const okB = response(inv, 200, { toTag: "forkB", contact: "<sip:b@192.0.2.11>", body: SDP });
  const sB = t.receive(okB);
  assert.notEqual(sB, sA);
  const acks = e.sent.filter((m) => m.kind === "request" && m.method === "ACK");
  assert.deepEqual(acks.map((a) => a.to.tag), ["forkA", "forkB"]);
  assert.equal(e.requests.length, 1);
  assert.equal(e.requests[0]?.method, "BYE");
  assert.equal(e.requests[0]?.to.tag, "forkB");
  assert.equal(sB?.state, "terminated");
  // A retransmission of fork A's 2xx: the same ACK, no new dialog.
  t.receive(wire(okA));
  assert.equal(e.sent.length, 3);
  assert.equal(e.sent[2], e.sent[0]);
  assert.equal(dialogs.length, 2);
  t.close();
  sA?.terminate();
  assert.equal(dialogs.every((d) => d.state === "terminated"), true);
  assertNoTimers(e);
});

Deno.test("§9.1: cancel() goes through the transaction layer hook (which holds it until a provisional)", () => {
  const e = env();
  const inv = request();
  const t = new UacInviteTracker(inv, e.host, {
    cancel: () => {
      e.cancels++;
      return "pending";
    },
  });
  assert.equal(t.cancel(), "pending");
  assert.equal(e.cancels, 1);
  assert.equal(t.cancelled, true);
});

Deno.test("§9.1 race: a 200 that crosses our CANCEL is ACKed and the dialog ended with BYE", () => {
  const e = env();
  const inv = request();
  const t = new UacInviteTracker(inv, e.host, { cancel: () => "sent" });
  t.receive(response(inv, 180, { toTag: "b" }));
  assert.equal(t.cancel(), "sent");
  const s = t.receive(response(inv, 200, { toTag: "b", contact: "<sip:bob@192.0.2.4>" }));
  assert.equal(e.sent[0]?.kind === "request" && e.sent[0].method, "ACK");
  assert.equal(e.requests[0]?.method, "BYE");
  assert.equal(s?.state, "terminated");
  assert.equal(t.session, undefined, "no session survives a cancelled call");
  assert.equal(t.cancel(), "final", "after the final response a CANCEL is not sent");
  t.close();
  assertNoTimers(e);
});

Deno.test("§12.3: a non-2xx final response ends every early dialog of the INVITE", () => {
  const e = env();
  const inv = request();
  const dialogs: Dialog[] = [];
  const t = new UacInviteTracker(inv, e.host, {
    cancel: () => "sent",
    onDialog: (d) => dialogs.push(d),
  });
  t.receive(response(inv, 183, { toTag: "a" }));
  t.receive(response(inv, 486, { toTag: "a" }));
  assert.equal(dialogs[0]?.state, "terminated");
  assert.equal(t.earlyDialogs, 0);
  t.close();
});

Deno.test("§15: the UAC cannot BYE an early dialog (CANCEL instead); BYE on a confirmed one ends it", () => {
  const e = env();
  const inv = request();
  const early = new InviteSession(
    Dialog.asUac(inv, response(inv, 180, { toTag: "x" })),
    e.host,
  );
  assert.throws(() => early.bye(), SessionStateError);
  early.terminate();
  const { s, dialog } = uacSession(e);
  s.receive2xx(response(request({ body: SDP }), 200, { toTag: "uac1", body: SDP }));
  const bye = s.bye();
  assert.equal(bye?.method, "BYE");
  assert.equal(bye?.cseq.seq, 314160);
  assert.equal(s.state, "terminated");
  assert.equal(dialog.state, "terminated");
  assert.equal(s.bye(), undefined, "a second BYE is not sent");
});

Deno.test("§15.1.2: a received BYE ends the session and dialog; an out-of-order one gets 500", () => {
  const e = env();
  const { s, dialog } = establishedUas(e);
  const old = request({ method: "BYE", toTag: "uas1", cseq: 1 });
  assert.equal(s.receiveBye(old)?.status, 500);
  assert.equal(s.state, "confirmed");
  assert.equal(s.receiveBye(request({ method: "BYE", toTag: "uas1", cseq: 314160 })), undefined);
  assert.equal(s.state, "terminated");
  assert.equal(dialog.state, "terminated");
  assert.equal(s.receiveBye(request({ method: "BYE", toTag: "uas1", cseq: 314161 }))?.status, 481);
  assertNoTimers(e, s);
});

Deno.test("§14.2: a re-INVITE received while ours is in progress gets 491 (glare)", () => {
  const e = env();
  const { s } = establishedUas(e);
  s.sendModify("INVITE", { body: SDP, contentType: "application/sdp" });
  assert.equal(s.offerAnswer.state, "offer-sent");
  assert.equal(s.canReinvite(), false);
  const theirs = request({ method: "INVITE", toTag: "uas1", cseq: 314160, body: SDP });
  assert.equal(s.receiveModify(theirs)?.status, 491);
  s.terminate();
});

Deno.test("§14.1: after a 491 the re-INVITE may be retried after 2.1-4 s if we own the Call-ID", () => {
  const e = env();
  const { s } = uacSession(e);
  s.receive2xx(response(request({ body: SDP }), 200, { toTag: "uac1", body: SDP }));
  e.random = 0;
  const re = s.sendModify("INVITE", { body: SDP, contentType: "application/sdp" });
  s.receiveModifyResponse(re, response(wire(withVia(re)), 491));
  assert.equal(s.offerAnswer.state, "stable", "the rejected offer is rolled back");
  assert.equal(s.canReinvite(), false, "not during the back-off");
  e.fc.tick(2099);
  assert.equal(e.events.filter((ev) => ev.type === "glare-retry").length, 0);
  e.fc.tick(1);
  const retry = e.events.find((ev) => ev.type === "glare-retry");
  assert.ok(retry?.type === "glare-retry" && retry.method === "INVITE");
  assert.equal(s.canReinvite(), true);
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("§14.1: the non-owner of the Call-ID backs off 0-2 s", () => {
  const e = env();
  const { s } = establishedUas(e);
  e.random = 0.9999;
  const re = s.sendModify("UPDATE", { body: SDP, contentType: "application/sdp" });
  s.receiveModifyResponse(re, response(wire(withVia(re)), 491));
  e.fc.tick(1999);
  assert.equal(e.events.filter((ev) => ev.type === "glare-retry").length, 0);
  e.fc.tick(1);
  assert.equal(e.events.filter((ev) => ev.type === "glare-retry").length, 1);
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("§14.1: glareBackoff stays in 2100-4000 ms (owner) or 0-2000 ms, in units of 10 ms", () => {
  fc.assert(fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
    const own = glareBackoff(true, () => r);
    const other = glareBackoff(false, () => r);
    return own >= 2100 && own <= 4000 && own % 10 === 0 && other >= 0 && other <= 2000 &&
      other % 10 === 0;
  }));
});

Deno.test("§14.2: a second re-INVITE before our final response to the first gets 500 with Retry-After", () => {
  const e = env();
  const { s } = establishedUas(e);
  const first = request({ method: "INVITE", toTag: "uas1", cseq: 314160, body: SDP });
  assert.equal(s.receiveModify(first), undefined);
  assert.equal(s.offerAnswer.state, "offer-received");
  e.random = 0.5;
  const second = request({ method: "INVITE", toTag: "uas1", cseq: 314161 });
  const r = s.receiveModify(second);
  assert.equal(r?.status, 500);
  assert.deepEqual(r?.headers, [["Retry-After", "5"]]);
  s.terminate();
});

Deno.test("RFC 3311 §5.2: an UPDATE offer while we have an offer pending gets 491; while theirs is unanswered, 500 + Retry-After", () => {
  const e = env();
  const { s } = establishedUas(e);
  s.sendModify("UPDATE", { body: SDP, contentType: "application/sdp" });
  const upd = request({ method: "UPDATE", toTag: "uas1", cseq: 314160, body: SDP });
  assert.equal(s.receiveModify(upd)?.status, 491);
  s.terminate();
  const e2 = env();
  const b = establishedUas(e2);
  assert.equal(
    b.s.receiveModify(request({ method: "UPDATE", toTag: "uas1", cseq: 314160, body: SDP })),
    undefined,
  );
  const r = b.s.receiveModify(
    request({ method: "UPDATE", toTag: "uas1", cseq: 314161, body: SDP }),
  );
  assert.equal(r?.status, 500);
  assert.equal(r?.headers[0]?.[0], "Retry-After");
  b.s.terminate();
});

Deno.test("RFC 3264: re-INVITE offer → 2xx answer (retransmitted until ACK) → stable", () => {
  const e = env();
  const { s } = establishedUas(e);
  const re = request({
    method: "INVITE",
    toTag: "uas1",
    cseq: 314160,
    body: SDP,
    contact: "<sip:alice@moved.example.com>",
  });
  assert.equal(s.receiveModify(re), undefined);
  assert.equal(s.dialog.remoteTarget.host, "moved.example.com", "target refresh");
  const ok = response(re, 200, { body: SDP });
  s.send2xx(ok);
  assert.equal(s.offerAnswer.state, "stable");
  e.fc.tick(500);
  assert.equal(e.sent.length, 2, "the re-INVITE 2xx is retransmitted too");
  assert.equal(s.receiveAck(ackFor(ok)), true);
  assert.equal(s.canReinvite(), true);
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("RFC 3264: re-INVITE without offer → offer in our 2xx → answer in the ACK", () => {
  const e = env();
  const { s } = establishedUas(e);
  const re = request({ method: "INVITE", toTag: "uas1", cseq: 314160 });
  assert.equal(s.receiveModify(re), undefined);
  const ok = response(re, 200, { body: SDP });
  s.send2xx(ok);
  assert.equal(s.offerAnswer.state, "offer-sent");
  s.receiveAck(ackFor(ok, SDP));
  assert.equal(s.offerAnswer.state, "stable");
  s.terminate();
  assertNoTimers(e, s);
});

Deno.test("RFC 3264 / RFC 6337: a rejected re-INVITE offer rolls the offer/answer state back", () => {
  const e = env();
  const { s } = establishedUas(e);
  const re = request({ method: "INVITE", toTag: "uas1", cseq: 314160, body: SDP });
  s.receiveModify(re);
  s.answered(re, response(re, 488));
  assert.equal(s.offerAnswer.state, "stable");
  assert.equal(s.canReinvite(), true);
  s.terminate();
});

Deno.test("§13.2.2.4: the UAC ACKs the 2xx to its re-INVITE; 481 to it ends the dialog (§12.2.1.2)", () => {
  const e = env();
  const { s, dialog } = uacSession(e);
  s.receive2xx(response(request({ body: SDP }), 200, { toTag: "uac1", body: SDP }));
  const re = withVia(s.sendModify("INVITE", { body: SDP, contentType: "application/sdp" }));
  s.receiveModifyResponse(re, response(wire(re), 200, { body: SDP }));
  const acks = e.sent.filter((m) => m.kind === "request" && m.method === "ACK");
  assert.equal(acks.length, 2);
  assert.equal(acks[1]?.cseq.seq, re.cseq.seq);
  assert.equal(s.offerAnswer.state, "stable");
  const info = withVia(dialog.createRequest("INFO"));
  const upd = withVia(s.sendModify("UPDATE"));
  s.receiveModifyResponse(upd, response(wire(upd), 481));
  void info;
  assert.equal(dialog.state, "terminated");
  assert.equal(s.state, "terminated");
  assertNoTimers(e, s);
});

Deno.test("RFC 3264: OfferAnswer refuses a second local offer while one is pending", () => {
  const oa = new OfferAnswer();
  assert.equal(oa.localBody(), "offer");
  assert.throws(() => oa.localBody(), SessionStateError);
  assert.equal(oa.remoteBody(), "answer");
  assert.equal(oa.remoteBody(), "offer");
  assert.equal(oa.localBody(), "answer");
  assert.equal(oa.state, "stable");
});

function withVia(req: SipRequest): SipRequest {
  if (req.vias.length === 0) {
    req.prependHeader("Via", `SIP/2.0/UDP pc33.example.com;branch=z9hG4bKre${req.cseq.seq}`);
  }
  return req;
}

// --- two user agents over a lossy in-memory network --------------------------------------

function runCalls(seed0: number, loss: number, calls: number) {
  const fcl = fakeClock();
  let seed = seed0;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const timers = { t1: 500, t2: 4000, t4: 5000 };
  type Side = "A" | "B";
  let dropped = 0;
  const layers: Partial<Record<Side, TransactionLayer<Side>>> = {};
  const deliver = (msg: SipMessage, to: Side) => {
    if (rand() < loss) {
      dropped++;
      return;
    }
    const bytes = msg.toString();
    fcl.clock.setTimeout(() => {
      const from: Side = to === "A" ? "B" : "A";
      layers[to]!.receive(parseMessage(bytes), from);
    }, 5 + Math.floor(rand() * 20));
  };
  const withBranch = (req: SipRequest, side: Side) => {
    if (req.vias.length === 0) {
      req.prependHeader(
        "Via",
        `SIP/2.0/UDP ${side.toLowerCase()}.example.com;branch=${generateBranch()}`,
      );
    }
    return req;
  };
  const dialogsA = new DialogTable();
  const dialogsB = new DialogTable();
  let completed = 0;
  const hungUp = new Set<string>();
  const trackers = new Map<string, UacInviteTracker>();
  const hostFor = (side: Side): InviteSessionHost => ({
    clock: fcl.clock,
    timers,
    random: rand,
    send: (m) => deliver(m.kind === "request" ? withBranch(m, side) : m, side === "A" ? "B" : "A"),
    sendRequest: (r) => {
      layers[side]!.sendRequest(withBranch(r, side), { ctx: side === "A" ? "B" : "A" });
    },
  });
  const hostA = hostFor("A");
  const hostB = hostFor("B");

  layers.A = new TransactionLayer<Side>({
    clock: fcl.clock,
    timers,
    send: (m, to) => deliver(m, to),
    onRequest: (_req, tx) => {
      if (tx !== undefined) layers.A!.reply(tx, 481);
    },
    onResponse: (res) => {
      if (res.cseq.method === "INVITE") {
        const t = trackers.get(res.callId);
        const session = t?.receive(res);
        if (session !== undefined && t?.session === session && !hungUp.has(res.callId)) {
          hungUp.add(res.callId);
          dialogsA.add(session.dialog);
          fcl.clock.setTimeout(() => session.bye(), 1000); // hang up a second later
        }
      } else if (res.cseq.method === "BYE" && res.status === 200) {
        completed++;
      }
    },
    onTimeout: () => {},
  });
  layers.B = new TransactionLayer<Side>({
    clock: fcl.clock,
    timers,
    send: (m, to) => deliver(m, to),
    onRequest: (req, tx) => {
      if (req.method === "ACK") {
        const d = dialogsB.forRequest(req);
        if (d?.owner instanceof InviteSession) d.owner.receiveAck(req);
        return;
      }
      if (tx === undefined) return;
      if (req.method === "INVITE") {
        const ringing = layers.B!.reply(tx, 180);
        fcl.clock.setTimeout(() => {
          const ok = createResponse(req, 200, "OK", { toTag: ringing.to.tag! });
          ok.setHeader("Contact", "<sip:b@b.example.com>");
          const d = Dialog.asUas(req, ok, { clock: fcl.clock });
          dialogsB.add(d);
          const s = new InviteSession(d, hostB, req);
          tx.respond(ok); // first copy through the transaction (→ Accepted, RFC 6026)
          s.send2xx(ok, { alreadySent: true }); // retransmitted until the ACK (§13.3.1.4)
        }, 100);
        return;
      }
      if (req.method === "BYE") {
        const d = dialogsB.forRequest(req);
        const r = d?.owner instanceof InviteSession ? d.owner.receiveBye(req) : undefined;
        layers.B!.reply(tx, d === undefined ? 481 : r?.status ?? 200);
        return;
      }
      layers.B!.reply(tx, 405);
    },
    onResponse: () => {},
  });

  for (let i = 0; i < calls; i++) {
    fcl.clock.setTimeout(() => {
      const inv = request({
        callId: `call-${i}`,
        branch: generateBranch(),
        fromTag: `a${i}`,
        contact: "<sip:a@a.example.com>",
      });
      layers.A!.sendRequest(inv, { ctx: "B" });
      trackers.set(inv.callId, new UacInviteTracker(inv, hostA, { cancel: () => "final" }));
    }, i * 50);
  }
  fcl.tick(calls * 50 + 200_000);
  for (const t of trackers.values()) t.close();
  return {
    completed,
    dropped,
    transactions: layers.A.transactionCount + layers.B.transactionCount,
    dialogs: dialogsA.size + dialogsB.size,
    timers: fcl.countTimers(),
  };
}

Deno.test("§13/§17 end to end: 100 calls INVITE/180/200/ACK/BYE between two layers with 10% loss all complete and leave nothing behind", () => {
  const r = runCalls(42, 0.1, 100);
  assert.ok(r.dropped > 0, "the network did drop packets");
  assert.ok(r.completed >= 99, `completed ${r.completed} of 100`);
  assert.equal(r.transactions, 0);
  assert.equal(r.dialogs, 0, "every dialog ended");
  assert.equal(r.timers, 0);
});

Deno.test("property: calls over a network losing 0-40% of packets never leave transactions, dialogs or timers behind", () => {
  fc.assert(
    fc.property(fc.nat(1_000_000), fc.double({ min: 0, max: 0.4, noNaN: true }), (seed, loss) => {
      const r = runCalls(seed, loss, 5);
      assert.equal(r.transactions, 0);
      assert.equal(r.dialogs, 0);
      assert.equal(r.timers, 0);
    }),
    { numRuns: 40 },
  );
});

Deno.test("RFC 6026 §8.6: send2xx with alreadySent only retransmits (the first copy went through the transaction)", () => {
  const e = env();
  const { ok, s } = uasSession(e);
  s.send2xx(ok, { alreadySent: true });
  assert.equal(e.sent.length, 0);
  e.fc.tick(500);
  assert.equal(e.sent.length, 1, "the first retransmission at T1");
  s.receiveAck(ackFor(ok));
  assertNoTimers(e, s);
});

Deno.test("§13.2.2.4: a late 2xx of the initial INVITE after a re-INVITE gets the ACK it had, and a stray 2xx for an unknown CSeq none", () => {
  const e = env();
  const { ok, s } = uacSession(e);
  s.receive2xx(ok);
  const firstAck = e.sent[0];
  const re = withVia(s.sendModify("INVITE", { body: SDP, contentType: "application/sdp" }));
  const reOk = response(wire(re), 200, { body: SDP });
  s.receiveModifyResponse(re, reOk);
  assert.equal(e.sent.length, 2);
  s.receive2xx(wire(ok)); // the first 2xx, late: its ACK is not the latest one any more
  assert.equal(e.sent.length, 2, "no new ACK invented for a stale 2xx");
  s.receive2xx(wire(reOk));
  assert.equal(e.sent.length, 3);
  assert.equal(e.sent[2], e.sent[1], "the re-INVITE's ACK again");
  assert.notEqual(e.sent[1], firstAck);
  assert.equal(s.offerAnswer.state, "stable");
  s.terminate();
  assertNoTimers(e, s);
});
