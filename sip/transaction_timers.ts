/**
 * The two timer slots every RFC 3261 §17 transaction runs on: one for retransmissions
 * (Timers A, E, G, or the delayed 100 Trying) and one for timeouts (B, D, F, H, I, J, K, L, M,
 * or the CANCEL guard). A state change reuses the slots, so a transaction never holds more
 * than two timers.
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";

/** Base of client and server transactions: the timer slots and their bookkeeping. */
export abstract class TransactionTimers {
  /** The retransmission timer slot (A, E, G, or the 100 Trying delay). */
  protected retransmitTimer: TimerId | undefined = undefined;
  /** The timeout timer slot (B, D, F, H, I, J, K, L, M, or the CANCEL guard). */
  protected timeoutTimer: TimerId | undefined = undefined;

  /** The clock the slots run on (the owning layer's). */
  protected abstract get timerClock(): Clock;

  /** Number of running timers (for leak checks). */
  get activeTimers(): number {
    return (this.retransmitTimer === undefined ? 0 : 1) +
      (this.timeoutTimer === undefined ? 0 : 1);
  }

  /** Stop both timer slots. */
  protected clearTimers(): void {
    this.clearRetransmit();
    if (this.timeoutTimer !== undefined) {
      this.timerClock.clearTimeout(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
  }

  /** Stop the retransmission timer slot. */
  protected clearRetransmit(): void {
    if (this.retransmitTimer !== undefined) {
      this.timerClock.clearTimeout(this.retransmitTimer);
      this.retransmitTimer = undefined;
    }
  }

  /** (Re)start the timeout timer slot. */
  protected setTimeoutTimer(fn: () => void, ms: number): void {
    if (this.timeoutTimer !== undefined) this.timerClock.clearTimeout(this.timeoutTimer);
    this.timeoutTimer = this.timerClock.setTimeout(fn, ms);
  }
}
