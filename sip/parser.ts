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
import { headerKey } from "./header_names.ts";
import { isToken } from "./grammar.ts";
import { type HeaderField, ParsedField, SipRequestMessage, SipResponseMessage } from "./message.ts";

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

/** True when `s` starts with `scheme ":"` (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). */
function hasScheme(s: string): boolean {
  const c0 = s.charCodeAt(0) | 32;
  if (c0 < 97 || c0 > 122) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) return true;
    const l = c | 32;
    if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) {
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

/** The key of the most common header spellings without a table lookup; undefined when the
 * name is not one of them (then {@linkcode headerKey} decides). */
function commonKey(name: string): string | undefined {
  switch (name.length) {
    case 1:
      switch (name) {
        case "v":
          return "via";
        case "t":
          return "to";
        case "f":
          return "from";
        case "i":
          return "call-id";
        case "m":
          return "contact";
        case "l":
          return "content-length";
        case "c":
          return "content-type";
      }
      return undefined;
    case 2:
      return name === "To" ? "to" : undefined;
    case 3:
      return name === "Via" ? "via" : undefined;
    case 4:
      return name === "From" ? "from" : name === "CSeq" ? "cseq" : undefined;
    case 5:
      return name === "Route" ? "route" : name === "Allow" ? "allow" : undefined;
    case 7:
      return name === "Call-ID" ? "call-id" : name === "Contact" ? "contact" : undefined;
    case 9:
      return name === "Supported" ? "supported" : undefined;
    case 10:
      return name === "User-Agent" ? "user-agent" : undefined;
    case 12:
      return name === "Max-Forwards"
        ? "max-forwards"
        : name === "Content-Type"
        ? "content-type"
        : name === "Record-Route"
        ? "record-route"
        : undefined;
    case 14:
      return name === "Content-Length" ? "content-length" : undefined;
  }
  return undefined;
}

/** What {@linkcode parseFields} found. */
interface FieldScan {
  fields: HeaderField[];
  /** HAS_* bits of the mandatory headers seen. */
  seen: number;
  /** The Content-Length values, in order. */
  lengths: string[] | undefined;
  /** Index just past the empty line that ends the header section; -1 when there is none. */
  bodyAt: number;
}

/** Split the header lines that start at `from` into fields, undoing line folding, up to the
 * empty line that ends the header section (or the end of `head` when `toEnd`). */
function parseFields(head: string, from: number, toEnd: boolean): FieldScan {
  const fields: HeaderField[] = [];
  const n = head.length;
  let seen = 0;
  let lengths: string[] | undefined;
  let pos = from;
  // The header being collected (it may continue on folded lines).
  let name = "";
  let key = "";
  let value = "";
  let raw = "";
  let ls = 0;
  let le = 0;
  let vs = 0;
  let ve = 0;
  let folded = false;
  let open = false;
  let bodyAt = -1;
  while (pos < n) {
    let lf = head.indexOf("\n", pos);
    if (lf < 0) {
      if (!toEnd) break;
      lf = n;
    }
    const lineEnd = lf > pos && head.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
    const c0 = head.charCodeAt(pos);
    if (lineEnd === pos) {
      // The empty line: the header section ends here.
      bodyAt = lf + 1;
      break;
    }
    if (c0 === 32 || c0 === 9) {
      // Folding (RFC 3261 §7.3.1): the line continues the previous header value.
      const line = head.slice(pos, lineEnd);
      pos = lf + 1;
      if (!open) {
        throw new SipParseError(`Header section starts with a continuation line: ${excerpt(line)}`);
      }
      if (!folded) {
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
      fields.push(
        folded
          ? { name, key, value, raw, source: undefined, start: 0, end: 0 }
          : new ParsedField(head, name, key, ls, vs, ve, le),
      );
      if (key === "content-length") (lengths ??= []).push(folded ? value : head.slice(vs, ve));
    }
    const colon = head.indexOf(":", pos);
    if (colon < 0 || colon > lineEnd) {
      throw new SipParseError(`Header line has no colon: ${excerpt(head.slice(pos, lineEnd))}`);
    }
    // HCOLON allows whitespace between the name and the colon.
    let nameEnd = colon;
    while (
      nameEnd > pos && (head.charCodeAt(nameEnd - 1) === 32 || head.charCodeAt(nameEnd - 1) === 9)
    ) {
      nameEnd--;
    }
    name = head.slice(pos, nameEnd);
    const common = commonKey(name);
    if (common === undefined) {
      if (!isToken(name)) throw new SipParseError(`Invalid header name: ${excerpt(name)}`);
      // headerKey() lower-cases every name longer than one letter; only the compact forms
      // need its table.
      key = name.length === 1 ? headerKey(name) : name.toLowerCase();
    } else {
      key = common;
    }
    switch (key) {
      case "to":
        seen |= HAS_TO;
        break;
      case "from":
        seen |= HAS_FROM;
        break;
      case "cseq":
        seen |= HAS_CSEQ;
        break;
      case "call-id":
        seen |= HAS_CALL_ID;
        break;
      case "via":
        seen |= HAS_VIA;
        break;
    }
    vs = colon + 1;
    while (vs < lineEnd && (head.charCodeAt(vs) === 32 || head.charCodeAt(vs) === 9)) vs++;
    ve = lineEnd;
    while (ve > vs && (head.charCodeAt(ve - 1) === 32 || head.charCodeAt(ve - 1) === 9)) ve--;
    ls = pos;
    le = lineEnd;
    value = "";
    raw = "";
    open = true;
    folded = false;
    pos = lf + 1;
  }
  if (open) {
    fields.push(
      folded
        ? { name, key, value, raw, source: undefined, start: 0, end: 0 }
        : new ParsedField(head, name, key, ls, vs, ve, le),
    );
    if (key === "content-length") (lengths ??= []).push(folded ? value : head.slice(vs, ve));
  }
  if (toEnd && bodyAt < 0) bodyAt = n;
  return { fields, seen, lengths, bodyAt };
}

/** Parse the Content-Length values: undefined when absent, else the single value. Throws on a
 * negative, non-numeric or conflicting value (a framing error, RFC 3261 §18.3). */
function contentLengthOf(values: string[] | undefined): number | undefined {
  if (values === undefined) return undefined;
  let length: number | undefined;
  for (const v of values) {
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 48 || c > 57) {
        if (i === 0 && c === 45 && v.length > 1) {
          throw new SipParseError(`Content-Length is negative: ${excerpt(v)}`);
        }
        throw new SipParseError(`Content-Length is not a number: ${excerpt(v)}`);
      }
      n = n * 10 + (c - 48);
    }
    if (v.length === 0) throw new SipParseError("Content-Length is empty");
    if (!Number.isSafeInteger(n)) throw new SipParseError(`Content-Length is too large: ${v}`);
    if (length !== undefined && length !== n) {
      throw new SipParseError(`Conflicting Content-Length values: ${length} and ${n}`);
    }
    length = n;
  }
  return length;
}

