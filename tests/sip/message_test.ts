import { assert } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { SipRequestMessage, SipResponseMessage } from "../../sip/message.ts";
import type { SipRequest, SipResponse } from "../../sip/types.ts";

const INVITE = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
  "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n" +
  "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n" +
  "Max-Forwards: 70\r\n" +
  "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
  "To: Bob <sip:bob@biloxi.example.com>\r\n" +
  "Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
  "CSeq: 1 INVITE\r\n" +
  "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n" +
  "X-Custom: first,  with comma\r\n" +
  "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n" +
  "Content-Type: application/sdp\r\n" +
  "Content-Length: 4\r\n" +
  "\r\n" +
  "v=0\n";

function invite(): SipRequest {
  const m = parseMessage(INVITE);
  assert.equal(m.kind, "request");
  return m as SipRequest;
}

Deno.test("message: classes implement the request and response interfaces", () => {
  const r = invite();
  assert.ok(r instanceof SipRequestMessage);
  const res = parseMessage(
    "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\n" +
      "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
  ) as SipResponse;
  assert.ok(res instanceof SipResponseMessage);
  assert.equal(res.kind, "response");
  assert.equal(res.status, 180);
  assert.equal(res.reason, "Ringing");
  assert.equal(res.version, "SIP/2.0");
});

Deno.test("message: typed accessors read the fields", () => {
  const r = invite();
  assert.equal(r.method, "INVITE");
  assert.equal(r.uri.user, "bob");
  assert.equal(r.callId, "3848276298220188511@atlanta.example.com");
  assert.deepEqual({ seq: r.cseq.seq, method: r.cseq.method }, { seq: 1, method: "INVITE" });
  assert.equal(r.from.displayName, "Alice");
  assert.equal(r.from.tag, "9fxced76sl");
  assert.equal(r.to.tag, undefined);
  assert.equal(r.vias.length, 3);
  assert.equal(r.vias[0]!.transport, "TCP");
  assert.equal(r.vias[0]!.port, 5060);
  assert.equal(r.vias[0]!.branch, "z9hG4bK74bf9");
  assert.equal(r.vias[2]!.host, "b.example.com");
  assert.equal(r.maxForwards, 70);
  assert.equal(r.contacts[0]!.uri.params.get("transport"), "tcp");
  assert.equal(r.routes.length, 0);
  assert.deepEqual(r.recordRoutes.map((x) => x.uri.host), ["p1.example.com", "p2.example.com"]);
  assert.equal(r.contentType, "application/sdp");
  assert.equal(r.contentLength, 4);
  assert.equal(r.bodyText(), "v=0\n");
});

Deno.test("message: header() and headers() are case-insensitive and know compact forms", () => {
  const r = invite();
  assert.equal(r.header("v"), "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9");
  assert.equal(r.header("CALL-ID"), r.header("i"));
  assert.equal(r.headers("Via").length, 3);
  // Unknown headers are never split on commas.
  assert.deepEqual(r.headers("x-custom"), ["first,  with comma"]);
  assert.equal(r.header("Missing"), undefined);
  assert.deepEqual(r.headers("Missing"), []);
  assert.ok(r.hasHeader("m"));
  assert.ok(!r.hasHeader("Route"));
  assert.deepEqual(r.headerNames().slice(0, 3), ["Via", "Via", "Max-Forwards"]);
});

Deno.test("message: unmodified messages serialize byte for byte", () => {
  assert.equal(String(invite()), INVITE);
  assert.deepEqual(invite().toBytes(), new TextEncoder().encode(INVITE));
});

Deno.test("message: folded and oddly spaced headers keep their text on output", () => {
  const text = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
    "To :\r\n <sip:b@h>\r\nFrom: <sip:a@h>\r\n ;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n" +
    "Subject:   lots\r\n\tof folding\r\nl: 0\r\n\r\n";
  const m = parseMessage(text);
  assert.equal(m.header("To"), "<sip:b@h>");
  assert.equal(m.from.tag, "1");
  assert.equal(m.header("Subject"), "lots of folding");
  assert.equal(String(m), text);
});

