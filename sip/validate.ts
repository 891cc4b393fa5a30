/**
 * The checks a UAS or proxy applies to a parsed message before processing it (RFC 3261
 * §8.2, §16.3, RFC 4475).
 *
 * @module
 */

import type { SipMessage } from "./types.ts";
import { SipParseError } from "./errors.ts";

/** The answer {@linkcode validateMessage} gives for a message that must be rejected. */
export interface ValidationFailure {
  /** The status code to answer a request with (a response is simply discarded). */
  status: number;
  /** The reason phrase, specific about what is wrong. */
  reason: string;
}

/** Headers that may appear at most once (RFC 3261 §20, RFC 4475 §3.3.8). */
const SINGLE: readonly (readonly [string, string])[] = [
  ["call-id", "Call-ID"],
  ["to", "To"],
  ["from", "From"],
  ["cseq", "CSeq"],
  ["max-forwards", "Max-Forwards"],
  ["content-type", "Content-Type"],
  ["expires", "Expires"],
];

const MANDATORY: readonly (readonly [string, string])[] = [
  ["via", "Via"],
  ["to", "To"],
  ["from", "From"],
  ["call-id", "Call-ID"],
  ["cseq", "CSeq"],
];

const MAX_CSEQ = 2 ** 31 - 1;
const MAX_UINT32 = 2 ** 32 - 1;
const DIGITS_RE: RegExp = /^\d+$/;

function bad(reason: string): ValidationFailure {
  return { status: 400, reason: `Bad Request - ${reason}` };
}

/** Run `read`; a SipParseError becomes a 400 naming the header. */
function check(label: string, read: () => unknown): ValidationFailure | undefined {
  try {
    read();
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
 * A missing Max-Forwards is tolerated (RFC 2543 clients, RFC 4475 §3.4.1).
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
  for (const [key, label] of MANDATORY) {
    if (!msg.hasHeader(key)) return bad(`Missing ${label} header`);
  }
  for (const [key, label] of SINGLE) {
    if (msg.headers(key).length > 1) return bad(`Multiple ${label} values`);
  }
  if (msg.callId.trim().length === 0) return bad("Empty Call-ID");

  if (msg.kind === "request") {
    const r = check("Request-URI", () => msg.uri);
    if (r) return r;
    const uriText = String(msg.uri);
    if (uriText.startsWith("<")) return bad("Request-URI must not be enclosed in <>");
    if (msg.uri.headers.size > 0) return bad("Request-URI must not contain headers");
  }

  const failure = check("CSeq header", () => msg.cseq) ??
    check("From header", () => msg.from) ??
    check("To header", () => msg.to) ??
    check("Via header", () => msg.vias) ??
    check("Contact header", () => msg.contacts) ??
    check("Route header", () => msg.routes) ??
    check("Record-Route header", () => msg.recordRoutes) ??
    check("Max-Forwards header", () => msg.maxForwards) ??
    check("Content-Type header", () => msg.contentType);
  if (failure) return failure;

  for (const name of ["from", "to", "contact"]) {
    for (const v of msg.headers(name)) {
      if (unbracketedProblem(v)) {
        return bad(`URI with headers must be enclosed in <> in ${name}: ${v}`);
      }
    }
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

  const expires = msg.header("expires");
  if (expires !== undefined) {
    const v = expires.trim();
    if (!DIGITS_RE.test(v) || Number(v) > MAX_UINT32) return bad("Expires out of range");
  }

  if (msg.headers("content-length").length > 1) return bad("Duplicated Content-Length");
  if (msg.contentLength > 0 && msg.contentType === undefined) {
    return bad("Body without Content-Type");
  }

  const date = msg.header("date");
  if (date !== undefined && !/ GMT$/.test(date.trim())) return bad("Date must be in GMT");

  return undefined;
}
