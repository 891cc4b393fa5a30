/**
 * The UAS core request checks of RFC 3261 §8.2, as a pure function: given a request and the
 * UAS's capabilities, return the rejection to send, or nothing when the request may go on to
 * the method handler.
 *
 * Order (§8.2): version (505), Max-Forwards (483), method inspection (§8.2.1: 501 / 405 with
 * Allow), Request-URI scheme (§8.2.2.1: 416), merged requests (§8.2.2.2: 482), Require
 * (§8.2.2.3: 420 with Unsupported), content (§8.2.3: 415 with Accept / Accept-Encoding /
 * Accept-Language), then the concurrent-call cap (503, optional Retry-After).
 *
 * ACK is never rejected (it has no response); CANCEL skips the Require and content checks.
 *
 * @module
 */

import type { SipRequest } from "./types.ts";
import { SipRequestMessage } from "./message.ts";

/** A rejection decided by {@linkcode checkUasRequest}: status, reason and extra headers. */
export interface UasRejection {
  /** The status code. */
  status: number;
  /** The reason phrase. */
  reason: string;
  /** Headers to add to the response, in order. */
  headers: Array<[name: string, value: string]>;
}

/** What the UAS supports. Every field has a default. */
export interface UasCheckOptions {
  /** Methods the UAS implements (405 for other known ones); default
   * INVITE, ACK, CANCEL, BYE, OPTIONS. */
  allow?: readonly string[];
  /** Methods listed in the Allow header of a 405 or 501 (default: `allow`). A UAS may accept
   * a method for its own handling (e.g. to answer REGISTER 405 itself) without advertising it:
   * the Allow header must match what OPTIONS says (RFC 3261 §20.5). */
  advertise?: readonly string[];
  /** Option tags the UAS supports (Require checks); default none. */
  supported?: readonly string[];
  /** Request-URI schemes the UAS understands; default sip, sips, tel. */
  schemes?: readonly string[];
  /** Body media types accepted; default application/sdp. */
  accept?: readonly string[];
  /** Content codings accepted; default identity. */
  acceptEncoding?: readonly string[];
  /** Content languages accepted; omitted, every language is. */
  acceptLanguage?: readonly string[];
  /** The transaction layer found the request merged (§8.2.2.2). */
  merged?: boolean;
  /** Reject Max-Forwards 0 with 483, except OPTIONS (answered); default true. */
  checkMaxForwards?: boolean;
  /** Cap on concurrent calls; a new INVITE beyond it gets 503. */
  maxCalls?: number;
  /** Calls in progress now (with {@linkcode UasCheckOptions.maxCalls}). */
  activeCalls?: number;
  /** Retry-After seconds to put in the 503, if any. */
  retryAfter?: number;
}

/** The methods sipkit recognizes (RFC 3261 and the extension RFCs); any other method gets
 * 501 Not Implemented (§21.5.2), a recognized but unsupported one 405 (§8.2.1). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "INVITE",
  "ACK",
  "CANCEL",
  "BYE",
  "OPTIONS",
  "REGISTER",
  "PRACK",
  "SUBSCRIBE",
  "NOTIFY",
  "PUBLISH",
  "INFO",
  "REFER",
  "MESSAGE",
  "UPDATE",
]);

const DEFAULT_ALLOW: readonly string[] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"];
const DEFAULT_SCHEMES: readonly string[] = ["sip", "sips", "tel"];
const DEFAULT_ACCEPT: readonly string[] = ["application/sdp"];
const DEFAULT_ENCODING: readonly string[] = ["identity"];

function tokens(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = part.trim();
      if (t !== "") out.push(t);
    }
  }
  return out;
}

function reject(
  status: number,
  reason: string,
  headers: Array<[string, string]> = [],
): UasRejection {
  return { status, reason, headers };
}

/** The Request-URI scheme, lower-cased. A parsed request whose URI is not built yet gives it
 * from the text (`sip:...`, the part before the first colon when it is a plain scheme), so
 * the check builds no URI object; anything else asks `req.uri`. */
function requestScheme(req: SipRequest): string {
  if (req instanceof SipRequestMessage) {
    const text = req.uriText();
    const colon = text.indexOf(":");
    if (colon > 0 && colon <= 8 && PLAIN_SCHEME.test(text.slice(0, colon))) {
      return text.slice(0, colon).toLowerCase();
    }
  }
  return req.uri.scheme;
}

