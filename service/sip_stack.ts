/**
 * The SIP stack of a service: owns the transport layer and the transaction layer, runs the
 * request pipeline in NkSIP's order, keeps dialogs and INVITE sessions, and offers the UAC
 * API (`options`, `register`, `invite`, `info`, `message`, `subscribe`, `notify`, `refer`,
 * `publish`, `request`).
 *
 * Request pipeline for a new request (RFC 3261 §8.2 and NkSIP's `nksip_call_uas`):
 *
 * 1. the transaction layer absorbs retransmissions, answers CANCEL (§9.2) and sends 100
 *    Trying for INVITE (§17.2.1);
 * 2. a new Call-ID beyond `maxCalls` gets 503; work for one Call-ID is serialized;
 * 3. `sipGetUserPass` for every Digest credential, then `sipAuthorize` (401/403/407);
 * 4. `sipRoute`: process, reply, or proxy (proxying answers 501 in this version);
 * 5. the §8.2 checks: 505, 483, 501/405 with Allow, 416, 482, 420 with Unsupported, 415;
 * 6. in-dialog checks (§12.2.2): 481 without a dialog, 500 for an old CSeq, 491 glare;
 * 7. the method callback; a throw answers 500 and the service lives on.
 *
 * @example Two stacks on 127.0.0.1 exchange an OPTIONS
 * ```ts
 * import { createSipStack } from "./sip_stack.ts";
 * const uas = await createSipStack({ listen: ["sip:127.0.0.1:0;transport=udp"] });
 * const uac = await createSipStack({ listen: ["sip:127.0.0.1:0;transport=udp"] });
 * const port = uas.transports[0]!.port;
 * const r = await uac.options(`sip:127.0.0.1:${port}`);
 * if (r.status !== 200) throw new Error(`got ${r.status}`);
 * await uac.close(0);
 * await uas.close(0);
 * ```
 *
 * @module
 */

import { getLogger } from "../deps.ts";
import type { Logger } from "../deps.ts";
import {
  createRequest,
  createResponse,
  generateBranch,
  generateCallId,
  generateTag,
} from "../sip/builders.ts";
import {
  type Clock,
  DEFAULT_SIP_TIMERS,
  type SipTimers,
  systemClock,
  TimerQueue,
} from "../sip/clock.ts";
import type { TimerId } from "../sip/clock.ts";
import { Dialog, type DialogEndReason, dialogIdOfResponse, DialogTable } from "../sip/dialog.ts";
import {
  buildChallenge,
  DigestClient,
  parseCredentials,
  verifyCredentials,
} from "../sip/digest.ts";
import { glareBackoff } from "../sip/invite_session.ts";
import { TransactionLayer } from "../sip/transaction_layer.ts";
import type { ClientTransaction, InviteClientTransaction } from "../sip/transaction_client.ts";
import type { InviteServerTransaction, ServerTransaction } from "../sip/transaction_server.ts";
import { checkUasRequest, type UasCheckOptions } from "../sip/uas_core.ts";
import { parseUri } from "../sip/uri.ts";
import { SipParseError } from "../sip/errors.ts";
import { validateMessage } from "../sip/validate.ts";
import { type HeaderField, makeHeaderField, ownString } from "../sip/message.ts";
import type { HeaderValue, SipMessage, SipRequest, SipResponse, Uri } from "../sip/types.ts";
import {
  TransportLayer,
  type TransportLayerOptions,
  type TransportUpdate,
} from "../transport/transport_layer.ts";
import type {
  InboundMessage,
  ListenerInfo,
  SendTarget,
  SipTransport,
  TlsOptions,
  TransportLimits,
  TransportName,
} from "../transport/types.ts";
import { type ListenSpec, parseListenUri } from "../transport/listen_uri.ts";
import { isThenable } from "./chain.ts";
import { KeyedQueue } from "./keyed_queue.ts";
import { type HeaderMap, normalizeReply, type ReplyValue } from "./reply.ts";
import {
  type AuthInfo,
  type AuthorizeResult,
  CALLBACK_METHODS,
  type Capabilities,
  CAPABILITY_HEADERS,
  capabilityHeaders,
  DEFAULT_ALLOW,
  defaultSipCallbacks,
  type DialogInfo,
  type DialogStatus,
  type MaybePromise,
  methodCallbackName,
  type MethodReply,
  type PeerInfo,
  REINVITE_FALLBACK,
  resolveSipCallbacks,
  type RouteDecision,
  type SessionStatus,
  type SipCall,
  type SipCallbacks,
} from "./sip_callbacks.ts";
import type { MessageHooks, MessageInfo, SipStackCore } from "./types.ts";

// ---------------------------------------------------------------------------------------
// Public types

/** Credentials for automatic Digest retries on 401/407 (RFC 3261 §22.2). */
export interface UacCredentials {
  /** The username. */
  username: string;
  /** The password. */
  password: string;
  /** Only answer challenges of this realm (default: every realm). */
  realm?: string;
}

/** Options shared by every UAC request. */
export interface UacOptions {
  /** Headers to set, replacing any of the same name. */
  headers?: HeaderMap;
  /** Headers to add, in order, after the others. */
  addHeaders?: [string, HeaderValue][];
  /** The body, text or bytes. */
  body?: string | Uint8Array;
  /** The Content-Type of the body (default `text/plain` for MESSAGE with a body,
   * `application/sdp` for INVITE/UPDATE/ACK with a body). */
  contentType?: string;
  /** Route set to preload (RFC 3261 §8.1.2), URIs, first hop first. */
  route?: string[];
  /** The From (default `<sip:{fromUser}@{our host}>`). */
  from?: string;
  /** The To (default the Request-URI). */
  to?: string;
  /** The Contact (default built from the listener used); `false` for none. */
  contact?: string | false;
  /** The Call-ID (default: a new one). */
  callId?: string;
  /** The CSeq number (default 1 for a new call). */
  cseq?: number;
  /** Force a transport (default per RFC 3263). */
  transport?: TransportName;
  /** Called for every provisional response. */
  onProvisional?: (response: SipResponse) => void;
  /** Abort: a pending INVITE is CANCELled (§9.1); other requests reject with the reason. */
  signal?: AbortSignal;
  /** Give up after this many ms: an INVITE is CANCELled, other requests resolve with 408. */
  timeout?: number;
  /** Credentials for automatic Digest retries. */
  auth?: UacCredentials;
  /** `Expires` header value (REGISTER, SUBSCRIBE, PUBLISH). */
  expires?: number;
  /** `Event` header value (SUBSCRIBE, NOTIFY, PUBLISH). */
  event?: string;
  /** `Subscription-State` header value for NOTIFY (default `active`). */
  subscriptionState?: string;
  /** `Refer-To` for REFER. */
  referTo?: string;
}

/** Options of {@linkcode SipUac.invite} and re-INVITEs. */
export interface InviteOptions extends UacOptions {
  /** Send the ACK for a 2xx automatically (default true). With false, call
   * `dialog.ack()` (e.g. to send an SDP answer in the ACK, RFC 3264 late offer). */
  autoAck?: boolean;
  /** Called once the early (or confirmed) dialog exists, e.g. to `cancel()` it. */
  onDialog?: (dialog: DialogHandle) => void;
  /** In a dialog: after a 491 to a re-INVITE or UPDATE, wait the RFC 3261 §14.1 back-off
   * and retry once (default true). */
  glareRetry?: boolean;
}

/** The outcome of a UAC request. */
export interface UacResult {
  /** The final status; 408 on a local timeout, 503 when the request could not be sent. */
  status: number;
  /** The reason phrase. */
  reason: string;
  /** The final response, undefined when it was generated locally. */
  response: SipResponse | undefined;
}

/** The outcome of an INVITE. */
export interface InviteResult extends UacResult {
  /** The dialog, for a 2xx. */
  dialog: DialogHandle | undefined;
}

/** Options of an ACK sent by hand (`autoAck: false`). */
export interface AckOptions {
  /** The body (an SDP answer for a late offer). */
  body?: string | Uint8Array;
  /** Its Content-Type (default `application/sdp`). */
  contentType?: string;
  /** Headers to set. */
  headers?: HeaderMap;
}

