/**
 * Default limits and timings of the transport layer.
 *
 * @module
 */

import type { TransportLimits } from "./types.ts";

/** The defaults of every limit; each can be overridden in `TransportOptions.limits`. */
export const DEFAULT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxMessageSize: 65535,
  maxConnections: 1024,
  headerTimeout: 10_000,
  maxMalformed: 5,
  idleTimeout: 120_000,
  connectTimeout: 10_000,
});

/** RFC 3261 §18.1.1 default UDP size limit (path MTU 1500 minus 200). */
export const DEFAULT_UDP_MAX_SIZE = 1300;

/** Default DNS TTL in seconds when the source gives none (`Deno.resolveDns` does not). */
export const DEFAULT_TTL = 300;

/** Default RFC 5626 pong wait, milliseconds. */
export const DEFAULT_KEEPALIVE_TIMEOUT = 10_000;

/** Longest delay a timer can take (setTimeout overflows past 2^31 - 1 ms). */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** Merge partial limits over a base (the defaults unless given), rejecting nonsense values.
 * The base is never modified, so a throw leaves the caller's limits as they were. */
export function resolveLimits(
  partial: Partial<TransportLimits> | undefined,
  base: Readonly<TransportLimits> = DEFAULT_LIMITS,
): TransportLimits {
  const out: TransportLimits = { ...base };
  if (partial) {
    for (const key of Object.keys(DEFAULT_LIMITS) as (keyof TransportLimits)[]) {
      const v = partial[key];
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        throw new RangeError(`Transport limit ${key} must be a positive number, got ${v}`);
      }
      out[key] = v;
    }
  }
  return out;
}
