/**
 * Parsers for SIP header values (RFC 3261 §20 and extensions) and the value classes they
 * return. Every parser takes one header value (for list headers, one element from
 * {@linkcode splitHeaderValues}), accepts folded linear white space, and throws
 * {@linkcode SipParseError} with a specific reason on bad input.
 *
 * Header parameters are kept in a `Map` with lower-cased names; their values are kept as
 * written (a quoted-string value keeps its quotes), `null` for a flag parameter. The typed
 * fields (`tag`, `branch`, `expires`, `q`, Reason `text`, ...) are decoded.
 *
 * @example
 * ```ts
 * import { parseNameAddr, parseVia } from "./header_parsers.ts";
 * const from = parseNameAddr('"Alice" <sip:alice@atlanta.com>;tag=1928301774');
 * from.displayName; // "Alice"
 * from.tag; // "1928301774"
 * const via = parseVia("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport");
 * via.branch; // "z9hG4bK776asdhds"
 * via.rport; // true
 * ```
 *
 * @module
 */

import { SipParseError } from "./errors.ts";
import {
  type CharCodes,
  describeChar,
  isDigit,
  isHostName,
  isIpv6,
  isIpv6Reference,
  isLws,
  isTokenChar,
  isTokenCode,
  knownMethodCode,
  matchAt,
  MAX_UINT32,
  parseDigits,
  quoteString,
  scanHostName,
  scanHostNameCodes,
  scanQuoted,
  scanToken,
  skipLws,
  trimEndIndex,
  unescapeQuoted,
  unquoteString,
} from "./grammar.ts";
import { SipUri } from "./uri.ts";
import type { Contact, CSeq, NameAddr, Params, Uri, Via } from "./types.ts";

export { quoteString, unquoteString };

/** The largest CSeq, RSeq and RAck number (RFC 3261 §8.1.1.5, RFC 3262 §7.1): 2**31 - 1. */
export const MAX_SEQ: number = 2147483647;

function clip(text: string): string {
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

/** `text[start:end]`, clipped, for error messages. */
function ex(text: string, start: number, end: number): string {
  return clip(start === 0 && end === text.length ? text : text.slice(start, end));
}

/** Parameters given as a map (used as is) or a plain object. */
export type ParamsInit =
  | Params
  | Iterable<readonly [string, string | null]>
  | Record<string, string | null>;

function toParams(init: ParamsInit | undefined): Params {
  if (init === undefined) return new Map();
  if (init instanceof Map) return init;
  const out: Params = new Map();
  const entries = (Symbol.iterator in init)
    ? init as Iterable<readonly [string, string | null]>
    : Object.entries(init as Record<string, string | null>);
  for (const [k, v] of entries) out.set(k.toLowerCase(), v);
  return out;
}

/** Scan a generic-param value: token characters plus `:`, `[` and `]` (hosts, IPv6). */
function scanGenValue(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (!isTokenChar(c) && c !== 58 && c !== 91 && c !== 93) break;
    i++;
  }
  return i;
}

/** True when `v` can be written as a parameter value without quoting. */
function isPlainValue(v: string): boolean {
  if (v.length === 0) return false;
  if (v.charCodeAt(0) === 34) {
    try {
      return scanQuoted(v, 0, v.length) === v.length;
    } catch {
      return false;
    }
  }
  return scanGenValue(v, 0, v.length) === v.length;
}

/** Serialize header parameters as `;name=value;flag`; values that are not a token, host or
 * quoted-string are quoted. */
export function formatParams(params: Params): string {
  let out = "";
  for (const [name, value] of params) {
    out += ";" + name;
    if (value !== null) out += "=" + (isPlainValue(value) ? value : quoteString(value));
  }
  return out;
}

/** Parameters as parsed: a flat `[name, value, name, value, ...]` list. */
type Pairs = (string | null)[];

function findPair(pairs: Pairs, name: string): string | null | undefined {
  for (let k = 0; k < pairs.length; k += 2) {
    if (pairs[k] === name) return pairs[k + 1] ?? null;
  }
  return undefined;
}

function pairsToMap(pairs: Pairs): Params {
  const m: Params = new Map();
  for (let k = 0; k < pairs.length; k += 2) m.set(pairs[k] ?? "", pairs[k + 1] ?? null);
  return m;
}

/** The constant string for the most common lower-case parameter names, so that parsing
 * them allocates nothing (and later comparisons hit the same internalized string). The
 * characters are compared inline: this runs for every parameter of every header read. */
function knownParamName(s: string, start: number, end: number): string | undefined {
  const c0 = s.charCodeAt(start);
  switch (end - start) {
    case 1:
      return c0 === 113 ? "q" : undefined;
    case 2:
      return c0 === 108 && s.charCodeAt(start + 1) === 114 ? "lr" : undefined;
    case 3:
      if (c0 !== 116) return undefined;
      if (s.charCodeAt(start + 1) === 97 && s.charCodeAt(start + 2) === 103) return "tag";
      if (s.charCodeAt(start + 1) === 116 && s.charCodeAt(start + 2) === 108) return "ttl";
      return undefined;
    case 5:
      if (c0 === 114) return matchAt(s, start, "rport") ? "rport" : undefined;
      return c0 === 109 && matchAt(s, start, "maddr") ? "maddr" : undefined;
    case 6:
      return c0 === 98 && s.charCodeAt(start + 1) === 114 && s.charCodeAt(start + 2) === 97 &&
          s.charCodeAt(start + 3) === 110 && s.charCodeAt(start + 4) === 99 &&
          s.charCodeAt(start + 5) === 104
        ? "branch"
        : undefined;
    case 7:
      return c0 === 101 && matchAt(s, start, "expires") ? "expires" : undefined;
    case 8:
      return c0 === 114 && matchAt(s, start, "received") ? "received" : undefined;
  }
  return undefined;
}

/**
 * Parse `*( SEMI generic-param )` from `s[i:end]` into `pairs` (a repeated name keeps its
 * first value). Returns the index of the first character that does not belong to the
 * parameters (after skipping LWS). The scanning loops are written inline (no helper calls)
 * because this is the hottest loop of header parsing.
 */
function parseParams(s: string, i: number, end: number, pairs: Pairs, what: string): number {
  let seen: Set<string> | undefined; // for long lists, keeps the duplicate check linear
  for (;;) {
    let c = 0;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
      i++;
    }
    if (i >= end || c !== 59) return i;
    i++;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
      i++;
    }
    const ns = i;
    let upper = false;
    while (i < end) {
      c = s.charCodeAt(i);
      if (!isTokenChar(c)) break;
      if (c >= 65 && c <= 90) upper = true;
      i++;
    }
    if (i === ns) {
      if (i >= end || c === 59 || c === 44) {
        throw new SipParseError(`Empty parameter in ${what}`);
      }
      throw new SipParseError(
        `Invalid character ${describeChar(c)} in a ${what} parameter name`,
      );
    }
    const name = upper
      ? s.slice(ns, i).toLowerCase()
      : (knownParamName(s, ns, i) ?? s.slice(ns, i));
    let value: string | null = null;
    let j = i;
    while (j < end) {
      c = s.charCodeAt(j);
      if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
      j++;
    }
    if (j < end && c === 61) {
      let vs = j + 1;
      while (vs < end) {
        c = s.charCodeAt(vs);
        if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
        vs++;
      }
      let ve: number;
      if (vs < end && c === 34) {
        ve = scanQuoted(s, vs, end);
      } else {
        ve = vs;
        while (ve < end) {
          c = s.charCodeAt(ve);
          if (!isTokenChar(c) && c !== 58 && c !== 91 && c !== 93) break;
          ve++;
        }
        if (ve === vs) {
          throw new SipParseError(
            vs >= end || s.charCodeAt(vs) === 59
              ? `Parameter "${name}" in ${what} has an empty value`
              : `Invalid character ${
                describeChar(s.charCodeAt(vs))
              } in the value of parameter "${name}" in ${what}`,
          );
        }
      }
      value = s.slice(vs, ve);
      i = ve;
    }
    if (pairs.length < 32) {
      if (pairs.length === 0 || findPair(pairs, name) === undefined) pairs.push(name, value);
    } else {
      if (seen === undefined) {
        seen = new Set();
        for (let k = 0; k < pairs.length; k += 2) seen.add(pairs[k] ?? "");
      }
      if (!seen.has(name)) {
        seen.add(name);
        pairs.push(name, value);
      }
    }
  }
}

function expectEnd(s: string, i: number, end: number, what: string, start = 0): void {
  i = skipLws(s, i, end);
  if (i < end) {
    throw new SipParseError(
      `Unexpected ${describeChar(s.charCodeAt(i))} in ${what}: "${ex(s, start, end)}"`,
    );
  }
}

/** {@linkcode knownParamName} over char codes. */
function knownParamCode(c: CharCodes, start: number, end: number): string | undefined {
  switch (end - start) {
    case 2:
      return c[start] === 108 && c[start + 1] === 114 ? "lr" : undefined;
    case 3:
      return c[start] === 116 && c[start + 1] === 97 && c[start + 2] === 103 ? "tag" : undefined;
    case 5:
      return c[start] === 114 && c[start + 1] === 112 && c[start + 2] === 111 &&
          c[start + 3] === 114 && c[start + 4] === 116
        ? "rport"
        : undefined;
    case 6:
      return c[start] === 98 && c[start + 1] === 114 && c[start + 2] === 97 &&
          c[start + 3] === 110 && c[start + 4] === 99 && c[start + 5] === 104
        ? "branch"
        : undefined;
  }
  return undefined;
}

