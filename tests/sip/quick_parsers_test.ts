// The shortcuts the message container takes for the common header shapes (SipVia.parseQuick,
// SipNameAddr.parseQuick, SipCSeq.parseQuick, SipUri.isSimpleValidCodes and the char-code
// grammar helpers) must accept only values the full grammar accepts, with the same result.
import { assert, fc } from "../test_deps.ts";
import { SipParseError } from "../../sip/errors.ts";
import {
  charCodesOf,
  isIpv4,
  isIpv4Codes,
  scanHostName,
  scanHostNameCodes,
} from "../../sip/grammar.ts";
import {
  parseContact,
  parseCSeq,
  parseNameAddr,
  parseVia,
  SipContact,
  SipCSeq,
  SipNameAddr,
  SipVia,
  splitHeaderValues,
} from "../../sip/header_parsers.ts";
import { SipUri } from "../../sip/uri.ts";
import { parseMessage } from "../../sip/parser.ts";
import type { SipRequestMessage } from "../../sip/message.ts";
import type { Via } from "../../sip/types.ts";

/** Strings over an alphabet that hits the edges of the shapes. */
function from(alphabet: string, maxLength: number): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...alphabet.split("")), { maxLength }).map((a) => a.join(""));
}

const hostArb = fc.oneof(
  { arbitrary: from("ab1-_.", 12), weight: 2 },
  {
    arbitrary: fc.constantFrom("example.com", "h", "pc33.atlanta.example.com", "x-1.y_2"),
    weight: 4,
  },
  fc.constantFrom("example.com", "pc33.atlanta.example.com", "a.b-1", "1.2.3.4", "1.2.3.256"),
  fc.constantFrom("10.0.0.1.", "a..b", ".a", "a.", "1a.2", "a.1", "007.0.0.1", "[::1]", "Host"),
  fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join(".")),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join(".")),
);
const portArb = fc.oneof(
  { arbitrary: fc.constant(""), weight: 3 },
  { arbitrary: fc.constantFrom(":5060", ":0", ":65535", ":65536", ":05060"), weight: 2 },
  fc.nat(70000).map((n) => `:${n}`),
  from("0123456789", 7).map((d) => `:${d}`),
  fc.constantFrom(": 5060", ":"),
);
const paramArb = fc.oneof(
  { arbitrary: fc.constantFrom(";branch=z9hG4bK1", ";rport", ";tag=1", ";lr", ";x=y"), weight: 4 },
  fc.constantFrom(
    ";branch=z9hG4bK776asdhds",
    ";branch=z9hG4bK-1",
    ";rport",
    ";rport=5060",
    ";rport=99999",
    ";rport=x",
    ";received=192.0.2.1",
    ";received=bad..host",
    ";received=[2001:db8::1]",
    ";maddr=239.255.255.1",
    ";ttl=16",
    ";ttl=300",
    ";ttl",
    ";branch",
    ';branch="q"',
    ";Branch=X",
    ";tag=1928301774",
    ";tag=a;tag=b",
    ";lr",
    ";x=",
    ";=x",
    "; x=1",
    ";x =1",
    ";x=[1]",
    ";x=a:b",
    ";x=a b",
    ";",
  ),
  fc.tuple(from("abcXY-.!%*_+`'~09", 6), from('abcXY09-.:[]%"', 6)).map(([n, v]) =>
    v === "" ? `;${n}` : `;${n}=${v}`
  ),
);
const paramsArb = fc.array(paramArb, { maxLength: 4 }).map((a) => a.join(""));

const viaArb = fc.tuple(
  fc.constantFrom("SIP/2.0/", "SIP/2.0/", "SIP/2.0/", "sip/2.0/", "SIP/2.1/", "SIP / 2.0 / "),
  fc.constantFrom("UDP", "TCP", "TLS", "WS", "WSS", "UDP", "TCP", "udp", "SCTP", "WSX", "UD"),
  fc.constantFrom(" ", " ", " ", " ", "  ", "\t", ""),
  hostArb,
  portArb,
  paramsArb,
  fc.constantFrom("", "", "", "", " ", ","),
).map((p) => p.join(""));

/** Both parses of `text` through `quick` and `full`: same value or same error message. */
function compare<T>(
  text: string,
  quick: (text: string, codes: ReturnType<typeof charCodesOf>, s: number, e: number) => T,
  full: (text: string) => T,
  same: (a: NonNullable<T>, b: T) => void,
): boolean {
  // Embed the value in a larger text, as the message container does.
  const outer = `X: ${text}\r\nY: z;a=b\r\n`;
  const codes = charCodesOf(outer);
  let q: T | undefined;
  let qError: string | undefined;
  try {
    q = quick(outer, codes, 3, 3 + text.length);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    qError = e.message;
  }
  if (q === undefined && qError === undefined) return false; // not of the common shape
  let f: T | undefined;
  let fError: string | undefined;
  try {
    f = full(text);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    fError = e.message;
  }
  assert.equal(qError, fError, `error for ${JSON.stringify(text)}`);
  if (q !== undefined) same(q as NonNullable<T>, f as T);
  return true;
}

