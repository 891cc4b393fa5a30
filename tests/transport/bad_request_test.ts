import { assert } from "../test_deps.ts";
import { buildBadRequest } from "../../transport/_bad_request.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("400 for an unparseable request copies Via/From/To/Call-ID/CSeq and adds a To tag", () => {
  const raw = enc.encode(
    "INVITE sip:bob@example.com SIP/2.0\r\n" +
      "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1;rport\r\n" +
      "v: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0\r\n" +
      "From: <sip:alice@example.com>;tag=a1\r\n" +
      "To: <sip:bob@example.com>\r\n" +
      "Call-ID: c1@x\r\n" +
      "CSeq: 1 INVITE\r\n" +
      "Max-Forwards: not-a-number\r\n" +
      "Content-Length: 0\r\n\r\n",
  );
  const reply = buildBadRequest(raw, "Bad Max-Forwards\r\ninjected: 1", "t0")!;
  const text = dec.decode(reply.bytes);
  assert.match(text, /^SIP\/2\.0 400 Bad Request - Bad Max-Forwards injected: 1\r\n/);
  assert.match(
    text,
    /\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.1:5070;branch=z9hG4bK1;rport\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.9;/,
  );
  assert.match(text, /\r\nTo: <sip:bob@example\.com>;tag=t0\r\n/);
  assert.match(text, /\r\nCall-ID: c1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n$/);
  assert.ok(!text.includes("\r\nMax-Forwards:"), "other headers are not copied");
  assert.equal(reply.rport, true);
  assert.equal(reply.viaPort, 5070);
  assert.equal(reply.viaTransport, "UDP");
});

Deno.test("no 400 for responses, garbage, or requests without a readable Via (drop)", () => {
  assert.equal(
    buildBadRequest(enc.encode("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n"), "x", "t"),
    undefined,
  );
  assert.equal(buildBadRequest(enc.encode("\x00\x01garbage"), "x", "t"), undefined);
  assert.equal(
    buildBadRequest(enc.encode("OPTIONS sip:a SIP/2.0\r\nTo: <sip:a>\r\n\r\n"), "x", "t"),
    undefined,
  );
  assert.equal(
    buildBadRequest(enc.encode("OPTIONS sip:a SIP/2.0\r\nVia: nonsense\r\n\r\n"), "x", "t"),
    undefined,
  );
  assert.equal(buildBadRequest(new Uint8Array(0), "x", "t"), undefined);
});
