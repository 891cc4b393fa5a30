/**
 * Pure helpers of the UAC core (RFC 3261 §8.1.3): what a final response means for the
 * request that got it, the 3xx target list (§8.1.3.4), Retry-After (§20.33, §21.5.4) and
 * the bookkeeping of 401/407 retries (§22.2, §22.3).
 *
 * @module
 */

import type { SipResponse, Uri } from "./types.ts";

/** What a UAC should do with a response (§8.1.3). */
export type UacResponseAction =
  /** 1xx: keep waiting. */
  | "provisional"
  /** 2xx: done. */
  | "success"
  /** 3xx: try the Contact targets (§8.1.3.4). */
  | "redirect"
  /** 401/407: retry with credentials (§22.2). */
  | "authenticate"
  /** 408 or 481 to an in-dialog request: the dialog ends (§12.2.1.2). */
  | "terminate-dialog"
  /** 503 (or 500, 600-class never) with Retry-After: the destination asks to retry later. */
  | "retry-later"
  /** 503 without Retry-After, or a transport-like failure: try the next destination
   * (RFC 3263 §4.3). */
  | "try-next"
  /** Any other failure: report it. */
  | "fail";

/**
 * Classify a final or provisional response per §8.1.3.
 *
 * @param res the response
 * @param inDialog whether the request was sent within a dialog
 * @returns the action
 */
export function classifyResponse(res: SipResponse, inDialog = false): UacResponseAction {
  const s = res.status;
  if (s < 200) return "provisional";
  if (s < 300) return "success";
  if (s < 400) return "redirect";
  if (s === 401 || s === 407) return "authenticate";
  if (inDialog && (s === 481 || s === 408)) return "terminate-dialog";
  if (s === 503) return retryAfterSeconds(res) === undefined ? "try-next" : "retry-later";
  return "fail";
}

/** A parsed Retry-After value (RFC 3261 §20.33). */
export interface RetryAfter {
  /** Delay in seconds. */
  seconds: number;
  /** The `duration` parameter, if any. */
  duration?: number;
  /** The comment, if any. */
  comment?: string;
}

/**
 * Parse a Retry-After value: `delta-seconds [comment] *(;param)`.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./uac_core.ts";
 * const r = parseRetryAfter("18000;duration=3600");
 * if (r?.seconds !== 18000 || r.duration !== 3600) throw new Error("bad");
 * ```
 *
 * @param value the header value
 * @returns the parsed value, or undefined when malformed
 */
export function parseRetryAfter(value: string | undefined): RetryAfter | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*(\((?:[^()\\]|\\.)*\))?\s*((?:;[^;]*)*)$/.exec(value);
  if (m === null || m[1] === undefined) return undefined;
  const out: RetryAfter = { seconds: Number(m[1]) };
  if (m[2] !== undefined) out.comment = m[2].slice(1, -1);
  for (const p of (m[3] ?? "").split(";")) {
    const [name, v] = p.split("=").map((x) => x.trim());
    if (name?.toLowerCase() === "duration" && v !== undefined && /^\d{1,10}$/.test(v)) {
      out.duration = Number(v);
    }
  }
  return out;
}

/**
 * The Retry-After delay of a response in seconds, if it carries a valid one.
 *
 * @param res the response
 * @returns seconds, or undefined
 */
export function retryAfterSeconds(res: SipResponse): number | undefined {
  return parseRetryAfter(res.header("Retry-After"))?.seconds;
}

/**
 * The targets of a 3xx response in the order to try them (§8.1.3.4): Contact values by
 * descending `q` (no `q` counts as 1.0), ties in header order, without `*`, duplicates, or
 * URIs already tried.
 *
 * @param res the 3xx response
 * @param tried URIs (as text) already tried; new targets are not added to it
 * @returns the URIs to try
 */
export function redirectTargets(res: SipResponse, tried: ReadonlySet<string> = new Set()): Uri[] {
  const seen = new Set<string>();
  const list: Array<{ uri: Uri; q: number; index: number }> = [];
  res.contacts.forEach((c, index) => {
    if (c.star) return;
    const text = c.uri.toString();
    if (tried.has(text) || seen.has(text)) return;
    seen.add(text);
    list.push({ uri: c.uri, q: c.q ?? 1, index });
  });
  list.sort((a, b) => b.q - a.q || a.index - b.index);
  return list.map((e) => e.uri);
}

/** One challenge of a 401/407 (§22.1): its realm and whether it says `stale=true`. */
export interface ChallengeSummary {
  /** The realm, unquoted. */
  realm: string;
  /** RFC 2617 `stale=true`: the nonce expired, the credentials were fine. */
  stale: boolean;
  /** The raw header value. */
  raw: string;
}

/**
 * The challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate).
 *
 * @param res the response
 * @returns the challenges in order
 */
export function challengeSummaries(res: SipResponse): ChallengeSummary[] {
  const name = res.status === 407 ? "Proxy-Authenticate" : "WWW-Authenticate";
  const out: ChallengeSummary[] = [];
  for (const raw of res.headers(name)) {
    const realm = /realm\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(raw)?.[1] ??
      /realm\s*=\s*([^,\s]+)/i.exec(raw)?.[1] ?? "";
    const stale = /stale\s*=\s*"?true"?/i.test(raw);
    out.push({ realm, stale, raw });
  }
  return out;
}

/**
 * Retry bookkeeping for one request that may be challenged (§22.2, §22.3): retry once per
 * realm; a second challenge for a realm already answered means the credentials were
 * refused, unless it says `stale=true` (then retry with the new nonce). A cap on the total
 * number of retries guards against servers that keep challenging.
 */
export class AuthRetryTracker {
  readonly #answered = new Map<string, number>();
  readonly #maxAttempts: number;
  #attempts = 0;

  /** Create a tracker.
   * @param maxAttempts total retries allowed for the request (default 5)
   */
  constructor(maxAttempts = 5) {
    this.#maxAttempts = maxAttempts;
  }

  /** Retries made so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /**
   * Decide whether to retry after a 401/407. When it returns true, the retry is counted and
   * the caller resends with credentials for every realm and an incremented CSeq (§8.1.3.5).
   *
   * @param res the 401 or 407
   * @returns true to retry, false to give up and report the response
   */
  shouldRetry(res: SipResponse): boolean {
    if (res.status !== 401 && res.status !== 407) return false;
    if (this.#attempts >= this.#maxAttempts) return false;
    const list = challengeSummaries(res);
    if (list.length === 0) return false; // §22.1: a 401 without challenge cannot be answered
    for (const c of list) {
      if ((this.#answered.get(c.realm) ?? 0) > 0 && !c.stale) return false;
    }
    for (const c of list) this.#answered.set(c.realm, (this.#answered.get(c.realm) ?? 0) + 1);
    this.#attempts++;
    return true;
  }
}
