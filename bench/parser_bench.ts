// Parser benchmark: `deno bench -A bench/parser_bench.ts`.
//
// Group "invite": a typical ~700-byte INVITE with SDP, parsed from bytes, then the fields a
// transaction layer reads first (top Via branch, CSeq, Call-ID, From tag, To tag). The same
// work is done by npm `sip` (kirm) and by JsSIP's parser in the same run, so `deno bench`
// prints the ratio. Groups "headers" and "body" show that the cost grows linearly with the
// number of headers and the body size. Group "validate": the same INVITE parsed and checked by
// validateMessage, as the server does with every request.
import { JsSipParser, kirmSip } from "../tests/test_deps.ts";
import { parseMessage } from "../sip/parser.ts";
import { validateMessage } from "../sip/validate.ts";

const SDP = "v=0\r\n" +
  "o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n" +
  "s=-\r\n" +
  "c=IN IP4 192.0.2.101\r\n" +
  "t=0 0\r\n" +
  "m=audio 49172 RTP/AVP 0 8 101\r\n" +
  "a=rtpmap:0 PCMU/8000\r\n" +
  "a=rtpmap:8 PCMA/8000\r\n" +
  "a=rtpmap:101 telephone-event/8000\r\n" +
  "a=fmtp:101 0-16\r\n" +
  "a=sendrecv\r\n";

function invite(extraHeaders = 0, body = SDP): string {
  const extra: string[] = [];
  for (let i = 0; i < extraHeaders; i++) extra.push(`X-Extra-${i}: value-${i};param=${i}\r\n`);
  return "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n" +
    "Max-Forwards: 70\r\n" +
    "To: Bob <sip:bob@biloxi.example.com>\r\n" +
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
    "CSeq: 314159 INVITE\r\n" +
    "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n" +
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK\r\n" +
    "Supported: replaces, timer\r\n" +
    "User-Agent: sipkit-bench/1.0\r\n" +
    extra.join("") +
    "Content-Type: application/sdp\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n` +
    "\r\n" + body;
}

const TYPICAL = invite();
const TYPICAL_BYTES = new TextEncoder().encode(TYPICAL);
const sink: unknown[] = [];

function sipkit(bytes: Uint8Array): void {
  const m = parseMessage(bytes);
  sink[0] = m.vias[0]!.branch;
  sink[1] = m.cseq.seq;
  sink[2] = m.callId;
  sink[3] = m.from.tag;
  sink[4] = m.to.tag;
}

// Sanity: each contender reads the same values.
{
  const m = parseMessage(TYPICAL_BYTES);
  if (m.vias[0]!.branch !== "z9hG4bK776asdhds" || m.from.tag !== "1928301774") {
    throw new Error("sipkit parse mismatch");
  }
  if (validateMessage(m) !== undefined) throw new Error("sipkit validate mismatch");
  const k = kirmSip.parse(TYPICAL);
  if (k.headers.via[0].params.branch !== "z9hG4bK776asdhds") throw new Error("sip mismatch");
  const j = JsSipParser.parseMessage(TYPICAL, {});
  if (j.via_branch !== "z9hG4bK776asdhds" || j.from_tag !== "1928301774") {
    throw new Error("jssip mismatch");
  }
}

Deno.bench({
  name: `sipkit parseMessage (${TYPICAL_BYTES.length} B INVITE from bytes)`,
  group: "invite",
  baseline: true,
  fn() {
    sipkit(TYPICAL_BYTES);
  },
});

Deno.bench({
  name: "npm sip@0.0.6 (kirm) parse",
  group: "invite",
  fn() {
    // It takes a string: decoding is part of the work it is given.
    const m = kirmSip.parse(new TextDecoder().decode(TYPICAL_BYTES));
    sink[0] = m.headers.via[0].params.branch;
    sink[1] = m.headers.cseq.seq;
    sink[2] = m.headers["call-id"];
    sink[3] = m.headers.from.params.tag;
    sink[4] = m.headers.to.params.tag;
  },
});

Deno.bench({
  name: "JsSIP@3.13.8 Parser.parseMessage",
  group: "invite",
  fn() {
    const m = JsSipParser.parseMessage(new TextDecoder().decode(TYPICAL_BYTES), {});
    sink[0] = m.via_branch;
    sink[1] = m.cseq;
    sink[2] = m.call_id;
    sink[3] = m.from_tag;
    sink[4] = m.to_tag;
  },
});

Deno.bench({
  name: "sipkit parseMessage only (no field read)",
  group: "invite",
  fn() {
    sink[0] = parseMessage(TYPICAL_BYTES);
  },
});

Deno.bench({
  name: "sipkit parseMessage + validateMessage",
  group: "validate",
  baseline: true,
  fn() {
    const m = parseMessage(TYPICAL_BYTES);
    sink[0] = validateMessage(m);
  },
});

Deno.bench({
  name: "sipkit parseMessage + field reads + validateMessage",
  group: "validate",
  fn() {
    const m = parseMessage(TYPICAL_BYTES);
    sink[0] = m.vias[0]!.branch;
    sink[1] = m.cseq.seq;
    sink[2] = m.callId;
    sink[3] = m.from.tag;
    sink[4] = m.to.tag;
    sink[5] = validateMessage(m);
  },
});

for (const n of [0, 20, 60]) {
  const bytes = new TextEncoder().encode(invite(n));
  Deno.bench({
    name: `sipkit ${n + 11} headers (${bytes.length} B)`,
    group: "headers",
    baseline: n === 0,
    fn() {
      sipkit(bytes);
    },
  });
}

for (const size of [1024, 16 * 1024, 64 * 1024]) {
  const bytes = new TextEncoder().encode(invite(0, "a".repeat(size - 2) + "\r\n"));
  Deno.bench({
    name: `sipkit ${size / 1024} KB body (${bytes.length} B)`,
    group: "body",
    baseline: size === 1024,
    fn() {
      sipkit(bytes);
    },
  });
}
