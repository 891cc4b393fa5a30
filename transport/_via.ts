/**
 * Folder-private helpers shared by the socket and in-memory transports: Via rewriting
 * (RFC 3261 §18.1.1, RFC 3581), address comparison, tokens.
 *
 * @module
 */

import type { SipRequest, Via } from "../sip/types.ts";
import { bareHost, hostForUri } from "./listen_uri.ts";
import { parseIp } from "./stun.ts";
import type { Address, TransportName } from "./types.ts";

/** Default port per transport (RFC 3261 §19.1.2, RFC 7118). */
export const DEFAULT_PORT: Readonly<Record<TransportName, number>> = Object.freeze({
  udp: 5060,
  tcp: 5060,
  tls: 5061,
  ws: 80,
  wss: 443,
});

/** The transport name of a Via transport token, or undefined when unsupported. */
export function viaTransportName(t: string): TransportName | undefined {
  switch (t.toUpperCase()) {
    case "UDP":
      return "udp";
    case "TCP":
      return "tcp";
    case "TLS":
      return "tls";
    case "WS":
      return "ws";
    case "WSS":
      return "wss";
    default:
      return undefined;
  }
}

/** True when two hosts are the same IP address (any spelling), or equal names. */
export function sameIp(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) return bareHost(a).toLowerCase() === bareHost(b).toLowerCase();
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** True for the any-address of IPv4 or IPv6. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** A random token of `n` characters from [0-9a-z]. */
export function randomToken(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let s = "";
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}

/** Serialize a Via value from its parts (RFC 3261 §20.42). */
export function formatVia(
  protocol: string,
  transport: string,
  host: string,
  port: number | undefined,
  params: ReadonlyMap<string, string | null>,
): string {
  let s = `${protocol}/${transport} ${hostForUri(host)}`;
  if (port !== undefined) s += `:${port}`;
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Rewrite the top Via of an outgoing request for the transport and sent-by used (adding a
 * Via with a fresh branch if there is none) and ask for `rport` (RFC 3581 §3). The value is
 * written in one pass over the old parameters (no intermediate map), in the order
 * {@linkcode formatVia} would give. */
export function stampVia(
  request: SipRequest,
  t: TransportName,
  host: string,
  port: number | undefined,
): void {
  const top = request.vias[0];
  let value = `${top?.protocol ?? "SIP/2.0"}/${t.toUpperCase()} ${hostForUri(host)}`;
  if (port !== undefined) value += `:${port}`;
  let branch = false;
  let rport = false;
  if (top) {
    for (const [k, v] of top.params) {
      if (k === "received") continue;
      if (k === "rport") {
        rport = true;
        value += ";rport";
        continue;
      }
      if (k === "branch") branch = true;
      value += v === null ? `;${k}` : `;${k}=${v}`;
    }
  }
  if (!branch) value += `;branch=z9hG4bK${randomToken(16)}`;
  if (!rport) value += ";rport";
  if (top) request.replaceFirstValue("Via", value);
  else request.prependHeader("Via", value);
}

/** RFC 3261 §18.2.1 and RFC 3581 §4 on a received request: `received` when the source
 * address differs from sent-by (always when `rport` is present), and the source port as the
 * `rport` value. */
export function stampReceived(request: SipRequest, via: Via, remote: Address): void {
  const wantsRport = via.rport !== undefined;
  if (!wantsRport && sameIp(via.host, remote.host)) return;
  let value = `${via.protocol}/${via.transport} ${hostForUri(via.host)}`;
  if (via.port !== undefined) value += `:${via.port}`;
  let received = false;
  for (const [k, v] of via.params) {
    if (k === "received") {
      received = true;
      value += `;received=${remote.host}`;
    } else if (k === "rport" && wantsRport) {
      value += `;rport=${remote.port}`;
    } else {
      value += v === null ? `;${k}` : `;${k}=${v}`;
    }
  }
  if (!received) value += `;received=${remote.host}`;
  request.replaceFirstValue("Via", value);
}
