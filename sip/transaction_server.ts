/**
 * Server transactions (RFC 3261 §17.2, updated by RFC 6026 §7.1 and §8.5-§8.7).
 *
 * Pure state machines: they send through, and report to, a {@linkcode ServerTransactionHost}
 * (normally the {@linkcode TransactionLayer}). At most two timer slots per transaction;
 * timer callbacks are bound once per transaction.
 *
 * INVITE server transaction (§17.2.1, RFC 6026 §8.5-§8.7, figure 7 as updated):
 *
 * | State      | Event                          | Action                                  | Next       |
 * | ---------- | ------------------------------ | --------------------------------------- | ---------- |
 * | (start)    | INVITE received                | pass up; start the 100 Trying timer     | Proceeding |
 * | Proceeding | 200 ms, TU silent (§17.2.1)    | send 100 Trying                         | Proceeding |
 * | Proceeding | INVITE retransmission          | resend last provisional (100 if none)   | Proceeding |
 * | Proceeding | TU sends 1xx                   | send                                    | Proceeding |
 * | Proceeding | TU sends 2xx                   | send, start L = 64*T1                   | Accepted   |
 * | Proceeding | TU sends 300-699               | send, start G = T1 (unrel.), H = 64*T1  | Completed  |
 * | Accepted   | INVITE retransmission          | absorb (the TU retransmits the 2xx)     | Accepted   |
 * | Accepted   | TU sends 2xx                   | send (TU-driven retransmission)         | Accepted   |
 * | Accepted   | Timer L                        | -                                       | Terminated |
 * | Completed  | Timer G                        | resend, G = min(2G, T2)                 | Completed  |
 * | Completed  | INVITE retransmission          | resend the final response               | Completed  |
 * | Completed  | ACK                            | stop G, H; start I = T4 (0 reliable)    | Confirmed  |
 * | Completed  | Timer H                        | report timeout (no ACK)                 | Terminated |
 * | Confirmed  | ACK                            | absorb                                  | Confirmed  |
 * | Confirmed  | Timer I                        | -                                       | Terminated |
 * | any live   | transport error                | report                                  | Terminated |
 *
 * Non-INVITE server transaction (§17.2.2, figure 8):
 *
 * | State      | Event                  | Action                              | Next       |
 * | ---------- | ---------------------- | ----------------------------------- | ---------- |
 * | (start)    | request received       | pass up                             | Trying     |
 * | Trying     | retransmission         | absorb                              | Trying     |
 * | Trying/Pr  | TU sends 1xx           | send                                | Proceeding |
 * | Proceeding | retransmission         | resend last provisional             | Proceeding |
 * | Trying/Pr  | TU sends 200-699       | send, start J = 64*T1 (0 reliable)  | Completed  |
 * | Completed  | retransmission         | resend the final response           | Completed  |
 * | Completed  | Timer J                | -                                   | Terminated |
 * | any live   | transport error        | report                              | Terminated |
 *
 * @module
 */

import type { Clock, SipTimers } from "./clock.ts";
import { parseNameAddr } from "./header_parsers.ts";
import { ownString } from "./message.ts";
import { parseMessage } from "./parser.ts";
import { TransactionStateError, TransactionTimers, wireForm } from "./transaction_timers.ts";
import type { SipRequest, SipResponse } from "./types.ts";

/** What a server transaction needs from its owner (the transaction layer). */
export interface ServerTransactionHost<Ctx> {
  /** The injected clock. */
  readonly clock: Clock;
  /** T1, T2, T4. */
  readonly timers: SipTimers;
  /** Hand a response to the transport. May throw: a throw counts as a transport error. */
  transmit(msg: SipResponse, tx: ServerTransaction<Ctx>): void;
  /** Build the 100 Trying for a request (§8.2.6.1). */
  makeTrying(req: SipRequest): SipResponse;
  /** Timer H fired: no ACK arrived for a non-2xx final response (§17.2.1). */
  serverTimeout(tx: ServerTransaction<Ctx>): void;
  /** The transport failed to send. */
  serverTransportError(tx: ServerTransaction<Ctx>, error: unknown): void;
  /** The transaction reached Terminated; drop it from the tables. */
  serverTerminated(tx: ServerTransaction<Ctx>): void;
}

/** States of the INVITE server transaction (RFC 3261 §17.2.1, RFC 6026). */
export type InviteServerState =
  | "proceeding"
  | "accepted"
  | "completed"
  | "confirmed"
  | "terminated";

/** States of the non-INVITE server transaction (RFC 3261 §17.2.2). */
export type NonInviteServerState = "trying" | "proceeding" | "completed" | "terminated";