/**
 * The shortcut of {@linkcode parseParams} for `c[i:end]`: empty, or `;name[=value]...` with
 * lower-case token names and token (or host) values and no white space. Returns the pairs
 * (a repeated name keeps its first value), or undefined when the text is not of that shape.
 */
function quickParams(text: string, c: CharCodes, i: number, end: number): Pairs | undefined {
  // The first two pairs are kept in locals: most values have one or two parameters, and an
  // array literal of the right size is cheaper than growing an empty one.
  let count = 0;
  let n0 = "";
  let v0: string | null = null;
  let n1 = "";
  let v1: string | null = null;
  let pairs: Pairs | undefined;
  let seen: Set<string> | undefined; // for long lists, keeps the duplicate check linear
  while (i < end) {
    if (c[i] !== 59) return undefined;
    const ns = i + 1;
    let k = ns;
    while (k < end) {
      const ch = c[k]!;
      if (ch === 61 || ch === 59) break;
      if ((ch >= 65 && ch <= 90) || !isTokenCode(ch)) return undefined;
      k++;
    }
    if (k === ns) return undefined;
    const name = knownParamCode(c, ns, k) ?? text.slice(ns, k);
    let value: string | null = null;
    if (k < end && c[k] === 61) {
      const vs = k + 1;
      k = vs;
      while (k < end) {
        const ch = c[k]!;
        if (ch === 59) break;
        if (!isTokenCode(ch) && ch !== 58 && ch !== 91 && ch !== 93) return undefined;
        k++;
      }
      if (k === vs) return undefined;
      value = text.slice(vs, k);
    }
    if (count === 0) {
      n0 = name;
      v0 = value;
      count = 1;
    } else if (count === 1) {
      if (name !== n0) {
        n1 = name;
        v1 = value;
        count = 2;
      }
    } else if (pairs === undefined) {
      if (name !== n0 && name !== n1) pairs = [n0, v0, n1, v1, name, value];
    } else if (pairs.length < 32) {
      if (findPair(pairs, name) === undefined) pairs.push(name, value);
    } else {
      if (seen === undefined) {
        seen = new Set();
        for (let p = 0; p < pairs.length; p += 2) seen.add(pairs[p] ?? "");
      }
      if (!seen.has(name)) {
        seen.add(name);
        pairs.push(name, value);
      }
    }
    i = k;
  }
  return pairs ?? (count === 0 ? [] : count === 1 ? [n0, v0] : [n0, v0, n1, v1]);
}

/**
 * Split a header value on the commas that separate list elements (RFC 3261 §7.3.1): commas
 * inside quoted strings (with `\` escapes) and inside `<...>` are kept. Elements are trimmed
 * of linear white space; empty elements are dropped.
 * @param text the header value
 * @returns the elements in order
 * @throws {SipParseError} on an unterminated quoted string or an unbalanced `<`
 * @example
 * ```ts
 * import { splitHeaderValues } from "./header_parsers.ts";
 * splitHeaderValues('"Doe, J" <sip:j@x.com>, <sip:k@y.com;a=b,c>');
 * // ['"Doe, J" <sip:j@x.com>', "<sip:k@y.com;a=b,c>"]
 * ```
 */
export function splitHeaderValues(text: string): string[] {
  const len = text.length;
  if (text.indexOf(",") < 0) {
    const e = trimEndIndex(text, 0, len);
    const s = skipLws(text, 0, e);
    return s < e ? [s === 0 && e === len ? text : text.slice(s, e)] : [];
  }
  const ranges = splitHeaderRanges(text, 0, len);
  const out: string[] = [];
  for (let k = 0; k < ranges.length; k += 2) {
    out.push(text.slice(ranges[k] ?? 0, ranges[k + 1] ?? 0));
  }
  return out;
}

/**
 * Like {@linkcode splitHeaderValues}, without slicing: returns the elements of the header
 * value `text[start:end]` as a flat list of offsets `[start0, end0, start1, end1, ...]`, for
 * parsing each element in place (e.g. `parseVia(head, r[0], r[1])`).
 * @param text the header value, or a larger string holding it
 * @param start where the value starts (default 0)
 * @param end where the value ends (default: the end of `text`)
 * @returns start/end offset pairs of the trimmed, non-empty elements
 * @throws {SipParseError} on an unterminated quoted string or an unbalanced `<`
 * @example
 * ```ts
 * import { parseVia, splitHeaderRanges } from "./header_parsers.ts";
 * const line = "Via: SIP/2.0/UDP a.com;branch=z9hG4bK1, SIP/2.0/TCP b.com;branch=z9hG4bK2";
 * const r = splitHeaderRanges(line, 5, line.length);
 * const [, , s, e] = r;
 * parseVia(line, s, e).host; // "b.com"
 * ```
 */
export function splitHeaderRanges(text: string, start = 0, end: number = text.length): number[] {
  const out: number[] = [];
  let from = start;
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 && depth === 0) {
      i = scanQuoted(text, i, end) - 1;
    } else if (c === 60) {
      depth++;
    } else if (c === 62) {
      if (depth > 0) depth--;
    } else if (c === 44 && depth === 0) {
      const e = trimEndIndex(text, from, i);
      const s = skipLws(text, from, e);
      if (s < e) out.push(s, e);
      from = i + 1;
    }
  }
  if (depth > 0) {
    throw new SipParseError(`Unbalanced '<' in header value "${ex(text, start, end)}"`);
  }
  const e = trimEndIndex(text, from, end);
  const s = skipLws(text, from, e);
  if (s < e) out.push(s, e);
  return out;
}

/**
 * Base of the header value classes with parameters. A parsed value keeps its parameters as a
 * flat list and builds the `Map` only when {@linkcode HeaderParams.params} is first read, so
 * reading a single parameter (a tag, a branch) costs no map.
 */
export abstract class HeaderParams {
  #pairs: Pairs | undefined = undefined;
  #map: Params | undefined = undefined;

  /**
   * Set the initial parameters.
   * @param params a `Map` (used as is), entries, or a plain object (names lower-cased)
   */
  constructor(params?: ParamsInit) {
    if (params !== undefined) this.#map = toParams(params);
  }

  /** Parameters: lower-cased names; values as written, `null` for flags. Changes to the map
   * show in `toString()`. */
  get params(): Params {
    let m = this.#map;
    if (m === undefined) {
      m = this.#pairs === undefined ? new Map() : pairsToMap(this.#pairs);
      this.#map = m;
      this.#pairs = undefined;
    }
    return m;
  }
  /** Replace all parameters. */
  set params(value: Params) {
    this.#map = value;
    this.#pairs = undefined;
  }

