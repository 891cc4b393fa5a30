// Client transactions (RFC 3261 §17.1, RFC 6026 §8.4) on fake time, hosted by the layer.
import { assert } from "../test_deps.ts";
import {
  buildAckForNon2xx,
  buildCancel,
  InviteClientTransaction,
  NonInviteClientTransaction,
  TransactionStateError,
} from "../../sip/transaction_client.ts";
import type { SipMessage } from "../../sip/types.ts";
import { assertClean, harness, request, response, sentTimes } from "./_transaction_helpers.ts";

const isInvite = (m: SipMessage) => m.kind === "request" && m.method === "INVITE";
const isAck = (m: SipMessage) => m.kind === "request" && m.method === "ACK";

Deno.test("§17.1.1.2: Timer A retransmits the INVITE at T1, 2T1, 4T1... while Calling", () => {
  const h = harness();
  const times: number[] = [];
  sentTimes(h, times, isInvite);
  const tx = h.layer.sendRequest(request(), { ctx: "peer" });
  assert.ok(tx instanceof InviteClientTransaction);
  assert.equal(tx.state, "calling");
  assert.equal(h.sent.length, 1);
  h.fc.tick(31_999);
  // Sent at 0, retransmitted at 500, 1500, 3500, 7500, 15500, 31500 (Timer A doubles
  // without a cap, unlike E).
  assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  h.fc.tick(1);
  assertClean(h);
});

Deno.test("§17.1.1.2: Timer B (64*T1) times the INVITE out in Calling and the TU is told", () => {
  const h = harness();
  const tx = h.layer.sendRequest(request(), { ctx: "peer" });
  h.fc.tick(32_000);
  assert.equal(h.timeouts.length, 1);
  assert.equal(h.timeouts[0]?.timer, "B");
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.1.2: on TCP (reliable) Timer A is not started, Timer B still runs", () => {
  const h = harness();
  h.layer.sendRequest(request(), { ctx: "peer", reliable: true });
  assert.equal(h.layer.timerCount, 1);
  h.fc.tick(31_999);
  assert.equal(h.sent.length, 1);
  h.fc.tick(1);
  assert.equal(h.timeouts[0]?.timer, "B");
  assertClean(h);
});

Deno.test("§17.1.1.2: a 1xx in Calling moves to Proceeding, stops retransmissions, passes up", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" });
  h.layer.receive(response(inv, 180, { toTag: "b1" }), "peer");
  assert.equal(tx.state, "proceeding");
  assert.equal(h.responses.length, 1);
  assert.equal(h.layer.timerCount, 0, "no Timer A or B in Proceeding");
  h.fc.tick(100_000);
  assert.equal(h.sent.length, 1, "no retransmission in Proceeding");
  assert.equal(h.timeouts.length, 0);
  h.layer.receive(response(inv, 183, { toTag: "b1" }), "peer");
  assert.equal(h.responses.length, 2, "further 1xx are passed up too");
  h.layer.receive(response(inv, 486, { toTag: "b1" }), "peer");
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("RFC 6026 §8.4: a 2xx moves to Accepted, is passed up, Timer M ends it after 64*T1", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" });
  const ok = response(inv, 200, { toTag: "b1" });
  h.layer.receive(ok, "peer");
  assert.equal(tx.state, "accepted");
  assert.equal(h.responses.length, 1);
  assert.equal(h.sent.length, 1, "the transaction never ACKs a 2xx (the TU does)");
  h.fc.tick(31_999);
  assert.equal(tx.state, "accepted");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("RFC 6026 §8.4: in Accepted every 2xx (retransmission or fork) is passed up; 1xx and non-2xx are absorbed", () => {
  const h = harness();
  const inv = request();
  h.layer.sendRequest(inv, { ctx: "peer" });
  h.layer.receive(response(inv, 200, { toTag: "b1" }), "peer");
  h.layer.receive(response(inv, 200, { toTag: "b1" }), "peer");
  h.layer.receive(response(inv, 200, { toTag: "b2" }), "peer");
  h.layer.receive(response(inv, 180, { toTag: "b3" }), "peer");
  h.layer.receive(response(inv, 486, { toTag: "b4" }), "peer");
  assert.deepEqual(h.responses.map((r) => `${r.res.status}/${r.res.to.tag}`), [
    "200/b1",
    "200/b1",
    "200/b2",
  ]);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.1.1.2/§17.1.1.3: a 300-699 gets an ACK with the INVITE's branch, Route and the response's To; Completed; Timer D", () => {
  const h = harness();
  const inv = request({
    route: ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
    body: "v=0\r\n",
    headers: ["Subject: hi"],
  });
  const tx = h.layer.sendRequest(inv, { ctx: "peer" });
  h.layer.receive(response(inv, 486, { toTag: "busy1" }), "peer");
  assert.equal(tx.state, "completed");
  assert.equal(h.responses.length, 1);
  const ack = h.sent[1];
  assert.ok(ack !== undefined && ack.kind === "request");
  assert.equal(ack.method, "ACK");
  assert.equal(ack.uri.toString(), inv.uri.toString());
  assert.equal(ack.vias.length, 1);
  assert.equal(ack.vias[0]?.branch, inv.vias[0]?.branch);
  assert.equal(ack.cseq.seq, inv.cseq.seq);
  assert.equal(ack.cseq.method, "ACK");
  assert.equal(ack.to.tag, "busy1");
  assert.equal(ack.from.tag, inv.from.tag);
  assert.equal(ack.callId, inv.callId);
  assert.deepEqual(ack.routes.map(String), inv.routes.map(String));
  assert.equal(ack.contentLength, 0);
  assert.equal(ack.hasHeader("Subject"), false);
  // A retransmitted final response → the same ACK again, not passed up.
  h.layer.receive(response(inv, 486, { toTag: "busy1" }), "peer");
  assert.equal(h.sent.filter(isAck).length, 2);
  assert.equal(h.responses.length, 1);
  // Timer D = 64*T1 (32 s at the default T1).
  h.fc.tick(31_999);
  assert.equal(tx.state, "completed");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.1.2: Timer D is zero on a reliable transport", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer", reliable: true });
  h.layer.receive(response(inv, 603, { toTag: "x" }), "peer", true);
  assert.equal(tx.state, "completed");
  h.fc.tick(0);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.4: a transport error in Calling is reported and the transaction terminates", () => {
  let fail = true;
  const h = harness({ failSend: () => fail });
  const tx = h.layer.sendRequest(request(), { ctx: "peer" });
  assert.equal(h.transportErrors.length, 1);
  assert.equal(tx.state, "terminated");
  fail = false;
  assertClean(h);
});

