import { assert, fc } from "../test_deps.ts";
import { SipParseError } from "../../sip/errors.ts";
import { parseUri } from "../../sip/uri.ts";
import { headerKey, isMultiValued } from "../../sip/header_names.ts";
import {
  formatParams,
  parseAuthHeader,
  parseContact,
  parseContentType,
  parseCSeq,
  parseEvent,
  parseExpires,
  parseMinSE,
  parseNameAddr,
  parseRAck,
  parseReason,
  parseReferTo,
  parseRSeq,
  parseSessionExpires,
  parseSubscriptionState,
  parseTokenList,
  parseVia,
  quoteString,
  SipAuthHeader,
  SipContact,
  SipContentType,
  SipCSeq,
  SipNameAddr,
  SipVia,
  splitHeaderValues,
  unquoteString,
} from "../../sip/header_parsers.ts";

function throwsParse(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SipParseError, `expected SipParseError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

// ---------------------------------------------------------------- quoted strings

Deno.test("quoteString / unquoteString: escapes round-trip", () => {
  assert.equal(quoteString("plain"), '"plain"');
  assert.equal(quoteString('J "Jo" \\ Doe'), '"J \\"Jo\\" \\\\ Doe"');
  assert.equal(quoteString(""), '""');
  assert.equal(quoteString("a\u0000b\u007f"), '"a\\\u0000b\\\u007f"');
  assert.equal(unquoteString('"J \\"Jo\\" \\\\ Doe"'), 'J "Jo" \\ Doe');
  assert.equal(unquoteString('  "x"  '), "x");
  assert.equal(unquoteString("token"), "token");
  assert.equal(unquoteString('"a\r\n b"'), "a b");
  for (const s of ["", "a", '"', "\\", '\\"', "日本語", "tab\there", "\u0001\u001f"]) {
    assert.equal(unquoteString(quoteString(s)), s);
  }
  throwsParse(() => quoteString("a\r\nb"), /cannot contain CR or LF/);
  throwsParse(() => unquoteString('"abc'), /Unterminated quoted string/);
  throwsParse(() => unquoteString('"abc\\"'), /Unterminated quoted string/);
  throwsParse(() => unquoteString('"a" b'), /after the closing quote/);
  throwsParse(() => unquoteString('"a\u0000"'), /control character 0x0/);
});

// ---------------------------------------------------------------- splitHeaderValues

Deno.test("splitHeaderValues: top-level commas only (RFC 3261 §7.3.1)", () => {
  assert.deepEqual(splitHeaderValues("a, b ,c"), ["a", "b", "c"]);
  assert.deepEqual(
    splitHeaderValues('"Doe, J" <sip:j@x.com>, <sip:k@y.com;a=b,c>'),
    ['"Doe, J" <sip:j@x.com>', "<sip:k@y.com;a=b,c>"],
  );
  assert.deepEqual(
    splitHeaderValues('"a \\", b" <sip:a@b>, <sip:c@d>'),
    ['"a \\", b" <sip:a@b>', "<sip:c@d>"],
  );
  assert.deepEqual(splitHeaderValues("single"), ["single"]);
  assert.deepEqual(splitHeaderValues("  padded \r\n "), ["padded"]);
  assert.deepEqual(splitHeaderValues(""), []);
  assert.deepEqual(splitHeaderValues(" , ,, "), []);
  assert.deepEqual(splitHeaderValues("a,,b"), ["a", "b"]);
});

// RFC 4475 §3.1.1.1 (wsinv): the folded Via with two values, and §3.1.1.10 Accept list.
Deno.test("splitHeaderValues: RFC 4475 wsinv folded Via and semiuri Accept", () => {
  const via = "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n" +
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239";
  const parts = splitHeaderValues(via);
  assert.equal(parts.length, 2);
  assert.equal(parseVia(parts[0] ?? "").branch, "z9hG4bK9ikj8");
  assert.equal(parseVia(parts[1] ?? "").branch, "z9hG4bK30239");
  assert.deepEqual(
    splitHeaderValues(
      "application/sdp, application/pkcs7-mime,\r\n        multipart/mixed, multipart/signed,\r\n" +
        "        message/sip, message/sipfrag",
    ),
    [
      "application/sdp",
      "application/pkcs7-mime",
      "multipart/mixed",
      "multipart/signed",
      "message/sip",
      "message/sipfrag",
    ],
  );
});

Deno.test("splitHeaderValues: unbalanced input throws", () => {
  throwsParse(() => splitHeaderValues('"open, <sip:a@b>'), /Unterminated quoted string/);
  throwsParse(() => splitHeaderValues("<sip:a@b, <sip:c@d>"), /Unbalanced '<'/);
});

// ---------------------------------------------------------------- name-addr

Deno.test("parseNameAddr: name-addr with quoted display name and tag", () => {
  const a = parseNameAddr('"Alice" <sip:alice@atlanta.com>;tag=1928301774');
  assert.equal(a.displayName, "Alice");
  assert.equal(a.uri.user, "alice");
  assert.equal(a.uri.host, "atlanta.com");
  assert.equal(a.tag, "1928301774");
  assert.deepEqual([...a.params], [["tag", "1928301774"]]);
  assert.equal(String(a), '"Alice" <sip:alice@atlanta.com>;tag=1928301774');
});

Deno.test("parseNameAddr: addr-spec and name-addr without display name", () => {
  const a = parseNameAddr("sip:bob@biloxi.com");
  assert.equal(a.displayName, undefined);
  assert.equal(String(a.uri), "sip:bob@biloxi.com");
  assert.equal(a.tag, undefined);
  const b = parseNameAddr("<sip:bob@biloxi.com;transport=tcp>;tag=x");
  assert.equal(b.uri.params.get("transport"), "tcp");
  assert.equal(b.tag, "x");
  assert.equal(parseNameAddr('"" <sip:a@b.com>').displayName, "");
});

// RFC 4475 §3.1.1.1 (wsinv): escaped quotes in the display name, LWS around ';' and '='.
Deno.test("parseNameAddr: RFC 4475 wsinv To and From", () => {
  const to = parseNameAddr("\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
  assert.equal(to.uri.user, "vivekg");
  assert.equal(to.tag, "1918181833n");
  assert.equal(to.uri.params.size, 0);
  const from = parseNameAddr(
    '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8',
  );
  assert.equal(from.displayName, 'J Rosenberg \\"');
  assert.equal(from.tag, "98asjd8");
  const back = parseNameAddr(String(from));
  assert.equal(back.displayName, from.displayName);
  assert.equal(back.tag, "98asjd8");
});

// RFC 4475 §3.1.1.2 (intmeth): token display names, unusual param names and values, NUL.
Deno.test("parseNameAddr: RFC 4475 intmeth From and To", () => {
  const from = parseNameAddr(
    "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=" +
      '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439";tag=_token~1\'+`*%!-.',
  );
  assert.equal(from.displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(from.tag, "_token~1'+`*%!-.");
  assert.equal(
    from.params.get("fromparam''~+*_!.-%"),
    '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"',
  );
  const to = parseNameAddr(
    '"BEL:\\\u0007 NUL:\\\u0000 DEL:\\\u007f" ' +
      "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>",
  );
  assert.equal(to.displayName, "BEL:\u0007 NUL:\u0000 DEL:\u007f");
  assert.equal(to.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  const back = parseNameAddr(String(to));
  assert.equal(back.displayName, to.displayName);
});

// RFC 4475 §3.1.1.6 (lwsdisp): "caller<sip:...>" with no LWS before '<' is legal.
Deno.test("parseNameAddr: RFC 4475 lwsdisp display name touching '<'", () => {
  const a = parseNameAddr("caller<sip:caller@example.com>;tag=323");
  assert.equal(a.displayName, "caller");
  assert.equal(a.uri.user, "caller");
  assert.equal(a.tag, "323");
  const b = parseNameAddr("Bob \r\n Smith <sip:bob@b.com>");
  assert.equal(b.displayName, "Bob Smith");
});

