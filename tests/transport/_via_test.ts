import { assert, fc } from "../test_deps.ts";
import { firstViaText, quickUdpReplyAddress } from "../../transport/_via.ts";
import { parseMessage } from "../../sip/parser.ts";
import { createResponse } from "../../sip/builders.ts";
import type { SipRequest } from "../../sip/types.ts";
import { parseVia } from "../../sip/header_parsers.ts";
import type { Address } from "../../transport/types.ts";

/** The UDP reply address from the parsed Via, as `TransportLayer.sendResponse` computes it
 * when it parses (RFC 3261 §18.2.2, RFC 3581 §4); undefined for `maddr` (not covered by the
 * quick reading). */
function fromParsed(value: string): Address | undefined {
  const via = parseVia(value);
  if (via.params.get("maddr")) return undefined;
  if (via.received !== undefined) {
    const host = via.received.replace(/^\[|\]$/g, "");
    return { host, port: typeof via.rport === "number" ? via.rport : via.port ?? 5060 };
  }
  return { host: via.host.replace(/^\[|\]$/g, ""), port: via.port ?? 5060 };
}

Deno.test("quickUdpReplyAddress: RFC 3581 §4 — received and rport win, as stamped on arrival", () => {
  assert.deepEqual(
    quickUdpReplyAddress(
      "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport=40000;received=192.0.2.7",
    ),
    { host: "192.0.2.7", port: 40000 },
  );
  // §18.2.2: received without rport: the sent-by port.
  assert.deepEqual(
    quickUdpReplyAddress("SIP/2.0/UDP 10.0.0.1:5062;received=192.0.2.7;branch=z9hG4bKa"),
    { host: "192.0.2.7", port: 5062 },
  );
  // Neither: sent-by, default port 5060.
  assert.deepEqual(quickUdpReplyAddress("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa"), {
    host: "10.0.0.1",
    port: 5060,
  });
  assert.deepEqual(
    quickUdpReplyAddress("SIP/2.0/UDP [2001:db8::1]:5070;rport=5071;received=[2001:db8::9]"),
    { host: "2001:db8::9", port: 5071 },
  );
});

Deno.test("quickUdpReplyAddress: maddr, quotes and odd values are left to the full parse", () => {
  assert.equal(
    quickUdpReplyAddress("SIP/2.0/UDP 10.0.0.1;maddr=224.0.1.75;branch=z9hG4bKa"),
    undefined,
  );
  assert.equal(quickUdpReplyAddress('SIP/2.0/UDP 10.0.0.1;x="a;b";branch=z9hG4bKa'), undefined);
  assert.equal(quickUdpReplyAddress("SIP/2.0/UDP 10.0.0.1:99999;branch=z9hG4bKa"), undefined);
  assert.equal(quickUdpReplyAddress("SIP/2.0/UDP 10.0.0.1;rport=;received=1.2.3.4"), undefined);
  assert.equal(quickUdpReplyAddress("garbage"), undefined);
  assert.equal(quickUdpReplyAddress(undefined), undefined);
});

Deno.test("quickUdpReplyAddress: property — agrees with the parsed Via whenever it answers", () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
  const host = fc.oneof(ipv4, fc.constantFrom("example.com", "[::1]", "[2001:db8::5]"));
  const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
  const param = fc.oneof(
    fc.constant("rport"),
    fc.integer({ min: 1, max: 65535 }).map((p) => `rport=${p}`),
    ipv4.map((h) => `received=${h}`),
    fc.constant("received=[2001:db8::7]"),
    fc.constant("branch=z9hG4bKx1"),
    fc.constant("maddr=224.0.1.75"),
    fc.constant("ttl=16"),
    fc.constant("lr"),
  );
  fc.assert(
    fc.property(
      fc.constantFrom("UDP", "udp", "TCP"),
      host,
      port,
      fc.array(param, { maxLength: 5 }),
      fc.constantFrom(" ", "  ", "\t"),
      (transport, h, p, params, space) => {
        const value = `SIP/2.0/${transport}${space}${h}${p === undefined ? "" : `:${p}`}` +
          params.map((x) => `;${x}`).join("");
        const quick = quickUdpReplyAddress(value);
        const parsed = fromParsed(value);
        if (quick !== undefined) assert.deepEqual(quick, parsed, value);
        // The quick reading declines only maddr and repeated received/rport here; every other
        // generated value is read.
        const names = params.map((x) => x.split("=")[0]);
        const repeated = (n: string): boolean => names.filter((x) => x === n).length > 1;
        if (!names.includes("maddr") && !repeated("received") && !repeated("rport")) {
          assert.notEqual(quick, undefined, value);
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("quickUdpReplyAddress: only the top Via of a comma-separated line counts (RFC 3261 §18.2.2)", () => {
  const text = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n" +
    "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport=4000;received=192.0.2.1, " +
    "SIP/2.0/UDP 10.9.9.9:5099;branch=z9hG4bKb\r\nVia: SIP/2.0/UDP 10.8.8.8;branch=z9hG4bKc\r\n" +
    "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\n" +
    "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  const req = parseMessage(new TextEncoder().encode(text)) as SipRequest;
  const res = createResponse(req, 200);
  assert.equal(firstViaText(res)?.startsWith("SIP/2.0/UDP 10.0.0.1:5062;"), true);
  assert.deepEqual(quickUdpReplyAddress(firstViaText(res)), { host: "192.0.2.1", port: 4000 });
  assert.deepEqual(quickUdpReplyAddress(firstViaText(res)), fromParsed(res.header("Via")!));
});