/** Options for a server transaction. */
export interface ServerTransactionOptions<Ctx> {
  /** Where the request came from (opaque; given back to `transmit`). */
  ctx: Ctx;
  /** True on TCP, TLS, WS, WSS, SCTP: no retransmissions, Timers I and J are zero. */
  reliable: boolean;
  /** INVITE only: ms before the transaction sends 100 Trying itself (§17.2.1: 200 ms);
   * `false` never sends it. */
  tryingDelay?: number | false;
  /** INVITE only: the constructor does not start the 100 Trying delay; the owner calls
   * {@linkcode InviteServerTransaction.startTrying} once the TU has seen the request, so a
   * TU that answers at once costs no timer (default false). */
  deferTrying?: boolean;
}

/** The common part of INVITE and non-INVITE server transactions. A transaction lets go of
 * its request once its final response is sent: Completed (§17.2.1, §17.2.2) only resends the
 * stored response, and Accepted (RFC 6026 §8.7) absorbs retransmissions while the TU resends
 * its 2xx (for an INVITE, the request would keep its SDP offer for 64*T1). */
export abstract class ServerTransaction<Ctx = unknown> extends TransactionTimers<SipResponse> {
  /** The transaction key in the layer's table (§17.2.3). */
  readonly key: string;
  /** The merged-request index key of the request (§8.2.2.2), set by the layer for requests
   * without a To tag; kept so that the request itself need not be. */
  mergeKey: string | undefined = undefined;
  /** Where the request came from. */
  readonly ctx: Ctx;
  /** True on a reliable transport. */
  readonly reliable: boolean;
  #last: SipResponse | undefined = undefined;
  #lastStatus = 0;
  /** The To header value of the final response (its tag is read when asked for). */
  #finalTo: string | undefined = undefined;
  /** The wire form of the final response while Completed may have to resend it. */
  #finalWire: Uint8Array | string | undefined = undefined;
  /** Free slot for the TU (e.g. the INVITE session answering this request). */
  owner: unknown = undefined;
  /** Set by the layer when a CANCEL matched this transaction (§9.2). */
  cancelled = false;
  /** The owner (transaction layer). */
  protected readonly host: ServerTransactionHost<Ctx>;

  /** Create the transaction.
   * @param host the owner (transaction layer)
   * @param key the table key
   * @param request the request received
   * @param options source and transport reliability
   */
  constructor(
    host: ServerTransactionHost<Ctx>,
    key: string,
    request: SipRequest,
    options: ServerTransactionOptions<Ctx>,
  ) {
    super(request);
    this.host = host;
    this.key = key;
    this.ctx = options.ctx;
    this.reliable = options.reliable;
  }

  /** True when the transaction is an INVITE server transaction. */
  abstract get isInvite(): boolean;
  /** Send a response from the TU through the transaction. Throws
   * {@linkcode TransactionStateError} when the state does not allow it. */
  abstract respond(res: SipResponse): void;
  /** Feed a retransmission of the request (absorbed, maybe answered with the last
   * response). */
  abstract receiveRetransmission(req: SipRequest): void;

  /** True once a final response (200-699) was sent. */
  get finalSent(): boolean {
    return this.#lastStatus >= 200;
  }

  /**
   * The last provisional response sent, until a final response is sent. From then on the
   * transaction does not keep the message: Completed keeps only its wire form (to resend it),
   * Accepted (RFC 6026 §8.7), Confirmed and Terminated only its To text, so the 64*T1
   * window of every ended call costs a few hundred bytes instead of a built message.
   * {@linkcode ServerTransaction.lastStatus} and {@linkcode ServerTransaction.lastToTag}
   * still say what was sent.
   */
  get lastResponse(): SipResponse | undefined {
    return this.#last;
  }

  /** The status code of the last response sent (0 before any). */
  get lastStatus(): number {
    return this.#lastStatus;
  }

