import { assert, fc } from "../test_deps.ts";
import {
  canonicalHeaderName,
  headerKey,
  isKnownHeader,
  isMultiValued,
} from "../../sip/header_names.ts";

// RFC 3261 §7.3.3 and the extensions that define compact forms.
const COMPACT: [string, string][] = [
  ["a", "Accept-Contact"],
  ["b", "Referred-By"],
  ["c", "Content-Type"],
  ["d", "Request-Disposition"],
  ["e", "Content-Encoding"],
  ["f", "From"],
  ["i", "Call-ID"],
  ["j", "Reject-Contact"],
  ["k", "Supported"],
  ["l", "Content-Length"],
  ["m", "Contact"],
  ["n", "Identity-Info"],
  ["o", "Event"],
  ["r", "Refer-To"],
  ["s", "Subject"],
  ["t", "To"],
  ["u", "Allow-Events"],
  ["v", "Via"],
  ["x", "Session-Expires"],
  ["y", "Identity"],
];

Deno.test("canonicalHeaderName: compact forms expand (RFC 3261 §7.3.3), either case", () => {
  for (const [short, long] of COMPACT) {
    assert.equal(canonicalHeaderName(short), long, short);
    assert.equal(canonicalHeaderName(short.toUpperCase()), long, short.toUpperCase());
  }
});

Deno.test("canonicalHeaderName: known headers get their RFC spelling", () => {
  const cases: [string, string][] = [
    ["call-id", "Call-ID"],
    ["CALL-ID", "Call-ID"],
    ["cseq", "CSeq"],
    ["CSEQ", "CSeq"],
    ["www-authenticate", "WWW-Authenticate"],
    ["max-forwards", "Max-Forwards"],
    ["MaX-fOrWaRdS", "Max-Forwards"],
    ["rseq", "RSeq"],
    ["rack", "RAck"],
    ["min-se", "Min-SE"],
    ["mime-version", "MIME-Version"],
    ["sip-etag", "SIP-ETag"],
    ["sip-if-match", "SIP-If-Match"],
    ["p-asserted-identity", "P-Asserted-Identity"],
    ["record-route", "Record-Route"],
    ["content-id", "Content-ID"],
    ["Via", "Via"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalHeaderName(input), want, input);
});

Deno.test("canonicalHeaderName: unknown headers stay as written", () => {
  assert.equal(canonicalHeaderName("X-Custom-Thing"), "X-Custom-Thing");
  assert.equal(canonicalHeaderName("newfangledheader"), "newfangledheader");
  // RFC 4475 esc02: "C%6Fntact" is not Contact
  assert.equal(canonicalHeaderName("C%6Fntact"), "C%6Fntact");
  assert.equal(headerKey("C%6Fntact"), "c%6fntact");
  assert.equal(canonicalHeaderName("__proto__"), "__proto__");
  assert.equal(headerKey("__proto__"), "__proto__");
  assert.equal(headerKey("constructor"), "constructor");
  assert.equal(canonicalHeaderName("toString"), "toString");
  // "q" and "z" are not compact forms
  assert.equal(canonicalHeaderName("q"), "q");
  assert.equal(headerKey("Z"), "z");
});

Deno.test("headerKey: lower-case long form for any spelling", () => {
  assert.equal(headerKey("Via"), "via");
  assert.equal(headerKey("v"), "via");
  assert.equal(headerKey("V"), "via");
  assert.equal(headerKey("VIA"), "via");
  assert.equal(headerKey("vIa"), "via");
  assert.equal(headerKey("i"), "call-id");
  assert.equal(headerKey("Call-ID"), "call-id");
  assert.equal(headerKey("call-Id"), "call-id");
  assert.equal(headerKey("X-Foo"), "x-foo");
  for (const [short, long] of COMPACT) assert.equal(headerKey(short), long.toLowerCase());
});

Deno.test("isMultiValued: list headers (RFC 3261 §7.3.1)", () => {
  const multi = [
    "Via",
    "Contact",
    "Route",
    "Record-Route",
    "Path",
    "Service-Route",
    "Allow",
    "Allow-Events",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Content-Encoding",
    "Content-Language",
    "Alert-Info",
    "Call-Info",
    "Error-Info",
    "In-Reply-To",
    "Warning",
    "Reason",
    "Security-Client",
    "Security-Server",
    "Security-Verify",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "History-Info",
    "v",
    "m",
    "k",
    "u",
  ];
  for (const name of multi) assert.ok(isMultiValued(headerKey(name)), name);
});

Deno.test("isMultiValued: single-valued, auth and unknown headers are not split", () => {
  const single = [
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Date",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Expires",
    "Subject",
    "Authorization",
    "Proxy-Authorization",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Authentication-Info",
    "Event",
    "Subscription-State",
    "Refer-To",
    "Session-Expires",
    "Min-SE",
    "RSeq",
    "RAck",
    "User-Agent",
    "Server",
    "X-Unknown",
    "UnknownHeaderWithUnusualValue",
    "f",
    "t",
    "i",
  ];
  for (const name of single) assert.ok(!isMultiValued(headerKey(name)), name);
});

Deno.test("isKnownHeader", () => {
  assert.ok(isKnownHeader("via"));
  assert.ok(isKnownHeader("m"));
  assert.ok(isKnownHeader("WWW-AUTHENTICATE"));
  assert.ok(!isKnownHeader("X-Foo"));
  assert.ok(!isKnownHeader("hasOwnProperty"));
});

Deno.test("property: headerKey is case-insensitive and idempotent", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 30 }), (name) => {
      const k = headerKey(name);
      assert.equal(headerKey(name.toUpperCase()), headerKey(name.toLowerCase()));
      assert.equal(headerKey(k), k);
      assert.equal(headerKey(canonicalHeaderName(name)), k);
    }),
    { numRuns: 1000 },
  );
});
