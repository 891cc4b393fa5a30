// Shared helpers for the service tests (a manual clock and temp data directories).
import type { Clock, TimerId } from "../../sip/clock.ts";
import type { FakeTimers } from "../test_deps.ts";

/** A sinon fake clock (`FakeTimers.createClock`). */
export type FakeClock = ReturnType<typeof FakeTimers.createClock>;

/** The {@linkcode Clock} of a stack driven by a sinon fake clock. */
export function fakeClockOf(fake: FakeClock): Clock {
  return {
    now: () => fake.now,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (id) => fake.clearTimeout(id as FakeTimers.TimerId),
  };
}

/** A manual clock: time moves only with `advance`. */
export class ManualClock implements Clock {
  #now = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  advance(ms: number): void {
    this.#now += ms;
    for (const [id, t] of [...this.#timers]) {
      if (t.at <= this.#now) {
        this.#timers.delete(id);
        t.fn();
      }
    }
  }
}

/** Run `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sipkit-svc-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Resolve after the microtask queue and one macrotask turn drained. */
export function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