Deno.test("§17.1.4: a transport error on a retransmission is reported too", () => {
  let fail = false;
  const h = harness({ failSend: () => fail });
  const tx = h.layer.sendRequest(request({ method: "OPTIONS" }), { ctx: "peer" });
  fail = true;
  h.fc.tick(500);
  assert.equal(h.transportErrors.length, 1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.4: an asynchronous transport error reported later terminates the transaction", () => {
  const h = harness();
  const tx = h.layer.sendRequest(request({ method: "MESSAGE" }), { ctx: "peer" });
  tx.transportError(new Error("connection refused"));
  assert.equal(h.transportErrors.length, 1);
  assertClean(h);
});

Deno.test("§17.1.2.2: Timer E doubles up to T2 while Trying", () => {
  const h = harness();
  const times: number[] = [];
  sentTimes(h, times, (m) => m.kind === "request");
  const tx = h.layer.sendRequest(request({ method: "OPTIONS" }), { ctx: "peer" });
  assert.ok(tx instanceof NonInviteClientTransaction);
  h.fc.tick(16_000);
  // 500, +1000, +2000, +4000, +4000 (capped at T2) ...
  assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 11500, 15500]);
  h.fc.tick(16_000);
  assertClean(h);
});

Deno.test("§17.1.2.2: in Proceeding Timer E fires every T2", () => {
  const h = harness();
  const req = request({ method: "REGISTER" });
  h.layer.sendRequest(req, { ctx: "peer" });
  h.fc.tick(500); // first retransmission, E is now 1000
  const times: number[] = [];
  sentTimes(h, times, (m) => m.kind === "request");
  h.layer.receive(response(req, 100), "peer");
  h.fc.tick(14_000);
  // Next E fires at 1500 (already scheduled), then every T2 = 4000.
  assert.deepEqual(times, [1500, 5500, 9500, 13500]);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.1.2.2: Timer F (64*T1) times out a non-INVITE in Trying or Proceeding", () => {
  const h = harness();
  const req = request({ method: "BYE", toTag: "t" });
  const tx = h.layer.sendRequest(req, { ctx: "peer" });
  h.layer.receive(response(req, 100), "peer");
  assert.equal(tx.state, "proceeding");
  h.fc.tick(32_000);
  assert.equal(h.timeouts[0]?.timer, "F");
  assertClean(h);
});

