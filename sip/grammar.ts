/**
 * Low-level pieces of the RFC 3261 §25 grammar shared by the URI and header-value parsers:
 * character classes, linear white space, quoted strings, %-escaping, numbers and hosts.
 *
 * Everything here scans by char code on the original string; no regular expression is built
 * per call and no state is kept between calls.
 *
 * @module
 */

import { SipParseError } from "./errors.ts";

/** `token` characters (RFC 3261 §25.1). */
export const C_TOKEN: number = 1;
/** `unreserved` characters: alphanum and `mark`. */
export const C_UNRESERVED: number = 2;
/** Characters allowed unescaped in the user part (`unreserved` / `user-unreserved`). */
export const C_USER: number = 4;
/** Characters allowed unescaped in the password part. */
export const C_PASSWORD: number = 8;
/** Characters allowed unescaped in URI parameter names and values (`paramchar`). */
export const C_PARAM: number = 16;
/** Characters allowed unescaped in URI header names and values (`hnv-unreserved`). */
export const C_HNV: number = 32;
/** Host-name characters: alphanum, `-`, `.` and (leniently) `_`. */
export const C_HOST: number = 64;
/** Characters of a URI scheme after the first letter: alphanum, `+`, `-`, `.`. */
export const C_SCHEME: number = 128;

function buildClasses(): Uint8Array {
  const t = new Uint8Array(128);
  const add = (chars: string, bits: number): void => {
    for (let i = 0; i < chars.length; i++) {
      const c = chars.charCodeAt(i);
      t[c] = (t[c] ?? 0) | bits;
    }
  };
  const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  add(alnum, C_TOKEN | C_UNRESERVED | C_USER | C_PASSWORD | C_PARAM | C_HNV | C_HOST | C_SCHEME);
  add("-.!%*_+`'~", C_TOKEN);
  const mark = "-_.!~*'()";
  add(mark, C_UNRESERVED | C_USER | C_PASSWORD | C_PARAM | C_HNV);
  add("&=+$,;?/", C_USER);
  add("&=+$,", C_PASSWORD);
  add("[]/:&+$", C_PARAM);
  add("[]/?:+$", C_HNV);
  add("-._", C_HOST);
  add("+-.", C_SCHEME);
  return t;
}

const CLASSES: Uint8Array = buildClasses();

/** True when char code `c` belongs to every class in `mask` (ASCII only). */
export function hasClass(c: number, mask: number): boolean {
  return c < 128 && ((CLASSES[c] ?? 0) & mask) === mask;
}

/** True for a `token` character. */
export function isTokenChar(c: number): boolean {
  return c < 128 && ((CLASSES[c] ?? 0) & C_TOKEN) !== 0;
}

/** True for SP, HTAB, CR or LF: the characters of (folded) linear white space. */
export function isLws(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** True for an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

/**
 * True when `s` holds `lit` at index `i` (like `s.startsWith(lit, i)`, which V8 runs more
 * slowly for the short literals of the hot parsing paths).
 * @param s the text
 * @param i where to look
 * @param lit the literal to compare
 * @returns whether `s[i:i+lit.length] === lit`
 */
export function matchAt(s: string, i: number, lit: string): boolean {
  const n = lit.length;
  if (i + n > s.length) return false;
  for (let k = 0; k < n; k++) {
    if (s.charCodeAt(i + k) !== lit.charCodeAt(k)) return false;
  }
  return true;
}

/** Index of the first non-LWS character at or after `i` (at most `end`). */
export function skipLws(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
    i++;
  }
  return i;
}

/** Index just after the last non-LWS character before `end` (at least `start`). */
export function trimEndIndex(s: string, start: number, end: number): number {
  while (end > start) {
    const c = s.charCodeAt(end - 1);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) break;
    end--;
  }
  return end;
}

/** Index just after the run of token characters starting at `i`. */
export function scanToken(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ((CLASSES[c] ?? 0) & C_TOKEN) === 0) break;
    i++;
  }
  return i;
}

/** True when `s` is a non-empty `token`. */
export function isToken(s: string): boolean {
  return s.length > 0 && scanToken(s, 0, s.length) === s.length;
}

/**
 * Scan a `quoted-string` whose opening quote is at `i`; returns the index just after the
 * closing quote. Quoted pairs (`\x`) are skipped; unescaped control characters other than
 * folding white space are rejected.
 * @throws {SipParseError} when the string is not terminated or holds a control character
 */
