/**
 * The transaction layer (RFC 3261 §17): owns the client and server transaction tables,
 * matches incoming messages to transactions (§17.1.3, §17.2.3 with the RFC 2543 fallback),
 * handles CANCEL per §9.2, passes ACK for 2xx to the TU, keeps the merged-request index of
 * §8.2.2.2, and counts live transactions and timers for leak checks.
 *
 * Pure logic: the clock and the send function are injected, so the layer runs on fake time
 * and an in-memory network in tests.
 *
 * Routing of incoming messages:
 *
 * | Message                      | Match (§)                              | Goes to                           |
 * | ---------------------------- | -------------------------------------- | --------------------------------- |
 * | response                     | top Via branch + CSeq method (17.1.3)  | the client transaction, else TU as stray |
 * | ACK, INVITE tx Completed/Confirmed | 17.2.3                           | absorbed by the transaction       |
 * | ACK, no tx or tx Accepted    | -                                      | TU (`onRequest`, tx undefined)    |
 * | retransmitted request        | 17.2.3                                 | the server transaction (absorbed) |
 * | CANCEL, INVITE tx found      | 9.2 (same key, method INVITE)          | 200 to CANCEL, `onCancel` to TU   |
 * | CANCEL, no INVITE tx         | 9.2                                    | 481 to CANCEL                     |
 * | new request                  | -                                      | new server tx, `onRequest` to TU  |
 *
 * @module
 */

import { getLogger } from "../deps.ts";
import { createResponse, MAGIC_COOKIE } from "./builders.ts";
import {
  type Clock,
  DEFAULT_SIP_TIMERS,
  type SipTimers,
  systemClock,
  TimerQueue,
} from "./clock.ts";
import {
  buildCancel,
  type ClientTimeout,
  type ClientTransaction,
  type ClientTransactionHost,
  InviteClientTransaction,
  NonInviteClientTransaction,
} from "./transaction_client.ts";
import {
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransaction,
  type ServerTransactionHost,
} from "./transaction_server.ts";
import type { SipMessage, SipRequest, SipResponse } from "./types.ts";

const logger = getLogger(["sipkit", "sip", "transaction"]);

/** Any transaction owned by the layer. */
export type Transaction<Ctx = unknown> = ClientTransaction<Ctx> | ServerTransaction<Ctx>;

/** Which timer expired when the layer reports a timeout. */
export type TransactionTimeout = ClientTimeout | "H";

/** Facts about an incoming request given to the TU along with it. */
export interface IncomingRequestInfo<Ctx> {
  /** Where it came from (as passed to {@linkcode TransactionLayer.receive}). */
  ctx: Ctx;
  /** True when it arrived over a reliable transport. */
  reliable: boolean;
  /** §8.2.2.2: no To tag, and From tag, Call-ID and CSeq equal those of another ongoing
   * server transaction that this request does not match. The UAS core should answer 482. */
  merged: boolean;
}

/** Options of a {@linkcode TransactionLayer}. */
export interface TransactionLayerOptions<Ctx> {
  /** The clock; default {@linkcode systemClock}. */
  clock?: Clock;
  /** T1, T2, T4 overrides (RFC 3261 §17.1.1.1). */
  timers?: Partial<SipTimers>;
  /** Hand a message to the transport. `ctx` is the destination (client side) or the source
   * of the request (server side). Throwing counts as a transport error. */
  send(msg: SipMessage, ctx: Ctx, tx: Transaction<Ctx>): void;
  /** A new request (with its new server transaction), or an ACK for a 2xx (tx undefined). */
  onRequest(
    req: SipRequest,
    tx: ServerTransaction<Ctx> | undefined,
    info: IncomingRequestInfo<Ctx>,
  ): void;
  /** A response for a client transaction, or a stray response (tx undefined), e.g. a 2xx
   * retransmission after the INVITE transaction ended. */
  onResponse(res: SipResponse, tx: ClientTransaction<Ctx> | undefined, ctx: Ctx): void;
  /** A CANCEL matched an INVITE server transaction; the layer already answered 200 (§9.2).
   * The TU should answer 487 to the INVITE ({@linkcode TransactionLayer.respondCancelled})
   * if it has not sent a final response. Default: the layer answers 487 itself. The
   * transaction releases its request with the final response: read `invite.request` before
   * answering, or keep your own reference. */
  onCancel?(cancel: SipRequest, invite: InviteServerTransaction<Ctx>): void;
  /** Timer B, F, H, C or the CANCEL guard fired. */
  onTimeout?(tx: Transaction<Ctx>, timer: TransactionTimeout): void;
  /** Sending failed for a transaction. */
  onTransportError?(tx: Transaction<Ctx>, error: unknown): void;
  /** A transaction ended and left the tables. */
  onTerminated?(tx: Transaction<Ctx>): void;
  /** Called when a TU callback throws (the layer never lets it escape). */
  onCallbackError?(error: unknown): void;
  /** Delay of the automatic 100 Trying for INVITE (§17.2.1), default 200 ms; `false`
   * disables it. */
  tryingDelay?: number | false;
  /** Proxy Timer C length in ms when enabled per request (§16.6 step 11), default 180000. */
  timerC?: number;
}