Deno.test("§17.1.2.2: a final response → Completed (passed up once), responses absorbed, Timer K = T4", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  const tx = h.layer.sendRequest(req, { ctx: "peer" });
  h.layer.receive(response(req, 200, { toTag: "t" }), "peer");
  assert.equal(tx.state, "completed");
  h.layer.receive(response(req, 200, { toTag: "t" }), "peer");
  assert.equal(h.responses.length, 1, "the retransmission is absorbed");
  h.fc.tick(4_999);
  assert.equal(tx.state, "completed");
  assert.equal(h.sent.length, 1, "no retransmission in Completed");
  h.fc.tick(1);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.2.2: in Completed a non-INVITE keeps neither its request nor its final response; an INVITE in Accepted keeps its request as wire text", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  const tx = h.layer.sendRequest(req, { ctx: "peer" });
  h.layer.receive(response(req, 100), "peer");
  assert.equal(tx.request, req, "kept while the request may be retransmitted");
  assert.equal(tx.lastStatus, 100);
  // The TU reads the request while the final response is passed up; the release comes after.
  const readable: boolean[] = [];
  const push = h.responses.push.bind(h.responses);
  h.responses.push = (...items) => {
    for (const i of items) readable.push(i.tx?.requestReleased === false);
    return push(...items);
  };
  h.layer.receive(response(req, 404, { toTag: "t" }), "peer");
  assert.equal(tx.state, "completed");
  assert.equal(h.responses.at(-1)?.res.status, 404, "the final response was passed up");
  assert.deepEqual(readable, [true], "the request was readable while the 404 was passed up");
  assert.equal(tx.requestReleased, true);
  assert.throws(() => tx.request, TransactionStateError);
  assert.equal(tx.lastResponse, undefined);
  assert.equal(tx.lastStatus, 404);
  h.layer.receive(response(req, 404, { toTag: "t" }), "peer");
  assert.equal(h.responses.length, 2, "a retransmitted final response is still absorbed");
  h.fc.tick(5_000);
  assertClean(h);

  const inv = request();
  const itx = h.layer.sendRequest(inv, { ctx: "peer" });
  h.layer.receive(response(inv, 200, { toTag: "a" }), "peer");
  assert.equal(itx.state, "accepted");
  // A forked 2xx in Accepted needs the INVITE: it is kept as its wire form, read as a copy.
  assert.equal(itx.requestReleased, false);
  assert.notEqual(itx.request, inv, "not the message itself");
  assert.equal(itx.request.toString(), inv.toString(), "an equal request");
  assert.equal(itx.request.from.tag, inv.from.tag);
  assert.equal(itx.lastResponse, undefined, "the 2xx itself is not kept");
  assert.equal(itx.lastStatus, 200);
  h.layer.receive(response(inv, 200, { toTag: "fork2" }), "peer");
  assert.equal(h.responses.at(-1)?.res.to.tag, "fork2", "another fork's 2xx is passed up");
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.1.1.2: in Completed an INVITE keeps only its ACK, and resends it for a retransmitted final response", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" });
  assert.ok(tx instanceof InviteClientTransaction);
  h.layer.receive(response(inv, 486, { toTag: "b" }), "peer");
  assert.equal(tx.state, "completed");
  assert.equal(tx.requestReleased, true);
  assert.throws(() => tx.request, TransactionStateError);
  assert.equal(tx.lastResponse, undefined);
  assert.equal(tx.lastStatus, 486);
  const acks = () => h.sent.filter(isAck).length;
  assert.equal(acks(), 1);
  h.layer.receive(response(inv, 486, { toTag: "b" }), "peer");
  assert.equal(acks(), 2, "the same ACK again");
  assert.equal(h.sent.filter(isAck)[1], tx.ack);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17.1.2.2: Timer K is zero on a reliable transport, and E is never started", () => {
  const h = harness();
  const req = request({ method: "OPTIONS" });
  const tx = h.layer.sendRequest(req, { ctx: "peer", reliable: true });
  assert.equal(h.layer.timerCount, 1, "only Timer F");
  h.layer.receive(response(req, 404, { toTag: "t" }), "peer", true);
  h.fc.tick(0);
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§17.1.1.3: buildAckForNon2xx keeps a single Via, the CSeq number, method ACK", () => {
  const inv = request({ via: "SIP/2.0/UDP a.example.com" });
  inv.appendHeader("Via", "SIP/2.0/UDP b.example.com;branch=z9hG4bKother");
  const ack = buildAckForNon2xx(inv, response(inv, 404, { toTag: "z" }));
  assert.equal(ack.vias.length, 1);
  assert.equal(ack.vias[0]?.host, "a.example.com");
  assert.equal(ack.cseq.method, "ACK");
  assert.equal(ack.to.tag, "z");
});

Deno.test("§9.1: buildCancel copies Request-URI, Call-ID, To, From, CSeq number and the top Via", () => {
  const inv = request({ route: ["<sip:p.example.com;lr>"], body: "v=0\r\n" });
  const c = buildCancel(inv);
  assert.equal(c.method, "CANCEL");
  assert.equal(c.uri.toString(), inv.uri.toString());
  assert.equal(c.cseq.seq, inv.cseq.seq);
  assert.equal(c.cseq.method, "CANCEL");
  assert.equal(c.vias[0]?.branch, inv.vias[0]?.branch);
  assert.equal(c.to.toString(), inv.to.toString());
  assert.equal(c.routes.length, 1);
  assert.equal(c.contentLength, 0);
});