/** The UAC API of a stack. */
export interface SipUac {
  /** Send any request outside a dialog. */
  request(method: string, uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send OPTIONS. */
  options(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send REGISTER (the Request-URI is the registrar; To/From default to the URI). */
  register(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send INVITE; resolves on the final response, with the dialog for a 2xx. */
  invite(uri: string, options?: InviteOptions): Promise<InviteResult>;
  /** Send INFO. */
  info(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send MESSAGE (RFC 3428). */
  message(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send SUBSCRIBE (RFC 6665). */
  subscribe(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send NOTIFY (RFC 6665). */
  notify(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send REFER (RFC 3515). */
  refer(uri: string, options?: UacOptions): Promise<UacResult>;
  /** Send PUBLISH (RFC 3903). */
  publish(uri: string, options?: UacOptions): Promise<UacResult>;
}

/** A dialog, on either side, with the in-dialog requests. */
export interface DialogHandle extends DialogInfo {
  /** Send the ACK for the 2xx of the last INVITE (when `autoAck` was false). */
  ack(options?: AckOptions): Promise<void>;
  /** CANCEL the pending INVITE of this dialog (UAC, before the final response, §9.1). */
  cancel(): void;
  /** Send BYE (§15.1). */
  bye(options?: UacOptions): Promise<UacResult>;
  /** Send a re-INVITE (§14.1). */
  reinvite(options?: InviteOptions): Promise<UacResult>;
  /** Send UPDATE (RFC 3311). */
  update(options?: InviteOptions): Promise<UacResult>;
  /** Send INFO. */
  info(options?: UacOptions): Promise<UacResult>;
  /** Send MESSAGE. */
  message(options?: UacOptions): Promise<UacResult>;
  /** Send NOTIFY. */
  notify(options?: UacOptions): Promise<UacResult>;
  /** Send REFER. */
  refer(options?: UacOptions): Promise<UacResult>;
  /** Send any in-dialog request. */
  request(method: string, options?: UacOptions): Promise<UacResult>;
  /** The local SDP of the session, if any. */
  readonly localSdp: string | undefined;
  /** The remote SDP of the session, if any. */
  readonly remoteSdp: string | undefined;
}

/** Options of {@linkcode createSipStack}. Everything has a default. */
export interface SipStackOptions {
  /** Name for logs (category `["sipkit", name, "sip"]`). */
  name?: string;
  /** Listen URIs (see the transport layer). */
  listen?: readonly string[];
  /** A transport to use instead of a new {@linkcode TransportLayer} (e.g. in memory).
   * The stack closes it on `close`. */
  transport?: SipTransport;
  /** Options of the {@linkcode TransportLayer} created when no `transport` is given. */
  transportOptions?: TransportLayerOptions;
  /** The SIP callbacks; missing ones take the defaults of `sip_callbacks.ts`. */
  callbacks?: Partial<SipCallbacks>;
  /** The `callbacks` are complete (every name, already ending in the defaults, as a
   * service's composed chains): they are used as they are, and a method callback that
   * returns `undefined` means "answered later through `call.reply`" instead of "use the
   * default" (default false). */
  callbacksComplete?: boolean;
  /** Clock for the SIP timers (default the system clock). */
  clock?: Clock;
  /** T1, T2, T4. */
  timers?: Partial<SipTimers>;
  /** Delay of the automatic 100 Trying to INVITE in ms, or false for none (default 200;
   * NkSIP's `no_100`). */
  tryingDelay?: number | false;
  /** Most concurrent calls (Call-IDs with a transaction or dialog); beyond it 503
   * (default 100000). */
  maxCalls?: number;
  /** Limits: `maxTransactions` (default 10000: beyond that many requests in flight, i.e.
   * without a final response yet, new requests get 503) and the transport limits (passed to
   * the {@linkcode TransportLayer}). */
  limits?: Partial<TransportLimits> & { maxTransactions?: number };
  /** RFC 3261 §18.1.1 UDP size threshold in bytes (passed to the transport). */
  udpMaxSize?: number;
  /** TLS settings (passed to the transport). */
  tls?: TlsOptions;
  /** RFC 5626 keep-alive interval in ms (passed to the transport). */
  keepAliveInterval?: number;
  /** RFC 5626 pong timeout in ms (passed to the transport). */
  keepAliveTimeout?: number;
  /** Extra option tags for Supported. */
  supported?: readonly string[];
  /** Extra body types for Accept. */
  accept?: readonly string[];
  /** Event packages for Allow-Events. */
  events?: readonly string[];
  /** Methods advertised in Allow (default: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE,
   * MESSAGE, SUBSCRIBE, NOTIFY, REFER; add REGISTER/PUBLISH when you answer them). Requests
   * of any method with a callback reach it; others get 501/405. */
  allow?: readonly string[];
  /** The user part of our From and Contact (default `sipkit`). */
  fromUser?: string;
  /** Realm of the default Digest challenges (default the stack name). */
  realm?: string;
  /** Secret for stateless nonces (default random per stack). */
  nonceSecret?: string;
  /** Serialization queue per Call-ID (default a new one). */
  queue?: KeyedQueue;
  /** Hooks for every message in and out (trace, stats). */
  hooks?: MessageHooks;
  /** End dialogs idle for this long in ms (default 1800000 = 30 min). */
  dialogIdleTimeout?: number;
  /** Longest wait in `close` for transactions in flight, ms (default 32000). */
  closeTimeout?: number;
  /** INVITE timeout in ms (default 180000, like Timer C): a UAC INVITE is CANCELled after
   * it, an incoming INVITE nobody answered gets 408. */
  inviteTimeout?: number;
}

/** What {@linkcode SipStack.update} can change live. */
export interface SipStackUpdate {
  /** The new full list of listen URIs: new ones open, missing ones close. */
  listen?: readonly string[];
  /** New T1, T2, T4 (for transactions started from now on). */
  timers?: Partial<SipTimers>;
  /** New limits (`maxTransactions`, `maxCalls`: beyond them new requests get 503; the
   * transport limits go to {@linkcode TransportLayer.update}). */
  limits?: Partial<TransportLimits> & { maxTransactions?: number; maxCalls?: number };
  /** New RFC 3261 §18.1.1 UDP size threshold (transport). */
  udpMaxSize?: number;
  /** New TLS settings, replacing the old ones (transport; new connections and listeners). */
  tls?: TlsOptions;
  /** New RFC 5626 keep-alive interval in ms (transport). */
  keepAliveInterval?: number;
  /** New RFC 5626 pong timeout in ms (transport). */
  keepAliveTimeout?: number;
  /** New call cap. */
  maxCalls?: number;
  /** New Supported tags. */
  supported?: readonly string[];
  /** New Accept types. */
  accept?: readonly string[];
  /** New event packages. */
  events?: readonly string[];
  /** New From/Contact user. */
  fromUser?: string;
  /** New methods for Allow (also the methods accepted without a callback). */
  allow?: readonly string[];
  /** New realm of the default Digest challenges (challenges issued from now on). */
  realm?: string;
  /** New delay of the automatic 100 Trying (INVITEs received from now on); false: none. */
  tryingDelay?: number | false;
  /** New idle timeout of dialogs created from now on (ms). */
  dialogIdleTimeout?: number;
  /** New INVITE timeout (UAC INVITEs sent and incoming INVITEs received from now on, ms). */
  inviteTimeout?: number;
  /** New default wait of `close` (ms). */
  closeTimeout?: number;
}

/** Live counters, for leak checks and metrics. */
export interface SipStackCounts {
  /** Transactions in the transaction layer. */
  transactions: number;
  /** Live dialogs. */
  dialogs: number;
  /** Calls (Call-IDs) in progress. */
  calls: number;
  /** UAC requests awaiting a final response. */
  pendingRequests: number;
  /** Running timers of the stack (transactions, dialogs, 2xx retransmissions). */
  timers: number;
}

/** A running SIP stack. */
export interface SipStack extends SipUac, SipStackCore, AsyncDisposable {
  /** The stack name. */
  readonly name: string;
  /** The open listeners with their real ports. */
  readonly transports: readonly ListenerInfo[];
  /** Requests answered statelessly so far: out-of-dialog OPTIONS that only the default
   * callbacks would see (RFC 3261 §8.2.7; see `docs/sip_api.md`). */
  readonly statelessReplies: number;
  /** The transport in use. */
  readonly transport: SipTransport;
  /** The effective callbacks. */
  readonly callbacks: SipCallbacks;
  /** What the stack offers. */
  readonly capabilities: Capabilities;
  /** Live counters. */
  readonly counts: SipStackCounts;
  /** The live dialogs. */
  dialogs(): DialogHandle[];
  /** Replace the callbacks (missing ones take the defaults). */
  setCallbacks(callbacks: Partial<SipCallbacks>): void;
  /** Change options live without failing a transaction in flight. */
  update(options: SipStackUpdate): Promise<void>;
  /** Refuse new requests (503), let transactions in flight finish (bounded by `timeout`,
   * default the `closeTimeout` option), then close everything. */
  close(timeout?: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Internals

type Ctx =
  | { kind: "out"; target: SendTarget }
  | { kind: "in"; inbound: InboundMessage };

const DEFAULT_SUPPORTED: readonly string[] = [];
const DEFAULT_ACCEPT: readonly string[] = [
  "application/sdp",
  "text/plain",
  "message/sipfrag",
  "application/dtmf-relay",
  "*/*",
];
const TEXT_DECODER = new TextDecoder();

/** Why a client transaction ended without a response: RFC 3263 §4.3 failover cases. */
type Failure = "transport" | "timeout";

/** The outcome of one client transaction, with the reason of a local failure. */
interface TxResult extends InviteResult {
  failure: Failure | undefined;
}

interface Pending {
  resolve(result: UacResult): void;
  request: SipRequest;
  options: InviteOptions;
  onFinal(res: SipResponse): void;
  onProvisional(res: SipResponse): void;
  fail(status: number, reason: string, failure?: Failure): void;
  done: boolean;
  /** A CANCEL was asked for (by the signal, the timeout or `dialog.cancel()`). */
  cancelled: boolean;
}

/** The built-in callbacks: a stack callback identical to one of them is skipped or called
 * without the chain machinery. */
const DEFAULTS: Readonly<SipCallbacks> = defaultSipCallbacks;

function hostForUri(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** Headers a request carries exactly once (RFC 3261 §20): checked when given as text. */
const SINGLE_HEADERS: readonly string[] = ["From", "To", "Call-ID", "CSeq", "Max-Forwards"];

function applyHeaders(
  msg: SipMessage,
  headers: HeaderMap | undefined,
  add: [string, HeaderValue][] | undefined,
): void {
  if (headers !== undefined) {
    for (const [name, value] of Object.entries(headers)) msg.setHeader(name, value);
  }
  if (add !== undefined) { for (const [name, value] of add) msg.appendHeader(name, value); }
  if (headers === undefined && add === undefined) return;
  // Headers given as text may replace ones the stack relies on: a request they make invalid
  // is the caller's error (reported now), not a failed send (a 503 later). The Via is the
  // transport's, added when sent.
  if (msg.kind !== "request") return;
  try {
    for (const name of SINGLE_HEADERS) {
      if (msg.headers(name).length > 1) throw new SipParseError(`More than one ${name} header`);
    }
    const cseq = msg.cseq;
    if (cseq.method !== msg.method) {
      throw new SipParseError(`CSeq method ${cseq.method} is not the request method ${msg.method}`);
    }
    void msg.callId;
    void msg.from;
    void msg.to;
    void msg.maxForwards;
  } catch (error) {
    throw new TypeError(`The headers given make the request invalid: ${errorText(error)}`);
  }
}

/** Throw a TypeError for a method that is not sent as a request of its own: an ACK belongs to
 * its INVITE (the transaction ACKs a 300-699; a 2xx is ACKed by the stack, or by
 * `dialog.ack()` with `autoAck: false`), so it has no transaction and no final response. */
function checkUacMethod(method: string): void {
  if (method.toUpperCase() === "ACK") {
    throw new TypeError(
      "An ACK is not sent with request(): a 2xx is ACKed by the stack, or by dialog.ack() " +
        "when the INVITE was sent with autoAck: false (RFC 3261 §13.2.2.4, §17.1.1.3)",
    );
  }
}

/** Throw a TypeError or RangeError for a UAC option of the wrong type or range (a caller's
 * error, reported as such rather than as a failed request). */
function checkUacOptions(options: InviteOptions): void {
  const body: unknown = options.body;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw new TypeError(`body must be a string or a Uint8Array, got ${typeof body}`);
  }
  const { timeout, cseq, expires } = options;
  if (
    timeout !== undefined && !(typeof timeout === "number" && timeout >= 0 && timeout < Infinity)
  ) {
    throw new RangeError(`timeout must be a number of ms >= 0, got ${String(timeout)}`);
  }
  // RFC 3261 §8.1.1.5: a CSeq number is below 2**31.
  if (cseq !== undefined && !isIntBelow(cseq, 2 ** 31)) {
    throw new RangeError(`cseq must be an integer from 0 to 2**31-1, got ${String(cseq)}`);
  }
  if (expires !== undefined && !isIntBelow(expires, 2 ** 32)) {
    throw new RangeError(`expires must be an integer from 0 to 2**32-1, got ${String(expires)}`);
  }
}

/** True for an integer from 0 to `limit` - 1. */
function isIntBelow(n: number, limit: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < limit;
}

/** The 2xx retransmission state of a UAS dialog (§13.3.1.4). */
interface Retrans {
  /** The CSeq of the INVITE whose ACK stops it. */
  cseq: number;
  /** The one timer: the next retransmission, or the 64*T1 end. */
  timer: TimerId | undefined;
  /** ms from the first 2xx to when `timer` fires. */
  elapsed: number;
  /** The next retransmission interval (Infinity on reliable transports: none). */
  interval: number;
}

/** The SDP body of a message, if it has one. A Content-Type the peer sent unreadable means
 * "not SDP": reading it must not throw in the middle of answering or ACKing a 2xx. */
function sdpOf(msg: SipMessage): string | undefined {
  if (msg.contentLength <= 0) return undefined;
  let type: string | undefined;
  try {
    type = msg.contentType;
  } catch {
    return undefined;
  }
  return type === "application/sdp" ? msg.bodyText() : undefined;
}

/** The SDP text of an `{ answer }` reply (the body it becomes, as text), when the text is
 * well-formed UTF-16 (else the body, encoded with replacement characters, differs). */
function answerText(value: ReplyValue): string | undefined {
  if (typeof value !== "object" || value === null || !("answer" in value)) return undefined;
  const text = value.answer;
  return typeof text === "string" && text.isWellFormed() ? text : undefined;
}

/** The two multipliers of the stateless To tag hash. */
const TAG_PRIME_A = 0x01000193;
const TAG_PRIME_B = 0x5bd1e995;

/** FNV-1a style: each UTF-16 code unit of `text` xored into `h`, then multiplied by the odd
 * `prime`; a newline ends the part (so "ab"+"c" and "a"+"bc" differ). */
function mixHash(h: number, text: string, prime: number): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), prime);
  return Math.imul(h ^ 10, prime);
}

/** {@linkcode mixHash} of the four parts of a stateless To tag, in order. */
function hashParts(
  seed: number,
  prime: number,
  callId: string,
  fromTag: string,
  seq: string,
  branch: string,
): number {
  return mixHash(
    mixHash(mixHash(mixHash(seed, callId, prime), fromTag, prime), seq, prime),
    branch,
    prime,
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Per-dialog state kept by the stack around the dialog of `sip/dialog.ts`. */
class DialogEntry implements DialogHandle {
  readonly dialog: Dialog;
  readonly #stack: Stack;
  /** Stream flow to reuse for requests to the peer. */
  flow: SendTarget | undefined;
  /** UAC: the pending INVITE transaction of this dialog (for cancel / glare). */
  pendingInvite: InviteClientTransaction<Ctx> | undefined;
  /** UAS: an incoming INVITE is being processed (§14.2: a second one gets 500). */
  incomingInvite = false;
  /** UAC: the ACK sent for the 2xx of the latest INVITE, by its CSeq (resent on that 2xx's
   * retransmissions). */
  lastAck: { cseq: number; request: SipRequest } | undefined = undefined;
  /** UAC with autoAck false: the 2xx awaiting our ACK. */
  awaitingAck: { cseq: number; response: SipResponse } | undefined;
  /** UAS: 2xx retransmission until the ACK (§13.3.1.4). */
  retrans: Retrans | undefined;
  localSdp: string | undefined;
  remoteSdp: string | undefined;
  /** An offer we made that awaits the answer (late offer in a 2xx to our INVITE). */
  offerPending: "local" | "remote" | undefined;
  /** Subscription usages (RFC 6665) by key, with their expiry timer; made on first use (most
   * dialogs are calls and never have one). */
  subs: Map<string, TimerId | undefined> | undefined = undefined;

  constructor(stack: Stack, dialog: Dialog, flow: SendTarget | undefined) {
    this.#stack = stack;
    this.dialog = dialog;
    this.flow = flow;
  }

  get id(): string {
    return this.dialog.id;
  }
  get callId(): string {
    return this.dialog.callId;
  }
  get localTag(): string {
    return this.dialog.localTag;
  }
  get remoteTag(): string {
    return this.dialog.remoteTag;
  }
  get state(): "early" | "confirmed" | "terminated" {
    return this.dialog.state;
  }
  get isUac(): boolean {
    return this.dialog.role === "uac";
  }

  ack(options: AckOptions = {}): Promise<void> {
    const pending = this.awaitingAck;
    if (pending === undefined) {
      return Promise.reject(new TypeError("No 2xx is waiting for an ACK in this dialog."));
    }
    this.awaitingAck = undefined;
    return this.#stack.sendAck(this, pending.cseq, options);
  }

  cancel(): void {
    const tx = this.pendingInvite;
    if (tx !== undefined) this.#stack.cancelInvite(tx);
  }

  bye(options: UacOptions = {}): Promise<UacResult> {
    return this.request("BYE", options);
  }
  reinvite(options: InviteOptions = {}): Promise<UacResult> {
    return this.request("INVITE", options);
  }
  update(options: InviteOptions = {}): Promise<UacResult> {
    return this.request("UPDATE", options);
  }
  info(options: UacOptions = {}): Promise<UacResult> {
    return this.request("INFO", options);
  }
  message(options: UacOptions = {}): Promise<UacResult> {
    return this.request("MESSAGE", options);
  }
  notify(options: UacOptions = {}): Promise<UacResult> {
    return this.request("NOTIFY", options);
  }
  refer(options: UacOptions = {}): Promise<UacResult> {
    return this.request("REFER", options);
  }
  request(method: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#stack.sendInDialog(this, method, options);
  }
}

/** The handle of one incoming request. */
class ServerCall implements SipCall {
  readonly request: SipRequest;
  /** Read once: the stack's per-Call-ID tables hash this one string. */
  readonly callId: string;
  readonly tx: ServerTransaction<Ctx>;
  readonly inbound: InboundMessage;
  readonly #stack: Stack;
  readonly toTag: string;
  responded = false;
  /** Counted as in flight (calls, close) until the final response. */
  tracked = false;
  entry: DialogEntry | undefined;
  guard: TimerId | undefined;

  constructor(
    stack: Stack,
    request: SipRequest,
    tx: ServerTransaction<Ctx>,
    inbound: InboundMessage,
  ) {
    this.#stack = stack;
    this.request = request;
    this.callId = request.callId;
    this.tx = tx;
    this.inbound = inbound;
    this.toTag = request.to.tag ?? generateTag();
  }

  get method(): string {
    return this.request.method;
  }
  get peer(): PeerInfo {
    return peerOf(this.inbound);
  }
  get dialog(): DialogHandle | undefined {
    return this.entry;
  }
  get capabilities(): Capabilities {
    return this.#stack.capabilities;
  }
  get replied(): boolean {
    return this.tx.finalSent;
  }
  get uac(): SipUac {
    return this.#stack;
  }
  reply(value: ReplyValue): boolean {
    return this.#stack.replyTo(this, value);
  }
  get [REINVITE_FALLBACK](): () => MaybePromise<MethodReply> {
    return () => this.#stack.callbacks.sipInvite(this.request, this);
  }
}

function peerOf(inbound: InboundMessage): PeerInfo {
  return {
    transport: inbound.transport,
    remoteHost: inbound.remote.host,
    remotePort: inbound.remote.port,
    localHost: inbound.local.host,
    localPort: inbound.local.port,
  };
}

function infoOf(inbound: InboundMessage): MessageInfo {
  return {
    transport: inbound.transport,
    local: inbound.local,
    remote: inbound.remote,
    flowId: inbound.flowId,
  };
}

class Stack implements SipStack {
  readonly name: string;
  readonly transport: SipTransport;
  readonly #log: Logger;
  readonly #tl: TransactionLayer<Ctx>;
  readonly #clock: Clock;
  readonly #queue: KeyedQueue;
  readonly #hooks: MessageHooks | undefined;
  readonly #dialogs = new DialogTable();
  readonly #entries = new Map<string, DialogEntry>();
  readonly #pending = new Map<ClientTransaction<Ctx>, Pending>();
  readonly #calls = new Map<string, number>();
  /** Contacts of responses by transport and address family (IPv4, IPv6), for `#contactUser`
   * (see `#contactForInbound`). */
  readonly #contactCache = new Map<TransportName, [string | undefined, string | undefined]>();
  #contactGeneration = -1;
  /** The user part the cached contacts were built with. */
  #contactUser = "";
  readonly #listenIds = new Map<string, string[]>();
  readonly #timers = new Set<TimerId>();
  readonly #sleepers = new Set<() => void>();
  /** The options object handed to the transaction layer, which reads `tryingDelay` from it
   * for every new INVITE: `update` changes it there. */
  readonly #tlOptions: ConstructorParameters<typeof TransactionLayer<Ctx>>[0];
  readonly #nonceSecret: string;
  /** The lists the capabilities were built from (before defaults were merged in). */
  #capInput: {
    allow?: readonly string[] | undefined;
    supported?: readonly string[] | undefined;
    accept?: readonly string[] | undefined;
    events?: readonly string[] | undefined;
  };
  #realm: string;
  #inviteTimeout: number;
  #dialogIdleTimeout: number;
  #closeTimeout: number;
  #callbacks: SipCallbacks;
  #capabilities: Capabilities;
  #acceptedMethods: string[];
  /** The §8.2 check options, for `#capabilities` (see `#uasChecks`). */
  #checks:
    | { caps: Capabilities; plain: UasCheckOptions; merged: UasCheckOptions }
    | undefined;
  #maxCalls: number;
  #maxTransactions: number;
  #fromUser: string;
  #closing = false;
  #closed = false;
  #uacPending = 0;
  #inflightServer = 0;
  #statelessReplies = 0;
  #capFields: { caps: Capabilities; fields: readonly HeaderField[] } | undefined;
  /** Seeds of the stateless To tags, from the stack's random secret. */
  #tagSeedA = 0x811c9dc5;
  #tagSeedB = 0x050c5d1f;

  constructor(options: SipStackOptions, transport: SipTransport) {
    this.name = options.name ?? "sipkit";
    this.#log = getLogger(["sipkit", this.name, "sip"]);
    this.transport = transport;
    this.#clock = new TimerQueue(options.clock ?? systemClock);
    // The stack's own queue is reached only by the stack, for messages from the transport
    // (never from inside a task's continuation): it needs no async context per task. A
    // queue given in the options may be used by callbacks on their own call, so it keeps its
    // own setting.
    this.#queue = options.queue ?? new KeyedQueue({ asyncContext: false });
    this.#hooks = options.hooks;
    this.#callbacks = options.callbacksComplete === true && options.callbacks !== undefined
      ? options.callbacks as SipCallbacks
      : resolveSipCallbacks(options.callbacks);
    this.#capInput = {
      allow: options.allow,
      supported: options.supported,
      accept: options.accept,
      events: options.events,
    };
    this.#capabilities = this.#makeCapabilities(this.#capInput);
    this.#acceptedMethods = [...new Set([...CALLBACK_METHODS, ...this.#capabilities.allow])];
    this.#realm = options.realm ?? this.name;
    this.#inviteTimeout = options.inviteTimeout ?? 180_000;
    this.#dialogIdleTimeout = options.dialogIdleTimeout ?? 1_800_000;
    this.#closeTimeout = options.closeTimeout ?? 32_000;
    this.#maxCalls = options.maxCalls ?? 100_000;
    this.#maxTransactions = options.limits?.maxTransactions ?? 10_000;
    this.#fromUser = options.fromUser ?? "sipkit";
    this.#nonceSecret = options.nonceSecret ?? crypto.randomUUID();
    const seeds = crypto.getRandomValues(new Uint32Array(2));
    this.#tagSeedA ^= seeds[0]!;
    this.#tagSeedB ^= seeds[1]!;
    const tlOptions: ConstructorParameters<typeof TransactionLayer<Ctx>>[0] = {
      clock: this.#clock,
      timers: { ...DEFAULT_SIP_TIMERS, ...options.timers },
      send: (msg, ctx, tx) => this.#send(msg, ctx, tx),
      onRequest: (req, tx, info) => this.#onRequest(req, tx, info.ctx, info.merged),
      onResponse: (res, tx, ctx) => this.#onResponse(res, tx, ctx),
      onCancel: (cancel, invite) => this.#onCancel(cancel, invite),
      // Timer B/F: no answer from the target (RFC 3263 §4.3 failover); the CANCEL guard or
      // Timer C: the request was given up on purpose.
      onTimeout: (tx, timer) =>
        this.#onClientFailure(
          tx,
          408,
          "Request Timeout",
          timer === "B" || timer === "F" ? "timeout" : undefined,
        ),
      onTransportError: (tx, error) => {
        this.#log.info("Transport error: {error}", { error: errorText(error) });
        this.#onClientFailure(tx, 503, "Service Unavailable", "transport");
      },
      onCallbackError: (error) =>
        this.#log.error("Internal error in the SIP stack: {error}", { error: errorText(error) }),
    };
    if (options.tryingDelay !== undefined) tlOptions.tryingDelay = options.tryingDelay;
    this.#tlOptions = tlOptions;
    this.#tl = new TransactionLayer<Ctx>(tlOptions);
    transport.onMessage((m) => this.#onInbound(m));
  }

  #makeCapabilities(o: {
    allow?: readonly string[] | undefined;
    supported?: readonly string[] | undefined;
    accept?: readonly string[] | undefined;
    events?: readonly string[] | undefined;
  }): Capabilities {
    const uniq = (xs: readonly string[]): string[] => [...new Set(xs)];
    const c: Capabilities = {
      allow: uniq(o.allow ?? DEFAULT_ALLOW),
      supported: uniq([...DEFAULT_SUPPORTED, ...(o.supported ?? [])]),
      accept: uniq([...(o.accept ?? []), ...DEFAULT_ACCEPT]),
      events: uniq(o.events ?? []),
    };
    // Built once per change, not per OPTIONS or 405 (a frozen record: replies share it);
    // not enumerable, so the capabilities still compare and print as the four lists.
    Object.defineProperty(c, CAPABILITY_HEADERS, { value: Object.freeze(capabilityHeaders(c)) });
    return c;
  }

  // --- public API ---

  get transports(): readonly ListenerInfo[] {
    return this.transport.listeners;
  }
  get callbacks(): SipCallbacks {
    return this.#callbacks;
  }
  get capabilities(): Capabilities {
    return this.#capabilities;
  }
  get statelessReplies(): number {
    return this.#statelessReplies;
  }
  get counts(): SipStackCounts {
    let timers = this.#tl.timerCount + this.#dialogs.timerCount + this.#timers.size;
    for (const e of this.#entries.values()) {
      if (e.retrans?.timer !== undefined) timers++;
    }
    return {
      transactions: this.#tl.transactionCount,
      dialogs: this.#dialogs.size,
      calls: this.#calls.size,
      pendingRequests: this.#uacPending,
      timers,
    };
  }
  dialogs(): DialogHandle[] {
    return [...this.#entries.values()];
  }
  setCallbacks(callbacks: Partial<SipCallbacks>): void {
    this.#callbacks = resolveSipCallbacks(callbacks);
  }

  async listen(uris: readonly string[]): Promise<void> {
    for (const uri of uris) {
      if (this.#listenIds.has(uri)) continue;
      const infos = await this.transport.listen(uri);
      this.#listenIds.set(uri, infos.map((i) => i.id));
    }
  }

  async update(options: SipStackUpdate): Promise<void> {
    // The transport first, so a RangeError leaves everything as it was (and listeners opened
    // below get the new TLS settings); then the listeners, which the world outside may refuse
    // (a port in use): on that, the transport settings are put back and nothing else changes.
    const layer = this.transport instanceof TransportLayer ? this.transport : undefined;
    const before: TransportUpdate | undefined = layer === undefined ? undefined : {
      limits: { ...layer.limits },
      tls: layer.tls,
      udpMaxSize: layer.udpMaxSize,
      keepAliveInterval: layer.keepAlive.interval,
      keepAliveTimeout: layer.keepAlive.timeout,
    };
    if (layer !== undefined) {
      const t: TransportUpdate = {};
      if (options.limits !== undefined) {
        const { maxTransactions: _t, maxCalls: _c, ...limits } = options.limits;
        t.limits = limits;
      }
      if (options.udpMaxSize !== undefined) t.udpMaxSize = options.udpMaxSize;
      if (options.tls !== undefined) t.tls = options.tls;
      if (options.keepAliveInterval !== undefined) t.keepAliveInterval = options.keepAliveInterval;
      if (options.keepAliveTimeout !== undefined) t.keepAliveTimeout = options.keepAliveTimeout;
      layer.update(t);
    }
    if (options.listen !== undefined) {
      try {
        await this.#relisten(options.listen);
      } catch (error) {
        if (layer !== undefined && before !== undefined) layer.update(before);
        throw error;
      }
    }
    if (options.timers !== undefined) Object.assign(this.#tl.timers, options.timers);
    if (options.limits?.maxTransactions !== undefined) {
      this.#maxTransactions = options.limits.maxTransactions;
    }
    if (options.limits?.maxCalls !== undefined) this.#maxCalls = options.limits.maxCalls;
    if (options.maxCalls !== undefined) this.#maxCalls = options.maxCalls;
    if (options.fromUser !== undefined) this.#fromUser = options.fromUser;
    if (options.realm !== undefined) this.#realm = options.realm;
    if (options.inviteTimeout !== undefined) this.#inviteTimeout = options.inviteTimeout;
    if (options.dialogIdleTimeout !== undefined) {
      this.#dialogIdleTimeout = options.dialogIdleTimeout;
    }
    if (options.closeTimeout !== undefined) this.#closeTimeout = options.closeTimeout;
    if (options.tryingDelay !== undefined) this.#tlOptions.tryingDelay = options.tryingDelay;
    if (
      options.supported !== undefined || options.accept !== undefined ||
      options.events !== undefined || options.allow !== undefined
    ) {
      const input = { ...this.#capInput };
      if (options.allow !== undefined) input.allow = options.allow;
      if (options.supported !== undefined) input.supported = options.supported;
      if (options.accept !== undefined) input.accept = options.accept;
      if (options.events !== undefined) input.events = options.events;
      this.#capInput = input;
      this.#capabilities = this.#makeCapabilities(input);
      this.#acceptedMethods = [...new Set([...CALLBACK_METHODS, ...this.#capabilities.allow])];
    }
  }

  /**
   * Make the listeners those of `uris`, all or nothing as far as the sockets allow: the new
   * ones are opened before the ones no URI wants any more are closed, and if one cannot be
   * opened, those opened by this call are closed again and the old set stays. Only when a new
   * listener needs the port of one that goes away (`sip:0.0.0.0:5060` becoming
   * `sip:127.0.0.1:5060`) is the old one closed first; if the new one then fails too, both
   * are gone, and the error says which address.
   */
  async #relisten(uris: readonly string[]): Promise<void> {
    const wanted = new Set(uris);
    const adopted = this.#adoptListeners(uris);
    const leaving = [...this.#listenIds].filter(([uri]) => !wanted.has(uri));
    const leavingIds = leaving.flatMap(([, ids]) => ids).filter((id) => !adopted.kept.has(id));
    const added: [string, string[]][] = [];
    let leftEarly = false;
    const closeLeaving = async (): Promise<void> => {
      for (const id of leavingIds) await this.transport.unlisten(id);
      leftEarly = true;
    };
    try {
      for (const uri of uris) {
        if (this.#listenIds.has(uri) || adopted.byUri.has(uri) || added.some(([u]) => u === uri)) {
          continue;
        }
        let infos: ListenerInfo[];
        try {
          infos = await this.transport.listen(uri);
        } catch (error) {
          if (leftEarly || !this.#sharesPort(uri, leavingIds)) throw error;
          await closeLeaving();
          infos = await this.transport.listen(uri);
        }
        added.push([uri, infos.map((i) => i.id)]);
      }
    } catch (error) {
      for (const [, ids] of added) for (const id of ids) await this.transport.unlisten(id);
      if (leftEarly) {
        // Those closed are gone; a listener adopted by a new URI is still open under its old one.
        for (const [uri, ids] of leaving) {
          if (!ids.every((id) => adopted.kept.has(id))) this.#listenIds.delete(uri);
        }
      }
      throw error;
    }
    if (!leftEarly) await closeLeaving();
    for (const [uri] of leaving) this.#listenIds.delete(uri);
    for (const [uri, ids] of adopted.byUri) this.#listenIds.set(uri, ids);
    for (const [uri, ids] of added) this.#listenIds.set(uri, ids);
  }

  /** True when a listener of `uri` would use the transport and port of one of `ids`. */
  #sharesPort(uri: string, ids: readonly string[]): boolean {
    let specs: ListenSpec[];
    try {
      specs = parseListenUri(uri);
    } catch {
      return false;
    }
    const open = this.transport.listeners.filter((l) => ids.includes(l.id));
    return specs.some((s) =>
      s.port !== 0 && open.some((l) => l.transport === s.transport && l.port === s.port)
    );
  }

  /**
   * A new listen URI that names, with a real port, the address of a listener that is open
   * under another URI (`sip:127.0.0.1:0` became `sip:127.0.0.1:5060`) takes that listener
   * over: closing and reopening the socket would fail the transactions in flight on it.
   */
  #adoptListeners(
    uris: readonly string[],
  ): { byUri: Map<string, string[]>; kept: Set<string> } {
    const key = (t: string, host: string, port: number): string => `${t}|${host}|${port}`;
    const open = new Map<string, string>(); // address key -> listener id, of URIs going away
    const wanted = new Set(uris);
    for (const [uri, ids] of this.#listenIds) {
      if (wanted.has(uri)) continue;
      for (const id of ids) {
        const info = this.transport.listeners.find((l) => l.id === id);
        if (info !== undefined) open.set(key(info.transport, info.host, info.port), id);
      }
    }
    const byUri = new Map<string, string[]>();
    const kept = new Set<string>();
    for (const uri of uris) {
      if (this.#listenIds.has(uri) || byUri.has(uri)) continue;
      let specs: ListenSpec[];
      try {
        specs = parseListenUri(uri);
      } catch {
        continue; // listen() reports it
      }
      const ids = specs.map((s) =>
        s.port === 0 ? undefined : open.get(key(s.transport, s.host, s.port))
      );
      if (ids.length === 0 || ids.some((id) => id === undefined || kept.has(id))) continue;
      const found = ids as string[];
      for (const id of found) kept.add(id);
      byUri.set(uri, found);
    }
    return { byUri, kept };
  }

  request(method: string, uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew(method.toUpperCase(), uri, options);
  }
  options(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("OPTIONS", uri, options);
  }
  register(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("REGISTER", uri, options);
  }
  async invite(uri: string, options: InviteOptions = {}): Promise<InviteResult> {
    const r = await this.#sendNew("INVITE", uri, options);
    return r as InviteResult;
  }
  info(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("INFO", uri, options);
  }
  message(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("MESSAGE", uri, options);
  }
  subscribe(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("SUBSCRIBE", uri, options);
  }
  notify(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("NOTIFY", uri, options);
  }
  refer(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("REFER", uri, options);
  }
  publish(uri: string, options: UacOptions = {}): Promise<UacResult> {
    return this.#sendNew("PUBLISH", uri, options);
  }

  async close(timeout?: number): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    const limit = timeout ?? this.#closeTimeout;
    const deadline = Date.now() + limit;
    // Transactions in flight: UAC requests awaiting a final response, and requests we are
    // still processing. Poll with a short real timer, bounded by the deadline.
    while ((this.#uacPending > 0 || this.#inflightServer > 0) && Date.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
    this.#closed = true;
    for (const wake of [...this.#sleepers]) wake();
    this.#sleepers.clear();
    for (const p of [...this.#pending.values()]) p.fail(503, "Service Unavailable");
    this.#pending.clear();
    for (const e of this.#entries.values()) this.#stopRetrans(e);
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    this.#dialogs.clear();
    this.#entries.clear();
    this.#tl.close();
    await this.transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- timers owned by the stack ---

  #setTimer(fn: () => void, ms: number): TimerId {
    const id: TimerId = this.#clock.setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, ms);
    this.#timers.add(id);
    return id;
  }

  #clearTimer(id: TimerId | undefined): void {
    if (id === undefined) return;
    this.#clock.clearTimeout(id);
    this.#timers.delete(id);
  }

  // --- call accounting (maxCalls) ---

  #callRef(callId: string, delta: number): void {
    const before = this.#calls.get(callId);
    const n = (before ?? 0) + delta;
    if (n <= 0) this.#calls.delete(callId);
    // A new key is an own copy: it lives as long as the call, the message it came from not.
    else if (before === undefined) this.#calls.set(ownString(callId), n);
    else this.#calls.set(callId, n);
  }

  // --- sending ---

  #send(msg: SipMessage, ctx: Ctx, tx: ClientTransaction<Ctx> | ServerTransaction<Ctx>): void {
    if (ctx.kind === "out") {
      if (msg.kind !== "request") return;
      const target = ctx.target;
      this.transport.sendRequest(msg, target).then((used) => {
        if (used.flowId !== undefined) ctx.target = used;
        this.#hookOut(msg, used);
      }, (error) => tx.transportError(error));
    } else {
      if (msg.kind !== "response") return;
      const inbound = ctx.inbound;
      // Handed over at once: the transport keeps the sends of one socket or connection in
      // call order, so a 180 does not overtake the 200 of its transaction.
      const sent = this.transport.sendResponse(msg, inbound);
      const hooks = this.#hooks;
      if (hooks !== undefined && hooks.active) {
        sent.then(() => this.#hookOutInbound(msg, inbound), (error) => tx.transportError(error));
      } else {
        sent.catch((error) => tx.transportError(error));
      }
    }
  }

  #hookOut(msg: SipMessage, target: SendTarget): void {
    const hooks = this.#hooks;
    if (hooks === undefined || !hooks.active) return;
    const local = this.#listenerFor(target.transport, target.host);
    hooks.messageOut(msg, {
      transport: target.transport,
      local: { host: local?.host ?? "", port: local?.port ?? 0 },
      remote: { host: target.host, port: target.port },
      flowId: target.flowId,
    });
  }

  #hookOutInbound(msg: SipMessage, inbound: InboundMessage): void {
    const hooks = this.#hooks;
    if (hooks === undefined || !hooks.active) return;
    hooks.messageOut(msg, infoOf(inbound));
  }

  #listenerFor(transport: TransportName, host: string): ListenerInfo | undefined {
    const v6 = host.includes(":");
    const all = this.transport.listeners;
    const same = all.filter((l) => l.transport === transport);
    return same.find((l) => l.host.includes(":") === v6) ?? same[0] ??
      all.find((l) => l.host.includes(":") === v6) ?? all[0];
  }

  /** Our Contact for requests going over `target`. */
  #contactFor(target: SendTarget, user: string): string {
    const l = this.#listenerFor(target.transport, target.host);
    let host = l?.host ?? "127.0.0.1";
    if (host === "0.0.0.0" || host === "::") host = target.host.includes(":") ? "::1" : "127.0.0.1";
    const port = l?.port ?? 5060;
    const scheme = target.transport === "tls" || target.transport === "wss" ? "sips" : "sip";
    const tp = target.transport === "udp" || target.transport === "tls"
      ? ""
      : `;transport=${target.transport}`;
    const u = user === "" ? "" : `${user}@`;
    return `<${scheme}:${u}${hostForUri(host)}:${port}${tp}>`;
  }

  /** Our Contact for a response to a request that came in on `inbound`. With a
   * {@linkcode TransportLayer}, it is cached per transport, address family and user until
   * a listener opens or closes (two per INVITE otherwise each copy the listener list). */
  #contactForInbound(inbound: InboundMessage): string {
    const t = this.transport;
    const host = inbound.remote.host;
    if (!(t instanceof TransportLayer)) {
      return this.#contactFor(
        { transport: inbound.transport, host, port: inbound.remote.port },
        this.#fromUser,
      );
    }
    if (
      this.#contactGeneration !== t.listenerGeneration || this.#contactUser !== this.#fromUser
    ) {
      this.#contactCache.clear();
      this.#contactGeneration = t.listenerGeneration;
      this.#contactUser = this.#fromUser;
    }
    const v6 = host.includes(":");
    let pair = this.#contactCache.get(inbound.transport);
    if (pair === undefined) {
      pair = [undefined, undefined];
      this.#contactCache.set(inbound.transport, pair);
    }
    const slot = v6 ? 1 : 0;
    let contact = pair[slot];
    if (contact === undefined) {
      contact = this.#contactFor(
        { transport: inbound.transport, host, port: inbound.remote.port },
        this.#fromUser,
      );
      pair[slot] = contact;
    }
    return contact;
  }

  async #resolveTarget(uri: Uri, transport: TransportName | undefined): Promise<SendTarget> {
    const first = (await this.#resolveTargets(uri, transport))[0];
    if (first === undefined) throw new Error(`No target for ${uri}`);
    return first;
  }

  /** RFC 3263: every target for `uri`, in failover order (never empty: throws instead). */
  async #resolveTargets(uri: Uri, transport: TransportName | undefined): Promise<SendTarget[]> {
    const u = uri.clone();
    if (transport !== undefined) u.params.set("transport", transport);
    const targets = await this.transport.resolve(u);
    if (targets.length === 0) throw new Error(`No target for ${uri}`);
    return targets;
  }

  // --- inbound ---

  /** The §8.2 check options for the current capabilities (built once per change). */
  #uasChecks(merged: boolean): UasCheckOptions {
    const caps = this.#capabilities;
    let checks = this.#checks;
    if (checks === undefined || checks.caps !== caps) {
      const base = {
        allow: this.#acceptedMethods,
        advertise: caps.allow,
        supported: caps.supported,
        accept: caps.accept,
      };
      checks = { caps, plain: { ...base, merged: false }, merged: { ...base, merged: true } };
      this.#checks = checks;
    }
    return merged ? checks.merged : checks.plain;
  }

  #onInbound(m: InboundMessage): void {
    const hooks = this.#hooks;
    if (hooks !== undefined && hooks.active) {
      try {
        hooks.messageIn(m.message, infoOf(m));
      } catch (error) {
        this.#log.warn("A message hook threw: {error}", { error: errorText(error) });
      }
    }
    if (this.#closed) return;
    const msg = m.message;
    if (
      msg.kind === "request" && msg.method === "OPTIONS" && !this.#closing &&
      this.#statelessOptions() && this.#answerOptionsStateless(msg, m)
    ) return;
    // The transaction keeps only the reply route, not the parsed message (64*T1 window).
    const route = {
      transport: m.transport,
      local: m.local,
      remote: m.remote,
      flowId: m.flowId,
      receivedAt: m.receivedAt,
    } as unknown as InboundMessage;
    this.#tl.receive(m.message, { kind: "in", inbound: route }, m.transport !== "udp");
  }

  /** True when an out-of-dialog OPTIONS can only end in the default 200: no `sipOptions`,
   * `sipAuthorize` or `sipRoute` of a user or plugin. */
  #statelessOptions(): boolean {
    const cb = this.#callbacks;
    return cb.sipOptions === DEFAULTS.sipOptions && cb.sipAuthorize === DEFAULTS.sipAuthorize &&
      cb.sipRoute === DEFAULTS.sipRoute;
  }

  /** Answer an out-of-dialog OPTIONS without a transaction, as a stateless UAS (RFC 3261
   * §8.2.7), when nothing but the default callbacks would see it: the same 200 (Allow,
   * Accept, Supported) the stateful path sends, with a To tag derived from the request so a
   * retransmission gets the identical response. Kamailio's `sl` module answers keep-alive
   * OPTIONS this way; it saves the transaction, its 64*T1 Timer J and the per-Call-ID queue.
   * Anything the checks would reject (validation, §8.2 checks, credentials, a To tag) goes
   * the stateful way; returns false then. */
  #answerOptionsStateless(req: SipRequest, m: InboundMessage): boolean {
    if (req.to.tag !== undefined) return false;
    // At a cap the stateful path answers 503: a proxy's OPTIONS ping must see the overload.
    if (
      this.#inflightServer + this.#uacPending >= this.#maxTransactions ||
      this.#calls.size >= this.#maxCalls
    ) return false;
    if (req.hasHeader("Authorization") || req.hasHeader("Proxy-Authorization")) return false;
    if (validateMessage(req) !== undefined) return false;
    if (checkUasRequest(req, this.#uasChecks(false)) !== undefined) return false;
    const res = createResponse(req, 200, "OK", {
      toTag: this.#statelessTag(req),
      fields: this.#capabilityFields(),
    });
    this.#statelessReplies++;
    const sent = this.transport.sendResponse(res, m);
    const hooks = this.#hooks;
    if (hooks !== undefined && hooks.active) {
      sent.then(() => this.#hookOutInbound(res, m), (error) => this.#statelessSendFailed(error));
    } else {
      sent.catch(this.#onStatelessSendError);
    }
    return true;
  }

  /** The capability headers of an OPTIONS 200 as header fields, made once per change of the
   * capabilities. */
  #capabilityFields(): readonly HeaderField[] {
    const caps = this.#capabilities;
    if (this.#capFields?.caps !== caps) {
      const headers = caps[CAPABILITY_HEADERS] ?? capabilityHeaders(caps);
      const fields = Object.keys(headers).map((name) => makeHeaderField(name, headers[name]!));
      this.#capFields = { caps, fields };
    }
    return this.#capFields.fields;
  }

  /** {@linkcode Stack.#statelessSendFailed}, bound once (no closure per stateless reply). */
  readonly #onStatelessSendError = (error: unknown): void => this.#statelessSendFailed(error);

  #statelessSendFailed(error: unknown): void {
    this.#log.debug("Stateless OPTIONS reply not sent: {error}", { error: errorText(error) });
  }

  /** A To tag that is the same for every copy of a request (RFC 3261 §8.2.7: a stateless
   * UAS MUST generate tags the same way for the same request): two 32-bit multiplicative
   * (FNV-1a style) hashes, with different multipliers, of Call-ID, From tag, CSeq and top Via
   * branch, seeded from this stack's random secret. */
  #statelessTag(req: SipRequest): string {
    const callId = req.callId;
    const fromTag = req.from.tag ?? "";
    const seq = String(req.cseq.seq);
    const branch = req.vias[0]?.branch ?? "";
    const a = hashParts(this.#tagSeedA, TAG_PRIME_A, callId, fromTag, seq, branch);
    const b = hashParts(this.#tagSeedB, TAG_PRIME_B, callId, fromTag, seq, branch);
    return "s" + (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
  }

  #onRequest(
    req: SipRequest,
    tx: ServerTransaction<Ctx> | undefined,
    ctx: Ctx,
    merged: boolean,
  ): void {
    if (ctx.kind !== "in") return;
    if (tx === undefined) {
      this.#onAck2xx(req, ctx.inbound);
      return;
    }
    const call = new ServerCall(this, req, tx, ctx.inbound);
    // The transaction's TU slot finds the call for a CANCEL (no side table per request).
    tx.owner = call;
    // While closing, only requests inside live dialogs (BYE, re-INVITE, ...) are processed.
    if (
      this.#closing && (req.to.tag === undefined || this.#dialogs.forRequest(req) === undefined)
    ) {
      this.#replyRaw(call, 503, "Service Unavailable", [["Retry-After", "5"]]);
      return;
    }
    // Transactions in flight: requests we are processing and requests we sent, both still
    // without a final response. (Completed transactions that only absorb retransmissions
    // for 64*T1 do not count: they cost no work.)
    if (this.#inflightServer + this.#uacPending >= this.#maxTransactions) {
      this.#replyRaw(call, 503, "Too Many Transactions", [["Retry-After", "5"]]);
      return;
    }
    const callId = call.callId;
    if (!this.#calls.has(callId) && this.#calls.size >= this.#maxCalls) {
      this.#replyRaw(call, 503, "Too Many Calls", [["Retry-After", "5"]]);
      return;
    }
    this.#callRef(callId, 1);
    this.#inflightServer++;
    call.tracked = true;
    // The pipeline runs at once when the Call-ID is idle, and stays synchronous unless a
    // callback returns a promise: no promise hop per request in the common case.
    let running: void | Promise<void>;
    try {
      running = this.#queue.runNow(callId, () => this.#pipeline(call, merged));
    } catch (error) {
      this.#pipelineFailed(call, error);
      return;
    }
    if (running === undefined) {
      this.#pipelineDone(call);
      return;
    }
    running.then(
      () => this.#pipelineDone(call),
      (error) => this.#pipelineFailed(call, error),
    );
  }

  #pipelineDone(call: ServerCall): void {
    if (call.replied || call.tx.state === "terminated") this.#finishCall(call);
  }

  #pipelineFailed(call: ServerCall, error: unknown): void {
    try {
      this.#log.error("Request pipeline failed: {error}", { error: errorText(error) });
      if (!call.replied) this.#replyRaw(call, 500, "Server Internal Error");
    } finally {
      this.#pipelineDone(call);
    }
  }

  /** The processing of a new request: checks, authorization, routing, the method callback.
   * Synchronous (returns undefined) unless a callback returns a promise or authorization or
   * routing callbacks have to run. Never rejects: a throwing callback gets a 500. */
  #pipeline(call: ServerCall, merged: boolean): void | Promise<void> {
    const req = call.request;
    const cb = this.#callbacks;
    try {
      const invalid = validateMessage(req);
      if (invalid !== undefined) {
        this.#replyRaw(call, invalid.status, invalid.reason);
        return;
      }
      // Authorization (NkSIP: sip_get_user_pass, then sip_authorize). Skipped when it can
      // only end in the default's "ok": no credentials to check and no sipAuthorize of ours.
      // Routing is skipped when only the default, "process", would answer.
      const credentials = req.hasHeader("Authorization") ||
        req.hasHeader("Proxy-Authorization");
      const authorize = credentials || cb.sipAuthorize !== DEFAULTS.sipAuthorize;
      if (authorize || cb.sipRoute !== DEFAULTS.sipRoute) {
        return this.#pipelineAsync(call, merged, authorize);
      }
      const pending = this.#process(call, merged);
      if (pending !== undefined) return pending.catch((error) => this.#callbackFailed(call, error));
    } catch (error) {
      this.#callbackFailed(call, error);
    }
  }

  /** The pipeline after validation when authorization or routing callbacks run. */
  async #pipelineAsync(call: ServerCall, merged: boolean, authorize: boolean): Promise<void> {
    const req = call.request;
    const cb = this.#callbacks;
    try {
      if (authorize) {
        if (!(await this.#authorize(call, req, cb))) return;
      }
      if (cb.sipRoute !== DEFAULTS.sipRoute) {
        const uri = req.uri;
        const route: RouteDecision = await cb.sipRoute(
          uri.scheme,
          uri.user ?? "",
          uri.host,
          req,
          call,
        );
        if (call.replied) return;
        if (route !== "process" && route !== "process_stateless") {
          if (typeof route === "object" && "reply" in route) {
            call.reply(route.reply);
          } else if (typeof route === "object" && "replyStateless" in route) {
            call.reply(route.replyStateless);
          } else {
            this.#replyRaw(call, 501, "Proxying Not Implemented");
          }
          return;
        }
      }
      await this.#process(call, merged);
    } catch (error) {
      this.#callbackFailed(call, error);
    }
  }

  #callbackFailed(call: ServerCall, error: unknown): void {
    this.#log.error("SIP callback for {method} failed: {error}", {
      method: call.request.method,
      error: errorText(error),
    });
    if (!call.replied) this.#replyRaw(call, 500, "Server Internal Error");
  }

