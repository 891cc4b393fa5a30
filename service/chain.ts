/**
 * Callback chains: the composition of user callbacks, plugin callbacks and built-in defaults
 * into one function per callback name, built once at `start` and at every `update` (never per
 * message), in the style of hono's `compose`.
 *
 * A {@linkcode Link} receives the arguments as a tuple and a `next` function:
 *
 * - return a value without calling `next`: the chain stops, that value is the result;
 * - `return next()`: continue with the same arguments (the result of the rest is returned);
 * - `return next([changedArgs...])`: continue with changed arguments;
 * - calling `next` a second time rejects with {@linkcode ChainError}.
 *
 * A plain user callback (a positional function without `next`, e.g.
 * `sipOptions(request, call)`) is adapted with {@linkcode fromCallback}: returning
 * `undefined` (or nothing) means **continue** with the same arguments; any other value answers.
 * To answer "nothing now" and stop the chain (e.g. reply to a SIP request later through
 * `call.reply`, or reply to a `call` later through `from.reply`), return
 * {@linkcode NO_REPLY}: the chain stops and the composed function resolves to `undefined`.
 *
 * The last link of every chain is the built-in default (a terminal function that cannot
 * continue).
 *
 * @example Composing a chain
 * ```ts
 * import { compose, fromCallback, type Link } from "./chain.ts";
 * const double: Link<[number], number> = ([n], next) => next([n * 2]);
 * const user = fromCallback((n: number) => (n > 10 ? n : undefined));
 * const run = compose<[number], number>([user, double], ([n]) => -n);
 * if ((await run([20])) !== 20) throw new Error("user answers");
 * if ((await run([3])) !== -6) throw new Error("plugin doubles, default negates");
 * ```
 *
 * @module
 */

/** Continue the chain, with the same arguments or with `args` instead. */
export type Next<A extends readonly unknown[], R> = (args?: A) => Promise<R>;

/** One link of a chain: answer (a value, or {@linkcode NO_REPLY}), or call `next` (once) to
 * continue. */
export type Link<A extends readonly unknown[], R> = (
  args: A,
  next: Next<A, R | NoReply>,
) => R | NoReply | Promise<R | NoReply>;

/** The terminal link of a chain: the built-in default. */
export type Terminal<A extends readonly unknown[], R> = (
  args: A,
) => R | NoReply | Promise<R | NoReply>;

/** A composed chain: call it with the arguments, get the result of the first link that
 * answered (or of the default). */
export type Chain<A extends readonly unknown[], R> = (args: A) => Promise<R>;

/** Returned by a callback to stop the chain without a value now: "handled, the answer comes
 * later" (a SIP reply through `call.reply`, a `call` reply through `from.reply`), or simply
 * "handled" for notifications. The composed chain resolves to `undefined`. */
export const NO_REPLY: unique symbol = Symbol.for("sipkit.noReply");

/** The type of {@linkcode NO_REPLY}. */
export type NoReply = typeof NO_REPLY;

