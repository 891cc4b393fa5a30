/**
 * The per-key serialized queue of the concurrency model (DESIGN.md): all work for one key
 * (a Call-ID) runs one task at a time, in order, while different keys run concurrently.
 *
 * - `run(key, fn)` resolves or rejects with `fn`'s outcome; a throwing task does not block
 *   the tasks after it.
 * - Entries are removed when a key goes idle, so the map holds only busy keys.
 * - Re-entrancy: a task that calls `run` on its **own** key (directly or through any API,
 *   e.g. a SIP callback sending a request on its own call) runs the new task **inline** at
 *   once, nested in the current one, instead of queueing behind itself, which would deadlock
 *   when awaited. The current task is tracked with an `AsyncLocalStorage`; the mark ends when
 *   the task settles, so a timer started inside a task and firing later queues normally.
 *   To queue behind the current task instead (fire-and-forget), use `post(key, fn)`.
 * - With `{ asyncContext: false }` the current task is tracked during its synchronous part
 *   only (no `AsyncLocalStorage` context per task, which costs an allocation and a weak-map
 *   entry each time): a `run` on its own key from the task's synchronous part still runs
 *   inline, one from a later continuation (after an `await`) queues behind it. For a queue
 *   that the code of its tasks cannot reach, e.g. a SIP stack's own per-Call-ID queue, whose
 *   tasks are only ever started by messages from the network.
 *
 * @example
 * ```ts
 * import { KeyedQueue } from "./keyed_queue.ts";
 * const q = new KeyedQueue();
 * const order: string[] = [];
 * await Promise.all([
 *   q.run("a", async () => { await new Promise((r) => setTimeout(r, 5)); order.push("a1"); }),
 *   q.run("a", () => { order.push("a2"); }),
 *   q.run("b", () => { order.push("b1"); }),
 * ]);
 * if (order.join() !== "b1,a1,a2") throw new Error(order.join());
 * // Re-entrant: a task awaiting a task on its own key does not deadlock.
 * const v = await q.run("c", () => q.run("c", () => 42));
 * if (v !== 42 || q.size !== 0) throw new Error("inline");
 * ```
 *
 * @module
 */

import { AsyncLocalStorage } from "../deps.ts";
import { isThenable } from "./chain.ts";

interface Active {
  queue: KeyedQueue;
  key: string;
  done: boolean;
  parent: Active | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();
const NOOP = (): void => {};

interface Entry {
  tail: Promise<void>;
  pending: number;
  /** True while a task started by `runNow` runs its synchronous part (the tail does not
   * say when it ends yet). */
  syncRunning: boolean;
  /** Resolves the tail handed out to tasks queued during that synchronous part. */
  release: (() => void) | undefined;
}

/** Options of a {@linkcode KeyedQueue}. */
export interface KeyedQueueOptions {
  /** Follow a task across `await`s with an `AsyncLocalStorage`, so that `run` on its own
   * key from any continuation of the task runs inline (default true). With false, only
   * from its synchronous part: see the module documentation. */
  asyncContext?: boolean;
}

/** Serializes tasks per key. */
export class KeyedQueue {
  #entries = new Map<string, Entry>();
  /** The async context of the current task; undefined with `asyncContext: false`. */
  readonly #als: AsyncLocalStorage<Active> | undefined;
  /** With `asyncContext: false`: the task whose synchronous part is running. */
  #sync: Active | undefined = undefined;

  /** Create a queue.
   * @param options whether tasks are followed across `await`s (default: yes)
   */
  constructor(options: KeyedQueueOptions = {}) {
    this.#als = options.asyncContext === false ? undefined : new AsyncLocalStorage<Active>();
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether a key has a task running or waiting.
   * @param key the key
   * @returns true when busy
   */
  busy(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The current task, if any. */
  #current(): Active | undefined {
    const als = this.#als;
    return als === undefined ? this.#sync : als.getStore();
  }

  #inside(key: string): Active | undefined {
    for (let a = this.#current(); a !== undefined; a = a.parent) {
      if (!a.done && a.queue === this && a.key === key) return a;
    }
    return undefined;
  }

  /** Call `fn` as the task `active`: in its async context, or marked as current for its
   * synchronous part. */
  #within<T>(active: Active, fn: () => T): T {
    const als = this.#als;
    if (als !== undefined) return als.run(active, fn);
    const previous = this.#sync;
    this.#sync = active;
    try {
      return fn();
    } finally {
      this.#sync = previous;
    }
  }