Deno.test("message: setHeader replaces every value in place and drops the cache", () => {
  const r = invite();
  assert.equal(r.maxForwards, 70);
  r.setHeader("Max-Forwards", "69");
  assert.equal(r.maxForwards, 69);
  assert.equal(r.headerNames()[2], "Max-Forwards");
  r.setHeader("Via", ["SIP/2.0/UDP x.example.com;branch=z9hG4bKx"]);
  assert.equal(r.vias.length, 1);
  assert.equal(r.vias[0]!.host, "x.example.com");
  assert.deepEqual(r.headerNames().slice(0, 2), ["Via", "Max-Forwards"]);
  r.setHeader("X-New", 42);
  assert.equal(r.header("x-new"), "42");
  assert.ok(String(r).includes("\r\nX-New: 42\r\n"));
});

Deno.test("message: setHeader with one value over a header on several lines leaves one, at the first place", () => {
  const r = invite();
  const vias = (): number => r.headerNames().filter((n) => n === "Via").length;
  const before = vias();
  r.appendHeader("Via", "SIP/2.0/UDP second.example.com;branch=z9hG4bK2");
  assert.equal(vias(), before + 1);
  assert.ok(vias() >= 2);
  r.setHeader("v", "SIP/2.0/UDP only.example.com;branch=z9hG4bK3"); // compact name, same header
  assert.equal(vias(), 1);
  assert.equal(r.vias[0]!.host, "only.example.com");
  assert.equal(r.headerNames()[0], "Via");
  r.setHeader("Subject", "a"); // absent: appended
  r.setHeader("Subject", "b"); // present once: replaced where it is
  assert.deepEqual(r.headers("Subject"), ["b"]);
  assert.equal(r.headerNames().at(-1), "Subject");
});

Deno.test("message: prependHeader and removeFirstValue work on the top Via", () => {
  const r = invite();
  const before = r.vias.map((v) => v.branch);
  r.prependHeader("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp");
  assert.deepEqual(r.vias.map((v) => v.branch), ["z9hG4bKp", ...before]);
  assert.equal(r.removeFirstValue("Via"), "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp");
  assert.deepEqual(r.vias.map((v) => v.branch), before);
  // Removing from a comma-combined line keeps the rest of the line.
  r.removeFirstValue("v");
  r.removeFirstValue("v");
  assert.deepEqual(r.vias.map((v) => v.branch), ["z9hG4bK2"]);
  assert.equal(r.removeFirstValue("Via"), "SIP/2.0/UDP b.example.com;branch=z9hG4bK2");
  assert.equal(r.removeFirstValue("Via"), undefined);
  assert.deepEqual(r.vias, []);
});

Deno.test("message: replaceFirstValue changes only the first logical value", () => {
  const r = invite();
  r.replaceFirstValue("Record-Route", "<sip:new.example.com;lr>");
  assert.deepEqual(r.recordRoutes.map((x) => x.uri.host), ["new.example.com", "p2.example.com"]);
  const top = r.vias[0]!;
  top.params.set("received", "192.0.2.9");
  r.replaceFirstValue("Via", top);
  assert.equal(r.vias[0]!.received, "192.0.2.9");
  assert.equal(r.vias.length, 3);
  r.replaceFirstValue("Subject", "hi");
  assert.equal(r.header("Subject"), "hi");
});

Deno.test("message: appendHeader adds after the last value; removeHeader removes all", () => {
  const r = invite();
  r.appendHeader("Route", "<sip:r1.example.com;lr>");
  r.appendHeader("Route", "<sip:r2.example.com;lr>");
  assert.deepEqual(r.routes.map((x) => x.uri.host), ["r1.example.com", "r2.example.com"]);
  r.appendHeader("Via", "SIP/2.0/UDP last.example.com;branch=z9hG4bKl");
  assert.equal(r.vias.at(-1)!.host, "last.example.com");
  const names = r.headerNames();
  assert.equal(names.lastIndexOf("Via"), 2);
  r.removeHeader("route");
  assert.deepEqual(r.routes, []);
  assert.ok(!r.hasHeader("Route"));
});

Deno.test("message: header values with CR or LF are refused (header injection)", () => {
  const r = invite();
  assert.throws(() => r.setHeader("Subject", "x\r\nVia: evil"), TypeError);
  assert.throws(() => r.appendHeader("Bad Name", "x"), TypeError);
});

