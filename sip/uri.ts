/**
 * SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966) and any other absolute URI, kept intact.
 *
 * A parsed URI keeps its original text: {@linkcode SipUri.toString} returns it unchanged until
 * a field is modified, and even then unchanged parts (user, parameters, headers) keep their
 * original %-escaping. Field values are %-decoded on access.
 *
 * @example
 * ```ts
 * import { parseUri, uriEquals } from "./uri.ts";
 * const uri = parseUri("sip:%61lice@atlanta.com;transport=TCP");
 * uri.user; // "alice"
 * uri.params.get("transport"); // "TCP"
 * String(uri); // "sip:%61lice@atlanta.com;transport=TCP"
 * uriEquals(uri, parseUri("sip:alice@AtLanTa.CoM;Transport=tcp")); // true
 * ```
 *
 * @module
 */

import { SipParseError } from "./errors.ts";
import {
  C_HNV,
  C_HOST,
  C_PARAM,
  C_PASSWORD,
  C_SCHEME,
  C_USER,
  type CharCodes,
  checkEscaped,
  decodeEscaped,
  describeChar,
  encodeEscaped,
  hasClass,
  isHostName,
  isIpv6,
  isIpv6Reference,
  matchAt,
  normalizeIpv6,
  parseDigits,
  scanHostName,
  scanHostNameCodes,
} from "./grammar.ts";
import type { Params, Uri } from "./types.ts";

/** Options to build a {@linkcode SipUri}. */
export interface SipUriOptions {
  /** The scheme, default `sip`. `sip`, `sips` and `tel` are structured; any other scheme
   * needs {@linkcode SipUriOptions.opaque}. */
  scheme?: string;
  /** The user part (not escaped; escaping happens on output), or the number for `tel:`. */
  user?: string | undefined;
  /** The password part (not escaped). */
  password?: string | undefined;
  /** The host: a name, an IPv4 address, or an IPv6 address (brackets added when missing). */
  host?: string;
  /** The port. */
  port?: number | undefined;
  /** URI parameters; `null` for a flag parameter such as `lr`. */
  params?: Iterable<readonly [string, string | null]> | Record<string, string | null>;
  /** URI headers (`?name=value`), not escaped. */
  headers?: Iterable<readonly [string, string]> | Record<string, string>;
  /** Everything after `scheme:` for schemes other than sip, sips and tel. */
  opaque?: string;
}

const STRUCTURED = 0;
const TEL = 1;
const OPAQUE = 2;

function schemeKind(scheme: string): number {
  if (scheme === "sip" || scheme === "sips") return STRUCTURED;
  if (scheme === "tel") return TEL;
  return OPAQUE;
}

function clip(text: string): string {
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

function entriesOf<V>(
  src: Iterable<readonly [string, V]> | Record<string, V>,
): Iterable<readonly [string, V]> {
  return (Symbol.iterator in src)
    ? src as Iterable<readonly [string, V]>
    : Object.entries(src as Record<string, V>);
}

function normalizeHost(host: string): string {
  if (host.charCodeAt(0) !== 91 && host.indexOf(":") >= 0 && isIpv6(host, 0, host.length)) {
    return "[" + host + "]";
  }
  if (
    host.charCodeAt(0) === 91
      ? isIpv6Reference(host, 0, host.length)
      : isHostName(host, 0, host.length)
  ) {
    return host;
  }
  throw new TypeError(`Invalid URI host: "${clip(host)}"`);
}

/** Check the characters of a telephone-subscriber number (RFC 3966 §3): digits, hex digits,
 * `*`, `#`, visual separators `-.()`, and a leading `+` for global numbers. */
function checkTelNumber(s: string, start: number, end: number): void {
  if (start >= end) throw new SipParseError("Empty number in tel URI");
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) ||
      c === 42 || c === 35 || c === 45 || c === 46 || c === 40 || c === 41 ||
      (c === 43 && i === start);
    if (!ok) {
      throw new SipParseError(
        `Invalid character ${describeChar(c)} in tel URI number: "${clip(s.slice(start, end))}"`,
      );
    }
  }
}