export function scanQuoted(s: string, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      if (i + 1 >= end) break;
      const n = s.charCodeAt(i + 1);
      if (n === 10 || n === 13) {
        throw new SipParseError("Quoted string escapes a CR or LF");
      }
      i += 2;
      continue;
    }
    if ((c < 32 && c !== 9 && c !== 13 && c !== 10) || c === 127) {
      throw new SipParseError(
        `Quoted string contains the unescaped control character 0x${c.toString(16)}`,
      );
    }
    i++;
  }
  throw new SipParseError("Unterminated quoted string (missing closing '\"')");
}

/** Decode the inside of a quoted string (between the quotes): quoted pairs are unescaped
 * and folded white space (CRLF followed by SP/HTAB) becomes a single space. */
export function unescapeQuoted(s: string, start: number, end: number): string {
  let simple = true;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 || c === 13 || c === 10) {
      simple = false;
      break;
    }
  }
  if (simple) return s.slice(start, end);
  let out = "";
  let from = start;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      out += s.slice(from, i) + s.charAt(i + 1);
      i++;
      from = i + 1;
    } else if (c === 13 || c === 10) {
      out += s.slice(from, i);
      let j = i;
      while (j < end && isLws(s.charCodeAt(j))) j++;
      out += " ";
      i = j - 1;
      from = j;
    }
  }
  return out + s.slice(from, end);
}

/**
 * Quote a string as an RFC 3261 `quoted-string`: `"`, `\` and control characters other than
 * HTAB are escaped with a backslash (a `quoted-pair`).
 * @example
 * ```ts
 * import { quoteString } from "./grammar.ts";
 * quoteString('J "Jo" Doe'); // '"J \\"Jo\\" Doe"'
 * ```
 * @throws {SipParseError} when `s` contains CR or LF, which a quoted string cannot carry
 */
export function quoteString(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92 || (c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) {
      out += s.slice(from, i) + "\\";
      from = i;
    } else if (c === 13 || c === 10) {
      throw new SipParseError("A quoted string cannot contain CR or LF");
    }
  }
  return out + s.slice(from) + '"';
}

/**
 * Undo {@linkcode quoteString}: strip the surrounding quotes and unescape quoted pairs.
 * Surrounding white space is ignored; text that does not start with `"` is returned trimmed
 * and otherwise unchanged.
 * @throws {SipParseError} when the quoted string is unterminated or followed by other text
 */
export function unquoteString(s: string): string {
  const end = trimEndIndex(s, 0, s.length);
  const start = skipLws(s, 0, end);
  if (start >= end || s.charCodeAt(start) !== 34) return s.slice(start, end);
  const close = scanQuoted(s, start, end);
  if (close !== end) {
    throw new SipParseError("Unexpected text after the closing quote of a quoted string");
  }
  return unescapeQuoted(s, start + 1, close - 1);
}

/** Decodes %-escaped octets; a U+FEFF they spell is data, kept (not taken as a byte order
 * mark). */
const UTF8: TextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Validate and %-decode `s[start:end]` whose unescaped characters must all be in `mask`.
 * Escaped octets are decoded as UTF-8 when they form valid UTF-8, else one char per octet.
 * @throws {SipParseError} naming `what` on a bad character or a bad escape
 */
export function decodeEscaped(
  s: string,
  start: number,
  end: number,
  mask: number,
  what: string,
): string {
  let pct = -1;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) {
        throw new SipParseError(`Bad %-escape in ${what}: "${s.slice(start, end)}"`);
      }
      if (pct < 0) pct = i;
      i += 2;
      continue;
    }
    if (c >= 128 || ((CLASSES[c] ?? 0) & mask) === 0) {
      throw new SipParseError(
        `Invalid character ${describeChar(c)} in ${what}: "${s.slice(start, end)}"`,
      );
    }
  }
  if (pct < 0) return s.slice(start, end);
  const bytes: number[] = [];
  let ascii = true;
  let out = s.slice(start, pct);
  for (let i = pct; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      const b = hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2));
      if (b >= 128) ascii = false;
      bytes.push(b);
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  if (ascii) {
    for (let k = 0; k < bytes.length; k++) out += String.fromCharCode(bytes[k] ?? 0);
    return out;
  }
  const arr = Uint8Array.from(bytes);
  const text = UTF8.decode(arr);
  if (text.indexOf("\uFFFD") < 0) return out + text;
  for (let k = 0; k < bytes.length; k++) out += String.fromCharCode(bytes[k] ?? 0);
  return out;
}

