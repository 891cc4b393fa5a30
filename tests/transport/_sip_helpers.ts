/**
 * Test-only helpers: build requests and responses from text with the sip/ parser, and wait
 * for events with a bounded timeout.
 *
 * @module
 */

import { parseMessage } from "../../sip/parser.ts";
import type { SipRequest, SipResponse } from "../../sip/types.ts";
import type { TransportLayer } from "../../transport/transport_layer.ts";
import type { InboundMessage } from "../../transport/types.ts";

let counter = 0;

/** A request with the mandatory headers; Via sent-by is a placeholder the transport rewrites. */
export function makeRequest(
  method: string,
  uri: string,
  options: { body?: string; via?: string; extra?: string[]; callId?: string } = {},
): SipRequest {
  const n = ++counter;
  const body = options.body ?? "";
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: ${options.via ?? `SIP/2.0/UDP placeholder.invalid;branch=z9hG4bKtest${n}x${Date.now()}`}`,
    "Max-Forwards: 70",
    `From: <sip:alice@example.com>;tag=from${n}`,
    `To: <${uri}>`,
    `Call-ID: ${options.callId ?? `call-${n}-${Date.now()}@test`}`,
    `CSeq: ${n} ${method}`,
    ...(options.extra ?? []),
    ...(body ? ["Content-Type: text/plain"] : []),
    `Content-Length: ${new TextEncoder().encode(body).length}`,
    "",
    body,
  ];
  const m = parseMessage(lines.join("\r\n"));
  if (m.kind !== "request") throw new Error("not a request");
  return m;
}

/** A response to a request (RFC 3261 §8.2.6.2: Vias, From, To + tag, Call-ID, CSeq copied). */
export function makeResponse(req: SipRequest, status: number, reason = "OK"): SipResponse {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const v of req.headers("via")) lines.push(`Via: ${v}`);
  lines.push(`From: ${req.header("from")}`);
  const to = req.header("to")!;
  lines.push(`To: ${to}${/;\s*tag=/i.test(to) ? "" : ";tag=resp1"}`);
  lines.push(`Call-ID: ${req.callId}`);
  lines.push(`CSeq: ${req.cseq.seq} ${req.cseq.method}`);
  lines.push("Content-Length: 0", "", "");
  const m = parseMessage(lines.join("\r\n"));
  if (m.kind !== "response") throw new Error("not a response");
  return m;
}

/** Resolve with the first value `poll` returns that is not undefined, checking every 5 ms,
 * or reject after `ms`. */
export async function waitFor<T>(
  poll: () => T | undefined,
  ms = 3000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const v = poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Text of bytes. */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** A server that answers every request with 200 and records what it got. */
export function autoAnswer(t: TransportLayer, got: InboundMessage[] = []): InboundMessage[] {
  t.onMessage((m) => {
    got.push(m);
    if (m.message.kind === "request") {
      t.sendResponse(makeResponse(m.message, 200), m).catch(() => {});
    }
  });
  return got;
}

/** Record everything that arrives. */
export function collect(t: TransportLayer): InboundMessage[] {
  const got: InboundMessage[] = [];
  t.onMessage((m) => got.push(m));
  return got;
}

/** The response with this Call-ID among what arrived. */
export function responseFor(got: InboundMessage[], callId: string): InboundMessage | undefined {
  return got.find((m) => m.message.kind === "response" && m.message.callId === callId);
}

/** Read from a connection until `pred` holds on what was read, the peer closes, or `ms` pass. */
export async function readUntil(
  conn: Deno.Conn,
  pred: (s: string) => boolean,
  ms = 3000,
): Promise<string> {
  let acc = "";
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  while (!pred(acc)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`Timed out reading; got ${JSON.stringify(acc.slice(0, 200))}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (n === "timeout") continue;
    if (n === null) break;
    acc += text(buf.subarray(0, n));
  }
  return acc;
}

/** True when the peer closes (or resets) the connection within `ms`; data read meanwhile is
 * ignored. */
export async function closedByPeer(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buf),
        new Promise<"timeout">((r) =>
          timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()))
        ),
      ]);
      clearTimeout(timer);
      if (n === null) return true;
      if (n === "timeout") return false;
    }
  } catch {
    return true; // reset
  }
  return false;
}
