/**
 * The SIP message parser (RFC 3261 §7, §18.3, §25).
 *
 * Parsing is lazy: {@linkcode parseMessage} reads the start line, splits the header section
 * into fields (undoing line folding), checks the framing (Content-Length against the bytes
 * present) and the presence of the mandatory headers. Header values are decoded when an
 * accessor first asks for them.
 *
 * @example Parse an OPTIONS request
 * ```ts
 * import { parseMessage } from "./parser.ts";
 *
 * const msg = parseMessage(
 *   "OPTIONS sip:bob@example.com SIP/2.0\r\n" +
 *     "Via: SIP/2.0/UDP client.example.com;branch=z9hG4bK74bf9\r\n" +
 *     "Max-Forwards: 70\r\n" +
 *     "To: <sip:bob@example.com>\r\n" +
 *     "From: <sip:alice@example.com>;tag=9fxced76sl\r\n" +
 *     "Call-ID: 3848276298220188511@client.example.com\r\n" +
 *     "CSeq: 1 OPTIONS\r\n" +
 *     "Content-Length: 0\r\n\r\n",
 * );
 * if (msg.kind !== "request" || msg.callId !== "3848276298220188511@client.example.com") {
 *   throw new Error("unexpected parse result");
 * }
 * ```
 *
 * @module
 */

import type { SipRequest, SipResponse } from "./types.ts";
import { SipParseError } from "./errors.ts";
import { HEADER_ID_KEYS, keyOfName } from "./header_names.ts";
import {
  asciiBytes,
  type CharCodes,
  charCodesOf,
  codesEqual,
  isTokenCode,
  knownMethodCode,
} from "./grammar.ts";
import { type HeaderField, SipRequestMessage, SipResponseMessage } from "./message.ts";

const UTF8_DECODER: TextDecoder = new TextDecoder();
const UTF8_ENCODER: TextEncoder = new TextEncoder();
const VERSION_RE: RegExp = /^SIP\/\d+\.\d+$/i;
const STATUS_RE: RegExp = /^[1-6]\d\d$/;
/** True when `s` contains a control character other than SP and HTAB. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 127 || (c < 32 && c !== 9)) return true;
  }
  return false;
}

/** True when `c[s:e]` starts with `scheme ":"` (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). */
function hasScheme(c: CharCodes, s: number, e: number): boolean {
  const c0 = c[s]! | 32;
  if (c0 < 97 || c0 > 122) return false;
  for (let i = s + 1; i < e; i++) {
    const ch = c[i]!;
    if (ch === 58) return true;
    const l = ch | 32;
    if (!((l >= 97 && l <= 122) || (ch >= 48 && ch <= 57) || ch === 43 || ch === 45 || ch === 46)) {
      return false;
    }
  }
  return false;
}

/** The headers every request and response must carry (RFC 3261 §8.1.1, §20). */
const MANDATORY: readonly (readonly [number, string])[] = [
  [1, "To"],
  [2, "From"],
  [4, "CSeq"],
  [8, "Call-ID"],
  [16, "Via"],
];
const EMPTY: Uint8Array = new Uint8Array(0);
/** Datagrams up to this size are decoded in one call (see parseMessage). */
const WHOLE_DECODE_LIMIT = 8192;

/** Trim SP and HTAB (only: `String.prototype.trim` would also eat U+FEFF and friends). */
function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Quote a short excerpt of bad input for an error message. */
function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 60) + "..." : text);
}

/** Where the header section ends: `end` is just past the last header line's LF, `body` just
 * past the empty line; both -1 when there is no empty line. Lines may end in CRLF or LF. */
interface HeadBounds {
  end: number;
  body: number;
}

function headerEndInBytes(bytes: Uint8Array, start: number): HeadBounds {
  const n = bytes.length;
  for (let i = start; i < n; i++) {
    if (bytes[i] !== 10) continue;
    const next = bytes[i + 1];
    if (next === 10) return { end: i + 1, body: i + 2 };
    if (next === 13 && bytes[i + 2] === 10) return { end: i + 1, body: i + 3 };
  }
  return { end: -1, body: -1 };
}

const HAS_TO = 1;
const HAS_FROM = 2;
const HAS_CSEQ = 4;
const HAS_CALL_ID = 8;
const HAS_VIA = 16;
const HAS_ALL = 31;

