// Property tests of the parser: generated well-formed messages round-trip through String()
// and parseMessage; random mutations of the RFC 4475 / RFC 5118 corpora only ever throw
// SipParseError, and each input finishes in bounded time.
import { assert, fc } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { validateMessage } from "../../sip/validate.ts";
import { SipParseError } from "../../sip/errors.ts";
import type { SipMessage } from "../../sip/types.ts";

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const tokenChars = alnum + "-.!%*_+`'~";

const word = (chars: string, min = 1, max = 12): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...chars.split("")), minLength: min, maxLength: max });
const token = word(tokenChars);
const label = word(alnum.slice(0, 36), 1, 10);
const host = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join(".") + ".example.com"),
  fc.tuple(
    fc.integer({ min: 1, max: 254 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 1, max: 254 }),
  ).map((p) => p.join(".")),
  fc.array(fc.integer({ min: 1, max: 0xffff }).map((n) => n.toString(16)), {
    minLength: 2,
    maxLength: 4,
  }).map((g) => `[2001:db8::${g.join(":")}]`),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const user = word(alnum + "-_.!~*'()", 1, 12);
const displayName = fc.option(
  word(alnum + " ", 1, 16).map((s) => s.trim()).filter((s) => s !== ""),
  {
    nil: undefined,
  },
);

interface Gen {
  method: string;
  user: string;
  host: string;
  port: number | undefined;
  vias: { transport: string; host: string; port: number | undefined; branch: string }[];
  fromName: string | undefined;
  fromTag: string;
  toTag: string | undefined;
  callId: string;
  seq: number;
  maxForwards: number;
  extra: [string, string][];
  body: string;
  lf: boolean;
  fold: boolean;
}

const gen: fc.Arbitrary<Gen> = fc.record({
  method: token,
  user,
  host,
  port,
  vias: fc.array(
    fc.record({
      transport: fc.constantFrom("UDP", "TCP", "TLS", "WS", "WSS", "SCTP"),
      host,
      port,
      branch: token.map((t) => "z9hG4bK" + t),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  fromName: displayName,
  fromTag: token,
  toTag: fc.option(token, { nil: undefined }),
  callId: fc.tuple(token, fc.option(host, { nil: undefined })).map(([a, h]) =>
    h === undefined ? a : `${a}@${h}`
  ),
  seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  maxForwards: fc.integer({ min: 0, max: 255 }),
  extra: fc.array(
    fc.tuple(
      token.map((t) => "X-" + t),
      fc.string({ unit: fc.constantFrom(...(alnum + " ,;=:/@").split("")), maxLength: 30 })
        .map((s) => s.trim()),
    ),
    { maxLength: 6 },
  ),
  body: fc.string({ maxLength: 200 }),
  lf: fc.boolean(),
  fold: fc.boolean(),
});

function hostPort(h: string, p: number | undefined): string {
  return p === undefined ? h : `${h}:${p}`;
}

function render(g: Gen): string {
  const lines = [`${g.method} sip:${g.user}@${hostPort(g.host, g.port)} SIP/2.0`];
  for (const v of g.vias) {
    lines.push(`Via: SIP/2.0/${v.transport} ${hostPort(v.host, v.port)};branch=${v.branch}`);
  }
  const name = g.fromName === undefined ? "" : `"${g.fromName}" `;
  // Folding (RFC 3261 §7.3.1): the value continues on a line starting with white space.
  const fold = g.fold ? (g.lf ? "\n  " : "\r\n  ") : "";
  lines.push(`From: ${name}${fold}<sip:${g.user}@example.org>${fold};tag=${g.fromTag}`);
  lines.push(`To: <sip:${g.user}@${g.host}>${g.toTag === undefined ? "" : `;tag=${g.toTag}`}`);
  lines.push(`Call-ID: ${g.callId}`);
  lines.push(`CSeq: ${g.seq} ${g.method}`);
  lines.push(`Max-Forwards: ${g.maxForwards}`);
  for (const [n, v] of g.extra) lines.push(`${n}: ${v}`);
  if (g.body.length > 0) lines.push("Content-Type: text/plain;charset=utf-8");
  lines.push(`Content-Length: ${new TextEncoder().encode(g.body).length}`);
  const eol = g.lf ? "\n" : "\r\n";
  return lines.join(eol) + eol + eol + g.body;
}

function checkFields(m: SipMessage, g: Gen): void {
  assert.equal(m.kind, "request");
  if (m.kind !== "request") return;
  assert.equal(m.method, g.method);
  assert.equal(m.uri.user, g.user);
  assert.equal(m.uri.host, g.host);
  assert.equal(m.uri.port, g.port);
  assert.deepEqual(
    m.vias.map((v) => [v.transport, v.host, v.port, v.branch]),
    g.vias.map((v) => [v.transport, v.host, v.port, v.branch]),
  );
  assert.equal(m.from.displayName, g.fromName);
  assert.equal(m.from.tag, g.fromTag);
  assert.equal(m.to.tag, g.toTag);
  assert.equal(m.callId, g.callId);
  assert.equal(m.cseq.seq, g.seq);
  assert.equal(m.cseq.method, g.method);
  assert.equal(m.maxForwards, g.maxForwards);
  for (const [n, v] of g.extra) assert.ok(m.headers(n).includes(v));
  assert.equal(m.bodyText(), g.body);
}

Deno.test("property: generated well-formed messages round-trip through String() and parseMessage", () => {
  fc.assert(
    fc.property(gen, (g) => {
      const first = parseMessage(render(g));
      checkFields(first, g);
      assert.equal(validateMessage(first), undefined);
      const text = String(first);
      const second = parseMessage(text);
      checkFields(second, g);
      assert.equal(String(second), text);
      assert.deepEqual(parseMessage(second.toBytes()).toBytes(), second.toBytes());
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: header mutations behave like a list of values", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("prepend" as const), host: label }),
    fc.record({ kind: fc.constant("append" as const), host: label }),
    fc.record({ kind: fc.constant("removeFirst" as const) }),
    fc.record({ kind: fc.constant("replaceFirst" as const), host: label }),
    fc.record({ kind: fc.constant("set" as const), hosts: fc.array(label, { maxLength: 3 }) }),
  );
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.array(op, { maxLength: 12 }), (
      initial,
      ops,
    ) => {
      const via = (h: string) => `SIP/2.0/UDP ${h}.example.com;branch=z9hG4bK${h}`;
      // The initial Vias come as one comma-combined line.
      const m = parseMessage(
        `OPTIONS sip:a@h SIP/2.0\r\nVia: ${initial.map(via).join(", ")}\r\nTo: <sip:b@h>\r\n` +
          "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
      );
      let model = initial.slice();
      for (const o of ops) {
        if (o.kind === "prepend") {
          m.prependHeader("Via", via(o.host));
          model = [o.host, ...model];
        } else if (o.kind === "append") {
          m.appendHeader("v", via(o.host));
          model = [...model, o.host];
        } else if (o.kind === "removeFirst") {
          const removed = m.removeFirstValue("Via");
          assert.equal(removed, model.length === 0 ? undefined : via(model[0]!));
          model = model.slice(1);
        } else if (o.kind === "replaceFirst") {
          m.replaceFirstValue("Via", via(o.host));
          model = model.length === 0 ? [o.host] : [o.host, ...model.slice(1)];
        } else {
          if (o.hosts.length === 0) m.removeHeader("Via");
          else m.setHeader("Via", o.hosts.map(via));
          model = o.hosts.slice();
        }
        assert.deepEqual(m.headers("Via"), model.map(via));
        assert.deepEqual(m.vias.map((v) => v.branch), model.map((h) => "z9hG4bK" + h));
      }
      if (model.length > 0) {
        assert.deepEqual(parseMessage(String(m)).headers("via"), model.map(via));
      }
    }),
    { numRuns: 300 },
  );
});

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const name of ["rfc4475", "rfc5118"]) {
    const dir = new URL(`../fixtures/${name}/`, import.meta.url);
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.endsWith(".dat")) out.push(Deno.readFileSync(new URL(entry.name, dir)));
    }
  }
  return out.sort((a, b) => a.length - b.length);
}

