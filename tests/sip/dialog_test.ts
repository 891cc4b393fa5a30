// Dialogs (RFC 3261 §12, RFC 5057 usages).
import { assert } from "../test_deps.ts";
import {
  Dialog,
  type DialogEndReason,
  dialogId,
  dialogIdOfRequest,
  DialogTable,
} from "../../sip/dialog.ts";
import { fakeClock, request, response, wire } from "./_transaction_helpers.ts";
import { createRequest, createResponse } from "../../sip/builders.ts";
import { parseNameAddr } from "../../sip/header_parsers.ts";

const RR = ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"];

function uacEarly() {
  const inv = request({ contact: "<sip:alice@pc33.example.com>" });
  const ringing = response(inv, 180, {
    toTag: "bobtag",
    contact: "<sip:bob@192.0.2.4>",
    recordRoute: RR,
  });
  return { inv, ringing, dialog: Dialog.asUac(inv, ringing) };
}

Deno.test("§12.1.2: a 1xx with a To tag creates an early UAC dialog; route set = Record-Route reversed", () => {
  const { inv, dialog } = uacEarly();
  assert.equal(dialog.state, "early");
  assert.equal(dialog.role, "uac");
  assert.equal(dialog.id, dialogId(inv.callId, "1928301774", "bobtag"));
  assert.deepEqual(dialog.routeSet.map((r) => r.uri.host), ["p2.example.com", "p1.example.com"]);
  assert.equal(dialog.remoteTarget.toString(), "sip:bob@192.0.2.4");
  assert.equal(dialog.localSeq, inv.cseq.seq);
  assert.equal(dialog.remoteSeq, undefined);
});

Deno.test("§12.1: a response without To tag or a 100 cannot create a dialog", () => {
  const inv = request();
  assert.throws(() => Dialog.asUac(inv, response(inv, 100)), TypeError);
  assert.throws(() => Dialog.asUac(inv, response(inv, 486, { toTag: "x" })), TypeError);
});

Deno.test("§13.2.2.4: the 2xx confirms an early dialog and the route set is recomputed from it", () => {
  const { inv, dialog } = uacEarly();
  dialog.receiveResponse(
    response(inv, 200, {
      toTag: "bobtag",
      contact: "<sip:bob@192.0.2.5>",
      recordRoute: ["<sip:only.example.com;lr>"],
    }),
  );
  assert.equal(dialog.state, "confirmed");
  assert.deepEqual(dialog.routeSet.map((r) => r.uri.host), ["only.example.com"]);
  assert.equal(dialog.remoteTarget.host, "192.0.2.5", "§12.2.1.2: 2xx to INVITE refreshes");
});

Deno.test("§12.3: a 300-699 to the INVITE ends the early dialog", () => {
  const { inv, dialog } = uacEarly();
  const reasons: DialogEndReason[] = [];
  dialog.onTerminated = (_d, r) => reasons.push(r);
  dialog.receiveResponse(response(inv, 486, { toTag: "bobtag" }));
  assert.equal(dialog.state, "terminated");
  assert.deepEqual(reasons, ["rejected"]);
});

Deno.test("§12.1.1: the UAS dialog takes Record-Route in order, the remote CSeq and Contact", () => {
  const inv = request({ contact: "<sip:alice@pc33.example.com>", recordRoute: RR });
  const ok = response(inv, 200, { toTag: "uastag" });
  const d = Dialog.asUas(inv, ok);
  assert.equal(d.state, "confirmed");
  assert.equal(d.localTag, "uastag");
  assert.equal(d.remoteTag, "1928301774");
  assert.deepEqual(d.routeSet.map((r) => r.uri.host), ["p1.example.com", "p2.example.com"]);
  assert.equal(d.remoteSeq, inv.cseq.seq);
  assert.equal(d.localSeq, undefined);
  assert.equal(d.remoteTarget.toString(), "sip:alice@pc33.example.com");
  // The id seen from an incoming in-dialog request matches.
  const bye = request({ method: "BYE", toTag: "uastag", cseq: inv.cseq.seq + 1 });
  assert.equal(dialogIdOfRequest(bye), d.id);
});

