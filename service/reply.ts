/**
 * Reply values: what a SIP callback returns (or passes to `call.reply`) to answer a request,
 * in the spirit of NkSIP's `sipreply()`. A reply is a status number, a shorthand name
 * (`"ok"`, `"ringing"`, `"busy"`, ...), a redirect, an SDP answer, or a full object.
 *
 * @example
 * ```ts
 * import { normalizeReply } from "./reply.ts";
 * const r = normalizeReply("busy");
 * if (r.status !== 486) throw new Error("busy is 486");
 * ```
 *
 * @module
 */

import type { HeaderValue } from "../sip/types.ts";

/** Shorthand reply names and their status codes (NkSIP's reply atoms, RFC 3261 §21). */
export const REPLY_SHORTHANDS: Readonly<Record<ReplyShorthand, number>> = Object.freeze({
  trying: 100,
  ringing: 180,
  session_progress: 183,
  ok: 200,
  accepted: 202,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  proxy_authenticate: 407,
  timeout: 408,
  gone: 410,
  conditional_request_failed: 412,
  too_large: 413,
  unsupported_uri: 416,
  unsupported_media_type: 415,
  bad_extension: 420,
  extension_required: 421,
  interval_too_brief: 423,
  temporarily_unavailable: 480,
  no_transaction: 481,
  loop_detected: 482,
  too_many_hops: 483,
  address_incomplete: 484,
  ambiguous: 485,
  busy: 486,
  request_terminated: 487,
  not_acceptable_here: 488,
  bad_event: 489,
  request_pending: 491,
  internal_error: 500,
  not_implemented: 501,
  bad_gateway: 502,
  service_unavailable: 503,
  server_timeout: 504,
  version_not_supported: 505,
  busy_everywhere: 600,
  decline: 603,
  does_not_exist_anywhere: 604,
  not_acceptable_anywhere: 606,
});

/** The shorthand reply names (see {@linkcode REPLY_SHORTHANDS} for the codes). */
export type ReplyShorthand =
  | "trying"
  | "ringing"
  | "session_progress"
  | "ok"
  | "accepted"
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "not_acceptable"
  | "proxy_authenticate"
  | "timeout"
  | "gone"
  | "conditional_request_failed"
  | "too_large"
  | "unsupported_uri"
  | "unsupported_media_type"
  | "bad_extension"
  | "extension_required"
  | "interval_too_brief"
  | "temporarily_unavailable"
  | "no_transaction"
  | "loop_detected"
  | "too_many_hops"
  | "address_incomplete"
  | "ambiguous"
  | "busy"
  | "request_terminated"
  | "not_acceptable_here"
  | "bad_event"
  | "request_pending"
  | "internal_error"
  | "not_implemented"
  | "bad_gateway"
  | "service_unavailable"
  | "server_timeout"
  | "version_not_supported"
  | "busy_everywhere"
  | "decline"
  | "does_not_exist_anywhere"
  | "not_acceptable_anywhere";

/** Headers to set on a message: each named header is replaced by the given value(s). */
export type HeaderMap = Record<string, HeaderValue | HeaderValue[]>;

/** A full reply: status plus optional reason phrase, headers, body and content type. */
export interface ReplyObject {
  /** The status code, 100 to 699. */
  status: number;
  /** The reason phrase; the standard phrase of the status when omitted. */
  reason?: string;
  /** Headers to set (replacing any of the same name). */
  headers?: HeaderMap;
  /** Headers to add after existing ones, in order. */
  addHeaders?: [string, HeaderValue][];
  /** The body, text (UTF-8) or bytes. */
  body?: string | Uint8Array;
  /** The body's Content-Type (e.g. `application/sdp`). */
  contentType?: string;
}

/** A redirect (RFC 3261 §21.3): 300 for several contacts, 302 (temporary, the default for
 * one contact) or 301 when `permanent` is set. */
export interface RedirectReply {
  /** The contact URIs to redirect to, most preferred first. */
  redirect: string[];
  /** Answer 301 Moved Permanently instead of 302 (single contact only). */
  permanent?: boolean;
}

/** A 200 OK carrying an SDP answer (NkSIP's `{answer, Body}`). */
export interface AnswerReply {
  /** The SDP text. */
  answer: string;
  /** Extra headers to set. */
  headers?: HeaderMap;
}