/**
 * Validate `s[start:end]` like {@linkcode decodeEscaped} without decoding it.
 * @throws {SipParseError} naming `what` on a bad character or a bad escape
 */
export function checkEscaped(
  s: string,
  start: number,
  end: number,
  mask: number,
  what: string,
): void {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 2 >= end || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) {
        throw new SipParseError(`Bad %-escape in ${what}: "${s.slice(start, end)}"`);
      }
      i += 2;
    } else if (c >= 128 || ((CLASSES[c] ?? 0) & mask) === 0) {
      throw new SipParseError(
        `Invalid character ${describeChar(c)} in ${what}: "${s.slice(start, end)}"`,
      );
    }
  }
}

/**
 * Scan a host name or IPv4 address starting at `i`, stopping at the first character that
 * cannot be part of one. Returns the end index, `i` when there is no host, or -1 when the
 * characters form an invalid host (empty label, or a last label starting with a digit that
 * is not a valid IPv4 address).
 */
export function scanHostName(s: string, i: number, end: number): number {
  const start = i;
  let labelStart = i;
  let prevLabel = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (i === labelStart) return -1;
      prevLabel = labelStart;
      labelStart = i + 1;
    } else if (c >= 128 || ((CLASSES[c] ?? 0) & C_HOST) === 0) {
      break;
    }
    i++;
  }
  if (i === start) return i;
  const last = labelStart < i ? labelStart : prevLabel;
  const c = s.charCodeAt(last);
  if (c >= 48 && c <= 57) {
    return isIpv4(s, start, labelStart < i ? i : i - 1) ? i : -1;
  }
  return i;
}

const HEX_DIGITS = "0123456789ABCDEF";
const UTF8_ENC: TextEncoder = new TextEncoder();

/** %-escape every character of `s` that is not in `mask` (UTF-8 octets for non-ASCII). */
export function encodeEscaped(s: string, mask: number): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ((CLASSES[c] ?? 0) & mask) === 0) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && ((CLASSES[c] ?? 0) & mask) !== 0) {
      out += s.charAt(i);
    } else if (c < 128) {
      out += "%" + HEX_DIGITS.charAt(c >> 4) + HEX_DIGITS.charAt(c & 15);
    } else {
      let j = i + 1;
      while (j < s.length && s.charCodeAt(j) >= 128) j++;
      const bytes = UTF8_ENC.encode(s.slice(i, j));
      for (const b of bytes) out += "%" + HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 15);
      i = j - 1;
    }
  }
  return out;
}

/** A readable name for a char code in error messages. */
export function describeChar(c: number): string {
  if (c === 32) return "' ' (space)";
  if (c < 32 || c === 127) return `0x${c.toString(16).padStart(2, "0")}`;
  return `'${String.fromCharCode(c)}'`;
}

/** The largest value RFC 3261 allows for delta-seconds and 32-bit counters. */
export const MAX_UINT32: number = 4294967295;

/**
 * Parse `s[start:end]` as `1*DIGIT`. Values above `max` throw, unless `clamp` is set, in
 * which case they become `max`.
 * @throws {SipParseError} naming `what` when the text is empty, not digits or too large
 */
export function parseDigits(
  s: string,
  start: number,
  end: number,
  max: number,
  what: string,
  clamp = false,
): number {
  if (start >= end) throw new SipParseError(`Missing ${what}`);
  let n = 0;
  let over = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) {
      throw new SipParseError(`${what} must be digits, got "${s.slice(start, end)}"`);
    }
    if (!over) {
      n = n * 10 + (c - 48);
      if (n > max) over = true;
    }
  }
  if (over) {
    if (clamp) return max;
    throw new SipParseError(`${what} out of range (max ${max}): ${s.slice(start, end)}`);
  }
  return n;
}

