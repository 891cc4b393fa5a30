import { assert } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { SipParseError } from "../../sip/errors.ts";
import type { SipRequest, SipResponse } from "../../sip/types.ts";

const HEADERS = "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n" +
  "To: <sip:bob@example.com>\r\n" +
  "From: <sip:alice@example.com>;tag=1928301774\r\n" +
  "Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
  "CSeq: 314159 INVITE\r\n";

function request(extra = "", body = "", start = "INVITE sip:bob@example.com SIP/2.0"): string {
  return `${start}\r\n${HEADERS}${extra}\r\n${body}`;
}

function rejects(input: string | Uint8Array, message: RegExp): void {
  assert.throws(() => parseMessage(input), (e: unknown) => {
    assert.ok(e instanceof SipParseError, `expected SipParseError, got ${e}`);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("parser: a request from text and from bytes gives the same message", () => {
  const text = request("Content-Length: 5\r\n", "hello");
  const a = parseMessage(text) as SipRequest;
  const b = parseMessage(new TextEncoder().encode(text)) as SipRequest;
  assert.equal(a.kind, "request");
  assert.equal(a.method, "INVITE");
  assert.equal(String(a.uri), "sip:bob@example.com");
  assert.equal(a.bodyText(), "hello");
  assert.equal(String(a), String(b));
});

Deno.test("parser: a response start line with status and reason", () => {
  const res = parseMessage(
    `SIP/2.0 486 Busy Here\r\n${HEADERS}\r\n`,
  ) as SipResponse;
  assert.equal(res.kind, "response");
  assert.equal(res.status, 486);
  assert.equal(res.reason, "Busy Here");
  const noSpace = parseMessage(`SIP/2.0 200\r\n${HEADERS}\r\n`) as SipResponse;
  assert.equal(noSpace.reason, "");
});

Deno.test("parser: RFC 3261 §7.5 leading CRLFs before the start line are ignored", () => {
  const m = parseMessage("\r\n\r\n" + request());
  assert.equal(m.callId, "a84b4c76e66710@pc33.example.com");
});

Deno.test("parser: bare LF line endings are accepted leniently", () => {
  const m = parseMessage(request("Content-Length: 2\r\n", "ok").replaceAll("\r\n", "\n"));
  assert.equal(m.cseq.seq, 314159);
  assert.equal(m.bodyText(), "ok");
  assert.ok(String(m).includes("\r\nCSeq: 314159 INVITE\r\n"));
});

Deno.test("parser: RFC 3261 §18.3 a body longer than Content-Length is truncated", () => {
  const m = parseMessage(request("Content-Length: 3\r\n", "abcdef"));
  assert.equal(m.bodyText(), "abc");
});

Deno.test("parser: RFC 3261 §18.3 a body shorter than Content-Length is an error", () => {
  rejects(request("Content-Length: 30\r\n", "abc"), /Content-Length 30 exceeds the 3 body bytes/);
});

Deno.test("parser: negative, non-numeric and conflicting Content-Length are errors", () => {
  rejects(request("Content-Length: -1\r\n"), /negative/);
  rejects(request("Content-Length: ten\r\n"), /not a number/);
  rejects(request("Content-Length: 1\r\nl: 2\r\n", "ab"), /Conflicting Content-Length values/);
});

Deno.test("parser: without Content-Length the body is the rest of the datagram", () => {
  assert.equal(parseMessage(request("", "rest")).bodyText(), "rest");
});

Deno.test("parser: Content-Length counts bytes, not UTF-16 units", () => {
  const m = parseMessage(request("Content-Length: 4\r\n", "é€"));
  assert.equal(m.body.length, 4);
  assert.equal(new TextDecoder().decode(m.body.subarray(0, 2)), "é");
});

Deno.test("parser: body bytes (NUL, invalid UTF-8) are kept exactly", () => {
  const head = new TextEncoder().encode(request("Content-Length: 4\r\n"));
  const input = new Uint8Array([...head, 0, 0xff, 0xfe, 0x0d]);
  const m = parseMessage(input);
  assert.deepEqual(m.body, new Uint8Array([0, 0xff, 0xfe, 0x0d]));
  assert.deepEqual(m.toBytes(), input);
});

Deno.test("parser: RFC 3261 §8.1.1 missing mandatory headers are named", () => {
  for (const [header, label] of [["Call-ID", "Call-ID"], ["CSeq", "CSeq"], ["Via", "Via"]]) {
    const text = request().split("\r\n").filter((l) => !l.startsWith(header + ":")).join("\r\n");
    rejects(text, new RegExp(`Missing mandatory header: ${label}`));
  }
});

Deno.test("parser: header section without the empty line is an error", () => {
  rejects(`INVITE sip:b@h SIP/2.0\r\n${HEADERS}`, /not terminated by an empty line/);
  rejects("", /Empty message/);
  rejects("\r\n\r\n", /Empty message/);
});

Deno.test("parser: malformed start lines are rejected with a reason", () => {
  rejects(request("", "", "INVITE  sip:b@h SIP/2.0"), /extra spaces/);
  rejects(request("", "", "INVITE sip:b@h SIP/2.0 "), /extra spaces/);
  rejects(request("", "", "INVITE <sip:b@h> SIP/2.0"), /not an absolute URI/);
  rejects(request("", "", "INVITE sip:b@h"), /Malformed Request-Line/);
  rejects(request("", "", "INVITE sip:b@h HTTP/1.1"), /Invalid SIP-Version/);
  rejects(request("", "", "INV(ITE sip:b@h SIP/2.0"), /Invalid method/);
  rejects(request("", "", "SIP/2.0 4294967301 Big"), /Invalid status code/);
  rejects(request("", "", "SIP/2.0 99 Small"), /Invalid status code/);
  rejects(request("", "", "HTTP/1.1 200 OK"), /Unknown protocol/);
  rejects(request("", "", "garbage"), /Malformed start line/);
});

Deno.test("parser: an unknown SIP version parses (validateMessage answers 505)", () => {
  const m = parseMessage(request("", "", "OPTIONS sip:b@h SIP/7.0"));
  assert.equal(m.version, "SIP/7.0");
});

Deno.test("parser: malformed header lines are rejected with a reason", () => {
  rejects(request("No colon here\r\n"), /Header line has no colon/);
  rejects(request("Bad Name: x\r\n"), /Invalid header name/);
  rejects(request(": x\r\n"), /Invalid header name/);
  rejects(
    `INVITE sip:b@h SIP/2.0\r\n continuation\r\n${HEADERS}\r\n`,
    /starts with a continuation line/,
  );
});

Deno.test("parser: header values are parsed lazily", () => {
  // A malformed CSeq does not fail the parse; the accessor reports it.
  const m = parseMessage(request().replace("CSeq: 314159 INVITE", "CSeq: nonsense"));
  assert.equal(m.callId, "a84b4c76e66710@pc33.example.com");
  assert.throws(() => m.cseq, SipParseError);
});

Deno.test("parser: unknown headers are kept verbatim and in order", () => {
  const m = parseMessage(request("X-B: 2\r\nX-A:   1 ,  2\r\nX-B: 3\r\n"));
  assert.deepEqual(m.headerNames().slice(-3), ["X-B", "X-A", "X-B"]);
  assert.deepEqual(m.headers("x-b"), ["2", "3"]);
  assert.ok(String(m).includes("\r\nX-A:   1 ,  2\r\n"));
});

Deno.test("parser: large datagrams (header end found in the bytes) parse the same way", () => {
  const body = "x".repeat(20000);
  for (const eol of ["\r\n", "\n"]) {
    const text = request(`Content-Length: ${body.length}\r\n`, body).replaceAll("\r\n", eol);
    const m = parseMessage(new TextEncoder().encode(text));
    assert.equal(m.body.length, 20000);
    assert.equal(m.cseq.method, "INVITE");
    assert.equal(m.header("content-length"), "20000");
  }
});

Deno.test("parser: UTF-8 in the header section (non-ASCII path) keeps byte offsets right", () => {
  const text = request("Subject: café ☕\r\nContent-Length: 3\r\n", "abc");
  const m = parseMessage(new TextEncoder().encode(text));
  assert.equal(m.header("subject"), "café ☕");
  assert.equal(m.bodyText(), "abc");
});
