/**
 * Client transactions (RFC 3261 §17.1, updated by RFC 6026 §7.2 and §8.4).
 *
 * Pure state machines: they send through, and report to, a {@linkcode ClientTransactionHost}
 * (normally the {@linkcode TransactionLayer}) and take time from its injected clock. Each
 * transaction uses at most two timer slots (retransmit and timeout); the timer callbacks are
 * bound once per transaction, never per retransmission.
 *
 * INVITE client transaction (§17.1.1.2, RFC 6026 §8.4, figure 5 as updated):
 *
 * | State      | Event                         | Action                                   | Next       |
 * | ---------- | ----------------------------- | ---------------------------------------- | ---------- |
 * | (start)    | request sent                  | start A = T1 (unreliable), B = 64*T1     | Calling    |
 * | Calling    | Timer A                       | retransmit, A doubles (no cap)           | Calling    |
 * | Calling    | Timer B                       | report timeout                           | Terminated |
 * | Calling    | 1xx                           | stop A, B; pass up                       | Proceeding |
 * | Proceeding | 1xx                           | pass up (Timer C reset)                  | Proceeding |
 * | Calling/Pr | 2xx                           | pass up, start M = 64*T1                 | Accepted   |
 * | Calling/Pr | 300-699                       | send ACK (§17.1.1.3), pass up, start D   | Completed  |
 * | Accepted   | 2xx                           | pass up (the TU resends ACK / BYEs fork) | Accepted   |
 * | Accepted   | 1xx, 300-699                  | absorb                                   | Accepted   |
 * | Accepted   | Timer M                       | -                                        | Terminated |
 * | Completed  | 300-699                       | resend the ACK, absorb                   | Completed  |
 * | Completed  | Timer D (64*T1, 0 reliable)   | -                                        | Terminated |
 * | any live   | transport error               | report                                   | Terminated |
 * | Proceeding | Timer C (proxy, §16.6 step 11) | report "C" to the TU (it sends CANCEL)   | Proceeding |
 * | Proceeding | 64*T1 after CANCEL (§9.1)     | report timeout                           | Terminated |
 *
 * Timer D is "at least 32 s" for unreliable transports; sipkit uses 64*T1, which is 32 s with
 * the default T1 and scales down with a small test T1.
 *
 * Non-INVITE client transaction (§17.1.2.2, figure 6):
 *
 * | State      | Event          | Action                                   | Next       |
 * | ---------- | -------------- | ---------------------------------------- | ---------- |
 * | (start)    | request sent   | start E = T1 (unreliable), F = 64*T1     | Trying     |
 * | Trying     | Timer E        | retransmit, E = min(2E, T2)              | Trying     |
 * | Trying     | 1xx            | pass up                                  | Proceeding |
 * | Proceeding | Timer E        | retransmit, E = T2                       | Proceeding |
 * | Proceeding | 1xx            | pass up                                  | Proceeding |
 * | Trying/Pr  | Timer F        | report timeout                           | Terminated |
 * | Trying/Pr  | 200-699        | pass up, stop E, F, start K = T4 (0 rel.) | Completed  |
 * | Completed  | any response   | absorb                                   | Completed  |
 * | Completed  | Timer K        | -                                        | Terminated |
 * | any live   | transport error | report                                  | Terminated |
 *
 * @module
 */

import type { Clock, SipTimers, TimerId } from "./clock.ts";
import type { SipRequest, SipResponse } from "./types.ts";
import { TransactionStateError, TransactionTimers } from "./transaction_timers.ts";

export { TransactionStateError };

/** Which timer expired when a client transaction reports a timeout. */
export type ClientTimeout = "B" | "F" | "C" | "cancel";