  /**
   * One parameter by lower-case name, without building the map.
   * @param name the lower-case parameter name
   * @returns the value, `null` for a flag, `undefined` when absent
   */
  param(name: string): string | null | undefined {
    if (this.#map !== undefined) return this.#map.get(name);
    return this.#pairs === undefined ? undefined : findPair(this.#pairs, name);
  }

  /**
   * The parameters serialized as `;name=value;flag`.
   * @returns the text, empty when there are no parameters
   */
  protected paramsText(): string {
    if (this.#map !== undefined) return this.#map.size === 0 ? "" : formatParams(this.#map);
    const p = this.#pairs;
    if (p === undefined) return "";
    let out = "";
    for (let k = 0; k < p.length; k += 2) {
      const value = p[k + 1];
      out += ";" + p[k];
      if (value !== null && value !== undefined) {
        out += "=" + (isPlainValue(value) ? value : quoteString(value));
      }
    }
    return out;
  }

  /**
   * Install parameters produced by a parser (a flat `[name, value, ...]` list).
   * @param pairs the parsed parameters
   */
  protected setParsedParams(pairs: (string | null)[]): void {
    this.#pairs = pairs;
    this.#map = undefined;
  }

  /**
   * A copy of the parameters.
   * @returns a new map
   */
  protected copyParams(): Params {
    return this.#map !== undefined
      ? new Map(this.#map)
      : this.#pairs === undefined
      ? new Map()
      : pairsToMap(this.#pairs);
  }
}

/** Options to build a {@linkcode SipNameAddr}. */
export interface NameAddrOptions {
  /** The display name (unquoted); quoted on output. */
  displayName?: string | undefined;
  /** The URI, as an object or text. */
  uri: Uri | string;
  /** Header parameters (`tag`, ...). A `Map` is used as is, not copied. */
  params?: ParamsInit;
}

function collapseLws(s: string): string {
  let out = "";
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isLws(c)) {
      space = true;
    } else {
      if (space && out.length > 0) out += " ";
      space = false;
      out += s.charAt(i);
    }
  }
  return out;
}

interface ParsedNameAddr {
  displayName: string | undefined;
  /** The parsed URI, or {@linkcode LAZY_URI} when it passed the quick check and is parsed
   * on first read (from `text[us:ue]`). */
  uri: Uri;
  text: string;
  us: number;
  ue: number;
  pairs: Pairs;
}

/** Stands for "not parsed yet" in a {@linkcode ParsedNameAddr}; never handed out. */
const LAZY_URI: Uri = Object.freeze(new SipUri());

/** The URI at `text[start:end]`: parsed now unless it passes the quick validity check. */
function uriAt(text: string, start: number, end: number): Uri {
  return SipUri.isSimpleValid(text, start, end) ? LAZY_URI : SipUri.parse(text, start, end);
}

/** Parse name-addr / addr-spec followed by header params (RFC 3261 §20, §20.10). */
function scanNameAddr(text: string, s0: number, e0: number, what: string): ParsedNameAddr {
  const end = trimEndIndex(text, s0, e0);
  let i = skipLws(text, s0, end);
  if (i >= end) throw new SipParseError(`Empty ${what} value`);
  let displayName: string | undefined;
  let c = text.charCodeAt(i);
  if (c === 34) {
    const q = scanQuoted(text, i, end);
    displayName = unescapeQuoted(text, i + 1, q - 1);
    i = skipLws(text, q, end);
    if (i >= end || text.charCodeAt(i) !== 60) {
      throw new SipParseError(
        `Expected '<' after the display name in ${what}: "${ex(text, s0, end)}"`,
      );
    }
  } else if (c !== 60) {
    let j = i;
    let tokEnd = i;
    let inner = false; // LWS other than one SP between tokens: collapse it
    while (j < end) {
      const cj = text.charCodeAt(j);
      if (isTokenChar(cj)) {
        if (j !== i && (j - tokEnd > 1 || (j > tokEnd && text.charCodeAt(tokEnd) !== 32))) {
          inner = true;
        }
        j++;
        tokEnd = j;
      } else if (isLws(cj)) {
        j++;
      } else {
        break;
      }
    }
    if (j < end && text.charCodeAt(j) === 60) {
      const raw = text.slice(i, tokEnd);
      displayName = inner ? collapseLws(raw) : raw;
      i = j;
    } else {
      // addr-spec: the URI ends at the first ';', ',' or white space; what follows is a
      // header parameter, never a URI parameter (RFC 3261 §20).
      c = j < end ? text.charCodeAt(j) : 0;
      if (c !== 58) {
        if (text.indexOf("<", j) >= 0 && text.indexOf("<", j) < end) {
          throw new SipParseError(
            `Invalid character ${
              describeChar(c)
            } in an unquoted display name in ${what} (quote it): "${ex(text, s0, end)}"`,
          );
        }
        throw new SipParseError(
          `Expected a URI (scheme ":" ...) or "<URI>" in ${what}: "${ex(text, s0, end)}"`,
        );
      }
      let k = i;
      while (k < end) {
        const ck = text.charCodeAt(k);
        if (ck === 59 || ck === 44 || isLws(ck)) break;
        if (ck === 63) {
          throw new SipParseError(
            `A URI with '?' headers must be enclosed in '<...>' in ${what}: "${ex(text, s0, end)}"`,
          );
        }
        k++;
      }
      const uri = uriAt(text, i, k);
      const pairs: Pairs = [];
      const stop = parseParams(text, k, end, pairs, what);
      expectEnd(text, stop, end, what, s0);
      return { displayName: undefined, uri, text, us: i, ue: k, pairs };
    }
  }
  // text[i] === '<'
  const close = text.indexOf(">", i + 1);
  if (close < 0 || close >= end) {
    throw new SipParseError(`Unbalanced '<' (missing '>') in ${what}: "${ex(text, s0, end)}"`);
  }
  if (close === i + 1) throw new SipParseError(`Empty '<>' in ${what}`);
  if (isLws(text.charCodeAt(i + 1)) || isLws(text.charCodeAt(close - 1))) {
    throw new SipParseError(`White space inside '<...>' in ${what}: "${ex(text, s0, end)}"`);
  }
  const uri = uriAt(text, i + 1, close);
  const pairs: Pairs = [];
  const stop = parseParams(text, close + 1, end, pairs, what);
  expectEnd(text, stop, end, what, s0);
  return { displayName, uri, text, us: i + 1, ue: close, pairs };
}

/** The shortcut of {@linkcode scanNameAddr} (see {@linkcode SipNameAddr.parseQuick}), or
 * undefined when `c[start:end]` is not of the common shape. */
function quickNameAddr(
  text: string,
  c: CharCodes,
  start: number,
  end: number,
): ParsedNameAddr | undefined {
  let i = start;
  let displayName: string | undefined;
  if (i >= end) return undefined;
  const c0 = c[i];
  if (c0 === 34) {
    // "quoted": printable ASCII without '"' and '\', then one optional space.
    let q = i + 1;
    for (;;) {
      if (q >= end) return undefined;
      const ch = c[q]!;
      if (ch === 34) break;
      if (ch < 32 || ch > 126 || ch === 92) return undefined;
      q++;
    }
    displayName = text.slice(i + 1, q);
    i = q + 1;
    if (i < end && c[i] === 32) i++;
    if (i >= end || c[i] !== 60) return undefined;
  } else if (c0 !== 60) {
    // tokens separated by single spaces, then one optional space.
    let tokEnd: number;
    for (;;) {
      const ts = i;
      while (i < end && isTokenCode(c[i])) i++;
      if (i === ts || i >= end) return undefined;
      if (c[i] === 60) {
        tokEnd = i;
        break;
      }
      if (c[i] !== 32) return undefined;
      i++;
      if (i < end && c[i] === 60) {
        tokEnd = i - 1;
        break;
      }
    }
    displayName = text.slice(start, tokEnd);
  }
  // c[i] is '<'
  const us = i + 1;
  let gt = us;
  while (gt < end && c[gt] !== 62) gt++;
  if (gt >= end || !SipUri.isSimpleValidCodes(c, us, gt)) return undefined;
  const pairs = quickParams(text, c, gt + 1, end);
  if (pairs === undefined) return undefined;
  return { displayName, uri: LAZY_URI, text, us, ue: gt, pairs };
}

/**
 * A name-addr or addr-spec with header parameters, as in From, To, Route, Record-Route,
 * Path and Refer-To (RFC 3261 §20). Implements {@linkcode NameAddr}.
 *
 * @example
 * ```ts
 * import { SipNameAddr } from "./header_parsers.ts";
 * const to = new SipNameAddr({ displayName: "Bob", uri: "sip:bob@biloxi.com" });
 * to.params.set("tag", "a6c85cf");
 * String(to); // '"Bob" <sip:bob@biloxi.com>;tag=a6c85cf'
 * ```
 */
export class SipNameAddr extends HeaderParams implements NameAddr {
  /** The display name, unquoted and unescaped, if any. */
  displayName: string | undefined;
  #uri: Uri | undefined;
  #uriText = "";
  #uriStart = 0;
  #uriEnd = 0;

  /**
   * Build a name-addr.
   * @param options display name, URI (object or text) and parameters
   * @throws {SipParseError} when the URI is given as text and is invalid
   */
  constructor(options: NameAddrOptions) {
    super(options.params);
    this.displayName = options.displayName;
    const uri = options.uri;
    this.#uri = typeof uri === "string" ? SipUri.parse(uri) : uri === LAZY_URI ? undefined : uri;
  }

  /** The URI. A parsed value whose URI passed the quick validity check builds it on first
   * read. */
  get uri(): Uri {
    let u = this.#uri;
    if (u === undefined) {
      u = SipUri.parse(this.#uriText, this.#uriStart, this.#uriEnd);
      this.#uri = u;
      this.#uriText = "";
    }
    return u;
  }
  /** Replace the URI. */
  set uri(value: Uri) {
    this.#uri = value;
    this.#uriText = "";
  }

  /**
   * Install the result of a parse: the parameters, and where to find the URI when it was
   * checked but not built yet.
   * @param pairs the parsed parameters, a flat `[name, value, ...]` list
   * @param text the string holding the URI
   * @param start where the URI starts in `text`
   * @param end where the URI ends in `text`
   */
  protected setParsed(pairs: (string | null)[], text: string, start: number, end: number): void {
    this.setParsedParams(pairs);
    if (this.#uri === undefined) {
      this.#uriText = text;
      this.#uriStart = start;
      this.#uriEnd = end;
    }
  }

  /**
   * Parse a value; same as {@linkcode parseNameAddr}.
   * @param text one header value, or a larger string holding it
   * @param start where the value starts in `text` (default 0)
   * @param end where the value ends in `text` (default: the end)
   * @returns the parsed value
   * @throws {SipParseError} with the specific reason
   */
  static parse(text: string, start = 0, end: number = text.length): SipNameAddr {
    const p = scanNameAddr(text, start, end, "address");
    const na = new SipNameAddr(p);
    na.setParsed(p.pairs, p.text, p.us, p.ue);
    return na;
  }

  /**
   * A shortcut of {@linkcode SipNameAddr.parse} for the common shape, reading char codes:
   * `[display-name] <sip:[user@]host[:port][;uri-params]>[;params]`, where the display name
   * is quoted (printable ASCII, no escape) or tokens separated by single spaces, the URI one
   * that {@linkcode SipUri.isSimpleValid} accepts, and the parameters have lower-case token
   * names and token (or host) values, without white space. For such a value the result is
   * the one `parse` gives; for any other value, undefined (then call `parse`, which also
   * reports errors). The message container uses it with the parser's char codes.
   * @param text the string holding the value
   * @param codes its char codes (`codes[i] === text.charCodeAt(i)`)
   * @param start where the value starts
   * @param end where the value ends
   * @returns the parsed value, or undefined when the value is not of that shape
   */
  static parseQuick(
    text: string,
    codes: CharCodes,
    start: number,
    end: number,
  ): SipNameAddr | undefined {
    const p = quickNameAddr(text, codes, start, end);
    if (p === undefined) return undefined;
    const na = new SipNameAddr(p);
    na.setParsed(p.pairs, p.text, p.us, p.ue);
    return na;
  }

  /** The `tag` parameter, if any. */
  get tag(): string | undefined {
    return this.param("tag") ?? undefined;
  }

  /** The header value: `"Display" <uri>;params` (angle brackets are always written).
   * @returns the header value text */
  override toString(): string {
    const uri = "<" + this.uri.toString() + ">";
    const head = this.displayName === undefined ? uri : quoteString(this.displayName) + " " + uri;
    return head + this.paramsText();
  }

  /** A deep copy.
   * @returns an independent copy */
  clone(): SipNameAddr {
    return new SipNameAddr({
      displayName: this.displayName,
      uri: this.uri.clone(),
      params: this.copyParams(),
    });
  }
}

/**
 * Parse a name-addr or addr-spec with header parameters (From, To, Route, Record-Route,
 * Path, Refer-To, P-Asserted-Identity, ...). In an addr-spec without `<>`, parameters after
 * the URI are header parameters (RFC 3261 §20), and a URI with `?` headers must be in `<>`.
 * Quoted display names may contain escapes; token display names may touch the `<`.
 * @param text one header value
 * @param start where the value starts in `text` (default 0), to parse in place
 * @param end where the value ends in `text` (default: the end)
 * @returns the parsed value
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseNameAddr } from "./header_parsers.ts";
 * const to = parseNameAddr("sip:+19725552222@gw1.example.net;unknownparam");
 * to.uri.params.has("unknownparam"); // false: it is a header parameter
 * to.params.has("unknownparam"); // true
 * ```
 */
export function parseNameAddr(text: string, start = 0, end: number = text.length): SipNameAddr {
  return SipNameAddr.parse(text, start, end);
}

/** Options to build a {@linkcode SipContact}: an address, or `{ star: true }`. */
export type ContactOptions = NameAddrOptions | { star: true };

function parseQ(v: string): number | undefined {
  // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  const len = v.length;
  if (len === 0 || len > 5) return undefined;
  const d0 = v.charCodeAt(0);
  if (d0 !== 48 && d0 !== 49) return undefined;
  if (len > 1) {
    if (v.charCodeAt(1) !== 46) return undefined;
    for (let k = 2; k < len; k++) {
      const c = v.charCodeAt(k);
      if (!isDigit(c) || (d0 === 49 && c !== 48)) return undefined;
    }
  }
  return Number(v);
}

function parseDelta(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined || v.length === 0) return undefined;
  for (let k = 0; k < v.length; k++) if (!isDigit(v.charCodeAt(k))) return undefined;
  return parseDigits(v, 0, v.length, MAX_UINT32, "delta-seconds", true);
}

/** Check the `q` and `expires` parameters of a Contact value. */
function checkContactParams(pairs: Pairs): void {
  const q = findPair(pairs, "q");
  if (q !== undefined && (q === null || parseQ(q) === undefined)) {
    throw new SipParseError(`Invalid q value "${q ?? ""}" in Contact (must be 0 to 1)`);
  }
  const x = findPair(pairs, "expires");
  if (x !== undefined && parseDelta(x) === undefined) {
    throw new SipParseError(`Invalid expires value "${x ?? ""}" in Contact (must be digits)`);
  }
}

/**
 * One Contact value (RFC 3261 §20.10), or the `*` of a REGISTER that removes all bindings.
 * Implements {@linkcode Contact}. For `*`, {@linkcode SipContact.uri} is an empty
 * placeholder and the value serializes as `*`.
 * @example
 * ```ts
 * import { SipContact } from "./header_parsers.ts";
 * const c = new SipContact({ uri: "sip:alice@192.0.2.4", params: { expires: "3600" } });
 * String(c); // "<sip:alice@192.0.2.4>;expires=3600"
 * ```
 */
export class SipContact extends SipNameAddr implements Contact {
  /** True for the `*` contact. */
  readonly star: boolean;

  /**
   * Build a Contact value.
   * @param options an address (as for {@linkcode SipNameAddr}) or `{ star: true }`
   */
  constructor(options: ContactOptions) {
    const star = "star" in options;
    super(star ? { uri: new SipUri() } : options);
    this.star = star;
  }

  /**
   * Parse one Contact value; same as {@linkcode parseContact}.
   * @param text one Contact value, or a larger string holding it
   * @param start where the value starts in `text` (default 0)
   * @param end where the value ends in `text` (default: the end)
   * @returns the parsed value
   * @throws {SipParseError} with the specific reason
   */
  static override parse(text: string, start = 0, end: number = text.length): SipContact {
    const e = trimEndIndex(text, start, end);
    const s = skipLws(text, start, e);
    if (e - s === 1 && text.charCodeAt(s) === 42) return new SipContact({ star: true });
    const p = scanNameAddr(text, start, end, "Contact");
    checkContactParams(p.pairs);
    const c = new SipContact(p);
    c.setParsed(p.pairs, p.text, p.us, p.ue);
    return c;
  }

  /**
   * The shortcut of {@linkcode SipContact.parse} for the common shape (see
   * {@linkcode SipNameAddr.parseQuick}); `q` and `expires` are checked as `parse` checks them.
   * @param text the string holding the value
   * @param codes its char codes (`codes[i] === text.charCodeAt(i)`)
   * @param start where the value starts
   * @param end where the value ends
   * @returns the parsed value, or undefined when the value is not of that shape
   * @throws {SipParseError} for a bad `q` or `expires`, as `parse` does
   */
  static override parseQuick(
    text: string,
    codes: CharCodes,
    start: number,
    end: number,
  ): SipContact | undefined {
    const p = quickNameAddr(text, codes, start, end);
    if (p === undefined) return undefined;
    checkContactParams(p.pairs);
    const c = new SipContact(p);
    c.setParsed(p.pairs, p.text, p.us, p.ue);
    return c;
  }

  /** The `expires` parameter in seconds (values above 2**32-1 are clamped), if present and
   * valid. */
  get expires(): number | undefined {
    return parseDelta(this.param("expires"));
  }

  /** The `q` parameter (0 to 1), if present and valid. */
  get q(): number | undefined {
    const v = this.param("q");
    return v === null || v === undefined ? undefined : parseQ(v);
  }

  /** The header value, `*` for the star contact.
   * @returns the header value text */
  override toString(): string {
    return this.star ? "*" : super.toString();
  }

  /** A deep copy.
   * @returns an independent copy */
  override clone(): SipContact {
    if (this.star) return new SipContact({ star: true });
    return new SipContact({
      displayName: this.displayName,
      uri: this.uri.clone(),
      params: this.copyParams(),
    });
  }
}

/**
 * Parse one Contact value (RFC 3261 §20.10): `*`, or a name-addr / addr-spec with contact
 * parameters. `q` must be a qvalue (0 to 1, at most three decimals) and `expires`
 * delta-seconds (clamped to 2**32-1).
 * @param text one Contact value
 * @param start where the value starts in `text` (default 0), to parse in place
 * @param end where the value ends in `text` (default: the end)
 * @returns the parsed value
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseContact } from "./header_parsers.ts";
 * const c = parseContact("<sip:alice@192.0.2.4>;expires=3600;q=0.7");
 * c.expires; // 3600
 * c.q; // 0.7
 * parseContact("*").star; // true
 * ```
 */
export function parseContact(text: string, start = 0, end: number = text.length): SipContact {
  return SipContact.parse(text, start, end);
}

/** Options to build a {@linkcode SipVia}. */
export interface ViaOptions {
  /** Protocol name and version, default `SIP/2.0`. */
  protocol?: string;
  /** Transport (upper-cased): `UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP`, ... */
  transport: string;
  /** The sent-by host (an IPv6 address gets brackets). */
  host: string;
  /** The sent-by port. */
  port?: number | undefined;
  /** Parameters (`branch`, `rport`, ...). A `Map` is used as is. */
  params?: ParamsInit;
}

function isHostValue(v: string): boolean {
  const len = v.length;
  if (len === 0) return false;
  if (v.charCodeAt(0) === 91) return isIpv6Reference(v, 0, len);
  return isHostName(v, 0, len) || isIpv6(v, 0, len);
}

function checkViaParams(pairs: Pairs): void {
  for (let k = 0; k < pairs.length; k += 2) {
    const name = pairs[k];
    const value = pairs[k + 1] ?? null;
    switch (name) {
      case "branch":
        if (value === null || value.charCodeAt(0) === 34) {
          throw new SipParseError("The Via branch parameter must be a token");
        }
        break;
      case "received":
      case "maddr":
        if (value === null || !isHostValue(value)) {
          throw new SipParseError(`Invalid Via ${name} parameter "${value ?? ""}"`);
        }
        break;
      case "ttl":
        if (value === null) throw new SipParseError("The Via ttl parameter needs a value");
        parseDigits(value, 0, value.length, 255, "Via ttl");
        break;
      case "rport":
        if (value !== null) parseDigits(value, 0, value.length, 65535, "Via rport");
        break;
    }
  }
}

/**
 * One Via value (RFC 3261 §20.42, RFC 3581). Implements {@linkcode Via}.
 * @example
 * ```ts
 * import { SipVia } from "./header_parsers.ts";
 * const via = new SipVia({ transport: "udp", host: "192.0.2.1", port: 5060 });
 * via.params.set("branch", "z9hG4bK74bf9").set("rport", null);
 * String(via); // "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport"
 * ```
 */
export class SipVia extends HeaderParams implements Via {
  /** Protocol name and version, normally `SIP/2.0`. */
  protocol: string;
  /** Upper-cased transport. */
  transport: string;
  /** The sent-by host (IPv6 with brackets). */
  host: string;
  /** The sent-by port, if any. */
  port: number | undefined;

  /**
   * Build a Via value.
   * @param options transport, host, port and parameters
   */
  constructor(options: ViaOptions) {
    super(options.params);
    this.protocol = options.protocol ?? "SIP/2.0";
    const t = options.transport;
    this.transport = t === "UDP" || t === "TCP" || t === "TLS" || t === "WS" || t === "WSS"
      ? t
      : t.toUpperCase();
    const h = options.host;
    this.host = h.charCodeAt(0) !== 91 && h.indexOf(":") >= 0 ? "[" + h + "]" : h;
    this.port = options.port;
  }

  /**
   * Parse one Via value; same as {@linkcode parseVia}.
   * @param text one Via value, or a larger string holding it
   * @param start where the value starts in `text` (default 0)
   * @param stop where the value ends in `text` (default: the end)
   * @returns the parsed value
   * @throws {SipParseError} with the specific reason
   */
  static parse(text: string, start = 0, stop: number = text.length): SipVia {
    const end = trimEndIndex(text, start, stop);
    let i = skipLws(text, start, end);
    let protocol: string;
    if (
      i + 8 <= end && text.charCodeAt(i) === 83 && text.charCodeAt(i + 1) === 73 &&
      text.charCodeAt(i + 2) === 80 && text.charCodeAt(i + 3) === 47 &&
      text.charCodeAt(i + 4) === 50 && text.charCodeAt(i + 5) === 46 &&
      text.charCodeAt(i + 6) === 48 && text.charCodeAt(i + 7) === 47
    ) {
      protocol = "SIP/2.0";
      i += 8;
    } else {
      const ns = i;
      i = scanToken(text, i, end);
      if (i === ns) {
        throw new SipParseError(`Via must start with a protocol name: "${ex(text, start, end)}"`);
      }
      const name = text.slice(ns, i);
      i = skipLws(text, i, end);
      if (text.charCodeAt(i) !== 47) {
        throw new SipParseError(
          `Expected '/' after the protocol name in Via: "${ex(text, start, end)}"`,
        );
      }
      i = skipLws(text, i + 1, end);
      const vs = i;
      i = scanToken(text, i, end);
      if (i === vs) {
        throw new SipParseError(`Missing protocol version in Via: "${ex(text, start, end)}"`);
      }
      protocol = name + "/" + text.slice(vs, i);
      i = skipLws(text, i, end);
      if (text.charCodeAt(i) !== 47) {
        throw new SipParseError(
          `Expected '/' before the transport in Via: "${ex(text, start, end)}"`,
        );
      }
      i = skipLws(text, i + 1, end);
    }
    const ts = i;
    while (i < end && isTokenChar(text.charCodeAt(i))) i++;
    if (i === ts) throw new SipParseError(`Missing transport in Via: "${ex(text, start, end)}"`);
    const transport = upperTransport(text, ts, i);
    let hs = i;
    while (hs < end && isLws(text.charCodeAt(hs))) hs++;
    if (hs === i) {
      throw new SipParseError(
        `Expected white space before the Via sent-by: "${ex(text, start, end)}"`,
      );
    }
    i = hs;
    let he: number;
    if (text.charCodeAt(i) === 91) {
      const close = text.indexOf("]", i);
      if (close < 0 || close >= end) {
        throw new SipParseError(`Unbalanced '[' in the Via sent-by: "${ex(text, start, end)}"`);
      }
      if (!isIpv6(text, i + 1, close)) {
        throw new SipParseError(
          `Invalid IPv6 reference in Via: "${clip(text.slice(i, close + 1))}"`,
        );
      }
      he = close + 1;
    } else {
      he = scanHostName(text, i, end);
      if (he === i) throw new SipParseError(`Missing host in Via: "${ex(text, start, end)}"`);
      const c = he < end ? text.charCodeAt(he) : 59;
      if (he < 0 || (c !== 58 && c !== 59 && !isLws(c))) {
        let bad = i;
        while (bad < end && !isLws(text.charCodeAt(bad)) && text.charCodeAt(bad) !== 59) bad++;
        throw new SipParseError(`Invalid host "${clip(text.slice(i, bad))}" in Via`);
      }
    }
    const host = text.slice(i, he);
    i = he;
    while (i < end && isLws(text.charCodeAt(i))) i++;
    let port: number | undefined;
    if (i < end && text.charCodeAt(i) === 58) {
      let ps = i + 1;
      while (ps < end && isLws(text.charCodeAt(ps))) ps++;
      let pe = ps;
      let n = 0;
      while (pe < end) {
        const d = text.charCodeAt(pe);
        if (d < 48 || d > 57) break;
        if (n <= 65535) n = n * 10 + (d - 48);
        pe++;
      }
      if (pe === ps) {
        throw new SipParseError(`Missing or invalid port in Via: "${ex(text, start, end)}"`);
      }
      port = n <= 65535 ? n : parseDigits(text, ps, pe, 65535, "Via port"); // throws
      i = pe;
    }
    const pairs: Pairs = [];
    i = parseParams(text, i, end, pairs, "Via");
    expectEnd(text, i, end, "Via", start);
    checkViaParams(pairs);
    const via = new SipVia({ protocol, transport, host, port });
    via.setParsedParams(pairs);
    return via;
  }

  /**
   * A shortcut of {@linkcode SipVia.parse} for the common shape, reading char codes:
   * `SIP/2.0/UDP host[:port][;params]` (UDP, TCP, TLS, WS or WSS, one space, a host name or
   * IPv4 address, parameters with lower-case token names and token or host values, no white
   * space). For such a value the result, or the error for a bad `branch`/`received`/`maddr`/
   * `ttl`/`rport`, is the one `parse` gives; for any other value, undefined (then call
   * `parse`). The message container uses it with the parser's char codes.
   * @param text the string holding the value
   * @param c its char codes (`c[i] === text.charCodeAt(i)`)
   * @param start where the value starts
   * @param end where the value ends
   * @returns the parsed value, or undefined when the value is not of that shape
   * @throws {SipParseError} for a parameter that breaks the Via rules
   */
  static parseQuick(text: string, c: CharCodes, start: number, end: number): SipVia | undefined {
    let i = start + 8;
    if (
      i + 4 > end || c[start] !== 83 || c[start + 1] !== 73 || c[start + 2] !== 80 ||
      c[start + 3] !== 47 || c[start + 4] !== 50 || c[start + 5] !== 46 ||
      c[start + 6] !== 48 || c[start + 7] !== 47
    ) {
      return undefined;
    }
    let transport: string;
    const t0 = c[i];
    const t1 = c[i + 1];
    const t2 = c[i + 2];
    if (t0 === 85 && t1 === 68 && t2 === 80) transport = "UDP";
    else if (t0 === 84 && t1 === 67 && t2 === 80) transport = "TCP";
    else if (t0 === 84 && t1 === 76 && t2 === 83) transport = "TLS";
    else if (t0 === 87 && t1 === 83) transport = t2 === 83 ? "WSS" : "WS";
    else return undefined;
    i += transport.length;
    if (i >= end || c[i] !== 32) return undefined;
    const hs = i + 1;
    const he = scanHostNameCodes(c, hs, end);
    if (he <= hs) return undefined;
    i = he;
    let port: number | undefined;
    if (i < end && c[i] === 58) {
      const ps = i + 1;
      let n = 0;
      i = ps;
      while (i < end && i - ps < 5) {
        const d = c[i]!;
        if (d < 48 || d > 57) break;
        n = n * 10 + (d - 48);
        i++;
      }
      if (i === ps || n > 65535) return undefined;
      port = n;
    }
    const pairs = quickParams(text, c, i, end);
    if (pairs === undefined) return undefined;
    checkViaParams(pairs);
    const via = new SipVia({ protocol: "SIP/2.0", transport, host: text.slice(hs, he), port });
    via.setParsedParams(pairs);
    return via;
  }

  /** The `branch` parameter. */
  get branch(): string | undefined {
    return this.param("branch") ?? undefined;
  }

  /** The `received` parameter. */
  get received(): string | undefined {
    return this.param("received") ?? undefined;
  }

  /** The `rport` parameter: a number, `true` when present without a value, else undefined. */
  get rport(): number | true | undefined {
    const v = this.param("rport");
    if (v === undefined) return undefined;
    if (v === null) return true;
    return parseDelta(v);
  }

  /** The `maddr` parameter. */
  get maddr(): string | undefined {
    return this.param("maddr") ?? undefined;
  }

  /** The `ttl` parameter. */
  get ttl(): number | undefined {
    return parseDelta(this.param("ttl"));
  }

  /** The Via value: `SIP/2.0/UDP host:port;params`.
   * @returns the header value text */
  override toString(): string {
    let out = this.protocol + "/" + this.transport + " " + this.host;
    if (this.port !== undefined) out += ":" + this.port;
    return out + this.paramsText();
  }

  /** A deep copy.
   * @returns an independent copy */
  clone(): SipVia {
    return new SipVia({
      protocol: this.protocol,
      transport: this.transport,
      host: this.host,
      port: this.port,
      params: this.copyParams(),
    });
  }
}

function upperTransport(s: string, start: number, end: number): string {
  switch (end - start) {
    case 3:
      if (
        s.charCodeAt(start) === 85 && s.charCodeAt(start + 1) === 68 &&
        s.charCodeAt(start + 2) === 80
      ) {
        return "UDP";
      }
      if (matchAt(s, start, "TCP")) return "TCP";
      if (matchAt(s, start, "TLS")) return "TLS";
      break;
    case 2:
      if (matchAt(s, start, "WS")) return "WS";
      break;
  }
  return s.slice(start, end).toUpperCase();
}

/**
 * Parse one Via value (RFC 3261 §20.42): `SIP / 2.0 / UDP host[:port] *(;param)`, with LWS
 * allowed around the slashes and the colon. The transport is upper-cased; `branch` must be a
 * token, `ttl` 0 to 255, `received`/`maddr` a host, `rport` empty or a port (RFC 3581).
 * @param text one Via value
 * @param start where the value starts in `text` (default 0), to parse in place
 * @param end where the value ends in `text` (default: the end)
 * @returns the parsed value
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseVia } from "./header_parsers.ts";
 * const via = parseVia("SIP / 2.0 / tcp [2001:db8::9:1]:6050;branch=z9hG4bK-1");
 * via.transport; // "TCP"
 * via.host; // "[2001:db8::9:1]"
 * via.port; // 6050
 * ```
 */
export function parseVia(text: string, start = 0, end: number = text.length): SipVia {
  return SipVia.parse(text, start, end);
}

/** A CSeq value (RFC 3261 §20.16). Implements {@linkcode CSeq}. */
export class SipCSeq implements CSeq {
  /** The sequence number, 0 to 2**31-1. */
  seq: number;
  /** The method, case-sensitive. */
  method: string;

  /**
   * Build a CSeq value.
   * @param seq the sequence number
   * @param method the request method
   */
  constructor(seq: number, method: string) {
    this.seq = seq;
    this.method = method;
  }

  /** The header value, `seq METHOD`.
   * @returns the header value text */
  toString(): string {
    return this.seq + " " + this.method;
  }

  /**
   * A shortcut of {@linkcode parseCSeq} for the common shape, reading char codes: 1 to 10
   * digits (at most 2**31-1), one space, a token. For such a value the result is the one
   * `parseCSeq` gives; for any other value, undefined (then call `parseCSeq`). The message
   * container uses it with the parser's char codes.
   * @param text the string holding the value
   * @param c its char codes (`c[i] === text.charCodeAt(i)`)
   * @param start where the value starts
   * @param end where the value ends
   * @returns the parsed value, or undefined when the value is not of that shape
   */
  static parseQuick(text: string, c: CharCodes, start: number, end: number): SipCSeq | undefined {
    let i = start;
    let seq = 0;
    while (i < end && i - start < 10) {
      const d = c[i]!;
      if (d < 48 || d > 57) break;
      seq = seq * 10 + (d - 48);
      i++;
    }
    if (i === start || seq > MAX_SEQ || i >= end || c[i] !== 32) return undefined;
    const ms = i + 1;
    let me = ms;
    while (me < end && isTokenCode(c[me])) me++;
    if (me === ms || me !== end) return undefined;
    return new SipCSeq(seq, knownMethodCode(c, ms, me) ?? text.slice(ms, me));
  }
}

/** The constant string for the common methods (no allocation, internalized). */
function knownMethod(s: string, start: number, end: number): string | undefined {
  switch (end - start) {
    case 3:
      if (matchAt(s, start, "ACK")) return "ACK";
      if (matchAt(s, start, "BYE")) return "BYE";
      break;
    case 6:
      if (matchAt(s, start, "INVITE")) return "INVITE";
      if (matchAt(s, start, "CANCEL")) return "CANCEL";
      break;
    case 7:
      if (matchAt(s, start, "OPTIONS")) return "OPTIONS";
      break;
    case 8:
      if (matchAt(s, start, "REGISTER")) return "REGISTER";
      break;
  }
  return undefined;
}

/**
 * Parse a CSeq value: `1*DIGIT LWS Method`. The number must be at most 2**31-1
 * (RFC 3261 §8.1.1.5); leading zeros are allowed.
 * @param text the header value
 * @param start where the value starts in `text` (default 0), to parse in place
 * @param stop where the value ends in `text` (default: the end)
 * @returns the sequence number and method
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseCSeq } from "./header_parsers.ts";
 * parseCSeq("0009\r\n  INVITE").seq; // 9
 * ```
 */
export function parseCSeq(text: string, start = 0, stop: number = text.length): SipCSeq {
  const end = trimEndIndex(text, start, stop);
  let i = skipLws(text, start, end);
  const ds = i;
  // One pass over the digits (inline: this runs for every message).
  let seq = 0;
  let c = 0;
  while (i < end) {
    c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (seq <= MAX_SEQ) seq = seq * 10 + (c - 48);
    i++;
  }
  if (i === ds) {
    throw new SipParseError(`CSeq must start with a number: "${ex(text, start, end)}"`);
  }
  if (seq > MAX_SEQ) parseDigits(text, ds, i, MAX_SEQ, "CSeq number"); // throws out of range
  const ms = skipLws(text, i, end);
  if (ms === i) throw new SipParseError(`Expected white space after the CSeq number`);
  const me = scanToken(text, ms, end);
  if (me === ms) throw new SipParseError(`Missing method in CSeq: "${ex(text, start, end)}"`);
  if (me < end) expectEnd(text, me, end, "CSeq", start);
  return new SipCSeq(seq, knownMethod(text, ms, me) ?? text.slice(ms, me));
}

const TOKEN68_EXTRA = "-._~+/";

function isToken68Char(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) ||
    TOKEN68_EXTRA.indexOf(String.fromCharCode(c)) >= 0;
}

function isToken68(s: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && isToken68Char(s.charCodeAt(i))) i++;
  if (i === start) return false;
  while (i < end && s.charCodeAt(i) === 61) i++;
  return i === end;
}