/** True when `s[start:end]` is a dotted-quad IPv4 address. */
export function isIpv4(s: string, start: number, end: number): boolean {
  let parts = 0;
  let i = start;
  while (i <= end) {
    let j = i;
    let v = 0;
    while (j < end && isDigit(s.charCodeAt(j))) {
      v = v * 10 + s.charCodeAt(j) - 48;
      j++;
      if (j - i > 3) return false;
    }
    if (j === i || v > 255) return false;
    parts++;
    if (j === end) return parts === 4;
    if (s.charCodeAt(j) !== 46 || parts === 4) return false;
    i = j + 1;
  }
  return false;
}

/** True when `s[start:end]` is an IPv6 address (RFC 4291 text form, no brackets), including
 * the forms with `::` and with a trailing dotted IPv4 part. */
export function isIpv6(s: string, start: number, end: number): boolean {
  if (end - start < 2) return false;
  let groups = 0;
  let compressed = false;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    compressed = true;
    i += 2;
    if (i === end) return true;
  }
  while (i < end) {
    let j = i;
    while (j < end && isHex(s.charCodeAt(j)) && j - i < 5) j++;
    if (j === i) return false;
    if (j < end && s.charCodeAt(j) === 46) {
      if (!isIpv4(s, i, end)) return false;
      groups += 2;
      break;
    }
    if (j - i > 4) return false;
    groups++;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    if (j + 1 < end && s.charCodeAt(j + 1) === 58) {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
      if (i === end) break;
    } else {
      i = j + 1;
      if (i === end) return false;
    }
  }
  return compressed ? groups < 8 : groups === 8;
}

/**
 * True when `s[start:end]` is a host name (labels of alphanum, `-` and, leniently, `_`; an
 * optional trailing dot) or an IPv4 address. A name whose last label starts with a digit must
 * be a valid IPv4 address.
 */
export function isHostName(s: string, start: number, end: number): boolean {
  if (start >= end) return false;
  let labelStart = start;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (i === labelStart) return false;
      labelStart = i + 1;
    } else if (c >= 128 || ((CLASSES[c] ?? 0) & C_HOST) === 0) {
      return false;
    }
  }
  let last = labelStart;
  let lastEnd = end;
  if (labelStart === end) {
    // trailing dot: look at the label before it
    lastEnd = end - 1;
    last = lastEnd;
    while (last > start && s.charCodeAt(last - 1) !== 46) last--;
  }
  if (isDigit(s.charCodeAt(last))) return isIpv4(s, start, lastEnd);
  return true;
}

/** True when `s[start:end]` is an IPv6 reference: `[` IPv6 address `]`. */
export function isIpv6Reference(s: string, start: number, end: number): boolean {
  return end - start > 2 && s.charCodeAt(start) === 91 && s.charCodeAt(end - 1) === 93 &&
    isIpv6(s, start + 1, end - 1);
}

/** The canonical text of an IPv6 address (with or without brackets): lower-case, eight
 * groups without leading zeros, the dotted IPv4 tail converted. Returns the input lower-cased
 * when it is not an IPv6 address. */
export function normalizeIpv6(host: string): string {
  const inner = host.charCodeAt(0) === 91 ? host.slice(1, -1) : host;
  if (!isIpv6(inner, 0, inner.length)) return host.toLowerCase();
  let text = inner.toLowerCase();
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.indexOf(".") >= 0) {
    const o = tail.split(".").map(Number);
    text = text.slice(0, lastColon + 1) +
      (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16) + ":" +
      (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16);
  }
  const dbl = text.indexOf("::");
  let groups: string[];
  if (dbl >= 0) {
    const head = text.slice(0, dbl) === "" ? [] : text.slice(0, dbl).split(":");
    const rest = text.slice(dbl + 2) === "" ? [] : text.slice(dbl + 2).split(":");
    groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill("0"), ...rest];
  } else {
    groups = text.split(":");
  }
  return "[" + groups.map((g) => parseInt(g, 16).toString(16)).join(":") + "]";
}

/**
 * The char codes of a text, for scanning loops: reading a typed array is several times
 * cheaper than `charCodeAt` on a string the engine has not seen before (a freshly decoded
 * message). `codes[i] === text.charCodeAt(i)` wherever the text is ASCII; elsewhere both are
 * at least 128 (the parser passes the datagram bytes when they decoded one to one, and a byte
 * that is not valid UTF-8 decodes to U+FFFD). Every scan over codes treats any code from 128
 * up alike, so it answers as the same scan over the text.
 */
export type CharCodes = Uint8Array | Uint16Array;