/** Parse the start line and build the message object. */
function buildMessage(
  startLine: string,
  fields: HeaderField[],
  body: Uint8Array,
): SipRequestMessage | SipResponseMessage {
  const sp1 = startLine.indexOf(" ");
  if (sp1 <= 0) throw new SipParseError(`Malformed start line: ${excerpt(startLine)}`);
  const first = startLine.slice(0, sp1);
  if (first.indexOf("/") >= 0) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    if (!VERSION_RE.test(first)) {
      throw new SipParseError(`Unknown protocol in Status-Line: ${excerpt(first)}`);
    }
    const sp2 = startLine.indexOf(" ", sp1 + 1);
    const code = sp2 < 0 ? startLine.slice(sp1 + 1) : startLine.slice(sp1 + 1, sp2);
    if (!STATUS_RE.test(code)) {
      throw new SipParseError(`Invalid status code in Status-Line: ${excerpt(code)}`);
    }
    const reason = sp2 < 0 ? "" : startLine.slice(sp2 + 1);
    if (hasControl(reason)) {
      throw new SipParseError(`Control character in reason phrase: ${excerpt(reason)}`);
    }
    return new SipResponseMessage({ version: first, status: Number(code), reason, fields, body });
  }
  // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single spaces.
  const sp2 = startLine.indexOf(" ", sp1 + 1);
  if (sp2 < 0) throw new SipParseError(`Malformed Request-Line: ${excerpt(startLine)}`);
  if (startLine.indexOf(" ", sp2 + 1) >= 0) {
    throw new SipParseError(`Request-Line has extra spaces: ${excerpt(startLine)}`);
  }
  if (!isToken(first)) throw new SipParseError(`Invalid method: ${excerpt(first)}`);
  const uri = startLine.slice(sp1 + 1, sp2);
  if (uri.length === 0) {
    throw new SipParseError(`Request-Line has extra spaces: ${excerpt(startLine)}`);
  }
  // SP cannot be left (the line was split on it); other control characters are refused by
  // the URI parser when the URI is first read.
  if (uri.indexOf("\t") >= 0) {
    throw new SipParseError(`Request-URI contains whitespace: ${excerpt(uri)}`);
  }
  if (!hasScheme(uri)) {
    throw new SipParseError(`Request-URI is not an absolute URI: ${excerpt(uri)}`);
  }
  const version = startLine.slice(sp2 + 1);
  if (version !== "SIP/2.0" && !VERSION_RE.test(version)) {
    throw new SipParseError(`Invalid SIP-Version in Request-Line: ${excerpt(version)}`);
  }
  return new SipRequestMessage({ version, method: first, uri, fields, body });
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
 * the body is a view of `input` (no copy): do not overwrite the input buffer while the
 * message is in use (a stream framer must hand over a fresh array or a copy).
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
  let startLine: string;
  if (text !== undefined) {
    while (text.charCodeAt(start) === 13 || text.charCodeAt(start) === 10) start++;
    const lf = text.indexOf("\n", start);
    if (lf < 0) throw unterminated(text.length - start);
    startLine = text.slice(start, text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf);
    scan = parseFields(text, lf + 1, false);
    if (scan.bodyAt < 0) throw unterminated(1);
    if (bytes !== undefined) bytesBodyAt = scan.bodyAt;
  } else {
    // Large or non-ASCII datagram: find the end of the header section in the bytes, decode
    // only the header section.
    const b = bytes!;
    while (b[start] === 13 || b[start] === 10) start++;
    const bounds = headerEndInBytes(b, start);
    if (bounds.end < 0) throw unterminated(b.length - start);
    const head = UTF8_DECODER.decode(b.subarray(start, bounds.end));
    const lf = head.indexOf("\n");
    startLine = head.slice(0, head.charCodeAt(lf - 1) === 13 ? lf - 1 : lf);
    scan = parseFields(head, lf + 1, true);
    bytesBodyAt = bounds.body;
  }
  if (scan.seen !== HAS_ALL) {
    for (const [bit, label] of MANDATORY) {
      if ((scan.seen & bit) === 0) throw new SipParseError(`Missing mandatory header: ${label}`);
    }
  }
  const length = contentLengthOf(scan.lengths);
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
  let body: Uint8Array;
  if (length === undefined) {
    body = available === 0 ? EMPTY : rest.subarray(restStart);
  } else {
    if (length > available) {
      throw new SipParseError(
        `Content-Length ${length} exceeds the ${available} body bytes present`,
      );
    }
    body = length === 0 ? EMPTY : rest.subarray(restStart, restStart + length);
  }
  return buildMessage(startLine, scan.fields, body);
}

function unterminated(length: number): SipParseError {
  return new SipParseError(
    length === 0 ? "Empty message" : "Header section is not terminated by an empty line",
  );
}
