/**
 * A serialized async queue: the gen_server mailbox of a service. Items are handled one at a
 * time, in order; the next item starts when the previous handler's promise settled.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const seen: number[] = [];
 * const box = new Mailbox<number>(async (n) => {
 *   await Promise.resolve();
 *   seen.push(n);
 * });
 * box.post(1);
 * box.post(2);
 * await box.idle();
 * if (seen.join() !== "1,2") throw new Error("in order");
 * ```
 *
 * @module
 */

/** A serialized queue of items handled by one async handler. */
export class Mailbox<T> {
  #queue: T[] = [];
  #running = false;
  #handler: (item: T) => Promise<void> | void;
  #onError: (error: unknown, item: T) => void;
  #idleWaiters: (() => void)[] = [];
  #paused = false;

  /** Create a mailbox.
   * @param handler handles one item; the next starts when its promise settles
   * @param onError called when the handler throws (default: ignore)
   */
  constructor(
    handler: (item: T) => Promise<void> | void,
    onError: (error: unknown, item: T) => void = () => {},
  ) {
    this.#handler = handler;
    this.#onError = onError;
  }

  /** Items waiting (not counting the one being handled). */
  get size(): number {
    return this.#queue.length;
  }

  /** True while an item is being handled. */
  get busy(): boolean {
    return this.#running;
  }

  /** True while paused (items queue up but are not handled). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stop handling items after the current one; new items queue up. */
  pause(): void {
    this.#paused = true;
  }

  /** Handle queued items again. */
  resume(): void {
    this.#paused = false;
    if (!this.#running && this.#queue.length > 0) void this.#drain();
  }

  /** Append an item; handling starts at once when the mailbox is idle.
   * @param item the item
   */
  post(item: T): void {
    this.#queue.push(item);
    if (!this.#running && !this.#paused) void this.#drain();
  }

  /** Put an item at the front (handled next).
   * @param item the item
   */
  postFirst(item: T): void {
    this.#queue.unshift(item);
    if (!this.#running && !this.#paused) void this.#drain();
  }

  /** Remove a waiting item.
   * @param item the item
   * @returns true when it was waiting and is now removed
   */
  remove(item: T): boolean {
    const i = this.#queue.indexOf(item);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    return true;
  }

  /** Remove and return every waiting item.
   * @returns the items, in order
   */
  takeAll(): T[] {
    const items = this.#queue;
    this.#queue = [];
    return items;
  }

  /** Resolves when no item is waiting or being handled (or when paused and idle).
   * @returns a promise
   */
  idle(): Promise<void> {
    if (!this.#running && (this.#queue.length === 0 || this.#paused)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#paused) {
        const item = this.#queue.shift();
        if (item === undefined) break;
        try {
          await this.#handler(item);
        } catch (error) {
          this.#onError(error, item);
        }
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