  /** The To tag of the last response sent, if it had one. */
  get lastToTag(): string | undefined {
    if (this.#last !== undefined) return this.#last.to.tag;
    const to = this.#finalTo;
    return to === undefined ? undefined : parseNameAddr(to).tag;
  }

  /** Remember a response about to be sent. */
  protected setLast(res: SipResponse): void {
    this.#last = res;
    this.#lastStatus = res.status;
  }

  /**
   * Let go of the final response just sent (it is `#last`): keep its To text, and its wire
   * form when `resend` says the state may send it again.
   */
  protected dropFinal(resend: boolean): void {
    const res = this.#last;
    if (res === undefined) return;
    // An own copy of the text: the value is a view into the message text, which it would keep.
    const to = res.header("to");
    this.#finalTo = to === undefined ? undefined : ownString(to);
    this.#finalWire = resend ? wireForm(res) : undefined;
    this.#last = undefined;
  }

  /** Forget the stored final response (a state that never resends it). */
  protected forgetFinal(): void {
    this.#finalWire = undefined;
  }

  /** Resend the last response: the provisional one kept, or the final one from its wire form.
   * Returns false (and the transaction ends) when it could not be sent. */
  protected resendLast(): boolean {
    const last = this.#last;
    if (last !== undefined) return this.transmit(last);
    const wire = this.#finalWire;
    if (wire === undefined) return true;
    let copy: SipResponse;
    try {
      copy = parseMessage(wire) as SipResponse;
    } catch (error) {
      this.transportError(error);
      return false;
    }
    return this.transmit(copy);
  }

  /** The layer's clock, which the timer slots run on. */
  protected override get timerClock(): Clock {
    return this.host.clock;
  }

  /** Tells the layer's server side about the transport error. */
  protected override reportTransportError(error: unknown): void {
    this.host.serverTransportError(this, error);
  }

  /** Tells the layer the server transaction ended. */
  protected override reportTerminated(): void {
    this.host.serverTerminated(this);
  }

  /** Hands the message to the layer's transport. */
  protected override send(msg: SipResponse): void {
    this.host.transmit(msg, this);
  }
}

/** An INVITE server transaction (RFC 3261 §17.2.1, RFC 6026). See the module table. */
export class InviteServerTransaction<Ctx = unknown> extends ServerTransaction<Ctx> {
  #state: InviteServerState = "proceeding";
  #interval = 0;
  #tryingDelay: number | false;
  // One bound callback per timer slot, dispatching on the state (no closure per timer). The
  // retransmit one is made on first use: a TU that answers at once never needs it.
  #retransmitFn: (() => void) | undefined = undefined;
  readonly #onTimeout = (): void => this.#timeoutFired();

  /** Create the transaction and, unless disabled, schedule the 100 Trying (§17.2.1).
   * @param host the owner (transaction layer)
   * @param key the table key
   * @param request the INVITE
   * @param options source, reliability and the 100 Trying delay
   */
  constructor(
    host: ServerTransactionHost<Ctx>,
    key: string,
    request: SipRequest,
    options: ServerTransactionOptions<Ctx>,
  ) {
    super(host, key, request, options);
    this.#tryingDelay = options.tryingDelay ?? 200;
    if (options.deferTrying !== true) this.startTrying();
  }

