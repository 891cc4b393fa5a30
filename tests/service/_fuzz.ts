// Seeded message mangling and a raw peer's responses for the bad-input tests
// (fuzz_stack_test.ts, fuzz_uac_test.ts, uac_bad_response_test.ts, uac_fork_test.ts).

import dgram from "node:dgram";
import { assert, configureLogs, type LogRecord } from "../test_deps.ts";
import type { SipStackCounts } from "../../service/sip_stack.ts";

/** Send every sipkit log record at error level or above to the returned list (the caller
 * calls `resetLogs()` at the end). */
export async function captureErrorLogs(): Promise<string[]> {
  const errors: string[] = [];
  await configureLogs({
    sinks: {
      mem: (r: LogRecord) => {
        if (r.level === "error" || r.level === "fatal") {
          errors.push(`${r.category.join(".")}: ${r.message.map(String).join("")}`);
        }
      },
    },
    loggers: [
      { category: ["sipkit"], sinks: ["mem"], lowestLevel: "warning" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  return errors;
}

/** A small seeded generator (LCG): the same seed gives the same traffic. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export const GARBAGE: readonly string[] = [
  "",
  ";;;",
  "<sip:",
  "<>;tag=",
  "sip:@",
  "\u00ff\u00fe\u0000",
  "99999999999 INVITE",
  "-1",
  "abc",
  "x".repeat(3000),
  '"unterminated <sip:a@b>',
  "<sip:a@[::1>",
  "SIP/2.0/UDP",
];

/** Mangle one message (header lines and body as text), or leave it alone. */
export function mutate(text: string, r: () => number): string {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const body = text.slice(end + 4);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const h = 1 + Math.floor(r() * (lines.length - 1)); // a header line
  switch (Math.floor(r() * 9)) {
    case 0:
      lines.splice(h, 1); // drop a header
      break;
    case 1:
      lines.splice(h, 0, lines[h]!); // double it
      break;
    case 2: {
      const colon = lines[h]!.indexOf(":");
      lines[h] = `${lines[h]!.slice(0, colon + 1)} ${pick(GARBAGE)}`; // mangle its value
      break;
    }
    case 3: {
      const l = lines[h]!;
      const at = Math.floor(r() * l.length);
      lines[h] = l.slice(0, at) + pick(GARBAGE) + l.slice(at); // insert into it
      break;
    }
    case 4:
      lines[0] = pick(["INVITE", "BYE sip:x", "SIP/2.0 200 OK", "X Y Z", lines[0]!.toLowerCase()]);
      break;
    case 5: {
      const i = lines.findIndex((l) => /^content-length:/i.test(l));
      if (i > 0) lines[i] = `Content-Length: ${Math.floor(r() * 400) - 5}`;
      break;
    }
    case 6:
      return text.slice(0, Math.floor(r() * text.length)); // cut anywhere
    case 7:
      return lines.join("\r\n") + "\r\n\r\n" + pick(GARBAGE) + body; // body garbage
    default:
      lines[h] = lines[h]!.replace(/;branch=[^;\r\n]*/i, ""); // a Via without branch
  }
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

/** The SDP answer of the raw peers. */
export const PEER_SDP =
  "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/** The lines of `request` a response copies (§8.2.6.2), with a To tag added. */
export function responseTo(request: string, status: number, tag: string, peerPort: number): string {
  const head = request.slice(0, request.indexOf("\r\n\r\n")).split("\r\n").slice(1);
  const copied = head.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l)).map((l) =>
    /^to:/i.test(l) && !/;tag=/i.test(l) ? `${l};tag=${tag}` : l
  );
  const invite2xx = status >= 200 && status < 300 && / INVITE$/m.test(head.join("\n"));
  const reason = status === 200 ? "OK" : status < 200 ? "Ringing" : "Busy Here";
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...copied,
    `Contact: <sip:peer@127.0.0.1:${peerPort}>`,
    ...(invite2xx ? ["Content-Type: application/sdp"] : []),
    `Content-Length: ${invite2xx ? PEER_SDP.length : 0}`,
    "",
    invite2xx ? PEER_SDP : "",
  ].join("\r\n");
}

/** A raw UDP socket on 127.0.0.1 (any free port) that plays the peer of a stack. */
export async function bindPeer(): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((res) => socket.bind(0, "127.0.0.1", () => res()));
  return { socket, port: socket.address().port };
}

/** Wait until `cond()` holds, polling every 10 ms for at most `ms`; returns its last value. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

/** Wait up to `ms` until `stack` holds no transaction, dialog or timer, then assert it;
 * `what` says what ran, for the failure message. */
export async function assertDrained(
  stack: { readonly counts: SipStackCounts },
  ms: number,
  what: string,
): Promise<void> {
  const idle = (): boolean => {
    const c = stack.counts;
    return c.transactions === 0 && c.dialogs === 0 && c.timers === 0;
  };
  await until(idle, ms);
  const counts = stack.counts;
  assert.deepEqual(
    { transactions: counts.transactions, dialogs: counts.dialogs, timers: counts.timers },
    { transactions: 0, dialogs: 0, timers: 0 },
    `left behind after ${what}: ${JSON.stringify(counts)}`,
  );
}
