/**
 * The checks a UAS or proxy applies to a parsed message before processing it (RFC 3261
 * §8.2, §16.3, RFC 4475).
 *
 * @module
 */

import type { SipMessage } from "./types.ts";
import { SipParseError } from "./errors.ts";
import { SipMessageCore, SipRequestMessage } from "./message.ts";
import { splitHeaderValues } from "./header_parsers.ts";
import { SipUri } from "./uri.ts";

/** The answer {@linkcode validateMessage} gives for a message that must be rejected. */
export interface ValidationFailure {
  /** The status code to answer a request with (a response is simply discarded). */
  status: number;
  /** The reason phrase, specific about what is wrong. */
  reason: string;
}

/** The keys whose lines are counted, in the order of {@linkcode HeaderSummary.counts}. */
const COUNTED_KEYS: readonly string[] = [
  "call-id",
  "to",
  "from",
  "cseq",
  "max-forwards",
  "content-type",
  "expires",
  "content-length",
  "via",
];

/** Key → where its line count goes in {@linkcode HeaderSummary.counts}. */
const COUNTED: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(COUNTED_KEYS.map((key, at) => [key, at])),
);
const EXPIRES_AT: number = COUNTED["expires"]!;
const VIA_AT: number = COUNTED["via"]!;
const CONTENT_LENGTH_AT: number = COUNTED["content-length"]!;

/** Headers that may appear at most once (RFC 3261 §20, RFC 4475 §3.3.8): label, and where
 * their line count is. */
const SINGLE: readonly (readonly [string, number])[] = [
  ["Call-ID", COUNTED["call-id"]!],
  ["To", COUNTED["to"]!],
  ["From", COUNTED["from"]!],
  ["CSeq", COUNTED["cseq"]!],
  ["Max-Forwards", COUNTED["max-forwards"]!],
  ["Content-Type", COUNTED["content-type"]!],
  ["Expires", EXPIRES_AT],
];

/** The mandatory headers: label, and where their line count is. */
const MANDATORY: readonly (readonly [string, number])[] = [
  ["Via", VIA_AT],
  ["To", COUNTED["to"]!],
  ["From", COUNTED["from"]!],
  ["Call-ID", COUNTED["call-id"]!],
  ["CSeq", COUNTED["cseq"]!],
];

const MAX_CSEQ = 2 ** 31 - 1;
const MAX_UINT32 = 2 ** 32 - 1;
const DIGITS_RE: RegExp = /^\d+$/;
const GMT_RE: RegExp = / GMT$/;

/** What the header checks need, gathered in one pass over the header lines. */
interface HeaderSummary {
  /** Line counts, by the index in {@linkcode COUNTED}. */
  counts: number[];
  /** The first Expires value. */
  expires: string | undefined;
  /** The first Date value. */
  date: string | undefined;
  /** The first From, To or Contact value that is an addr-spec with `?` (it must be in
   * `<>`, RFC 3261 §20.10), with its header key. */
  unbracketed: readonly [string, string] | undefined;
}

function bad(reason: string): ValidationFailure {
  return { status: 400, reason: `Bad Request - ${reason}` };
}

/** The headers every message must be able to parse, in the order they are checked, each with
 * its accessor (module constants: no closure per message). */
const HEADER_READS: readonly (readonly [string, (msg: SipMessage) => unknown])[] = [
  ["CSeq header", (m) => m.cseq],
  ["From header", (m) => m.from],
  ["To header", (m) => m.to],
  ["Via header", (m) => m.vias],
  ["Contact header", (m) => m.contacts],
  ["Route header", (m) => m.routes],
  ["Record-Route header", (m) => m.recordRoutes],
  ["Max-Forwards header", (m) => m.maxForwards],
  ["Content-Type header", (m) => m.contentType],
];