Deno.test("quick Via: accepted values parse exactly as the full grammar does", () => {
  let hits = 0;
  fc.assert(
    fc.property(viaArb, (text) => {
      const took = compare(text, SipVia.parseQuick, parseVia, (q, f) => {
        const full = f as SipVia;
        assert.equal(q.protocol, full.protocol);
        assert.equal(q.transport, full.transport);
        assert.equal(q.host, full.host);
        assert.equal(q.port, full.port);
        assert.deepEqual([...q.params], [...full.params]);
        assert.equal(String(q), String(full));
        assert.equal(q.branch, full.branch);
        assert.equal(q.rport, full.rport);
      });
      if (took) hits++;
    }),
    { numRuns: 10000 },
  );
  assert.ok(hits > 200, `only ${hits} generated values took the shortcut`);
});

const displayArb = fc.oneof(
  { arbitrary: fc.constantFrom("", '"Alice" ', "Bob ", "Bob", '"A. B"'), weight: 4 },
  fc.constantFrom('"Alice" ', '"A <b>, c" ', '""', '"x\\"y" ', '"é" ', '"a\tb" ', '"open '),
  fc.constantFrom("Alice ", "Bob Smith ", "Bob  Smith ", "Alice", "A,B ", "sip ", "a:b "),
  from('ab "<\\ ', 6),
);
const userArb = fc.oneof(
  { arbitrary: fc.constantFrom("", "alice@", "bob@", "+15551234@"), weight: 4 },
  fc.constantFrom("alice@", "+1-555@", "a;b@", "a%20b@", "a:pw@", "@", "a?b@", "a/b@", "x,y@"),
  from("ab1;?=&+$-_.!~*'()", 5).map((u) => `${u}@`),
);
const uriParamArb = fc.array(
  fc.oneof(
    { arbitrary: fc.constantFrom(";lr", ";transport=udp"), weight: 3 },
    fc.constantFrom(";lr", ";transport=udp", ";maddr=1.2.3.4", ";x", ";=", ";a=", ";a=b=c"),
    from("ab1=[]/:&+$%-", 5).map((p) => `;${p}`),
  ),
  { maxLength: 3 },
).map((a) => a.join(""));
const nameAddrArb = fc.tuple(
  displayArb,
  fc.constantFrom("<", "<", "<", "<", "< ", ""),
  fc.constantFrom("sip:", "sip:", "sip:", "sip:", "sips:", "tel:", "SIP:"),
  userArb,
  hostArb,
  portArb,
  uriParamArb,
  fc.constantFrom(">", ">", ">", ">", " >", "", "?h=1>"),
  paramsArb,
  fc.constantFrom("", "", "", "", " ", ", <sip:b@h>"),
).map((p) => p.join(""));

Deno.test("quick name-addr: accepted values parse exactly as the full grammar does", () => {
  let hits = 0;
  fc.assert(
    fc.property(nameAddrArb, (text) => {
      const took = compare(text, SipNameAddr.parseQuick, parseNameAddr, (q, f) => {
        const full = f as SipNameAddr;
        assert.equal(q.displayName, full.displayName);
        assert.deepEqual([...q.params], [...full.params]);
        assert.equal(q.tag, full.tag);
        assert.equal(String(q.uri), String(full.uri));
        assert.equal(q.uri.host, full.uri.host);
        assert.equal(q.uri.user, full.uri.user);
        assert.equal(q.uri.port, full.uri.port);
        assert.deepEqual([...q.uri.params], [...full.uri.params]);
        assert.equal(String(q), String(full));
      });
      if (took) hits++;
    }),
    { numRuns: 10000 },
  );
  assert.ok(hits > 200, `only ${hits} generated values took the shortcut`);
});

