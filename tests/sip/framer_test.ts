import { assert, fc } from "../test_deps.ts";
import { type FramerEvent, StreamFramer, type StreamFramerOptions } from "../../sip/framer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Events as comparable plain values (message bytes as text, latin1-safe via arrays). */
function summary(events: readonly FramerEvent[]): unknown[] {
  return events.map((e) =>
    e.type === "message"
      ? {
        type: e.type,
        data: Array.from(e.data),
        headerLength: e.headerLength,
        contentLength: e.contentLength,
      }
      : e
  );
}

function feedAll(chunks: readonly Uint8Array[], options?: StreamFramerOptions): FramerEvent[] {
  const f = new StreamFramer(options);
  const out: FramerEvent[] = [];
  for (const c of chunks) {
    out.push(...f.push(c));
    // After an error the framer repeats it on every push: keep the first only.
    if (f.error !== undefined) break;
  }
  return out;
}

function byteByByte(data: Uint8Array, options?: StreamFramerOptions): FramerEvent[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(data.slice(i, i + 1));
  return feedAll(chunks, options);
}

const INVITE_BODY = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n\r\nc=IN IP4 192.0.2.1\r\n";
const INVITE = "INVITE sip:bob@biloxi.com SIP/2.0\r\n" +
  "Via: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n" +
  "Max-Forwards: 70\r\n" +
  "To: Bob <sip:bob@biloxi.com>\r\n" +
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n" +
  "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n" +
  "CSeq: 314159 INVITE\r\n" +
  "Content-Type: application/sdp\r\n" +
  `Content-Length: ${INVITE_BODY.length}\r\n` +
  "\r\n" + INVITE_BODY;
const OK = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n";
const MESSAGE_BODY = "\r\n\r\nbody that starts with CRLFCRLF\r\n";
const MESSAGE = "MESSAGE sip:a@b SIP/2.0\r\ncontent-LENGTH :   " + MESSAGE_BODY.length +
  "\r\n\r\n" + MESSAGE_BODY;

Deno.test("RFC 3261 §18.3: several messages fed byte by byte come out whole, body by Content-Length", () => {
  const stream = bytes(INVITE + OK + MESSAGE + INVITE);
  const events = byteByByte(stream);
  assert.deepEqual(events.map((e) => e.type), ["message", "message", "message", "message"]);
  const texts = events.map((e) => e.type === "message" ? dec.decode(e.data) : "");
  assert.deepEqual(texts, [INVITE, OK, MESSAGE, INVITE]);
  const first = events[0]!;
  assert.ok(first.type === "message");
  assert.equal(first.contentLength, INVITE_BODY.length);
  assert.equal(first.headerLength, INVITE.length - INVITE_BODY.length);
  // One chunk with everything gives the same.
  assert.deepEqual(summary(feedAll([stream])), summary(events));
});

Deno.test("A chunk holding the end of one message and the start of the next", () => {
  const stream = bytes(OK + INVITE + OK);
  const cut = OK.length + 30;
  const f = new StreamFramer();
  const a = f.push(stream.subarray(0, cut));
  assert.equal(a.length, 1);
  assert.equal(f.bufferedBytes, 30);
  const b = f.push(stream.subarray(cut));
  assert.deepEqual(b.map((e) => e.type === "message" ? dec.decode(e.data) : e.type), [INVITE, OK]);
  assert.equal(f.bufferedBytes, 0);
});

Deno.test("The framer does not keep references to the caller's chunk buffer", () => {
  const stream = bytes(INVITE);
  const buf = new Uint8Array(16);
  const f = new StreamFramer();
  const out: FramerEvent[] = [];
  for (let i = 0; i < stream.length; i += 16) {
    const part = stream.subarray(i, i + 16);
    buf.set(part);
    out.push(...f.push(buf.subarray(0, part.length)));
    buf.fill(0x58); // the transport reuses its read buffer
  }
  assert.equal(out.length, 1);
  assert.ok(out[0]?.type === "message");
  assert.equal(dec.decode(out[0].data), INVITE);
});

