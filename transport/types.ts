/**
 * The shapes of the transport layer: transport names, addresses, listeners, inbound messages,
 * send targets, options and limits, and the {@linkcode SipTransport} interface that both the
 * socket-backed {@linkcode TransportLayer} and the in-memory transport implement.
 *
 * Addresses: `host` is always written WITHOUT brackets, also for IPv6 (`::1`), in
 * {@linkcode Address}, {@linkcode ListenerInfo} and {@linkcode SendTarget}. Brackets appear only
 * inside SIP text (URIs, Via sent-by).
 *
 * @module
 */

import type { SipMessage, SipRequest, SipResponse, Uri } from "../sip/types.ts";

/** The transports sipkit speaks. SCTP is not available in Deno. */
export type TransportName = "udp" | "tcp" | "tls" | "ws" | "wss";

/** A socket address. `host` is an IP address or name, IPv6 without brackets. */
export interface Address {
  /** IP address or host name; IPv6 without brackets (`::1`). */
  host: string;
  /** Port number. */
  port: number;
}

/** One open listener, as reported by {@linkcode SipTransport.listen}. */
export interface ListenerInfo {
  /** Stable id, used by {@linkcode SipTransport.unlisten}. */
  id: string;
  /** The transport. */
  transport: TransportName;
  /** The bound address (IPv6 without brackets). */
  host: string;
  /** The bound port (the real one when port 0 was asked for). */
  port: number;
  /** A SIP URI that reaches this listener, e.g. `sip:127.0.0.1:5060;transport=tcp`. */
  uri: string;
  /** The HTTP path for WS/WSS listeners (default `/`). */
  path?: string;
  /** UDP listeners: the implementation carrying the socket (`deno`: `Deno.listenDatagram`,
   * `node`: `node:dgram`). */
  udpBackend?: "deno" | "node";
}

/** A message received by a transport, with where it came from. */
export interface InboundMessage {
  /** The parsed message. For requests, the top Via already carries RFC 3581 `received` and
   * `rport` where they apply. */
  message: SipMessage;
  /** The transport it came on. */
  transport: TransportName;
  /** The local address it arrived at. */
  local: Address;
  /** The peer address it came from. */
  remote: Address;
  /** For stream transports (TCP, TLS, WS, WSS): the connection id, usable to answer on the
   * same connection and as an RFC 5626 flow token. Undefined for UDP. */
  flowId: string | undefined;
  /** Arrival time (milliseconds since the epoch, from the layer's clock). */
  receivedAt: number;
}

/** Where to send a request. */
export interface SendTarget {
  /** The transport to use. */
  transport: TransportName;
  /** Destination host (IP or name; IPv6 without brackets). */
  host: string;
  /** Destination port. */
  port: number;
  /** Send over this existing connection if it is still open (RFC 5626 flow). */
  flowId?: string;
  /** Server name for TLS SNI and certificate verification (default: `host`). */
  tlsServerName?: string;
  /** HTTP path for WS/WSS (default `/`). */
  path?: string;
}

/** The context to route a response with: an {@linkcode InboundMessage} fits. */
export interface ResponseContext {
  /** The transport the request came on. */
  transport: TransportName;
  /** The connection it came on (streams). */
  flowId?: string | undefined;
  /** The peer address the request came from. */
  remote?: Address;
  /** The local address it arrived at (selects the UDP socket to answer from). */
  local?: Address;
}

/** Limits, each with a safe default (see `DEFAULT_LIMITS`). */
export interface TransportLimits {
  /** Largest SIP message accepted on any transport, in bytes (default 65535). */
  maxMessageSize: number;
  /** Most simultaneous stream connections, inbound plus outbound (default 1024). */
  maxConnections: number;
  /** A stream message (header section and body) must arrive completely within this many
   * milliseconds of its first byte, else the connection is closed (default 10000). */
  headerTimeout: number;
  /** Unparseable messages tolerated per connection, or per UDP source per minute, before the
   * connection is closed / the source is no longer answered (default 5). */
  maxMalformed: number;
  /** A connection with no SIP traffic for this long is closed (default 120000 ms). */
  idleTimeout: number;
  /** Outbound connect (and TLS / WebSocket handshake) timeout (default 10000 ms). */
  connectTimeout: number;
}