// RFC 4475 §3.1.1.12 and RFC 3261 §20: in an addr-spec, params are header params.
Deno.test("parseNameAddr: addr-spec params are header params (RFC 3261 §20)", () => {
  const a = parseNameAddr("sip:+19725552222@gw1.example.net;unknownparam;tag=5");
  assert.equal(a.uri.params.size, 0);
  assert.deepEqual([...a.params], [["unknownparam", null], ["tag", "5"]]);
  assert.equal(a.tag, "5");
  const b = parseNameAddr("<sip:+19725552222@gw1.example.net;unknownparam>");
  assert.equal(b.uri.params.get("unknownparam"), null);
  assert.equal(b.params.size, 0);
  const c = parseNameAddr("tel:+1234;phone-context=x");
  assert.equal(c.uri.scheme, "tel");
  assert.equal(c.params.get("phone-context"), "x");
});

// RFC 4475 §3.3.3 (unksm2): non-SIP schemes in To/From/Contact parse.
Deno.test("parseNameAddr: RFC 4475 unksm2 non-SIP URIs", () => {
  const to = parseNameAddr("isbn:2983792873");
  assert.equal(to.uri.scheme, "isbn");
  assert.equal(to.uri.opaque, "2983792873");
  const from = parseNameAddr("<http://www.example.com>;tag=3234233");
  assert.equal(from.uri.scheme, "http");
  assert.equal(from.tag, "3234233");
  assert.equal(parseContact("<name:John_Smith>").uri.opaque, "John_Smith");
});