  /** Run `fn` now, marked as a task of `key` nested in `parent` (the task that called
   * `run` inline, or undefined for a queued task: a queued task is not nested in its
   * poster). The mark ends when the task settles. */
  #exec<T>(key: string, fn: () => T | Promise<T>, parent: Active | undefined): Promise<T> {
    const active: Active = { queue: this, key, done: false, parent };
    return this.#within(active, () => {
      let value: T | Promise<T>;
      try {
        value = fn();
      } catch (error) {
        active.done = true;
        return Promise.reject(error);
      }
      if (!isThenable(value)) {
        active.done = true;
        return Promise.resolve(value);
      }
      return Promise.resolve(value).then((v) => {
        active.done = true;
        return v;
      }, (error: unknown) => {
        active.done = true;
        throw error;
      });
    });
  }

  /** Run `fn` after every earlier task of `key` (inline when called from a task of `key`).
   * @param key the serialization key (e.g. a Call-ID)
   * @param fn the task
   * @returns the task's result
   */
  run<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.#inside(key) !== undefined) return this.#exec(key, fn, this.#current());
    return this.#enqueue(key, fn);
  }

  /**
   * Like {@linkcode KeyedQueue.run}, without the promise hops when they are not needed: when
   * `key` is idle, `fn` runs **at once** (before `runNow` returns) as a task of `key`, and
   * a synchronous result is returned as is (a throw propagates synchronously); only a
   * promise result keeps the key busy until it settles. When `key` is busy, or from inside
   * a task of `key`, it behaves as `run` (queued, or inline). Tasks queued for `key` while
   * `fn` runs start after it, as with `run`.
   *
   * @param key the serialization key (e.g. a Call-ID)
   * @param fn the task
   * @returns the task's result: plain when `fn` ran at once and returned a plain value
   */
  runNow<T>(key: string, fn: () => T | Promise<T>): T | Promise<T> {
    if (this.#entries.has(key) || this.#inside(key) !== undefined) return this.run(key, fn);
    const entry: Entry = { tail: RESOLVED, pending: 1, syncRunning: true, release: undefined };
    this.#entries.set(key, entry);
    // Not nested in the caller's task, as for a queued task.
    const active: Active = { queue: this, key, done: false, parent: undefined };
    let value: T | Promise<T>;
    try {
      value = this.#within(active, fn);
    } catch (error) {
      this.#endNow(key, entry, active);
      throw error;
    }
    if (!isThenable(value)) {
      this.#endNow(key, entry, active);
      return value;
    }
    entry.syncRunning = false;
    const result = Promise.resolve(value).then((v) => {
      this.#endNow(key, entry, active);
      return v;
    }, (error: unknown) => {
      this.#endNow(key, entry, active);
      throw error;
    });
    // Tasks queued during the synchronous part wait for `release`; later ones for `tail`.
    if (entry.release === undefined) entry.tail = result.then(NOOP, NOOP);
    return result;
  }

  /** The end of a task started by `runNow`: let the tasks queued behind it go. */
  #endNow(key: string, entry: Entry, active: Active): void {
    active.done = true;
    entry.syncRunning = false;
    const release = entry.release;
    if (release !== undefined) {
      entry.release = undefined;
      release();
    }
    this.#settle(key, entry);
  }

  /** Queue `fn` behind every task of `key`, also when called from inside one (never inline).
   * The caller must not await the result from inside a task of the same key.
   * @param key the serialization key
   * @param fn the task
   * @returns the task's result
   */
  post<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    return this.#enqueue(key, fn);
  }

  #enqueue<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { tail: RESOLVED, pending: 0, syncRunning: false, release: undefined };
      this.#entries.set(key, entry);
    }
    const e = entry;
    e.pending++;
    if (e.syncRunning && e.release === undefined) {
      // The `runNow` task is in its synchronous part: wait for its end.
      e.tail = new Promise<void>((resolve) => (e.release = resolve));
    }
    // Run outside any current task's context: a queued task is not nested in its poster
    // (its mark has no parent).
    const result = e.tail.then(() => this.#exec(key, fn, undefined));
    e.tail = result.then(
      () => this.#settle(key, e),
      () => this.#settle(key, e),
    );
    return result;
  }

  #settle(key: string, entry: Entry): void {
    entry.pending--;
    if (entry.pending === 0 && this.#entries.get(key) === entry) this.#entries.delete(key);
  }
}