/** A scheme of letters only (`sip`, `SIPS`, `tel`...). */
const PLAIN_SCHEME = /^[A-Za-z]+$/;

/**
 * Apply the §8.2 checks.
 *
 * @example Rejecting an unsupported method
 * ```ts
 * import { checkUasRequest } from "./uas_core.ts";
 * import { parseMessage } from "./parser.ts";
 * const req = parseMessage(
 *   "REFER sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
 *     "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n" +
 *     "Call-ID: c1\r\nCSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n",
 * );
 * if (req.kind !== "request") throw new Error("not a request");
 * const r = checkUasRequest(req, { allow: ["INVITE", "ACK", "BYE", "CANCEL"] });
 * if (r?.status !== 405) throw new Error("expected 405");
 * ```
 *
 * @param req the request
 * @param options the UAS's capabilities and state
 * @returns the rejection to send, or undefined to go on
 */
export function checkUasRequest(
  req: SipRequest,
  options: UasCheckOptions = {},
): UasRejection | undefined {
  const method = req.method;
  if (method === "ACK") return undefined; // §17: no response to an ACK
  if (req.version.toUpperCase() !== "SIP/2.0") {
    return reject(505, "Version Not Supported");
  }
  if ((options.checkMaxForwards ?? true) && req.maxForwards === 0 && method !== "OPTIONS") {
    return reject(483, "Too Many Hops");
  }
  // §8.2.1 Method inspection.
  const allow = options.allow ?? DEFAULT_ALLOW;
  if (!allow.includes(method)) {
    const allowHeader: Array<[string, string]> = [[
      "Allow",
      (options.advertise ?? allow).join(", "),
    ]];
    if (!KNOWN_METHODS.has(method)) return reject(501, "Not Implemented", allowHeader);
    return reject(405, "Method Not Allowed", allowHeader);
  }
  // §8.2.2.1 To and Request-URI.
  const schemes = options.schemes ?? DEFAULT_SCHEMES;
  if (!schemes.includes(requestScheme(req))) return reject(416, "Unsupported URI Scheme");
  // §8.2.2.2 Merged requests.
  if (options.merged === true && req.to.tag === undefined) {
    return reject(482, "Loop Detected");
  }
  if (method === "CANCEL") return undefined;
  // §8.2.2.3 Require.
  if (req.hasHeader("Require")) {
    const supported = options.supported ?? [];
    const unsupported = tokens(req.headers("Require")).filter((t) => !supported.includes(t));
    if (unsupported.length > 0) {
      return reject(420, "Bad Extension", [["Unsupported", unsupported.join(", ")]]);
    }
  }
  // §8.2.3 Content processing.
  if (req.contentLength > 0) {
    const accept = options.accept ?? DEFAULT_ACCEPT;
    const type = req.contentType;
    if (type !== undefined && !accept.includes(type) && !accept.includes("*/*")) {
      return reject(415, "Unsupported Media Type", [["Accept", accept.join(", ")]]);
    }
    const encodings = options.acceptEncoding ?? DEFAULT_ENCODING;
    if (req.hasHeader("Content-Encoding")) {
      const bad = tokens(req.headers("Content-Encoding")).map((t) => t.toLowerCase())
        .filter((t) => !encodings.includes(t));
      if (bad.length > 0) {
        return reject(415, "Unsupported Media Type", [["Accept-Encoding", encodings.join(", ")]]);
      }
    }
    const languages = options.acceptLanguage;
    if (languages !== undefined && req.hasHeader("Content-Language")) {
      const badLang = tokens(req.headers("Content-Language")).map((t) => t.toLowerCase())
        .filter((t) => !languages.includes(t));
      if (badLang.length > 0) {
        return reject(415, "Unsupported Media Type", [["Accept-Language", languages.join(", ")]]);
      }
    }
  }
  // Concurrent-call cap: only new calls (INVITE outside a dialog).
  if (
    method === "INVITE" && req.to.tag === undefined && options.maxCalls !== undefined &&
    (options.activeCalls ?? 0) >= options.maxCalls
  ) {
    const headers: Array<[string, string]> = options.retryAfter === undefined
      ? []
      : [["Retry-After", String(options.retryAfter)]];
    return reject(503, "Service Unavailable", headers);
  }
  return undefined;
}