/** Validate `;name[=value]` URI parameters in `s[start:end]` (which starts with `;`). */
function checkUriParams(s: string, start: number, end: number, whole: string): void {
  let i = start;
  while (i < end) {
    // s[i] === ';'
    let j = s.indexOf(";", i + 1);
    if (j < 0 || j > end) j = end;
    if (j === i + 1) throw new SipParseError(`Empty URI parameter in "${clip(whole)}"`);
    let eq = i + 1;
    while (eq < j && s.charCodeAt(eq) !== 61) eq++;
    checkEscaped(s, i + 1, eq, C_PARAM, "URI parameter name");
    if (eq < j) {
      if (eq + 1 === j) {
        throw new SipParseError(`URI parameter "${s.slice(i + 1, eq)}" has an empty value`);
      }
      checkEscaped(s, eq + 1, j, C_PARAM, "URI parameter value");
    }
    i = j;
  }
}

/** Validate `name=value&...` URI headers in `s[start:end]` (after the `?`). */
function checkUriHeaders(s: string, start: number, end: number, whole: string): void {
  if (start >= end) throw new SipParseError(`Empty header list after '?' in "${clip(whole)}"`);
  let i = start;
  while (i <= end) {
    let j = s.indexOf("&", i);
    if (j < 0 || j > end) j = end;
    let eq = i;
    while (eq < j && s.charCodeAt(eq) !== 61) eq++;
    if (eq >= j) {
      throw new SipParseError(
        `URI header "${clip(s.slice(i, j))}" has no '=' in "${clip(whole)}"`,
      );
    }
    if (eq === i) throw new SipParseError(`URI header with an empty name in "${clip(whole)}"`);
    checkEscaped(s, i, eq, C_HNV, "URI header name");
    checkEscaped(s, eq + 1, j, C_HNV, "URI header value");
    i = j + 1;
  }
}

/** Throw the most specific error for a bad host starting at `h`. */
function hostError(text: string, h: number, end: number, whole: string): never {
  let he = h;
  while (he < end) {
    const c = text.charCodeAt(he);
    if (c === 58 || c === 59 || c === 63) break;
    he++;
  }
  if (he < end && text.charCodeAt(he) === 58 && text.indexOf(":", he + 1) >= 0) {
    const next = text.indexOf(":", he + 1);
    if (next < end) {
      throw new SipParseError(
        `Invalid host in URI "${clip(whole)}" (an IPv6 address must be enclosed in '[...]')`,
      );
    }
  }
  let bad = h;
  while (bad < he && (hasClass(text.charCodeAt(bad), C_HOST) || text.charCodeAt(bad) === 46)) {
    bad++;
  }
  const why = bad < he
    ? `invalid character ${describeChar(text.charCodeAt(bad))}`
    : "not a valid host name or IPv4 address";
  throw new SipParseError(`Invalid host "${clip(text.slice(h, he))}" in URI (${why})`);
}

interface ParamSnap {
  name: string;
  value: string | null;
  raw: string;
}

function buildParams(s: string, snaps: ParamSnap[]): Params {
  const map: Params = new Map();
  let i = 0;
  const end = s.length;
  while (i < end) {
    let j = s.indexOf(";", i + 1);
    if (j < 0) j = end;
    let eq = i + 1;
    while (eq < j && s.charCodeAt(eq) !== 61) eq++;
    const name = decodeEscaped(s, i + 1, eq, C_PARAM, "URI parameter name").toLowerCase();
    const value = eq < j ? decodeEscaped(s, eq + 1, j, C_PARAM, "URI parameter value") : null;
    if (!map.has(name)) {
      map.set(name, value);
      snaps.push({ name, value, raw: s.slice(i + 1, j) });
    }
    i = j;
  }
  return map;
}

interface HeaderSnap {
  name: string;
  value: string;
  raw: string;
}

function buildHeaders(s: string, snaps: HeaderSnap[]): Map<string, string> {
  const map = new Map<string, string>();
  let i = 0;
  const end = s.length;
  while (i <= end) {
    let j = s.indexOf("&", i);
    if (j < 0) j = end;
    let eq = i;
    while (eq < j && s.charCodeAt(eq) !== 61) eq++;
    const name = decodeEscaped(s, i, eq, C_HNV, "URI header name");
    const value = decodeEscaped(s, eq + 1, j, C_HNV, "URI header value");
    const prev = map.get(name);
    map.set(name, prev === undefined ? value : prev + "," + value);
    snaps.push({ name, value: map.get(name) ?? value, raw: s.slice(i, j) });
    i = j + 1;
  }
  // a snapshot is only reusable when its name occurred once
  return map;
}

