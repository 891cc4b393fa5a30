// Server transactions (RFC 3261 §17.2, RFC 6026 §8.5-§8.7) on fake time, hosted by the layer.
import { assert } from "../test_deps.ts";
import {
  InviteServerTransaction,
  NonInviteServerTransaction,
} from "../../sip/transaction_server.ts";
import { TransactionStateError } from "../../sip/transaction_client.ts";
import type { SipMessage, SipResponse } from "../../sip/types.ts";
import { assertClean, harness, request, sentTimes } from "./_transaction_helpers.ts";
import { createResponse } from "../../sip/builders.ts";

const statuses = (msgs: SipMessage[]) =>
  msgs.filter((m): m is SipResponse => m.kind === "response").map((m) => m.status);

function inviteTx(h: ReturnType<typeof harness>, reliable = false) {
  const inv = request();
  h.layer.receive(inv, "peer", reliable);
  const tx = h.requests.at(-1)?.tx;
  assert.ok(tx instanceof InviteServerTransaction);
  return { inv, tx };
}

Deno.test("§17.2.1: the INVITE server transaction sends 100 Trying after 200 ms if the TU is silent", () => {
  const h = harness();
  const { tx } = inviteTx(h);
  assert.equal(tx.state, "proceeding");
  h.fc.tick(199);
  assert.deepEqual(statuses(h.sent), []);
  h.fc.tick(1);
  assert.deepEqual(statuses(h.sent), [100]);
  assert.equal(h.sent[0]?.to.tag, undefined, "§8.2.6.1: no To tag added to a 100");
  h.layer.reply(tx, 486);
  h.layer.receive(request({ method: "ACK", cseqMethod: "ACK", toTag: h.sent[1]?.to.tag }), "peer");
  h.fc.tick(5_000);
  assertClean(h);
});

Deno.test("§17.2.1: no 100 Trying when the TU answers within 200 ms", () => {
  const h = harness();
  const { tx } = inviteTx(h);
  h.fc.tick(50);
  h.layer.reply(tx, 180);
  h.fc.tick(1_000);
  assert.deepEqual(statuses(h.sent), [180]);
  tx.terminate();
  assertClean(h);
});

Deno.test("§17.2.1: the automatic 100 Trying can be disabled or sent at once", () => {
  const off = harness({ tryingDelay: false });
  const a = inviteTx(off);
  off.fc.tick(10_000);
  assert.deepEqual(statuses(off.sent), []);
  a.tx.terminate();
  assertClean(off);
  const now = harness({ tryingDelay: 0 });
  const b = inviteTx(now);
  now.fc.tick(0);
  assert.deepEqual(statuses(now.sent), [100]);
  b.tx.terminate();
  assertClean(now);
});

Deno.test("§17.2.1: a retransmitted INVITE in Proceeding gets the last provisional again and is not passed up", () => {
  const h = harness();
  const { inv, tx } = inviteTx(h);
  h.layer.reply(tx, 180);
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [180, 180]);
  assert.equal(h.requests.length, 1);
  tx.terminate();
  assertClean(h);
});

Deno.test("§17.2.1: a retransmitted INVITE before any response gets a 100 Trying at once", () => {
  const h = harness();
  const { inv, tx } = inviteTx(h);
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [100]);
  h.fc.tick(1_000);
  assert.deepEqual(statuses(h.sent), [100], "the delayed 100 is not sent twice");
  tx.terminate();
  assertClean(h);
});

Deno.test("§17.2.1: Timer G retransmits a non-2xx final from T1 doubling up to T2 while Completed", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h);
  const times: number[] = [];
  sentTimes(h, times, (m) => m.kind === "response");
  h.layer.reply(tx, 404);
  assert.equal(tx.state, "completed");
  h.fc.tick(20_000);
  assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500]);
  h.fc.tick(20_000);
  assertClean(h);
});

Deno.test("§17.2.1: Timer H (64*T1) ends Completed without ACK and tells the TU", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h);
  h.layer.reply(tx, 500);
  h.fc.tick(31_999);
  assert.equal(tx.state, "completed");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assert.deepEqual(h.timeouts.map((t) => t.timer), ["H"]);
  assertClean(h);
});

