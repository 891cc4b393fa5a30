/**
 * Folder-private helpers shared by the socket and in-memory transports: Via rewriting
 * (RFC 3261 §18.1.1, RFC 3581), address comparison, tokens.
 *
 * @module
 */

import type { SipMessage, SipRequest, Via } from "../sip/types.ts";
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

/** Rewrite the top Via of an outgoing request for the transport and sent-by used (adding a
 * Via with a fresh branch if there is none) and ask for `rport` (RFC 3581 §3). The value is
 * written in one pass over the old parameters (no intermediate map): `protocol/transport
 * sent-by`, then the old parameters in order without `received` (`rport` without a value),
 * then a `branch` and `rport` if they were missing (RFC 3261 §20.42). */
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

/** The text of the first Via header line of a message (maybe several comma-separated
 * values), read from its header fields when the message exposes them (the parser's and the
 * builders' messages do: no value split, no cache), else through `header`. */
export function firstViaText(msg: SipMessage): string | undefined {
  const m = msg as SipMessage & {
    fields?: () => readonly { readonly key: string; readonly value: string }[];
  };
  if (typeof m.fields !== "function") return msg.header("Via");
  for (const f of m.fields()) if (f.key === "via") return f.value;
  return undefined;
}

/** Where a UDP response goes per RFC 3261 §18.2.2 and RFC 3581 §4 (`received` with the `rport`
 * value or the sent-by port, else the sent-by host and port; 5060 by default), read from the
 * text of its top Via value (the first of a comma-separated line) in one pass, without parsing
 * it into a {@linkcode Via}. Returns undefined when the value has `maddr`, a quoted string, a
 * repeated `received` or `rport`, or anything else this quick reading does not cover: the
 * caller then parses the Via. */
export function quickUdpReplyAddress(value: string | undefined): Address | undefined {
  if (value === undefined || value.indexOf('"') >= 0) return undefined;
  const comma = value.indexOf(",");
  const end = comma < 0 ? value.length : comma;
  let semi = value.indexOf(";");
  if (semi < 0 || semi > end) semi = end;
  // "SIP/2.0/UDP host:port": the sent-by is the last word before the parameters.
  let stop = semi;
  while (stop > 0 && isSpace(value.charCodeAt(stop - 1))) stop--;
  let start = stop;
  while (start > 0 && !isSpace(value.charCodeAt(start - 1))) start--;
  if (start === 0 || start === stop) return undefined;
  const slash = value.indexOf("/");
  if (slash < 0 || slash >= start) return undefined;
  let host: string;
  let port = 5060;
  let colon: number;
  if (value.charCodeAt(start) === 91) { // "[": an IPv6 reference
    const close = value.indexOf("]", start);
    if (close < 0 || close >= stop) return undefined;
    host = value.slice(start + 1, close);
    colon = close + 1 < stop ? close + 1 : -1;
    if (colon >= 0 && value.charCodeAt(colon) !== 58) return undefined;
  } else {
    colon = value.indexOf(":", start);
    if (colon >= stop) colon = -1;
    if (colon >= 0 && value.indexOf(":", colon + 1) >= 0 && value.indexOf(":", colon + 1) < stop) {
      return undefined; // a bare IPv6 address: not valid here
    }
    host = value.slice(start, colon < 0 ? stop : colon);
  }
  if (host === "") return undefined;
  if (colon >= 0) {
    const p = digitsValue(value, colon + 1, stop);
    if (p === undefined) return undefined;
    port = p;
  }
  let received: string | undefined;
  let rport: number | undefined;
  let rportSeen = false;
  let i = semi;
  while (i < end) {
    const from = i + 1;
    let to = value.indexOf(";", from);
    if (to < 0 || to > end) to = end;
    let eq = value.indexOf("=", from);
    if (eq < 0 || eq > to) eq = -1;
    const nameEnd = eq < 0 ? to : eq;
    if (nameIs(value, from, nameEnd, "maddr")) return undefined;
    if (nameIs(value, from, nameEnd, "received")) {
      if (received !== undefined || eq < 0) return undefined;
      const v = value.slice(eq + 1, to).trim();
      if (v === "") return undefined;
      received = bareHost(v);
    } else if (nameIs(value, from, nameEnd, "rport")) {
      if (rportSeen) return undefined; // a repeated parameter: left to the full parse
      rportSeen = true;
      if (eq >= 0) {
        rport = digitsValue(value, eq + 1, to);
        if (rport === undefined) return undefined;
      }
    }
    i = to;
  }
  // As the parsed route: `rport` only counts together with `received` (RFC 3581 §4).
  if (received !== undefined) return { host: received, port: rport ?? port };
  return { host, port };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/** True when `text[start, end)`, without surrounding blanks, is `name` in any case. */
function nameIs(text: string, start: number, end: number, name: string): boolean {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (end - start !== name.length) return false;
  for (let k = 0; k < name.length; k++) {
    if ((text.charCodeAt(start + k) | 32) !== name.charCodeAt(k)) return false;
  }
  return true;
}

/** The port number written in `text[start, end)` (blanks around allowed), or undefined. */
function digitsValue(text: string, start: number, end: number): number | undefined {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (end === start || end - start > 5) return undefined;
  let n = 0;
  for (let k = start; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return n > 0 && n <= 65535 ? n : undefined;
}