/** The snapshot of an unchanged entry: usually at the same position, else searched (only
 * for small lists, so that serializing stays linear). */
function findSnap<S extends { name: string; value: string | null }>(
  snaps: readonly S[],
  k: number,
  name: string,
  value: string | null,
): S | undefined {
  const at = snaps[k];
  if (at !== undefined && at.name === name && at.value === value) return at;
  if (snaps.length > 32) return undefined;
  return snaps.find((s) => s.name === name && s.value === value);
}

const NO_PARAM_SNAPS: readonly ParamSnap[] = Object.freeze([]);
const NO_HEADER_SNAPS: readonly HeaderSnap[] = Object.freeze([]);

function sameParams(map: Params, snaps: readonly ParamSnap[]): boolean {
  if (map.size !== snaps.length) return false;
  let k = 0;
  for (const [name, value] of map) {
    const s = snaps[k++];
    if (s === undefined || s.name !== name || s.value !== value) return false;
  }
  return true;
}

function sameHeaders(map: Map<string, string>, snaps: readonly HeaderSnap[]): boolean {
  if (map.size !== snaps.length) return false;
  let k = 0;
  for (const [name, value] of map) {
    const s = snaps[k++];
    if (s === undefined || s.name !== name || s.value !== value) return false;
  }
  return true;
}

/**
 * A URI: `sip:`, `sips:` and `tel:` URIs are decoded into fields; any other absolute URI is
 * kept verbatim in {@linkcode SipUri.opaque}. Implements {@linkcode Uri}.
 *
 * Build one with an options object, or get one from {@linkcode parseUri}:
 *
 * @example
 * ```ts
 * import { SipUri } from "./uri.ts";
 * const uri = new SipUri({ user: "alice smith", host: "example.com", params: { lr: null } });
 * String(uri); // "sip:alice%20smith@example.com;lr"
 * ```
 */
export class SipUri implements Uri {
  #scheme = "sip";
  #user: string | undefined = undefined;
  #password: string | undefined = undefined;
  #host = "";
  #port: number | undefined = undefined;
  #opaque: string | undefined = undefined;
  #params: Params | undefined = undefined;
  #headers: Map<string, string> | undefined = undefined;

  // What the URI was parsed from; used to keep the original text and escaping.
  #raw: string | undefined = undefined;
  #dirty = false;
  #rawScheme = "";
  #rawUser: string | undefined = undefined;
  #origUser: string | undefined = undefined;
  #rawPassword: string | undefined = undefined;
  #origPassword: string | undefined = undefined;
  #rawParams = "";
  #rawHeaders = "";
  #paramSnaps: readonly ParamSnap[] = NO_PARAM_SNAPS;
  #headerSnaps: readonly HeaderSnap[] = NO_HEADER_SNAPS;

  /**
   * Build a URI from its parts. Without options, a blank `sip:` URI whose host must be set
   * before use.
   * @param options the parts; `host` is required for sip/sips, `opaque` for other schemes
   * @throws {TypeError} when the host or port is invalid or a required part is missing
   */
  constructor(options?: SipUriOptions) {
    if (options === undefined) return;
    const scheme = (options.scheme ?? "sip").toLowerCase();
    if (scheme.length === 0 || !hasClass(scheme.charCodeAt(0), C_SCHEME)) {
      throw new TypeError(`Invalid URI scheme: "${scheme}"`);
    }
    this.#scheme = scheme;
    const kind = schemeKind(scheme);
    if (kind === OPAQUE) {
      if (options.opaque === undefined || options.opaque === "") {
        throw new TypeError(`A ${scheme}: URI needs its opaque part`);
      }
      this.#opaque = options.opaque;
      return;
    }
    this.#user = options.user;
    if (kind === TEL) {
      if (options.user === undefined || options.user === "") {
        throw new TypeError("A tel: URI needs a number (user)");
      }
    } else {
      this.#password = options.password;
      if (options.host === undefined || options.host === "") {
        throw new TypeError(`A ${scheme}: URI needs a host`);
      }
      this.#host = normalizeHost(options.host);
      if (options.port !== undefined) this.port = options.port;
    }
    const params: Params = new Map();
    if (options.params !== undefined) {
      for (const [k, v] of entriesOf(options.params)) params.set(k.toLowerCase(), v);
    }
    this.#params = params;
    const headers = new Map<string, string>();
    if (options.headers !== undefined && kind === STRUCTURED) {
      for (const [k, v] of entriesOf(options.headers)) headers.set(k, v);
    }
    this.#headers = headers;
  }

