/**
 * Test-only helpers: build requests and responses from text with the sip/ parser, and wait
 * for events with a bounded timeout.
 *
 * @module
 */

import { parseMessage } from "../../sip/parser.ts";
import type { SipRequest, SipResponse } from "../../sip/types.ts";

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
