import { assert } from "../test_deps.ts";
import {
  createRequest,
  createResponse,
  defaultReason,
  generateBranch,
  generateCallId,
  generateTag,
} from "../../sip/builders.ts";
import { makeHeaderField } from "../../sip/message.ts";
import { parseMessage } from "../../sip/parser.ts";
import { validateMessage } from "../../sip/validate.ts";
import type { SipRequest } from "../../sip/types.ts";

function invite(): SipRequest {
  return createRequest({
    method: "INVITE",
    uri: "sip:bob@biloxi.example.com",
    from: '"Alice" <sip:alice@atlanta.example.com>',
    to: "<sip:bob@biloxi.example.com>",
    via: ["SIP/2.0/UDP pc33.atlanta.example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"],
    contact: "<sip:alice@pc33.atlanta.example.com>",
    headers: { Subject: "lunch", Supported: ["100rel", "timer"] },
    body: "v=0\r\n",
    contentType: "application/sdp",
    cseq: 7,
  });
}

Deno.test("builders: RFC 3261 §8.1.1.7 branches start with the magic cookie z9hG4bK", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const b = generateBranch();
    assert.match(b, /^z9hG4bK[0-9a-f]{24}$/);
    seen.add(b);
  }
  assert.equal(seen.size, 100);
});

Deno.test("builders: RFC 3261 §19.3 tags and §8.1.1.4 Call-IDs are random and unique", () => {
  const tags = new Set(Array.from({ length: 100 }, () => generateTag()));
  assert.equal(tags.size, 100);
  for (const t of tags) assert.match(t, /^[0-9a-f]{16}$/);
  assert.match(generateCallId(), /^[0-9a-f]{32}$/);
  assert.match(generateCallId("example.com"), /^[0-9a-f]{32}@example\.com$/);
  assert.notEqual(generateCallId(), generateCallId());
});

Deno.test("builders: RFC 3261 §8.1.1 createRequest writes the mandatory headers", () => {
  const r = invite();
  assert.equal(r.method, "INVITE");
  assert.equal(String(r.uri), "sip:bob@biloxi.example.com");
  assert.equal(r.maxForwards, 70);
  assert.ok(r.from.tag !== undefined && r.from.tag.length >= 8, "From MUST carry a tag");
  assert.equal(r.from.displayName, "Alice");
  assert.equal(r.to.tag, undefined);
  assert.match(r.callId, /^[0-9a-f]{32}$/);
  assert.deepEqual({ seq: r.cseq.seq, method: r.cseq.method }, { seq: 7, method: "INVITE" });
  assert.match(r.vias[0]!.branch!, /^z9hG4bK/);
  assert.equal(r.vias[1]!.branch, "z9hG4bKx");
  assert.equal(r.contacts.length, 1);
  assert.equal(r.header("Subject"), "lunch");
  assert.deepEqual(r.headers("Supported"), ["100rel", "timer"]);
  assert.equal(r.contentType, "application/sdp");
  assert.equal(r.bodyText(), "v=0\r\n");
  assert.deepEqual(r.headerNames(), [
    "Via",
    "Via",
    "Max-Forwards",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Subject",
    "Supported",
    "Supported",
    "Content-Type",
  ]);
  // The wire form parses back to an equal, valid message.
  const again = parseMessage(r.toBytes());
  assert.equal(validateMessage(again), undefined);
  assert.equal(String(again), String(r));
});

Deno.test("builders: createRequest keeps a given From tag, Call-ID and branch", () => {
  const r = createRequest({
    method: "BYE",
    uri: "sip:bob@192.0.2.4",
    from: "<sip:alice@example.com>;tag=abc",
    to: "<sip:bob@example.com>;tag=def",
    callId: "call-1@example.com",
    via: "SIP/2.0/TCP 192.0.2.1:5060",
    branch: "z9hG4bKmine",
    maxForwards: 10,
  });
  assert.equal(r.from.tag, "abc");
  assert.equal(r.callId, "call-1@example.com");
  assert.equal(r.vias[0]!.branch, "z9hG4bKmine");
  assert.equal(r.maxForwards, 10);
  assert.equal(r.contentLength, 0);
  assert.ok(!r.hasHeader("Via") || r.headers("Via").length === 1);
});

Deno.test("builders: createRequest refuses header injection", () => {
  assert.throws(
    () =>
      createRequest({
        method: "OPTIONS",
        uri: "sip:b@h",
        from: "<sip:a@h>",
        to: "<sip:b@h>\r\nX: y",
      }),
    TypeError,
  );
});

Deno.test("builders: RFC 3261 §8.2.6.2 createResponse copies Via, From, To, Call-ID, CSeq", () => {
  const req = invite();
  const res = createResponse(req, 486);
  assert.equal(res.kind, "response");
  assert.equal(res.status, 486);
  assert.equal(res.reason, "Busy Here");
  assert.deepEqual(res.headers("Via"), req.headers("Via"));
  assert.equal(res.header("From"), req.header("From"));
  assert.equal(res.callId, req.callId);
  assert.equal(res.header("CSeq"), req.header("CSeq"));
  assert.equal(res.to.uri.host, "biloxi.example.com");
  // "the UAS MUST add a tag to the To header field in the response" (except 100).
  assert.ok(res.to.tag !== undefined);
  assert.ok(!res.hasHeader("Contact") && !res.hasHeader("Subject"));
  assert.equal(res.contentLength, 0);
  assert.equal(validateMessage(parseMessage(String(res))), undefined);
});