Deno.test("quick Contact: accepted values parse exactly as the full grammar does", () => {
  const contactArb = fc.tuple(
    nameAddrArb,
    fc.constantFrom(
      "",
      "",
      ";q=0.5",
      ";q=1",
      ";q=2",
      ";q=0.1234",
      ";expires=3600",
      ";expires=x",
      ";q",
    ),
    fc.constantFrom("", "", ";expires=0", ";expires=99999999999", ";expires"),
  ).map((p) => p.join(""));
  let hits = 0;
  fc.assert(
    fc.property(fc.oneof(contactArb, fc.constant("*")), (text) => {
      const took = compare(text, SipContact.parseQuick, parseContact, (q, f) => {
        const full = f as SipContact;
        assert.equal(q.star, full.star);
        assert.equal(q.displayName, full.displayName);
        assert.deepEqual([...q.params], [...full.params]);
        assert.equal(q.q, full.q);
        assert.equal(q.expires, full.expires);
        assert.equal(String(q), String(full));
      });
      if (took) hits++;
    }),
    { numRuns: 10000 },
  );
  assert.ok(hits > 80, `only ${hits} generated values took the shortcut`);
});

Deno.test("quick CSeq: accepted values parse exactly as the full grammar does", () => {
  const cseqArb = fc.tuple(
    fc.oneof(from("0123456789", 12), fc.constantFrom("2147483647", "2147483648", "0")),
    fc.constantFrom(" ", " ", "  ", "\t", ""),
    fc.oneof(
      fc.constantFrom("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "FOO", "invite"),
      from("AB-!;, ", 5),
    ),
  ).map((p) => p.join(""));
  fc.assert(
    fc.property(cseqArb, (text) => {
      compare(text, SipCSeq.parseQuick, parseCSeq, (q, f) => {
        assert.equal(q.seq, (f as SipCSeq).seq);
        assert.equal(q.method, (f as SipCSeq).method);
      });
    }),
    { numRuns: 3000 },
  );
});

Deno.test("char-code grammar helpers answer as the string ones do", () => {
  const uriArb = fc.tuple(
    fc.constantFrom("sip:", "sips:", "sip", ""),
    userArb,
    hostArb,
    portArb,
    uriParamArb,
  ).map((p) => p.join(""));
  fc.assert(
    fc.property(uriArb, hostArb, (uri, host) => {
      const u = `<${uri}>`;
      const cu = charCodesOf(u);
      assert.equal(
        SipUri.isSimpleValidCodes(cu, 1, u.length - 1),
        SipUri.isSimpleValid(u, 1, u.length - 1),
        uri,
      );
      const ch = charCodesOf(host);
      assert.equal(scanHostNameCodes(ch, 0, host.length), scanHostName(host, 0, host.length));
      assert.equal(isIpv4Codes(ch, 0, host.length), isIpv4(host, 0, host.length));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("message: typed accessors read from the index equal the full parse of each value", () => {
  fc.assert(
    fc.property(viaArb, nameAddrArb, nameAddrArb, fc.boolean(), (via, from, to, asText) => {
      const text = `OPTIONS sip:b@h SIP/2.0\r\nVia: ${via}\r\nFrom: ${from}\r\nTo: ${to}\r\n` +
        "Call-ID: c1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
      const input = () => asText ? text : new TextEncoder().encode(text);
      let m: SipRequestMessage;
      let ref: SipRequestMessage;
      try {
        m = parseMessage(input()) as SipRequestMessage; // typed accessors from the index
        ref = parseMessage(input()) as SipRequestMessage; // raw values for the reference
      } catch (e) {
        if (e instanceof SipParseError) return; // e.g. a value with a line break
        throw e;
      }
      const show = <T>(read: () => T, text: (v: T) => string): string => {
        try {
          return text(read());
        } catch (e) {
          if (!(e instanceof SipParseError)) throw e;
          return `error: ${e.message}`;
        }
      };
      const na = (v: SipNameAddr) => `${v} ${v.tag} ${v.displayName} ${[...v.params]}`;
      const vias = (v: Via[]) => v.map((x) => `${x} ${x.branch} ${[...x.params]}`).join(" | ");
      const viaLine = ref.fields().find((f) => f.key === "via")!.value;
      const fromLine = ref.fields().find((f) => f.key === "from")!.value;
      const toLine = ref.fields().find((f) => f.key === "to")!.value;
      assert.equal(show(() => m.from as SipNameAddr, na), show(() => parseNameAddr(fromLine), na));
      assert.equal(show(() => m.to as SipNameAddr, na), show(() => parseNameAddr(toLine), na));
      assert.equal(
        show(() => m.vias, vias),
        // What the container did before it read the index: split a line with a comma.
        show(
          () =>
            viaLine.indexOf(",") < 0
              ? [parseVia(viaLine)]
              : splitHeaderValues(viaLine).map((v) => parseVia(v)),
          vias,
        ),
      );
      assert.equal(m.cseq.seq, 7);
      assert.equal(m.callId, "c1");
    }),
    { numRuns: 3000 },
  );
});