/** True when char code `c` is a `token` character (like {@linkcode isTokenChar}).
 * @param c a char code, or undefined past the end of the codes
 * @returns whether it is a token character
 */
export function isTokenCode(c: number | undefined): boolean {
  return c !== undefined && c < 128 && ((CLASSES[c] ?? 0) & C_TOKEN) !== 0;
}

/**
 * {@linkcode scanHostName} over char codes: the same result for the same characters.
 * @param c the char codes
 * @param i where the host starts
 * @param end where the scan must stop
 * @returns the end index, `i` when there is no host, or -1 for an invalid host
 */
export function scanHostNameCodes(c: CharCodes, i: number, end: number): number {
  const start = i;
  let labelStart = i;
  let prevLabel = i;
  while (i < end) {
    const ch = c[i]!;
    if (ch === 46) {
      if (i === labelStart) return -1;
      prevLabel = labelStart;
      labelStart = i + 1;
    } else if (ch >= 128 || ((CLASSES[ch] ?? 0) & C_HOST) === 0) {
      break;
    }
    i++;
  }
  if (i === start) return i;
  const last = labelStart < i ? labelStart : prevLabel;
  const first = c[last]!;
  if (first >= 48 && first <= 57) {
    return isIpv4Codes(c, start, labelStart < i ? i : i - 1) ? i : -1;
  }
  return i;
}

/**
 * {@linkcode isIpv4} over char codes.
 * @param c the char codes
 * @param start where the address starts
 * @param end where it ends
 * @returns whether `c[start:end]` is a dotted IPv4 address (1 to 3 digits, at most 255, per
 * part)
 */
export function isIpv4Codes(c: CharCodes, start: number, end: number): boolean {
  let parts = 0;
  let i = start;
  while (i <= end) {
    let j = i;
    let v = 0;
    while (j < end && c[j]! >= 48 && c[j]! <= 57) {
      v = v * 10 + c[j]! - 48;
      j++;
      if (j - i > 3) return false;
    }
    if (j === i || v > 255) return false;
    parts++;
    if (j === end) return parts === 4;
    if (c[j] !== 46 || parts === 4) return false;
    i = j + 1;
  }
  return false;
}

/**
 * The char codes of `text`: its UTF-8 bytes when it is ASCII, else its UTF-16 code units.
 * @param text the text
 * @returns codes with `codes[i] === text.charCodeAt(i)`
 */
export function charCodesOf(text: string): CharCodes {
  const bytes = UTF8_ENC.encode(text);
  if (bytes.length === text.length) return bytes;
  const out = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * True when `c[at:at+lit.length]` holds the ASCII literal `lit` (given as bytes: reading them
 * is cheaper than `charCodeAt` on a string argument).
 * @param c the char codes
 * @param at where to compare
 * @param lit the literal's bytes
 * @returns whether they match (false past the end of `c`)
 */
export function codesEqual(c: CharCodes, at: number, lit: Uint8Array): boolean {
  for (let k = 0; k < lit.length; k++) if (c[at + k] !== lit[k]) return false;
  return true;
}

/**
 * The bytes of an ASCII literal, for {@linkcode codesEqual}.
 * @param lit the literal
 * @returns its bytes
 */
export function asciiBytes(lit: string): Uint8Array {
  return UTF8_ENC.encode(lit);
}

/** The request methods known by name, as constant strings with their bytes. */
const KNOWN_METHODS: readonly (readonly [Uint8Array, string])[] = [
  "INVITE",
  "ACK",
  "BYE",
  "CANCEL",
  "OPTIONS",
  "REGISTER",
  "PRACK",
  "UPDATE",
  "INFO",
  "MESSAGE",
  "SUBSCRIBE",
  "NOTIFY",
  "REFER",
  "PUBLISH",
].map((m) => [asciiBytes(m), m] as const);

/**
 * The method written in `c[s, e)` as a constant string when it is one of the common methods
 * (no string is cut for them), else undefined.
 * @param c the char codes
 * @param s start
 * @param e end (exclusive)
 * @returns the method name, or undefined
 */
export function knownMethodCode(c: CharCodes, s: number, e: number): string | undefined {
  const n = e - s;
  for (const [bytes, name] of KNOWN_METHODS) {
    if (bytes.length === n && bytes[0] === c[s] && codesEqual(c, s, bytes)) return name;
  }
  return undefined;
}