Deno.test("RFC 5626 §3.5.1: CRLFCRLF is a ping, a lone CRLF a pong; keep-alives never reach the parser", () => {
  const stream = bytes("\r\n\r\n" + OK + "\r\n" + OK + "\r\n\r\n\r\n" + OK + "\n\r\n\r\n");
  const types = byteByByte(stream).map((e) => e.type);
  assert.deepEqual(types, [
    "ping",
    "message",
    "pong",
    "message",
    "ping",
    "pong",
    "message",
    "ping",
  ]);
  assert.deepEqual(feedAll([stream]).map((e) => e.type), types);
  // A lone CRLF waits for the next byte (it could be half a ping) ...
  const f = new StreamFramer();
  assert.deepEqual(f.push(bytes("\r\n")), []);
  assert.deepEqual(f.push(bytes("\r\n")), [{ type: "ping" }]);
  assert.deepEqual(f.push(bytes("\r\n")), []);
  // ... and finish() reports it when the stream ends.
  assert.deepEqual(f.finish(), [{ type: "pong" }]);
});

Deno.test("keepAlive: 'pong' reports every CRLF at once, so a pong is never delayed", () => {
  const f = new StreamFramer({ keepAlive: "pong" });
  assert.deepEqual(f.push(bytes("\r\n")), [{ type: "pong" }]);
  assert.deepEqual(f.push(bytes("\r\n\r\n")), [{ type: "pong" }, { type: "pong" }]);
  assert.deepEqual(f.push(bytes(OK)).map((e) => e.type), ["message"]);
  // Stray CR and bare LF between messages are skipped silently.
  assert.deepEqual(f.push(bytes("\r\n\r" + OK)).map((e) => e.type), ["pong", "message"]);
});

Deno.test("Framing error: missing Content-Length, then the framer refuses more input", () => {
  const f = new StreamFramer();
  const events = f.push(bytes(OK + "OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n" + OK));
  assert.equal(events.length, 2);
  assert.equal(events[0]?.type, "message");
  const err = events[1];
  assert.ok(err?.type === "error");
  assert.equal(err.reason, "missing-content-length");
  assert.equal(f.error, err);
  // RFC 3261 §18.3: the stream cannot be resynchronised; further input is refused.
  assert.deepEqual(f.push(bytes(OK)), [err]);
});

Deno.test("Framing errors: negative, non-numeric and conflicting Content-Length", () => {
  const cases: [string, string][] = [
    ["Content-Length: -1", "negative-content-length"],
    ["Content-Length: abc", "invalid-content-length"],
    ["Content-Length: 1.5", "invalid-content-length"],
    ["Content-Length: +5", "invalid-content-length"],
    ["Content-Length:", "invalid-content-length"],
    ["Content-Length: 5, 5", "invalid-content-length"],
    ["Content-Length: 5\r\nl: 6", "conflicting-content-length"],
    ["Content-Length: 0\r\nContent-Length: 1", "conflicting-content-length"],
  ];
  for (const [header, reason] of cases) {
    const msg = bytes(`MESSAGE sip:a SIP/2.0\r\n${header}\r\n\r\nhello!`);
    for (const events of [feedAll([msg]), byteByByte(msg)]) {
      assert.equal(events.length, 1, header);
      const e = events[0];
      assert.ok(e?.type === "error", header);
      assert.equal(e.reason, reason, header);
    }
  }
});

Deno.test("Content-Length forms: compact l:, any case, space before colon, folded value, repeated equal", () => {
  const variants = [
    "l: 3",
    "L:3",
    "CONTENT-length : 3",
    "Content-Length:\r\n   3",
    "Content-Length: 3\r\nContent-Length: 003",
    "Content-Length: 3   ",
  ];
  for (const v of variants) {
    const text = `MESSAGE sip:a SIP/2.0\r\n${v}\r\n\r\nabcMESSAGE`;
    const events = feedAll([bytes(text)]);
    assert.equal(events.length, 1, v);
    const e = events[0];
    assert.ok(e?.type === "message", v);
    assert.equal(e.contentLength, 3, v);
    assert.ok(dec.decode(e.data).endsWith("\r\n\r\nabc"), v);
  }
  // A header whose name only contains "l" is not Content-Length.
  const e = feedAll([bytes("MESSAGE sip:a SIP/2.0\r\nlx: 3\r\nContent-Length: 0\r\n\r\n")]);
  assert.ok(e[0]?.type === "message" && e[0].contentLength === 0);
  // Bare-LF line ends are accepted for the header section too.
  const lf = feedAll([bytes("MESSAGE sip:a SIP/2.0\nl: 2\n\nokX")]);
  assert.ok(
    lf[0]?.type === "message" && dec.decode(lf[0].data) === "MESSAGE sip:a SIP/2.0\nl: 2\n\nok",
  );
});