  /** §8.2 checks, §12.2.2 in-dialog matching, then the method callback. Returns a promise
   * only when the callback returned one (a callback answering synchronously, as the
   * defaults and most user callbacks do, is not awaited). May throw. */
  #process(call: ServerCall, merged: boolean): Promise<void> | undefined {
    const req = call.request;
    // §8.2 checks.
    const rejection = checkUasRequest(req, this.#uasChecks(merged));
    if (rejection !== undefined) {
      this.#replyRaw(call, rejection.status, rejection.reason, rejection.headers);
      return;
    }
    // §12.2.2 in-dialog requests.
    const inDialog = req.to.tag !== undefined;
    if (inDialog) {
      const dialog = this.#dialogs.forRequest(req);
      const entry = dialog === undefined ? undefined : this.#entries.get(dialog.id);
      if (dialog === undefined || entry === undefined) {
        this.#replyRaw(call, 481, "Call/Transaction Does Not Exist");
        return;
      }
      if (req.method === "INVITE") {
        // §14.2: glare with our own re-INVITE → 491; a second incoming one → 500.
        if (entry.pendingInvite !== undefined) {
          this.#replyRaw(call, 491, "Request Pending");
          return;
        }
        if (entry.incomingInvite || entry.retrans !== undefined) {
          this.#replyRaw(call, 500, "Server Internal Error", [["Retry-After", "1"]]);
          return;
        }
      }
      const stateBefore = dialog.state;
      const rej = dialog.receiveRequest(req);
      if (rej !== undefined) {
        this.#replyRaw(call, rej.status, rej.reason);
        return;
      }
      call.entry = entry;
      if (call.inbound.flowId !== undefined) entry.flow = flowTarget(call.inbound);
      if (req.method === "INVITE") entry.incomingInvite = true;
      if (req.method === "BYE") {
        this.#stopRetrans(entry);
        if (stateBefore !== "terminated") this.#sessionStop(entry);
      }
    }
    const name = methodCallbackName(req.method, inDialog);
    if (name === undefined) {
      const allow = this.#capabilities[CAPABILITY_HEADERS]?.Allow ??
        this.#capabilities.allow.join(", ");
      this.#replyRaw(call, 405, "Method Not Allowed", [["Allow", allow]]);
      return;
    }
    const result = this.#callbacks[name](req, call);
    if (isThenable(result)) return result.then((value) => this.#applyResult(call, value));
    this.#applyResult(call, result);
    return undefined;
  }

  /** What a method callback returned: a reply, or "later" (`undefined`, `NO_REPLY`). */
  #applyResult(call: ServerCall, value: MethodReply): void {
    if (value !== undefined && typeof value !== "symbol") call.reply(value);
    else if (!call.replied) this.#deferGuard(call);
  }