Deno.test("§12.2.1.1: in-dialog requests carry To/From with tags, Call-ID, the next CSeq, loose routes", () => {
  const { inv, ringing } = uacEarly();
  const d = Dialog.asUac(
    inv,
    response(inv, 200, {
      toTag: "bobtag",
      contact: "<sip:bob@192.0.2.4>",
      recordRoute: RR,
    }),
  );
  void ringing;
  const bye = wire(d.createRequest("BYE", { via: "SIP/2.0/UDP pc33.example.com" }));
  assert.equal(bye.method, "BYE");
  assert.equal(bye.uri.toString(), "sip:bob@192.0.2.4", "loose routing: R-URI = remote target");
  assert.deepEqual(bye.routes.map((r) => r.uri.host), ["p2.example.com", "p1.example.com"]);
  assert.equal(bye.cseq.seq, inv.cseq.seq + 1);
  assert.equal(bye.from.tag, "1928301774");
  assert.equal(bye.to.tag, "bobtag");
  assert.equal(bye.callId, inv.callId);
  const info = d.createRequest("INFO");
  assert.equal(info.cseq.seq, inv.cseq.seq + 2, "§12.2.1.1: CSeq increments by one");
});

Deno.test("§12.2.1.1 strict routing: the first route becomes the R-URI and the remote target the last Route", () => {
  const inv = request();
  const d = Dialog.asUac(
    inv,
    response(inv, 200, {
      toTag: "b",
      contact: "<sip:bob@192.0.2.4>",
      recordRoute: ["<sip:loose.example.com;lr>", "<sip:strict.example.com;maddr=10.0.0.1>"],
    }),
  );
  const req = wire(d.createRequest("BYE", { via: "SIP/2.0/UDP h" }));
  assert.equal(req.uri.host, "strict.example.com");
  assert.deepEqual(req.routes.map((r) => r.uri.toString()), [
    "sip:loose.example.com;lr",
    "sip:bob@192.0.2.4",
  ]);
});

Deno.test("§12.2.1.1: without a route set the request goes to the remote target with no Route", () => {
  const inv = request();
  const d = Dialog.asUac(inv, response(inv, 200, { toTag: "b", contact: "<sip:bob@192.0.2.4>" }));
  const req = d.createRequest("UPDATE", { contact: "<sip:alice@pc33.example.com>" });
  assert.equal(req.uri.toString(), "sip:bob@192.0.2.4");
  assert.equal(req.routes.length, 0);
  assert.equal(req.contacts[0]?.uri.toString(), "sip:alice@pc33.example.com");
});

Deno.test("§13.2.2.4/§9.1: ACK and CANCEL take the INVITE's CSeq number and do not advance it", () => {
  const { inv, dialog } = uacEarly();
  assert.throws(() => dialog.createRequest("ACK"), TypeError);
  const ack = dialog.createRequest("ACK", { cseq: inv.cseq.seq });
  assert.equal(ack.cseq.seq, inv.cseq.seq);
  assert.equal(ack.cseq.method, "ACK");
  assert.equal(dialog.localSeq, inv.cseq.seq);
});

Deno.test("§8.1.1.5: the first request of a UAS dialog starts at a random CSeq below 2**31", () => {
  const inv = request();
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }), { random: () => 0.5 });
  const bye = d.createRequest("BYE");
  assert.equal(bye.cseq.seq, 0x8000 + 1);
  assert.ok(bye.cseq.seq < 2 ** 31);
});