/** Options to build a {@linkcode SipAuthHeader}. */
export interface AuthHeaderOptions {
  /** The scheme, e.g. `Digest`. */
  scheme: string;
  /** The parameters, unquoted values. A `Map` is used as is. */
  params?: Map<string, string> | Record<string, string>;
  /** Names whose values are written quoted (besides values that need quoting anyway). */
  quoted?: Iterable<string>;
  /** A token68 credential instead of parameters (`Bearer <token>`). */
  token68?: string | undefined;
}

/**
 * A credentials or challenge value: Authorization, Proxy-Authorization, WWW-Authenticate,
 * Proxy-Authenticate (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 7235 token68).
 * @example
 * ```ts
 * import { SipAuthHeader } from "./header_parsers.ts";
 * const h = new SipAuthHeader({
 *   scheme: "Digest",
 *   params: { realm: "atlanta.com", nonce: "84a4cc6f", algorithm: "MD5" },
 *   quoted: ["realm", "nonce"],
 * });
 * String(h); // 'Digest realm="atlanta.com", nonce="84a4cc6f", algorithm=MD5'
 * ```
 */
export class SipAuthHeader {
  /** The scheme as written (`Digest`); compare case-insensitively. */
  scheme: string;
  /** Parameters: lower-cased names, values unquoted and unescaped. */
  params: Map<string, string>;
  /** Names of the parameters written quoted. */
  quoted: Set<string>;
  /** A token68 credential (`Bearer abc...`), when the value has no parameters. */
  token68: string | undefined;

