// UAS core checks (RFC 3261 §8.2).
import { assert } from "../test_deps.ts";
import { checkUasRequest } from "../../sip/uas_core.ts";
import { parseMessage } from "../../sip/parser.ts";
import { parseUri } from "../../sip/uri.ts";
import type { SipRequest } from "../../sip/types.ts";
import { request } from "./_transaction_helpers.ts";

Deno.test("§8.2.1: a recognized but unsupported method gets 405 with an Allow header", () => {
  const r = checkUasRequest(request({ method: "SUBSCRIBE" }), { allow: ["INVITE", "ACK", "BYE"] });
  assert.equal(r?.status, 405);
  assert.deepEqual(r?.headers, [["Allow", "INVITE, ACK, BYE"]]);
});

Deno.test("§21.5.2: an unknown method gets 501 Not Implemented (with Allow)", () => {
  const r = checkUasRequest(request({ method: "FOOBAR" }));
  assert.equal(r?.status, 501);
  assert.equal(r?.headers[0]?.[0], "Allow");
});

Deno.test("§20.5: the Allow of a 501 lists the advertised methods, not every accepted one", () => {
  const opts = { allow: ["INVITE", "ACK", "BYE", "REGISTER"], advertise: ["INVITE", "ACK", "BYE"] };
  const r = checkUasRequest(request({ method: "FOOBAR" }), opts);
  assert.equal(r?.status, 501);
  assert.deepEqual(r?.headers, [["Allow", "INVITE, ACK, BYE"]]);
  // An accepted but not advertised method passes on (the TU answers it itself).
  assert.equal(checkUasRequest(request({ method: "REGISTER" }), opts), undefined);
});

Deno.test("§8.2.2.1: a Request-URI scheme the UAS does not support gets 416", () => {
  const r = checkUasRequest(request({ uri: "mailto:bob@example.com" }));
  assert.equal(r?.status, 416);
  assert.equal(checkUasRequest(request({ uri: "sips:bob@example.com" })), undefined);
});

Deno.test("§8.2.2.1: the scheme is compared case-insensitively, from the text or from a set URI", () => {
  assert.equal(checkUasRequest(request({ uri: "SIP:bob@example.com" })), undefined);
  assert.equal(checkUasRequest(request({ uri: "Tel:+15551234" })), undefined);
  assert.equal(checkUasRequest(request({ uri: "IM:bob@example.com" }))?.status, 416);
  // A URI replaced by code is read from the object (not from the text received).
  const req = request({ uri: "sip:bob@example.com" });
  req.uri = parseUri("mailto:x@example.com");
  assert.equal(checkUasRequest(req)?.status, 416);
});

Deno.test("§8.2.2.2: a merged request (flagged by the layer) without To tag gets 482", () => {
  assert.equal(checkUasRequest(request(), { merged: true })?.status, 482);
  assert.equal(checkUasRequest(request({ toTag: "x" }), { merged: true }), undefined);
});

Deno.test("§8.2.2.3: an unsupported Require option tag gets 420 listing it in Unsupported", () => {
  const req = request({ headers: ["Require: 100rel, foo", "Require: timer"] });
  const r = checkUasRequest(req, { supported: ["timer"] });
  assert.equal(r?.status, 420);
  assert.deepEqual(r?.headers, [["Unsupported", "100rel, foo"]]);
  assert.equal(checkUasRequest(req, { supported: ["timer", "100rel", "foo"] }), undefined);
});

Deno.test("§8.2.2.3: Require is not checked for CANCEL, and ACK is never rejected", () => {
  assert.equal(
    checkUasRequest(
      request({ method: "CANCEL", headers: ["Require: foo"] }),
    ),
    undefined,
  );
  assert.equal(
    checkUasRequest(request({ method: "ACK", headers: ["Require: foo"], maxForwards: 0 })),
    undefined,
  );
});

Deno.test("§8.2.3: a body of an unaccepted type gets 415 with Accept", () => {
  const req = request({ body: "v=0\r\n" });
  req.setHeader("Content-Type", "text/html");
  const r = checkUasRequest(req);
  assert.equal(r?.status, 415);
  assert.deepEqual(r?.headers, [["Accept", "application/sdp"]]);
  assert.equal(checkUasRequest(request({ body: "v=0\r\n" })), undefined);
});

Deno.test("§8.2.3: an unknown Content-Encoding gets 415 with Accept-Encoding", () => {
  const req = request({ body: "v=0\r\n", headers: ["Content-Encoding: gzip"] });
  const r = checkUasRequest(req);
  assert.equal(r?.status, 415);
  assert.deepEqual(r?.headers, [["Accept-Encoding", "identity"]]);
});

Deno.test("§8.2.3: an unaccepted Content-Language gets 415 with Accept-Language", () => {
  const req = request({ body: "v=0\r\n", headers: ["Content-Language: fr"] });
  const r = checkUasRequest(req, { acceptLanguage: ["en"] });
  assert.equal(r?.status, 415);
  assert.deepEqual(r?.headers, [["Accept-Language", "en"]]);
});

Deno.test("§8.2 (§16.3 rule applied by NkSIP-style UAS): Max-Forwards 0 gets 483 except for OPTIONS", () => {
  assert.equal(checkUasRequest(request({ maxForwards: 0 }))?.status, 483);
  assert.equal(
    checkUasRequest(request({ method: "OPTIONS", maxForwards: 0 }), {
      allow: ["OPTIONS"],
    }),
    undefined,
  );
  assert.equal(
    checkUasRequest(request({ maxForwards: 0 }), { checkMaxForwards: false }),
    undefined,
  );
});

Deno.test("§8.2: an unknown SIP version gets 505", () => {
  const text = "INVITE sip:b@example.com SIP/3.0\r\nVia: SIP/3.0/UDP h;branch=z9hG4bK1\r\n" +
    "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n" +
    "Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  const req = parseMessage(text) as SipRequest;
  assert.equal(req.kind, "request");
  assert.equal(checkUasRequest(req)?.status, 505);
});

Deno.test("cap on concurrent calls: a new INVITE beyond maxCalls gets 503 (with Retry-After when set)", () => {
  const r = checkUasRequest(request(), { maxCalls: 2, activeCalls: 2, retryAfter: 5 });
  assert.equal(r?.status, 503);
  assert.deepEqual(r?.headers, [["Retry-After", "5"]]);
  assert.equal(checkUasRequest(request(), { maxCalls: 2, activeCalls: 1 }), undefined);
  assert.equal(
    checkUasRequest(request({ toTag: "x" }), { maxCalls: 2, activeCalls: 2 }),
    undefined,
    "a re-INVITE is not a new call",
  );
});

Deno.test("§8.2: the checks run in the RFC's order (method before Require before content)", () => {
  const req = request({ method: "PUBLISH", headers: ["Require: foo"] });
  assert.equal(checkUasRequest(req)?.status, 405);
  const req2 = request({ headers: ["Require: foo"], body: "x" });
  req2.setHeader("Content-Type", "text/plain");
  assert.equal(checkUasRequest(req2)?.status, 420);
});
