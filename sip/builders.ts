/**
 * Build requests and responses (RFC 3261 §8.1.1, §8.2.6) and generate tags, Call-IDs and
 * branches (RFC 3261 §8.1.1.4, §8.1.1.7, §19.3).
 *
 * @example Build an OPTIONS request and answer it
 * ```ts
 * import { createRequest, createResponse } from "./builders.ts";
 *
 * const req = createRequest({
 *   method: "OPTIONS",
 *   uri: "sip:bob@example.com",
 *   from: "<sip:alice@example.com>",
 *   to: "<sip:bob@example.com>",
 *   via: "SIP/2.0/UDP 192.0.2.1:5060",
 * });
 * const res = createResponse(req, 200);
 * if (res.reason !== "OK" || res.to.tag === undefined) throw new Error("unexpected");
 * ```
 *
 * @module
 */

import type { HeaderValue, SipRequest, SipResponse, Uri } from "./types.ts";
import {
  type HeaderField,
  makeHeaderField,
  SipRequestMessage,
  SipResponseMessage,
} from "./message.ts";
import { parseNameAddr, parseVia } from "./header_parsers.ts";
import { isToken } from "./grammar.ts";

/** The branch magic cookie of RFC 3261 §8.1.1.7. */
export const MAGIC_COOKIE: string = "z9hG4bK";

const UTF8_ENCODER: TextEncoder = new TextEncoder();

/** True when `s` contains SP or a control character. */
function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return true;
  }
  return false;
}

/** A header field set by code from trusted parts (no CR/LF possible: the value comes from a
 * parsed field plus generated text). */
function codeField(name: string, key: string, value: string): HeaderField {
  return { name, key, value, raw: undefined, source: undefined, start: 0, end: 0 };
}

/**
 * `n` random bytes from the Web Crypto generator, as lower-case hex.
 *
 * Built from `crypto.randomUUID()` (a version 4 UUID from the same cryptographically secure
 * generator): its 30 random hex digits (all but the version digit and the variant digit)
 * are taken, one UUID per 15 bytes. This avoids allocating a typed array per call, which
 * costs several times more than the UUID under load.
 */
function randomHex(n: number): string {
  let out = "";
  const want = 2 * n;
  while (out.length < want) {
    const u = crypto.randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx
    out += u.slice(0, 8) + u.slice(9, 13) + u.slice(15, 18) + u.slice(20, 23) + u.slice(24);
  }
  return out.length === want ? out : out.slice(0, want);
}

/** A From/To tag with 64 random bits (RFC 3261 §19.3 asks for at least 32).
 * @returns the tag, 16 hex characters
 */
export function generateTag(): string {
  return randomHex(8);
}

/** A globally unique Call-ID with 128 random bits (RFC 3261 §8.1.1.4).
 * @param host optional host to append as `@host`
 * @returns the Call-ID
 */
export function generateCallId(host?: string): string {
  const id = randomHex(16);
  return host === undefined || host === "" ? id : `${id}@${host}`;
}

/** A Via branch starting with the magic cookie `z9hG4bK`, with 96 random bits
 * (RFC 3261 §8.1.1.7).
 * @returns the branch
 */
export function generateBranch(): string {
  return MAGIC_COOKIE + randomHex(12);
}