Deno.test("§9.1: CANCEL waits for a provisional response, then goes out with the INVITE's branch", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" });
  assert.ok(tx instanceof InviteClientTransaction);
  assert.equal(h.layer.cancel(tx), "pending");
  assert.equal(h.sent.length, 1, "no CANCEL before a provisional response");
  h.layer.receive(response(inv, 180, { toTag: "b" }), "peer");
  const cancel = h.sent.find((m) => m.kind === "request" && m.method === "CANCEL");
  assert.ok(cancel !== undefined);
  assert.equal(cancel.vias[0]?.branch, inv.vias[0]?.branch);
  assert.equal(tx.cancelState, "sent");
  assert.equal(h.layer.cancel(tx), "sent");
  assert.equal(
    h.sent.filter((m) => m.kind === "request" && m.method === "CANCEL").length,
    1,
    "a second cancel() sends no second CANCEL",
  );
  // The CANCEL's own transaction gets its 200; the INVITE its 487.
  const cancelReq = cancel.kind === "request" ? cancel : inv;
  h.layer.receive(response(cancelReq, 200, { toTag: "b" }), "peer");
  h.layer.receive(response(inv, 487, { toTag: "b" }), "peer");
  assert.deepEqual(h.responses.map((r) => r.res.status), [180, 200, 487]);
  h.fc.tick(64_000);
  assertClean(h);
});

Deno.test("§9.1: a CANCEL wanted after the final response is not sent", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" }) as InviteClientTransaction<string>;
  h.layer.receive(response(inv, 200, { toTag: "b" }), "peer");
  assert.equal(h.layer.cancel(tx), "final");
  assert.equal(h.sent.length, 1);
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§9.1: no final response within 64*T1 after the CANCEL → the INVITE transaction times out", () => {
  const h = harness();
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer" }) as InviteClientTransaction<string>;
  h.layer.receive(response(inv, 183, { toTag: "b" }), "peer");
  assert.equal(h.layer.cancel(tx), "sent");
  h.fc.tick(32_000);
  assert.ok(h.timeouts.some((t) => t.tx === tx && t.timer === "cancel"));
  assert.equal(tx.state, "terminated");
  assertClean(h);
});

Deno.test("§16.6 step 11: proxy Timer C fires after its interval and is reset by each provisional", () => {
  const h = harness({ timerC: 180_000 });
  const inv = request();
  const tx = h.layer.sendRequest(inv, { ctx: "peer", timerC: true });
  h.fc.tick(10_000);
  h.layer.receive(response(inv, 180, { toTag: "b" }), "peer");
  h.fc.tick(179_999);
  assert.equal(h.timeouts.length, 0, "reset by the 180");
  h.fc.tick(1);
  assert.deepEqual(h.timeouts.map((t) => t.timer), ["C"]);
  assert.equal(tx.state, "proceeding", "the proxy decides: it sends CANCEL");
  assert.equal(h.layer.cancel(tx as InviteClientTransaction<string>), "sent");
  h.layer.receive(response(inv, 487, { toTag: "b" }), "peer");
  h.fc.tick(64_000);
  assertClean(h);
});

Deno.test("§16.6 step 11: Timer C stops on a final response", () => {
  const h = harness();
  const inv = request();
  h.layer.sendRequest(inv, { ctx: "peer", timerC: 1_000 });
  h.layer.receive(response(inv, 180, { toTag: "b" }), "peer");
  h.layer.receive(response(inv, 200, { toTag: "b" }), "peer");
  h.fc.tick(40_000);
  assert.equal(h.timeouts.length, 0);
  assertClean(h);
});

Deno.test("§17.1.3: a response whose CSeq method differs does not match the transaction", () => {
  const h = harness();
  const inv = request();
  h.layer.sendRequest(inv, { ctx: "peer" });
  const other = response(request({ method: "CANCEL" }), 200, { toTag: "b" });
  h.layer.receive(other, "peer");
  assert.equal(h.responses.length, 1);
  assert.equal(h.responses[0]?.tx, undefined, "stray response to the TU");
  h.fc.tick(32_000);
  assertClean(h);
});

Deno.test("§17: an ACK is never sent through a client transaction; duplicate branches are refused", () => {
  const h = harness();
  assert.throws(() => h.layer.sendRequest(request({ method: "ACK" }), { ctx: "p" }), TypeError);
  h.layer.sendRequest(request({ method: "OPTIONS" }), { ctx: "p" });
  assert.throws(() => h.layer.sendRequest(request({ method: "OPTIONS" }), { ctx: "p" }), TypeError);
  h.layer.close();
  assertClean(h);
});