/** What a client transaction needs from its owner (the transaction layer). */
export interface ClientTransactionHost<Ctx> {
  /** The injected clock. */
  readonly clock: Clock;
  /** T1, T2, T4. */
  readonly timers: SipTimers;
  /** Hand a request (the original, a retransmission or an ACK) to the transport. May throw:
   * a throw counts as a transport error. */
  transmit(msg: SipRequest, tx: ClientTransaction<Ctx>): void;
  /** A response the TU must see. */
  clientResponse(res: SipResponse, tx: ClientTransaction<Ctx>): void;
  /** Timer B, F, C or the CANCEL guard fired. */
  clientTimeout(tx: ClientTransaction<Ctx>, timer: ClientTimeout): void;
  /** The transport failed to send. */
  clientTransportError(tx: ClientTransaction<Ctx>, error: unknown): void;
  /** The transaction reached Terminated; drop it from the tables. */
  clientTerminated(tx: ClientTransaction<Ctx>): void;
}

/** States of the INVITE client transaction (RFC 3261 §17.1.1, RFC 6026). */
export type InviteClientState =
  | "calling"
  | "proceeding"
  | "accepted"
  | "completed"
  | "terminated";

/** States of the non-INVITE client transaction (RFC 3261 §17.1.2). */
export type NonInviteClientState = "trying" | "proceeding" | "completed" | "terminated";

/** Options for a client transaction. */
export interface ClientTransactionOptions<Ctx> {
  /** Where the request goes (opaque to the transaction; given back to `transmit`). */
  ctx: Ctx;
  /** True on TCP, TLS, WS, WSS, SCTP: no retransmissions, Timers D and K are zero. */
  reliable: boolean;
  /** Proxy Timer C in ms (RFC 3261 §16.6 step 11, > 3 min); omitted: not used. */
  timerC?: number;
}

/** The headers an ACK or CANCEL built by a transaction keeps from the request (§9.1,
 * §17.1.1.3); Via, CSeq and To are set explicitly. */
const KEPT_FOR_ACK: ReadonlySet<string> = new Set([
  "route",
  "max-forwards",
  "from",
  "f",
  "to",
  "t",
  "call-id",
  "i",
]);

function stripForAckOrCancel(req: SipRequest, method: string): SipRequest {
  const out = req.clone();
  out.method = method;
  for (const name of new Set(out.headerNames())) {
    const lower = name.toLowerCase();
    if (!KEPT_FOR_ACK.has(lower)) out.removeHeader(name);
  }
  const top = req.vias[0];
  if (top !== undefined) out.setHeader("Via", top);
  out.setHeader("CSeq", `${req.cseq.seq} ${method}`);
  out.body = new Uint8Array(0);
  return out;
}

/**
 * Build the ACK for a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3): same
 * Request-URI, Call-ID, From, CSeq number and the single top Via (so the same branch) as the
 * INVITE, the To of the response, the INVITE's Route headers, no body.
 *
 * @param invite the INVITE as sent
 * @param response the 300-699 response
 * @returns the ACK request
 */
export function buildAckForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  const ack = stripForAckOrCancel(invite, "ACK");
  const to = response.header("To");
  if (to !== undefined) ack.setHeader("To", to);
  return ack;
}

/**
 * Build a CANCEL for a request (RFC 3261 §9.1): same Request-URI, Call-ID, To, From, CSeq
 * number and single top Via as the request, method CANCEL, the request's Route headers.
 *
 * @param request the request to cancel (an INVITE)
 * @returns the CANCEL request
 */
export function buildCancel(request: SipRequest): SipRequest {
  return stripForAckOrCancel(request, "CANCEL");
}

/** The common part of INVITE and non-INVITE client transactions. A transaction lets go of
 * its request once a final response puts it in Completed (a non-INVITE's Timer K, an INVITE's
 * Timer D after a 300-699): there it only absorbs retransmitted responses, resending the ACK
 * for an INVITE. An INVITE in Accepted (after a 2xx) keeps the request's wire form: a 2xx
 * from another fork makes its dialog from it, and `request` then parses a copy. */