/** The standard reason phrases (RFC 3261 §21 and the extensions registered with IANA). */
const REASONS: ReadonlyMap<number, string> = new Map([
  [100, "Trying"],
  [180, "Ringing"],
  [181, "Call Is Being Forwarded"],
  [182, "Queued"],
  [183, "Session Progress"],
  [199, "Early Dialog Terminated"],
  [200, "OK"],
  [202, "Accepted"],
  [204, "No Notification"],
  [300, "Multiple Choices"],
  [301, "Moved Permanently"],
  [302, "Moved Temporarily"],
  [305, "Use Proxy"],
  [380, "Alternative Service"],
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [402, "Payment Required"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [406, "Not Acceptable"],
  [407, "Proxy Authentication Required"],
  [408, "Request Timeout"],
  [410, "Gone"],
  [412, "Conditional Request Failed"],
  [413, "Request Entity Too Large"],
  [414, "Request-URI Too Long"],
  [415, "Unsupported Media Type"],
  [416, "Unsupported URI Scheme"],
  [417, "Unknown Resource-Priority"],
  [420, "Bad Extension"],
  [421, "Extension Required"],
  [422, "Session Interval Too Small"],
  [423, "Interval Too Brief"],
  [424, "Bad Location Information"],
  [425, "Bad Alert Message"],
  [428, "Use Identity Header"],
  [429, "Provide Referrer Identity"],
  [430, "Flow Failed"],
  [433, "Anonymity Disallowed"],
  [436, "Bad Identity-Info"],
  [437, "Unsupported Certificate"],
  [438, "Invalid Identity Header"],
  [439, "First Hop Lacks Outbound Support"],
  [440, "Max-Breadth Exceeded"],
  [469, "Bad Info Package"],
  [470, "Consent Needed"],
  [480, "Temporarily Unavailable"],
  [481, "Call/Transaction Does Not Exist"],
  [482, "Loop Detected"],
  [483, "Too Many Hops"],
  [484, "Address Incomplete"],
  [485, "Ambiguous"],
  [486, "Busy Here"],
  [487, "Request Terminated"],
  [488, "Not Acceptable Here"],
  [489, "Bad Event"],
  [491, "Request Pending"],
  [493, "Undecipherable"],
  [494, "Security Agreement Required"],
  [500, "Server Internal Error"],
  [501, "Not Implemented"],
  [502, "Bad Gateway"],
  [503, "Service Unavailable"],
  [504, "Server Time-out"],
  [505, "Version Not Supported"],
  [513, "Message Too Large"],
  [555, "Push Notification Service Not Supported"],
  [580, "Precondition Failure"],
  [600, "Busy Everywhere"],
  [603, "Decline"],
  [604, "Does Not Exist Anywhere"],
  [606, "Not Acceptable"],
  [607, "Unwanted"],
  [608, "Rejected"],
]);

/** {@linkcode defaultReason} of every code from 0 to 699 (the 100-699 entries are used). */
const REASON_BY_CODE: readonly string[] = Object.freeze(
  Array.from(
    { length: 700 },
    (_, code) => REASONS.get(code) ?? REASONS.get(Math.floor(code / 100) * 100) ?? "",
  ),
);

/** The default reason phrase of a status code; for an unknown code, the phrase of its class
 * (`x00`), or an empty string.
 * @param status the status code
 * @returns the phrase
 */
export function defaultReason(status: number): string {
  // Codes 100-699 (all a response can have) from a table indexed by code: no map lookup.
  if (Number.isInteger(status) && status >= 100 && status <= 699) return REASON_BY_CODE[status]!;
  return REASONS.get(status) ?? REASONS.get(Math.floor(status / 100) * 100) ?? "";
}

/** Options of {@linkcode createRequest}. */
export interface CreateRequestOptions {
  /** The method, e.g. `INVITE`. */
  method: string;
  /** The Request-URI. */
  uri: string | Uri;
  /** The From value (name-addr or addr-spec); a tag is added when absent (§8.1.1.3). */
  from: HeaderValue;
  /** The To value. */
  to: HeaderValue;
  /** The Call-ID; generated when absent. */
  callId?: string;
  /** The CSeq number; defaults to 1. */
  cseq?: number;
  /** Via value(s), top first. A top Via without `branch` gets one (`branch` or generated).
   * Without `via`, no Via is written: the transport layer adds its own. */
  via?: HeaderValue | HeaderValue[];
  /** The branch for the top Via, when it has none. */
  branch?: string;
  /** Contact value(s). */
  contact?: HeaderValue | HeaderValue[];
  /** Max-Forwards; defaults to 70. */
  maxForwards?: number;
  /** More headers, written in order after the standard ones. */
  headers?: Record<string, HeaderValue | HeaderValue[]> | [string, HeaderValue][];
  /** The body, as text (encoded as UTF-8) or bytes. */
  body?: string | Uint8Array;
  /** The Content-Type of the body, e.g. `application/sdp`. */
  contentType?: string;
}

function list(value: HeaderValue | HeaderValue[] | undefined): HeaderValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function extraHeaders(
  headers: CreateRequestOptions["headers"],
): [string, HeaderValue][] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return headers;
  const out: [string, HeaderValue][] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of list(value)) out.push([name, v]);
  }
  return out;
}