// Lower-case header names, for the case-insensitive comparison of idOfName.
const N_FROM: Uint8Array = asciiBytes("from");
const N_CSEQ: Uint8Array = asciiBytes("cseq");
const N_DATE: Uint8Array = asciiBytes("date");
const N_ROUTE: Uint8Array = asciiBytes("route");
const N_ALLOW: Uint8Array = asciiBytes("allow");
const N_CALL_ID: Uint8Array = asciiBytes("call-id");
const N_CONTACT: Uint8Array = asciiBytes("contact");
const N_EXPIRES: Uint8Array = asciiBytes("expires");
const N_SUPPORTED: Uint8Array = asciiBytes("supported");
const N_USER_AGENT: Uint8Array = asciiBytes("user-agent");
const N_MAX_FORWARDS: Uint8Array = asciiBytes("max-forwards");
const N_RECORD_ROUTE: Uint8Array = asciiBytes("record-route");
const N_CONTENT_TYPE: Uint8Array = asciiBytes("content-type");
const N_CONTENT_LENGTH: Uint8Array = asciiBytes("content-length");

// Ids of HEADER_ID_KEYS used by the scan.
const ID_VIA = 1;
const ID_TO = 2;
const ID_FROM = 3;
const ID_CSEQ = 4;
const ID_CALL_ID = 5;
const ID_CONTACT = 6;
const ID_CONTENT_LENGTH = 7;
const ID_CONTENT_TYPE = 8;
const ID_ROUTE = 9;
const ID_RECORD_ROUTE = 10;
const ID_MAX_FORWARDS = 11;
const ID_EXPIRES = 12;
const ID_DATE = 13;
const ID_ALLOW = 14;
const ID_SUPPORTED = 15;
const ID_USER_AGENT = 16;

/** True when `c[at:at+lit.length]` equals the lower-case `lit` (letters and `-`) in any
 * case: a letter matches either case (`code | 32`), anything else only itself. The first
 * character is compared by the caller. */
function sameName(c: CharCodes, at: number, lit: Uint8Array): boolean {
  for (let k = 1; k < lit.length; k++) {
    const l = lit[k]!;
    const ch = c[at + k]!;
    if (ch !== l && (l < 97 || (ch | 32) !== l)) return false;
  }
  return true;
}

/** The id (`headerId(headerKey(name))`) of the header name `c[a:b]`, in any case and in
 * compact form, without cutting the name out; 0 for any other name. A name with an id is made
 * of letters and `-` only (so it is a token). */
function idOfName(c: CharCodes, a: number, b: number): number {
  const c0 = c[a]! | 32;
  switch (b - a) {
    case 1:
      switch (c0) {
        case 118: // v
          return ID_VIA;
        case 116: // t
          return ID_TO;
        case 102: // f
          return ID_FROM;
        case 105: // i
          return ID_CALL_ID;
        case 109: // m
          return ID_CONTACT;
        case 108: // l
          return ID_CONTENT_LENGTH;
        case 99: // c
          return ID_CONTENT_TYPE;
        case 107: // k
          return ID_SUPPORTED;
      }
      return 0;
    case 2:
      return c0 === 116 && (c[a + 1]! | 32) === 111 ? ID_TO : 0;
    case 3:
      return c0 === 118 && (c[a + 1]! | 32) === 105 && (c[a + 2]! | 32) === 97 ? ID_VIA : 0;
    case 4:
      if (c0 === 102) return sameName(c, a, N_FROM) ? ID_FROM : 0;
      if (c0 === 99) return sameName(c, a, N_CSEQ) ? ID_CSEQ : 0;
      return c0 === 100 && sameName(c, a, N_DATE) ? ID_DATE : 0;
    case 5:
      if (c0 === 114) return sameName(c, a, N_ROUTE) ? ID_ROUTE : 0;
      return c0 === 97 && sameName(c, a, N_ALLOW) ? ID_ALLOW : 0;
    case 7:
      if (c0 === 99) {
        if ((c[a + 1]! | 32) === 97) return sameName(c, a, N_CALL_ID) ? ID_CALL_ID : 0;
        return sameName(c, a, N_CONTACT) ? ID_CONTACT : 0;
      }
      return c0 === 101 && sameName(c, a, N_EXPIRES) ? ID_EXPIRES : 0;
    case 9:
      return c0 === 115 && sameName(c, a, N_SUPPORTED) ? ID_SUPPORTED : 0;
    case 10:
      return c0 === 117 && sameName(c, a, N_USER_AGENT) ? ID_USER_AGENT : 0;
    case 12:
      if (c0 === 109) return sameName(c, a, N_MAX_FORWARDS) ? ID_MAX_FORWARDS : 0;
      if (c0 === 114) return sameName(c, a, N_RECORD_ROUTE) ? ID_RECORD_ROUTE : 0;
      return c0 === 99 && sameName(c, a, N_CONTENT_TYPE) ? ID_CONTENT_TYPE : 0;
    case 14:
      return c0 === 99 && sameName(c, a, N_CONTENT_LENGTH) ? ID_CONTENT_LENGTH : 0;
  }
  return 0;
}

