// The transaction layer: matching (RFC 3261 §17.1.3, §17.2.3 with the RFC 2543 fallback),
// CANCEL (§9.2), ACK for 2xx, merged requests (§8.2.2.2), cleanup.
import { assert, fc } from "../test_deps.ts";
import {
  clientTransactionKey,
  serverTransactionKey,
  TransactionLayer,
} from "../../sip/transaction_layer.ts";
import { type TimerId, TimerQueue } from "../../sip/clock.ts";
import { InviteClientTransaction } from "../../sip/transaction_client.ts";
import type { InviteServerTransaction } from "../../sip/transaction_server.ts";
import type { SipRequest, SipResponse } from "../../sip/types.ts";
import { parseMessage } from "../../sip/parser.ts";
import { assertClean, fakeClock, harness, request, response } from "./_transaction_helpers.ts";

const statuses = (h: ReturnType<typeof harness>) =>
  h.sent.filter((m): m is SipResponse => m.kind === "response").map((m) =>
    `${m.status} ${m.cseq.method}`
  );

Deno.test("§17.2.3: same branch and sent-by, same method → the same transaction (retransmission)", () => {
  const h = harness();
  h.layer.receive(request({ method: "OPTIONS" }), "p");
  h.layer.receive(request({ method: "OPTIONS" }), "p");
  assert.equal(h.requests.length, 1);
  assert.equal(h.layer.serverCount, 1);
  h.layer.close();
  assertClean(h);
});

Deno.test("§17.2.3: a different sent-by with the same branch is a different transaction", () => {
  const h = harness();
  h.layer.receive(request({ method: "OPTIONS", via: "SIP/2.0/UDP a.example.com" }), "p");
  h.layer.receive(request({ method: "OPTIONS", via: "SIP/2.0/UDP b.example.com" }), "p");
  assert.equal(h.requests.length, 2);
  h.layer.close();
  assertClean(h);
});

Deno.test("§17.2.3: the same branch with another method (not ACK) is a different transaction", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request({ method: "INVITE" }), "p");
  h.layer.receive(request({ method: "INFO", cseqMethod: "INFO", cseq: 2 }), "p");
  assert.equal(h.requests.length, 2);
  h.layer.close();
  assertClean(h);
});

Deno.test("§17.2.3: serverTransactionKey maps ACK to INVITE and lower-cases the sent-by host", () => {
  const inv = request({ via: "SIP/2.0/UDP Host.Example.com:5060" });
  const ack = request({
    method: "ACK",
    cseqMethod: "ACK",
    via: "SIP/2.0/UDP host.example.COM:5060",
  });
  assert.equal(serverTransactionKey(inv), serverTransactionKey(ack));
  assert.equal(clientTransactionKey(inv), `${inv.vias[0]?.branch}\nINVITE`);
});

Deno.test("§17.2.3 RFC 2543 fallback: without the magic cookie a retransmission is matched by R-URI, tags, Call-ID, CSeq, top Via", () => {
  const h = harness();
  const old = request({ method: "OPTIONS", branch: "oldbranch1" });
  h.layer.receive(old, "p");
  h.layer.receive(request({ method: "OPTIONS", branch: "oldbranch1" }), "p");
  assert.equal(h.requests.length, 1);
  h.layer.receive(request({ method: "OPTIONS", branch: "oldbranch1", cseq: 2 }), "p");
  assert.equal(h.requests.length, 2, "another CSeq is another transaction");
  h.layer.receive(
    request({ method: "OPTIONS", branch: "oldbranch1", uri: "sip:x@example.com" }),
    "p",
  );
  assert.equal(h.requests.length, 3, "another Request-URI is another transaction");
  h.layer.close();
  assertClean(h);
});

