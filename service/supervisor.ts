/**
 * The restart intensity of a service's supervisor, as in OTP: at most `intensity` restarts
 * within any sliding window of `period` milliseconds; one more crash stops the service.
 * The clock is injected, so tests run the window on fake time.
 *
 * @example
 * ```ts
 * import { RestartIntensity } from "./supervisor.ts";
 * let now = 0;
 * const limit = new RestartIntensity({ intensity: 2, period: 1000 }, { now: () => now });
 * if (!limit.allow() || !limit.allow()) throw new Error("two restarts are allowed");
 * if (limit.allow()) throw new Error("the third within the window is not");
 * now = 2000;
 * if (!limit.allow()) throw new Error("after the window, allowed again");
 * ```
 *
 * @module
 */

import type { RestartConfig } from "./config.ts";

/** Counts restarts in a sliding window. */
export class RestartIntensity {
  #config: RestartConfig;
  #clock: { now(): number };
  #times: number[] = [];

  /** Create the counter.
   * @param config intensity and period (ms)
   * @param clock the time source
   */
  constructor(config: RestartConfig, clock: { now(): number }) {
    this.#config = { ...config };
    this.#clock = clock;
  }

  /** Change the limits (live `update`); past restarts still count.
   * @param config the new limits
   */
  configure(config: RestartConfig): void {
    this.#config = { ...config };
  }

  /** Restarts counted in the current window. */
  get count(): number {
    this.#prune(this.#clock.now());
    return this.#times.length;
  }

  #prune(now: number): void {
    const from = now - this.#config.period;
    while (this.#times.length > 0 && (this.#times[0] as number) <= from) this.#times.shift();
  }

  /** Record a crash; true when a restart is allowed, false when the intensity is exceeded.
   * @returns whether to restart
   */
  allow(): boolean {
    const now = this.#clock.now();
    this.#prune(now);
    if (this.#times.length >= this.#config.intensity) return false;
    this.#times.push(now);
    return true;
  }
}