/** What {@linkcode parseFields} found. */
interface FieldScan {
  /** The char codes of the scanned text. */
  codes: CharCodes;
  /** The header lines, four numbers each (the layout of `SipMessageInit.headerIndex`). */
  lines: number[];
  /** Field objects of the folded lines. */
  extra: HeaderField[];
  /** HAS_* bits of the mandatory headers seen. */
  seen: number;
  /** The text holding the first Content-Length value (the header section, or the joined
   * value of a folded line). */
  lengthText: string;
  /** Where the first Content-Length value starts in `lengthText`; -1 when absent. */
  lengthStart: number;
  /** Where it ends. */
  lengthEnd: number;
  /** Any further Content-Length values, in order. */
  moreLengths: string[] | undefined;
  /** Index just past the empty line that ends the header section; -1 when there is none. */
  bodyAt: number;
}

/** Parse one Content-Length value (`v[start:end]`, trimmed) and merge it with the value
 * seen before (`previous`, -1 for none). Throws on a negative, non-numeric or conflicting
 * value (a framing error, RFC 3261 §18.3). */
function contentLengthAt(v: string, start: number, end: number, previous: number): number {
  if (start === end) throw new SipParseError("Content-Length is empty");
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) {
      if (i === start && c === 45 && end - start > 1) {
        throw new SipParseError(`Content-Length is negative: ${excerpt(v.slice(start, end))}`);
      }
      throw new SipParseError(`Content-Length is not a number: ${excerpt(v.slice(start, end))}`);
    }
    n = n * 10 + (c - 48);
  }
  if (!Number.isSafeInteger(n)) {
    throw new SipParseError(`Content-Length is too large: ${v.slice(start, end)}`);
  }
  if (previous >= 0 && previous !== n) {
    throw new SipParseError(`Conflicting Content-Length values: ${previous} and ${n}`);
  }
  return n;
}

/**
 * Split the header lines that start at `from` into fields, undoing line folding, up to the
 * empty line that ends the header section (or the end of `head` when `toEnd`). `c` holds the
 * char codes of `head`.
 *
 * No object and no string is made for a line: it is recorded as four numbers (see
 * `SipMessageInit.headerIndex`) and the message makes its field object only if one is asked
 * for. Only a folded line gets its field object now (its value is joined text).
 */