Deno.test("§12.2.2: a request with a CSeq lower than the remote sequence number gets 500", () => {
  const inv = request({ cseq: 10 });
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }));
  assert.deepEqual(
    d.receiveRequest(request({ method: "INFO", toTag: "u", cseq: 9 })),
    { status: 500, reason: "Out of order CSeq" },
  );
  assert.equal(d.receiveRequest(request({ method: "INFO", toTag: "u", cseq: 11 })), undefined);
  assert.equal(d.remoteSeq, 11);
  assert.equal(
    d.receiveRequest(request({ method: "ACK", cseqMethod: "ACK", toTag: "u", cseq: 10 })),
    undefined,
    "ACK reuses the INVITE's CSeq",
  );
});

Deno.test("§12.2.2: a target refresh request updates the remote target; other methods do not", () => {
  const inv = request({ contact: "<sip:alice@old.example.com>" });
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }));
  d.receiveRequest(
    request({ method: "INFO", toTag: "u", cseq: 314160, contact: "<sip:alice@info.example.com>" }),
  );
  assert.equal(d.remoteTarget.host, "old.example.com");
  d.receiveRequest(
    request({ method: "INVITE", toTag: "u", cseq: 314161, contact: "<sip:alice@new.example.com>" }),
  );
  assert.equal(d.remoteTarget.host, "new.example.com");
});

Deno.test("§12.2.1.2: a 2xx to a target refresh request (UPDATE) updates the remote target", () => {
  const inv = request();
  const d = Dialog.asUac(
    inv,
    response(inv, 200, { toTag: "b", contact: "<sip:bob@a.example.com>" }),
  );
  const upd = d.createRequest("UPDATE", { via: "SIP/2.0/UDP h" });
  d.receiveResponse(response(wire(upd), 200, { contact: "<sip:bob@b.example.com>" }));
  assert.equal(d.remoteTarget.host, "b.example.com");
});

Deno.test("§12.2.1.2: a 481 or 408 to an in-dialog request ends the dialog", () => {
  for (const status of [481, 408]) {
    const inv = request();
    const d = Dialog.asUac(inv, response(inv, 200, { toTag: "b" }));
    const reasons: DialogEndReason[] = [];
    d.onTerminated = (_d, r) => reasons.push(r);
    const info = wire(d.createRequest("INFO", { via: "SIP/2.0/UDP h" }));
    d.receiveResponse(response(info, status));
    assert.equal(d.state, "terminated");
    assert.deepEqual(reasons, [String(status)]);
  }
});

Deno.test("§15.1.2: a BYE ends the dialog; later requests get 481", () => {
  const inv = request();
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }));
  assert.equal(d.receiveRequest(request({ method: "BYE", toTag: "u", cseq: 314160 })), undefined);
  assert.equal(d.state, "terminated");
  assert.equal(
    d.receiveRequest(request({ method: "INFO", toTag: "u", cseq: 314161 }))?.status,
    481,
  );
});

Deno.test("dialog idle timeout: ends after the idle time without activity; activity postpones it with one timer", () => {
  const fc = fakeClock();
  const inv = request();
  const reasons: DialogEndReason[] = [];
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }), {
    clock: fc.clock,
    idleTimeout: 10_000,
    onTerminated: (_d, r) => reasons.push(r),
  });
  assert.equal(fc.countTimers(), 1);
  fc.tick(8_000);
  d.receiveRequest(request({ method: "INFO", toTag: "u", cseq: 314160 }));
  assert.equal(fc.countTimers(), 1, "activity does not add timers");
  fc.tick(9_999);
  assert.equal(d.state, "confirmed");
  fc.tick(1);
  assert.equal(d.state, "terminated");
  assert.deepEqual(reasons, ["idle"]);
  assert.equal(fc.countTimers(), 0);
});