  /** Start the 100 Trying delay (§17.2.1) unless a response was sent already, the delay
   * runs already or 100 Trying is disabled. The constructor calls it unless `deferTrying`. */
  startTrying(): void {
    const delay = this.#tryingDelay;
    if (
      delay === false || this.#state !== "proceeding" || this.lastResponse !== undefined ||
      this.retransmitTimer !== undefined
    ) return;
    this.retransmitTimer = this.host.clock.setTimeout(this.#onRetransmit(), Math.max(0, delay));
  }

  /** The current state. */
  get state(): InviteServerState {
    return this.#state;
  }

  /** Always true. */
  get isInvite(): boolean {
    return true;
  }

  /** Send a response from the TU (§17.2.1, RFC 6026 §8.5-§8.6). */
  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.#state) {
      case "proceeding": {
        this.clearTimers(); // the pending 100 Trying is no longer needed
        this.setLast(res);
        if (status < 200) {
          this.transmit(res);
          return;
        }
        const t1 = this.host.timers.t1;
        this.releaseRequest(); // Accepted and Completed resend responses, never read it
        if (status < 300) {
          this.#state = "accepted";
          this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, 64 * t1);
          // Accepted never resends: the TU retransmits its 2xx (RFC 6026 §8.6).
          if (this.transmit(res)) this.dropFinal(false);
          return;
        }
        this.#state = "completed";
        if (!this.reliable) {
          this.#interval = t1;
          this.retransmitTimer = this.host.clock.setTimeout(this.#onRetransmit(), t1);
        }
        this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, 64 * t1);
        if (this.transmit(res)) this.dropFinal(true);
        return;
      }
      case "accepted":
        if (status >= 200 && status < 300) {
          // RFC 6026 §8.6: 2xx retransmissions from the TU go out through the transaction.
          this.transmit(res);
          return;
        }
        throw new TransactionStateError(
          `Cannot send ${status} after a 2xx on this INVITE transaction.`,
        );
      default:
        throw new TransactionStateError(
          `Cannot send ${status}: the INVITE transaction is ${this.#state}.`,
        );
    }
  }

  /** Feed a retransmitted INVITE. */
  receiveRetransmission(_req: SipRequest): void {
    switch (this.#state) {
      case "proceeding":
        // §17.2.1: resend the most recent provisional response.
        if (this.lastResponse !== undefined) this.transmit(this.lastResponse);
        else {
          // The 100 Trying goes now: its pending delay is stopped, or it would fire later,
          // in whatever state the transaction is in by then.
          this.clearRetransmit();
          this.#sendTrying();
        }
        return;
      case "completed":
        this.resendLast();
        return;
      default:
        return; // Accepted (RFC 6026 §8.7), Confirmed: absorbed.
    }
  }

  /** Feed an ACK matched to this transaction. Returns true when the transaction absorbed it
   * (ACK for a non-2xx final, §17.2.1), false when it belongs to the TU (ACK for a 2xx). */
  receiveAck(_ack: SipRequest): boolean {
    switch (this.#state) {
      case "completed": {
        this.clearTimers();
        this.forgetFinal(); // Confirmed only absorbs ACKs
        this.#state = "confirmed";
        const i = this.reliable ? 0 : this.host.timers.t4;
        this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, i);
        return true;
      }
      case "confirmed":
        return true;
      case "accepted":
      case "proceeding":
        return false;
      default:
        return true;
    }
  }

  /** Enter the Terminated state. */
  protected setTerminated(): void {
    this.#state = "terminated";
    this.forgetFinal();
  }

  #sendTrying(): void {
    this.retransmitTimer = undefined;
    if (this.#state !== "proceeding" || this.lastResponse !== undefined) return;
    const trying = this.host.makeTrying(this.request);
    this.setLast(trying);
    this.transmit(trying);
  }

  #timerG(): void {
    this.retransmitTimer = undefined;
    if (this.#state !== "completed" || !this.resendLast()) return;
    this.#interval = Math.min(2 * this.#interval, this.host.timers.t2);
    this.retransmitTimer = this.host.clock.setTimeout(this.#onRetransmit(), this.#interval);
  }

  /** The callback of the retransmit slot. */
  #onRetransmit(): () => void {
    return this.#retransmitFn ??= (): void => this.#retransmitFired();
  }

  /** The retransmit slot: the 100 Trying delay in Proceeding, Timer G in Completed. */
  #retransmitFired(): void {
    if (this.#state === "completed") this.#timerG();
    else this.#sendTrying();
  }

  /** The timeout slot: H in Completed, L in Accepted, I in Confirmed. */
  #timeoutFired(): void {
    this.timeoutTimer = undefined;
    if (this.#state === "terminated") return;
    if (this.#state === "completed") this.host.serverTimeout(this);
    this.terminate();
  }
}

/** A non-INVITE server transaction (RFC 3261 §17.2.2). See the module table. */
export class NonInviteServerTransaction<Ctx = unknown> extends ServerTransaction<Ctx> {
  #state: NonInviteServerState = "trying";
  readonly #onTimerJ = (): void => this.terminate();

  /** The current state. */
  get state(): NonInviteServerState {
    return this.#state;
  }

  /** Always false. */
  get isInvite(): boolean {
    return false;
  }

  /** Send a response from the TU (§17.2.2). */
  respond(res: SipResponse): void {
    if (this.#state !== "trying" && this.#state !== "proceeding") {
      throw new TransactionStateError(
        `Cannot send ${res.status}: the ${this.method} transaction is ${this.#state}.`,
      );
    }
    this.setLast(res);
    if (res.status < 200) {
      this.#state = "proceeding";
      this.transmit(res);
      return;
    }
    this.#state = "completed";
    this.releaseRequest(); // §17.2.2: Completed only resends the final response
    const j = this.reliable ? 0 : 64 * this.host.timers.t1;
    this.timeoutTimer = this.host.clock.setTimeout(this.#onTimerJ, j);
    // Timer J is zero on a reliable transport: nothing is resent there.
    if (this.transmit(res)) this.dropFinal(!this.reliable);
  }

  /** Feed a retransmitted request: absorbed in Trying, answered with the last response
   * in Proceeding and Completed (§17.2.2). */
  receiveRetransmission(_req: SipRequest): void {
    if (this.#state === "proceeding" || this.#state === "completed") this.resendLast();
  }

  /** Enter the Terminated state. */
  protected setTerminated(): void {
    this.#state = "terminated";
    this.forgetFinal();
  }
}