/** Run `read` on `msg`; a SipParseError becomes a 400 naming the header. */
function check<M extends SipMessage>(
  label: string,
  read: (msg: M) => unknown,
  msg: M,
): ValidationFailure | undefined {
  try {
    read(msg);
    return undefined;
  } catch (e) {
    if (e instanceof SipParseError) return bad(`Malformed ${label}: ${e.message}`);
    throw e;
  }
}

/** An addr-spec (no angle brackets) whose URI carries `?` or `,` is ambiguous: RFC 3261
 * §20.10 says such a URI MUST be enclosed in `<>`. */
function unbracketedProblem(value: string): boolean {
  if (value.indexOf("<") >= 0) return false;
  return value.indexOf("?") >= 0;
}

/** The summary of a sipkit message: one pass over its header lines (the parser's index),
 * without making field objects; values are cut out only where a check needs them. */
function summarizeCore(msg: SipMessageCore): HeaderSummary {
  const counts = COUNTED_KEYS.map(() => 0);
  let expires: string | undefined;
  let date: string | undefined;
  // The first offending value of each header, reported in the order From, To, Contact.
  let fromBad: string | undefined;
  let toBad: string | undefined;
  let contactBad: string | undefined;
  msg.eachHeader((key, text, start, end) => {
    switch (key) {
      case "via":
        counts[VIA_AT]!++;
        break;
      case "call-id":
      case "cseq":
      case "max-forwards":
      case "content-type":
      case "content-length":
        counts[COUNTED[key]!]!++;
        break;
      case "expires":
        counts[EXPIRES_AT]!++;
        expires ??= text.slice(start, end);
        break;
      case "date":
        date ??= text.slice(start, end);
        break;
      case "from":
      case "to":
      case "contact": {
        if (key !== "contact") counts[COUNTED[key]!]!++;
        const q = text.indexOf("?", start);
        if (q < 0 || q >= end) break; // no '?': nothing to check (the usual case)
        const value = text.slice(start, end);
        const values = key === "contact" ? splitContactValues(value) : [value];
        const found = values.find(unbracketedProblem);
        if (found === undefined) break;
        if (key === "from") fromBad ??= found;
        else if (key === "to") toBad ??= found;
        else contactBad ??= found;
        break;
      }
    }
  });
  const unbracketed: readonly [string, string] | undefined = fromBad !== undefined
    ? ["from", fromBad]
    : toBad !== undefined
    ? ["to", toBad]
    : contactBad !== undefined
    ? ["contact", contactBad]
    : undefined;
  return { counts, expires, date, unbracketed };
}

/** The Contact values of one line, as `headers("contact")` gives them. */
function splitContactValues(value: string): string[] {
  try {
    return splitHeaderValues(value);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    return [value];
  }
}

/** The summary of any other {@linkcode SipMessage} implementation, through its accessors. */
function summarizeAny(msg: SipMessage): HeaderSummary {
  // Via is a list header: headers() drops empty values, so its presence is asked directly.
  const counts = COUNTED_KEYS.map((key) =>
    key === "via" ? (msg.hasHeader(key) ? 1 : 0) : msg.headers(key).length
  );
  let unbracketed: readonly [string, string] | undefined;
  for (const key of ["from", "to", "contact"]) {
    const v = msg.headers(key).find(unbracketedProblem);
    if (v !== undefined) {
      unbracketed = [key, v];
      break;
    }
  }
  return { counts, expires: msg.header("expires"), date: msg.header("date"), unbracketed };
}