  /** Digest checks and `sipAuthorize`; false when the request was answered (or the callback
   * replied), true to go on. */
  async #authorize(call: ServerCall, req: SipRequest, cb: SipCallbacks): Promise<boolean> {
    const { auth, stale } = await this.#authInfo(call);
    if (stale !== undefined) {
      // RFC 7616 §3.3 / RFC 2617 §3.2.1: the response was right but the nonce too old:
      // challenge again with stale=true so the UA retries without asking its user.
      const challenge = buildChallenge({
        realm: stale.realm,
        secret: this.#nonceSecret,
        now: Date.now(),
        stale: true,
      });
      if (stale.proxy) {
        this.#replyRaw(call, 407, "Proxy Authentication Required", [[
          "Proxy-Authenticate",
          challenge,
        ]]);
      } else this.#replyRaw(call, 401, "Unauthorized", [["WWW-Authenticate", challenge]]);
      return false;
    }
    const decision: AuthorizeResult = await cb.sipAuthorize(auth, req, call);
    if (decision !== "ok" && !this.#applyAuthorize(call, decision)) return false;
    return !call.replied;
  }

  /** The request got its final response (or its transaction ended): it no longer counts
   * as in flight. */
  #finishCall(call: ServerCall): void {
    if (!call.tracked) return;
    call.tracked = false;
    this.#clearTimer(call.guard);
    call.guard = undefined;
    this.#callRef(call.callId, -1);
    this.#inflightServer--;
  }

  /** A request answered "later" gets a final response if nobody answers in time: 500
   * after 32*T1 for non-INVITE, 408 after `inviteTimeout` for INVITE. The non-INVITE guard
   * fires halfway through the client's Timer F (64*T1 from its first send, §17.1.2.2), so a
   * client on the same T1 gets the 500 rather than a timeout of its own (which may mark this
   * server as down, RFC 4321 §1.3); not 408, which RFC 4320 forbids for non-INVITE (RFC 4321
   * §1.4). */
  #deferGuard(call: ServerCall): void {
    if (call.replied) return;
    const invite = call.method === "INVITE";
    const ms = invite ? this.#inviteTimeout : 32 * this.#tl.timers.t1;
    call.guard = this.#setTimer(() => {
      call.guard = undefined;
      if (call.replied) return;
      if (invite) this.#replyRaw(call, 408, "Request Timeout");
      else this.#replyRaw(call, 500, "No Reply From Callback");
    }, ms);
  }

  /** Check every Digest credential of the request. `stale` names a realm (and whether it
   * came in Proxy-Authorization) whose only failures were right responses to stale nonces. */
  async #authInfo(
    call: ServerCall,
  ): Promise<{ auth: AuthInfo; stale: { realm: string; proxy: boolean } | undefined }> {
    const req = call.request;
    const digest = new Map<string, boolean>();
    const staleRealms = new Map<string, boolean>(); // realm -> proxy
    const dialog = req.to.tag !== undefined && this.#dialogs.forRequest(req) !== undefined;
    for (const header of ["Authorization", "Proxy-Authorization"]) {
      for (const value of req.headers(header)) {
        let creds;
        try {
          creds = parseCredentials(value);
        } catch {
          continue;
        }
        const pass = await this.#callbacks.sipGetUserPass(creds.username, creds.realm, req, call);
        let ok: boolean;
        if (pass === true) ok = true;
        else if (pass === false) ok = false;
        else {
          const secret = pass.startsWith("HA1!") ? { ha1: pass.slice(4) } : { password: pass };
          const r = verifyCredentials(creds, {
            method: req.method,
            realm: creds.realm,
            secret: this.#nonceSecret,
            now: Date.now(),
            body: req.body,
            ...secret,
          });
          ok = r.ok;
          if (!r.ok && r.reason === "stale-nonce") {
            staleRealms.set(creds.realm, header === "Proxy-Authorization");
          }
        }
        digest.set(creds.realm, (digest.get(creds.realm) ?? false) || ok);
      }
    }
    let stale: { realm: string; proxy: boolean } | undefined;
    for (const [realm, proxy] of staleRealms) {
      if (digest.get(realm) !== true) stale = { realm, proxy };
    }
    return { auth: { dialog, register: false, digest }, stale };
  }

  /** Answer a non-ok authorization; returns false when the request was answered. */
  #applyAuthorize(call: ServerCall, decision: AuthorizeResult): boolean {
    const realm = this.#realm;
    const challenge = (r: string): string =>
      buildChallenge({ realm: r, secret: this.#nonceSecret, now: Date.now() });
    if (decision === "forbidden") {
      this.#replyRaw(call, 403, "Forbidden");
    } else if (decision === "authenticate") {
      this.#replyRaw(call, 401, "Unauthorized", [["WWW-Authenticate", challenge(realm)]]);
    } else if (decision === "proxy_authenticate") {
      this.#replyRaw(call, 407, "Proxy Authentication Required", [[
        "Proxy-Authenticate",
        challenge(realm),
      ]]);
    } else if (typeof decision === "object" && "authenticate" in decision) {
      this.#replyRaw(call, 401, "Unauthorized", [[
        "WWW-Authenticate",
        challenge(decision.authenticate),
      ]]);
    } else if (typeof decision === "object" && "proxyAuthenticate" in decision) {
      this.#replyRaw(call, 407, "Proxy Authentication Required", [[
        "Proxy-Authenticate",
        challenge(decision.proxyAuthenticate),
      ]]);
    } else {
      this.#replyRaw(call, 500, "Invalid Authorization Decision");
    }
    return false;
  }

  #replyRaw(
    call: ServerCall,
    status: number,
    reason: string,
    headers: [string, string][] = [],
  ): void {
    const addHeaders: [string, HeaderValue][] = headers;
    this.replyTo(call, { status, reason, addHeaders });
  }

  /** Send a response for an incoming request (the body of `call.reply`). */
  replyTo(call: ServerCall, value: ReplyValue): boolean {
    const n = normalizeReply(value);
    const tx = call.tx;
    if (tx.finalSent || tx.state === "terminated") return false;
    if (n.status === 100) return false; // the transaction layer sends 100 Trying itself
    const req = call.request;
    const res = createResponse(req, n.status, n.reason, { toTag: call.toTag });
    for (const [name, value] of n.headers) res.setHeader(name, value);
    for (const [name, value] of n.addHeaders) res.appendHeader(name, value);
    if (n.body !== undefined) {
      res.body = n.body;
      if (n.contentType !== undefined) res.setHeader("Content-Type", n.contentType);
    }
    const method = req.method;
    const status = n.status;
    const success = status >= 200 && status < 300;
    const dialogCreating = method === "INVITE" || method === "SUBSCRIBE" || method === "REFER";
    if (
      !res.hasHeader("Contact") &&
      ((dialogCreating && (success || (method === "INVITE" && status > 100 && status < 200))) ||
        (method === "UPDATE" && success))
    ) {
      res.setHeader("Contact", this.#contactForInbound(call.inbound));
    }
    // RFC 3261 §12.1.1: a response that establishes a dialog MUST carry a copy of every
    // Record-Route value of the request, in order, so that the UAC learns the route set.
    if (
      dialogCreating && status > 100 && status < 300 && !res.hasHeader("Record-Route") &&
      req.hasHeader("Record-Route")
    ) {
      res.setHeader("Record-Route", req.headers("Record-Route"));
    }
    call.responded = true;
    // Dialog bookkeeping before sending, so an ACK racing the 2xx finds the dialog.
    if (method === "INVITE") this.#uasInviteResponse(call, res, answerText(value));
    else if ((method === "SUBSCRIBE" || method === "REFER") && success) {
      // RFC 6665 §4.2.1: a subscription (a dialog usage, RFC 5057) for the Event, created
      // or refreshed, lasting the Expires of the 2xx.
      const key = subscriptionKey(req);
      const entry = call.entry ?? this.#uasCreateDialog(call, res, key);
      if (entry !== undefined) this.#subArm(entry, key, subscriptionExpires(req, res));
    } else if (method === "UPDATE" && call.entry !== undefined && success) {
      this.#offerAnswer(call.entry, sdpOf(req), sdpOf(res), "remote");
    }
    try {
      tx.respond(res);
    } catch (error) {
      this.#log.warn("Cannot send {status}: {error}", { status, error: errorText(error) });
      return false;
    } finally {
      if (status >= 200) this.#finishCall(call);
      // A CANCEL after the final response has no effect (§9.2): the call is not looked up.
      if (status >= 200) tx.owner = undefined;
    }
    // RFC 6665 §4.1.3: a NOTIFY we accepted tells the state of our subscription.
    if (method === "NOTIFY" && success && call.entry !== undefined) {
      this.#subscriptionState(call.entry, req);
    }
    return true;
  }

  // --- subscription usages (RFC 6665, RFC 3515 implicit subscriptions) ---

  /** Add or refresh the subscription usage `key` of a dialog; it ends after `expires`
   * seconds unless refreshed (RFC 6665 §4.1.2.1, §4.2.2). Expires 0 (an unsubscribe or a
   * fetch) leaves 64*T1 for the final NOTIFY. Undefined: no timer (REFER). */
  #subArm(entry: DialogEntry, key: string, expires: number | undefined): void {
    if (entry.dialog.state === "terminated") return;
    entry.dialog.addUsage(key);
    const subs = entry.subs ??= new Map();
    this.#clearTimer(subs.get(key));
    let timer: TimerId | undefined;
    if (expires !== undefined) {
      const ms = expires === 0 ? 64 * this.#tl.timers.t1 : expires * 1000;
      timer = this.#setTimer(() => {
        if (subs.get(key) !== timer) return;
        this.#log.debug("Subscription {key} of {callId} expired", { key, callId: entry.callId });
        this.#subEnd(entry, key);
      }, ms);
    }
    subs.set(key, timer);
  }

  /** End one subscription usage; the dialog ends with its last usage (RFC 5057 §5). */
  #subEnd(entry: DialogEntry, key: string): void {
    const subs = entry.subs;
    if (subs === undefined || !subs.has(key)) return;
    this.#clearTimer(subs.get(key));
    subs.delete(key);
    entry.dialog.removeUsage(key);
  }

  /** Apply the Subscription-State of a NOTIFY (sent or received) to its subscription:
   * `terminated` ends it, `active`/`pending` with `expires=N` re-arm its timer. */
  #subscriptionState(entry: DialogEntry, notify: SipRequest): void {
    const state = notify.header("Subscription-State");
    if (state === undefined) return;
    const subs = entry.subs;
    if (subs === undefined) return;
    const key = findSubscription(subs, notify.header("Event"));
    if (key === undefined) return;
    const value = (state.split(";")[0] ?? "").trim().toLowerCase();
    if (value === "terminated") {
      this.#subEnd(entry, key);
      return;
    }
    const m = /;\s*expires\s*=\s*(\d+)/i.exec(state);
    if (m !== null) this.#subArm(entry, key, Number(m[1]));
  }

  #uasCreateDialog(call: ServerCall, res: SipResponse, usage: string): DialogEntry | undefined {
    let dialog: Dialog;
    try {
      dialog = Dialog.asUas(call.request, res, this.#dialogOptions());
    } catch {
      return undefined;
    }
    return this.#addDialog(dialog, flowTarget(call.inbound), usage, call);
  }

  #dialogOptions(): { clock: Clock; idleTimeout: number } {
    return { clock: this.#clock, idleTimeout: this.#dialogIdleTimeout };
  }

  #addDialog(
    dialog: Dialog,
    flow: SendTarget | undefined,
    usage: string,
    call?: ServerCall,
  ): DialogEntry {
    const entry = new DialogEntry(this, dialog, flow);
    dialog.addUsage(usage);
    this.#callRef(dialog.callId, 1);
    const previous = dialog.onTerminated;
    dialog.onTerminated = (d, reason) => {
      previous?.(d, reason);
      this.#dialogEnded(entry, reason);
    };
    this.#dialogs.add(dialog);
    this.#entries.set(dialog.id, entry);
    if (call !== undefined) call.entry = entry;
    this.#notifyDialog("start", entry);
    return entry;
  }

  #dialogEnded(entry: DialogEntry, reason: DialogEndReason): void {
    this.#stopRetrans(entry);
    const subs = entry.subs;
    if (subs !== undefined) {
      for (const t of subs.values()) this.#clearTimer(t);
      subs.clear();
    }
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    this.#callRef(entry.callId, -1);
    if (entry.localSdp !== undefined && entry.remoteSdp !== undefined) this.#sessionStop(entry);
    this.#notifyDialog({ stop: reason }, entry);
  }

  #notifyDialog(status: DialogStatus, entry: DialogEntry): void {
    if (this.#callbacks.sipDialogUpdate === DEFAULTS.sipDialogUpdate) return; // a no-op
    this.#queueDialogUpdate(status, entry);
  }

  /** (Apart from `#notifyDialog` so that the no-op case allocates no closure context.) */
  #queueDialogUpdate(status: DialogStatus, entry: DialogEntry): void {
    const info = dialogInfo(entry);
    Promise.resolve().then(() => this.#callbacks.sipDialogUpdate(status, info)).catch((error) =>
      this.#log.warn("sipDialogUpdate threw: {error}", { error: errorText(error) })
    );
  }

  #notifySession(status: SessionStatus, entry: DialogEntry): void {
    if (this.#callbacks.sipSessionUpdate === DEFAULTS.sipSessionUpdate) return; // a no-op
    this.#queueSessionUpdate(status, entry);
  }

  #queueSessionUpdate(status: SessionStatus, entry: DialogEntry): void {
    const info = dialogInfo(entry);
    Promise.resolve().then(() => this.#callbacks.sipSessionUpdate(status, info)).catch((
      error,
    ) => this.#log.warn("sipSessionUpdate threw: {error}", { error: errorText(error) }));
  }

  #sessionStop(entry: DialogEntry): void {
    if (entry.localSdp === undefined || entry.remoteSdp === undefined) return;
    entry.localSdp = undefined;
    entry.remoteSdp = undefined;
    this.#notifySession("stop", entry);
  }

  /** RFC 3264 offer/answer: `offer` and `answer` bodies of one exchange; `offerer` says
   * who made the offer. */
  #offerAnswer(
    entry: DialogEntry,
    offer: string | undefined,
    answer: string | undefined,
    offerer: "local" | "remote",
  ): void {
    if (offer === undefined || answer === undefined) return;
    const local = offerer === "local" ? offer : answer;
    const remote = offerer === "local" ? answer : offer;
    const started = entry.localSdp !== undefined && entry.remoteSdp !== undefined;
    entry.localSdp = local;
    entry.remoteSdp = remote;
    if (this.#callbacks.sipSessionUpdate === DEFAULTS.sipSessionUpdate) return; // a no-op
    this.#queueSessionUpdate(
      started ? { update: { local, remote } } : { start: { local, remote } },
      entry,
    );
  }

  /** Dialog and offer/answer bookkeeping of a response to an incoming INVITE. `answer` is
   * the SDP text the reply gave (`{ answer }`), so that the body need not be decoded again. */
  #uasInviteResponse(call: ServerCall, res: SipResponse, answerSdp: string | undefined): void {
    const status = res.status;
    let entry = call.entry;
    if (status < 200) {
      if (entry === undefined && call.request.to.tag === undefined) {
        entry = this.#uasCreateDialog(call, res, "invite");
      }
      return;
    }
    if (status < 300) {
      if (entry === undefined) entry = this.#uasCreateDialog(call, res, "invite");
      if (entry === undefined) return;
      entry.dialog.confirm();
      entry.dialog.addUsage("invite");
      entry.incomingInvite = false;
      const offer = sdpOf(call.request);
      const answer = answerSdp !== undefined && answerSdp !== "" ? answerSdp : sdpOf(res);
      if (offer !== undefined) this.#offerAnswer(entry, offer, answer, "remote");
      else if (answer !== undefined) entry.offerPending = "local"; // late offer: answer in ACK
      if (answer !== undefined && offer === undefined) entry.localSdp = answer;
      this.#startRetrans(entry, call, res);
      return;
    }
    if (entry !== undefined) {
      entry.incomingInvite = false;
      if (entry.dialog.state === "early") entry.dialog.terminate("rejected");
    }
  }

  /** §13.3.1.4: retransmit the 2xx (T1 doubling up to T2) until the ACK; after 64*T1
   * without one, end the dialog with a BYE. One timer slot does both: each wait is cut
   * short at the 64*T1 deadline (the retransmissions at 0.5, 1.5, 3.5 ... 31.5 s, the end at
   * 32 s, as with two timers), and the ACK clears one timer instead of two. */
  #startRetrans(entry: DialogEntry, call: ServerCall, res: SipResponse): void {
    this.#stopRetrans(entry);
    const t = this.#tl.timers;
    const limit = 64 * t.t1;
    const r: Retrans = {
      cseq: call.request.cseq.seq,
      timer: undefined,
      elapsed: 0,
      interval: call.inbound.transport === "udp" ? t.t1 : Infinity, // no resends: reliable
    };
    entry.retrans = r;
    const inbound = call.inbound;
    const arm = (): void => {
      const wait = Math.min(r.interval, limit - r.elapsed);
      r.elapsed += wait;
      r.timer = this.#clock.setTimeout(fire, wait);
    };
    const fire = (): void => {
      r.timer = undefined;
      if (entry.retrans !== r) return;
      if (r.elapsed >= limit) {
        this.#noAck(entry);
        return;
      }
      this.transport.sendResponse(res, inbound).then(
        () => this.#hookOutInbound(res, inbound),
        () => {},
      );
      r.interval = Math.min(r.interval * 2, t.t2);
      arm();
    };
    arm();
  }

  /** No ACK for a 2xx within 64*T1 (§13.3.1.4): end the dialog with a BYE. */
  #noAck(entry: DialogEntry): void {
    this.#stopRetrans(entry);
    this.#log.info("No ACK for the 2xx of {callId}: ending the dialog", {
      callId: entry.callId,
    });
    if (entry.dialog.state !== "terminated") {
      this.sendInDialog(entry, "BYE", {}).catch(() => {});
    }
  }

  #stopRetrans(entry: DialogEntry): void {
    const r = entry.retrans;
    if (r === undefined) return;
    if (r.timer !== undefined) this.#clock.clearTimeout(r.timer);
    entry.retrans = undefined;
  }

  #onAck2xx(ack: SipRequest, inbound: InboundMessage): void {
    const dialog = this.#dialogs.forRequest(ack);
    const entry = dialog === undefined ? undefined : this.#entries.get(dialog.id);
    if (dialog === undefined || entry === undefined) return; // §17: a stray ACK is dropped
    dialog.receiveRequest(ack);
    const r = entry.retrans;
    if (r === undefined || r.cseq !== ack.cseq.seq) return; // a retransmitted ACK
    this.#stopRetrans(entry);
    if (entry.offerPending === "local") {
      entry.offerPending = undefined;
      const answer = sdpOf(ack);
      if (entry.localSdp !== undefined && answer !== undefined) {
        const offer = entry.localSdp;
        entry.localSdp = undefined;
        this.#offerAnswer(entry, offer, answer, "local");
      }
    }
    this.#notifyDialog({ inviteStatus: "confirmed" }, entry);
    if (this.#callbacks.sipAck === DEFAULTS.sipAck) return; // a no-op
    const callId = ack.callId;
    this.#queue.run(callId, async () => {
      const handle = new AckCall(this, ack, inbound, entry);
      await this.#callbacks.sipAck(ack, handle);
    }).catch((error) => this.#log.warn("sipAck threw: {error}", { error: errorText(error) }));
  }

  #onCancel(cancel: SipRequest, invite: InviteServerTransaction<Ctx>): void {
    const owner = invite.owner;
    const call = owner instanceof ServerCall ? owner : undefined;
    this.#tl.respondCancelled(invite);
    if (call === undefined) return;
    this.#finishCall(call);
    const entry = call.entry;
    if (entry !== undefined && entry.dialog.state === "early") entry.dialog.terminate("rejected");
    // The transaction let go of the INVITE with the 487; the call still holds it.
    invite.owner = undefined;
    this.#queue.run(cancel.callId, () => this.#callbacks.sipCancel(call.request, cancel, call))
      .catch((error) => this.#log.warn("sipCancel threw: {error}", { error: errorText(error) }));
  }

  // --- UAC ---

  #fromFor(target: SendTarget): string {
    const l = this.#listenerFor(target.transport, target.host);
    let host = l?.host ?? "127.0.0.1";
    if (host === "0.0.0.0" || host === "::") host = "127.0.0.1";
    return `<sip:${this.#fromUser}@${hostForUri(host)}>`;
  }

  async #sendNew(method: string, uriText: string, options: InviteOptions): Promise<UacResult> {
    checkUacOptions(options);
    checkUacMethod(method);
    if (this.#closing) return { status: 503, reason: "Service Unavailable", response: undefined };
    let uri: Uri;
    try {
      uri = parseUri(uriText.startsWith("<") ? uriText.slice(1, -1) : uriText);
    } catch (error) {
      throw new TypeError(`Bad request URI ${uriText}: ${errorText(error)}`);
    }
    const firstHop = options.route?.[0];
    let targets: SendTarget[];
    try {
      const hopUri = firstHop === undefined
        ? uri
        : parseUri(firstHop.replace(/^<|>$/g, "").replace(/>.*$/, ""));
      targets = await this.#resolveTargets(hopUri, options.transport);
    } catch (error) {
      this.#log.info("Cannot resolve {uri}: {error}", { uri: uriText, error: errorText(error) });
      return { status: 503, reason: "Service Unavailable", response: undefined };
    }
    const target = targets[0]!;
    const to = options.to ?? `<${uri}>`;
    const from = options.from ?? (method === "REGISTER" ? to : this.#fromFor(target));
    const headers: [string, HeaderValue][] = [];
    for (const r of options.route ?? []) headers.push(["Route", r.startsWith("<") ? r : `<${r}>`]);
    const req = createRequest({
      method,
      uri,
      from,
      to,
      callId: options.callId ?? generateCallId(),
      cseq: options.cseq ?? 1,
      headers,
    });
    return await this.#runUac(req, targets, options, undefined);
  }

  /** Send a request inside a dialog. */
  async sendInDialog(
    entry: DialogEntry,
    method: string,
    options: InviteOptions,
  ): Promise<UacResult> {
    checkUacOptions(options);
    checkUacMethod(method);
    const r = await this.#sendInDialogOnce(entry, method, options);
    if (
      r.status !== 491 || options.glareRetry === false ||
      (method !== "INVITE" && method !== "UPDATE")
    ) {
      return r;
    }
    // RFC 3261 §14.1: after a 491, wait 2.1-4 s (we own the Call-ID) or 0-2 s, then retry once.
    // The same when the re-INVITE could not be sent at all because an INVITE transaction was
    // in progress in either direction (§14.2; a 491 without a response).
    const delay = glareBackoff(entry.isUac);
    const waited = await this.#sleep(delay);
    if (!waited || entry.dialog.state === "terminated") return r;
    return await this.#sendInDialogOnce(entry, method, options);
  }

  /** Wait `ms` on the stack's clock; resolves false early when the stack closes. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const id = this.#setTimer(() => {
        this.#sleepers.delete(wake);
        resolve(true);
      }, ms);
      const wake = (): void => {
        this.#clearTimer(id);
        resolve(false);
      };
      this.#sleepers.add(wake);
    });
  }

  async #sendInDialogOnce(
    entry: DialogEntry,
    method: string,
    options: InviteOptions,
  ): Promise<UacResult> {
    if (this.#closed) return { status: 503, reason: "Service Unavailable", response: undefined };
    const dialog = entry.dialog;
    if (dialog.state === "terminated") {
      return { status: 481, reason: "Call/Transaction Does Not Exist", response: undefined };
    }
    if (method === "INVITE" && (entry.pendingInvite !== undefined || entry.incomingInvite)) {
      return { status: 491, reason: "Request Pending", response: undefined };
    }
    const req = dialog.createRequest(method);
    if (method === "BYE") {
      this.#stopRetrans(entry);
      this.#sessionStop(entry);
    }
    let targets: SendTarget[];
    try {
      const first = dialog.routeSet[0];
      const hop = first === undefined ? dialog.remoteTarget : first.uri;
      targets = entry.flow !== undefined && entry.flow.flowId !== undefined
        ? [{ ...entry.flow }]
        : await this.#resolveTargets(hop, options.transport);
    } catch (error) {
      this.#log.info("Cannot resolve the dialog target: {error}", { error: errorText(error) });
      // Hanging up ends the dialog even when the peer cannot be reached (a remote target it
      // gave that cannot be resolved): nothing else could end it.
      if (method === "BYE") dialog.terminate("bye");
      return { status: 503, reason: "Service Unavailable", response: undefined };
    }
    // §14.2 again: the peer's re-INVITE may have arrived while the target was being resolved.
    if (method === "INVITE" && (entry.pendingInvite !== undefined || entry.incomingInvite)) {
      return { status: 491, reason: "Request Pending", response: undefined };
    }
    const r = await this.#runUac(req, targets, options, entry);
    // RFC 6665 §4.2.2: a NOTIFY we sent with `terminated` ends the subscription.
    if (method === "NOTIFY") this.#subscriptionState(entry, req);
    return r;
  }

  /**
   * Run a request through its client transactions: RFC 3263 §4.3 failover to the next
   * target (a new transaction, i.e. a new Via branch, for each) on a transport error, a
   * transaction timeout or a 503 (RFC 3261 §21.5.4), and Digest retries on 401/407.
   */
  async #runUac(
    first: SipRequest,
    targets: readonly SendTarget[],
    options: InviteOptions,
    entry: DialogEntry | undefined,
  ): Promise<UacResult> {
    const method = first.method;
    let targetIndex = 0;
    let target = targets[0]!;
    // Fill in the common parts.
    let autoContact = false;
    if (options.contact !== false) {
      const needsContact = method === "INVITE" || method === "SUBSCRIBE" ||
        method === "REFER" || method === "REGISTER" || method === "UPDATE" ||
        method === "NOTIFY" || options.contact !== undefined;
      if (needsContact && !first.hasHeader("Contact")) {
        autoContact = options.contact === undefined;
        first.setHeader("Contact", options.contact ?? this.#contactFor(target, this.#fromUser));
      }
    }
    if (options.expires !== undefined) first.setHeader("Expires", String(options.expires));
    if (options.event !== undefined) first.setHeader("Event", options.event);
    if (method === "NOTIFY" && !first.hasHeader("Subscription-State")) {
      first.setHeader("Subscription-State", options.subscriptionState ?? "active");
      if (!first.hasHeader("Event")) first.setHeader("Event", options.event ?? "refer");
    }
    if (method === "SUBSCRIBE" && !first.hasHeader("Event")) first.setHeader("Event", "presence");
    if (method === "REFER" && options.referTo !== undefined) {
      first.setHeader("Refer-To", options.referTo);
    }
    if (options.body !== undefined) {
      first.body = typeof options.body === "string"
        ? new TextEncoder().encode(options.body)
        : options.body;
      const ct = options.contentType ??
        (method === "INVITE" || method === "UPDATE" ? "application/sdp" : "text/plain");
      first.setHeader("Content-Type", ct);
    } else if (options.contentType !== undefined) {
      first.setHeader("Content-Type", options.contentType);
    }
    applyHeaders(first, options.headers, options.addHeaders);

    const digest = options.auth === undefined ? undefined : new DigestClient({
      username: options.auth.username,
      password: options.auth.password,
    });
    let req = first;
    let tries = 0;
    this.#uacPending++;
    try {
      for (;;) {
        const { failure, ...r } = await this.#transaction(req, target, options, entry);
        const status = r.status;
        const res = r.response;
        const nextTarget = targets[targetIndex + 1];
        if (
          nextTarget !== undefined &&
          (failure !== undefined || (status === 503 && res !== undefined)) &&
          !this.#closing && options.signal?.aborted !== true
        ) {
          // RFC 3263 §4.3: the same request, in a new transaction, to the next target.
          this.#log.info(
            "{method} to {host}:{port} ({transport}) failed ({why}): trying the next target",
            {
              method,
              host: target.host,
              port: target.port,
              transport: target.transport,
              why: failure ?? `${status}`,
            },
          );
          targetIndex++;
          target = nextTarget;
          const again = req.clone();
          again.removeHeader("Via");
          if (autoContact) again.setHeader("Contact", this.#contactFor(target, this.#fromUser));
          req = again;
          continue;
        }
        if (
          (status === 401 || status === 407) && digest !== undefined && res !== undefined &&
          tries < 2
        ) {
          const header = status === 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
          const challenges = res.headers(header);
          const realmOk = options.auth?.realm === undefined ||
            challenges.some((c) => c.includes(`realm="${options.auth?.realm}"`));
          let value: string | undefined;
          try {
            value = realmOk
              ? digest.respond(challenges, {
                method: req.method,
                uri: req.uri.toString(),
                body: req.body,
              })?.value
              : undefined;
          } catch {
            value = undefined;
          }
          if (value !== undefined) {
            tries++;
            // §22.2: same Call-ID, CSeq incremented, a new branch.
            const next = req.clone();
            next.removeHeader("Via");
            next.setHeader(status === 401 ? "Authorization" : "Proxy-Authorization", value);
            const seq = entry !== undefined
              ? (entry.dialog.localSeq ?? req.cseq.seq) + 1
              : req.cseq.seq + 1;
            if (entry !== undefined) entry.dialog.localSeq = seq;
            next.setHeader("CSeq", `${seq} ${req.method}`);
            req = next;
            continue;
          }
        }
        return r;
      }
    } finally {
      this.#uacPending--;
    }
  }

  /** One client transaction: resolves with the final response (or a local failure). */
  #transaction(
    req: SipRequest,
    target: SendTarget,
    options: InviteOptions,
    entry: DialogEntry | undefined,
  ): Promise<TxResult> {
    const method = req.method;
    const branch = generateBranch();
    const l = this.#listenerFor(target.transport, target.host);
    req.prependHeader(
      "Via",
      `SIP/2.0/${target.transport.toUpperCase()} ${hostForUri(l?.host ?? "127.0.0.1")}:${
        l?.port ?? 5060
      };branch=${branch};rport`,
    );
    const ctx: Ctx = { kind: "out", target: { ...target } };
    const reliable = target.transport !== "udp";
    return new Promise<TxResult>((resolve, reject) => {
      let dialogEntry = entry;
      let timer: TimerId | undefined;
      let tx: ClientTransaction<Ctx> | undefined;
      const signal = options.signal;
      const cleanup = (): void => {
        this.#clearTimer(timer);
        timer = undefined;
        signal?.removeEventListener("abort", onAbort);
        if (tx !== undefined) this.#pending.delete(tx);
        if (dialogEntry !== undefined && dialogEntry.pendingInvite === tx) {
          dialogEntry.pendingInvite = undefined;
        }
      };
      const finish = (result: InviteResult, failure?: Failure): void => {
        if (pending.done) return;
        pending.done = true;
        cleanup();
        resolve({ ...result, failure });
      };
      const onAbort = (): void => {
        if (pending.done || tx === undefined) return;
        if (method === "INVITE") {
          this.cancelInvite(tx as InviteClientTransaction<Ctx>);
        } else {
          pending.done = true;
          cleanup();
          reject(signal?.reason ?? new DOMException("Aborted", "AbortError"));
        }
      };
      const pending: Pending = {
        request: req,
        options,
        done: false,
        cancelled: false,
        resolve: (r) => finish({ ...r, dialog: undefined }),
        fail: (status, reason, failure) => {
          if (method === "INVITE" && entry === undefined && dialogEntry?.dialog.state === "early") {
            dialogEntry.dialog.terminate("local");
          }
          finish({ status, reason, response: undefined, dialog: undefined }, failure);
        },
        onProvisional: (res) => {
          if (
            method === "INVITE" && entry === undefined && res.to.tag !== undefined &&
            res.status > 100
          ) {
            const existing = this.#dialogs.forResponse(res);
            if (existing === undefined && dialogEntry === undefined) {
              try {
                const d = Dialog.asUac(req, res, this.#dialogOptions());
                dialogEntry = this.#addDialog(d, streamFlow(ctx), "invite");
                dialogEntry.pendingInvite = tx as InviteClientTransaction<Ctx>;
                options.onDialog?.(dialogEntry);
              } catch {
                // no usable dialog from this response
              }
            } else if (existing !== undefined) {
              existing.receiveResponse(res);
            }
          } else if (entry !== undefined) {
            entry.dialog.receiveResponse(res);
          }
          try {
            options.onProvisional?.(res);
          } catch (error) {
            this.#log.warn("onProvisional threw: {error}", { error: errorText(error) });
          }
        },
        onFinal: (res) => {
          const status = res.status;
          let d = dialogEntry;
          if (method === "INVITE" && status >= 200 && status < 300) {
            d = this.#inviteAnswered(req, res, ctx, entry, d, pending, options);
          } else if (entry !== undefined) {
            entry.dialog.receiveResponse(res);
            if (method === "BYE" && entry.dialog.state !== "terminated") {
              entry.dialog.terminate("bye");
            }
          } else if (method === "INVITE" && d !== undefined) {
            d.dialog.receiveResponse(res);
          } else if (
            (method === "SUBSCRIBE" || method === "REFER") && status < 300 &&
            res.to.tag !== undefined
          ) {
            this.#subscriptionAnswered(req, res, ctx);
          }
          if (
            entry !== undefined && (method === "SUBSCRIBE" || method === "REFER") &&
            status >= 200 && status < 300
          ) {
            // A refresh (or a REFER) inside an existing dialog (RFC 6665 §4.1.2.2).
            this.#subArm(entry, subscriptionKey(req), subscriptionExpires(req, res));
          }
          // A 2xx that crossed our CANCEL gives no dialog: it is being ended with a BYE.
          const crossed = pending.cancelled && entry === undefined;
          const inviteDialog = method === "INVITE" && status < 300 && !crossed ? d : undefined;
          finish({ status, reason: res.reason, response: res, dialog: inviteDialog });
        },
      };
      try {
        tx = this.#tl.sendRequest(req, { ctx, reliable });
      } catch (error) {
        this.#log.warn("Cannot start a transaction: {error}", { error: errorText(error) });
        finish({
          status: 503,
          reason: "Service Unavailable",
          response: undefined,
          dialog: undefined,
        });
        return;
      }
      this.#pending.set(tx, pending);
      if (entry !== undefined && method === "INVITE") {
        entry.pendingInvite = tx as InviteClientTransaction<Ctx>;
      }
      if (method === "BYE" && entry !== undefined) {
        // §15.1.1: the dialog ends when the BYE is sent, whatever the answer.
        entry.dialog.terminate("bye");
      }
      const timeout = options.timeout ??
        (method === "INVITE" ? this.#inviteTimeout : undefined);
      if (timeout !== undefined) {
        timer = this.#setTimer(() => {
          timer = undefined;
          if (pending.done || tx === undefined) return;
          if (method === "INVITE") {
            const r = this.cancelInvite(tx as InviteClientTransaction<Ctx>);
            if (r === "final") pending.fail(408, "Request Timeout");
          } else {
            pending.fail(408, "Request Timeout");
          }
        }, timeout);
      }
      if (signal !== undefined) {
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  /**
   * A 2xx to our INVITE (§13.2.2.4): find or make the dialog it confirms (an early dialog of
   * the same response, a new one, or the dialog of a re-INVITE), run the offer/answer, and
   * ACK it (or keep it for `dialog.ack()`; a 2xx that crossed our CANCEL is ACKed and ended
   * with a BYE). Returns the dialog entry, if any.
   */
  #inviteAnswered(
    req: SipRequest,
    res: SipResponse,
    ctx: Ctx,
    entry: DialogEntry | undefined,
    early: DialogEntry | undefined,
    pending: Pending,
    options: InviteOptions,
  ): DialogEntry | undefined {
    let d = early;
    if (entry === undefined) {
      const known = this.#dialogs.forResponse(res);
      const knownEntry = known === undefined ? undefined : this.#entries.get(known.id);
      if (knownEntry !== undefined) {
        d = knownEntry;
        known?.receiveResponse(res);
      } else {
        if (d !== undefined && d.dialog.state === "early") d.dialog.terminate("local");
        try {
          d = this.#addDialog(
            Dialog.asUac(req, res, this.#dialogOptions()),
            streamFlow(ctx),
            "invite",
          );
          options.onDialog?.(d);
        } catch {
          d = undefined;
        }
      }
    } else {
      entry.dialog.receiveResponse(res);
    }
    if (d !== undefined) {
      d.pendingInvite = undefined;
      const offer = sdpOf(req);
      const answer = sdpOf(res);
      if (offer !== undefined) this.#offerAnswer(d, offer, answer, "local");
      else if (answer !== undefined) d.remoteSdp = answer;
      if (pending.cancelled && entry === undefined) {
        // The 2xx crossed our CANCEL (RFC 3261 §9.1, §15): the call is wanted no
        // more, but the 2xx must still be ACKed; then the dialog ends with a BYE.
        const ended = d;
        this.sendAck(ended, req.cseq.seq, {})
          .then(() => this.sendInDialog(ended, "BYE", {}))
          .catch((error) =>
            this.#log.info("ACK/BYE for a 2xx after CANCEL failed: {error}", {
              error: errorText(error),
            })
          );
      } else if (options.autoAck === false) {
        d.awaitingAck = { cseq: req.cseq.seq, response: res };
      } else {
        this.sendAck(d, req.cseq.seq, {}).catch(() => {});
      }
      if (!pending.cancelled || entry !== undefined) {
        this.#notifyDialog({ inviteStatus: "confirmed" }, d);
      }
    }
    return d;
  }

  /** A 2xx to a SUBSCRIBE or REFER outside a dialog: the dialog of the subscription (RFC 6665
   * §4.1.2.1, RFC 3515), made here unless a NOTIFY made it first; then its expiry timer. */
  #subscriptionAnswered(req: SipRequest, res: SipResponse, ctx: Ctx): void {
    const known = this.#dialogs.forResponse(res);
    let sub = known === undefined ? undefined : this.#entries.get(known.id);
    if (known === undefined) {
      try {
        sub = this.#addDialog(
          Dialog.asUac(req, res, this.#dialogOptions()),
          streamFlow(ctx),
          subscriptionKey(req),
        );
      } catch {
        // no dialog
      }
    }
    if (sub !== undefined) {
      this.#subArm(sub, subscriptionKey(req), subscriptionExpires(req, res));
    }
  }

  cancelInvite(tx: InviteClientTransaction<Ctx>): "sent" | "pending" | "final" {
    const pending = this.#pending.get(tx);
    if (pending !== undefined) pending.cancelled = true;
    try {
      return this.#tl.cancel(tx);
    } catch (error) {
      this.#log.warn("Cannot CANCEL: {error}", { error: errorText(error) });
      return "final";
    }
  }

  /** Send the ACK for the 2xx of the INVITE with CSeq `cseq` (§13.2.2.4). */
  async sendAck(entry: DialogEntry, cseq: number, options: AckOptions): Promise<void> {
    const dialog = entry.dialog;
    const ack = dialog.createRequest("ACK", { cseq });
    if (options.body !== undefined) {
      ack.body = typeof options.body === "string"
        ? new TextEncoder().encode(options.body)
        : options.body;
      ack.setHeader("Content-Type", options.contentType ?? "application/sdp");
      if (entry.localSdp === undefined && entry.remoteSdp !== undefined) {
        const offer = entry.remoteSdp;
        entry.remoteSdp = undefined;
        this.#offerAnswer(entry, offer, sdpOf(ack), "remote");
      }
    }
    applyHeaders(ack, options.headers, undefined);
    let target: SendTarget;
    if (entry.flow !== undefined && entry.flow.flowId !== undefined) target = { ...entry.flow };
    else {
      const first = dialog.routeSet[0];
      target = await this.#resolveTarget(
        first === undefined ? dialog.remoteTarget : first.uri,
        undefined,
      );
    }
    const l = this.#listenerFor(target.transport, target.host);
    ack.prependHeader(
      "Via",
      `SIP/2.0/${target.transport.toUpperCase()} ${hostForUri(l?.host ?? "127.0.0.1")}:${
        l?.port ?? 5060
      };branch=${generateBranch()};rport`,
    );
    // Only the latest INVITE's ACK is kept.
    if (entry.lastAck === undefined || cseq >= entry.lastAck.cseq) {
      entry.lastAck = { cseq, request: ack };
    }
    const used = await this.transport.sendRequest(ack, target);
    this.#hookOut(ack, used);
  }

  #onResponse(res: SipResponse, tx: ClientTransaction<Ctx> | undefined, _ctx: Ctx): void {
    const pending = tx === undefined ? undefined : this.#pending.get(tx);
    if (pending === undefined || pending.done) {
      // A 2xx retransmission (or a forked 2xx) to one of our INVITEs: resend the ACK, or ACK
      // and BYE a dialog we do not keep (§13.2.2.4).
      if (res.cseq.method === "INVITE" && res.status >= 200 && res.status < 300) {
        this.#strayInvite2xx(res, tx);
      }
      return;
    }
    if (res.status < 200) pending.onProvisional(res);
    else pending.onFinal(res);
  }

  #strayInvite2xx(res: SipResponse, tx: ClientTransaction<Ctx> | undefined): void {
    const id = dialogIdOfResponse(res);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (entry !== undefined) {
      const ack = entry.lastAck?.cseq === res.cseq.seq ? entry.lastAck.request : undefined;
      if (ack !== undefined) {
        const target = entry.flow?.flowId !== undefined
          ? entry.flow
          : tx !== undefined && tx.ctx.kind === "out"
          ? tx.ctx.target
          : undefined;
        if (target !== undefined) this.transport.sendRequest(ack, target).catch(() => {});
        else {
          const first = entry.dialog.routeSet[0];
          const hop = first === undefined ? entry.dialog.remoteTarget : first.uri;
          this.#resolveTarget(hop, undefined).then((t) => this.transport.sendRequest(ack, t))
            .catch(() => {});
        }
      }
      return;
    }
    if (tx === undefined || tx.ctx.kind !== "out") return;
    // A second dialog from a forked INVITE: confirm it with an ACK, then end it with a BYE.
    let d: Dialog;
    try {
      d = Dialog.asUac(tx.request, res, this.#dialogOptions());
    } catch {
      return;
    }
    const e = this.#addDialog(d, streamFlow(tx.ctx), "invite");
    this.sendAck(e, res.cseq.seq, {}).then(() => this.sendInDialog(e, "BYE", {})).catch(
      () => {},
    );
  }

  #onClientFailure(
    tx: ClientTransaction<Ctx> | ServerTransaction<Ctx>,
    status: number,
    reason: string,
    failure: Failure | undefined,
  ): void {
    const pending = this.#pending.get(tx as ClientTransaction<Ctx>);
    if (pending === undefined || pending.done) return;
    pending.fail(status, reason, failure);
  }
}