Deno.test("builders: createResponse appends prebuilt header fields after the copied ones, and shares them", () => {
  const fields = [makeHeaderField("Allow", "INVITE, ACK"), makeHeaderField("Supported", "path")];
  const a = createResponse(invite(), 200, "OK", { toTag: "t1", fields });
  const b = createResponse(invite(), 200, "OK", { toTag: "t2", fields });
  for (const [res, tag] of [[a, "t1"], [b, "t2"]] as const) {
    assert.equal(res.to.tag, tag);
    assert.deepEqual(res.headers("Allow"), ["INVITE", "ACK"]);
    assert.equal(res.header("Supported"), "path");
    // after Via, From, To, Call-ID, CSeq
    const text = String(res);
    assert.ok(text.indexOf("CSeq:") < text.indexOf("Allow:"));
  }
  assert.equal(fields.length, 2, "the given list is not changed");
  assert.equal(validateMessage(parseMessage(String(a))), undefined);
});

Deno.test("builders: createResponse Via order is kept with comma-combined lines", () => {
  const req = parseMessage(
    "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n" +
      "Via: SIP/2.0/UDP c;branch=z9hG4bK3\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\n" +
      "Call-ID: c\r\nCSeq: 1 OPTIONS\r\nTimestamp: 54.2\r\n\r\n",
  ) as SipRequest;
  const res = createResponse(req, 100);
  assert.deepEqual(res.vias.map((v) => v.host), ["a", "b", "c"]);
  // §8.2.6.1: a 100 copies Timestamp; no To tag is added to a 100.
  assert.equal(res.header("Timestamp"), "54.2");
  assert.equal(res.to.tag, undefined);
  assert.equal(res.reason, "Trying");
});

Deno.test("builders: createResponse keeps an existing To tag or uses the given one", () => {
  const req = createRequest({
    method: "BYE",
    uri: "sip:b@h",
    from: "<sip:a@h>;tag=1",
    to: "<sip:b@h>;tag=remote",
    via: "SIP/2.0/UDP h",
  });
  assert.equal(createResponse(req, 200).to.tag, "remote");
  const inv = invite();
  const r180 = createResponse(inv, 180, undefined, { toTag: "dlg1" });
  const r200 = createResponse(inv, 200, "Fine", { toTag: "dlg1" });
  assert.equal(r180.to.tag, "dlg1");
  assert.equal(r200.to.tag, "dlg1");
  assert.equal(r200.reason, "Fine");
});

Deno.test("builders: default reason phrases for the standard codes", () => {
  const expected: Record<number, string> = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    302: "Moved Temporarily",
    401: "Unauthorized",
    404: "Not Found",
    407: "Proxy Authentication Required",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    487: "Request Terminated",
    491: "Request Pending",
    500: "Server Internal Error",
    503: "Service Unavailable",
    505: "Version Not Supported",
    603: "Decline",
    488: "Not Acceptable Here",
    422: "Session Interval Too Small",
  };
  for (const [code, phrase] of Object.entries(expected)) {
    assert.equal(defaultReason(Number(code)), phrase);
  }
  assert.equal(defaultReason(499), "Bad Request");
  assert.throws(() => createResponse(invite(), 99), RangeError);
  assert.throws(() => createResponse(invite(), 700), RangeError);
});

Deno.test("builders: createRequest refuses a bad method or Request-URI (start line injection)", () => {
  const base = { uri: "sip:b@h", from: "<sip:a@h>", to: "<sip:b@h>" };
  assert.throws(() => createRequest({ ...base, method: "INVITE sip:x SIP/2.0\r\n" }), TypeError);
  assert.throws(
    () => createRequest({ ...base, method: "OPTIONS", uri: "sip:b@h SIP/2.0" }),
    TypeError,
  );
  assert.throws(() => createRequest({ ...base, method: "OPTIONS", uri: "" }), TypeError);
});

Deno.test("builders: RFC 3261 §8.2.6.2 createResponse copies compact-form and interleaved Via/From/To/Call-ID/CSeq lines", () => {
  const req = parseMessage(
    "MESSAGE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1\r\nf: <sip:a@h>;tag=1\r\n" +
      "Subject: x\r\nv: SIP/2.0/UDP b;branch=z9hG4bK2\r\nt: <sip:b@h>\r\ni: c-1\r\n" +
      "CSeq: 7 MESSAGE\r\nTimestamp: 1\r\nl: 0\r\n\r\n",
  ) as SipRequest;
  const res = createResponse(req, 202, undefined, { toTag: "t9" });
  // Every Via, top first, and each single header once; nothing else (no Timestamp: not a 100).
  assert.deepEqual(res.vias.map((v) => v.host), ["a", "b"]);
  assert.equal(res.from.tag, "1");
  assert.equal(res.to.tag, "t9");
  assert.equal(res.to.uri.host, "h");
  assert.equal(res.callId, "c-1");
  assert.equal(res.cseq.seq, 7);
  assert.equal(res.cseq.method, "MESSAGE");
  assert.ok(!res.hasHeader("Subject") && !res.hasHeader("Timestamp"));
  // The request is not changed by answering it.
  assert.equal(req.to.tag, undefined);
  const again = parseMessage(res.toBytes());
  assert.equal(validateMessage(again), undefined);
  assert.equal(again.to.tag, "t9");
});