Deno.test("§17.2.1: on a reliable transport Timer G is not used; H still runs", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h, true);
  h.layer.reply(tx, 480);
  assert.equal(h.layer.timerCount, 1);
  h.fc.tick(32_000);
  assert.equal(h.sent.length, 1);
  assert.deepEqual(h.timeouts.map((t) => t.timer), ["H"]);
  assertClean(h);
});

Deno.test("§17.2.1: the ACK moves Completed to Confirmed; further ACKs are absorbed; Timer I = T4", () => {
  const h = harness({ tryingDelay: false });
  const { inv, tx } = inviteTx(h);
  const res = h.layer.reply(tx, 486);
  const ack = request({ method: "ACK", cseqMethod: "ACK", toTag: res.to.tag });
  h.layer.receive(ack, "peer");
  assert.equal(tx.state, "confirmed");
  h.layer.receive(ack, "peer");
  h.layer.receive(inv, "peer");
  assert.equal(h.requests.length, 1, "the ACKs never reach the TU");
  assert.equal(h.sent.length, 1, "no retransmission in Confirmed");
  h.fc.tick(4_999);
  assert.equal(tx.state, "confirmed");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.2.1: Timer I is zero on a reliable transport", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h, true);
  const res = h.layer.reply(tx, 486);
  h.layer.receive(request({ method: "ACK", cseqMethod: "ACK", toTag: res.to.tag }), "p", true);
  h.fc.tick(0);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.2.1: a retransmitted INVITE in Completed gets the final response again", () => {
  const h = harness({ tryingDelay: false });
  const { inv, tx } = inviteTx(h);
  h.layer.reply(tx, 603);
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [603, 603]);
  tx.terminate();
  assertClean(h);
});

Deno.test("RFC 6026 §8.5: a 2xx moves to Accepted, Timer L (64*T1) ends it; retransmitted INVITEs are absorbed", () => {
  const h = harness({ tryingDelay: false });
  const { inv, tx } = inviteTx(h);
  const ok = h.layer.reply(tx, 200);
  assert.equal(tx.state, "accepted");
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [200], "§8.7: the retransmitted INVITE is absorbed");
  assert.equal(h.requests.length, 1);
  // RFC 6026 §8.6: 2xx retransmissions come from the TU and pass through.
  tx.respond(ok);
  assert.deepEqual(statuses(h.sent), [200, 200]);
  assert.throws(() => tx.respond(createResponse(inv, 486)), TransactionStateError);
  h.fc.tick(31_999);
  assert.equal(tx.state, "accepted");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("RFC 6026 §8.5: an ACK matching an Accepted transaction is passed to the TU (ACK for 2xx)", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h);
  const ok = h.layer.reply(tx, 200);
  // A (buggy) UAC that reuses the INVITE's branch for the 2xx ACK.
  h.layer.receive(request({ method: "ACK", cseqMethod: "ACK", toTag: ok.to.tag }), "peer");
  assert.equal(h.requests.length, 2);
  assert.equal(h.requests[1]?.tx, undefined);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.2: responding after the final response throws TransactionStateError", () => {
  const h = harness({ tryingDelay: false });
  const { tx } = inviteTx(h);
  h.layer.reply(tx, 404);
  assert.throws(() => h.layer.reply(tx, 200), TransactionStateError);
  tx.terminate();
  assertClean(h);
});