function parseFields(head: string, c: CharCodes, from: number, toEnd: boolean): FieldScan {
  const lines: number[] = [];
  const extra: HeaderField[] = [];
  const n = head.length;
  let seen = 0;
  let lengthText = "";
  let lengthStart = -1;
  let lengthEnd = -1;
  let moreLengths: string[] | undefined;
  let pos = from;
  // The header being collected (it may continue on folded lines).
  let name = ""; // name and key: only for a folded line
  let key = "";
  let id = 0;
  let value = "";
  let raw = "";
  let ls = 0;
  let ne = 0;
  let le = 0;
  let vs = 0;
  let ve = 0;
  let folded = false;
  let open = false;
  let bodyAt = -1;
  for (;;) {
    // `last`: no header line follows (the end of the input, or the empty line).
    let last = false;
    let lf = pos < n ? head.indexOf("\n", pos) : -1;
    if (lf < 0) {
      if (!toEnd || pos >= n) last = true;
      else lf = n;
    }
    const lineEnd = lf > pos && c[lf - 1] === 13 ? lf - 1 : lf;
    const c0 = c[pos];
    if (!last && lineEnd === pos) {
      // The empty line: the header section ends here.
      bodyAt = lf + 1;
      last = true;
    }
    if (!last && (c0 === 32 || c0 === 9)) {
      // Folding (RFC 3261 §7.3.1): the line continues the previous header value.
      const line = head.slice(pos, lineEnd);
      pos = lf + 1;
      if (!open) {
        throw new SipParseError(`Header section starts with a continuation line: ${excerpt(line)}`);
      }
      if (!folded) {
        name = head.slice(ls, ne);
        key = id !== 0 ? HEADER_ID_KEYS[id] ?? "" : keyOfName(name);
        value = head.slice(vs, ve);
        raw = head.slice(ls, le);
      }
      const more = trimWsp(line);
      value = value.length === 0 ? more : more.length === 0 ? value : `${value} ${more}`;
      raw += "\r\n" + line;
      folded = true;
      continue;
    }
    if (open) {
      if (folded) {
        lines.push(-1 - extra.length, 0, 0, id);
        extra.push({ name, key, value, raw, source: undefined, start: 0, end: 0 });
      } else {
        lines.push(ls, vs, ve, id);
      }
      if (id === ID_CONTENT_LENGTH) {
        if (lengthStart < 0) {
          lengthText = folded ? value : head;
          lengthStart = folded ? 0 : vs;
          lengthEnd = folded ? value.length : ve;
        } else {
          (moreLengths ??= []).push(folded ? value : head.slice(vs, ve));
        }
      }
    }
    if (last) break;
    // The colon ends the (short) name: a few typed-array reads beat a string search.
    let colon = pos;
    while (colon < lineEnd && c[colon] !== 58) colon++;
    if (colon === lineEnd) throw badHeaderLine(head, pos, lineEnd);
    // HCOLON allows whitespace between the name and the colon.
    ne = colon;
    while (ne > pos && (c[ne - 1] === 32 || c[ne - 1] === 9)) ne--;
    if (ne === pos) throw badHeaderLine(head, pos, lineEnd);
    id = idOfName(c, pos, ne);
    if (id === 0) {
      // Any other name must be a token (a name with an id is one).
      for (let k = pos; k < ne; k++) {
        if (!isTokenCode(c[k])) throw badHeaderLine(head, pos, lineEnd);
      }
    }
    switch (id) {
      case ID_TO:
        seen |= HAS_TO;
        break;
      case ID_FROM:
        seen |= HAS_FROM;
        break;
      case ID_CSEQ:
        seen |= HAS_CSEQ;
        break;
      case ID_CALL_ID:
        seen |= HAS_CALL_ID;
        break;
      case ID_VIA:
        seen |= HAS_VIA;
        break;
    }
    vs = colon + 1;
    while (vs < lineEnd && (c[vs] === 32 || c[vs] === 9)) vs++;
    ve = lineEnd;
    while (ve > vs && (c[ve - 1] === 32 || c[ve - 1] === 9)) ve--;
    ls = pos;
    le = lineEnd;
    value = "";
    raw = "";
    open = true;
    folded = false;
    pos = lf + 1;
  }
  if (toEnd && bodyAt < 0) bodyAt = n;
  return { codes: c, lines, extra, seen, lengthText, lengthStart, lengthEnd, moreLengths, bodyAt };
}

/** The error for a header line whose name is not a token followed by a colon. */
function badHeaderLine(head: string, pos: number, lineEnd: number): SipParseError {
  const colon = head.indexOf(":", pos);
  if (colon < 0 || colon > lineEnd) {
    return new SipParseError(`Header line has no colon: ${excerpt(head.slice(pos, lineEnd))}`);
  }
  return new SipParseError(`Invalid header name: ${excerpt(trimWsp(head.slice(pos, colon)))}`);
}

/** The Content-Length of a scan: undefined when absent, else the single value. Throws on a
 * negative, non-numeric or conflicting value (a framing error, RFC 3261 §18.3). */
function contentLengthOf(scan: FieldScan): number | undefined {
  if (scan.lengthStart < 0) return undefined;
  let length = contentLengthAt(scan.lengthText, scan.lengthStart, scan.lengthEnd, -1);
  const more = scan.moreLengths;
  if (more !== undefined) {
    for (const v of more) length = contentLengthAt(v, 0, v.length, length);
  }
  return length;
}

