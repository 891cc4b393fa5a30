/**
 * INVITE sessions (RFC 3261 §13-§15, RFC 3311 UPDATE, RFC 3264 offer/answer) as pure state
 * machines on top of a {@linkcode Dialog}.
 *
 * An {@linkcode InviteSession} is the INVITE usage of one dialog. It retransmits the UAS 2xx
 * until the ACK arrives (§13.3.1.4), sends the ACK for every 2xx as a UAC (§13.2.2.4, the
 * same ACK again for a retransmitted 2xx), tracks re-INVITE and UPDATE with the offer/answer
 * state and glare (§14, RFC 3311 §5), and ends with BYE (§15). An
 * {@linkcode UacInviteTracker} handles the responses to an initial INVITE: early dialogs per
 * fork, the first 2xx, extra 2xx from other forks (ACK then BYE), CANCEL only after a
 * provisional (§9.1) and the CANCEL/200 race (ACK then BYE).
 *
 * Session states:
 *
 * | State       | Event                                             | Action                        | Next        |
 * | ----------- | ------------------------------------------------- | ----------------------------- | ----------- |
 * | early       | UAS sends 2xx (§13.3.1.4)                         | retransmit T1, 2T1.. ≤ T2     | waiting-ack |
 * | early       | UAC gets 2xx (§13.2.2.4)                          | send ACK                      | confirmed   |
 * | waiting-ack | ACK with the 2xx's CSeq                           | stop retransmitting           | confirmed   |
 * | waiting-ack | 64*T1 without ACK (§13.3.1.4)                      | report, send BYE              | terminated  |
 * | waiting-ack | local BYE (§15.1.1)                               | deferred until ACK / timeout  | waiting-ack |
 * | confirmed   | retransmitted 2xx (UAC)                           | resend the same ACK           | confirmed   |
 * | confirmed   | re-INVITE sent / received                         | offer/answer, glare checks    | confirmed   |
 * | confirmed   | 2xx to a re-INVITE sent (UAC)                     | send ACK                      | confirmed   |
 * | confirmed   | 2xx to a re-INVITE received sent (UAS)            | retransmit until ACK          | waiting-ack |
 * | confirmed   | 491 to our re-INVITE/UPDATE (§14.1)               | back-off timer, then report   | confirmed   |
 * | confirmed   | BYE sent or received (§15)                        | dialog usage removed          | terminated  |
 * | early (UAS) | local BYE                                         | refused (§15: MUST NOT)       | early       |
 *
 * Offer/answer (RFC 3264 §4, RFC 6337): a body sent or received while `stable` is an offer;
 * a body while an offer is pending in the other direction is the answer.
 *
 * | OA state       | Event                                  | Next           |
 * | -------------- | -------------------------------------- | -------------- |
 * | stable         | local body (INVITE, UPDATE, 2xx)       | offer-sent     |
 * | stable         | remote body                            | offer-received |
 * | offer-sent     | remote body                            | stable         |
 * | offer-received | local body                             | stable         |
 * | offer-sent     | non-2xx to the offering request        | stable (rolled back) |
 * | offer-sent     | remote offer in re-INVITE/UPDATE       | 491 (glare)    |
 * | offer-received | remote offer in UPDATE                 | 500 + Retry-After 0-10 s (RFC 3311 §5.2) |
 *
 * @module
 */

import type { Clock, SipTimers, TimerId } from "./clock.ts";
import { Dialog, type DialogOptions, type InDialogRequestOptions } from "./dialog.ts";
import type { SipMessage, SipRequest, SipResponse } from "./types.ts";

/** Offer/answer states (RFC 3264, RFC 6337 §2). */
export type OfferAnswerState = "stable" | "offer-sent" | "offer-received";

/** INVITE session states. */
export type InviteSessionState = "early" | "waiting-ack" | "confirmed" | "terminated";