/** Anything a SIP callback may reply with. Any string is accepted by the type (so that an
 * `async` callback returning `"ok"` type-checks); an unknown shorthand is a callback error
 * at run time (500). */
export type ReplyValue =
  | number
  | ReplyShorthand
  | (string & Record<never, never>)
  | RedirectReply
  | AnswerReply
  | ReplyObject;

/** A reply in canonical form, ready to be applied to a response. */
export interface NormalizedReply {
  /** The status code. */
  status: number;
  /** The reason phrase, if one was given. */
  reason: string | undefined;
  /** Headers to set, in order, each replacing any of the same name. */
  headers: [string, HeaderValue | HeaderValue[]][];
  /** Headers to add. */
  addHeaders: [string, HeaderValue][];
  /** Body bytes, if any. */
  body: Uint8Array | undefined;
  /** Content-Type of the body, if any. */
  contentType: string | undefined;
}

/** Thrown when a value is not a valid reply (e.g. an unknown shorthand or a status out of
 * range). The SIP stack answers 500 when a callback returns one. */
export class InvalidReplyError extends TypeError {
  /** Create the error.
   * @param message what is wrong, in a sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "InvalidReplyError";
  }
}

const encoder = new TextEncoder();

function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new InvalidReplyError(`Reply status ${status} is not an integer from 100 to 699`);
  }
  return status;
}

function headerEntries(map: HeaderMap | undefined): [string, HeaderValue | HeaderValue[]][] {
  return map === undefined ? [] : Object.entries(map);
}

/** A reply with only a status (one object, fresh lists). */
function simpleReply(status: number): NormalizedReply {
  return {
    status,
    reason: undefined,
    headers: [],
    addHeaders: [],
    body: undefined,
    contentType: undefined,
  };
}

/** True when a value is a valid reply (without throwing).
 * @param value any value
 * @returns whether {@linkcode normalizeReply} accepts it
 */
export function isReplyValue(value: unknown): value is ReplyValue {
  try {
    normalizeReply(value as ReplyValue);
    return true;
  } catch {
    return false;
  }
}

/** Turn any {@linkcode ReplyValue} into a {@linkcode NormalizedReply}.
 * @param value the reply value
 * @returns the canonical form
 * @throws InvalidReplyError for an unknown shorthand, a bad status or a malformed object
 */
export function normalizeReply(value: ReplyValue): NormalizedReply {
  if (typeof value === "number") return simpleReply(checkStatus(value));
  if (typeof value === "string") {
    const code = (REPLY_SHORTHANDS as Record<string, number | undefined>)[value];
    if (code === undefined || !Object.hasOwn(REPLY_SHORTHANDS, value)) {
      throw new InvalidReplyError(`Unknown reply shorthand "${value}"`);
    }
    return simpleReply(code);
  }
  if (value === null || typeof value !== "object") {
    throw new InvalidReplyError(`A reply must be a number, a shorthand or an object`);
  }
  if ("redirect" in value) {
    const targets = value.redirect;
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new InvalidReplyError("A redirect reply needs at least one contact");
    }
    const status = targets.length > 1 ? 300 : value.permanent === true ? 301 : 302;
    const contacts = targets.map((t) => (t.startsWith("<") ? t : `<${t}>`));
    const reply = simpleReply(status);
    reply.headers.push(["Contact", contacts]);
    return reply;
  }
  if ("answer" in value) {
    if (typeof value.answer !== "string") {
      throw new InvalidReplyError("An answer reply needs the SDP text");
    }
    return {
      status: 200,
      reason: undefined,
      headers: headerEntries(value.headers),
      addHeaders: [],
      body: encoder.encode(value.answer),
      contentType: "application/sdp",
    };
  }
  if (!("status" in value) || typeof value.status !== "number") {
    throw new InvalidReplyError("A reply object needs a numeric status");
  }
  const body = value.body === undefined
    ? undefined
    : typeof value.body === "string"
    ? encoder.encode(value.body)
    : value.body;
  return {
    status: checkStatus(value.status),
    reason: value.reason,
    headers: headerEntries(value.headers),
    addHeaders: value.addHeaders ?? [],
    body,
    contentType: value.contentType ??
      (body !== undefined && body.length > 0 ? "text/plain" : undefined),
  };
}
