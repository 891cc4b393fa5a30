/**
 * The two timer slots every RFC 3261 §17 transaction runs on: one for retransmissions
 * (Timers A, E, G, or the delayed 100 Trying) and one for timeouts (B, D, F, H, I, J, K, L, M,
 * or the CANCEL guard). A state change reuses the slots, so a transaction never holds more
 * than two timers. The base also holds what client and server transactions share: the request
 * that created them (let go of once a final response makes it useless), and the end of life: a
 * transport error (§17.1.4, §17.2.4), termination, and sending through the layer.
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";
import { parseMessage } from "./parser.ts";
import type { SipRequest, SipResponse } from "./types.ts";

/** Error thrown when a transaction API is used in a state where it makes no sense. */
export class TransactionStateError extends Error {
  /** Create the error.
   * @param message what was attempted, in a sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "TransactionStateError";
  }
}

/**
 * A message's wire form to keep for a long while: a string when the body is ASCII (no body,
 * or SDP: the text lives in the JS heap, where many of them cost less than as many small
 * `ArrayBuffer`s), else its bytes. `parseMessage` reads either back.
 *
 * @param msg the message
 * @returns its wire form
 */
export function wireForm(msg: SipRequest | SipResponse): string | Uint8Array {
  const body = msg.body;
  for (let i = 0; i < body.length; i++) if (body[i]! >= 0x80) return msg.toBytes();
  return msg.toString();
}

/** Base of client and server transactions: the timer slots and their bookkeeping, and the
 * shared end of life (transport error, termination, sending through the owning layer).
 * `M` is what the transaction sends (requests for a client, responses for a server). */
export abstract class TransactionTimers<M = unknown> {
  #request: SipRequest | undefined;
  /** The request's wire form once compacted (see {@linkcode TransactionTimers.compactRequest}). */
  #wire: string | Uint8Array | undefined = undefined;
  /** The method of the request that created the transaction. */
  readonly method: string;
  /** The retransmission timer slot (A, E, G, or the 100 Trying delay). */
  protected retransmitTimer: TimerId | undefined = undefined;
  /** The timeout timer slot (B, D, F, H, I, J, K, L, M, or the CANCEL guard). */
  protected timeoutTimer: TimerId | undefined = undefined;

  /** Start holding the request that creates the transaction.
   * @param request that request
   */
  constructor(request: SipRequest) {
    this.#request = request;
    this.method = request.method;
  }

  /**
   * The request that created the transaction. The transaction lets go of it once a final
   * response leaves nothing that needs it (each subclass says when), so the 64*T1 window of
   * an ended transaction costs a few strings instead of a parsed request. Reading it after
   * that throws {@linkcode TransactionStateError}; the TU keeps its own reference if it
   * needs one.
   */
  get request(): SipRequest {
    const r = this.#request;
    if (r !== undefined) return r;
    const wire = this.#wire;
    if (wire === undefined) {
      throw new TransactionStateError(
        `The ${this.method} transaction released its request after its final response.`,
      );
    }
    // Kept as its wire form: each read parses a copy (equal, not the same object).
    return parseMessage(wire) as SipRequest;
  }

  /** True once the request was released (it cannot be read any more). */
  get requestReleased(): boolean {
    return this.#request === undefined && this.#wire === undefined;
  }

  /** Let go of the request. */
  protected releaseRequest(): void {
    this.#request = undefined;
    this.#wire = undefined;
  }

  /**
   * Keep only the request's wire form: a string when the body is ASCII (the usual SDP), else
   * bytes. A message built or parsed in memory costs several times its wire size in objects;
   * a transaction that must still be able to produce the request for a long while, but will
   * rarely need to, keeps the text and {@linkcode TransactionTimers.request} parses a copy.
   */
  protected compactRequest(): void {
    const r = this.#request;
    if (r === undefined) return;
    this.#wire = wireForm(r);
    this.#request = undefined;
  }

  /** The clock the slots run on (the owning layer's). */
  protected abstract get timerClock(): Clock;

  /** The current state (`"terminated"` at the end). */
  abstract get state(): string;

  /** Enter the Terminated state (subclass state field). */
  protected abstract setTerminated(): void;

  /** Tell the owning layer (and so the TU) about a transport error. */
  protected abstract reportTransportError(error: unknown): void;

  /** Tell the owning layer the transaction has ended (it leaves its tables). */
  protected abstract reportTerminated(): void;

  /** Hand a message to the owning layer's transport; throws on a transport error. */
  protected abstract send(msg: M): void;

  /** Report that the transport failed for this transaction (e.g. an async connect error);
   * the TU is told and the transaction terminates (§17.1.4, §17.2.4).
   * @param error what the transport reported
   */
  transportError(error: unknown): void {
    if (this.state === "terminated") return;
    this.reportTransportError(error);
    this.terminate();
  }

  /** Stop all timers and leave the tables, without telling the TU anything else. */
  terminate(): void {
    if (this.state === "terminated") return;
    this.clearTimers();
    this.setTerminated();
    this.reportTerminated();
  }

  /** Send through the owning layer; returns false (and terminates) on a transport error. */
  protected transmit(msg: M): boolean {
    try {
      this.send(msg);
      return true;
    } catch (error) {
      this.transportError(error);
      return false;
    }
  }

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
