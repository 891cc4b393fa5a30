import { assert } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { validateMessage } from "../../sip/validate.ts";
import { createRequest } from "../../sip/builders.ts";

const BASE = [
  "OPTIONS sip:bob@example.com SIP/2.0",
  "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
  "Max-Forwards: 70",
  "To: <sip:bob@example.com>",
  "From: <sip:alice@example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.example.com",
  "CSeq: 314159 OPTIONS",
];

/** The base request with lines replaced (`Name: value`), removed (`-Name`) or added. */
function msg(changes: string[] = [], body = "", start?: string): string {
  let lines = BASE.slice();
  if (start) lines[0] = start;
  for (const c of changes) {
    if (c.startsWith("-")) {
      lines = lines.filter((l) => !l.startsWith(c.slice(1) + ":"));
      continue;
    }
    const name = c.slice(0, c.indexOf(":"));
    const at = lines.findIndex((l) => l.startsWith(name + ":"));
    if (at > 0 && !c.startsWith("+")) lines[at] = c;
    else lines.push(c.replace(/^\+/, ""));
  }
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

function verdict(text: string) {
  return validateMessage(parseMessage(text));
}

Deno.test("validate: a well-formed request passes", () => {
  assert.equal(verdict(msg()), undefined);
});

Deno.test("validate: RFC 3261 §8.1.1 CSeq method must match the request method (400)", () => {
  assert.deepEqual(verdict(msg(["CSeq: 1 INVITE"])), {
    status: 400,
    reason: "Bad Request - CSeq method does not match",
  });
});

Deno.test("validate: RFC 3261 §20.16 CSeq number must be below 2**31 (400)", () => {
  assert.equal(verdict(msg(["CSeq: 2147483647 OPTIONS"])), undefined);
  const bad = verdict(msg(["CSeq: 2147483648 OPTIONS"]));
  assert.equal(bad?.status, 400);
  assert.match(bad!.reason, /^Bad Request - .*CSeq/);
  assert.equal(verdict(msg(["CSeq: 36893488147419103232 OPTIONS"]))?.status, 400);
});

Deno.test("validate: RFC 3261 §20.22 Max-Forwards must be 0-255 (400); absent is tolerated", () => {
  assert.equal(verdict(msg(["Max-Forwards: 0"])), undefined);
  assert.equal(verdict(msg(["Max-Forwards: 255"])), undefined);
  assert.deepEqual(verdict(msg(["Max-Forwards: 256"])), {
    status: 400,
    reason: "Bad Request - Max-Forwards out of range",
  });
  assert.equal(verdict(msg(["Max-Forwards: -1"]))?.status, 400);
  assert.equal(verdict(msg(["Max-Forwards: many"]))?.status, 400);
  assert.equal(verdict(msg(["-Max-Forwards"])), undefined);
});

Deno.test("validate: RFC 3261 §8.2.6 / §21.5.6 unknown SIP version gives 505", () => {
  assert.deepEqual(verdict(msg([], "", "OPTIONS sip:bob@example.com SIP/7.0")), {
    status: 505,
    reason: "Version Not Supported",
  });
});

Deno.test("validate: RFC 4475 §3.3.8 duplicated single-valued headers (400)", () => {
  for (
    const h of ["Call-ID: other", "To: <sip:x@example.com>", "CSeq: 2 OPTIONS", "Max-Forwards: 5"]
  ) {
    const v = verdict(msg(["+" + h]));
    assert.equal(v?.status, 400, h);
    assert.match(v!.reason, /^Bad Request - Multiple /);
  }
});

Deno.test("validate: duplicated Content-Length (equal values) is refused (400)", () => {
  assert.deepEqual(verdict(msg(["Content-Length: 0", "+Content-Length: 0"])), {
    status: 400,
    reason: "Bad Request - Duplicated Content-Length",
  });
});

Deno.test("validate: RFC 3261 §20.15 a body needs a valid Content-Type (400)", () => {
  assert.deepEqual(verdict(msg([], "hello")), {
    status: 400,
    reason: "Bad Request - Body without Content-Type",
  });
  assert.equal(verdict(msg(["Content-Type: text/plain"], "hello")), undefined);
  assert.equal(verdict(msg(["Content-Type: not a media type"], "hello"))?.status, 400);
});

Deno.test("validate: malformed header values name the header (400)", () => {
  const cases: [string, RegExp][] = [
    ["Via: SIP/2.0/UDP 192.0.2.15;;,;,,", /Via/],
    ['To: "unterminated <sip:bob@example.com>', /To/],
    ["From: nonsense-without-uri", /From/],
    ["Contact: <sip:c@example.com", /Contact/],
  ];
  for (const [line, re] of cases) {
    const v = verdict(msg([line]));
    assert.equal(v?.status, 400, line);
    assert.match(v!.reason, re);
  }
});

Deno.test("validate: RFC 4475 §3.1.2.11 Request-URI with headers is refused (400)", () => {
  const v = verdict(msg([], "", "OPTIONS sip:bob@example.com?Subject=x SIP/2.0"));
  assert.deepEqual(v, {
    status: 400,
    reason: "Bad Request - Request-URI must not contain headers",
  });
});

Deno.test("validate: RFC 3261 §20.10 a Contact addr-spec with '?' needs <> (400)", () => {
  const v = verdict(msg(["+Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E"]));
  assert.equal(v?.status, 400);
});

Deno.test("validate: RFC 4475 §3.1.2.12 a Date not in GMT is refused (400)", () => {
  assert.equal(verdict(msg(["+Date: Sat, 13 Nov 2010 23:29:00 GMT"])), undefined);
  assert.equal(verdict(msg(["+Date: Fri, 01 Jan 2010 16:00:00 EST"]))?.status, 400);
});

Deno.test("validate: Expires must be 0 to 2**32-1", () => {
  assert.equal(verdict(msg(["+Expires: 3600"])), undefined);
  assert.equal(verdict(msg(["+Expires: 4294967296"]))?.status, 400);
});

Deno.test("validate: a message whose mandatory header was removed is refused", () => {
  const m = parseMessage(msg());
  m.removeHeader("Call-ID");
  assert.deepEqual(validateMessage(m), {
    status: 400,
    reason: "Bad Request - Missing Call-ID header",
  });
  const built = createRequest({
    method: "OPTIONS",
    uri: "sip:b@h",
    from: "<sip:a@h>",
    to: "<sip:b@h>",
  });
  assert.deepEqual(validateMessage(built), {
    status: 400,
    reason: "Bad Request - Missing Via header",
  });
});

Deno.test("validate: responses are checked too (CSeq range, version)", () => {
  const res = parseMessage(
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\n" +
      "From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 4294967297 INVITE\r\n\r\n",
  );
  assert.equal(validateMessage(res)?.status, 400);
});

Deno.test("validate: an empty Via value is malformed (400), not ignored", () => {
  const v = verdict(msg(["Via: "]));
  assert.equal(v?.status, 400);
  assert.match(v!.reason, /Via/);
});