  /**
   * Build an authentication header value.
   * @param options scheme, parameters and which of them to quote
   */
  constructor(options: AuthHeaderOptions) {
    this.scheme = options.scheme;
    const p = options.params;
    if (p === undefined) {
      this.params = new Map();
    } else if (p instanceof Map) {
      this.params = p;
    } else {
      this.params = new Map();
      for (const [k, v] of Object.entries(p)) this.params.set(k.toLowerCase(), v);
    }
    this.quoted = new Set(options.quoted ?? []);
    this.token68 = options.token68;
  }

  /** The header value: `Scheme name=value, name="value"` or `Scheme token68`.
   * @returns the header value text */
  toString(): string {
    if (this.token68 !== undefined) return this.scheme + " " + this.token68;
    let out = this.scheme;
    let sep = " ";
    for (const [name, value] of this.params) {
      const plain = !this.quoted.has(name) && value.length > 0 &&
        scanToken(value, 0, value.length) === value.length;
      out += sep + name + "=" + (plain ? value : quoteString(value));
      sep = ", ";
    }
    return out;
  }
}

/**
 * Parse an Authorization, Proxy-Authorization, WWW-Authenticate or Proxy-Authenticate value:
 * `scheme name=value, name="quoted, value"` (quoted values are unquoted and unescaped,
 * commas inside quotes kept), or `scheme token68`. Unquoted values are read leniently up to
 * the next comma or white space.
 * @param text the header value
 * @returns the scheme and parameters
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseAuthHeader } from "./header_parsers.ts";
 * const a = parseAuthHeader('Digest username="bob", realm="b.com", qop=auth, nc=00000001');
 * a.scheme; // "Digest"
 * a.params.get("username"); // "bob"
 * ```
 */