Deno.test("message: the body is bytes; Content-Length follows it on output", () => {
  const r = invite();
  r.body = new Uint8Array([0, 1, 2, 255, 10]);
  assert.equal(r.contentLength, 5);
  const bytes = r.toBytes();
  const again = parseMessage(bytes);
  assert.deepEqual(again.body, new Uint8Array([0, 1, 2, 255, 10]));
  assert.equal(again.header("Content-Length"), "5");
  r.body = new Uint8Array(0);
  assert.ok(String(r).endsWith("Content-Length: 0\r\n\r\n"));
});

Deno.test("message: toBytes with a body and a non-ASCII header (UTF-8 display name) encodes both exactly", () => {
  const r = invite();
  r.setHeader("From", '"Zoë Ñandú" <sip:zoe@example.com>;tag=1');
  r.body = new Uint8Array([0, 1, 2, 255, 10]);
  const bytes = r.toBytes();
  const head = new TextEncoder().encode(String(r).slice(0, String(r).indexOf("\r\n\r\n") + 4));
  assert.equal(bytes.length, head.length + 5);
  assert.deepEqual(bytes.subarray(0, head.length), head);
  assert.deepEqual(bytes.subarray(head.length), new Uint8Array([0, 1, 2, 255, 10]));
  const again = parseMessage(bytes);
  assert.equal(again.from.displayName, "Zoë Ñandú");
  assert.deepEqual(again.body, new Uint8Array([0, 1, 2, 255, 10]));
});

Deno.test("message: Content-Length is added when missing and written once", () => {
  const m = parseMessage(
    "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\n" +
      "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\nabc",
  );
  assert.equal(m.contentLength, 3);
  assert.ok(String(m).endsWith("Content-Length: 3\r\n\r\nabc"));
  const twice = parseMessage(
    "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\n" +
      "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 1\r\nContent-Length: 1\r\n\r\nx",
  );
  assert.equal(String(twice).match(/Content-Length|\r\nl:/g)?.length, 1);
});

Deno.test("message: clone() is deep", () => {
  const r = invite();
  const c = r.clone();
  assert.ok(c instanceof SipRequestMessage);
  assert.equal(String(c), String(r));
  c.setHeader("Max-Forwards", "1");
  c.body[0] = 0x78;
  c.uri.params.set("x", "y");
  c.method = "BYE";
  assert.equal(r.maxForwards, 70);
  assert.equal(r.bodyText(), "v=0\n");
  assert.ok(!r.uri.params.has("x"));
  assert.equal(r.method, "INVITE");
  const res = parseMessage(
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\n" +
      "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
  ) as SipResponse;
  const rc = res.clone();
  rc.status = 486;
  assert.equal(res.status, 200);
  assert.ok(String(rc).startsWith("SIP/2.0 486 OK\r\n"));
});

Deno.test("message: Request-URI and start line changes are serialized", () => {
  const r = invite();
  r.uri.params.set("transport", "udp");
  r.method = "OPTIONS";
  assert.ok(String(r).startsWith("OPTIONS sip:bob@biloxi.example.com;transport=udp SIP/2.0\r\n"));
  const other = invite();
  other.uri = r.uri.clone();
  assert.equal(String(other.uri), "sip:bob@biloxi.example.com;transport=udp");
});

Deno.test("message: accessors of missing mandatory headers throw SipParseError", () => {
  const r = invite();
  r.removeHeader("Call-ID");
  r.removeHeader("From");
  assert.throws(() => r.callId, { name: "SipParseError", message: "Missing Call-ID header" });
  assert.throws(() => r.from, { name: "SipParseError" });
});

Deno.test("message: typed values are cached until the header changes", () => {
  const r = invite();
  assert.equal(r.vias, r.vias);
  assert.equal(r.from, r.from);
  const old = r.from;
  r.setHeader("From", "<sip:carol@example.com>;tag=zz");
  assert.notEqual(r.from, old);
  assert.equal(r.from.tag, "zz");
});

Deno.test("message: raw access never throws; typed access reports the malformed value", () => {
  const m = parseMessage(
    "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\n" +
      'From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContact: "open, <sip:c@h>\r\n\r\n',
  );
  assert.deepEqual(m.headers("Contact"), ['"open, <sip:c@h>']);
  assert.equal(m.header("m"), '"open, <sip:c@h>');
  assert.throws(() => m.contacts, { name: "SipParseError" });
});

