/**
 * The shared shapes of the SIP message model (RFC 3261 §7, §19, §20, §25). Every layer codes
 * against these interfaces; `sip/message.ts` and `sip/uri.ts` implement them.
 *
 * Conventions:
 * - Parameter maps use lower-cased names; a parameter without a value (`;lr`) maps to `null`.
 * - Typed accessors return parsed snapshots. To change a header, use the mutation methods on
 *   the message (`setHeader`, `prependHeader`, ...) with a string or any value whose
 *   `toString()` gives the header value, e.g. a modified {@linkcode Via}.
 *
 * @module
 */

/** Header and URI parameters: lower-cased name to value, `null` for a flag parameter. */
export type Params = Map<string, string | null>;

/** A parsed URI (RFC 3261 §19.1). `sip:`, `sips:` and `tel:` are decoded; any other scheme
 * is kept intact as {@linkcode Uri.opaque}. */
export interface Uri {
  /** Lower-cased scheme: `sip`, `sips`, `tel`, or any other. */
  scheme: string;
  /** The user part, %-decoded (`sip:` / `sips:`), or the number for `tel:`. */
  user: string | undefined;
  /** The password part, %-decoded. */
  password: string | undefined;
  /** The host: a name, an IPv4 address, or an IPv6 reference with its brackets. */
  host: string;
  /** The port, when present. */
  port: number | undefined;
  /** URI parameters (`;transport=tcp;lr`), lower-cased names, values %-decoded. */
  params: Params;
  /** URI headers (`?subject=x&priority=urgent`), values %-decoded. */
  headers: Map<string, string>;
  /** For schemes other than sip/sips/tel: everything after `scheme:`, verbatim. */
  opaque: string | undefined;
  /** The URI text; unchanged parts keep their original escaping. */
  toString(): string;
  /** A deep copy. */
  clone(): Uri;
}

/** A name-addr or addr-spec with header parameters: From, To, Route, Record-Route, Path,
 * Refer-To, Contact (RFC 3261 §20). */
export interface NameAddr {
  /** The display name, unquoted and unescaped, if any. */
  displayName: string | undefined;
  /** The URI. */
  uri: Uri;
  /** Header parameters after the address (`;tag=...`), lower-cased names. */
  params: Params;
  /** Shortcut for `params.get("tag")`. */
  readonly tag: string | undefined;
  /** The header value text. */
  toString(): string;
}

/** One Contact value (RFC 3261 §20.10); `star` is true for `Contact: *`. */
export interface Contact extends NameAddr {
  /** True for the `*` contact of a REGISTER that removes all bindings. */
  readonly star: boolean;
  /** The `expires` parameter, if any. */
  readonly expires: number | undefined;
  /** The `q` parameter, if any (0 to 1). */
  readonly q: number | undefined;
}

/** One Via value (RFC 3261 §20.42, RFC 3581). */
export interface Via {
  /** Protocol name and version, normally `SIP/2.0`. */
  protocol: string;
  /** Upper-cased transport: `UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP`, ... */
  transport: string;
  /** The sent-by host (IPv6 with brackets). */
  host: string;
  /** The sent-by port, if any. */
  port: number | undefined;
  /** Parameters, lower-cased names. */
  params: Params;
  /** The `branch` parameter. */
  readonly branch: string | undefined;
  /** The `received` parameter. */
  readonly received: string | undefined;
  /** The `rport` parameter: a number, `true` when present without a value, else undefined. */
  readonly rport: number | true | undefined;
  /** The Via value text. */
  toString(): string;
}

/** The CSeq header (RFC 3261 §20.16). */
export interface CSeq {
  /** The sequence number, 0 to 2**31-1. */
  seq: number;
  /** The method, case-sensitive. */
  method: string;
}

/** A header value that can be written into a message. */
export type HeaderValue = string | { toString(): string };

/** What requests and responses share. */
export interface SipMessageBase {
  /** The protocol version from the start line, e.g. `SIP/2.0`. */
  readonly version: string;
  /** First raw value of a header (case-insensitive, compact forms understood), or undefined. */
  header(name: string): string | undefined;
  /** All values of a header, split on commas only where the header's grammar allows. */
  headers(name: string): string[];
  /** True when the header is present at least once. */
  hasHeader(name: string): boolean;
  /** Header names in wire order (as written, including repeats). */
  headerNames(): string[];
  /** Replace every value of a header with the given value(s). */
  setHeader(name: string, value: HeaderValue | HeaderValue[]): void;
  /** Add a value before all existing values of the header (e.g. Via, Record-Route). */
  prependHeader(name: string, value: HeaderValue): void;
  /** Add a value after all existing values of the header. */
  appendHeader(name: string, value: HeaderValue): void;
  /** Remove every value of a header. */
  removeHeader(name: string): void;
  /** Remove the first value of a header (e.g. the top Via or Route); returns it. */
  removeFirstValue(name: string): string | undefined;
  /** Replace the first value of a header (e.g. the top Via after adding `received`). */
  replaceFirstValue(name: string, value: HeaderValue): void;
  /** The Call-ID. */
  readonly callId: string;
  /** The CSeq. */
  readonly cseq: CSeq;
  /** The From header. */
  readonly from: NameAddr;
  /** The To header. */
  readonly to: NameAddr;
  /** Via values, top first. */
  readonly vias: Via[];
  /** Max-Forwards, if present. */
  readonly maxForwards: number | undefined;
  /** Contact values in order. */
  readonly contacts: Contact[];
  /** Route values in order. */
  readonly routes: NameAddr[];
  /** Record-Route values in order. */
  readonly recordRoutes: NameAddr[];
  /** The media type of the body, lower-cased, without parameters (`application/sdp`). */
  readonly contentType: string | undefined;
  /** The body length in bytes (the actual body; the header is rewritten on output). */
  readonly contentLength: number;
  /** The body bytes; assign to replace (Content-Length follows on output). */
  body: Uint8Array;
  /** The body decoded as UTF-8. */
  bodyText(): string;
  /** The wire form. */
  toString(): string;
  /** The wire form as bytes. */
  toBytes(): Uint8Array;
}

/** A SIP request. */
export interface SipRequest extends SipMessageBase {
  /** Discriminant. */
  readonly kind: "request";
  /** The method, case-sensitive (`INVITE`). */
  method: string;
  /** The Request-URI. */
  uri: Uri;
  /** A deep copy. */
  clone(): SipRequest;
}

/** A SIP response. */
export interface SipResponse extends SipMessageBase {
  /** Discriminant. */
  readonly kind: "response";
  /** The status code, 100 to 699. */
  status: number;
  /** The reason phrase (may be empty). */
  reason: string;
  /** A deep copy. */
  clone(): SipResponse;
}

/** A request or a response. */
export type SipMessage = SipRequest | SipResponse;
