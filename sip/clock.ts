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

/** One pending timer of a {@linkcode TimerQueue}. */
interface QueuedTimer {
  /** When it is due, on the base clock. */
  due: number;
  /** Creation order: timers due at the same time fire in the order they were set. */
  seq: number;
  /** The callback. */
  fn: () => void;
  /** Position in the heap; {@linkcode IN_LIST} while queued in a delay list; -1 once fired
   * or cleared. */
  index: number;
  /** The delay list holding it, if any. */
  list: DelayList | undefined;
}

/** `QueuedTimer.index` of a timer pending in a delay list. */
const IN_LIST = -2;

/** Most delay lists per queue; timers of other delays go to the heap. */
const MAX_LISTS = 32;

/** The pending timers of one delay, in due order (set order = due order, as long as the
 * time base does not go back). Cleared timers stay in place, marked, until they reach the
 * head or the list is compacted. */
interface DelayList {
  /** The delay of its timers. */
  delay: number;
  /** The timers from `head` on; earlier slots are spent. */
  items: (QueuedTimer | undefined)[];
  head: number;
  /** Cleared timers still in `items`. */
  dead: number;
}

/**
 * A {@linkcode Clock} that multiplexes any number of one-shot timers onto a single timer of
 * a base clock.
 *
 * A SIP stack runs several timers per transaction (Timer J, L, G, H, the 100 Trying delay
 * ...) and nearly all of them are cleared before they fire. Each global timer costs a
 * runtime timer object and a native op to set and to clear; a queued timer costs one small
 * object. Most timers share a few delays (T1, 64*T1, T4, the dialog idle time), and timers
 * of one delay fall due in the order they were set: each delay gets a FIFO list (O(1) to
 * set and to clear, whatever the number of pending timers); other timers go to a binary
 * min-heap ordered by due time (then creation order). The base timer is re-armed only when
 * a new timer is due before the armed one, and it is cleared as soon as the queue is empty,
 * so an idle queue holds no timer (test sanitizers stay quiet).
 *
 * Callbacks run in due order (then creation order) from one base timer callback. A
 * callback that throws does not stop the others; the first error is rethrown once the due
 * timers have run.
 *
 * @example
 * ```ts
 * import { systemClock, TimerQueue } from "./clock.ts";
 * const clock = new TimerQueue(systemClock);
 * const id = clock.setTimeout(() => {}, 32_000);
 * clock.clearTimeout(id); // the base timer is cleared too: nothing is pending
 * if (clock.size !== 0) throw new Error("leak");
 * ```
 */
export class TimerQueue implements Clock {
  readonly #base: Clock;
  readonly #heap: QueuedTimer[] = [];
  readonly #lists = new Map<number, DelayList>();
  /** The same lists, for iteration. */
  #listArray: DelayList[] = [];
  /** `#seq` from which the next `#sweep` may run. */
  #sweepAfter = 0;
  /** Pending timers (heap and lists, cleared ones excluded). */
  #live = 0;
  #seq = 0;
  #armed: TimerId | undefined = undefined;
  #armedAt = Infinity;
  #running = false;
  readonly #onFire = (): void => this.#fire();
  /** The time base for due times: monotonic over the system clock (a wall-clock step must
   * not fire or hold back every timer at once), the base clock's own time otherwise. */
  readonly #mono: () => number;

  /** Create a queue on top of a base clock.
   * @param base the clock that provides the time and the one underlying timer
   */
  constructor(base: Clock) {
    this.#base = base;
    this.#mono = base === systemClock ? () => performance.now() : () => base.now();
  }

  /** Pending timers. */
  get size(): number {
    return this.#live;
  }

  /** The base clock's time.
   * @returns milliseconds
   */
  now(): number {
    return this.#base.now();
  }