/** TLS client and server settings. */
export interface TlsOptions {
  /** Extra trusted CA certificates (PEM) for outbound TLS/WSS, e.g. a private CA. */
  caCerts?: string[];
  /** Verify the peer certificate (default true). `false` disables host-name verification
   * only: Deno cannot skip chain verification from code, so also pin the CA with
   * `caCerts`. */
  rejectUnauthorized?: boolean;
  /** Default server certificate chain (PEM text) for TLS/WSS listeners. */
  cert?: string;
  /** Default server private key (PEM text) for TLS/WSS listeners. */
  key?: string;
}

/** A DNS record as returned by a {@linkcode DnsResolver}. */
export type DnsRecord =
  | {
    type: "NAPTR";
    order: number;
    preference: number;
    flags: string;
    services: string;
    regexp: string;
    replacement: string;
    ttl?: number;
  }
  | { type: "SRV"; priority: number; weight: number; port: number; target: string; ttl?: number }
  | { type: "A" | "AAAA"; address: string; ttl?: number };

/** The record types RFC 3263 needs. */
export type DnsRecordType = "NAPTR" | "SRV" | "A" | "AAAA";

/** A DNS source: production uses `Deno.resolveDns`, tests a fake zone. A missing name or
 * type resolves to an empty list; `ttl` is in seconds when known. */
export interface DnsResolver {
  /** Look up records of one type. */
  resolve(name: string, type: DnsRecordType): Promise<DnsRecord[]>;
}

/** Options of a {@linkcode TransportLayer}. Everything has a default. */
export interface TransportOptions {
  /** Limits (partial: the rest take their defaults). */
  limits?: Partial<TransportLimits>;
  /** TLS settings. */
  tls?: TlsOptions;
  /** RFC 3261 §18.1.1: a request larger than this (bytes) is sent over TCP instead of UDP
   * (default 1300). */
  udpMaxSize?: number;
  /** DNS source for RFC 3263 (default: `Deno.resolveDns`). */
  dns?: DnsResolver;
  /** TTL in seconds used when the DNS source gives none (default 300). */
  defaultTtl?: number;
  /** Random source in [0,1) for SRV weights (default `Math.random`). */
  random?: () => number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /** RFC 5626 §4.4.1: interval in ms of CRLFCRLF pings on flows kept open with
   * `keepFlow()` (default 120000). Other connections are not pinged; they close when idle. */
  keepAliveInterval?: number;
  /** RFC 5626: close a flow when no pong arrives within this many ms of a ping (default
   * 10000). */
  keepAliveTimeout?: number;
  /** Logger category suffix, e.g. the service name (category `["sipkit", "transport", name]`). */
  name?: string;
  /** Answer malformed UDP requests whose Via can be read with 400 (default true). */
  answerMalformed?: boolean;
}

/** Per-listener options, in addition to (and overriding) the URI parameters. */
export interface ListenOptions {
  /** Server certificate chain (PEM text) for TLS/WSS. */
  cert?: string;
  /** Server private key (PEM text) for TLS/WSS. */
  key?: string;
  /** Path of the certificate file (like the `tls_certfile` URI parameter). */
  certFile?: string;
  /** Path of the key file (like the `tls_keyfile` URI parameter). */
  keyFile?: string;
  /** HTTP path for WS/WSS (like `;path=`). */
  path?: string;
  /** Host to write in Via sent-by and Contact when the listener is bound to a wildcard. */
  advertisedHost?: string;
}

/** The transport interface the service layer uses. */
export interface SipTransport extends AsyncDisposable {
  /** Open the listeners described by a listen URI; resolves with what was opened. */
  listen(uri: string, options?: ListenOptions): Promise<ListenerInfo[]>;
  /** Close one listener (open connections it accepted are closed too). */
  unlisten(id: string): Promise<void>;
  /** The open listeners. */
  readonly listeners: ListenerInfo[];
  /** Register the handler for inbound messages (one handler; a later call replaces it). */
  onMessage(handler: (message: InboundMessage) => void): void;
  /** Send a request; resolves with the target really used. */
  sendRequest(request: SipRequest, target: SendTarget): Promise<SendTarget>;
  /** Send a response per RFC 3261 §18.2.2 / RFC 3581. */
  sendResponse(response: SipResponse, context?: ResponseContext): Promise<void>;
  /** RFC 3263: the ordered targets for a URI. */
  resolve(uri: Uri): Promise<SendTarget[]>;
  /** Close every listener and connection. */
  close(): Promise<void>;
}