Deno.test("§17.2.4: a transport error while sending the response is reported; the transaction ends", () => {
  let fail = false;
  const h = harness({ tryingDelay: false, failSend: () => fail });
  const { tx } = inviteTx(h);
  fail = true;
  h.layer.reply(tx, 486);
  assert.equal(h.transportErrors.length, 1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.2.2: non-INVITE: retransmissions absorbed in Trying, answered in Proceeding", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  h.layer.receive(req, "peer");
  const tx = h.requests[0]?.tx;
  assert.ok(tx instanceof NonInviteServerTransaction);
  assert.equal(tx.state, "trying");
  h.layer.receive(req, "peer");
  assert.equal(h.sent.length, 0, "absorbed in Trying");
  assert.equal(h.requests.length, 1);
  h.layer.reply(tx, 183);
  assert.equal(tx.state, "proceeding");
  h.layer.receive(req, "peer");
  assert.deepEqual(statuses(h.sent), [183, 183]);
  h.layer.reply(tx, 200);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.2.2: non-INVITE Completed resends the final response; Timer J = 64*T1", () => {
  const h = harness();
  const req = request({ method: "MESSAGE" });
  h.layer.receive(req, "peer");
  const tx = h.requests[0]!.tx!;
  h.layer.reply(tx, 202);
  assert.equal(tx.state, "completed");
  h.layer.receive(req, "peer");
  assert.deepEqual(statuses(h.sent), [202, 202]);
  assert.throws(() => h.layer.reply(tx, 200), TransactionStateError);
  h.fc.tick(31_999);
  assert.equal(tx.state, "completed");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.2.2: Timer J is zero on a reliable transport", () => {
  const h = harness();
  h.layer.receive(request({ method: "OPTIONS" }), "peer", true);
  const tx = h.requests[0]!.tx!;
  h.layer.reply(tx, 200);
  h.fc.tick(0);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.2.2: a Completed non-INVITE transaction keeps only the response for its absorption window (the request is released)", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  h.layer.receive(req, "peer");
  const tx = h.requests[0]!.tx!;
  assert.equal(tx.request, req);
  assert.equal(tx.requestReleased, false);
  assert.equal(h.layer.mergedIndexSize, 1);
  h.layer.reply(tx, 200);
  // Completed: the request is no longer held; the method is still known.
  assert.equal(tx.requestReleased, true);
  assert.equal(tx.method, "OPTIONS");
  assert.throws(() => tx.request, TransactionStateError);
  // "any retransmissions of the request ... MUST pass the final response to the transport"
  h.layer.receive(req, "peer");
  assert.deepEqual(statuses(h.sent), [200, 200]);
  assert.equal(h.requests.length, 1, "the retransmission is absorbed, not passed up");
  // A second final response is refused, as before.
  assert.throws(() => h.layer.reply(tx, 500), TransactionStateError);
  h.fc.tick(32_000);
  assert.equal(tx.state, "terminated");
  assert.equal(h.layer.mergedIndexSize, 0, "the §8.2.2.2 index entry left with it");
  assertClean(h);
});

Deno.test("§17.2.1: a Completed INVITE server transaction releases its request and still resends the final response to retransmissions", () => {
  const h = harness();
  const { inv, tx } = inviteTx(h);
  h.layer.reply(tx, 180);
  assert.equal(tx.requestReleased, false, "a provisional response keeps it");
  assert.equal(tx.request, inv);
  h.layer.reply(tx, 486);
  assert.equal(tx.requestReleased, true);
  assert.equal(tx.method, "INVITE");
  assert.throws(() => tx.request, TransactionStateError);
  // "any retransmissions of the INVITE ... the most recent provisional response MUST be
  // passed to the transport layer" becomes the final response once Completed.
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [180, 486, 486]);
  assert.equal(h.requests.length, 1, "the retransmission is absorbed, not passed up");
  assert.throws(() => h.layer.reply(tx, 500), TransactionStateError);
  tx.terminate();
  assertClean(h);
});

Deno.test("RFC 6026 §8.7: an Accepted INVITE server transaction releases its request; retransmissions are absorbed and the TU may resend the 2xx", () => {
  const h = harness();
  const { inv, tx } = inviteTx(h);
  const ok = createResponse(inv, 200, "OK");
  tx.respond(ok);
  assert.equal(tx.state, "accepted");
  assert.equal(tx.requestReleased, true);
  assert.throws(() => tx.request, TransactionStateError);
  h.layer.receive(inv, "peer");
  assert.deepEqual(statuses(h.sent), [200], "absorbed in Accepted");
  tx.respond(ok); // §8.6: 2xx retransmissions from the TU go through the transaction
  assert.deepEqual(statuses(h.sent), [200, 200]);
  tx.terminate();
  assertClean(h);
});