/** The handle passed to `sipAck`: an ACK has no response. */
class AckCall implements SipCall {
  readonly request: SipRequest;
  readonly #inbound: InboundMessage;
  readonly #entry: DialogEntry;
  readonly #stack: Stack;
  readonly responded = false;
  constructor(stack: Stack, request: SipRequest, inbound: InboundMessage, entry: DialogEntry) {
    this.#stack = stack;
    this.request = request;
    this.#inbound = inbound;
    this.#entry = entry;
  }
  get callId(): string {
    return this.request.callId;
  }
  get method(): string {
    return "ACK";
  }
  get peer(): PeerInfo {
    return peerOf(this.#inbound);
  }
  get dialog(): DialogHandle {
    return this.#entry;
  }
  get capabilities(): Capabilities {
    return this.#stack.capabilities;
  }
  get replied(): boolean {
    return true;
  }
  get uac(): SipUac {
    return this.#stack;
  }
  reply(): boolean {
    return false;
  }
}

/** The subscription usage key of a SUBSCRIBE or REFER (RFC 6665 §4.1.2: the Event type and
 * its `id`; RFC 3515: the event `refer`). */
function subscriptionKey(req: SipRequest): string {
  if (req.method === "REFER") return "sub:refer";
  const { type, id } = parseEvent(req.header("Event") ?? "presence");
  return id === undefined ? `sub:${type}` : `sub:${type};id=${id}`;
}

function parseEvent(value: string): { type: string; id: string | undefined } {
  const [type = "", ...params] = value.split(";");
  let id: string | undefined;
  for (const p of params) {
    const [k, v] = p.split("=");
    if (k?.trim().toLowerCase() === "id" && v !== undefined) id = v.trim();
  }
  return { type: type.trim().toLowerCase(), id };
}

/** The subscription a NOTIFY's Event header belongs to: the same type and id, else the same
 * type without id (an implicit REFER subscription is matched by type). */
function findSubscription(
  subs: ReadonlyMap<string, unknown>,
  event: string | undefined,
): string | undefined {
  if (event === undefined) return undefined;
  const { type, id } = parseEvent(event);
  const exact = id === undefined ? `sub:${type}` : `sub:${type};id=${id}`;
  if (subs.has(exact)) return exact;
  if (subs.has(`sub:${type}`)) return `sub:${type}`;
  return undefined;
}

/** The duration in seconds of a subscription from its 2xx: the 2xx's Expires (RFC 6665
 * §4.1.2.1: the notifier's value wins), else the request's, else 3600 for SUBSCRIBE; REFER
 * has none (it ends with a `terminated` NOTIFY or the idle timeout). */
function subscriptionExpires(req: SipRequest, res: SipResponse): number | undefined {
  for (const v of [res.header("Expires"), req.header("Expires")]) {
    if (v !== undefined && /^\s*\d+\s*$/.test(v)) return Number(v);
  }
  return req.method === "SUBSCRIBE" ? 3600 : undefined;
}

function flowTarget(m: InboundMessage): SendTarget | undefined {
  if (m.flowId === undefined) return undefined;
  return { transport: m.transport, host: m.remote.host, port: m.remote.port, flowId: m.flowId };
}

function streamFlow(ctx: Ctx): SendTarget | undefined {
  if (ctx.kind !== "out") return undefined;
  return ctx.target.flowId === undefined ? undefined : { ...ctx.target };
}

function dialogInfo(entry: DialogEntry): DialogInfo {
  return {
    id: entry.id,
    callId: entry.callId,
    localTag: entry.localTag,
    remoteTag: entry.remoteTag,
    state: entry.state,
    isUac: entry.isUac,
  };
}

/**
 * Create a SIP stack: open the listeners, wire the transport to the transaction layer and
 * the request pipeline.
 *
 * @param options listeners, callbacks, timers and limits; all optional
 * @returns the running stack
 * @throws TransportError when a listener cannot be opened (nothing stays open then)
 */
export async function createSipStack(options: SipStackOptions = {}): Promise<SipStack> {
  let transport = options.transport;
  if (transport === undefined) {
    const t: TransportLayerOptions = { name: options.name ?? "sipkit" };
    if (options.limits !== undefined) {
      const { maxTransactions: _, ...limits } = options.limits;
      t.limits = limits;
    }
    if (options.udpMaxSize !== undefined) t.udpMaxSize = options.udpMaxSize;
    if (options.tls !== undefined) t.tls = options.tls;
    if (options.keepAliveInterval !== undefined) t.keepAliveInterval = options.keepAliveInterval;
    if (options.keepAliveTimeout !== undefined) t.keepAliveTimeout = options.keepAliveTimeout;
    transport = new TransportLayer({ ...t, ...options.transportOptions });
  }
  const stack = new Stack(options, transport);
  try {
    await stack.listen(options.listen ?? []);
  } catch (error) {
    await stack.close(0);
    throw error;
  }
  return stack;
}

/** The body of a message as text when it is SDP, else undefined (helper for callbacks).
 * @param msg a request or response
 * @returns the SDP text or undefined
 */
export function sdpBody(msg: SipMessage): string | undefined {
  return sdpOf(msg);
}

/** Decode a body as UTF-8 (helper for callbacks).
 * @param body the bytes
 * @returns the text
 */
export function bodyText(body: Uint8Array): string {
  return TEXT_DECODER.decode(body);
}