Deno.test("Limits: maxHeaderSize and maxMessageSize (default 65535) give specific errors", () => {
  const big = "MESSAGE sip:a SIP/2.0\r\nContent-Length: 65500\r\n\r\n";
  const e1 = feedAll([bytes(big)]);
  assert.ok(e1[0]?.type === "error");
  assert.equal(e1[0].reason, "message-too-large");
  // Exactly at the limit is fine.
  const header = "MESSAGE sip:a SIP/2.0\r\nContent-Length: 00050\r\n\r\n";
  const exact = bytes(header + "x".repeat(50));
  const ok = feedAll([exact], { maxMessageSize: exact.length });
  assert.equal(ok[0]?.type, "message");
  const over = feedAll([exact], { maxMessageSize: exact.length - 1 });
  assert.ok(over[0]?.type === "error" && over[0].reason === "message-too-large");
  // The header limit triggers without waiting for the end of the headers.
  const f = new StreamFramer({ maxHeaderSize: 100 });
  assert.deepEqual(f.push(bytes("OPTIONS sip:a SIP/2.0\r\n" + "X: y\r\n".repeat(5))), []);
  const e2 = f.push(bytes("X: y\r\n".repeat(20)));
  assert.ok(e2[0]?.type === "error");
  assert.equal(e2[0].reason, "headers-too-large");
  // A header section of exactly maxHeaderSize bytes is accepted.
  const h = "OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
  assert.equal(feedAll([bytes(h)], { maxHeaderSize: h.length })[0]?.type, "message");
  assert.equal(byteByByte(bytes(h), { maxHeaderSize: h.length - 1 })[0]?.type, "error");
  // Garbage with no blank line at all cannot make the framer buffer without bound.
  const g = new StreamFramer();
  let last: FramerEvent[] = [];
  for (let i = 0; i < 100 && last.length === 0; i++) last = g.push(new Uint8Array(1000).fill(0x41));
  assert.ok(last[0]?.type === "error" && last[0].reason === "headers-too-large");
  assert.ok(g.bufferedBytes === 0);
});

Deno.test("finish(): a cut message is reported as truncated, then the framer is reusable", () => {
  const f = new StreamFramer();
  f.push(bytes(INVITE.slice(0, 100)));
  const e = f.finish();
  assert.ok(e[0]?.type === "error");
  assert.equal(e[0].reason, "truncated");
  assert.deepEqual(f.finish(), []);
  assert.deepEqual(f.push(bytes(OK)).map((x) => x.type), ["message"]);
});

Deno.test("O(n): a 1 MiB body and a 256 KiB header section in 1-byte chunks (quadratic would not finish)", () => {
  const size = 1 << 20;
  const head = bytes(`MESSAGE sip:a SIP/2.0\r\nContent-Length: ${size}\r\n\r\n`);
  const body = new Uint8Array(size).fill(0x0d); // CR bytes must not be scanned as headers
  const f = new StreamFramer({ maxMessageSize: 2 * size });
  let events: FramerEvent[] = [];
  const all = concat([head, body]);
  for (let i = 0; i < all.length; i++) {
    const ev = f.push(all.subarray(i, i + 1));
    if (ev.length > 0) events = ev;
  }
  assert.equal(events.length, 1);
  const m = events[0];
  assert.ok(m?.type === "message");
  assert.equal(m.data.length, all.length);
  assert.deepEqual(m.data.subarray(0, head.length), head);
  // The same for a 256 KiB header section: the scan position is kept between chunks.
  const hs = bytes(
    "OPTIONS sip:a SIP/2.0\r\n" + "X-Pad: 0123456789abcdef\r\n".repeat(10_000) + "l: 0\r\n\r\n",
  );
  const g = new StreamFramer({ maxHeaderSize: hs.length, maxMessageSize: hs.length });
  const got: FramerEvent[] = [];
  for (let i = 0; i < hs.length; i++) got.push(...g.push(hs.subarray(i, i + 1)));
  assert.equal(got.length, 1);
  assert.ok(got[0]?.type === "message" && got[0].headerLength === hs.length);
  assert.deepEqual(got[0].data, hs);
});