export function parseAuthHeader(text: string): SipAuthHeader {
  const end = trimEndIndex(text, 0, text.length);
  let i = skipLws(text, 0, end);
  const ss = i;
  i = scanToken(text, i, end);
  if (i === ss) throw new SipParseError(`Missing authentication scheme: "${clip(text)}"`);
  const scheme = text.slice(ss, i);
  const params = new Map<string, string>();
  const quoted = new Set<string>();
  let j = skipLws(text, i, end);
  if (j >= end) return new SipAuthHeader({ scheme, params });
  if (j === i) {
    throw new SipParseError(
      `Expected white space after the authentication scheme "${clip(scheme)}"`,
    );
  }
  if (isToken68(text, j, end)) {
    const eq = text.indexOf("=", j);
    // `name=value` is a parameter, `abc==` is token68
    if (eq < 0 || eq + 1 === end || text.charCodeAt(eq + 1) === 61) {
      return new SipAuthHeader({ scheme, params, token68: text.slice(j, end) });
    }
  }
  for (;;) {
    while (j < end && (text.charCodeAt(j) === 44 || isLws(text.charCodeAt(j)))) j++;
    if (j >= end) break;
    const ns = j;
    j = scanToken(text, j, end);
    if (j === ns) {
      throw new SipParseError(
        `Invalid character ${describeChar(text.charCodeAt(j))} in an authentication parameter`,
      );
    }
    const name = text.slice(ns, j).toLowerCase();
    j = skipLws(text, j, end);
    if (j >= end || text.charCodeAt(j) !== 61) {
      throw new SipParseError(`Authentication parameter "${name}" has no '=' value`);
    }
    j = skipLws(text, j + 1, end);
    let value: string;
    if (j < end && text.charCodeAt(j) === 34) {
      const q = scanQuoted(text, j, end);
      value = unescapeQuoted(text, j + 1, q - 1);
      quoted.add(name);
      j = q;
    } else {
      const vs = j;
      while (j < end) {
        const c = text.charCodeAt(j);
        if (c === 44 || isLws(c) || c === 34) break;
        j++;
      }
      if (j === vs) {
        throw new SipParseError(`Authentication parameter "${name}" has an empty value`);
      }
      value = text.slice(vs, j);
    }
    if (!params.has(name)) params.set(name, value);
    j = skipLws(text, j, end);
    if (j < end && text.charCodeAt(j) !== 44) {
      throw new SipParseError(
        `Expected ',' between authentication parameters, got ${describeChar(text.charCodeAt(j))}`,
      );
    }
  }
  return new SipAuthHeader({ scheme, params, quoted });
}

