/**
 * Header names: compact forms (RFC 3261 §7.3.3 and later extensions), canonical spelling,
 * the case-insensitive lookup key, and which headers carry comma-separated value lists.
 *
 * @example
 * ```ts
 * import { canonicalHeaderName, headerKey, isMultiValued } from "./header_names.ts";
 * canonicalHeaderName("i"); // "Call-ID"
 * headerKey("V"); // "via"
 * isMultiValued(headerKey("m")); // true (Contact)
 * ```
 *
 * @module
 */

/** Canonical spelling of the known headers, listed in wire case. */
const KNOWN_NAMES: readonly string[] = [
  "Accept",
  "Accept-Contact",
  "Accept-Encoding",
  "Accept-Language",
  "Accept-Resource-Priority",
  "Alert-Info",
  "Allow",
  "Allow-Events",
  "Answer-Mode",
  "Authentication-Info",
  "Authorization",
  "Call-ID",
  "Call-Info",
  "Contact",
  "Content-Disposition",
  "Content-Encoding",
  "Content-ID",
  "Content-Language",
  "Content-Length",
  "Content-Type",
  "CSeq",
  "Date",
  "Diversion",
  "Encryption",
  "Error-Info",
  "Event",
  "Expires",
  "Feature-Caps",
  "Flow-Timer",
  "From",
  "Geolocation",
  "Geolocation-Error",
  "Geolocation-Routing",
  "Hide",
  "History-Info",
  "Identity",
  "Identity-Info",
  "Info-Package",
  "In-Reply-To",
  "Join",
  "Max-Breadth",
  "Max-Forwards",
  "MIME-Version",
  "Min-Expires",
  "Min-SE",
  "Organization",
  "P-Access-Network-Info",
  "P-Asserted-Identity",
  "P-Asserted-Service",
  "P-Associated-URI",
  "P-Called-Party-ID",
  "P-Charging-Function-Addresses",
  "P-Charging-Vector",
  "P-Early-Media",
  "P-Preferred-Identity",
  "P-Preferred-Service",
  "P-Visited-Network-ID",
  "Path",
  "Permission-Missing",
  "Policy-Contact",
  "Policy-ID",
  "Priority",
  "Priv-Answer-Mode",
  "Privacy",
  "Proxy-Authenticate",
  "Proxy-Authorization",
  "Proxy-Require",
  "RAck",
  "Reason",
  "Record-Route",
  "Recv-Info",
  "Refer-Sub",
  "Refer-To",
  "Referred-By",
  "Reject-Contact",
  "Remote-Party-ID",
  "Replaces",
  "Reply-To",
  "Request-Disposition",
  "Require",
  "Resource-Priority",
  "Response-Key",
  "Retry-After",
  "Route",
  "RSeq",
  "Security-Client",
  "Security-Server",
  "Security-Verify",
  "Server",
  "Service-Route",
  "Session-Expires",
  "Session-ID",
  "SIP-ETag",
  "SIP-If-Match",
  "Subject",
  "Subscription-State",
  "Supported",
  "Suppress-If-Match",
  "Target-Dialog",
  "Timestamp",
  "To",
  "Trigger-Consent",
  "Unsupported",
  "User-Agent",
  "User-to-User",
  "Via",
  "Warning",
  "WWW-Authenticate",
];

/** Compact forms and their long names (RFC 3261 §7.3.3, RFC 3515, 3841, 3892, 4028, 4474,
 * 6665, 8224). */
const COMPACT: Readonly<Record<string, string>> = {
  a: "Accept-Contact",
  b: "Referred-By",
  c: "Content-Type",
  d: "Request-Disposition",
  e: "Content-Encoding",
  f: "From",
  i: "Call-ID",
  j: "Reject-Contact",
  k: "Supported",
  l: "Content-Length",
  m: "Contact",
  n: "Identity-Info",
  o: "Event",
  r: "Refer-To",
  s: "Subject",
  t: "To",
  u: "Allow-Events",
  v: "Via",
  x: "Session-Expires",
  y: "Identity",
};

/** Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1), by lower-case key. */
const MULTI_VALUED: readonly string[] = [
  "accept",
  "accept-contact",
  "accept-encoding",
  "accept-language",
  "accept-resource-priority",
  "alert-info",
  "allow",
  "allow-events",
  "call-info",
  "contact",
  "content-encoding",
  "content-language",
  "diversion",
  "error-info",
  "feature-caps",
  "geolocation",
  "history-info",
  "in-reply-to",
  "p-asserted-identity",
  "p-asserted-service",
  "p-associated-uri",
  "p-early-media",
  "p-preferred-identity",
  "p-preferred-service",
  "p-visited-network-id",
  "path",
  "permission-missing",
  "policy-contact",
  "proxy-require",
  "reason",
  "recv-info",
  "record-route",
  "reject-contact",
  "request-disposition",
  "require",
  "resource-priority",
  "route",
  "security-client",
  "security-server",
  "security-verify",
  "service-route",
  "supported",
  "trigger-consent",
  "unsupported",
  "via",
  "warning",
];

function buildCanonical(): Readonly<Record<string, string>> {
  const o: Record<string, string> = Object.create(null);
  for (const name of KNOWN_NAMES) o[name.toLowerCase()] = name;
  for (const [short, long] of Object.entries(COMPACT)) o[short] = long;
  return Object.freeze(o);
}