/** Error thrown when a session operation is not allowed in the current state. */
export class SessionStateError extends Error {
  /** Create the error.
   * @param message what was refused and why, in a sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "SessionStateError";
  }
}

/** Events an INVITE session reports to its owner. */
export type InviteSessionEvent =
  /** The ACK for our 2xx arrived, or we sent the ACK for a 2xx. */
  | { type: "confirmed"; session: InviteSession }
  /** §13.3.1.4: no ACK after 64*T1; a BYE was sent. */
  | { type: "ack-timeout"; session: InviteSession }
  /** §14.1: the back-off after a 491 ended; the owner may resend its request now. */
  | { type: "glare-retry"; session: InviteSession; method: string }
  /** The session ended. */
  | { type: "terminated"; session: InviteSession; reason: string };

/** What a session needs from its owner (normally the service). */
export interface InviteSessionHost {
  /** The clock. */
  readonly clock: Clock;
  /** T1, T2, T4. */
  readonly timers: SipTimers;
  /** Random in [0, 1) for the §14.1 back-off (default Math.random). */
  random?(): number;
  /** Send a message outside any transaction of this layer: the UAS 2xx and its
   * retransmissions, an ACK for a 2xx. A request without Via gets one from the host, added
   * to the message itself, so resending the same object sends the same ACK. */
  send(msg: SipMessage): void;
  /** Send an in-dialog request (BYE, re-INVITE, UPDATE) through a new client transaction. */
  sendRequest(req: SipRequest): void;
  /** Report an event. */
  onEvent?(event: InviteSessionEvent): void;
}

/**
 * The §14.1 glare back-off in ms: 2.1 to 4 s if this UA owns the Call-ID (it sent the
 * dialog-creating INVITE), else 0 to 2 s, in units of 10 ms.
 *
 * @example
 * ```ts
 * import { glareBackoff } from "./invite_session.ts";
 * if (glareBackoff(true, () => 0) !== 2100) throw new Error("owner minimum");
 * if (glareBackoff(false, () => 0.99999) !== 2000) throw new Error("non-owner maximum");
 * ```
 *
 * @param ownsCallId true when this UA generated the Call-ID
 * @param random random in [0, 1)
 * @returns the delay in ms
 */
export function glareBackoff(ownsCallId: boolean, random: () => number = Math.random): number {
  const r = Math.min(Math.max(random(), 0), 0.999999);
  return ownsCallId ? 2100 + Math.floor(r * 191) * 10 : Math.floor(r * 201) * 10;
}

/** The offer/answer state machine (RFC 3264 §4, RFC 6337). */
export class OfferAnswer {
  #state: OfferAnswerState = "stable";

  /** The current state. */
  get state(): OfferAnswerState {
    return this.#state;
  }

  /** A body went out: an offer when stable, the answer when an offer was received. */
  localBody(): "offer" | "answer" {
    if (this.#state === "offer-received") {
      this.#state = "stable";
      return "answer";
    }
    if (this.#state === "offer-sent") {
      throw new SessionStateError("An offer is already pending (RFC 3264 §4).");
    }
    this.#state = "offer-sent";
    return "offer";
  }

  /** A body came in: an offer when stable, the answer when we offered. */
  remoteBody(): "offer" | "answer" {
    if (this.#state === "offer-sent") {
      this.#state = "stable";
      return "answer";
    }
    this.#state = "offer-received";
    return "offer";
  }

  /** The offering transaction failed: back to stable (RFC 6337 §3.2). */
  rollback(): void {
    this.#state = "stable";
  }
}

function hasBody(msg: SipMessage): boolean {
  return msg.contentLength > 0;
}

/** One INVITE usage of a dialog (RFC 3261 §13-§15). See the module table. */
export class InviteSession {
  /** The dialog. */
  readonly dialog: Dialog;
  /** The offer/answer state. */
  readonly offerAnswer: OfferAnswer = new OfferAnswer();
  readonly #host: InviteSessionHost;
  #state: InviteSessionState;
  // UAS 2xx retransmission (§13.3.1.4): one timer, restarted with a doubling interval.
  #pending2xx: SipResponse | undefined = undefined;
  #retransmitStart = 0;
  #interval = 0;
  #retransmitTimer: TimerId | undefined = undefined;
  #byeAfterAck = false;
  // UAC: the ACK for the latest 2xx (§13.2.2.4), resent for its retransmissions.
  #ack: SipRequest | undefined = undefined;
  // re-INVITE / UPDATE in progress.
  #localPending: { method: string; seq: number; offer: boolean } | undefined = undefined;
  #remoteInvite: number | undefined = undefined;
  #glareTimer: TimerId | undefined = undefined;
  #glareMethod = "";
  readonly #onRetransmit = (): void => this.#retransmit2xx();
  readonly #onGlare = (): void => this.#glareFired();