// RFC 4475 §3.1.2.4 (quotbal), §3.1.2.16 (badaspec), §3.1.2.17 (baddn), §3.1.2.10 (regbadct).
Deno.test("parseNameAddr: RFC 4475 invalid addresses are rejected with a reason", () => {
  throwsParse(
    () => parseNameAddr('"Mr. J. User <sip:j.user@example.com>'),
    /Unterminated quoted string/,
  );
  throwsParse(
    () => parseNameAddr('"Watson, Thomas" < sip:t.watson@example.org >'),
    /White space inside '<\.\.\.>'/,
  );
  throwsParse(
    () => parseNameAddr("Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
    /Invalid character ',' in an unquoted display name/,
  );
  throwsParse(
    () => parseContact("sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
    /'\?' headers must be enclosed in '<\.\.\.>'/,
  );
});

Deno.test("parseNameAddr: other bad input", () => {
  throwsParse(() => parseNameAddr(""), /Empty address value/);
  throwsParse(() => parseNameAddr("   "), /Empty address value/);
  throwsParse(() => parseNameAddr("<sip:a@b.com"), /missing '>'/);
  throwsParse(() => parseNameAddr("<>"), /Empty '<>'/);
  throwsParse(() => parseNameAddr('"Bob" sip:a@b.com'), /Expected '<' after the display name/);
  throwsParse(() => parseNameAddr("Bob"), /Expected a URI/);
  throwsParse(() => parseNameAddr("<sip:a@b.com> junk"), /Unexpected 'j'/);
  throwsParse(() => parseNameAddr("<sip:a@b.com>;;tag=1"), /Empty parameter/);
  throwsParse(() => parseNameAddr("<sip:a@b.com>;tag="), /has an empty value/);
  throwsParse(() => parseNameAddr("<sip:a@b.com>;tag=a@b"), /Unexpected '@'/);
  throwsParse(() => parseNameAddr("<sip:a@b.com>;=x"), /Invalid character '='/);
  throwsParse(() => parseNameAddr('<sip:a@b.com>;tag="x'), /Unterminated quoted string/);
  throwsParse(() => parseNameAddr("<sip:a b.com>"), /Invalid host/);
  throwsParse(() => parseNameAddr("<sip:a@b.com:99999>"), /port out of range/);
  throwsParse(() => parseNameAddr("sip:a@b.com, sip:c@d.com"), /Unexpected ','/);
});

Deno.test("parseNameAddr: in place with offsets", () => {
  const line = "From: Alice <sip:alice@a.com>;tag=9\r\n";
  const a = parseNameAddr(line, 6, line.length - 2);
  assert.equal(a.displayName, "Alice");
  assert.equal(a.tag, "9");
  throwsParse(() => parseNameAddr(line, 6, 12), /Expected a URI .* in address: "Alice"/);
});

Deno.test("SipNameAddr: build, mutate, serialize, clone", () => {
  const to = new SipNameAddr({ displayName: 'Bob "B"', uri: "sip:bob@biloxi.com" });
  assert.equal(String(to), '"Bob \\"B\\"" <sip:bob@biloxi.com>');
  to.params.set("tag", "a6c85cf");
  assert.equal(to.tag, "a6c85cf");
  assert.equal(String(to), '"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a6c85cf');
  to.params.set("x", "needs quoting");
  assert.equal(String(to), '"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a6c85cf;x="needs quoting"');
  const copy = to.clone();
  copy.params.delete("x");
  copy.uri.user = "carol";
  assert.equal(to.params.has("x"), true);
  assert.equal(to.uri.user, "bob");
  const parsed = parseNameAddr("<sip:a@b.com>;tag=1;lr");
  parsed.params = new Map([["tag", "2"]]);
  assert.equal(String(parsed), "<sip:a@b.com>;tag=2");
  const withUri = new SipNameAddr({ uri: parseUri("sip:x@y.com"), params: { TAG: "t" } });
  assert.equal(withUri.tag, "t");
  assert.equal(withUri.param("tag"), "t");
  assert.equal(withUri.param("none"), undefined);
  throwsParse(() => new SipNameAddr({ uri: "not a uri" }), /scheme/);
});

// RFC 4475 §3.1.1.7 (longreq): very long names and params are kept without truncation.
Deno.test("parseNameAddr: RFC 4475 longreq very long values", () => {
  const name = "I have a user name of " + "extreme".repeat(10) + " proportion";
  const longParam = "longparamname" + "name".repeat(25);
  const a = parseNameAddr(
    `"${name}"<sip:user@example.com:6000;unknownparam1=very${"long".repeat(20)}value;` +
      `${longParam}=shortvalue;verylong${"long".repeat(25)}ParameterNameWithNoValue>`,
  );
  assert.equal(a.displayName, name);
  assert.equal(a.uri.port, 6000);
  assert.equal(a.uri.params.get(longParam), "shortvalue");
  assert.equal(
    a.uri.params.get(`verylong${"long".repeat(25)}ParameterNameWithNoValue`.toLowerCase()),
    null,
  );
  const tag = "12982".repeat(40);
  assert.equal(parseNameAddr(`<sip:a@b.com>;tag=${tag}`).tag, tag);
});

// ---------------------------------------------------------------- Contact

Deno.test("parseContact: star, expires and q (RFC 3261 §20.10)", () => {
  const star = parseContact(" * ");
  assert.equal(star.star, true);
  assert.equal(String(star), "*");
  const c = parseContact(
    '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600',
  );
  assert.equal(c.star, false);
  assert.equal(c.displayName, "Mr. Watson");
  assert.equal(c.q, 0.7);
  assert.equal(c.expires, 3600);
  assert.equal(parseContact("<sip:a@b.com>;q=1").q, 1);
  assert.equal(parseContact("<sip:a@b.com>;q=1.000").q, 1);
  assert.equal(parseContact("<sip:a@b.com>;q=0").q, 0);
  assert.equal(parseContact("<sip:a@b.com>;q=0.").q, 0);
  assert.equal(parseContact("<sip:a@b.com>").q, undefined);
  assert.equal(parseContact("<sip:a@b.com>").expires, undefined);
  assert.equal(parseContact("<sip:a@b.com>;expires=0").expires, 0);
  // expires inside <> is a URI parameter, not the contact's
  assert.equal(parseContact("<sip:a@b.com;expires=60>").expires, undefined);
  assert.equal(parseContact("sip:a@b.com;expires=60").expires, 60);
});

// RFC 4475 §3.1.2.9 (scalar02): huge expires values are clamped, not rejected.
Deno.test("parseContact: RFC 4475 scalar02 huge expires clamps to 2**32-1", () => {
  const c = parseContact("<sip:user@host129.example.com>\r\n  ;expires=280297596632815");
  assert.equal(c.expires, 4294967295);
});

Deno.test("parseContact: invalid q and expires", () => {
  throwsParse(() => parseContact("<sip:a@b.com>;q=1.5"), /Invalid q value "1.5"/);
  throwsParse(() => parseContact("<sip:a@b.com>;q=2"), /Invalid q value/);
  throwsParse(() => parseContact("<sip:a@b.com>;q=0.1234"), /Invalid q value/);
  throwsParse(() => parseContact("<sip:a@b.com>;q=1.001"), /Invalid q value/);
  throwsParse(() => parseContact("<sip:a@b.com>;q=-1"), /Invalid q value/);
  throwsParse(() => parseContact("<sip:a@b.com>;q"), /Invalid q value ""/);
  throwsParse(() => parseContact("<sip:a@b.com>;expires=soon"), /Invalid expires value/);
  throwsParse(() => parseContact("<sip:a@b.com>;expires"), /Invalid expires value/);
  // RFC 4475 §3.1.2.1 (badinv01): empty contact params
  throwsParse(() => parseContact('"Joe" <sip:joe@example.org>;;;;'), /Empty parameter in Contact/);
  throwsParse(() => parseContact("**"), /Expected a URI|unquoted display name/);
});

// RFC 4475 §3.1.1.1 (wsinv), §3.3.15 (cparam01/02), §3.1.2.11 (regescrt).
Deno.test("parseContact: RFC 4475 wsinv, cparam01, cparam02, regescrt", () => {
  const w = parseContact(
    '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n' +
      "  secondparam ; q = 0.33",
  );
  assert.equal(w.displayName, 'Quoted string ""');
  assert.equal(w.params.get("newparam"), "newvalue");
  assert.equal(w.params.get("secondparam"), null);
  assert.equal(w.q, 0.33);
  const c1 = parseContact("sip:+19725552222@gw1.example.net;unknownparam");
  assert.equal(c1.uri.params.has("unknownparam"), false);
  assert.equal(c1.params.has("unknownparam"), true);
  const c2 = parseContact("<sip:+19725552222@gw1.example.net;unknownparam>");
  assert.equal(c2.uri.params.has("unknownparam"), true);
  assert.equal(c2.params.has("unknownparam"), false);
  const r = parseContact("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
  assert.equal(r.uri.headers.get("Route"), "<sip:sip.example.com>");
  assert.equal(String(r), "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
});

Deno.test("SipContact: build and clone", () => {
  const c = new SipContact({ uri: "sip:alice@192.0.2.4", params: { expires: "3600", q: "0.5" } });
  assert.equal(c.expires, 3600);
  assert.equal(c.q, 0.5);
  assert.equal(String(c), "<sip:alice@192.0.2.4>;expires=3600;q=0.5");
  const k = c.clone();
  k.params.set("expires", "0");
  assert.equal(c.expires, 3600);
  assert.equal(k.expires, 0);
  assert.ok(k instanceof SipContact);
  assert.equal(String(new SipContact({ star: true }).clone()), "*");
});

// ---------------------------------------------------------------- Via

Deno.test("parseVia: fields, rport flag and value, received, maddr, ttl (RFC 3261 §20.42)", () => {
  const v = parseVia("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport");
  assert.equal(v.protocol, "SIP/2.0");
  assert.equal(v.transport, "UDP");
  assert.equal(v.host, "pc33.atlanta.com");
  assert.equal(v.port, 5066);
  assert.equal(v.branch, "z9hG4bK776asdhds");
  assert.equal(v.rport, true);
  assert.equal(v.received, undefined);
  const w = parseVia(
    "SIP/2.0/tcp 10.0.0.1;received=192.0.2.1;rport=5070;maddr=224.2.0.1;ttl=16;BRANCH=z9hG4bKx",
  );
  assert.equal(w.transport, "TCP");
  assert.equal(w.port, undefined);
  assert.equal(w.received, "192.0.2.1");
  assert.equal(w.rport, 5070);
  assert.equal(w.maddr, "224.2.0.1");
  assert.equal(w.ttl, 16);
  assert.equal(w.branch, "z9hG4bKx");
  assert.equal(
    String(w),
    "SIP/2.0/TCP 10.0.0.1;received=192.0.2.1;rport=5070;maddr=224.2.0.1;ttl=16;branch=z9hG4bKx",
  );
});

// RFC 4475 §3.1.1.1 (wsinv): LWS around the slashes, folded lines.
Deno.test("parseVia: RFC 4475 wsinv LWS around separators", () => {
  const a = parseVia("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
  assert.equal(a.protocol, "SIP/2.0");
  assert.equal(a.transport, "UDP");
  assert.equal(a.host, "192.0.2.2");
  assert.equal(a.branch, "390skdjuw");
  const b = parseVia("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
  assert.equal(b.branch, "z9hG4bK30239");
  assert.equal(String(b), "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239");
  const c = parseVia("SIP/2.0/UDP host.example.com : 5060 ;branch=z9hG4bK1");
  assert.equal(c.port, 5060);
});

// RFC 4475 §3.1.1.11 (transports), §3.1.1.2 (intmeth) and §3.1.1.5 (esc02) branches.
Deno.test("parseVia: RFC 4475 transports and unusual branch tokens", () => {
  for (const t of ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP", "WS", "WSS"]) {
    assert.equal(parseVia(`SIP/2.0/${t} t1.example.com;branch=z9hG4bKkdjuw`).transport, t);
  }
  assert.equal(parseVia("SIP/2.0/ws t.example.com").transport, "WS");
  assert.equal(
    parseVia("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~").branch,
    "z9hG4bK-.!%66*_+`'~",
  );
  assert.equal(
    parseVia("SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234").branch,
    "z9hG4bK209%fzsnel234",
  );
  // RFC 4475 §3.3.14 (bcast) and §3.3.8 (badbranch: the cookie alone parses)
  assert.equal(
    parseVia("SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23").host,
    "255.255.255.255",
  );
  assert.equal(parseVia("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").branch, "z9hG4bK");
  // RFC 4475 §3.1.1.13 (inv2543): no branch at all
  assert.equal(parseVia("SIP/2.0/UDP iftgw.example.com").branch, undefined);
});

// RFC 5118 §4.1, §4.5, §4.9, §4.10: IPv6 sent-by and received with and without brackets.
Deno.test("parseVia: RFC 5118 IPv6 sent-by and received", () => {
  const a = parseVia("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111");
  assert.equal(a.host, "[2001:db8::9:1]");
  assert.equal(a.port, 6050);
  const b = parseVia(
    "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
  );
  assert.equal(b.received, "[2001:db8::9:255]");
  const c = parseVia("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
  assert.equal(c.received, "2001:db8::9:255");
  assert.equal(c.port, undefined);
  const d = parseVia("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19");
  assert.equal(d.host, "[::ffff:192.0.2.10]");
  assert.equal(d.port, 19823);
  const e = parseVia("SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200");
  assert.equal(e.received, "192.0.2.200");
  throwsParse(() => parseVia("SIP/2.0/UDP [2001:db8::9:1;branch=x"), /Unbalanced '\['/);
  throwsParse(() => parseVia("SIP/2.0/UDP [2001:db8:::1]"), /Invalid IPv6 reference/);
  throwsParse(() => parseVia("SIP/2.0/UDP 2001:db8::1"), /Invalid host "2001:db8::1" in Via/);
});

// RFC 4475 §3.1.2.1 (badinv01): "SIP/2.0/UDP 192.0.2.15;;,;,," must be rejected.
Deno.test("parseVia: RFC 4475 badinv01 empty params and other bad Vias", () => {
  throwsParse(() => parseVia("SIP/2.0/UDP 192.0.2.15;;"), /Empty parameter in Via/);
  throwsParse(() => parseVia(";"), /Via must start with a protocol name/);
  throwsParse(() => parseVia(""), /Via must start with a protocol name/);
  throwsParse(() => parseVia("SIP 2.0/UDP h"), /Expected '\/' after the protocol name/);
  throwsParse(() => parseVia("SIP//UDP h"), /Missing protocol version/);
  throwsParse(() => parseVia("SIP/2.0 UDP h"), /Expected '\/' before the transport/);
  throwsParse(() => parseVia("SIP/2.0/ h"), /Missing transport/);
  throwsParse(
    () => parseVia("SIP/2.0/UDPh"),
    /Expected white space before the Via sent-by|Missing transport/,
  );
  throwsParse(() => parseVia("SIP/2.0/UDP"), /Expected white space before the Via sent-by/);
  throwsParse(() => parseVia("SIP/2.0/UDP ;branch=1"), /Missing host in Via/);
  throwsParse(() => parseVia("SIP/2.0/UDP a..b"), /Invalid host "a\.\.b" in Via/);
  throwsParse(() => parseVia("SIP/2.0/UDP ho$t"), /Invalid host "ho\$t" in Via/);
  throwsParse(() => parseVia("SIP/2.0/UDP h:"), /Missing or invalid port/);
  throwsParse(() => parseVia("SIP/2.0/UDP h:70000"), /Via port out of range/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;branch"), /branch parameter must be a token/);
  throwsParse(
    () => parseVia('SIP/2.0/UDP h;branch="z9hG4bK1"'),
    /branch parameter must be a token/,
  );
  throwsParse(() => parseVia("SIP/2.0/UDP h;ttl=256"), /Via ttl out of range/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;ttl"), /ttl parameter needs a value/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;rport=x"), /Via rport must be digits/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;rport=65536"), /Via rport out of range/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;received=not_an$ip"), /Unexpected '\$'/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;received=a..b"), /Invalid Via received parameter/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;maddr"), /Invalid Via maddr parameter/);
  throwsParse(() => parseVia("SIP/2.0/UDP h, SIP/2.0/UDP i"), /Invalid host "h," in Via/);
  throwsParse(() => parseVia("SIP/2.0/UDP h;a=1, SIP/2.0/UDP i"), /Unexpected ','/);
  throwsParse(() => parseVia("SIP/2.0/UDP h x"), /Unexpected 'x' in Via/);
});

Deno.test("SipVia: build, mutate, clone", () => {
  const via = new SipVia({ transport: "udp", host: "192.0.2.1", port: 5060 });
  via.params.set("branch", "z9hG4bK74bf9").set("rport", null);
  assert.equal(String(via), "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport");
  const parsed = parseVia(String(via));
  parsed.params.set("received", "203.0.113.9");
  parsed.params.set("rport", "41234");
  assert.equal(
    String(parsed),
    "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport=41234;received=203.0.113.9",
  );
  assert.equal(parsed.rport, 41234);
  const v6 = new SipVia({
    transport: "TCP",
    host: "2001:db8::1",
    params: [["branch", "z9hG4bK1"]],
  });
  assert.equal(String(v6), "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK1");
  const c = v6.clone();
  c.params.delete("branch");
  assert.equal(v6.branch, "z9hG4bK1");
  assert.equal(c.branch, undefined);
});

Deno.test("parseVia: in place with offsets", () => {
  const line = "Via: SIP/2.0/UDP a.com;branch=z9hG4bK1\r\n";
  const v = parseVia(line, 5, line.length - 2);
  assert.equal(v.branch, "z9hG4bK1");
  throwsParse(() => parseVia(line, 5, 17), /Expected white space before the Via sent-by/);
});

// RFC 4475 §3.1.1.7 (longreq): 34 Via values across lines all parse.
Deno.test("parseVia: many values split from one header", () => {
  const values = Array.from(
    { length: 34 },
    (_, i) => `SIP/2.0/TCP sip${i}.example.com;branch=z9hG4bK${i}`,
  );
  const parsed = splitHeaderValues(values.join(", ")).map((v) => parseVia(v));
  assert.equal(parsed.length, 34);
  assert.equal(parsed[33]?.branch, "z9hG4bK33");
});

// ---------------------------------------------------------------- CSeq

Deno.test("parseCSeq: number and method (RFC 3261 §20.16, §8.1.1.5)", () => {
  const c = parseCSeq("4711 INVITE");
  assert.ok(c instanceof SipCSeq);
  assert.equal(c.seq, 4711);
  assert.equal(c.method, "INVITE");
  assert.equal(String(c), "4711 INVITE");
  // RFC 4475 wsinv: leading zeros and a folded line
  assert.deepEqual({ ...parseCSeq("0009\r\n  INVITE") }, { seq: 9, method: "INVITE" });
  // RFC 4475 intmeth: unusual method token, case kept
  assert.equal(
    parseCSeq("139122385 !interesting-Method0123456789_*+`.%indeed'~").method,
    "!interesting-Method0123456789_*+`.%indeed'~",
  );
  assert.equal(parseCSeq("1 invite").method, "invite");
  assert.equal(parseCSeq("2147483647 ACK").seq, 2147483647);
  assert.equal(parseCSeq("0 ACK").seq, 0);
  const line = "CSeq: 7 BYE\r\n";
  assert.equal(parseCSeq(line, 6, line.length - 2).method, "BYE");
});

// RFC 4475 §3.1.2.9 (scalar02) and §3.1.2.10 (scalarlg): CSeq too large.
Deno.test("parseCSeq: out of range and malformed values are rejected", () => {
  throwsParse(() => parseCSeq("36893488147419103232 REGISTER"), /CSeq number out of range/);
  throwsParse(() => parseCSeq("9292394834772304023312 OPTIONS"), /CSeq number out of range/);
  throwsParse(() => parseCSeq("2147483648 INVITE"), /CSeq number out of range/);
  throwsParse(() => parseCSeq("INVITE"), /must start with a number/);
  throwsParse(() => parseCSeq("-1 INVITE"), /must start with a number/);
  throwsParse(() => parseCSeq("12INVITE"), /CSeq number must be digits|white space/);
  throwsParse(() => parseCSeq("12"), /Expected white space after the CSeq number/);
  throwsParse(() => parseCSeq("12 "), /Expected white space|Missing method/);
  throwsParse(() => parseCSeq("12 INVITE BYE"), /Unexpected 'B' in CSeq/);
  throwsParse(() => parseCSeq("12 IN<VITE"), /Unexpected '<' in CSeq/);
});

// ---------------------------------------------------------------- auth

Deno.test("parseAuthHeader: Digest challenge and credentials (RFC 3261 §20.7, §20.44)", () => {
  const ch = parseAuthHeader(
    'Digest realm="atlanta.com",\r\n domain="sip:boxesbybob.com", qop="auth,auth-int",\r\n' +
      ' nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
  );
  assert.equal(ch.scheme, "Digest");
  assert.equal(ch.params.get("realm"), "atlanta.com");
  assert.equal(ch.params.get("qop"), "auth,auth-int");
  assert.equal(ch.params.get("opaque"), "");
  assert.equal(ch.params.get("stale"), "FALSE");
  assert.equal(ch.params.get("algorithm"), "MD5");
  const back = parseAuthHeader(String(ch));
  assert.deepEqual([...back.params], [...ch.params]);
  assert.ok(String(ch).includes('qop="auth,auth-int"'));
  assert.ok(String(ch).includes("algorithm=MD5"));
  const cr = parseAuthHeader(
    'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",' +
      ' uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",' +
      ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
  );
  assert.equal(cr.params.get("username"), "bob");
  assert.equal(cr.params.get("uri"), "sip:bob@biloxi.com");
  assert.equal(cr.params.get("nc"), "00000001");
  assert.equal(cr.params.get("qop"), "auth");
  assert.ok(String(cr).includes("qop=auth,"));
});

Deno.test("parseAuthHeader: escapes, commas in quotes, unknown schemes, token68", () => {
  const a = parseAuthHeader('Digest username="a\\"b,c", realm = "r"');
  assert.equal(a.params.get("username"), 'a"b,c');
  assert.equal(a.params.get("realm"), "r");
  // RFC 4475 §3.3.12 (regaut01)
  const u = parseAuthHeader("NoOneKnowsThisScheme opaque-data=here");
  assert.equal(u.scheme, "NoOneKnowsThisScheme");
  assert.equal(u.params.get("opaque-data"), "here");
  const b = parseAuthHeader("Bearer eyJhbGciOi.eyJzdWIi.SflKxwRJ==");
  assert.equal(b.token68, "eyJhbGciOi.eyJzdWIi.SflKxwRJ==");
  assert.equal(b.params.size, 0);
  assert.equal(String(b), "Bearer eyJhbGciOi.eyJzdWIi.SflKxwRJ==");
  assert.equal(parseAuthHeader("Basic").params.size, 0);
  assert.equal(parseAuthHeader("Digest a=1,,b=2").params.get("b"), "2");
});

Deno.test("parseAuthHeader: bad input", () => {
  throwsParse(() => parseAuthHeader(""), /Missing authentication scheme/);
  throwsParse(() => parseAuthHeader('"Digest"'), /Missing authentication scheme/);
  throwsParse(() => parseAuthHeader('Digest realm="x'), /Unterminated quoted string/);
  throwsParse(() => parseAuthHeader("Digest realm, nonce=1"), /has no '=' value/);
  throwsParse(() => parseAuthHeader("Digest realm=, nonce=1"), /has an empty value/);
  throwsParse(() => parseAuthHeader('Digest realm="a" nonce="b"'), /Expected ','/);
  throwsParse(() => parseAuthHeader("Digest @=1"), /Invalid character '@'/);
});

Deno.test("SipAuthHeader: build with quoting rules", () => {
  const h = new SipAuthHeader({
    scheme: "Digest",
    params: { realm: "atlanta.com", nonce: "84a4cc6f", algorithm: "MD5", note: "a b" },
    quoted: ["realm", "nonce"],
  });
  assert.equal(
    String(h),
    'Digest realm="atlanta.com", nonce="84a4cc6f", algorithm=MD5, note="a b"',
  );
});

// ---------------------------------------------------------------- Content-Type

Deno.test("parseContentType: media type and unquoted params (RFC 3261 §20.15)", () => {
  const a = parseContentType("application/sdp");
  assert.ok(a instanceof SipContentType);
  assert.equal(a.type, "application");
  assert.equal(a.subtype, "sdp");
  assert.equal(a.mediaType, "application/sdp");
  assert.equal(a.params.size, 0);
  assert.equal(String(a), "application/sdp");
  const b = parseContentType('Multipart/Mixed ; Boundary="unique boundary 1";charset=UTF-8');
  assert.equal(b.mediaType, "multipart/mixed");
  assert.equal(b.params.get("boundary"), "unique boundary 1");
  assert.equal(b.params.get("charset"), "UTF-8");
  assert.equal(String(b), 'multipart/mixed;boundary="unique boundary 1";charset=UTF-8');
  assert.equal(parseContentType("text/plain / x".replace(" / x", "")).subtype, "plain");
  assert.equal(parseContentType("application / pidf+xml").mediaType, "application/pidf+xml");
  const built = new SipContentType("Text", "Plain", { charset: "utf-8" });
  assert.equal(String(built), "text/plain;charset=utf-8");
});

Deno.test("parseContentType: bad input", () => {
  throwsParse(() => parseContentType(""), /Missing media type/);
  throwsParse(() => parseContentType("application"), /Expected '\/'/);
  throwsParse(() => parseContentType("application/"), /Missing media subtype/);
  throwsParse(() => parseContentType("application/sdp;"), /Empty parameter/);
  throwsParse(() => parseContentType("application/sdp x"), /Unexpected 'x'/);
  throwsParse(() => parseContentType("application/sdp, text/plain"), /Unexpected ','/);
});

// ---------------------------------------------------------------- token lists

Deno.test("parseTokenList: Require/Supported/Allow", () => {
  assert.deepEqual(parseTokenList("100rel ,timer,\r\n replaces"), ["100rel", "timer", "replaces"]);
  assert.deepEqual(parseTokenList("INVITE, ACK, CANCEL, OPTIONS, BYE"), [
    "INVITE",
    "ACK",
    "CANCEL",
    "OPTIONS",
    "BYE",
  ]);
  assert.deepEqual(parseTokenList(""), []);
  assert.deepEqual(parseTokenList(" , "), []);
  // RFC 4475 §3.3.5 (bext01): unknown option tags are just tokens
  assert.deepEqual(parseTokenList("nothingSupportsThis, nothingSupportsThisEither"), [
    "nothingSupportsThis",
    "nothingSupportsThisEither",
  ]);
  throwsParse(() => parseTokenList("a b"), /Expected ',' between tokens, got 'b'/);
  throwsParse(() => parseTokenList("a;b"), /Expected ',' between tokens, got ';'/);
  throwsParse(() => parseTokenList("<x>"), /Invalid character '<' in token list/);
});

// ---------------------------------------------------------------- events

Deno.test("parseEvent and parseSubscriptionState (RFC 6665)", () => {
  const e = parseEvent("presence;id=1;x=y");
  assert.equal(e.event, "presence");
  assert.equal(e.id, "1");
  assert.equal(e.params.get("x"), "y");
  assert.equal(parseEvent("refer").id, undefined);
  assert.equal(parseEvent("message-summary.winfo").event, "message-summary.winfo");
  throwsParse(() => parseEvent(""), /Missing value in Event/);
  throwsParse(() => parseEvent("presence;id"), /id parameter needs a value/);
  throwsParse(() => parseEvent("pres ence"), /Unexpected 'e' in Event/);

  const s = parseSubscriptionState("Active;expires=3600");
  assert.equal(s.state, "active");
  assert.equal(s.expires, 3600);
  assert.equal(s.reason, undefined);
  assert.equal(s.retryAfter, undefined);
  const t = parseSubscriptionState("terminated;reason=timeout;retry-after=30");
  assert.equal(t.state, "terminated");
  assert.equal(t.reason, "timeout");
  assert.equal(t.retryAfter, 30);
  assert.equal(parseSubscriptionState("active;expires=99999999999").expires, 4294967295);
  throwsParse(() => parseSubscriptionState("active;expires=x"), /expires must be digits/);
  throwsParse(() => parseSubscriptionState("active;expires"), /expires parameter needs a value/);
  throwsParse(() => parseSubscriptionState("terminated;reason"), /reason needs a value/);
  throwsParse(() => parseSubscriptionState(";x"), /Missing value in Subscription-State/);
});

// ---------------------------------------------------------------- RSeq / RAck

Deno.test("parseRSeq and parseRAck (RFC 3262 §7)", () => {
  assert.equal(parseRSeq(" 988789 "), 988789);
  assert.equal(parseRSeq("2147483647"), 2147483647);
  throwsParse(() => parseRSeq("0"), /RSeq must be at least 1/);
  throwsParse(() => parseRSeq("2147483648"), /RSeq out of range/);
  throwsParse(() => parseRSeq("12a"), /RSeq must be digits/);
  throwsParse(() => parseRSeq(""), /Missing RSeq/);
  assert.deepEqual(parseRAck("776656 1 INVITE"), { rseq: 776656, cseq: 1, method: "INVITE" });
  assert.deepEqual(parseRAck(" 1\r\n 2  UPDATE "), { rseq: 1, cseq: 2, method: "UPDATE" });
  throwsParse(() => parseRAck("x 1 INVITE"), /RAck must start with a number/);
  throwsParse(() => parseRAck("1"), /white space after the RAck response number/);
  throwsParse(() => parseRAck("1 INVITE"), /Missing CSeq number in RAck/);
  throwsParse(() => parseRAck("1 2"), /white space after the RAck CSeq number/);
  throwsParse(() => parseRAck("1 2 INVITE x"), /Unexpected 'x' in RAck/);
  throwsParse(() => parseRAck("1 99999999999 INVITE"), /RAck CSeq number out of range/);
});

// ---------------------------------------------------------------- session timers

Deno.test("parseSessionExpires and parseMinSE (RFC 4028)", () => {
  const s = parseSessionExpires("1800;refresher=UAS");
  assert.equal(s.delta, 1800);
  assert.equal(s.refresher, "uas");
  const t = parseSessionExpires("90 ; x=1");
  assert.equal(t.delta, 90);
  assert.equal(t.refresher, undefined);
  assert.equal(t.params.get("x"), "1");
  throwsParse(() => parseSessionExpires("1800;refresher=both"), /refresher must be uac or uas/);
  throwsParse(() => parseSessionExpires("1800;refresher"), /refresher must be uac or uas/);
  throwsParse(() => parseSessionExpires("soon"), /must start with delta-seconds/);
  throwsParse(() => parseSessionExpires("1800 x"), /Unexpected 'x' in Session-Expires/);
  assert.equal(parseMinSE("90"), 90);
  assert.equal(parseMinSE(" 120 ;foo=bar"), 120);
  throwsParse(() => parseMinSE("-1"), /Min-SE must start with delta-seconds/);
});

// ---------------------------------------------------------------- Reason

Deno.test("parseReason (RFC 3326)", () => {
  const [a, b] = parseReason('SIP ;cause=200 ;text="Call completed elsewhere", Q.850;cause=16');
  assert.equal(a?.protocol, "SIP");
  assert.equal(a?.cause, 200);
  assert.equal(a?.text, "Call completed elsewhere");
  assert.equal(a?.params.get("text"), '"Call completed elsewhere"');
  assert.equal(b?.protocol, "Q.850");
  assert.equal(b?.cause, 16);
  assert.equal(b?.text, undefined);
  assert.equal(parseReason('SIP;text="a, \\"b\\""')[0]?.text, 'a, "b"');
  throwsParse(() => parseReason(""), /Empty Reason value/);
  throwsParse(() => parseReason("SIP;cause=abc"), /Reason cause must be digits/);
  throwsParse(() => parseReason("SIP;cause"), /cause parameter needs a value/);
  throwsParse(() => parseReason("SIP;text"), /text parameter needs a value/);
});

// ---------------------------------------------------------------- Refer-To

Deno.test("parseReferTo: embedded Replaces kept intact (RFC 3515, RFC 3891)", () => {
  const text = "<sip:bob@b.com?Replaces=12345%40a.com%3Bto-tag%3D1%3Bfrom-tag%3D2>";
  const r = parseReferTo(text);
  assert.equal(r.uri.headers.get("Replaces"), "12345@a.com;to-tag=1;from-tag=2");
  assert.equal(String(r), text);
  assert.equal(String(r.uri), "sip:bob@b.com?Replaces=12345%40a.com%3Bto-tag%3D1%3Bfrom-tag%3D2");
  const plain = parseReferTo("sip:carol@c.com");
  assert.equal(plain.uri.user, "carol");
  throwsParse(() => parseReferTo("sip:bob@b.com?Replaces=x"), /must be enclosed/);
});

// ---------------------------------------------------------------- Expires

Deno.test("parseExpires: delta-seconds, huge values clamp (RFC 3261 §20.19, RFC 4475 §3.1.2.9)", () => {
  assert.equal(parseExpires("3600"), 3600);
  assert.equal(parseExpires(" 0 "), 0);
  assert.equal(parseExpires("4294967295"), 4294967295);
  assert.equal(parseExpires("4294967296"), 4294967295);
  assert.equal(parseExpires("1" + "0".repeat(100)), 4294967295);
  throwsParse(() => parseExpires(""), /Missing Expires/);
  throwsParse(() => parseExpires("-1"), /Expires must be digits/);
  throwsParse(() => parseExpires("Thu, 01 Dec 1994 16:00:00 GMT"), /Expires must be digits/);
  throwsParse(() => parseExpires("1 2"), /Expires must be digits/);
});

Deno.test("formatParams quotes values that need it", () => {
  const m = new Map<string, string | null>([["lr", null], ["a", "b"], ["c", "d e"], ["q", '"x"']]);
  assert.equal(formatParams(m), ';lr;a=b;c="d e";q="x"');
});

// ---------------------------------------------------------------- corpus robustness

function unfoldHeaders(bytes: Uint8Array): [string, string][] {
  const text = new TextDecoder().decode(bytes);
  const headEnd = text.indexOf("\r\n\r\n");
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const out: [string, string][] = [];
  for (const line of head.split("\r\n").slice(1)) {
    if ((line.startsWith(" ") || line.startsWith("\t")) && out.length > 0) {
      const last = out[out.length - 1];
      if (last) last[1] += "\r\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon > 0) out.push([line.slice(0, colon).trim(), line.slice(colon + 1)]);
  }
  return out;
}

function parserFor(key: string): ((v: string) => unknown) | undefined {
  switch (key) {
    case "via":
      return parseVia;
    case "from":
    case "to":
    case "route":
    case "record-route":
    case "refer-to":
      return parseNameAddr;
    case "contact":
      return parseContact;
    case "cseq":
      return parseCSeq;
    case "content-type":
      return parseContentType;
    case "authorization":
    case "proxy-authorization":
    case "www-authenticate":
    case "proxy-authenticate":
      return parseAuthHeader;
    case "require":
    case "supported":
    case "allow":
    case "proxy-require":
    case "unsupported":
      return parseTokenList;
    case "expires":
      return parseExpires;
    case "event":
      return parseEvent;
    default:
      return undefined;
  }
}

async function corpusHeaders(): Promise<Map<string, [string, string][]>> {
  const out = new Map<string, [string, string][]>();
  for (const dir of ["rfc4475", "rfc5118"]) {
    const base = new URL(`../fixtures/${dir}/`, import.meta.url);
    for await (const entry of Deno.readDir(base)) {
      if (!entry.name.endsWith(".dat")) continue;
      out.set(
        `${dir}/${entry.name}`,
        unfoldHeaders(await Deno.readFile(new URL(entry.name, base))),
      );
    }
  }
  return out;
}

// RFC 4475 §1: a parser must not crash on the torture tests; here every header value of the
// corpus that has a parser either parses or throws SipParseError.
Deno.test("corpus: every RFC 4475 / RFC 5118 header value parses or throws SipParseError", async () => {
  const corpus = await corpusHeaders();
  assert.ok(corpus.size >= 40, `corpus has ${corpus.size} messages`);
  let parsed = 0;
  let rejected = 0;
  for (const [file, headers] of corpus) {
    for (const [name, value] of headers) {
      const key = headerKey(name);
      const parse = parserFor(key);
      if (parse === undefined) continue;
      const values = isMultiValued(key) && key !== "require" && key !== "supported" &&
          key !== "allow" && key !== "proxy-require" && key !== "unsupported"
        ? (() => {
          try {
            return splitHeaderValues(value);
          } catch (e) {
            if (!(e instanceof SipParseError)) throw e;
            rejected++;
            return [];
          }
        })()
        : [value];
      for (const v of values) {
        try {
          const r = parse(v);
          parsed++;
          if (r !== null && typeof r === "object" && !Array.isArray(r) && "toString" in r) {
            assert.equal(typeof String(r), "string");
          }
        } catch (e) {
          if (!(e instanceof SipParseError)) throw new Error(`${file} ${name}: ${String(e)}`);
          rejected++;
        }
      }
    }
  }
  assert.ok(parsed > 300, `parsed ${parsed}`);
  assert.ok(rejected >= 8, `rejected ${rejected}`);
});

// The messages whose headers the RFCs call invalid are rejected by the header parsers.
Deno.test("corpus: the invalid headers of RFC 4475 and RFC 5118 are rejected", async () => {
  const corpus = await corpusHeaders();
  const expectReject: [string, string][] = [
    ["rfc4475/badinv01.dat", "Via"],
    ["rfc4475/badinv01.dat", "Contact"],
    ["rfc4475/quotbal.dat", "To"],
    ["rfc4475/baddn.dat", "From"],
    ["rfc4475/baddn.dat", "To"],
    ["rfc4475/badaspec.dat", "To"],
    ["rfc4475/regbadct.dat", "Contact"],
    ["rfc4475/scalar02.dat", "CSeq"],
    ["rfc4475/scalarlg.dat", "CSeq"],
    ["rfc5118/ipv6-extra-colon.dat", "To"],
  ];
  for (const [file, header] of expectReject) {
    const headers = corpus.get(file);
    assert.ok(headers, file);
    const value = headers.find(([n]) => n === header)?.[1];
    assert.ok(value !== undefined, `${file} ${header}`);
    const parse = parserFor(headerKey(header));
    assert.ok(parse);
    assert.throws(() => parse(value), SipParseError, `${file} ${header}: ${value}`);
  }
});

// ---------------------------------------------------------------- properties

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/);
const hostArb = fc.oneof(
  fc.tuple(fc.array(label, { minLength: 0, maxLength: 2 }), label).map(([ls, top]) =>
    [...ls, top].join(".")
  ),
  fc.ipV4(),
  fc.ipV6().map((a) => `[${a}]`),
);
const tokenArb = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-.!%*_+`'~"),
  minLength: 1,
  maxLength: 10,
});
const paramsArb = fc.uniqueArray(
  fc.tuple(
    tokenArb.map((s) => s.toLowerCase()),
    fc.option(
      fc.oneof(tokenArb, fc.string({ maxLength: 8 }).map((s) => quoteString(s))),
      { nil: null },
    ),
  ),
  { selector: (p) => p[0], maxLength: 4 },
);

Deno.test("property: built Via values round-trip", () => {
  fc.assert(
    fc.property(
      fc.record({
        transport: fc.constantFrom("UDP", "TCP", "TLS", "WS", "WSS", "SCTP", "X-NEW"),
        host: hostArb,
        port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        branch: tokenArb.map((t) => "z9hG4bK" + t),
        params: paramsArb.map((ps) =>
          ps.filter(([n]) => !["branch", "ttl", "rport", "received", "maddr"].includes(n))
        ),
      }),
      (o) => {
        const via = new SipVia({
          transport: o.transport,
          host: o.host,
          port: o.port,
          params: [["branch", o.branch], ...o.params],
        });
        const text = String(via);
        const back = parseVia(text);
        assert.equal(back.transport, o.transport);
        assert.equal(back.host, o.host);
        assert.equal(back.port, o.port);
        assert.equal(back.branch, o.branch);
        assert.deepEqual([...back.params], [["branch", o.branch], ...o.params]);
        assert.equal(String(back), text);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: built name-addrs and contacts round-trip", () => {
  fc.assert(
    fc.property(
      fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
      fc.option(fc.string({ unit: "binary", minLength: 1, maxLength: 8 }), { nil: undefined }),
      hostArb,
      paramsArb.map((ps) => ps.filter(([n]) => n !== "q" && n !== "expires")),
      (display, user, host, params) => {
        const na = new SipContact({
          displayName: display,
          uri: parseUri(`sip:${host}`),
          params,
        });
        na.uri.user = user;
        const text = String(na);
        const back = parseContact(text);
        assert.equal(back.displayName, display);
        assert.equal(back.uri.user, user);
        assert.equal(back.uri.host, host);
        assert.deepEqual([...back.params], params);
        assert.equal(String(back), text);
        assert.equal(String(parseNameAddr(text)), text);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: random input only ever throws SipParseError, in bounded time", () => {
  const parsers: ((s: string) => unknown)[] = [
    splitHeaderValues,
    parseNameAddr,
    parseContact,
    parseVia,
    parseCSeq,
    parseAuthHeader,
    parseContentType,
    parseTokenList,
    parseEvent,
    parseSubscriptionState,
    parseRSeq,
    parseRAck,
    parseSessionExpires,
    parseMinSE,
    parseReason,
    parseReferTo,
    parseExpires,
    unquoteString,
  ];
  const chars = fc.constantFrom(
    ..."SIP/2.0UDPsip:@<>\"\\;,=?&[]% \t\r\n0123456789abc*.-_+!~'`()",
  );
  const samples = [
    "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport;received=1.2.3.4",
    '"Alice \\"A\\"" <sip:alice@a.com;lr?x=%41>;tag=1;q=0.5;expires=60',
    'Digest realm="a,b", nonce="x", qop=auth',
    "application/sdp;charset=utf-8",
    "1 INVITE",
  ];
  const mutated = fc.tuple(
    fc.constantFrom(...samples),
    fc.nat(),
    fc.string({ unit: chars, maxLength: 4 }),
    fc.nat({ max: 4 }),
  ).map(([s, at, ins, del]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i + del);
  });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.string({ unit: chars, maxLength: 60 }),
        mutated,
      ),
      (s) => {
        for (const parse of parsers) {
          const t0 = performance.now();
          try {
            const r = parse(s);
            if (r !== null && typeof r === "object") void String(r);
          } catch (e) {
            if (!(e instanceof SipParseError)) {
              throw new Error(`${parse.name}(${JSON.stringify(s)}) threw ${String(e)}`);
            }
          }
          // Generous: this catches super-linear blow-ups, not a loaded machine's GC pauses.
          assert.ok(performance.now() - t0 < 1000, `${parse.name} slow on ${JSON.stringify(s)}`);
        }
      },
    ),
    { numRuns: 1500 },
  );
});