/**
 * Create a request with the headers RFC 3261 §8.1.1 requires: Via (when given), Max-Forwards,
 * From (with a tag), To, Call-ID, CSeq, then Contact, extra headers, Content-Type and the
 * body. Content-Length is written on output.
 *
 * @param opts method, URI, addresses and optional parts
 * @returns the request
 * @throws {TypeError} when the method is not a token, the URI contains white space, or a
 * header name or value is invalid (e.g. contains CR or LF)
 * @throws {SipParseError} when `from` cannot be parsed
 *
 * @example
 * ```ts
 * import { createRequest } from "./builders.ts";
 * const req = createRequest({
 *   method: "MESSAGE",
 *   uri: "sip:bob@example.com",
 *   from: "sip:alice@example.com",
 *   to: "sip:bob@example.com",
 *   body: "hello",
 *   contentType: "text/plain",
 * });
 * if (req.cseq.method !== "MESSAGE" || req.contentLength !== 5) throw new Error("unexpected");
 * ```
 */
export function createRequest(opts: CreateRequestOptions): SipRequest {
  if (!isToken(opts.method)) {
    throw new TypeError(`Method is not a token: ${JSON.stringify(opts.method)}`);
  }
  const uriText = String(opts.uri);
  if (uriText === "" || hasSpaceOrControl(uriText)) {
    throw new TypeError(`Request-URI is empty or contains white space: ${JSON.stringify(uriText)}`);
  }
  const fields: HeaderField[] = [];
  const vias = list(opts.via);
  vias.forEach((v, i) => {
    let text = String(v).trim();
    if (i === 0 && parseVia(text).branch === undefined) {
      text += `;branch=${opts.branch ?? generateBranch()}`;
    }
    fields.push(makeHeaderField("Via", text));
  });
  fields.push(makeHeaderField("Max-Forwards", String(opts.maxForwards ?? 70)));
  let from = String(opts.from).trim();
  if (parseNameAddr(from).tag === undefined) from += `;tag=${generateTag()}`;
  fields.push(makeHeaderField("From", from));
  fields.push(makeHeaderField("To", opts.to));
  fields.push(makeHeaderField("Call-ID", opts.callId ?? generateCallId()));
  fields.push(makeHeaderField("CSeq", `${opts.cseq ?? 1} ${opts.method}`));
  for (const c of list(opts.contact)) fields.push(makeHeaderField("Contact", c));
  for (const [name, value] of extraHeaders(opts.headers)) {
    fields.push(makeHeaderField(name, value));
  }
  if (opts.contentType !== undefined) {
    fields.push(makeHeaderField("Content-Type", opts.contentType));
  }
  const body = opts.body === undefined
    ? new Uint8Array(0)
    : typeof opts.body === "string"
    ? UTF8_ENCODER.encode(opts.body)
    : opts.body.slice();
  return new SipRequestMessage({ method: opts.method, uri: opts.uri, fields, body });
}

/** Options of {@linkcode createResponse}. */
export interface CreateResponseOptions {
  /** The To tag to add when the request's To has none (reuse it for every response of a
   * dialog-creating transaction); generated when absent. */
  toTag?: string;
  /** Header fields appended after the copied ones, as given (immutable field objects, e.g.
   * made once with `makeHeaderField` and reused for every response). */
  fields?: readonly HeaderField[];
}

/** The header keys a response copies from its request (§8.2.6.2, §8.2.6.1). */
const RESPONSE_KEYS: readonly string[] = Object.freeze([
  "via",
  "from",
  "to",
  "call-id",
  "cseq",
  "timestamp",
]);

/** The response fields of {@linkcode createResponse} for a parsed or built request: its own
 * header fields (immutable objects, original text kept) are reused instead of re-parsing
 * and re-validating their values, in one pass over the request's fields. */
