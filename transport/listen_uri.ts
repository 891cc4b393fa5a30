/**
 * Listen addresses written as SIP URIs, as NkSIP does:
 *
 * - `sip:127.0.0.1:5060` — UDP and TCP on the same port
 * - `sip:127.0.0.1:5060;transport=udp` — one transport
 * - `<sip:0.0.0.0:5061;transport=tls;tls_certfile=cert.pem;tls_keyfile=key.pem>` — TLS
 * - `sips:0.0.0.0:5061` — TLS too
 * - `<sip:[::1]:8080;transport=ws;path=/sip>` — WebSocket (RFC 7118); `sips:` + `ws` = WSS
 *
 * Parameters understood: `transport`, `path`, `tls_certfile`, `tls_keyfile`, `advertise`
 * (host written in Via/Contact when bound to a wildcard address).
 *
 * @module
 */

import { TransportError } from "./errors.ts";
import type { TransportName } from "./types.ts";

/** One listener to open, parsed from a listen URI. */
export interface ListenSpec {
  /** The transport. */
  transport: TransportName;
  /** The address to bind, IPv6 without brackets. */
  host: string;
  /** The port; 0 means "pick one". */
  port: number;
  /** WS/WSS path (default `/`). */
  path?: string;
  /** TLS certificate file (`tls_certfile`). */
  certFile?: string;
  /** TLS key file (`tls_keyfile`). */
  keyFile?: string;
  /** Host to advertise (`advertise`). */
  advertisedHost?: string;
}

const TRANSPORTS: ReadonlySet<string> = new Set(["udp", "tcp", "tls", "ws", "wss"]);

/** The default port of a transport when the listen URI has none. */
export function defaultPort(transport: TransportName): number {
  switch (transport) {
    case "udp":
    case "tcp":
      return 5060;
    case "tls":
      return 5061;
    case "ws":
      return 80;
    case "wss":
      return 443;
  }
}

/**
 * Parse a listen URI into the listeners it asks for. A plain `sip:` URI without `transport`
 * gives two specs, UDP and TCP on the same port.
 *
 * @example
 * ```ts
 * import { parseListenUri } from "./listen_uri.ts";
 * const specs = parseListenUri("<sip:[::1]:0;transport=ws;path=/sip>");
 * if (specs[0]?.transport !== "ws" || specs[0].host !== "::1") throw new Error();
 * ```
 *
 * @param text the listen URI, with or without angle brackets
 * @returns one spec per listener
 * @throws {TransportError} when the URI is not a usable listen address
 */
export function parseListenUri(text: string): ListenSpec[] {
  let s = text.trim();
  if (s.startsWith("<")) {
    if (!s.endsWith(">")) throw new TransportError(`Listen URI ${text} has an unclosed "<"`);
    s = s.slice(1, -1).trim();
  }
  const colon = s.indexOf(":");
  if (colon < 0) throw new TransportError(`Listen URI ${text} has no scheme`);
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme !== "sip" && scheme !== "sips") {
    throw new TransportError(`Listen URI ${text} must use the sip: or sips: scheme`);
  }
  let rest = s.slice(colon + 1);
  const q = rest.indexOf("?");
  if (q >= 0) rest = rest.slice(0, q);
  const at = rest.lastIndexOf("@");
  if (at >= 0) rest = rest.slice(at + 1);
  const semi = rest.indexOf(";");
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = new Map<string, string>();
  if (semi >= 0) {
    for (const part of rest.slice(semi + 1).split(";")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const name = (eq >= 0 ? part.slice(0, eq) : part).trim().toLowerCase();
      const value = eq >= 0 ? decodeURIComponentSafe(part.slice(eq + 1).trim(), text) : "";
      params.set(name, value);
    }
  }
  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]");
    if (close < 0) throw new TransportError(`Listen URI ${text} has an unclosed IPv6 reference`);
    host = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) throw new TransportError(`Listen URI ${text} has a bad port`);
      portText = after.slice(1);
    }
  } else {
    const c = hostport.indexOf(":");
    host = c >= 0 ? hostport.slice(0, c) : hostport;
    portText = c >= 0 ? hostport.slice(c + 1) : undefined;
  }
  if (host === "") throw new TransportError(`Listen URI ${text} has no host`);
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new TransportError(`Listen URI ${text} has a bad port ${portText}`);
    }
    port = Number(portText);
  }
  const tp = params.get("transport")?.toLowerCase();
  if (tp !== undefined && !TRANSPORTS.has(tp)) {
    throw new TransportError(
      tp === "sctp"
        ? `Listen URI ${text}: SCTP is not available in Deno`
        : `Listen URI ${text} has an unknown transport ${tp}`,
    );
  }
  let transports: TransportName[];
  if (scheme === "sips") {
    if (tp === undefined || tp === "tls" || tp === "tcp") transports = ["tls"];
    else if (tp === "ws" || tp === "wss") transports = ["wss"];
    else throw new TransportError(`Listen URI ${text}: sips: cannot use transport ${tp}`);
  } else {
    transports = tp === undefined ? ["udp", "tcp"] : [tp as TransportName];
  }
  return transports.map((transport) => {
    const spec: ListenSpec = { transport, host, port: port ?? defaultPort(transport) };
    const path = params.get("path");
    if (transport === "ws" || transport === "wss") {
      spec.path = path === undefined || path === ""
        ? "/"
        : path.startsWith("/")
        ? path
        : `/${path}`;
    }
    const certFile = params.get("tls_certfile");
    const keyFile = params.get("tls_keyfile");
    if (certFile) spec.certFile = certFile;
    if (keyFile) spec.keyFile = keyFile;
    const adv = params.get("advertise");
    if (adv) spec.advertisedHost = adv.replace(/^\[(.*)\]$/, "$1");
    return spec;
  });
}

function decodeURIComponentSafe(value: string, text: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new TransportError(`Listen URI ${text} has a bad %-escape`);
  }
}

/** Write a host for SIP text: IPv6 in brackets. */
export function hostForUri(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** Strip IPv6 brackets from a host. */
export function bareHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** The URI that reaches a listener, e.g. `sip:[::1]:5080;transport=ws`. */
export function listenerUri(transport: TransportName, host: string, port: number): string {
  const scheme = transport === "tls" || transport === "wss" ? "sips" : "sip";
  const tp = transport === "udp" ? "" : `;transport=${transport === "wss" ? "ws" : transport}`;
  return `${scheme}:${hostForUri(host)}:${port}${tp}`;
}