Deno.test("parsers run in linear time on huge inputs", () => {
  const big = "a".repeat(200000);
  const inputs = [
    `SIP/2.0/UDP ${big}.com;branch=${big}`,
    `"${big}" <sip:${big}@${big}.com>;tag=${big}`,
    `Digest realm="${big}", nonce=${big}`,
    ";".repeat(100000),
    '"'.repeat(100001),
    "<".repeat(100000),
    ",".repeat(100000),
    "SIP/2.0/UDP h" + Array.from({ length: 50000 }, (_, i) => `;p${i}=v`).join(""),
    "<sip:h>" + Array.from({ length: 50000 }, (_, i) => `;p${i}`).join(""),
    "Digest " + Array.from({ length: 50000 }, (_, i) => `p${i}="v"`).join(", "),
  ];
  const t0 = performance.now();
  for (const s of inputs) {
    for (
      const parse of [parseVia, parseNameAddr, parseAuthHeader, splitHeaderValues, parseContact]
    ) {
      try {
        parse(s);
      } catch (e) {
        if (!(e instanceof SipParseError)) throw e;
      }
    }
  }
  assert.ok(performance.now() - t0 < 3000, `took ${performance.now() - t0} ms`);
});

Deno.test("property: auth headers and content types round-trip", () => {
  fc.assert(
    fc.property(
      tokenArb,
      fc.uniqueArray(
        fc.tuple(tokenArb.map((s) => s.toLowerCase()), fc.string({ maxLength: 12 })),
        { selector: (p) => p[0], minLength: 1, maxLength: 5 },
      ),
      fc.boolean(),
      (scheme, params, quoteAll) => {
        const h = new SipAuthHeader({
          scheme,
          params: new Map(params),
          quoted: quoteAll ? params.map(([n]) => n) : [],
        });
        const back = parseAuthHeader(String(h));
        assert.equal(back.scheme, scheme);
        assert.deepEqual([...back.params], params);
        assert.equal(String(back), String(h));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      tokenArb,
      tokenArb,
      fc.uniqueArray(fc.tuple(tokenArb.map((s) => s.toLowerCase()), fc.string({ maxLength: 10 })), {
        selector: (p) => p[0],
        maxLength: 3,
      }),
      (type, subtype, params) => {
        const ct = new SipContentType(type, subtype, params);
        const back = parseContentType(String(ct));
        assert.equal(back.mediaType, `${type}/${subtype}`.toLowerCase());
        assert.deepEqual([...back.params], params);
      },
    ),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------- in-place and deferred URI

Deno.test("parseNameAddr: a simple URI is built on first read and agrees with an eager parse", () => {
  const line = 'From: "Alice" <sip:alice@atlanta.example.com;transport=tcp>;tag=1928301774;x=y\r\n';
  const s = line.indexOf('"');
  const e = line.indexOf("\r");
  const lazy = parseNameAddr(line, s, e);
  // tag first (no URI parse needed), then the URI and the full parameter map
  assert.equal(lazy.tag, "1928301774");
  const eager = parseNameAddr(line.slice(s, e));
  assert.equal(lazy.displayName, "Alice");
  assert.equal(String(lazy.uri), "sip:alice@atlanta.example.com;transport=tcp");
  assert.equal(lazy.uri.host, eager.uri.host);
  assert.equal(lazy.uri.params.get("transport"), "tcp");
  assert.deepEqual([...lazy.params], [["tag", "1928301774"], ["x", "y"]]);
  assert.deepEqual([...lazy.params], [...eager.params]);
  assert.equal(String(lazy), String(eager));
  // the URI object is cached and can be replaced
  assert.equal(lazy.uri, lazy.uri);
  lazy.uri = eager.uri.clone();
  lazy.uri.host = "example.net";
  assert.equal(String(lazy), '"Alice" <sip:alice@example.net;transport=tcp>;tag=1928301774;x=y');
  // a clone of a value whose URI was never read is deep and complete
  const other = parseNameAddr("<sip:bob@biloxi.example.com>;tag=a6c85cf");
  const copy = other.clone();
  assert.equal(String(copy), "<sip:bob@biloxi.example.com>;tag=a6c85cf");
  assert.notEqual(copy.uri, other.uri);
});

Deno.test("parseNameAddr: a malformed From is still rejected when parsed, whatever is read", () => {
  // RFC 3261 §25.1: host = hostname / IPv4address / IPv6reference; an empty label is not.
  throwsParse(() => parseNameAddr("Alice <sip:alice@bad..example.com>;tag=1"), /host/i);
  throwsParse(() => parseNameAddr("<sip:alice@host:99999>;tag=1"), /port/i);
  throwsParse(() => parseNameAddr("<sip:alice@host>;tag="), /empty value/);
  throwsParse(() => parseNameAddr("<sip:alice@host>;tag=1 junk"), /Unexpected/);
  throwsParse(() => parseNameAddr("Alice <sip:alice@host;tag=1"), /Unbalanced/);
  // in place, the bounds are respected: what follows the value is not part of it
  const text = "<sip:a@h>;tag=1, garbage";
  assert.equal(parseNameAddr(text, 0, 15).tag, "1");
  throwsParse(() => parseNameAddr(text, 0, text.length), /Unexpected/);
});

Deno.test("parseVia / parseCSeq in place read only their range", () => {
  const line =
    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;rport";
  const v = parseVia(line, 5, line.indexOf(","));
  assert.equal(v.branch, "z9hG4bK1");
  assert.equal(v.host, "a.example.com");
  const w = parseVia(line, line.indexOf(",") + 2, line.length);
  assert.equal(w.transport, "TCP");
  assert.equal(w.port, 5070);
  assert.equal(w.rport, true);
  // "SIP/2.0/" must lie inside the range
  throwsParse(() => parseVia("SIP/2.0/UDP h", 0, 7), /Via/);
  const c = "CSeq: 314159 INVITE\r\nCall-ID: x";
  assert.equal(parseCSeq(c, 6, 19).method, "INVITE");
});

Deno.test("fast paths: CSeq, Via port and parameter names keep the RFC 3261 limits (§8.1.1.5, §20.42)", () => {
  // CSeq number: 32 bits at most, leading zeros allowed, any token method kept as written.
  assert.equal(parseCSeq("0002147483647 INVITE").seq, 2147483647);
  throwsParse(() => parseCSeq("99999999999999999999999 INVITE"), /CSeq number out of range/);
  assert.equal(parseCSeq("1 INVITE").method, "INVITE");
  assert.equal(parseCSeq("1 invite").method, "invite"); // case-sensitive, not normalized
  assert.equal(parseCSeq("1 INVITEX").method, "INVITEX");
  throwsParse(() => parseCSeq("1 INVITE x"), /Unexpected/);
  // Via port: 0 to 65535.
  assert.equal(parseVia("SIP/2.0/UDP h:065535;branch=z9hG4bK1").port, 65535);
  assert.equal(parseVia("SIP/2.0/UDP h : 5060;branch=z9hG4bK1").port, 5060);
  throwsParse(() => parseVia("SIP/2.0/UDP h:65536"), /Via port out of range/);
  throwsParse(() => parseVia("SIP/2.0/UDP h:99999999999999999999"), /Via port out of range/);
  throwsParse(() => parseVia("SIP/2.0/UDP h:"), /Missing or invalid port/);
  assert.equal(parseVia("SIP/2.0/udp h").transport, "UDP");
  assert.equal(parseVia("SIP/2.0/UDPX h").transport, "UDPX");
  // Parameter names: case-insensitive (lower-cased), the common ones and others alike.
  const via = parseVia("SIP/2.0/UDP h;BRANCH=z9hG4bKx;Rport;branchy=1;brancH=no;tag=t;ttl=3");
  assert.equal(via.branch, "z9hG4bKx");
  assert.equal(via.rport, true);
  assert.equal(via.param("branchy"), "1");
  assert.equal(via.ttl, 3);
  assert.equal(via.param("tag"), "t");
  assert.equal(parseNameAddr("<sip:a@h>;TAG=x;tab=y").tag, "x");
  assert.equal(parseNameAddr("<sip:a@h>;tab=y").tag, undefined);
  assert.equal(parseNameAddr("<sip:a@h> ; tag = x ").tag, "x");
  throwsParse(() => parseNameAddr("<sip:a@h>;tag="), /empty value/);
  throwsParse(() => parseNameAddr("<sip:a@h>;;tag=1"), /Empty parameter/);
});