/** A Content-Type value (RFC 3261 §20.15). */
export class SipContentType extends HeaderParams {
  /** The lower-cased top-level type, e.g. `application`. */
  type: string;
  /** The lower-cased subtype, e.g. `sdp`. */
  subtype: string;

  /**
   * Build a Content-Type value.
   * @param type top-level type
   * @param subtype subtype
   * @param params parameters (`charset`, `boundary`, ...)
   */
  constructor(type: string, subtype: string, params?: ParamsInit) {
    super(params);
    this.type = type.toLowerCase();
    this.subtype = subtype.toLowerCase();
  }

  /**
   * Parse a value; same as {@linkcode parseContentType}.
   * @param text the header value
   * @returns the parsed value
   * @throws {SipParseError} with the specific reason
   */
  static parse(text: string): SipContentType {
    const end = trimEndIndex(text, 0, text.length);
    let i = skipLws(text, 0, end);
    const ts = i;
    i = scanToken(text, i, end);
    if (i === ts) throw new SipParseError(`Missing media type in Content-Type: "${clip(text)}"`);
    const type = text.slice(ts, i);
    i = skipLws(text, i, end);
    if (text.charCodeAt(i) !== 47) {
      throw new SipParseError(`Expected '/' in Content-Type: "${clip(text)}"`);
    }
    i = skipLws(text, i + 1, end);
    const ss = i;
    i = scanToken(text, i, end);
    if (i === ss) {
      throw new SipParseError(`Missing media subtype in Content-Type: "${clip(text)}"`);
    }
    const subtype = text.slice(ss, i);
    const pairs: Pairs = [];
    i = parseParams(text, i, end, pairs, "Content-Type");
    expectEnd(text, i, end, "Content-Type");
    for (let k = 1; k < pairs.length; k += 2) {
      const v = pairs[k];
      if (v !== null && v !== undefined && v.charCodeAt(0) === 34) pairs[k] = unquoteString(v);
    }
    const ct = new SipContentType(type, subtype);
    ct.setParsedParams(pairs);
    return ct;
  }

  /** `type/subtype`, lower-cased. */
  get mediaType(): string {
    return this.type + "/" + this.subtype;
  }

  /** The header value: `type/subtype;name=value`.
   * @returns the header value text */
  override toString(): string {
    let out = this.type + "/" + this.subtype;
    if (this.paramsText() === "") return out;
    for (const [name, value] of this.params) {
      out += ";" + name;
      if (value !== null) {
        out += "=" +
          (value.length > 0 && scanToken(value, 0, value.length) === value.length
            ? value
            : quoteString(value));
      }
    }
    return out;
  }
}

/**
 * Parse a Content-Type value: `type "/" subtype *(";" name "=" value)`.
 * @param text the header value
 * @returns type, subtype, media type and unquoted parameters
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseContentType } from "./header_parsers.ts";
 * const ct = parseContentType('multipart/mixed; boundary="unique-boundary-1"');
 * ct.mediaType; // "multipart/mixed"
 * ct.params.get("boundary"); // "unique-boundary-1"
 * ```
 */
export function parseContentType(text: string): SipContentType {
  return SipContentType.parse(text);
}

/**
 * Parse a comma-separated list of tokens (Require, Supported, Allow, Unsupported,
 * Proxy-Require, Allow-Events). Empty elements are skipped; an empty value gives `[]`.
 * @param text the header value
 * @returns the tokens as written
 * @throws {SipParseError} when an element is not a token
 * @example
 * ```ts
 * import { parseTokenList } from "./header_parsers.ts";
 * parseTokenList("100rel ,timer, replaces"); // ["100rel", "timer", "replaces"]
 * ```
 */
export function parseTokenList(text: string): string[] {
  const out: string[] = [];
  const len = text.length;
  let i = 0;
  while (i < len) {
    i = skipLws(text, i, len);
    if (i >= len) break;
    if (text.charCodeAt(i) === 44) {
      i++;
      continue;
    }
    const ts = i;
    i = scanToken(text, i, len);
    if (i === ts) {
      throw new SipParseError(
        `Invalid character ${describeChar(text.charCodeAt(i))} in token list "${clip(text)}"`,
      );
    }
    out.push(text.slice(ts, i));
    i = skipLws(text, i, len);
    if (i < len && text.charCodeAt(i) !== 44) {
      throw new SipParseError(
        `Expected ',' between tokens, got ${describeChar(text.charCodeAt(i))} in "${clip(text)}"`,
      );
    }
  }
  return out;
}

/** Parse `token *(;param)` shared by Event, Subscription-State, Reason elements. */
function parseTokenWithParams(text: string, what: string): { token: string; params: Params } {
  const end = trimEndIndex(text, 0, text.length);
  let i = skipLws(text, 0, end);
  const ts = i;
  i = scanToken(text, i, end);
  if (i === ts) throw new SipParseError(`Missing value in ${what}: "${clip(text)}"`);
  const token = text.slice(ts, i);
  const pairs: Pairs = [];
  i = parseParams(text, i, end, pairs, what);
  expectEnd(text, i, end, what);
  return { token, params: pairsToMap(pairs) };
}

function paramDelta(params: Params, name: string, what: string): number | undefined {
  const v = params.get(name);
  if (v === undefined) return undefined;
  if (v === null) throw new SipParseError(`The ${what} ${name} parameter needs a value`);
  return parseDigits(v, 0, v.length, MAX_UINT32, `${what} ${name}`, true);
}

/** An Event value (RFC 6665 §8.2.1). */
export interface EventValue {
  /** The event type (package and templates), as written. */
  event: string;
  /** The `id` parameter. */
  id: string | undefined;
  /** All parameters. */
  params: Params;
}

