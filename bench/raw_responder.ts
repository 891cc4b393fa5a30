/**
 * The runtime floor for the load harness: a UDP responder that answers SIP requests by
 * copying the Via, From, To, Call-ID and CSeq lines into a fixed response, with no SIP
 * parsing, no transactions and no dialogs. OPTIONS and BYE (anything but INVITE and ACK) get
 * 200; INVITE gets 180 then 200 with SDP; ACK is ignored. Two back ends, as sipkit's UDP
 * transport has: `deno` (Deno.listenDatagram, one reused receive buffer; what sipkit uses when
 * `--unstable-net` is on, as in this repository's deno.json) and `dgram` (node:dgram, sipkit's
 * fallback). Compared on the same back end, the difference to sipkit is the cost of sipkit.
 *
 * With `parse` as third argument it also parses each datagram with sipkit's parser and reads
 * the headers every SIP stack reads of every message (top Via, From, To, Call-ID, CSeq), then
 * answers the same raw way: the runtime plus SIP parsing, the least a stack that parses SIP
 * pays (the harness's `floor_parse` target).
 *
 * Usage: deno run -A [--unstable-net] bench/raw_responder.ts <port> [dgram|deno] [parse]
 * (prints `ready udp 127.0.0.1 <port>`; `deno` needs --unstable-net)
 */
import dgram from "node:dgram";
import { parseMessage } from "../sip/parser.ts";

const port = Number(Deno.args[0] ?? "0");
const backend = Deno.args[1] ?? "dgram";
const parse = Deno.args[2] === "parse";
const COPY = /^(via|v|from|f|to|t|call-id|i|cseq):/i;
const TO = /^(to|t):/i;
const TAG = ";tag=raw1";
const SDP = "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 49190 RTP/AVP 0\r\n";
const latin1 = new TextDecoder("latin1");
const enc = new TextEncoder();

/** The responses to `msg` (none for ACK and responses): an INVITE gets 180 then 200, as the
 * UASs the harness compares (examples/uas.ts, bench/kirm_uas.mjs) send. */
function answer(msg: Uint8Array, localPort: number): string[] {
  if (parse) {
    // The datagram is a view into the reused receive buffer: parse a copy, as sipkit does.
    const m = parseMessage(msg.slice());
    if (m.vias[0] === undefined || m.cseq.seq < 0 || !m.callId || !m.from || !m.to) return [];
  }
  const text = latin1.decode(msg);
  if (text.startsWith("ACK ") || text.startsWith("SIP/2.0")) return [];
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end < 0 ? text.length : end).split("\r\n");
  const copied: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (!COPY.test(l)) continue;
    // a To without a tag gets one
    copied.push(TO.test(l) && !l.includes(";tag=") ? l + TAG : l);
  }
  if (text.startsWith("INVITE ")) {
    const contact = `Contact: <sip:raw@127.0.0.1:${localPort}>`;
    return [
      ["SIP/2.0 180 Ringing", ...copied, contact, "Content-Length: 0", "", ""].join("\r\n"),
      [
        "SIP/2.0 200 OK",
        ...copied,
        contact,
        "Content-Type: application/sdp",
        `Content-Length: ${SDP.length}`,
        "",
        SDP,
      ].join("\r\n"),
    ];
  }
  return [["SIP/2.0 200 OK", ...copied, "Content-Length: 0", "", ""].join("\r\n")];
}

function ready(p: number): void {
  Deno.stdout.writeSync(enc.encode(`ready udp 127.0.0.1 ${p}\n`));
}

type DenoDatagram = {
  listenDatagram(o: { transport: "udp"; hostname: string; port: number }): {
    addr: { port: number };
    receive(p?: Uint8Array): Promise<[Uint8Array, { hostname: string; port: number }]>;
    send(b: Uint8Array, a: { transport: "udp"; hostname: string; port: number }): Promise<number>;
    close(): void;
  };
};

if (backend === "deno") {
  // Deno.listenDatagram: needs --unstable-net
  const conn = (Deno as unknown as DenoDatagram).listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port,
  });
  ready(conn.addr.port);
  for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
  // One receive buffer, as sipkit's Deno back end; sends are not awaited one by one, except
  // that the 200 of an INVITE leaves once its 180 is sent (ops in flight together may
  // complete out of order).
  const buf = new Uint8Array(65536);
  const local = conn.addr.port;
  for (;;) {
    const [msg, from] = await conn.receive(buf);
    const rs = answer(msg, local);
    if (rs.length === 0) continue;
    const to = { transport: "udp" as const, hostname: from.hostname, port: from.port };
    if (rs.length === 1) conn.send(enc.encode(rs[0]!), to).catch(() => 0);
    else {
      conn.send(enc.encode(rs[0]!), to).then(() => conn.send(enc.encode(rs[1]!), to)).catch(
        () => 0,
      );
    }
  }
} else {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    // Deno's node:dgram may reorder concurrent sends: the 200 leaves once the 180 is sent.
    const rs = answer(msg, port);
    const next = (i: number): void => {
      if (i < rs.length) sock.send(rs[i]!, rinfo.port, rinfo.address, () => next(i + 1));
    };
    next(0);
  });
  sock.bind(port, "127.0.0.1", () => ready(sock.address().port));
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      sock.close();
      Deno.exit(0);
    });
  }
}