Deno.test("§17.2: after the final response a server transaction keeps its bytes only where it may resend them", () => {
  const h = harness({ tryingDelay: false });
  const wire = (m: SipMessage | undefined) => new TextDecoder().decode(m?.toBytes());

  // Non-INVITE over UDP: Completed resends the identical bytes, without the message object.
  const msg = request({ method: "MESSAGE" });
  h.layer.receive(msg, "peer");
  const ntx = h.requests[0]!.tx!;
  const res = createResponse(msg, 202, "Accepted Here", { toTag: "nt1" });
  res.setHeader("X-Extra", "ä;kept=1");
  ntx.respond(res);
  assert.equal(ntx.lastResponse, undefined, "the built response is not kept");
  assert.equal(ntx.lastStatus, 202);
  assert.equal(ntx.lastToTag, "nt1");
  assert.equal(ntx.finalSent, true);
  h.layer.receive(msg, "peer");
  assert.equal(h.sent.length, 2);
  assert.notEqual(h.sent[1], res, "resent from the stored bytes");
  assert.equal(wire(h.sent[1]), wire(res), "the retransmission is byte for byte the response");

  // A final response with a body (kept as bytes, not text): resent byte for byte too.
  const info = request({ method: "INFO", branch: "z9hG4bKinfo", callId: "info" });
  h.layer.receive(info, "peer");
  const itx = h.requests.at(-1)!.tx!;
  const withBody = createResponse(info, 200, "OK", { toTag: "nt2" });
  withBody.setHeader("Content-Type", "application/octet-stream");
  withBody.body = new Uint8Array([0, 255, 13, 10, 128, 65]);
  itx.respond(withBody);
  const sentBefore = h.sent.length;
  h.layer.receive(info, "peer");
  assert.equal(h.sent.length, sentBefore + 1);
  assert.deepEqual(h.sent.at(-1)!.toBytes(), withBody.toBytes());

  // INVITE non-2xx: Timer G resends the same bytes; the ACK (Confirmed) lets go of them.
  const { inv, tx } = inviteTx(h);
  tx.respond(createResponse(inv, 486, "Busy Here", { toTag: "it1" }));
  const first = wire(h.sent.at(-1));
  h.fc.tick(500);
  assert.equal(wire(h.sent.at(-1)), first);
  assert.equal(tx.lastToTag, "it1");
  h.layer.receive(request({ method: "ACK", cseqMethod: "ACK", toTag: "it1" }), "peer");
  assert.equal(tx.state, "confirmed");
  const count = h.sent.length;
  h.layer.receive(inv, "peer");
  assert.equal(h.sent.length, count, "Confirmed absorbs and resends nothing");

  // A provisional response is kept as the message while Proceeding.
  const inv2 = request({ branch: "z9hG4bKsecond", callId: "second" });
  h.layer.receive(inv2, "peer");
  const tx2 = h.requests.at(-1)?.tx;
  assert.ok(tx2 instanceof InviteServerTransaction);
  const second = { inv: inv2, tx: tx2 };
  const ringing = createResponse(second.inv, 180, "Ringing", { toTag: "it2" });
  second.tx.respond(ringing);
  assert.equal(second.tx.lastResponse, ringing);
  assert.equal(second.tx.lastStatus, 180);
  assert.equal(second.tx.finalSent, false);
  second.tx.respond(createResponse(second.inv, 200, "OK", { toTag: "it2" }));
  assert.equal(second.tx.state, "accepted");
  assert.equal(second.tx.lastResponse, undefined);
  assert.equal(second.tx.lastStatus, 200);
  assert.equal(second.tx.lastToTag, "it2");
  h.fc.tick(40_000);
  assertClean(h);
});

Deno.test("§17.2.1: a retransmitted INVITE before the 100 Trying delay ends stops that delay (no stray Timer G later)", () => {
  for (const reliable of [true, false]) {
    const h = harness();
    const { inv, tx } = inviteTx(h, reliable);
    h.layer.receive(inv, "peer", reliable); // within the 200 ms: 100 Trying at once
    assert.deepEqual(statuses(h.sent), [100]);
    const times: number[] = [];
    sentTimes(h, times, (m) => m.kind === "response");
    h.layer.reply(tx, 500);
    h.fc.tick(8_000);
    // Before the fix the old delay fired in Completed as a Timer G of interval 0: on a
    // reliable transport that resent the 500 without end at one instant.
    assert.deepEqual(times, reliable ? [0] : [0, 500, 1500, 3500, 7500], `reliable=${reliable}`);
    tx.terminate();
    assertClean(h);
  }
});