/**
 * Parse an Event value: `event-type *(;param)` with the `id` parameter (RFC 6665).
 * @param text the header value
 * @returns the event type, id and parameters
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseEvent } from "./header_parsers.ts";
 * parseEvent("presence;id=1").id; // "1"
 * ```
 */
export function parseEvent(text: string): EventValue {
  const { token, params } = parseTokenWithParams(text, "Event");
  const id = params.get("id");
  if (id === null) throw new SipParseError("The Event id parameter needs a value");
  return { event: token, id, params };
}

/** A Subscription-State value (RFC 6665 §8.2.3). */
export interface SubscriptionStateValue {
  /** Lower-cased state: `active`, `pending`, `terminated`, or an extension. */
  state: string;
  /** The `expires` parameter in seconds. */
  expires: number | undefined;
  /** The `reason` parameter. */
  reason: string | undefined;
  /** The `retry-after` parameter in seconds. */
  retryAfter: number | undefined;
  /** All parameters. */
  params: Params;
}

/**
 * Parse a Subscription-State value: `state *(;param)` with `expires`, `reason` and
 * `retry-after` (RFC 6665).
 * @param text the header value
 * @returns the state and its parameters
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseSubscriptionState } from "./header_parsers.ts";
 * parseSubscriptionState("terminated;reason=timeout").reason; // "timeout"
 * ```
 */
export function parseSubscriptionState(text: string): SubscriptionStateValue {
  const { token, params } = parseTokenWithParams(text, "Subscription-State");
  const reason = params.get("reason");
  if (reason === null) throw new SipParseError("The Subscription-State reason needs a value");
  return {
    state: token.toLowerCase(),
    expires: paramDelta(params, "expires", "Subscription-State"),
    reason,
    retryAfter: paramDelta(params, "retry-after", "Subscription-State"),
    params,
  };
}

function parseNumberValue(text: string, max: number, min: number, what: string): number {
  const end = trimEndIndex(text, 0, text.length);
  const s = skipLws(text, 0, end);
  const n = parseDigits(text, s, end, max, what);
  if (n < min) throw new SipParseError(`${what} must be at least ${min}`);
  return n;
}

/**
 * Parse an RSeq value (RFC 3262 §7.1): 1 to 2**31-1.
 * @param text the header value
 * @returns the number
 * @throws {SipParseError} when not a number in range
 */
export function parseRSeq(text: string): number {
  return parseNumberValue(text, MAX_SEQ, 1, "RSeq");
}

/** An RAck value (RFC 3262 §7.2). */
export interface RAckValue {
  /** The RSeq of the acknowledged response. */
  rseq: number;
  /** The CSeq number of the acknowledged response. */
  cseq: number;
  /** The CSeq method of the acknowledged response. */
  method: string;
}

/**
 * Parse an RAck value: `response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2).
 * @param text the header value
 * @returns the RSeq, CSeq number and method
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseRAck } from "./header_parsers.ts";
 * parseRAck("776656 1 INVITE"); // { rseq: 776656, cseq: 1, method: "INVITE" }
 * ```
 */
export function parseRAck(text: string): RAckValue {
  const end = trimEndIndex(text, 0, text.length);
  let i = skipLws(text, 0, end);
  const rs = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i === rs) throw new SipParseError(`RAck must start with a number: "${clip(text)}"`);
  const rseq = parseDigits(text, rs, i, MAX_SEQ, "RAck response number");
  const cs = skipLws(text, i, end);
  if (cs === i) throw new SipParseError("Expected white space after the RAck response number");
  i = cs;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i === cs) throw new SipParseError(`Missing CSeq number in RAck: "${clip(text)}"`);
  const cseq = parseDigits(text, cs, i, MAX_SEQ, "RAck CSeq number");
  const ms = skipLws(text, i, end);
  if (ms === i) throw new SipParseError("Expected white space after the RAck CSeq number");
  const me = scanToken(text, ms, end);
  if (me === ms) throw new SipParseError(`Missing method in RAck: "${clip(text)}"`);
  expectEnd(text, me, end, "RAck");
  return { rseq, cseq, method: text.slice(ms, me) };
}

/** A Session-Expires value (RFC 4028 §4). */
export interface SessionExpiresValue {
  /** The session interval in seconds. */
  delta: number;
  /** Who refreshes: `uac`, `uas`, or undefined. */
  refresher: "uac" | "uas" | undefined;
  /** All parameters. */
  params: Params;
}

function parseDeltaWithParams(text: string, what: string): { delta: number; params: Params } {
  const end = trimEndIndex(text, 0, text.length);
  let i = skipLws(text, 0, end);
  const ds = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i === ds) throw new SipParseError(`${what} must start with delta-seconds: "${clip(text)}"`);
  const delta = parseDigits(text, ds, i, MAX_UINT32, what, true);
  const pairs: Pairs = [];
  i = parseParams(text, i, end, pairs, what);
  expectEnd(text, i, end, what);
  return { delta, params: pairsToMap(pairs) };
}

/**
 * Parse a Session-Expires value: `delta-seconds *(;param)` with `refresher=uac|uas`.
 * @param text the header value
 * @returns the interval, refresher and parameters
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseSessionExpires } from "./header_parsers.ts";
 * parseSessionExpires("1800;refresher=uas").refresher; // "uas"
 * ```
 */
export function parseSessionExpires(text: string): SessionExpiresValue {
  const { delta, params } = parseDeltaWithParams(text, "Session-Expires");
  const r = params.get("refresher");
  let refresher: "uac" | "uas" | undefined;
  if (r !== undefined) {
    const v = r?.toLowerCase();
    if (v !== "uac" && v !== "uas") {
      throw new SipParseError(`Session-Expires refresher must be uac or uas, got "${r ?? ""}"`);
    }
    refresher = v;
  }
  return { delta, refresher, params };
}

/**
 * Parse a Min-SE value: `delta-seconds *(;param)` (RFC 4028 §5).
 * @param text the header value
 * @returns the minimum session interval in seconds
 * @throws {SipParseError} with the specific reason
 */
export function parseMinSE(text: string): number {
  return parseDeltaWithParams(text, "Min-SE").delta;
}

/** One Reason value (RFC 3326). */
export interface ReasonValue {
  /** The protocol: `SIP`, `Q.850`, ... */
  protocol: string;
  /** The `cause` parameter. */
  cause: number | undefined;
  /** The `text` parameter, unquoted. */
  text: string | undefined;
  /** All parameters (values as written). */
  params: Params;
}

/**
 * Parse a Reason header value, which may hold several comma-separated values (RFC 3326):
 * `protocol ;cause=N ;text="..."`.
 * @param text the header value
 * @returns the values in order
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseReason } from "./header_parsers.ts";
 * const [r] = parseReason('SIP ;cause=200 ;text="Call completed elsewhere"');
 * r?.cause; // 200
 * r?.text; // "Call completed elsewhere"
 * ```
 */
export function parseReason(text: string): ReasonValue[] {
  const out: ReasonValue[] = [];
  for (const part of splitHeaderValues(text)) {
    const { token, params } = parseTokenWithParams(part, "Reason");
    const c = params.get("cause");
    if (c === null) throw new SipParseError("The Reason cause parameter needs a value");
    const cause = c === undefined
      ? undefined
      : parseDigits(c, 0, c.length, MAX_UINT32, "Reason cause");
    const t = params.get("text");
    if (t === null) throw new SipParseError("The Reason text parameter needs a value");
    out.push({
      protocol: token,
      cause,
      text: t === undefined ? undefined : unquoteString(t),
      params,
    });
  }
  if (out.length === 0) throw new SipParseError("Empty Reason value");
  return out;
}

/**
 * Parse a Refer-To value (RFC 3515 §2.1): a name-addr or addr-spec; URI headers such as
 * `?Replaces=...` stay intact (decoded in `uri.headers`, original escaping on output).
 * @param text the header value
 * @returns the parsed address
 * @throws {SipParseError} with the specific reason
 * @example
 * ```ts
 * import { parseReferTo } from "./header_parsers.ts";
 * const r = parseReferTo("<sip:bob@b.com?Replaces=12345%40a.com%3Bto-tag%3D1%3Bfrom-tag%3D2>");
 * r.uri.headers.get("Replaces"); // "12345@a.com;to-tag=1;from-tag=2"
 * ```
 */
export function parseReferTo(text: string): SipNameAddr {
  return SipNameAddr.parse(text);
}

/**
 * Parse an Expires value: delta-seconds (RFC 3261 §20.19). Values above 2**32-1 are clamped
 * to 2**32-1 (RFC 4475 §3.1.2.9 expects huge values to be handled).
 * @param text the header value
 * @returns seconds
 * @throws {SipParseError} when the value is not delta-seconds
 * @example
 * ```ts
 * import { parseExpires } from "./header_parsers.ts";
 * parseExpires(" 3600 "); // 3600
 * ```
 */
export function parseExpires(text: string): number {
  const end = trimEndIndex(text, 0, text.length);
  const s = skipLws(text, 0, end);
  return parseDigits(text, s, end, MAX_UINT32, "Expires", true);
}