// ---- property tests -------------------------------------------------------------------

type Item = { kind: "msg"; text: Uint8Array } | { kind: "ping" } | { kind: "pong" };

const headerValueArb = fc.stringMatching(/^[!-~][ -~]{0,30}$/);
const messageArb = fc.record({
  start: fc.constantFrom("INVITE sip:a@b SIP/2.0", "SIP/2.0 180 Ringing", "BYE sip:x SIP/2.0"),
  headers: fc.array(
    fc.tuple(fc.constantFrom("Via", "X-Custom", "Subject", "To"), headerValueArb),
    { maxLength: 6 },
  ),
  body: fc.uint8Array({ maxLength: 300 }),
  compact: fc.boolean(),
  clFirst: fc.boolean(),
}).map(({ start, headers, body, compact, clFirst }): Item => {
  const cl = `${compact ? "l" : "Content-Length"}: ${body.length}`;
  const hs = headers.map(([n, v]) => `${n}: ${v}`);
  if (clFirst) hs.unshift(cl);
  else hs.push(cl);
  return { kind: "msg", text: concat([bytes(`${start}\r\n${hs.join("\r\n")}\r\n\r\n`), body]) };
});
const itemArb: fc.Arbitrary<Item> = fc.oneof(
  { weight: 4, arbitrary: messageArb },
  { weight: 1, arbitrary: fc.constant<Item>({ kind: "ping" }) },
  { weight: 1, arbitrary: fc.constant<Item>({ kind: "pong" }) },
);

function encodeItems(items: readonly Item[]): Uint8Array {
  return concat(
    items.map((it) =>
      it.kind === "msg" ? it.text : it.kind === "ping" ? bytes("\r\n\r\n") : bytes("\r\n")
    ),
  );
}

function split(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(data.slice(prev, p));
    prev = p;
  }
  out.push(data.slice(prev));
  return out;
}

Deno.test("fast-check: any chunking gives the same events as one-shot, and the expected ones", () => {
  fc.assert(
    fc.property(
      fc.array(itemArb, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (items, cuts) => {
        const data = encodeItems(items);
        const oneShot = feedAll([data]);
        assert.deepEqual(summary(feedAll(split(data, cuts))), summary(oneShot));
        // Where keep-alives are not adjacent to each other, each item maps to one event
        // (a pong at the very end stays pending until the next byte or finish()).
        const adjacent = items.some((it, k) =>
          it.kind !== "msg" && items[k + 1]?.kind !== undefined &&
          items[k + 1]!.kind !== "msg"
        );
        if (!adjacent) {
          const expected = items.filter((it, k) => !(it.kind === "pong" && k === items.length - 1))
            .map((it) => it.kind === "msg" ? "message" : it.kind);
          assert.deepEqual(oneShot.map((e) => e.type), expected);
          for (const [k, e] of oneShot.filter((e) => e.type === "message").entries()) {
            const msg = items.filter((it) => it.kind === "msg")[k]!;
            assert.ok(e.type === "message" && msg.kind === "msg");
            assert.deepEqual(e.data, msg.text);
          }
        }
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("fast-check: random bytes never throw, and errors are final", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const f = new StreamFramer({ maxHeaderSize: 200, maxMessageSize: 400 });
      let failed = false;
      for (const c of chunks) {
        const ev = f.push(c);
        if (failed) assert.deepEqual(ev, [f.error]);
        if (ev.some((e) => e.type === "error")) {
          failed = true;
          assert.equal(ev[ev.length - 1]?.type, "error");
        }
        for (const e of ev) if (e.type === "message") assert.ok(e.data.length <= 400);
      }
      assert.ok(f.bufferedBytes <= 400);
    }),
    { numRuns: 1000 },
  );
});