  /** Create the INVITE usage of a dialog.
   * @param dialog the dialog (the `invite` usage is added to it)
   * @param host clock, timers, send functions and event sink
   * @param invite the dialog-creating INVITE: a body in it is the first offer (sent by a UAC,
   *   received by a UAS)
   */
  constructor(dialog: Dialog, host: InviteSessionHost, invite?: SipRequest) {
    this.dialog = dialog;
    this.#host = host;
    this.#state = dialog.state === "confirmed" ? "confirmed" : "early";
    dialog.addUsage("invite");
    dialog.owner = this;
    if (invite !== undefined && hasBody(invite)) {
      if (dialog.role === "uac") this.offerAnswer.localBody();
      else this.offerAnswer.remoteBody();
    }
  }

  /** The session state. */
  get state(): InviteSessionState {
    return this.#state;
  }

  /** Running timers (for leak checks). */
  get activeTimers(): number {
    return (this.#retransmitTimer === undefined ? 0 : 1) +
      (this.#glareTimer === undefined ? 0 : 1);
  }

  /** The ACK sent for the latest 2xx (UAC). */
  get lastAck(): SipRequest | undefined {
    return this.#ack;
  }

  /** A re-INVITE or UPDATE of ours awaits its final response. */
  get localRequestPending(): boolean {
    return this.#localPending !== undefined;
  }

  // --- UAS: 2xx and ACK --------------------------------------------------------------

  /**
   * Send a 2xx to the initial INVITE or to a re-INVITE and retransmit it until the ACK
   * (§13.3.1.4: T1, doubling up to T2; give up after 64*T1 and send BYE).
   *
   * The first copy goes out through `host.send` unless `options.alreadySent` says the
   * caller sent it itself (typically through the INVITE server transaction, which then moves
   * to Accepted, RFC 6026); the retransmissions always go through `host.send`.
   *
   * @param res the 2xx
   * @param options `alreadySent`: the first copy was sent by the caller
   */
  send2xx(res: SipResponse, options: { alreadySent?: boolean } = {}): void {
    if (this.#state === "terminated") {
      throw new SessionStateError("The session has ended.");
    }
    if (hasBody(res)) this.offerAnswer.localBody();
    this.dialog.confirm();
    this.#stopRetransmit();
    this.#pending2xx = res;
    this.#state = "waiting-ack";
    this.#retransmitStart = this.#host.clock.now();
    this.#interval = this.#host.timers.t1;
    this.#retransmitTimer = this.#host.clock.setTimeout(this.#onRetransmit, this.#interval);
    if (res.cseq.seq === this.#remoteInvite) this.#remoteInvite = undefined;
    if (options.alreadySent !== true) this.#host.send(res);
  }

  /**
   * Feed an ACK for a 2xx (from the transaction layer's `onRequest` with no transaction).
   * Returns true when it acknowledged the pending 2xx.
   *
   * @param ack the ACK
   * @returns whether it matched
   */
  receiveAck(ack: SipRequest): boolean {
    this.dialog.receiveRequest(ack);
    const pending = this.#pending2xx;
    if (pending === undefined || ack.cseq.seq !== pending.cseq.seq) return false;
    if (hasBody(ack)) this.offerAnswer.remoteBody();
    this.#stopRetransmit();
    this.#pending2xx = undefined;
    this.#state = "confirmed";
    this.#emit({ type: "confirmed", session: this });
    if (this.#byeAfterAck) this.bye();
    return true;
  }

  // --- UAC: 2xx and ACK --------------------------------------------------------------

  /**
   * Feed a 2xx to our INVITE or re-INVITE (§13.2.2.4). The first 2xx for a CSeq gets a new
   * ACK; a retransmission gets the same ACK again.
   *
   * @param res the 2xx
   * @param ackOptions body and headers for the ACK (e.g. the answer to an offer in the 2xx)
   */
  receive2xx(res: SipResponse, ackOptions: Omit<InDialogRequestOptions, "cseq"> = {}): void {
    if (this.#ack !== undefined && this.#ack.cseq.seq === res.cseq.seq) {
      this.#host.send(this.#ack); // a retransmission: the same ACK again
      return;
    }
    if (this.#state === "terminated") return;
    const pending = this.#localPending;
    const forReinvite = pending?.method === "INVITE" && pending.seq === res.cseq.seq;
    const forInitial = this.#ack === undefined && this.dialog.role === "uac" &&
      pending === undefined && res.cseq.method === "INVITE";
    if (!forReinvite && !forInitial) return; // a stale or unknown 2xx: nothing to acknowledge
    this.dialog.receiveResponse(res);
    if (hasBody(res)) this.offerAnswer.remoteBody();
    const ack = this.dialog.createRequest("ACK", { ...ackOptions, cseq: res.cseq.seq });
    if (hasBody(ack)) this.offerAnswer.localBody();
    this.#ack = ack;
    if (forReinvite) this.#localPending = undefined;
    this.#state = "confirmed";
    this.#host.send(ack);
    if (forInitial) this.#emit({ type: "confirmed", session: this });
  }

  // --- re-INVITE and UPDATE ----------------------------------------------------------

  /**
   * True when a re-INVITE may be sent now (§14.1: not while another INVITE transaction is
   * in progress in either direction; RFC 3264: not while an offer is pending).
   */
  canReinvite(): boolean {
    return this.#state === "confirmed" && this.#localPending === undefined &&
      this.#remoteInvite === undefined && this.offerAnswer.state === "stable" &&
      this.#glareTimer === undefined;
  }

  /**
   * Send a re-INVITE (§14.1) or an UPDATE (RFC 3311) through the host.
   *
   * @param method `INVITE` or `UPDATE`
   * @param options body (the offer), Contact, headers
   * @returns the request sent
   */
  sendModify(method: "INVITE" | "UPDATE", options: InDialogRequestOptions = {}): SipRequest {
    if (this.#state === "terminated") throw new SessionStateError("The session has ended.");
    if (this.#localPending !== undefined) {
      throw new SessionStateError(`A ${this.#localPending.method} of ours is in progress.`);
    }
    if (method === "INVITE" && !this.canReinvite()) {
      throw new SessionStateError(
        "A re-INVITE must wait for the INVITE transaction or offer in progress (§14.1).",
      );
    }
    const req = this.dialog.createRequest(method, options);
    const offer = hasBody(req);
    if (offer) this.offerAnswer.localBody();
    this.#localPending = { method, seq: req.cseq.seq, offer };
    this.#host.sendRequest(req);
    return req;
  }

  /**
   * Feed a response to our re-INVITE or UPDATE. A 2xx re-INVITE response is given to
   * {@linkcode InviteSession.receive2xx} (send the ACK); 491 starts the §14.1 back-off
   * after which a `glare-retry` event fires; other failures roll the offer back; 481/408
   * end the dialog (§12.2.1.2).
   *
   * @param req the request as sent
   * @param res the response
   */
  receiveModifyResponse(req: SipRequest, res: SipResponse): void {
    const pending = this.#localPending;
    if (res.status < 200) return;
    if (req.method === "INVITE" && res.status < 300) {
      this.receive2xx(res);
      return;
    }
    this.dialog.receiveResponse(res);
    if (pending !== undefined && pending.seq === res.cseq.seq) this.#localPending = undefined;
    if (res.status < 300) {
      if (hasBody(res)) this.offerAnswer.remoteBody();
    } else if (pending?.offer === true) {
      this.offerAnswer.rollback();
    }
    if (this.dialog.state === "terminated") {
      this.#end(res.status === 481 ? "481" : res.status === 408 ? "408" : "dialog");
      return;
    }
    if (res.status === 491) {
      this.#glareMethod = req.method;
      const delay = glareBackoff(this.dialog.role === "uac", () => this.#random());
      this.#glareTimer = this.#host.clock.setTimeout(this.#onGlare, delay);
    }
  }

  /**
   * Check an incoming re-INVITE or UPDATE against the dialog (§12.2.2) and the session
   * (§14.2, RFC 3311 §5.2). Returns the rejection to send, or undefined when the TU may
   * handle it (then answer with {@linkcode InviteSession.send2xx} for a re-INVITE, or
   * {@linkcode InviteSession.answered} for any other final response).
   *
   * @param req the re-INVITE or UPDATE
   * @returns status, reason and extra headers, or undefined
   */
  receiveModify(
    req: SipRequest,
  ): { status: number; reason: string; headers: [string, string][] } | undefined {
    if (this.#state === "terminated") {
      return { status: 481, reason: "Call/Transaction Does Not Exist", headers: [] };
    }
    const seq = req.cseq.seq;
    const offer = hasBody(req);
    if (req.method === "INVITE") {
      // §14.2: a second INVITE before our final response to the first → 500 + Retry-After.
      if (this.#remoteInvite !== undefined || this.#state === "waiting-ack") {
        return {
          status: 500,
          reason: "Server Internal Error",
          headers: [["Retry-After", String(this.#retryAfter())]],
        };
      }
      // §14.2: an INVITE of ours in progress → 491.
      if (this.#localPending?.method === "INVITE" || this.offerAnswer.state === "offer-sent") {
        return { status: 491, reason: "Request Pending", headers: [] };
      }
    } else if (offer) {
      // RFC 3311 §5.2.
      if (this.offerAnswer.state === "offer-sent") {
        return { status: 491, reason: "Request Pending", headers: [] };
      }
      if (this.offerAnswer.state === "offer-received") {
        return {
          status: 500,
          reason: "Server Internal Error",
          headers: [["Retry-After", String(this.#retryAfter())]],
        };
      }
    }
    const rejection = this.dialog.receiveRequest(req);
    if (rejection !== undefined) return { ...rejection, headers: [] };
    if (offer) this.offerAnswer.remoteBody();
    if (req.method === "INVITE") this.#remoteInvite = seq;
    return undefined;
  }

  /**
   * Note a non-2xx final response sent to a re-INVITE, or any final response to an
   * UPDATE, so the pending state and the offer/answer follow.
   *
   * @param req the request answered
   * @param res the response sent
   */
  answered(req: SipRequest, res: SipResponse): void {
    if (res.status < 200) return;
    if (req.method === "INVITE" && this.#remoteInvite === req.cseq.seq) {
      this.#remoteInvite = undefined;
    }
    if (res.status < 300) {
      if (hasBody(res)) this.offerAnswer.localBody();
    } else if (hasBody(req) && this.offerAnswer.state === "offer-received") {
      this.offerAnswer.rollback();
    }
  }

  // --- BYE ----------------------------------------------------------------------------

  /**
   * End the session with BYE (§15). Refused on an early dialog: a UAS MUST NOT send BYE
   * there (§15), and a UAC should CANCEL instead (see {@linkcode UacInviteTracker.cancel}).
   * A UAS waiting for the ACK defers the BYE until the ACK or the ACK timeout (§15.1.1).
   *
   * @param options headers for the BYE (e.g. Reason)
   * @returns the BYE sent, or undefined when deferred or already ended
   */
  bye(options: InDialogRequestOptions = {}): SipRequest | undefined {
    if (this.#state === "terminated") return undefined;
    if (this.#state === "early") {
      throw new SessionStateError(
        this.dialog.role === "uas"
          ? "A UAS must not send BYE on an early dialog (RFC 3261 §15)."
          : "Cancel the INVITE instead of sending BYE on an early dialog (RFC 3261 §15, §9).",
      );
    }
    if (this.#state === "waiting-ack" && this.dialog.role === "uas" && this.#isInitial2xx()) {
      this.#byeAfterAck = true; // §15.1.1
      return undefined;
    }
    const bye = this.dialog.createRequest("BYE", options);
    this.#host.sendRequest(bye);
    this.#end("bye-sent");
    return bye;
  }

  /**
   * Feed an incoming BYE; the session and the INVITE usage end (§15.1.2). The caller
   * answers 200 (or the returned rejection, e.g. 500 for an out-of-order CSeq).
   *
   * @param req the BYE
   * @returns a rejection, or undefined to answer 200
   */
  receiveBye(req: SipRequest): { status: number; reason: string } | undefined {
    if (this.#state === "terminated") {
      return { status: 481, reason: "Call/Transaction Does Not Exist" };
    }
    const seq = req.cseq.seq;
    if (this.dialog.remoteSeq !== undefined && seq < this.dialog.remoteSeq) {
      return { status: 500, reason: "Out of order CSeq" };
    }
    this.dialog.remoteSeq = seq;
    this.#end("bye-received");
    return undefined;
  }

  /** End the session at once without signalling (e.g. the service stops). */
  terminate(reason = "local"): void {
    this.#end(reason);
  }

  #isInitial2xx(): boolean {
    return this.#pending2xx !== undefined && this.#pending2xx.cseq.method === "INVITE";
  }

  #random(): number {
    return this.#host.random?.() ?? Math.random();
  }

  #retryAfter(): number {
    return Math.floor(this.#random() * 11); // RFC 3311 §5.2 / §14.2: 0 to 10 s
  }

  #emit(event: InviteSessionEvent): void {
    this.#host.onEvent?.(event);
  }

  #stopRetransmit(): void {
    if (this.#retransmitTimer !== undefined) {
      this.#host.clock.clearTimeout(this.#retransmitTimer);
      this.#retransmitTimer = undefined;
    }
  }

  #retransmit2xx(): void {
    this.#retransmitTimer = undefined;
    const res = this.#pending2xx;
    if (res === undefined || this.#state !== "waiting-ack") return;
    const { t1, t2 } = this.#host.timers;
    const elapsed = this.#host.clock.now() - this.#retransmitStart;
    if (elapsed >= 64 * t1) {
      // §13.3.1.4: no ACK within 64*T1 → the session SHOULD end with BYE.
      this.#pending2xx = undefined;
      this.#state = "confirmed";
      this.#emit({ type: "ack-timeout", session: this });
      this.#byeAfterAck = false;
      this.bye();
      return;
    }
    this.#host.send(res);
    this.#interval = Math.min(2 * this.#interval, t2);
    const wait = Math.min(this.#interval, 64 * t1 - elapsed);
    this.#retransmitTimer = this.#host.clock.setTimeout(this.#onRetransmit, wait);
  }

  #glareFired(): void {
    this.#glareTimer = undefined;
    if (this.#state === "terminated") return;
    this.#emit({ type: "glare-retry", session: this, method: this.#glareMethod });
  }

  #end(reason: string): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    this.#stopRetransmit();
    if (this.#glareTimer !== undefined) {
      this.#host.clock.clearTimeout(this.#glareTimer);
      this.#glareTimer = undefined;
    }
    this.#pending2xx = undefined;
    this.#localPending = undefined;
    this.#remoteInvite = undefined;
    this.dialog.removeUsage("invite");
    this.#emit({ type: "terminated", session: this, reason });
  }
}

/** Options of {@linkcode UacInviteTracker}. */
export interface UacInviteOptions {
  /** Options for the dialogs created (idle timeout, ...). */
  dialog?: DialogOptions;
  /** Ask the transaction layer to CANCEL the INVITE (`TransactionLayer.cancel`). */
  cancel(): "sent" | "pending" | "final";
  /** A dialog (early or confirmed) was created for a fork. */
  onDialog?(dialog: Dialog): void;
}

/**
 * The UAC side of an initial INVITE (§13.2.2): creates an early dialog per To tag, turns
 * the first 2xx into the session (ACK sent), acknowledges and ends every other 2xx (another
 * fork, §13.2.2.4: ACK then BYE), and handles CANCEL (§9.1) and its race with 200 (ACK then
 * BYE).
 */
export class UacInviteTracker {
  /** The INVITE as sent. */
  readonly invite: SipRequest;
  /** The winning session once a 2xx arrived. */
  session: InviteSession | undefined = undefined;
  readonly #host: InviteSessionHost;
  readonly #options: UacInviteOptions;
  readonly #early = new Map<string, Dialog>();
  readonly #acked = new Map<string, InviteSession>();
  #cancelled = false;
  #final = false;

  /** Track the responses to an INVITE.
   * @param invite the INVITE as sent
   * @param host clock, timers, send functions and event sink
   * @param options CANCEL hook, dialog options
   */
  constructor(invite: SipRequest, host: InviteSessionHost, options: UacInviteOptions) {
    this.invite = invite;
    this.#host = host;
    this.#options = options;
  }

  /** True once {@linkcode UacInviteTracker.cancel} was called. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Early dialogs not yet confirmed or ended. */
  get earlyDialogs(): number {
    return this.#early.size;
  }

  /**
   * Cancel the INVITE (§9.1). The CANCEL goes out once a provisional response has arrived;
   * if a 2xx wins the race, it is acknowledged and the dialog ended with BYE.
   *
   * @returns what the transaction layer did: `sent`, `pending` or `final`
   */
  cancel(): "sent" | "pending" | "final" {
    this.#cancelled = true;
    if (this.#final) return "final";
    return this.#options.cancel();
  }

  /**
   * Feed a response to the INVITE (through the client transaction, or a stray 2xx
   * retransmission after it ended).
   *
   * @param res the response
   * @returns the session that the response concerns, if any
   */
  receive(res: SipResponse): InviteSession | undefined {
    const tag = res.to.tag;
    const status = res.status;
    if (status < 200) {
      if (tag === undefined || status === 100 || this.#final) return undefined;
      const existing = this.#early.get(tag);
      if (existing !== undefined) {
        existing.receiveResponse(res);
        return existing.owner instanceof InviteSession ? existing.owner : undefined;
      }
      const dialog = Dialog.asUac(this.invite, res, this.#options.dialog ?? {});
      this.#early.set(tag, dialog);
      const session = new InviteSession(dialog, this.#host, this.invite);
      this.#options.onDialog?.(dialog);
      return session;
    }
    if (status >= 300) {
      this.#final = true;
      // §12.3: every early dialog ends with the non-2xx final response.
      for (const d of [...this.#early.values()]) d.receiveResponse(res);
      this.#early.clear();
      return undefined;
    }
    if (tag === undefined) return undefined; // a 2xx without a To tag cannot form a dialog
    this.#final = true;
    const known = this.#acked.get(tag);
    if (known !== undefined) {
      known.receive2xx(res); // retransmission: resend the same ACK
      return known;
    }
    let dialog = this.#early.get(tag);
    this.#early.delete(tag);
    let session: InviteSession;
    if (dialog === undefined || !(dialog.owner instanceof InviteSession)) {
      dialog = Dialog.asUac(this.invite, res, this.#options.dialog ?? {});
      session = new InviteSession(dialog, this.#host, this.invite);
      this.#options.onDialog?.(dialog);
    } else {
      session = dialog.owner;
    }
    session.receive2xx(res);
    this.#acked.set(tag, session);
    if (this.session === undefined && !this.#cancelled) {
      this.session = session;
    } else {
      // §13.2.2.4: another fork's 2xx, or a 2xx that crossed our CANCEL: ACK, then BYE.
      session.bye();
    }
    return session;
  }

  /** Forget every early dialog and retained session (the INVITE transaction ended and no
   * more 2xx can arrive). Early dialogs still open are terminated. */
  close(): void {
    for (const d of this.#early.values()) d.terminate("local");
    this.#early.clear();
    this.#acked.clear();
  }
}
