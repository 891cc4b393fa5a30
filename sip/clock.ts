/**
 * The injected clock and the SIP timer base values (RFC 3261 §17.1.1.1, table 4).
 *
 * Every state machine in `sip/` takes a {@linkcode Clock} instead of calling the global
 * timers, so tests drive them with fake time and two services in one process never share
 * timer settings.
 *
 * @module
 */

/** An opaque timer handle returned by {@linkcode Clock.setTimeout}. */
export type TimerId = unknown;

/** The time source and one-shot timers used by the transaction layer, dialogs and sessions. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences are used. */
  now(): number;
  /** Call `fn` once after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancel a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(id: TimerId): void;
}

/**
 * The wall clock: `Date.now()` and the global `setTimeout` / `clearTimeout`.
 *
 * @example Using the system clock
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const id = systemClock.setTimeout(() => {}, 1000);
 * systemClock.clearTimeout(id);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now(): number {
    return Date.now();
  },
  setTimeout(fn: () => void, ms: number): TimerId {
    return globalThis.setTimeout(fn, ms);
  },
  clearTimeout(id: TimerId): void {
    globalThis.clearTimeout(id as number);
  },
});

/** The SIP timer base values in milliseconds (RFC 3261 §17.1.1.1, table 4). */
export interface SipTimers {
  /** RTT estimate, default 500 ms. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  t2: number;
  /** Maximum time a message stays in the network, default 5 s. */
  t4: number;
}

/** The RFC 3261 defaults: T1 = 500 ms, T2 = 4 s, T4 = 5 s. */
export const DEFAULT_SIP_TIMERS: Readonly<SipTimers> = Object.freeze({
  t1: 500,
  t2: 4000,
  t4: 5000,
});