function copyResponseFields(
  request: SipRequestMessage,
  status: number,
  toTag: string | undefined,
): HeaderField[] {
  const vias: HeaderField[] = [];
  let from: HeaderField | undefined;
  let to: HeaderField | undefined;
  let callId: HeaderField | undefined;
  let cseq: HeaderField | undefined;
  let timestamp: HeaderField | undefined;
  for (const f of request.fieldsOf(RESPONSE_KEYS)) {
    switch (f.key) {
      case "via":
        vias.push(f);
        break;
      case "from":
        from ??= f;
        break;
      case "to":
        to ??= f;
        break;
      case "call-id":
        callId ??= f;
        break;
      case "cseq":
        cseq ??= f;
        break;
      case "timestamp":
        timestamp ??= f;
        break;
    }
  }
  const fields: HeaderField[] = vias;
  if (from !== undefined) fields.push(from);
  if (to !== undefined) {
    // request.to is parsed once and cached by the message.
    if (status !== 100 && request.to.tag === undefined) {
      fields.push(codeField("To", "to", `${to.value};tag=${toTag ?? generateTag()}`));
    } else {
      fields.push(to);
    }
  }
  if (callId !== undefined) fields.push(callId);
  if (cseq !== undefined) fields.push(cseq);
  if (status === 100 && timestamp !== undefined) fields.push(timestamp);
  return fields;
}

/** The response fields of {@linkcode createResponse} for any other {@linkcode SipRequest}
 * implementation, through its header accessors. */
function buildResponseFields(
  request: SipRequest,
  status: number,
  toTag: string | undefined,
): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const v of request.headers("via")) fields.push(makeHeaderField("Via", v));
  for (const [name, key] of [["From", "from"], ["To", "to"], ["Call-ID", "call-id"]] as const) {
    let value = request.header(key);
    if (value === undefined) continue;
    if (key === "to" && status !== 100 && parseNameAddr(value).tag === undefined) {
      value += `;tag=${toTag ?? generateTag()}`;
    }
    fields.push(makeHeaderField(name, value));
  }
  const cseq = request.header("cseq");
  if (cseq !== undefined) fields.push(makeHeaderField("CSeq", cseq));
  if (status === 100) {
    const ts = request.header("timestamp");
    if (ts !== undefined) fields.push(makeHeaderField("Timestamp", ts));
  }
  return fields;
}

/**
 * Create a response to a request (RFC 3261 §8.2.6): the status line, every Via value in
 * order, From, To, Call-ID and CSeq copied, a To tag added for any status other than 100
 * when the request's To has none, and the Timestamp copied into a 100 (§8.2.6.1).
 *
 * @param request the request being answered
 * @param status the status code, 100 to 699
 * @param reason the reason phrase; defaults to the standard phrase for the code
 * @param options e.g. the To tag to use
 * @returns the response, with an empty body
 * @throws {RangeError} when the status is not 100 to 699
 *
 * @example
 * ```ts
 * import { createRequest, createResponse } from "./builders.ts";
 * const req = createRequest({
 *   method: "BYE",
 *   uri: "sip:bob@192.0.2.4",
 *   from: "<sip:alice@example.com>;tag=a1",
 *   to: "<sip:bob@example.com>;tag=b2",
 *   via: "SIP/2.0/UDP 192.0.2.1",
 * });
 * const res = createResponse(req, 481);
 * if (res.reason !== "Call/Transaction Does Not Exist") throw new Error("unexpected");
 * ```
 */
export function createResponse(
  request: SipRequest,
  status: number,
  reason?: string,
  options?: CreateResponseOptions,
): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new RangeError(`Status code must be 100 to 699, got ${status}`);
  }
  const fields = request instanceof SipRequestMessage
    ? copyResponseFields(request, status, options?.toTag)
    : buildResponseFields(request, status, options?.toTag);
  const extra = options?.fields;
  if (extra !== undefined) { for (let i = 0; i < extra.length; i++) fields.push(extra[i]!); }
  return new SipResponseMessage({
    status,
    reason: reason ?? defaultReason(status),
    fields,
  });
}
