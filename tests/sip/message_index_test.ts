// The parser hands a message its header index (offsets, no field objects) and the whole
// datagram with the body's place in it; field objects and the body view are made on demand.
import { assert } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { ownString, SipRequestMessage } from "../../sip/message.ts";
import { HEADER_ID_KEYS, headerId, headerKey } from "../../sip/header_names.ts";
import { validateMessage } from "../../sip/validate.ts";

const INVITE = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
  "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\n" +
  "VIA: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n" +
  "Max-Forwards: 70\r\n" +
  "t: Bob <sip:bob@biloxi.example.com>\r\n" +
  "FROM: Alice\r\n <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
  "call-id: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
  "CSeq: 314159 INVITE\r\n" +
  "X-Custom : one, two\r\n" +
  "Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
  "c: application/sdp\r\n" +
  "Content-Length: 4\r\n\r\nv=0\nEXTRA";

Deno.test("index: header ids cover the keys both ways", () => {
  for (let id = 1; id < HEADER_ID_KEYS.length; id++) {
    assert.equal(headerId(HEADER_ID_KEYS[id]!), id);
  }
  assert.equal(headerId("x-custom"), 0);
  for (const name of ["Accept", "Subject", "Event", "Require", "Timestamp", "Server", "x-a"]) {
    assert.equal(headerId(headerKey(name)), 0, name);
  }
  assert.equal(new Set(HEADER_ID_KEYS).size, HEADER_ID_KEYS.length);
  assert.equal(headerId(headerKey("i")), headerId("call-id"));
});

Deno.test("index: any spelling of a header is found, typed accessors read the index", () => {
  const m = parseMessage(new TextEncoder().encode(INVITE)) as SipRequestMessage;
  assert.equal(m.vias.length, 3);
  assert.deepEqual(m.vias.map((v) => v.host), ["a.example.com", "b.example.com", "c.example.com"]);
  assert.equal(m.to.displayName, "Bob");
  assert.equal(m.from.tag, "1928301774"); // folded and upper-case: its own field object
  assert.equal(m.from.displayName, "Alice");
  assert.equal(m.callId, "a84b4c76e66710@pc33.atlanta.example.com");
  assert.equal(m.cseq.method, "INVITE");
  assert.equal(m.header("Call-ID"), "a84b4c76e66710@pc33.atlanta.example.com");
  assert.deepEqual(m.headers("x-custom"), ["one, two"]);
  assert.equal(m.headerLineCount("Via"), 2);
  assert.equal(m.contacts[0]!.uri.host, "pc33.atlanta.example.com");
  assert.equal(m.contentType, "application/sdp");
  assert.equal(m.maxForwards, 70);
  assert.deepEqual(m.headerNames(), [
    "v",
    "VIA",
    "Max-Forwards",
    "t",
    "FROM",
    "call-id",
    "CSeq",
    "X-Custom",
    "Contact",
    "c",
    "Content-Length",
  ]);
  assert.equal(validateMessage(m), undefined);
});

Deno.test("index: eachHeader visits the lines in wire order, as fields() has them", () => {
  const input = new TextEncoder().encode(INVITE);
  const seen: string[] = [];
  (parseMessage(input) as SipRequestMessage).eachHeader((key, text, s, e) =>
    seen.push(`${key}=${text.slice(s, e)}`)
  );
  const fields = (parseMessage(input) as SipRequestMessage).fields();
  assert.deepEqual(seen, fields.map((f) => `${f.key}=${f.value}`));
  // after a change, the same visit over the field list
  const m = parseMessage(input) as SipRequestMessage;
  m.setHeader("Max-Forwards", "69");
  const after: string[] = [];
  m.eachHeader((key, text, s, e) => after.push(`${key}=${text.slice(s, e)}`));
  assert.deepEqual(after, m.fields().map((f) => `${f.key}=${f.value}`));
  assert.ok(after.includes("max-forwards=69"));
});

Deno.test("index: fieldsOf gives the fields of some headers, as fields() has them", () => {
  const input = new TextEncoder().encode(INVITE);
  const keys = ["via", "from", "call-id", "x-custom"];
  const want = (parseMessage(input) as SipRequestMessage).fields().filter((f) =>
    keys.includes(f.key)
  );
  const got = (parseMessage(input) as SipRequestMessage).fieldsOf(keys);
  assert.deepEqual(
    got.map((f) => [f.name, f.key, f.value, f.raw]),
    want.map((f) => [
      f.name,
      f.key,
      f.value,
      f.raw,
    ]),
  );
  const m = parseMessage(input) as SipRequestMessage;
  m.removeHeader("X-Custom");
  assert.deepEqual(m.fieldsOf(["x-custom", "cseq"]).map((f) => f.value), ["314159 INVITE"]);
});

Deno.test("index: typed values read before and after the field list is made agree", () => {
  const m = parseMessage(new TextEncoder().encode(INVITE)) as SipRequestMessage;
  const before = m.vias.map(String);
  const from = String(m.from);
  m.fields(); // makes the field objects
  m.prependHeader("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp");
  assert.deepEqual(m.vias.map(String).slice(1), before);
  assert.equal(String(m.from), from);
  assert.ok(
    m.toString().includes("FROM: Alice\r\n <sip:alice@atlanta.example.com>;tag=1928301774"),
  );
});

Deno.test("index: the body is a view of the datagram, cut to Content-Length when first read", () => {
  const input = new TextEncoder().encode(INVITE);
  const m = parseMessage(input);
  assert.equal(m.contentLength, 4);
  const body = m.body;
  assert.equal(body.buffer, input.buffer);
  assert.equal(new TextDecoder().decode(body), "v=0\n");
  assert.equal(m.body, body); // made once
  assert.equal(m.bodyText(), "v=0\n");
  assert.ok(new TextDecoder().decode(m.toBytes()).endsWith("Content-Length: 4\r\n\r\nv=0\n"));
});