/** Parse and read everything; only SipParseError may escape, validateMessage never throws. */
function exercise(input: Uint8Array): void {
  let m: SipMessage;
  try {
    m = parseMessage(input);
  } catch (e) {
    if (e instanceof SipParseError) return;
    throw e;
  }
  validateMessage(m);
  const reads: (() => unknown)[] = [
    () => m.callId,
    () => m.cseq,
    () => m.from,
    () => m.to,
    () => m.vias.map((v) => [v.branch, v.rport, v.received, String(v)]),
    () => m.maxForwards,
    () => m.contacts.map((c) => [c.star, c.expires, c.q, String(c)]),
    () => m.routes.map(String),
    () => m.recordRoutes.map(String),
    () => m.contentType,
    () => (m.kind === "request" ? [String(m.uri), m.uri.user, m.uri.params] : m.status),
    () => m.headerNames().map((n) => [m.header(n), m.headers(n)]),
    () => String(m),
    () => m.clone().toBytes(),
  ];
  for (const read of reads) {
    try {
      read();
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.constantFrom(...'\r\n \t,;:<>"\\@[]%='.split("")).map((c) => new TextEncoder().encode(c)),
    ),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(input: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = input.slice();
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === "flip") {
      if (at < out.length) out[at] = m.byte;
    } else if (m.kind === "truncate") {
      out = out.slice(0, at);
    } else if (m.kind === "insert") {
      const next = new Uint8Array(out.length + m.bytes.length);
      next.set(out.subarray(0, at), 0);
      next.set(m.bytes, at);
      next.set(out.subarray(at), at + m.bytes.length);
      out = next;
    } else {
      out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + m.count)]);
    }
  }
  return out;
}

Deno.test("property: mutated corpus messages only ever throw SipParseError, in bounded time", () => {
  const messages = corpus();
  assert.ok(messages.length >= 60);
  let slowest = 0;
  fc.assert(
    fc.property(
      fc.nat(messages.length - 1),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      (i, ms) => {
        const input = mutate(messages[i]!, ms);
        const t0 = performance.now();
        exercise(input);
        const took = performance.now() - t0;
        slowest = Math.max(slowest, took);
        assert.ok(took < 250, `one input took ${took.toFixed(1)} ms`);
      },
    ),
    { numRuns: 3000 },
  );
  assert.ok(slowest < 250);
});

Deno.test("property: every corpus message and every truncation of it is handled", () => {
  for (const msg of corpus()) {
    exercise(msg);
    for (let n = 0; n < msg.length; n += 7) exercise(msg.subarray(0, n));
  }
});