const SIP_2_0: Uint8Array = asciiBytes("SIP/2.0");

/** Parse the start line `src[ls:le]` (char codes `c`) and build the message object. */
function buildMessage(
  src: string,
  c: CharCodes,
  ls: number,
  le: number,
  scan: FieldScan,
  body: Uint8Array,
  bodyStart: number,
  bodyLength: number,
): SipRequestMessage | SipResponseMessage {
  const sp1 = src.indexOf(" ", ls);
  if (sp1 <= ls || sp1 >= le) {
    throw new SipParseError(`Malformed start line: ${excerpt(src.slice(ls, le))}`);
  }
  // The first word: a method (a token) or, with a '/', a SIP version.
  let token = true;
  let slash = false;
  for (let i = ls; i < sp1; i++) {
    const ch = c[i];
    if (!isTokenCode(ch)) {
      token = false;
      if (ch === 47) slash = true;
    }
  }
  if (slash) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    const first = src.slice(ls, sp1);
    const startLine = src.slice(ls, le);
    if (!VERSION_RE.test(first)) {
      throw new SipParseError(`Unknown protocol in Status-Line: ${excerpt(first)}`);
    }
    const at = sp1 - ls;
    const sp2 = startLine.indexOf(" ", at + 1);
    const code = sp2 < 0 ? startLine.slice(at + 1) : startLine.slice(at + 1, sp2);
    if (!STATUS_RE.test(code)) {
      throw new SipParseError(`Invalid status code in Status-Line: ${excerpt(code)}`);
    }
    const reason = sp2 < 0 ? "" : startLine.slice(sp2 + 1);
    if (hasControl(reason)) {
      throw new SipParseError(`Control character in reason phrase: ${excerpt(reason)}`);
    }
    return new SipResponseMessage({
      version: first,
      status: Number(code),
      reason,
      headerIndex: { text: src, codes: c, lines: scan.lines, extra: scan.extra },
      body,
      bodyStart,
      bodyLength,
    });
  }
  // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single spaces.
  const sp2 = src.indexOf(" ", sp1 + 1);
  if (sp2 < 0 || sp2 >= le) {
    throw new SipParseError(`Malformed Request-Line: ${excerpt(src.slice(ls, le))}`);
  }
  const vs = sp2 + 1;
  // The usual version, compared in place (then no space can follow it).
  const usual = le - vs === 7 && codesEqual(c, vs, SIP_2_0);
  if (!usual) {
    const sp3 = src.indexOf(" ", vs);
    if (sp3 >= 0 && sp3 < le) {
      throw new SipParseError(`Request-Line has extra spaces: ${excerpt(src.slice(ls, le))}`);
    }
  }
  if (!token) throw new SipParseError(`Invalid method: ${excerpt(src.slice(ls, sp1))}`);
  if (sp2 === sp1 + 1) {
    throw new SipParseError(`Request-Line has extra spaces: ${excerpt(src.slice(ls, le))}`);
  }
  const uri = src.slice(sp1 + 1, sp2);
  // SP cannot be left (the line was split on it); other control characters are refused by
  // the URI parser when the URI is first read.
  if (uri.indexOf("\t") >= 0) {
    throw new SipParseError(`Request-URI contains whitespace: ${excerpt(uri)}`);
  }
  if (!hasScheme(c, sp1 + 1, sp2)) {
    throw new SipParseError(`Request-URI is not an absolute URI: ${excerpt(uri)}`);
  }
  const version = usual ? "SIP/2.0" : src.slice(vs, le);
  if (!usual && !VERSION_RE.test(version)) {
    throw new SipParseError(`Invalid SIP-Version in Request-Line: ${excerpt(version)}`);
  }
  return new SipRequestMessage({
    version,
    method: knownMethodCode(c, ls, sp1) ?? src.slice(ls, sp1),
    uri,
    headerIndex: { text: src, codes: c, lines: scan.lines, extra: scan.extra },
    body,
    bodyStart,
    bodyLength,
  });
}