/** Options for {@linkcode TransactionLayer.sendRequest}. */
export interface SendRequestOptions<Ctx> {
  /** The destination, given back to `send`. */
  ctx: Ctx;
  /** True on a reliable transport (no retransmissions, zero wait timers). */
  reliable?: boolean;
  /** Run proxy Timer C (true: the layer default; a number: that many ms). */
  timerC?: boolean | number;
}

function lowerHost(host: string): string {
  return host.toLowerCase();
}

/**
 * The server transaction key of a request (§17.2.3). With the magic cookie: branch, sent-by
 * and method (ACK and CANCEL lookups pass `INVITE`). Without it (RFC 2543): Request-URI,
 * From tag, Call-ID, CSeq number, top Via and method; the To tag joins for non-INVITE
 * methods (for INVITE/ACK the ACK's To tag is checked against the response instead).
 *
 * @param req the request
 * @param method the method to key on (default: the request's, ACK mapped to INVITE)
 * @returns the key, or undefined when the request has no Via
 */
export function serverTransactionKey(req: SipRequest, method?: string): string | undefined {
  const via = req.vias[0];
  if (via === undefined) return undefined;
  const m = method ?? (req.method === "ACK" ? "INVITE" : req.method);
  const branch = via.branch;
  const sentBy = `${lowerHost(via.host)}:${via.port ?? ""}`;
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
    return `${branch}\n${sentBy}\n${m}`;
  }
  const toTag = m === "INVITE" ? "" : (req.to.tag ?? "");
  return `2543\n${req.uri}\n${req.from.tag ?? ""}\n${req.callId}\n${req.cseq.seq}\n` +
    `${via.transport} ${sentBy};${branch ?? ""}\n${m}\n${toTag}`;
}

/**
 * The client transaction key of a response or of a request being sent (§17.1.3): the top
 * Via branch and the CSeq method.
 *
 * @param msg the message
 * @returns the key, or undefined when there is no branch
 */
export function clientTransactionKey(msg: SipMessage): string | undefined {
  const branch = msg.vias[0]?.branch;
  if (branch === undefined) return undefined;
  return `${branch}\n${msg.cseq.method}`;
}

function mergeKey(req: SipRequest): string {
  return `${req.from.tag ?? ""}\n${req.callId}\n${req.cseq.seq}\n${req.method}`;
}

/**
 * Owns every client and server transaction of one service.
 *
 * @example Sending a request through a client transaction
 * ```ts
 * import { TransactionLayer } from "./transaction_layer.ts";
 * import { createRequest } from "./builders.ts";
 *
 * const wire: string[] = [];
 * const layer = new TransactionLayer<string>({
 *   send: (msg) => void wire.push(msg.toString()),
 *   onRequest: () => {},
 *   onResponse: () => {},
 * });
 * const req = createRequest({
 *   method: "OPTIONS",
 *   uri: "sip:bob@example.com",
 *   from: "sip:alice@example.com",
 *   to: "sip:bob@example.com",
 *   via: "SIP/2.0/TCP 127.0.0.1:5060",
 * });
 * const tx = layer.sendRequest(req, { ctx: "127.0.0.1:5070", reliable: true });
 * if (tx.state !== "trying" || wire.length !== 1) throw new Error("unexpected");
 * layer.close(); // ends the transaction and clears Timer F
 * if (layer.transactionCount !== 0) throw new Error("leak");
 * ```
 */