/** Thrown (as a rejection) when a link misuses `next`, e.g. calls it twice. */
export class ChainError extends Error {
  /** Create the error.
   * @param message what went wrong, in a sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "ChainError";
  }
}

/**
 * True for a promise or any other thenable (what `await` would wait for): the one test the
 * service layer uses to keep synchronous results synchronous.
 * @param v a result that may be a promise
 * @returns whether `v` has a `then` method
 */
export function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

/** The plain callback behind a link made by {@linkcode fromCallback}. */
const PLAIN: unique symbol = Symbol("sipkit.plainCallback");

/** A link made by {@linkcode fromCallback}, which remembers its callback. */
type PlainLink<A extends readonly unknown[], R> = Link<A, R> & {
  [PLAIN]?: PlainCallback<A, R>;
};

/** A composed chain that answers synchronously when it can: see {@linkcode composeMaybe}. */
export type MaybeChain<A extends readonly unknown[], R> = (
  args: A,
) => R | NoReply | Promise<R | NoReply>;

/**
 * Compose like {@linkcode composeRaw}, without promises where none are needed: the plain
 * callbacks at the head of the chain (links made by {@linkcode fromCallback}) are called
 * directly, and when one answers synchronously (or all continue and the terminal answers
 * synchronously) that value is returned as is. From the first other link on, or when a
 * callback returns a promise, the result is a promise, as with `composeRaw`.
 *
 * Unlike `composeRaw`, an exception thrown synchronously by a plain callback or the terminal
 * is thrown by the composed function (not turned into a rejection).
 *
 * @param links the links, in order (the first one runs first)
 * @param terminal the default, run when every link continued
 * @returns the composed chain
 */
export function composeMaybe<A extends readonly unknown[], R>(
  links: readonly Link<A, R>[],
  terminal: Terminal<A, R>,
): MaybeChain<A, R> {
  const list = links.slice() as PlainLink<A, R>[];
  const n = list.length;
  const raw = composeRaw(list, terminal);
  // The chain from link i on, for when a link that is not a plain callback comes.
  const tails = list.map((_, i) => i === 0 ? raw : composeRaw(list.slice(i), terminal));
  const run = (from: number, args: A): R | NoReply | Promise<R | NoReply> => {
    for (let i = from; i < n; i++) {
      const plain = list[i]![PLAIN];
      if (plain === undefined) return tails[i]!(args);
      const result = plain(...args);
      if (isThenable(result)) {
        const next = i + 1;
        return Promise.resolve(result).then((r) =>
          r === undefined ? run(next, args) : r as R | NoReply
        );
      }
      if (result !== undefined) return result as R | NoReply;
    }
    return terminal(args);
  };
  return (args: A): R | NoReply | Promise<R | NoReply> => run(0, args);
}

/**
 * Compose links and a terminal default into one function. Build it once; calling it per
 * message allocates only the `next` closures actually used.
 *
 * A link that throws (or rejects) makes the composed function reject with that error.
 * A {@linkcode NO_REPLY} result is returned as is (see {@linkcode compose} to map it).
 *
 * @param links the links, in order (the first one runs first)
 * @param terminal the default, run when every link continued
 * @returns the composed chain
 */
export function composeRaw<A extends readonly unknown[], R>(
  links: readonly Link<A, R>[],
  terminal: Terminal<A, R>,
): Chain<A, R | NoReply> {
  const list = links.slice();
  const n = list.length;
  const dispatch = (i: number, args: A): Promise<R | NoReply> => {
    try {
      if (i >= n) return Promise.resolve(terminal(args));
      const link = list[i] as Link<A, R>;
      let called = false;
      const next: Next<A, R | NoReply> = (changed?: A) => {
        if (called) {
          return Promise.reject(
            new ChainError(`next() called more than once in link ${i} of a callback chain`),
          );
        }
        called = true;
        return dispatch(i + 1, changed ?? args);
      };
      return Promise.resolve(link(args, next));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return (args: A): Promise<R | NoReply> => dispatch(0, args);
}

/**
 * Compose like {@linkcode composeRaw}, mapping a {@linkcode NO_REPLY} result to `undefined`.
 *
 * @param links the links, in order (the first one runs first)
 * @param terminal the default, run when every link continued
 * @returns the composed chain
 */
export function compose<A extends readonly unknown[], R>(
  links: readonly Link<A, R>[],
  terminal: Terminal<A, R>,
): Chain<A, R> {
  const raw = composeRaw(links, terminal);
  const map = (result: R | NoReply): R => (result === NO_REPLY ? undefined : result) as R;
  return (args: A): Promise<R> => raw(args).then(map);
}

/** A plain positional callback: `undefined` continues, {@linkcode NO_REPLY} stops without a
 * value, anything else answers. */
export type PlainCallback<A extends readonly unknown[], R> = (
  ...args: A
) => R | NoReply | undefined | void | Promise<R | NoReply | undefined | void>;

/**
 * Adapt a plain positional callback into a {@linkcode Link}: when it returns `undefined`
 * (or nothing), the chain continues with the same arguments.
 *
 * @param fn the callback
 * @returns the link
 */
export function fromCallback<A extends readonly unknown[], R>(
  fn: PlainCallback<A, R>,
): Link<A, R> {
  // No async wrapper: a callback that answers synchronously (the common case) costs no
  // promise here; the chain wraps the link's result once.
  const link: PlainLink<A, R> = (args, next) => {
    const result = fn(...args);
    if (isThenable(result)) {
      return Promise.resolve(result).then((r) => r === undefined ? next() : r as R | NoReply);
    }
    return result === undefined ? next() : result as R | NoReply;
  };
  link[PLAIN] = fn;
  return link;
}