Deno.test("message: messages with many headers (indexed lookups) read and mutate correctly", () => {
  let extra = "";
  for (let i = 0; i < 200; i++) extra += `X-H${i % 50}: v${i}\r\n`;
  const m = parseMessage(INVITE.replace("Content-Type:", `${extra}Content-Type:`));
  assert.equal(m.headerNames().length, 212);
  assert.deepEqual(m.headers("x-h7"), ["v7", "v57", "v107", "v157"]);
  assert.equal(m.callId, "3848276298220188511@atlanta.example.com");
  assert.equal(m.vias.length, 3);
  m.removeFirstValue("X-H7");
  assert.deepEqual(m.headers("x-h7"), ["v57", "v107", "v157"]);
  m.appendHeader("X-H7", "last");
  assert.equal(m.headers("X-H7").at(-1), "last");
  assert.equal(m.contentType, "application/sdp");
});

Deno.test("message: parsed fields point into the header section and parse in place", () => {
  const r = parseMessage(new TextEncoder().encode(INVITE)) as SipRequestMessage;
  const fields = r.fields();
  assert.ok(fields.length > 0);
  for (const f of fields) {
    assert.ok(f.source !== undefined, `${f.name} has a source`);
    assert.equal(f.source!.slice(f.start, f.end), f.value);
    assert.ok(f.raw!.startsWith(f.name));
    assert.ok(f.raw!.endsWith(f.value));
  }
  // typed accessors over in-place values match the values parsed on their own
  assert.equal(r.vias.length, 3);
  assert.equal(r.vias[2]!.host, "b.example.com");
  assert.equal(r.from.tag, "9fxced76sl");
  assert.equal(r.to.tag, undefined);
  assert.equal(String(r.from.uri), "sip:alice@atlanta.example.com");
  assert.equal(r.recordRoutes.length, 2);
  assert.equal(r.cseq.seq, 1);
  // a changed field has no source; the accessor re-parses its new value
  r.replaceFirstValue("From", "<sip:carol@chicago.example.com>;tag=77");
  const from = r.fields().find((f) => f.key === "from")!;
  assert.equal(from.source, undefined);
  assert.equal(from.raw, undefined);
  assert.equal(r.from.tag, "77");
  assert.equal(r.from.uri.user, "carol");
  // unchanged lines still serialize byte for byte
  assert.ok(r.toString().includes("To: Bob <sip:bob@biloxi.example.com>\r\n"));
});

Deno.test("message: folded values are joined and still parse (RFC 3261 §7.3.1)", () => {
  const m = parseMessage(
    "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
      "From: Alice\r\n <sip:a@h>\r\n\t;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
  );
  assert.equal(m.from.tag, "1");
  assert.equal(m.from.displayName, "Alice");
  assert.equal(m.header("From"), "Alice <sip:a@h> ;tag=1");
  const f = (m as SipRequestMessage).fields().find((x) => x.key === "from")!;
  assert.equal(f.source, undefined);
  assert.equal(f.raw, "From: Alice\r\n <sip:a@h>\r\n\t;tag=1");
});

Deno.test("message: a malformed From or Via is reported by its accessor (RFC 3261 §25.1)", () => {
  const base = (from: string, via = "SIP/2.0/UDP h;branch=z9hG4bK1") =>
    parseMessage(
      `OPTIONS sip:b@h SIP/2.0\r\nVia: ${via}\r\nFrom: ${from}\r\nTo: <sip:b@h>\r\n` +
        "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
    );
  // the tag is readable only through m.from, which validates the whole value, URI included
  assert.throws(() => base("<sip:alice@bad..host>;tag=1").from, { name: "SipParseError" });
  assert.throws(() => base("<sip:alice@host>;tag=").from, { name: "SipParseError" });
  assert.throws(() => base("Alice <sip:alice@host;tag=1").from, { name: "SipParseError" });
  assert.throws(() => base("<sip:a@h>;tag=1", "SIP/2.0/UDP bad..host;branch=z9hG4bK1").vias, {
    name: "SipParseError",
  });
  // an empty list element is dropped, as before
  assert.equal(base("<sip:a@h>;tag=1", "SIP/2.0/UDP h;branch=z9hG4bK1, ").vias.length, 1);
  assert.equal(base("<sip:a@h>;tag=1").from.tag, "1");
});