function buildKeys(): Readonly<Record<string, string>> {
  const o: Record<string, string> = Object.create(null);
  for (const name of KNOWN_NAMES) {
    const key = name.toLowerCase();
    o[name] = key;
    o[key] = key;
    o[name.toUpperCase()] = key;
  }
  for (const [short, long] of Object.entries(COMPACT)) {
    o[short] = long.toLowerCase();
    o[short.toUpperCase()] = long.toLowerCase();
  }
  return Object.freeze(o);
}

function buildMulti(): Readonly<Record<string, true>> {
  const o: Record<string, true> = Object.create(null);
  for (const key of MULTI_VALUED) o[key] = true;
  return Object.freeze(o);
}

/** Lower-case name or compact letter → canonical long name. */
const CANONICAL: Readonly<Record<string, string>> = buildCanonical();
/** Common spellings (canonical, lower, upper, compact) → lower-case long key. */
const KEYS: Readonly<Record<string, string>> = buildKeys();
/** Lower-case keys of list-valued headers. */
const MULTI: Readonly<Record<string, true>> = buildMulti();

/**
 * The lower-case long-form key of a header name, for case-insensitive lookups: compact forms
 * are expanded (`i` → `call-id`), everything else is lower-cased (`X-Foo` → `x-foo`).
 * @param name a header name as written on the wire
 * @returns the lookup key
 * @example
 * ```ts
 * import { headerKey } from "./header_names.ts";
 * headerKey("Call-ID"); // "call-id"
 * headerKey("i"); // "call-id"
 * ```
 */
export function headerKey(name: string): string {
  const hit = KEYS[name];
  if (hit !== undefined) return hit;
  const lower = name.toLowerCase();
  return KEYS[lower] ?? lower;
}

/**
 * {@linkcode headerKey} for a name that is a token (as a parser has checked), without a table
 * lookup for names longer than one letter: their key is the lower-case name.
 * @param name a header name as written on the wire
 * @returns the lookup key, equal to `headerKey(name)`
 */
export function keyOfName(name: string): string {
  return name.length === 1 ? headerKey(name) : name.toLowerCase();
}

/**
 * The canonical spelling of a header name: compact forms expanded, known headers in their
 * RFC case (`cseq` → `CSeq`, `www-authenticate` → `WWW-Authenticate`); unknown headers are
 * returned as written.
 * @param name a header name as written on the wire
 * @returns the canonical name
 * @example
 * ```ts
 * import { canonicalHeaderName } from "./header_names.ts";
 * canonicalHeaderName("m"); // "Contact"
 * canonicalHeaderName("X-Custom"); // "X-Custom"
 * ```
 */
export function canonicalHeaderName(name: string): string {
  return CANONICAL[headerKey(name)] ?? name;
}

/**
 * True when the header's grammar is a comma-separated list, so that one header line may carry
 * several values (RFC 3261 §7.3.1). False for single-valued headers (From, To, Call-ID,
 * CSeq, Date, ...), the authentication headers, and unknown headers.
 * @param key a lower-case key from {@linkcode headerKey}
 * @returns whether values may be split on top-level commas
 * @example
 * ```ts
 * import { isMultiValued } from "./header_names.ts";
 * isMultiValued("via"); // true
 * isMultiValued("www-authenticate"); // false
 * ```
 */
export function isMultiValued(key: string): boolean {
  return MULTI[key] === true;
}

/**
 * True when `name` is a header sipkit knows (any spelling, compact forms included).
 * @param name a header name
 * @returns whether the name is a known header
 */
export function isKnownHeader(name: string): boolean {
  return CANONICAL[headerKey(name)] !== undefined;
}

/** The lookup keys that have a small number ({@linkcode headerId}); the index is the id, and
 * id 0 means "no id". The message container matches lines by id instead of by key string. */
export const HEADER_ID_KEYS: readonly string[] = Object.freeze([
  "",
  "via",
  "to",
  "from",
  "cseq",
  "call-id",
  "contact",
  "content-length",
  "content-type",
  "route",
  "record-route",
  "max-forwards",
  "expires",
  "date",
  "allow",
  "supported",
  "user-agent",
]);

/**
 * The small number of a lookup key (an index of {@linkcode HEADER_ID_KEYS}), or 0 for a key
 * without one.
 * @param key a lower-case key from {@linkcode headerKey}
 * @returns the id, 0 when the key has none
 * @example
 * ```ts
 * import { HEADER_ID_KEYS, headerId, headerKey } from "./header_names.ts";
 * HEADER_ID_KEYS[headerId(headerKey("v"))]; // "via"
 * headerId("x-custom"); // 0
 * ```
 */
export function headerId(key: string): number {
  // By length, then by comparison: a table lookup would hash (and try to internalize) every
  // fresh key, which costs more than these few comparisons (a message may have many unknown
  // headers).
  switch (key.length) {
    case 2:
      return key === "to" ? 2 : 0;
    case 3:
      return key === "via" ? 1 : 0;
    case 4:
      return key === "from" ? 3 : key === "cseq" ? 4 : key === "date" ? 13 : 0;
    case 5:
      return key === "route" ? 9 : key === "allow" ? 14 : 0;
    case 7:
      return key === "call-id" ? 5 : key === "contact" ? 6 : key === "expires" ? 12 : 0;
    case 9:
      return key === "supported" ? 15 : 0;
    case 10:
      return key === "user-agent" ? 16 : 0;
    case 12:
      return key === "content-type"
        ? 8
        : key === "record-route"
        ? 10
        : key === "max-forwards"
        ? 11
        : 0;
    case 14:
      return key === "content-length" ? 7 : 0;
  }
  return 0;
}