Deno.test("§17.2.3 RFC 2543 fallback: no Via branch at all still matches retransmissions", () => {
  const h = harness();
  const text = (m: string) =>
    `${m} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP old.example.com\r\n` +
    `From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@x\r\n` +
    `CSeq: 5 ${m}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  h.layer.receive(parse(text("MESSAGE")), "p");
  h.layer.receive(parse(text("MESSAGE")), "p");
  assert.equal(h.requests.length, 1);
  h.layer.close();
  assertClean(h);
});

function parse(text: string): SipRequest {
  const m = parseMessage(text);
  if (m.kind !== "request") throw new Error("not a request");
  return m;
}

Deno.test("§17.2.3 RFC 2543 fallback: the ACK matches the INVITE only with the To tag of the response sent", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request({ branch: "old1" }), "p");
  const tx = h.requests[0]!.tx!;
  const res = h.layer.reply(tx, 486);
  h.layer.receive(
    request({ method: "ACK", cseqMethod: "ACK", branch: "old1", toTag: "someone-else" }),
    "p",
  );
  assert.equal(tx.state, "completed", "a foreign To tag does not match");
  assert.equal(h.requests.length, 2, "it went to the TU as an ACK without transaction");
  h.layer.receive(
    request({ method: "ACK", cseqMethod: "ACK", branch: "old1", toTag: res.to.tag }),
    "p",
  );
  assert.equal(tx.state, "confirmed");
  h.fc.tick(5_000);
  assertClean(h);
});

Deno.test("§17.1.3: responses match on top Via branch and CSeq method; others are stray and go to the TU", () => {
  const h = harness();
  const inv = request();
  h.layer.sendRequest(inv, { ctx: "p" });
  const stray = response(request({ branch: "z9hG4bKnothere" }), 200, { toTag: "x" });
  h.layer.receive(stray, "p");
  assert.equal(h.responses[0]?.tx, undefined);
  h.layer.receive(response(inv, 200, { toTag: "x" }), "p");
  assert.ok(h.responses[1]?.tx instanceof InviteClientTransaction);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.2.3/§13.3.1.4: an ACK for a 2xx (new branch) has no transaction and goes to the TU", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request(), "p");
  const ok = h.layer.reply(h.requests[0]!.tx!, 200);
  h.layer.receive(
    request({ method: "ACK", cseqMethod: "ACK", branch: "z9hG4bKack1", toTag: ok.to.tag }),
    "p",
  );
  assert.equal(h.requests.length, 2);
  assert.equal(h.requests[1]?.req.method, "ACK");
  assert.equal(h.requests[1]?.tx, undefined);
  assert.equal(h.layer.serverCount, 1, "no transaction created for the ACK");
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§9.2: a CANCEL matching an INVITE gets 200, the TU is told, respondCancelled sends 487", () => {
  const cancels: Array<[SipRequest, InviteServerTransaction<string>]> = [];
  const h = harness({ tryingDelay: false, onCancel: (c, tx) => cancels.push([c, tx]) });
  h.layer.receive(request(), "p");
  const inviteTx = h.requests[0]!.tx as InviteServerTransaction<string>;
  h.layer.reply(inviteTx, 180);
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  assert.deepEqual(statuses(h), ["180 INVITE", "200 CANCEL"]);
  assert.equal(cancels.length, 1);
  assert.equal(cancels[0]?.[1], inviteTx);
  assert.equal(inviteTx.cancelled, true);
  assert.equal(h.requests.length, 1, "the CANCEL does not reach onRequest");
  assert.equal(h.layer.respondCancelled(inviteTx), true);
  assert.deepEqual(statuses(h), ["180 INVITE", "200 CANCEL", "487 INVITE"]);
  const sent487 = h.sent.at(-1);
  assert.equal(sent487?.to.tag, h.sent[0]?.to.tag, "the 487 keeps the early dialog's To tag");
  assert.equal(h.layer.respondCancelled(inviteTx), false, "only once");
  h.layer.receive(request({ method: "ACK", cseqMethod: "ACK", toTag: sent487?.to.tag }), "p");
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§9.2: without onCancel the layer answers 487 itself", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request(), "p");
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  assert.deepEqual(statuses(h), ["200 CANCEL", "487 INVITE"]);
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§9.2: a CANCEL without a matching transaction gets 481", () => {
  const h = harness();
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  assert.deepEqual(statuses(h), ["481 CANCEL"]);
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§9.2: a CANCEL after the final response gets 200 and has no other effect", () => {
  const cancels: SipRequest[] = [];
  const h = harness({ tryingDelay: false, onCancel: (c) => cancels.push(c) });
  h.layer.receive(request(), "p");
  h.layer.reply(h.requests[0]!.tx!, 200);
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  assert.deepEqual(statuses(h), ["200 INVITE", "200 CANCEL"]);
  assert.equal(cancels.length, 0);
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§9.2: a retransmitted CANCEL gets the same 200 and is reported once", () => {
  const cancels: SipRequest[] = [];
  const h = harness({ tryingDelay: false, onCancel: (c) => cancels.push(c) });
  h.layer.receive(request(), "p");
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL" }), "p");
  assert.deepEqual(statuses(h), ["200 CANCEL", "200 CANCEL"]);
  assert.equal(cancels.length, 1);
  h.layer.close();
  assertClean(h);
});

Deno.test("§8.2.2.2: a request without To tag whose From tag, Call-ID and CSeq equal an ongoing transaction's is flagged merged", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request({ branch: "z9hG4bKpath1" }), "p");
  h.layer.receive(request({ branch: "z9hG4bKpath2", via: "SIP/2.0/UDP proxy2.example.com" }), "p");
  assert.equal(h.requests[0]?.info.merged, false);
  assert.equal(h.requests[1]?.info.merged, true);
  // Once the first transaction ends, the same request is no longer merged.
  h.layer.close();
  h.layer.receive(request({ branch: "z9hG4bKpath3" }), "p");
  assert.equal(h.requests[2]?.info.merged, false);
  h.layer.close();
  assertClean(h);
});

Deno.test("layer: a throwing TU callback is contained and reported", () => {
  const errors: unknown[] = [];
  const h = harness({
    onRequest: () => {
      throw new Error("boom");
    },
    onCallbackError: (e) => errors.push(e),
  });
  h.layer.receive(request({ method: "OPTIONS" }), "p");
  assert.equal(errors.length, 1);
  h.layer.close();
  assertClean(h);
});

Deno.test("layer: a request without Via is dropped without creating state", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  req.removeHeader("Via");
  h.layer.receive(req, "p");
  assert.equal(h.requests.length, 0);
  assertClean(h);
});

Deno.test("layer: a load of 200 calls leaves no transaction and no timer behind", () => {
  const h = harness();
  for (let i = 0; i < 200; i++) {
    const inv = request({ branch: `z9hG4bKload${i}`, callId: `call${i}` });
    h.layer.receive(inv, "p");
    const tx = h.requests.at(-1)!.tx!;
    h.fc.tick(10);
    const ok = h.layer.reply(tx, 200);
    const bye = request({
      method: "BYE",
      branch: `z9hG4bKbye${i}`,
      callId: `call${i}`,
      toTag: ok.to.tag,
      cseq: 314160,
    });
    h.layer.receive(bye, "p");
    h.layer.reply(h.requests.at(-1)!.tx!, 200);
    const out = request({ method: "OPTIONS", branch: `z9hG4bKout${i}`, callId: `o${i}` });
    h.layer.sendRequest(out, { ctx: "p" });
    h.layer.receive(response(out, 200, { toTag: "t" }), "p");
  }
  assert.ok(h.layer.transactionCount > 0);
  h.fc.tick(64 * 500);
  assertClean(h);
});

// --- property: random interleavings never leave entries behind ----------------------------

type Action =
  | { t: "sendInvite" }
  | { t: "sendOther" }
  | { t: "peerResponds"; i: number; status: number }
  | { t: "cancel"; i: number }
  | { t: "incoming"; n: number; invite: boolean }
  | { t: "tuReply"; n: number; status: number }
  | { t: "ack"; n: number }
  | { t: "incomingCancel"; n: number }
  | { t: "tick"; ms: number }
  | { t: "transportError"; i: number };

const statusArb = fc.constantFrom(100, 180, 183, 200, 202, 302, 404, 486, 487, 500, 603);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.constant<Action>({ t: "sendInvite" }),
  fc.constant<Action>({ t: "sendOther" }),
  fc.record({ t: fc.constant("peerResponds" as const), i: fc.nat(6), status: statusArb }),
  fc.record({ t: fc.constant("cancel" as const), i: fc.nat(6) }),
  fc.record({ t: fc.constant("incoming" as const), n: fc.nat(4), invite: fc.boolean() }),
  fc.record({ t: fc.constant("tuReply" as const), n: fc.nat(4), status: statusArb }),
  fc.record({ t: fc.constant("ack" as const), n: fc.nat(4) }),
  fc.record({ t: fc.constant("incomingCancel" as const), n: fc.nat(4) }),
  fc.record({ t: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  fc.record({ t: fc.constant("transportError" as const), i: fc.nat(6) }),
);

Deno.test("property: random interleavings of retransmissions, responses, CANCELs and time leave no transaction or timer", () => {
  fc.assert(
    fc.property(fc.array(actionArb, { maxLength: 40 }), fc.boolean(), (actions, reliable) => {
      const h = harness();
      const sent: SipRequest[] = [];
      let branch = 0;
      const incoming = (n: number, invite: boolean) =>
        request({
          method: invite ? "INVITE" : "MESSAGE",
          branch: `z9hG4bKin${n}${invite ? "i" : "m"}`,
          callId: `in${n}${invite}`,
        });
      for (const a of actions) {
        switch (a.t) {
          case "sendInvite":
          case "sendOther": {
            const req = request({
              method: a.t === "sendInvite" ? "INVITE" : "OPTIONS",
              branch: `z9hG4bKout${branch++}`,
            });
            sent.push(req);
            h.layer.sendRequest(req, { ctx: "p", reliable });
            break;
          }
          case "peerResponds": {
            const req = sent[a.i];
            if (req !== undefined) {
              h.layer.receive(response(req, a.status, { toTag: "peer" }), "p", reliable);
            }
            break;
          }
          case "cancel": {
            const req = sent[a.i];
            const tx = req && h.layer.findClient(clientTransactionKey(req)!);
            if (tx instanceof InviteClientTransaction) h.layer.cancel(tx);
            break;
          }
          case "incoming":
            h.layer.receive(incoming(a.n, a.invite), "p", reliable);
            break;
          case "tuReply": {
            for (const invite of [true, false]) {
              const tx = h.layer.findServer(incoming(a.n, invite));
              if (tx === undefined) continue;
              try {
                h.layer.reply(tx, a.status === 100 ? 180 : a.status);
              } catch {
                // a response the state does not allow: refused with an error, fine
              }
            }
            break;
          }
          case "ack": {
            const base = incoming(a.n, true);
            const tx = h.layer.findServer(base);
            const ack = request({
              method: "ACK",
              cseqMethod: "ACK",
              branch: `z9hG4bKin${a.n}i`,
              callId: `in${a.n}true`,
              toTag: tx?.lastToTag ?? "t",
            });
            h.layer.receive(ack, "p", reliable);
            break;
          }
          case "incomingCancel":
            h.layer.receive(
              request({
                method: "CANCEL",
                cseqMethod: "CANCEL",
                branch: `z9hG4bKin${a.n}i`,
                callId: `in${a.n}true`,
              }),
              "p",
              reliable,
            );
            break;
          case "tick":
            h.fc.tick(a.ms);
            break;
          case "transportError": {
            const req = sent[a.i];
            const tx = req && h.layer.findClient(clientTransactionKey(req)!);
            tx?.transportError(new Error("gone"));
            break;
          }
        }
      }
      // Settle: the peer answers what is still open, the TU answers what it holds, and
      // enough time passes for every timer (64*T1 plus T4).
      for (const req of sent) {
        h.layer.receive(response(req, 408, { toTag: "peer" }), "p", reliable);
      }
      for (let n = 0; n <= 4; n++) {
        for (const invite of [true, false]) {
          const tx = h.layer.findServer(incoming(n, invite));
          if (tx !== undefined && !tx.finalSent) h.layer.reply(tx, 500);
        }
      }
      h.fc.tick(200_000);
      assertClean(h);
    }),
    { numRuns: 300 },
  );
});

Deno.test("§9.2 with the RFC 2543 rules: a CANCEL without magic cookie finds its INVITE (same R-URI, tags, Call-ID, CSeq number, top Via)", () => {
  const h = harness({ tryingDelay: false });
  h.layer.receive(request({ branch: "oldstyle7" }), "p");
  h.layer.receive(request({ method: "CANCEL", cseqMethod: "CANCEL", branch: "oldstyle7" }), "p");
  assert.deepEqual(statuses(h), ["200 CANCEL", "487 INVITE"]);
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§17.2.1: an INVITE answered inside onRequest starts no 100 Trying timer; an unanswered one gets 100 Trying after 200 ms", () => {
  const fc = fakeClock();
  let sets = 0;
  class CountingQueue extends TimerQueue {
    override setTimeout(fn: () => void, ms: number): TimerId {
      sets++;
      return super.setTimeout(fn, ms);
    }
  }
  const sent: string[] = [];
  let answer = true;
  const layer: TransactionLayer<string> = new TransactionLayer<string>({
    clock: new CountingQueue(fc.clock),
    send: (msg) => void sent.push(msg.kind === "response" ? String(msg.status) : msg.method),
    onRequest: (_req, tx) => {
      if (answer && tx !== undefined) layer.reply(tx, 180);
    },
    onResponse: () => {},
  });
  layer.receive(request({ method: "INVITE", branch: "z9hG4bK-answered" }), "p");
  assert.deepEqual(sent, ["180"]);
  assert.equal(sets, 0, "no timer was set (and cleared) for the 100 Trying");
  answer = false;
  layer.receive(request({ method: "INVITE", branch: "z9hG4bK-silent", callId: "silent" }), "p");
  assert.equal(sets, 1, "the 100 Trying delay runs for a TU that did not answer");
  fc.tick(199);
  assert.deepEqual(sent, ["180"]);
  fc.tick(1);
  assert.deepEqual(sent, ["180", "100"]);
  layer.close();
  assert.equal(layer.timerCount, 0);
});