  /**
   * Quick validity test for the most common URI shape, without building anything:
   * `sip:[user@]host[:port][;name[=value]]*` with no `%`-escape, password, `?headers`, IPv6
   * reference or other scheme. Returns true only when {@linkcode SipUri.parse} would accept
   * `text[start:end]`; false means "not known to be valid" (parse it to find out), so a
   * caller may defer the parse of a URI this accepts.
   * @param text the URI, or a larger string holding it
   * @param start where the URI starts in `text`
   * @param end where the URI ends in `text`
   * @returns true when the URI is certainly valid
   */
  static isSimpleValid(text: string, start: number, end: number): boolean {
    if (
      start + 4 > end || text.charCodeAt(start) !== 115 || text.charCodeAt(start + 1) !== 105 ||
      text.charCodeAt(start + 2) !== 112 || text.charCodeAt(start + 3) !== 58
    ) {
      return false;
    }
    const p = start + 4;
    // One pass over the user part: it ends at '@'. Stopping at any other character means
    // there is no (simple) user part; then the host starts at `p`, and an '@' further on
    // fails the host, port or parameter checks below (false only means "parse fully").
    let h = p;
    let u = p;
    while (u < end) {
      const c = text.charCodeAt(u);
      if (c === 37 || c === 58 || c === 64 || !hasClass(c, C_USER)) break;
      u++;
    }
    if (u < end && text.charCodeAt(u) === 64) {
      if (u === p) return false;
      h = u + 1;
    }
    const he = scanHostName(text, h, end);
    if (he <= h) return false;
    let k = he;
    if (k < end && text.charCodeAt(k) === 58) {
      let pe = k + 1;
      let port = 0;
      while (pe < end) {
        const c = text.charCodeAt(pe);
        if (c < 48 || c > 57) break;
        port = port * 10 + (c - 48);
        pe++;
      }
      if (pe === k + 1 || pe - k > 6 || port > 65535) return false;
      k = pe;
    }
    if (k >= end) return true;
    if (text.charCodeAt(k) !== 59) return false;
    // uri-parameters: ";" name [ "=" value ], both non-empty, C_PARAM characters.
    let segment = k + 1;
    let eq = -1;
    for (let i = k + 1; i <= end; i++) {
      const c = i < end ? text.charCodeAt(i) : 59;
      if (c === 59) {
        if (i === segment || eq === segment || eq === i - 1) return false;
        segment = i + 1;
        eq = -1;
      } else if (c === 61) {
        if (eq >= 0) return false;
        eq = i;
      } else if (c === 37 || !hasClass(c, C_PARAM)) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@linkcode SipUri.isSimpleValid} over the char codes of the text (the same answer for
   * the same characters; reading codes is cheaper than `charCodeAt` on a fresh string).
   * @param c the char codes (`c[i] === text.charCodeAt(i)`)
   * @param start where the URI starts
   * @param end where the URI ends
   * @returns true when the URI is certainly valid
   */
  static isSimpleValidCodes(c: CharCodes, start: number, end: number): boolean {
    if (
      start + 4 > end || c[start] !== 115 || c[start + 1] !== 105 || c[start + 2] !== 112 ||
      c[start + 3] !== 58
    ) {
      return false;
    }
    const p = start + 4;
    let h = p;
    let u = p;
    while (u < end) {
      const ch = c[u]!;
      if (ch === 37 || ch === 58 || ch === 64 || !hasClass(ch, C_USER)) break;
      u++;
    }
    if (u < end && c[u] === 64) {
      if (u === p) return false;
      h = u + 1;
    }
    const he = scanHostNameCodes(c, h, end);
    if (he <= h) return false;
    let k = he;
    if (k < end && c[k] === 58) {
      let pe = k + 1;
      let port = 0;
      while (pe < end) {
        const ch = c[pe]!;
        if (ch < 48 || ch > 57) break;
        port = port * 10 + (ch - 48);
        pe++;
      }
      if (pe === k + 1 || pe - k > 6 || port > 65535) return false;
      k = pe;
    }
    if (k >= end) return true;
    if (c[k] !== 59) return false;
    let segment = k + 1;
    let eq = -1;
    for (let i = k + 1; i <= end; i++) {
      const ch = i < end ? c[i]! : 59;
      if (ch === 59) {
        if (i === segment || eq === segment || eq === i - 1) return false;
        segment = i + 1;
        eq = -1;
      } else if (ch === 61) {
        if (eq >= 0) return false;
        eq = i;
      } else if (ch === 37 || !hasClass(ch, C_PARAM)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Parse URI text; same as {@linkcode parseUri}.
   * @param text the URI, without angle brackets, or a larger string holding it
   * @param start where the URI starts in `text` (default 0)
   * @param end where the URI ends in `text` (default: the end)
   * @returns the parsed URI
   * @throws {SipParseError} with the specific reason when the text is not a valid URI
   */
  static parse(text: string, start = 0, end: number = text.length): SipUri {
    if (start >= end) throw new SipParseError("Empty URI");
    const u = new SipUri();
    u.#raw = start === 0 && end === text.length ? text : text.slice(start, end);
    let p: number;
    let kind = STRUCTURED;
    if (start + 4 <= end && matchAt(text, start, "sip:")) {
      p = start + 4;
    } else {
      const c0 = text.charCodeAt(start) | 32;
      if (c0 < 97 || c0 > 122) {
        throw new SipParseError(`URI must start with a scheme, got "${clip(u.#raw)}"`);
      }
      let i = start + 1;
      while (i < end && hasClass(text.charCodeAt(i), C_SCHEME)) i++;
      if (i >= end || text.charCodeAt(i) !== 58) {
        if (i < end) {
          throw new SipParseError(
            `Invalid character ${describeChar(text.charCodeAt(i))} in URI scheme of "${
              clip(u.#raw)
            }"`,
          );
        }
        throw new SipParseError(`URI has no scheme (missing ':'): "${clip(u.#raw)}"`);
      }
      const rawScheme = text.slice(start, i);
      const scheme = rawScheme.toLowerCase();
      u.#rawScheme = rawScheme;
      u.#scheme = scheme;
      kind = schemeKind(scheme);
      p = i + 1;
    }
    if (kind === OPAQUE) {
      if (p >= end) throw new SipParseError(`Empty ${u.#scheme}: URI`);
      for (let k = p; k < end; k++) {
        const c = text.charCodeAt(k);
        if (c <= 32 || c >= 127 || c === 34 || c === 60 || c === 62) {
          throw new SipParseError(
            `Invalid character ${describeChar(c)} in URI "${clip(u.#raw)}"`,
          );
        }
      }
      u.#opaque = text.slice(p, end);
      return u;
    }
    if (kind === TEL) {
      let semi = text.indexOf(";", p);
      if (semi < 0 || semi > end) semi = end;
      checkTelNumber(text, p, semi);
      u.#user = u.#origUser = u.#rawUser = text.slice(p, semi);
      if (semi < end) {
        checkUriParams(text, semi, end, u.#raw);
        u.#rawParams = text.slice(semi, end);
      }
      return u;
    }
    // sip / sips: [userinfo "@"] hostport uri-parameters [headers]
    let h = p;
    let at = text.indexOf("@", p);
    if (at >= end) at = -1;
    if (at >= 0) {
      let colon = text.indexOf(":", p);
      if (colon < 0 || colon > at) colon = at;
      if (colon === p) throw new SipParseError(`Empty user part in URI "${clip(u.#raw)}"`);
      const user = decodeEscaped(text, p, colon, C_USER, "URI user part");
      u.#user = u.#origUser = user;
      u.#rawUser = text.slice(p, colon);
      if (colon < at) {
        u.#password = u.#origPassword = decodeEscaped(
          text,
          colon + 1,
          at,
          C_PASSWORD,
          "URI password",
        );
        u.#rawPassword = text.slice(colon + 1, at);
      }
      h = at + 1;
    }
    let hostEnd: number;
    if (h < end && text.charCodeAt(h) === 91) {
      const close = text.indexOf("]", h);
      if (close < 0 || close >= end) {
        throw new SipParseError(`Unbalanced '[' in the host of URI "${clip(u.#raw)}"`);
      }
      if (!isIpv6(text, h + 1, close)) {
        throw new SipParseError(
          `Invalid IPv6 reference "${clip(text.slice(h, close + 1))}" in URI`,
        );
      }
      hostEnd = close + 1;
    } else {
      hostEnd = scanHostName(text, h, end);
      if (hostEnd === h) throw new SipParseError(`Missing host in URI "${clip(u.#raw)}"`);
      const c = hostEnd < end ? text.charCodeAt(hostEnd) : 59;
      if (hostEnd < 0 || (c !== 58 && c !== 59 && c !== 63)) {
        hostError(text, h, end, u.#raw);
      }
    }
    u.#host = text.slice(h, hostEnd);
    let k = hostEnd;
    if (k < end && text.charCodeAt(k) === 58) {
      let pe = k + 1;
      while (pe < end) {
        const c = text.charCodeAt(pe);
        if (c === 59 || c === 63) break;
        pe++;
      }
      if (pe === k + 1) {
        throw new SipParseError(`Missing port after ':' in URI "${clip(u.#raw)}"`);
      }
      if (text.indexOf(":", k + 1) < pe && text.indexOf(":", k + 1) >= 0) {
        throw new SipParseError(
          `Invalid port in URI "${clip(u.#raw)}" (an IPv6 address must be enclosed in '[...]')`,
        );
      }
      u.#port = parseDigits(text, k + 1, pe, 65535, "URI port");
      k = pe;
    }
    if (k < end) {
      const c = text.charCodeAt(k);
      if (c !== 59 && c !== 63) {
        throw new SipParseError(
          `Invalid character ${describeChar(c)} after the host of URI "${clip(u.#raw)}"`,
        );
      }
      let q = text.indexOf("?", k);
      if (q < 0 || q > end) q = end;
      if (k < q) {
        checkUriParams(text, k, q, u.#raw);
        u.#rawParams = text.slice(k, q);
      }
      if (q < end) {
        checkUriHeaders(text, q + 1, end, u.#raw);
        u.#rawHeaders = text.slice(q + 1, end);
      }
    }
    return u;
  }

  /** Lower-cased scheme: `sip`, `sips`, `tel`, or any other. */
  get scheme(): string {
    return this.#scheme;
  }
  /** Set the scheme (lower-cased). */
  set scheme(value: string) {
    this.#scheme = value.toLowerCase();
    this.#dirty = true;
  }

  /** The user part, %-decoded (sip/sips), or the number for `tel:`. */
  get user(): string | undefined {
    return this.#user;
  }
  /** Set the user part (escaped on output). */
  set user(value: string | undefined) {
    this.#user = value === "" ? undefined : value;
    this.#dirty = true;
  }

  /** The password part, %-decoded. */
  get password(): string | undefined {
    return this.#password;
  }
  /** Set the password (escaped on output). */
  set password(value: string | undefined) {
    this.#password = value;
    this.#dirty = true;
  }

  /** The host: a name, an IPv4 address, or an IPv6 reference with its brackets; `""` for
   * tel and opaque URIs. */
  get host(): string {
    return this.#host;
  }
  /** Set the host; an IPv6 address gets brackets.
   * @throws {TypeError} when the value is not a valid host */
  set host(value: string) {
    this.#host = normalizeHost(value);
    this.#dirty = true;
  }

  /** The port, when present. */
  get port(): number | undefined {
    return this.#port;
  }
  /** Set or clear the port.
   * @throws {TypeError} when not an integer from 0 to 65535 */
  set port(value: number | undefined) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 65535)) {
      throw new TypeError(`Invalid URI port: ${value}`);
    }
    this.#port = value;
    this.#dirty = true;
  }

  /** URI parameters: lower-cased names, %-decoded values, `null` for flags. Changes to the
   * map show in {@linkcode SipUri.toString}. */
  get params(): Params {
    if (this.#params === undefined) {
      this.#params = this.#rawParams === ""
        ? new Map()
        : buildParams(this.#rawParams, this.#paramSnaps = []);
    }
    return this.#params;
  }
  /** Replace all parameters. */
  set params(value: Params) {
    if (this.#params === undefined) void this.params;
    this.#params = value;
  }

  /** URI headers (`?name=value&...`), names as written, values %-decoded; a name given
   * twice has its values joined with `,`. */
  get headers(): Map<string, string> {
    if (this.#headers === undefined) {
      this.#headers = this.#rawHeaders === ""
        ? new Map()
        : buildHeaders(this.#rawHeaders, this.#headerSnaps = []);
    }
    return this.#headers;
  }
  /** Replace all headers. */
  set headers(value: Map<string, string>) {
    if (this.#headers === undefined) void this.headers;
    this.#headers = value;
  }

  /** For schemes other than sip/sips/tel: everything after `scheme:`, verbatim. */
  get opaque(): string | undefined {
    return this.#opaque;
  }
  /** Set the opaque part. */
  set opaque(value: string | undefined) {
    this.#opaque = value;
    this.#dirty = true;
  }

  /** The `transport` parameter lower-cased, if any. */
  get transport(): string | undefined {
    const t = this.params.get("transport");
    return t === null || t === undefined ? undefined : t.toLowerCase();
  }

  /** `host` or `host:port`. */
  get hostPort(): string {
    return this.#port === undefined ? this.#host : this.#host + ":" + this.#port;
  }

  /** The URI text; an unmodified parsed URI returns exactly the text it was parsed from, and
   * unchanged parts of a modified one keep their original escaping.
   * @returns the URI text */
  toString(): string {
    if (
      this.#raw !== undefined && !this.#dirty &&
      (this.#params === undefined || sameParams(this.#params, this.#paramSnaps)) &&
      (this.#headers === undefined || sameHeaders(this.#headers, this.#headerSnaps))
    ) {
      return this.#raw;
    }
    return this.#serialize();
  }

  #serialize(): string {
    const scheme = this.#rawScheme.toLowerCase() === this.#scheme ? this.#rawScheme : this.#scheme;
    const kind = schemeKind(this.#scheme);
    if (kind === OPAQUE) return scheme + ":" + (this.#opaque ?? "");
    let out = scheme + ":";
    if (kind === TEL) {
      out += this.#user ?? "";
    } else {
      if (this.#user !== undefined) {
        out += this.#user === this.#origUser && this.#rawUser !== undefined
          ? this.#rawUser
          : encodeEscaped(this.#user, C_USER);
        if (this.#password !== undefined) {
          out += ":" +
            (this.#password === this.#origPassword && this.#rawPassword !== undefined
              ? this.#rawPassword
              : encodeEscaped(this.#password, C_PASSWORD));
        }
        out += "@";
      }
      out += this.#host;
      if (this.#port !== undefined) out += ":" + this.#port;
    }
    if (this.#params === undefined) {
      out += this.#rawParams;
    } else {
      const snaps = this.#paramSnaps;
      let k = 0;
      for (const [name, value] of this.#params) {
        const snap = findSnap(snaps, k++, name, value);
        if (snap !== undefined) {
          out += ";" + snap.raw;
        } else {
          out += ";" + encodeEscaped(name, C_PARAM);
          if (value !== null) out += "=" + encodeEscaped(value, C_PARAM);
        }
      }
    }
    if (kind === STRUCTURED) {
      if (this.#headers === undefined) {
        if (this.#rawHeaders !== "") out += "?" + this.#rawHeaders;
      } else if (this.#headers.size > 0) {
        let sep = "?";
        const snaps = this.#headerSnaps;
        let k = 0;
        for (const [name, value] of this.#headers) {
          const snap = findSnap(snaps, k++, name, value);
          out += sep +
            (snap !== undefined
              ? snap.raw
              : encodeEscaped(name, C_HNV) + "=" + encodeEscaped(value, C_HNV));
          sep = "&";
        }
      }
    }
    return out;
  }

  /** A deep copy.
   * @returns an independent URI with the same text */
  clone(): SipUri {
    return SipUri.parse(this.toString());
  }

  /** The URI text, for `JSON.stringify`.
   * @returns the URI text */
  toJSON(): string {
    return this.toString();
  }
}

/**
 * Parse a URI (RFC 3261 §19.1, RFC 3966, RFC 3986 absolute URIs). The text must not carry
 * angle brackets or surrounding white space.
 * @param text the URI text
 * @returns the parsed URI
 * @throws {SipParseError} with the specific reason (bad scheme, host, port, escape, ...)
 * @example
 * ```ts
 * import { parseUri } from "./uri.ts";
 * const uri = parseUri("sip:bob@[2001:db8::10]:5070;transport=tcp");
 * uri.host; // "[2001:db8::10]"
 * uri.port; // 5070
 * ```
 */
export function parseUri(text: string): SipUri {
  return SipUri.parse(text);
}

const DEFAULTED_PARAMS: readonly string[] = ["user", "ttl", "method", "maddr", "transport"];

function hostEquals(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length === b.length && a.toLowerCase() === b.toLowerCase()) return true;
  if (a.charCodeAt(0) === 91 && b.charCodeAt(0) === 91) {
    return normalizeIpv6(a) === normalizeIpv6(b);
  }
  return false;
}

function valueEquals(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  return a.toLowerCase() === b.toLowerCase();
}

function lowerKeyed(m: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of m) out.set(k.toLowerCase(), v);
  return out;
}

function telDigits(n: string): string {
  let out = "";
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c !== 45 && c !== 46 && c !== 40 && c !== 41) out += n.charAt(i);
  }
  return out.toLowerCase();
}

/**
 * Compare two URIs as RFC 3261 §19.1.4 says: sip and sips never match each other; userinfo
 * is compared case-sensitively after %-decoding; host, parameters and headers
 * case-insensitively; a port, `transport`, `user`, `ttl`, `method` or `maddr` present in
 * only one URI makes them differ; other parameters present in only one are ignored; headers
 * must all match. `tel:` URIs compare per RFC 3966 §4 (visual separators ignored, same
 * parameter set); other schemes compare the scheme case-insensitively and the rest exactly.
 * @param a one URI
 * @param b the other URI
 * @returns whether they are equivalent
 * @example
 * ```ts
 * import { parseUri, uriEquals } from "./uri.ts";
 * uriEquals(parseUri("sip:bob@biloxi.com"), parseUri("sip:bob@biloxi.com:5060")); // false
 * ```
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  const scheme = a.scheme.toLowerCase();
  if (scheme !== b.scheme.toLowerCase()) return false;
  const kind = schemeKind(scheme);
  if (kind === OPAQUE) return a.opaque === b.opaque;
  const pa = a.params;
  const pb = b.params;
  if (kind === TEL) {
    if (telDigits(a.user ?? "") !== telDigits(b.user ?? "")) return false;
    if (pa.size !== pb.size) return false;
    for (const [k, v] of pa) {
      if (!pb.has(k) || !valueEquals(v, pb.get(k))) return false;
    }
    return true;
  }
  if (a.user !== b.user || a.password !== b.password) return false;
  if (!hostEquals(a.host, b.host) || a.port !== b.port) return false;
  for (const name of DEFAULTED_PARAMS) {
    if (pa.has(name) !== pb.has(name)) return false;
  }
  for (const [k, v] of pa) {
    if (pb.has(k) && !valueEquals(v, pb.get(k))) return false;
  }
  const ha = a.headers;
  const hb = b.headers;
  if (ha.size === 0 && hb.size === 0) return true;
  const la = lowerKeyed(ha);
  const lb = lowerKeyed(hb);
  if (la.size !== lb.size) return false;
  for (const [k, v] of la) {
    if (lb.get(k) !== v) return false;
  }
  return true;
}