/**
 * Parse one SIP message (a whole datagram, or one message cut out of a stream by a framer).
 *
 * - Leading CRLFs are skipped (RFC 3261 §7.5); lines may end in CRLF or, leniently, LF.
 * - The header section must end with an empty line.
 * - Content-Length (or `l`) frames the body: a longer body is cut to it (the rest of a
 *   datagram is ignored, RFC 3261 §18.3), a shorter body, a negative, non-numeric or
 *   conflicting value is an error. Without Content-Length the body is the rest of the input.
 * - To, From, CSeq, Call-ID and Via must be present; their values are parsed on access.
 *
 * A string input is taken as text: its body bytes are its UTF-8 encoding. For a byte input
 * the body is a view of `input` (no copy), and the typed accessors read the header bytes of
 * `input` when first used: do not overwrite the input buffer while the message is in use (a
 * stream framer must hand over a fresh array or a copy).
 *
 * @param input the message bytes or text
 * @returns the request or response
 * @throws {SipParseError} with a specific reason when the input is not a SIP message
 *
 * @example
 * ```ts
 * import { parseMessage } from "./parser.ts";
 * const res = parseMessage(
 *   "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\n" +
 *     "From: <sip:a@h>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
 * );
 * if (res.kind !== "response" || res.status !== 200) throw new Error("bad parse");
 * ```
 */
export function parseMessage(input: Uint8Array | string): SipRequest | SipResponse {
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  let bytesBodyAt = -1;
  if (typeof input === "string") {
    text = input;
    // An ASCII text is handled as its bytes: they are its char codes and hold the body.
    const encoded = UTF8_ENCODER.encode(input);
    if (encoded.length === input.length) bytes = encoded;
  } else {
    bytes = input;
    if (input.length <= WHOLE_DECODE_LIMIT) {
      // One native decode of the whole datagram. When every byte became one UTF-16 unit
      // (ASCII, or invalid bytes each replaced by U+FFFD), string offsets are byte offsets.
      const all = UTF8_DECODER.decode(input);
      if (all.length === input.length) text = all;
    }
  }
  let start = 0;
  let scan: FieldScan;
  let src: string;
  let ls: number;
  let le: number;
  if (text !== undefined) {
    while (text.charCodeAt(start) === 13 || text.charCodeAt(start) === 10) start++;
    const lf = text.indexOf("\n", start);
    if (lf < 0) throw unterminated(text.length - start);
    src = text;
    ls = start;
    le = text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
    // Bytes decoded one to one stand for the text's char codes (equal for ASCII; a byte that
    // is not valid UTF-8 became U+FFFD: both are "not ASCII" to every scan).
    scan = parseFields(text, bytes ?? charCodesOf(text), lf + 1, false);
    if (scan.bodyAt < 0) throw unterminated(1);
    if (bytes !== undefined) bytesBodyAt = scan.bodyAt;
  } else {
    // Large or non-ASCII datagram: find the end of the header section in the bytes, decode
    // only the header section.
    const b = bytes!;
    while (b[start] === 13 || b[start] === 10) start++;
    const bounds = headerEndInBytes(b, start);
    if (bounds.end < 0) throw unterminated(b.length - start);
    const headBytes = b.subarray(start, bounds.end);
    const head = UTF8_DECODER.decode(headBytes);
    const lf = head.indexOf("\n");
    src = head;
    ls = 0;
    le = head.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
    scan = parseFields(
      head,
      head.length === headBytes.length ? headBytes : charCodesOf(head),
      lf + 1,
      true,
    );
    bytesBodyAt = bounds.body;
  }
  if (scan.seen !== HAS_ALL) {
    for (const [bit, label] of MANDATORY) {
      if ((scan.seen & bit) === 0) throw new SipParseError(`Missing mandatory header: ${label}`);
    }
  }
  const length = contentLengthOf(scan);
  let rest: Uint8Array;
  let restStart: number;
  if (bytes !== undefined) {
    rest = bytes;
    restStart = bytesBodyAt;
  } else {
    rest = scan.bodyAt >= text!.length ? EMPTY : UTF8_ENCODER.encode(text!.slice(scan.bodyAt));
    restStart = 0;
  }
  const available = rest.length - restStart;
  if (length !== undefined && length > available) {
    throw new SipParseError(`Content-Length ${length} exceeds the ${available} body bytes present`);
  }
  // The message makes the body view when it is first read.
  return buildMessage(src, scan.codes, ls, le, scan, rest, restStart, length ?? available);
}

function unterminated(length: number): SipParseError {
  return new SipParseError(
    length === 0 ? "Empty message" : "Header section is not terminated by an empty line",
  );
}