export abstract class ClientTransaction<Ctx = unknown> extends TransactionTimers<SipRequest> {
  /** The transaction key in the layer's table (branch and method, §17.1.3). */
  readonly key: string;
  /** The destination given by the sender. */
  readonly ctx: Ctx;
  /** True on a reliable transport. */
  readonly reliable: boolean;
  /** The last provisional response passed up, if any: the final response is let go once it
   * has been passed up (see {@linkcode ClientTransaction.lastStatus}). */
  lastResponse: SipResponse | undefined = undefined;
  /** The status of the last response passed up (kept when the response is let go; 0 before
   * any). */
  lastStatus = 0;
  /** Free slot for the TU (e.g. the INVITE session owning this transaction). */
  owner: unknown = undefined;
  /** The owner (transaction layer). */
  protected readonly host: ClientTransactionHost<Ctx>;
  /** The current retransmission interval in ms. */
  protected interval: number = 0;

  /** Create the transaction; call {@linkcode ClientTransaction.start} to send.
   * @param host the owner (transaction layer)
   * @param key the table key
   * @param request the request to send
   * @param options destination and transport reliability
   */
  constructor(
    host: ClientTransactionHost<Ctx>,
    key: string,
    request: SipRequest,
    options: ClientTransactionOptions<Ctx>,
  ) {
    super(request);
    this.host = host;
    this.key = key;
    this.ctx = options.ctx;
    this.reliable = options.reliable;
  }

  /** Note the response about to be passed up. */
  protected noteResponse(res: SipResponse): void {
    this.lastResponse = res;
    this.lastStatus = res.status;
  }

  /** Let go of the request and the final response (in Completed). */
  protected release(): void {
    this.releaseRequest();
    this.lastResponse = undefined;
  }

  /** True when the transaction is an INVITE client transaction. */
  abstract get isInvite(): boolean;
  /** Send the request and start the timers. */
  abstract start(): void;
  /** Feed a response matched to this transaction (§17.1.3). */
  abstract receiveResponse(res: SipResponse): void;

  /** The layer's clock, which the timer slots run on. */
  protected override get timerClock(): Clock {
    return this.host.clock;
  }

  /** Tells the layer's client side about the transport error. */
  protected override reportTransportError(error: unknown): void {
    this.host.clientTransportError(this, error);
  }

  /** Tells the layer the client transaction ended. */
  protected override reportTerminated(): void {
    this.host.clientTerminated(this);
  }

  /** Hands the message to the layer's transport. */
  protected override send(msg: SipRequest): void {
    this.host.transmit(msg, this);
  }
}

/** An INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4). See the module table. */
export class InviteClientTransaction<Ctx = unknown> extends ClientTransaction<Ctx> {
  #state: InviteClientState = "calling";
  #ack: SipRequest | undefined = undefined;
  #timerCMs: number | undefined;
  #timerC: TimerId | undefined = undefined;
  #cancelState: "none" | "pending" | "sent" = "none";
  // One bound callback per timer slot, dispatching on the state (no closure per timer).
  readonly #onTimerA = (): void => this.#timerA();
  readonly #onTimeout = (): void => this.#timeoutFired();
  readonly #onTimerC = (): void => this.#timerCFired();

  /** Create the transaction; call {@linkcode InviteClientTransaction.start} to send.
   * @param host the owner (transaction layer)
   * @param key the table key
   * @param request the INVITE
   * @param options destination, reliability and the optional proxy Timer C
   */
  constructor(
    host: ClientTransactionHost<Ctx>,
    key: string,
    request: SipRequest,
    options: ClientTransactionOptions<Ctx>,
  ) {
    super(host, key, request, options);
    this.#timerCMs = options.timerC;
  }

  /** The current state. */
  get state(): InviteClientState {
    return this.#state;
  }

  /** Always true. */
  get isInvite(): boolean {
    return true;
  }

  /** The ACK built for a non-2xx final response, once sent. */
  get ack(): SipRequest | undefined {
    return this.#ack;
  }

  /** Where a CANCEL stands: `none`, `pending` (waiting for a provisional, §9.1), `sent`. */
  get cancelState(): "none" | "pending" | "sent" {
    return this.#cancelState;
  }