/**
 * Check a parsed message the way a UAS does after parsing (RFC 3261 §8.2, RFC 4475):
 *
 * - the SIP version must be `SIP/2.0` (else 505 Version Not Supported);
 * - Via, To, From, Call-ID and CSeq must be present, and Call-ID, To, From, CSeq,
 *   Max-Forwards, Content-Type and Expires at most once;
 * - the Request-URI, To, From, Via, Contact, Route, Record-Route and Content-Type must parse,
 *   and the Request-URI must not carry `?headers` or be enclosed in `<>`;
 * - the CSeq number must be below 2^31 and its method equal the request method;
 * - Max-Forwards must be 0 to 255, Expires 0 to 2^32-1;
 * - Content-Length may appear only once; a non-empty body needs a Content-Type;
 * - a Date header must be in GMT.
 *
 * A missing Max-Forwards is tolerated (RFC 2543 clients, RFC 4475 §3.4.1). For a sipkit
 * message the header checks take one pass over the header lines.
 *
 * @param msg the parsed request or response
 * @returns undefined when the message is acceptable, else the status and reason to answer
 *
 * @example
 * ```ts
 * import { parseMessage } from "./parser.ts";
 * import { validateMessage } from "./validate.ts";
 * const msg = parseMessage(
 *   "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\n" +
 *     "From: <sip:a@h>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\r\n",
 * );
 * const failure = validateMessage(msg);
 * if (failure?.status !== 400) throw new Error("expected 400");
 * ```
 */
export function validateMessage(msg: SipMessage): ValidationFailure | undefined {
  try {
    return validate(msg);
  } catch (e) {
    // A value the specific checks did not reach (e.g. an unbalanced quote in a list header).
    if (e instanceof SipParseError) return bad(e.message);
    throw e;
  }
}

function validate(msg: SipMessage): ValidationFailure | undefined {
  if (msg.version !== "SIP/2.0") {
    return { status: 505, reason: "Version Not Supported" };
  }
  const summary = msg instanceof SipMessageCore ? summarizeCore(msg) : summarizeAny(msg);
  const counts = summary.counts;
  for (const [label, at] of MANDATORY) {
    if (counts[at] === 0) return bad(`Missing ${label} header`);
  }
  for (const [label, at] of SINGLE) {
    if (counts[at]! > 1) return bad(`Multiple ${label} values`);
  }
  if (msg.callId.trim().length === 0) return bad("Empty Call-ID");

  if (msg.kind === "request") {
    // A URI of the common shape (no `?headers`, no `<`) passes without being built.
    const text = msg instanceof SipRequestMessage ? msg.uriText() : undefined;
    if (text === undefined || !SipUri.isSimpleValid(text, 0, text.length)) {
      const r = check("Request-URI", (m) => m.uri, msg);
      if (r) return r;
      const uriText = String(msg.uri);
      if (uriText.startsWith("<")) return bad("Request-URI must not be enclosed in <>");
      if (msg.uri.headers.size > 0) return bad("Request-URI must not contain headers");
    }
  }

  // Each accessor parses (and caches) its header; a parse error becomes a 400 naming it.
  for (const [label, read] of HEADER_READS) {
    const failure = check(label, read, msg);
    if (failure) return failure;
  }

  const unbracketed = summary.unbracketed;
  if (unbracketed !== undefined) {
    return bad(`URI with headers must be enclosed in <> in ${unbracketed[0]}: ${unbracketed[1]}`);
  }

  const cseq = msg.cseq;
  if (!Number.isSafeInteger(cseq.seq) || cseq.seq < 0 || cseq.seq > MAX_CSEQ) {
    return bad("CSeq number out of range");
  }
  if (msg.kind === "request" && cseq.method !== msg.method) {
    return bad("CSeq method does not match");
  }

  const mf = msg.maxForwards;
  if (mf !== undefined && mf > 255) return bad("Max-Forwards out of range");

  const expires = summary.expires;
  if (expires !== undefined) {
    const v = expires.trim();
    if (!DIGITS_RE.test(v) || Number(v) > MAX_UINT32) return bad("Expires out of range");
  }

  if (counts[CONTENT_LENGTH_AT]! > 1) return bad("Duplicated Content-Length");
  if (msg.contentLength > 0 && msg.contentType === undefined) {
    return bad("Body without Content-Type");
  }

  const date = summary.date;
  if (date !== undefined && !GMT_RE.test(date.trim())) return bad("Date must be in GMT");

  return undefined;
}