export class TransactionLayer<Ctx = unknown>
  implements ClientTransactionHost<Ctx>, ServerTransactionHost<Ctx> {
  /** The clock used by every transaction: a {@linkcode TimerQueue} over the injected clock
   * (or the injected clock itself when it already is one), so that the many short-lived
   * transaction timers cost one base timer. */
  readonly clock: Clock;
  /** T1, T2, T4 in effect. */
  readonly timers: SipTimers;
  readonly #opts: TransactionLayerOptions<Ctx>;
  readonly #client = new Map<string, ClientTransaction<Ctx>>();
  readonly #server = new Map<string, ServerTransaction<Ctx>>();
  readonly #merged = new Map<string, string>();

  /** Create a layer.
   * @param options clock, timers, send function and TU callbacks
   */
  constructor(options: TransactionLayerOptions<Ctx>) {
    this.#opts = options;
    const clock = options.clock ?? systemClock;
    this.clock = clock instanceof TimerQueue ? clock : new TimerQueue(clock);
    this.timers = { ...DEFAULT_SIP_TIMERS, ...options.timers };
  }

  /** Live client transactions. */
  get clientCount(): number {
    return this.#client.size;
  }

  /** Live server transactions. */
  get serverCount(): number {
    return this.#server.size;
  }

  /** Live transactions of both kinds. */
  get transactionCount(): number {
    return this.#client.size + this.#server.size;
  }

  /** Entries of the merged-request index (§8.2.2.2). */
  get mergedIndexSize(): number {
    return this.#merged.size;
  }

  /** Running timers of all live transactions. */
  get timerCount(): number {
    let n = 0;
    for (const tx of this.#client.values()) n += tx.activeTimers;
    for (const tx of this.#server.values()) n += tx.activeTimers;
    return n;
  }

  /** Find a client transaction by its key. */
  findClient(key: string): ClientTransaction<Ctx> | undefined {
    return this.#client.get(key);
  }

  /** Find the server transaction a request belongs to (§17.2.3), if any. */
  findServer(req: SipRequest): ServerTransaction<Ctx> | undefined {
    const key = serverTransactionKey(req);
    return key === undefined ? undefined : this.#server.get(key);
  }

  /**
   * Send a request through a new client transaction (INVITE or non-INVITE). The request must
   * carry its top Via with a branch. ACK is not sent through a transaction: use `send`.
   *
   * @param req the request
   * @param options destination, reliability, optional Timer C
   * @returns the transaction
   */
  sendRequest(req: SipRequest, options: SendRequestOptions<Ctx>): ClientTransaction<Ctx> {
    if (req.method === "ACK") {
      throw new TypeError("An ACK is not sent through a client transaction (RFC 3261 §17).");
    }
    const key = clientTransactionKey(req);
    if (key === undefined) throw new TypeError("The request has no top Via branch.");
    if (this.#client.has(key)) {
      throw new TypeError(`A client transaction with branch ${req.vias[0]?.branch} exists.`);
    }
    const reliable = options.reliable ?? false;
    let tx: ClientTransaction<Ctx>;
    if (req.method === "INVITE") {
      const c = options.timerC;
      const timerC = c === true ? (this.#opts.timerC ?? 180_000) : c === false ? undefined : c;
      tx = new InviteClientTransaction<Ctx>(
        this,
        key,
        req,
        timerC === undefined ? { ctx: options.ctx, reliable } : {
          ctx: options.ctx,
          reliable,
          timerC,
        },
      );
    } else {
      tx = new NonInviteClientTransaction<Ctx>(this, key, req, { ctx: options.ctx, reliable });
    }
    this.#client.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * Cancel an INVITE client transaction (§9.1). A CANCEL is only sent once a provisional
   * response has arrived: before that the layer remembers the wish and sends the CANCEL on
   * the first provisional response. Returns `"sent"`, `"pending"` or `"final"` (a final
   * response already arrived: nothing is sent).
   *
   * @param tx the INVITE client transaction
   * @returns what happened
   */
  cancel(tx: InviteClientTransaction<Ctx>): "sent" | "pending" | "final" {
    if (tx.cancelState === "sent") return "sent"; // only one CANCEL per INVITE
    const r = tx.requestCancel();
    if (r !== "send") return r;
    this.sendRequest(buildCancel(tx.request), { ctx: tx.ctx, reliable: tx.reliable });
    return "sent";
  }

  /**
   * Feed a message from the transport.
   *
   * @param msg the parsed message
   * @param ctx where it came from
   * @param reliable true when it arrived over a reliable transport
   * @throws {SipParseError} when a header needed for matching (Via, CSeq, From, To, Call-ID)
   *   is malformed and the lazy parser rejects it; the caller answers 400 or drops it
   */
  receive(msg: SipMessage, ctx: Ctx, reliable = false): void {
    if (msg.kind === "response") {
      const key = clientTransactionKey(msg);
      const tx = key === undefined ? undefined : this.#client.get(key);
      if (tx !== undefined) {
        tx.receiveResponse(msg);
        return;
      }
      try {
        this.#opts.onResponse(msg, undefined, ctx);
      } catch (error) {
        this.#report(error);
      }
      return;
    }
    const key = serverTransactionKey(msg);
    if (key === undefined) return; // no Via: nothing can be matched or answered
    const existing = this.#server.get(key);
    if (msg.method === "ACK") {
      if (existing instanceof InviteServerTransaction && this.#ackMatches(msg, existing)) {
        if (existing.receiveAck(msg)) return;
      }
      try {
        this.#opts.onRequest(msg, undefined, { ctx, reliable, merged: false });
      } catch (error) {
        this.#report(error);
      }
      return;
    }
    if (existing !== undefined) {
      existing.receiveRetransmission(msg);
      return;
    }
    if (msg.method === "CANCEL") {
      this.#receiveCancel(msg, key, ctx, reliable);
      return;
    }
    let merged = false;
    let mkey: string | undefined;
    if (msg.to.tag === undefined) {
      mkey = mergeKey(msg);
      const other = this.#merged.get(mkey);
      if (other !== undefined && other !== key && this.#server.has(other)) merged = true;
    }
    const tryingDelay = this.#opts.tryingDelay;
    const tx: ServerTransaction<Ctx> = msg.method === "INVITE"
      ? new InviteServerTransaction<Ctx>(
        this,
        key,
        msg,
        tryingDelay === undefined
          ? { ctx, reliable, deferTrying: true }
          : { ctx, reliable, deferTrying: true, tryingDelay },
      )
      : new NonInviteServerTransaction<Ctx>(this, key, msg, { ctx, reliable });
    this.#server.set(key, tx);
    if (mkey !== undefined) {
      tx.mergeKey = mkey;
      if (!merged) this.#merged.set(mkey, key);
    }
    try {
      this.#opts.onRequest(msg, tx, { ctx, reliable, merged });
    } catch (error) {
      this.#report(error);
    }
    // §17.2.1: the 100 Trying delay starts now, unless the TU already answered (most UAS
    // answer at once with a 1xx or a final response: no timer to set and clear).
    if (tx instanceof InviteServerTransaction) tx.startTrying();
  }

  /**
   * Answer a server transaction with a response built from its request.
   *
   * @param tx the server transaction
   * @param status the status code
   * @param reason the reason phrase (default: the standard one)
   * @returns the response sent
   */
  reply(tx: ServerTransaction<Ctx>, status: number, reason?: string): SipResponse {
    // Reuse the To tag of an earlier response (e.g. a 180 of an early dialog) so every
    // response of the transaction names the same dialog (§12.1.1).
    const toTag = tx.lastToTag;
    const res = toTag === undefined
      ? createResponse(tx.request, status, reason)
      : createResponse(tx.request, status, reason, { toTag });
    tx.respond(res);
    return res;
  }

  /**
   * Answer 487 Request Terminated to a cancelled INVITE (§9.2) unless a final response was
   * already sent. Returns true when the 487 went out.
   *
   * @param tx the INVITE server transaction
   * @returns whether a 487 was sent
   */
  respondCancelled(tx: InviteServerTransaction<Ctx>): boolean {
    if (tx.finalSent || tx.state !== "proceeding") return false;
    this.reply(tx, 487, "Request Terminated");
    return true;
  }

  /** Terminate every transaction and clear every timer (service shutdown). */
  close(): void {
    for (const tx of [...this.#client.values()]) tx.terminate();
    for (const tx of [...this.#server.values()]) tx.terminate();
    this.#merged.clear();
  }

  // --- host interface for the transactions (not for TU use) ---

  /** @internal Send for a transaction. */
  transmit(msg: SipMessage, tx: Transaction<Ctx>): void {
    this.#opts.send(msg, tx.ctx, tx);
  }

  /** @internal Build the 100 Trying (§8.2.6.1). */
  makeTrying(req: SipRequest): SipResponse {
    return createResponse(req, 100, "Trying");
  }

  /** @internal A client transaction passes a response up. */
  clientResponse(res: SipResponse, tx: ClientTransaction<Ctx>): void {
    if (
      res.status < 200 && tx instanceof InviteClientTransaction && tx.cancelState === "pending"
    ) {
      this.cancel(tx); // §9.1: the CANCEL waited for this provisional response
    }
    try {
      this.#opts.onResponse(res, tx, tx.ctx);
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal A client transaction timed out. */
  clientTimeout(tx: ClientTransaction<Ctx>, timer: ClientTimeout): void {
    try {
      this.#opts.onTimeout?.(tx, timer);
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal A client transaction could not send. */
  clientTransportError(tx: ClientTransaction<Ctx>, error: unknown): void {
    try {
      this.#opts.onTransportError?.(tx, error);
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal A client transaction ended. */
  clientTerminated(tx: ClientTransaction<Ctx>): void {
    if (this.#client.get(tx.key) === tx) this.#client.delete(tx.key);
    try {
      this.#opts.onTerminated?.(tx);
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal Timer H fired. */
  serverTimeout(tx: ServerTransaction<Ctx>): void {
    try {
      this.#opts.onTimeout?.(tx, "H");
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal A server transaction could not send. */
  serverTransportError(tx: ServerTransaction<Ctx>, error: unknown): void {
    try {
      this.#opts.onTransportError?.(tx, error);
    } catch (error) {
      this.#report(error);
    }
  }

  /** @internal A server transaction ended. */
  serverTerminated(tx: ServerTransaction<Ctx>): void {
    if (this.#server.get(tx.key) === tx) this.#server.delete(tx.key);
    const mkey = tx.mergeKey;
    if (mkey !== undefined && this.#merged.get(mkey) === tx.key) this.#merged.delete(mkey);
    try {
      this.#opts.onTerminated?.(tx);
    } catch (error) {
      this.#report(error);
    }
  }

  #ackMatches(ack: SipRequest, tx: InviteServerTransaction<Ctx>): boolean {
    // RFC 2543 fallback (§17.2.3): the ACK's To tag must equal that of the response sent.
    if (tx.key.startsWith("2543\n")) {
      return tx.lastStatus !== 0 && tx.lastToTag === ack.to.tag;
    }
    return true;
  }

  #receiveCancel(cancel: SipRequest, key: string, ctx: Ctx, reliable: boolean): void {
    const inviteKey = serverTransactionKey(cancel, "INVITE");
    const invite = inviteKey === undefined ? undefined : this.#server.get(inviteKey);
    const tx = new NonInviteServerTransaction<Ctx>(this, key, cancel, { ctx, reliable });
    this.#server.set(key, tx);
    if (!(invite instanceof InviteServerTransaction)) {
      // §9.2: no matching transaction → 481.
      this.reply(tx, 481, "Call/Transaction Does Not Exist");
      return;
    }
    // §9.2: the CANCEL gets a 200 whatever the INVITE's state.
    this.reply(tx, 200, "OK");
    if (invite.finalSent) return; // a CANCEL after the final response has no effect
    invite.cancelled = true;
    const onCancel = this.#opts.onCancel;
    if (onCancel === undefined) this.respondCancelled(invite);
    else {
      try {
        onCancel(cancel, invite);
      } catch (error) {
        this.#report(error);
      }
    }
  }

  #report(error: unknown): void {
    const report = this.#opts.onCallbackError;
    if (report === undefined) {
      logger.error("A transaction user callback threw: {error}", { error });
      return;
    }
    try {
      report(error);
    } catch {
      // nothing more can be done
    }
  }
}