  /** Number of running timers (for leak checks). */
  override get activeTimers(): number {
    return super.activeTimers + (this.#timerC === undefined ? 0 : 1);
  }

  /** Send the INVITE; start Timer A (unreliable only) and Timer B (§17.1.1.2). */
  start(): void {
    const t1 = this.host.timers.t1;
    if (!this.transmit(this.request)) return;
    if (!this.reliable) {
      this.interval = t1;
      this.retransmitTimer = this.host.clock.setTimeout(this.#onTimerA, t1);
    }
    this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, 64 * t1);
    if (this.#timerCMs !== undefined) {
      this.#timerC = this.host.clock.setTimeout(this.#onTimerC, this.#timerCMs);
    }
  }

  /** Feed a response matched to this transaction. */
  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.#state) {
      case "calling":
      case "proceeding":
        if (status < 200) {
          if (this.#state === "calling") {
            // §17.1.1.2: on a provisional response in Calling, stop retransmitting; Timer B
            // only applies to Calling.
            this.clearRetransmit();
            if (this.#cancelState !== "sent" && this.timeoutTimer !== undefined) {
              this.host.clock.clearTimeout(this.timeoutTimer);
              this.timeoutTimer = undefined;
            }
            this.#state = "proceeding";
          }
          this.#resetTimerC();
          this.noteResponse(res);
          this.host.clientResponse(res, this);
        } else if (status < 300) {
          // RFC 6026 §8.4: 2xx → Accepted, pass up, Timer M = 64*T1.
          this.#stopTimerC();
          this.clearTimers();
          this.#state = "accepted";
          this.noteResponse(res);
          this.timeoutTimer = this.host.clock.setTimeout(
            this.#onTimeout,
            64 * this.host.timers.t1,
          );
          this.host.clientResponse(res, this);
          // Accepted passes every 2xx up and needs nothing of this one. The request is only
          // needed again if a 2xx from another fork makes its dialog from it: for the 64*T1
          // of Accepted the transaction keeps its wire form, not the message.
          if (this.#state === "accepted") {
            this.lastResponse = undefined;
            this.compactRequest();
          }
        } else {
          // §17.1.1.2: 300-699 → send ACK, pass up, Completed, Timer D.
          this.#stopTimerC();
          this.clearTimers();
          this.#state = "completed";
          this.noteResponse(res);
          this.#ack = buildAckForNon2xx(this.request, res);
          if (!this.transmit(this.#ack)) return;
          this.host.clientResponse(res, this);
          if (this.#state !== "completed") return;
          // Completed only resends the ACK (§17.1.1.2): the request and response can go.
          this.release();
          const d = this.reliable ? 0 : 64 * this.host.timers.t1;
          this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, d);
        }
        return;
      case "accepted":
        // RFC 6026 §8.4: every 2xx in Accepted goes to the TU; others are absorbed.
        if (status >= 200 && status < 300) this.host.clientResponse(res, this);
        return;
      case "completed":
        // §17.1.1.2: a retransmitted final response makes us resend the ACK.
        if (status >= 300 && this.#ack !== undefined) this.transmit(this.#ack);
        return;
      case "terminated":
        return;
    }
  }

  /**
   * Note that a CANCEL is wanted for this INVITE (§9.1). Returns what the caller must do:
   * `"send"` (a provisional response has arrived: send the CANCEL now), `"pending"` (nothing
   * yet: the host is told through `clientResponse` and must call again on the first
   * provisional), or `"final"` (a final response already arrived: a CANCEL would have no
   * effect and must not be sent).
   *
   * After `"send"`, the guard of §9.1 runs: without a final response within 64*T1 the
   * transaction times out.
   */
  requestCancel(): "send" | "pending" | "final" {
    switch (this.#state) {
      case "calling":
        this.#cancelState = "pending";
        return "pending";
      case "proceeding":
        this.#cancelState = "sent";
        this.#stopTimerC();
        this.setTimeoutTimer(this.#onTimeout, 64 * this.host.timers.t1);
        return "send";
      default:
        return "final";
    }
  }

  /** Enter the Terminated state. */
  protected setTerminated(): void {
    this.#stopTimerC();
    this.#state = "terminated";
  }

  #timerA(): void {
    this.retransmitTimer = undefined;
    if (this.#state !== "calling") return;
    if (!this.transmit(this.request)) return;
    this.interval *= 2;
    this.retransmitTimer = this.host.clock.setTimeout(this.#onTimerA, this.interval);
  }

  /** The timeout slot: B in Calling, the CANCEL guard in Proceeding, M in Accepted, D in
   * Completed. */
  #timeoutFired(): void {
    this.timeoutTimer = undefined;
    switch (this.#state) {
      case "calling":
      case "proceeding":
        this.host.clientTimeout(this, this.#state === "calling" ? "B" : "cancel");
        this.terminate();
        return;
      case "accepted":
      case "completed":
        this.terminate();
        return;
      default:
        return;
    }
  }

  #resetTimerC(): void {
    if (this.#timerC === undefined || this.#timerCMs === undefined) return;
    this.host.clock.clearTimeout(this.#timerC);
    this.#timerC = this.host.clock.setTimeout(this.#onTimerC, this.#timerCMs);
  }

  #stopTimerC(): void {
    if (this.#timerC !== undefined) {
      this.host.clock.clearTimeout(this.#timerC);
      this.#timerC = undefined;
    }
  }

  #timerCFired(): void {
    this.#timerC = undefined;
    if (this.#state === "calling" || this.#state === "proceeding") {
      // §16.6 step 11 / §16.7 step 2: the proxy decides (CANCEL if provisional, else 408).
      this.host.clientTimeout(this, "C");
    }
  }
}

/** A non-INVITE client transaction (RFC 3261 §17.1.2). See the module table. */
export class NonInviteClientTransaction<Ctx = unknown> extends ClientTransaction<Ctx> {
  #state: NonInviteClientState = "trying";
  readonly #onTimerE = (): void => this.#timerE();
  readonly #onTimeout = (): void => this.#timeoutFired();

  /** The current state. */
  get state(): NonInviteClientState {
    return this.#state;
  }

  /** Always false. */
  get isInvite(): boolean {
    return false;
  }

  /** Send the request; start Timer E (unreliable only) and Timer F (§17.1.2.2). */
  start(): void {
    const t1 = this.host.timers.t1;
    if (!this.transmit(this.request)) return;
    if (!this.reliable) {
      this.interval = t1;
      this.retransmitTimer = this.host.clock.setTimeout(this.#onTimerE, t1);
    }
    this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, 64 * t1);
  }

  /** Feed a response matched to this transaction. */
  receiveResponse(res: SipResponse): void {
    if (this.#state !== "trying" && this.#state !== "proceeding") return;
    this.noteResponse(res);
    if (res.status < 200) {
      this.#state = "proceeding";
      this.host.clientResponse(res, this);
      return;
    }
    this.clearTimers();
    this.#state = "completed";
    this.host.clientResponse(res, this);
    if (this.#state !== "completed") return;
    // Completed only absorbs retransmitted responses (§17.1.2.2): nothing else is needed.
    this.release();
    const k = this.reliable ? 0 : this.host.timers.t4;
    this.timeoutTimer = this.host.clock.setTimeout(this.#onTimeout, k);
  }

  /** Enter the Terminated state. */
  protected setTerminated(): void {
    this.#state = "terminated";
  }

  #timerE(): void {
    this.retransmitTimer = undefined;
    if (this.#state !== "trying" && this.#state !== "proceeding") return;
    if (!this.transmit(this.request)) return;
    const t2 = this.host.timers.t2;
    // §17.1.2.2: E doubles up to T2 in Trying; in Proceeding it is T2.
    this.interval = this.#state === "trying" ? Math.min(2 * this.interval, t2) : t2;
    this.retransmitTimer = this.host.clock.setTimeout(this.#onTimerE, this.interval);
  }

  /** The timeout slot: F in Trying/Proceeding, K in Completed. */
  #timeoutFired(): void {
    this.timeoutTimer = undefined;
    if (this.#state === "terminated") return;
    if (this.#state !== "completed") this.host.clientTimeout(this, "F");
    this.terminate();
  }
}