Deno.test("RFC 5057 §5: a dialog with an INVITE and a subscription usage ends with its last usage", () => {
  const fc = fakeClock();
  const inv = request();
  const d = Dialog.asUac(inv, response(inv, 200, { toTag: "b" }), {
    clock: fc.clock,
    idleTimeout: 60_000,
  });
  d.addUsage("invite");
  d.addUsage("subscription:refer;id=1");
  d.removeUsage("invite");
  assert.equal(d.state, "confirmed");
  assert.deepEqual([...d.usages], ["subscription:refer;id=1"]);
  d.removeUsage("subscription:refer;id=1");
  assert.equal(d.state, "terminated");
  assert.equal(fc.countTimers(), 0, "the idle timer is cleared on termination");
});

Deno.test("DialogTable: lookup by request and response, removal on termination, counts back to zero", () => {
  const fc = fakeClock();
  const table = new DialogTable();
  const inv = request();
  const uac = Dialog.asUac(inv, response(inv, 200, { toTag: "b" }), {
    clock: fc.clock,
    idleTimeout: 1000,
  });
  const uasInv = request({ callId: "other", branch: "z9hG4bKo" });
  const uas = Dialog.asUas(uasInv, response(uasInv, 200, { toTag: "u" }), { clock: fc.clock });
  table.add(uac);
  table.add(uas);
  assert.equal(table.size, 2);
  assert.equal(table.timerCount, 1);
  assert.equal(table.forResponse(response(inv, 200, { toTag: "b" })), uac);
  assert.equal(table.forRequest(request({ callId: "other", toTag: "u", method: "BYE" })), uas);
  uas.receiveRequest(request({ callId: "other", toTag: "u", method: "BYE", cseq: 314160 }));
  assert.equal(table.size, 1);
  fc.tick(1000);
  assert.equal(table.size, 0, "the idle dialog left the table");
  assert.equal(table.timerCount, 0);
  assert.equal(fc.countTimers(), 0);
});

Deno.test("RFC 5057 §5.4.1: a BYE ends only the INVITE usage while a subscription usage remains", () => {
  const inv = request();
  const d = Dialog.asUas(inv, response(inv, 200, { toTag: "u" }));
  d.addUsage("invite");
  d.addUsage("subscription:refer;id=7");
  d.receiveRequest(request({ method: "BYE", toTag: "u", cseq: 314160 }));
  assert.equal(d.state, "confirmed");
  assert.deepEqual([...d.usages], ["subscription:refer;id=7"]);
  d.removeUsage("subscription:refer;id=7");
  assert.equal(d.state, "terminated");
});

Deno.test("§12.1.1: the UAS local tag is the response's To tag, however the To is written", () => {
  const tos = [
    "<sip:bob@example.com>",
    "Bob <sip:bob@example.com>;p=1",
    '"A;tag=x" <sip:bob@example.com>;q="a;tag=z"',
    "sip:bob@example.com", // no angle brackets
  ];
  for (const to of tos) {
    const inv = createRequest({
      method: "INVITE",
      uri: "sip:bob@example.com",
      from: "<sip:alice@example.com>;tag=a1",
      to,
      via: "SIP/2.0/UDP 192.0.2.1:5060",
      contact: "<sip:alice@192.0.2.1>",
    });
    const ok = createResponse(inv, 200, "OK", { toTag: "uas-1" });
    const d = Dialog.asUas(inv, ok);
    assert.equal(d.localTag, "uas-1", to);
    assert.equal(d.localParty, ok.header("To"));
    assert.equal(d.id, dialogId(inv.callId, "uas-1", "a1"));
    // A To replaced by the TU: read by the parser (the parameter name is case-insensitive).
    const changed = createResponse(inv, 200, "OK", { toTag: "uas-2" });
    changed.setHeader("To", `${to};TAG=other`);
    assert.equal(Dialog.asUas(inv, changed).localTag, parseNameAddr(`${to};TAG=other`).tag);
    // Something after the tag: parsed too.
    const extra = createResponse(inv, 200, "OK", { toTag: "uas-3" });
    extra.setHeader("To", `${extra.header("To")};x=1`);
    assert.equal(Dialog.asUas(inv, extra).localTag, "uas-3");
  }
});