Deno.test("message: bodyStart and bodyLength select the body inside the bytes given", () => {
  const bytes = new TextEncoder().encode("xxhello-world");
  const m = new SipRequestMessage({
    method: "MESSAGE",
    uri: "sip:b@h",
    body: bytes,
    bodyStart: 2,
    bodyLength: 5,
  });
  assert.equal(m.contentLength, 5);
  assert.equal(m.bodyText(), "hello");
  const copy = m.clone();
  assert.equal(copy.bodyText(), "hello");
  assert.notEqual(copy.body.buffer, bytes.buffer);
  m.body = new TextEncoder().encode("bye");
  assert.equal(m.contentLength, 3);
  assert.equal(copy.bodyText(), "hello");
  assert.throws(
    () => new SipRequestMessage({ method: "X", uri: "sip:h", body: bytes, bodyStart: 14 }),
    RangeError,
  );
  assert.throws(
    () => new SipRequestMessage({ method: "X", uri: "sip:h", body: bytes, bodyLength: 20 }),
    RangeError,
  );
});

Deno.test("validate: one pass keeps the order of its answers (From before To, Contact elements)", () => {
  const base = (lines: string) =>
    "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + lines +
    "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n";
  // both malformed in the same way: From is reported, though To comes first on the wire
  const both = validateMessage(
    parseMessage(base('To: sip:b@h;x="?"\r\nFrom: sip:a@h;tag=1;x="?"\r\n')),
  );
  assert.match(both!.reason, /in from: /);
  // the second element of a Contact list
  const contact = validateMessage(
    parseMessage(
      base('To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nContact: <sip:c@h>, sip:d@h;x="?"\r\n'),
    ),
  );
  assert.equal(contact?.status, 400);
  assert.match(contact!.reason, /in contact: sip:d@h;x="\?"/);
  // repeated headers in any spelling
  const twice = validateMessage(
    parseMessage(base("To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nEXPIRES: 1\r\nExpires: 2\r\n")),
  );
  assert.equal(twice?.reason, "Bad Request - Multiple Expires values");
  const dup = validateMessage(
    parseMessage(base("To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nl: 0\r\nContent-Length: 0\r\n")),
  );
  assert.equal(dup?.reason, "Bad Request - Duplicated Content-Length");
});

Deno.test("index: bytes that are not UTF-8 read as U+FFFD, as the decoded text does", () => {
  const head = (name: string) =>
    "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
    `From: "${name}" <sip:a@h>;tag=1\r\nTo: ${name} <sip:b@h>\r\n` +
    `X-Note: ${name}\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n`;
  const bytes = new TextEncoder().encode(head("AxB"));
  // put invalid bytes where the x stands (same length, so offsets do not move)
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x78) bytes[i] = 0xff;
  const fromBytes = parseMessage(bytes) as SipRequestMessage;
  const fromText = parseMessage(new TextDecoder().decode(bytes)) as SipRequestMessage;
  assert.equal(fromBytes.from.displayName, "A\ufffdB");
  assert.equal(fromBytes.from.displayName, fromText.from.displayName);
  assert.throws(() => fromBytes.to, { name: "SipParseError" }); // not a token display name
  assert.throws(() => fromText.to, { name: "SipParseError" });
  assert.deepEqual(fromBytes.headerNames(), fromText.headerNames());
  assert.equal(fromBytes.from.tag, "1");
  assert.equal(fromBytes.header("X-Note"), "A\ufffdB");
  assert.equal(validateMessage(fromBytes)?.reason, validateMessage(fromText)?.reason);
});

Deno.test("index: names are matched in any case, exactly; other names must be tokens", () => {
  const msg = (extra: string) =>
    "OPTIONS sip:b@h SIP/2.0\r\nvIa: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTO: <sip:b@h>\r\n" +
    "fRoM: <sip:a@h>;tag=1\r\ncAlL-iD: c1\r\ncseq: 1 OPTIONS\r\n" + extra + "\r\n";
  const m = parseMessage(msg("K: timer\r\nmax-FORWARDS: 7\r\nDATE: x\r\nContent_Type: y\r\n"));
  assert.equal(m.vias[0]!.branch, "z9hG4bK1");
  assert.equal(m.callId, "c1");
  assert.equal(m.from.tag, "1");
  assert.deepEqual(m.headers("Supported"), ["timer"]);
  assert.equal(m.maxForwards, 7);
  assert.equal(m.header("Date"), "x");
  assert.equal(m.header("content_type"), "y"); // not Content-Type
  assert.equal(m.contentType, undefined);
  // a CR where the '-' of a known name stands is not that name: not a token either
  assert.throws(() => parseMessage(msg("Max\rForwards: 7\r\n")), /Invalid header name/);
  assert.throws(() => parseMessage(msg("X:Y: 7\r\n").replace("X:Y", "X Y")), /Invalid header name/);
  assert.throws(() => parseMessage(msg("X-é: 7\r\n")), /Invalid header name/);
  assert.throws(
    () => parseMessage(new TextEncoder().encode(msg("X-\u00e9: 7\r\n"))),
    /Invalid header name/,
  );
});

Deno.test("ownString returns an equal string (short ones as they are)", () => {
  const text = "INVITE sip:b@h SIP/2.0\r\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n";
  const callId = text.slice(33, 71);
  assert.equal(ownString(callId), callId);
  assert.equal(ownString("short"), "short");
  assert.equal(ownString(""), "");
});