  /** Call `fn` once after `ms` milliseconds.
   * @param fn the callback
   * @param ms the delay (negative counts as 0)
   * @returns the handle for {@linkcode TimerQueue.clearTimeout}
   */
  setTimeout(fn: () => void, ms: number): TimerId {
    const delay = ms > 0 ? ms : 0;
    const t: QueuedTimer = {
      due: this.#mono() + delay,
      seq: this.#seq++,
      fn,
      index: -1,
      list: undefined,
    };
    this.#live++;
    const list = this.#listFor(delay, t.due);
    if (list !== undefined) {
      t.index = IN_LIST;
      t.list = list;
      list.items.push(t);
    } else {
      t.index = this.#heap.length;
      this.#heap.push(t);
      this.#up(t.index);
    }
    if (!this.#running && t.due < this.#armedAt) this.#arm();
    return t;
  }

  /** The delay list for a new timer due at `due`, or undefined for the heap. */
  #listFor(delay: number, due: number): DelayList | undefined {
    let list = this.#lists.get(delay);
    if (list === undefined) {
      if (this.#lists.size >= MAX_LISTS && !this.#sweep()) return undefined;
      list = { delay, items: [], head: 0, dead: 0 };
      this.#lists.set(delay, list);
      this.#listArray.push(list);
      return list;
    }
    const items = list.items;
    const last = items.length > list.head ? items[items.length - 1] : undefined;
    // Set order is due order only while the time base does not go back.
    return last !== undefined && last.due > due ? undefined : list;
  }

  /** Make room for a new delay list by dropping the empty ones (at most once per 1024
   * timers set while every list is taken). True when there is room. */
  #sweep(): boolean {
    if (this.#seq < this.#sweepAfter) return false;
    this.#sweepAfter = this.#seq + 1024;
    this.#listArray = this.#listArray.filter((l) => {
      if (l.items.length > l.head) return true;
      this.#lists.delete(l.delay);
      return false;
    });
    return this.#lists.size < MAX_LISTS;
  }

  /** Cancel a timer; a handle that already fired, was cleared or is foreign is ignored.
   * @param id the handle from {@linkcode TimerQueue.setTimeout}
   */
  clearTimeout(id: TimerId): void {
    const t = id as QueuedTimer | undefined;
    if (typeof t !== "object" || t === null || typeof t.index !== "number") return;
    const i = t.index;
    if (i === IN_LIST) {
      const list = t.list!;
      t.index = -1;
      t.list = undefined;
      this.#live--;
      list.dead++;
      this.#trim(list);
      if (list.dead > 64 && 2 * list.dead > list.items.length - list.head) this.#compact(list);
    } else {
      const heap = this.#heap;
      if (i < 0 || heap[i] !== t) return;
      t.index = -1;
      this.#live--;
      const last = heap.pop()!;
      if (last !== t) {
        heap[i] = last;
        last.index = i;
        this.#down(i);
        this.#up(last.index);
      }
    }
    // An idle queue holds no base timer; otherwise a stale wake-up is harmless.
    if (this.#live === 0 && !this.#running) this.#disarm();
  }

  /** Drop cleared timers from the head of a list (and spent slots from its array). */
  #trim(list: DelayList): void {
    const items = list.items;
    let head = list.head;
    while (head < items.length && items[head]!.index !== IN_LIST) {
      items[head] = undefined;
      head++;
      list.dead--;
    }
    if (head === items.length) {
      items.length = 0;
      head = 0;
    } else if (head > 1024 && 2 * head > items.length) {
      list.items = items.slice(head);
      head = 0;
    }
    list.head = head;
  }

  /** Rebuild a list without its cleared timers (they outnumber the pending ones). */
  #compact(list: DelayList): void {
    const kept: QueuedTimer[] = [];
    const items = list.items;
    for (let i = list.head; i < items.length; i++) {
      const t = items[i]!;
      if (t.index === IN_LIST) kept.push(t);
    }
    list.items = kept;
    list.head = 0;
    list.dead = 0;
  }

  /** The next timer to fire (the earliest by due time, then creation order). */
  #first(): QueuedTimer | undefined {
    let best = this.#heap[0];
    const lists = this.#listArray;
    for (let i = 0; i < lists.length; i++) {
      const list = lists[i]!;
      const t = list.items[list.head];
      if (t !== undefined && (best === undefined || this.#less(t, best))) best = t;
    }
    return best;
  }

  /** Remove the timer `#first` returned. */
  #take(t: QueuedTimer): void {
    if (t.index === IN_LIST) {
      const list = t.list!;
      t.index = -1;
      t.list = undefined;
      list.items[list.head] = undefined;
      list.head++;
      this.#trim(list);
    } else {
      this.#pop();
    }
    this.#live--;
  }

  #disarm(): void {
    if (this.#armed !== undefined) {
      this.#base.clearTimeout(this.#armed);
      this.#armed = undefined;
    }
    this.#armedAt = Infinity;
  }

  #arm(): void {
    const first = this.#first();
    if (first === undefined) {
      this.#disarm();
      return;
    }
    if (this.#armed !== undefined) {
      if (this.#armedAt <= first.due) return;
      this.#base.clearTimeout(this.#armed);
    }
    const wait = first.due - this.#mono();
    this.#armedAt = first.due;
    this.#armed = this.#base.setTimeout(this.#onFire, wait > 0 ? wait : 0);
  }

  #fire(): void {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    this.#running = true;
    let failed = false;
    let error: unknown;
    try {
      const now = this.#mono();
      for (let first = this.#first(); first !== undefined && first.due <= now;) {
        this.#take(first);
        try {
          first.fn();
        } catch (e) {
          if (!failed) {
            failed = true;
            error = e;
          }
        }
        first = this.#first();
      }
    } finally {
      this.#running = false;
      this.#arm();
    }
    if (failed) throw error;
  }

  #pop(): void {
    const heap = this.#heap;
    const top = heap[0]!;
    top.index = -1;
    const last = heap.pop()!;
    if (last !== top) {
      heap[0] = last;
      last.index = 0;
      this.#down(0);
    }
  }

  #less(a: QueuedTimer, b: QueuedTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const t = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!this.#less(t, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = t;
    t.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const t = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.#less(heap[r]!, heap[l]!)) c = r;
      const child = heap[c]!;
      if (!this.#less(child, t)) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = t;
    t.index = i;
  }
}

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
