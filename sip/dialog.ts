/**
 * Dialogs (RFC 3261 §12) with several usages (RFC 5057).
 *
 * A {@linkcode Dialog} holds the dialog state of §12.1: the dialog id (Call-ID, local tag,
 * remote tag), local and remote sequence numbers, local and remote URI (the From/To values),
 * the remote target and the route set. It builds in-dialog requests (§12.2.1.1, including
 * strict routing, §16.12) and checks in-dialog requests (§12.2.2).
 *
 * | State     | Event                                                        | Next       |
 * | --------- | ------------------------------------------------------------ | ---------- |
 * | (none)    | UAC: 1xx with To tag (§12.1.2) / UAS: 1xx sent (§12.1.1)     | early      |
 * | (none)    | UAC: 2xx received / UAS: 2xx sent                            | confirmed  |
 * | early     | 2xx for the INVITE (route set recomputed, §13.2.2.4)          | confirmed  |
 * | early     | 300-699 for the INVITE (§12.3)                               | terminated |
 * | any       | 481 or 408 to an in-dialog request (§12.2.1.2)                | terminated |
 * | any       | BYE sent or received (§15), no usage but INVITE (RFC 5057)   | terminated |
 * | any       | last usage removed (RFC 5057 §5)                             | terminated |
 * | any       | no activity for the idle timeout                             | terminated |
 *
 * @module
 */

import { ownString } from "./message.ts";
import { parseNameAddr } from "./header_parsers.ts";
import { parseUri } from "./uri.ts";
import { parsedOrUndefined } from "./errors.ts";
import { createRequest as buildRequest } from "./builders.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import type { HeaderValue, NameAddr, SipRequest, SipResponse, Uri } from "./types.ts";

/** The dialog states (§12). */
export type DialogState = "early" | "confirmed" | "terminated";

/** Which side created the dialog: `uac` sent the dialog-creating request. */
export type DialogRole = "uac" | "uas";

/** Why a dialog ended. */
export type DialogEndReason =
  | "bye"
  | "rejected"
  | "481"
  | "408"
  | "idle"
  | "no-usage"
  | "local";

/** Methods that refresh the remote target (§12.2, RFC 3311, RFC 3265, RFC 3515). */
export const TARGET_REFRESH_METHODS: ReadonlySet<string> = new Set([
  "INVITE",
  "UPDATE",
  "SUBSCRIBE",
  "NOTIFY",
  "REFER",
]);

/** Options common to dialog constructors. */
export interface DialogOptions {
  /** Clock for the idle timeout; default the system clock. */
  clock?: Clock;
  /** End the dialog after this many ms without a request or response; omitted: never. */
  idleTimeout?: number;
  /** Called once when the dialog ends. */
  onTerminated?: (dialog: Dialog, reason: DialogEndReason) => void;
  /** Random source for the first local CSeq of a UAS dialog (default Math.random). */
  random?: () => number;
  /** True when the dialog-creating request came over TLS with a SIPS Request-URI (§12.1). */
  secure?: boolean;
}

/** Options for {@linkcode Dialog.createRequest}. */
export interface InDialogRequestOptions {
  /** CSeq number for ACK and CANCEL (that of the INVITE); other methods take the next
   * local sequence number. */
  cseq?: number;
  /** Contact value; target refresh requests must carry one (§12.2.1.1). */
  contact?: HeaderValue;
  /** Via value(s) when the caller knows them; otherwise the transport adds its own. */
  via?: HeaderValue | HeaderValue[];
  /** More headers, in order. */
  headers?: [string, HeaderValue][];
  /** The body. */
  body?: string | Uint8Array;
  /** Its Content-Type. */
  contentType?: string;
}

/** A §12.2.2 rejection: the status to answer an in-dialog request with. */
export interface DialogRejection {
  /** The status code. */
  status: number;
  /** The reason phrase. */
  reason: string;
}

/**
 * The dialog id as a single string key (§12: Call-ID, local tag, remote tag).
 *
 * @param callId the Call-ID
 * @param localTag the local tag
 * @param remoteTag the remote tag
 * @returns the key
 */
export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

/**
 * The id of the dialog an incoming request belongs to (local tag = To tag, remote tag =
 * From tag), or undefined when the request has no To tag (it is not in a dialog).
 *
 * @param req the incoming request
 * @returns the key or undefined
 */
export function dialogIdOfRequest(req: SipRequest): string | undefined {
  const local = req.to.tag;
  if (local === undefined) return undefined;
  return dialogId(req.callId, local, req.from.tag ?? "");
}

/**
 * The id of the dialog a response to one of our requests belongs to (local tag = From tag,
 * remote tag = To tag), or undefined when the response has no To tag.
 *
 * @param res the response
 * @returns the key or undefined
 */
export function dialogIdOfResponse(res: SipResponse): string | undefined {
  const remote = res.to.tag;
  if (remote === undefined) return undefined;
  return dialogId(res.callId, res.from.tag ?? "", remote);
}

/** A tag as `createResponse` writes it: a non-empty token (RFC 3261 §25.1). */
const TAG_TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * The To tag of a response to `request`. When the response's To is the request's To (a
 * name-addr in angle brackets, without a tag) followed by `;tag=<token>`, as
 * `createResponse` writes it, the tag is read off the text: the parse would give the same
 * token, and a UAS answering thousands of INVITEs a second skips a name-addr parse per call.
 * Anything else is parsed.
 */
function responseToTag(
  request: SipRequest,
  response: SipResponse,
  toText: string | undefined,
): string | undefined {
  const requestTo = request.header("To");
  if (
    toText !== undefined && requestTo !== undefined && requestTo.includes("<") &&
    toText.length > requestTo.length + 5 && toText.startsWith(requestTo) &&
    toText.startsWith(";tag=", requestTo.length) && request.to.tag === undefined
  ) {
    const tag = toText.slice(requestTo.length + 5);
    if (TAG_TOKEN_RE.test(tag)) return tag;
  }
  return response.to.tag;
}

function contactTarget(msg: SipRequest | SipResponse): Uri | undefined {
  const c = msg.contacts[0];
  return c === undefined || c.star ? undefined : ownUri(c.uri);
}

/** The URI parsed again from its own copy of its text: a parsed URI keeps substrings of the
 * message it came from, and a dialog keeps its target for its whole life (see `ownString`). */
function ownUri(uri: Uri): Uri {
  return parseUri(ownString(String(uri)));
}

/** A route entry parsed again from its own copy of its text (as {@linkcode ownUri}). */
function ownNameAddr(value: NameAddr): NameAddr {
  return parseNameAddr(ownString(String(value)));
}

/**
 * A SIP dialog (RFC 3261 §12).
 *
 * @example The UAC side of a dialog and a BYE built in it
 * ```ts
 * import { Dialog } from "./dialog.ts";
 * import { createRequest, createResponse } from "./builders.ts";
 *
 * const invite = createRequest({
 *   method: "INVITE",
 *   uri: "sip:bob@example.com",
 *   from: "<sip:alice@example.com>;tag=a1",
 *   to: "sip:bob@example.com",
 *   via: "SIP/2.0/UDP 192.0.2.1:5060",
 *   contact: "<sip:alice@192.0.2.1>",
 * });
 * const ok = createResponse(invite, 200, "OK", { toTag: "b1" });
 * ok.setHeader("Contact", "<sip:bob@192.0.2.2>");
 * ok.setHeader("Record-Route", "<sip:proxy.example.com;lr>");
 * const dialog = Dialog.asUac(invite, ok);
 * const bye = dialog.createRequest("BYE");
 * if (bye.uri.toString() !== "sip:bob@192.0.2.2") throw new Error("remote target");
 * if (bye.cseq.seq !== invite.cseq.seq + 1) throw new Error("CSeq");
 * if (bye.routes[0]?.uri.host !== "proxy.example.com") throw new Error("route set");
 * ```
 */
export class Dialog {
  /** The Call-ID. */
  readonly callId: string;
  /** The local tag. */
  readonly localTag: string;
  /** The remote tag. */
  readonly remoteTag: string;
  /** `uac` when we sent the dialog-creating request. */
  readonly role: DialogRole;
  /** §12.1: TLS and a SIPS Request-URI. */
  readonly secure: boolean;
  /** The local party: our From value in requests we send (with our tag). */
  readonly localParty: string;
  /** The remote party: our To value in requests we send (with the remote tag). */
  readonly remoteParty: string;
  /** The local sequence number; undefined until we first send (UAS side). */
  localSeq: number | undefined;
  /** The remote sequence number; undefined until the peer first sends. */
  remoteSeq: number | undefined;
  /** The remote target (the peer's Contact URI). */
  remoteTarget: Uri;
  /** The route set, in the order to use it (§12.1.1, §12.1.2). */
  routeSet: NameAddr[];
  /** Free slot for the TU (e.g. the INVITE session). */
  owner: unknown = undefined;
  #state: DialogState;
  readonly #usages = new Set<string>();
  readonly #clock: Clock;
  readonly #idle: number | undefined;
  #idleTimer: TimerId | undefined = undefined;
  #lastActivity: number;
  #onTerminated: ((dialog: Dialog, reason: DialogEndReason) => void) | undefined;
  readonly #random: () => number;
  readonly #onIdle = (): void => this.#idleCheck();
  readonly #id: string;

  /** Use {@linkcode Dialog.asUac} or {@linkcode Dialog.asUas}.
   * @param init every field of the dialog state
   * @param options clock, idle timeout, callbacks
   */
  constructor(
    init: {
      callId: string;
      localTag: string;
      remoteTag: string;
      role: DialogRole;
      state: DialogState;
      localParty: string;
      remoteParty: string;
      localSeq: number | undefined;
      remoteSeq: number | undefined;
      remoteTarget: Uri;
      routeSet: NameAddr[];
    },
    options: DialogOptions = {},
  ) {
    // Own copies: these strings are often cut out of the message that created the dialog,
    // and a substring can keep that whole message text alive for the dialog's lifetime.
    this.callId = ownString(init.callId);
    this.localTag = ownString(init.localTag);
    this.remoteTag = ownString(init.remoteTag);
    this.#id = dialogId(this.callId, this.localTag, this.remoteTag);
    this.role = init.role;
    this.#state = init.state;
    this.localParty = ownString(init.localParty);
    this.remoteParty = ownString(init.remoteParty);
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet.map(ownNameAddr);
    this.secure = options.secure ?? false;
    this.#clock = options.clock ?? systemClock;
    this.#idle = options.idleTimeout;
    this.#onTerminated = options.onTerminated;
    this.#random = options.random ?? Math.random;
    this.#lastActivity = this.#clock.now();
    if (this.#idle !== undefined) {
      this.#idleTimer = this.#clock.setTimeout(this.#onIdle, this.#idle);
    }
  }

  /**
   * The UAC side of a dialog (§12.1.2), from the request we sent and a 101-299 response
   * with a To tag. Route set: the response's Record-Route in reverse order; remote target:
   * its Contact, or the request's Request-URI when the response has none. A Contact or
   * Record-Route that does not parse counts as absent (the peer's 2xx must still be ACKed).
   *
   * @param request the dialog-creating request as sent
   * @param response the 1xx (early) or 2xx (confirmed) response with a To tag
   * @param options clock, idle timeout, callbacks
   * @returns the dialog
   */
  static asUac(request: SipRequest, response: SipResponse, options: DialogOptions = {}): Dialog {
    const remoteTag = response.to.tag;
    if (remoteTag === undefined || response.status < 101 || response.status >= 300) {
      throw new TypeError("A dialog needs a 101-299 response with a To tag (RFC 3261 §12.1).");
    }
    return new Dialog({
      callId: request.callId,
      localTag: request.from.tag ?? "",
      remoteTag,
      role: "uac",
      state: response.status < 200 ? "early" : "confirmed",
      localParty: request.header("From") ?? "",
      remoteParty: response.header("To") ?? "",
      localSeq: request.cseq.seq,
      remoteSeq: undefined,
      // A Contact or Record-Route that does not parse is taken as absent: the 2xx must still
      // be ACKed (§13.2.2.4), and a dialog without them can still be ended with a BYE.
      remoteTarget: parsedOrUndefined(() => contactTarget(response)) ?? request.uri,
      routeSet: parsedOrUndefined(() => [...response.recordRoutes].reverse()) ?? [],
    }, options);
  }

  /**
   * The UAS side of a dialog (§12.1.1), from the request received and the 101-299 response
   * we send (with our To tag). Route set: the request's Record-Route in order; remote
   * target: its Contact.
   *
   * @param request the dialog-creating request
   * @param response the 1xx (early) or 2xx (confirmed) response we send
   * @param options clock, idle timeout, callbacks
   * @returns the dialog
   */
  static asUas(request: SipRequest, response: SipResponse, options: DialogOptions = {}): Dialog {
    const toText = response.header("To");
    const localTag = responseToTag(request, response, toText);
    if (localTag === undefined || response.status < 101 || response.status >= 300) {
      throw new TypeError("A dialog needs a 101-299 response with a To tag (RFC 3261 §12.1).");
    }
    return new Dialog({
      callId: request.callId,
      localTag,
      remoteTag: request.from.tag ?? "",
      role: "uas",
      state: response.status < 200 ? "early" : "confirmed",
      localParty: toText ?? "",
      remoteParty: request.header("From") ?? "",
      localSeq: undefined,
      remoteSeq: request.cseq.seq,
      remoteTarget: contactTarget(request) ?? request.uri,
      routeSet: [...request.recordRoutes],
    }, options);
  }

  /** The dialog id key ({@linkcode dialogId}); built once (its parts never change), so
   * table lookups hash one flat string instead of a fresh concatenation each time. */
  get id(): string {
    return this.#id;
  }

  /** The state. */
  get state(): DialogState {
    return this.#state;
  }

  /** The active usages (RFC 5057), e.g. `invite`, `subscription:presence;id=1`. */
  get usages(): ReadonlySet<string> {
    return this.#usages;
  }

  /** Running timers (0 or 1, for leak checks). */
  get activeTimers(): number {
    return this.#idleTimer === undefined ? 0 : 1;
  }

  /** Replace the termination callback (used by {@linkcode DialogTable}). */
  set onTerminated(fn: ((dialog: Dialog, reason: DialogEndReason) => void) | undefined) {
    this.#onTerminated = fn;
  }

  /** The termination callback. */
  get onTerminated(): ((dialog: Dialog, reason: DialogEndReason) => void) | undefined {
    return this.#onTerminated;
  }

  /** Add a usage (RFC 5057 §3). */
  addUsage(name: string): void {
    if (this.#state !== "terminated") this.#usages.add(name);
  }

  /** Remove a usage; the dialog ends with its last usage (RFC 5057 §5). */
  removeUsage(name: string): void {
    if (!this.#usages.delete(name)) return;
    if (this.#usages.size === 0) this.terminate("no-usage");
  }

  /** Note activity now (restarts the idle timeout). */
  touch(): void {
    this.#lastActivity = this.#clock.now();
  }

  /**
   * Build a request within the dialog (§12.2.1.1): To = remote party, From = local party,
   * Call-ID, CSeq (next local number, or the given one for ACK/CANCEL), Request-URI and
   * Route from the remote target and the route set, loose or strict routing.
   *
   * @param method the method
   * @param options CSeq for ACK/CANCEL, Contact, Via, headers, body
   * @returns the request (without Via unless given: the transport adds it)
   */
  createRequest(method: string, options: InDialogRequestOptions = {}): SipRequest {
    let seq: number;
    if (method === "ACK" || method === "CANCEL") {
      if (options.cseq === undefined) {
        throw new TypeError(`${method} takes the CSeq number of the INVITE it belongs to.`);
      }
      seq = options.cseq;
    } else {
      // §8.1.1.5 / §12.2.1.1: the first request of a UAS picks a random start below 2**31.
      const base = this.localSeq ?? Math.floor(this.#random() * 0x10000);
      seq = base + 1;
      this.localSeq = seq;
    }
    const headers: [string, HeaderValue][] = [];
    let uri: Uri;
    const first = this.routeSet[0];
    if (first === undefined) {
      uri = this.remoteTarget;
    } else if (first.uri.params.has("lr")) {
      uri = this.remoteTarget;
      for (const r of this.routeSet) headers.push(["Route", r.toString()]);
    } else {
      // §12.2.1.1 strict routing: the first route becomes the Request-URI (with no
      // parameters a Request-URI may not carry), the remote target goes last.
      uri = first.uri.clone();
      uri.headers.clear();
      uri.params.delete("method");
      for (const r of this.routeSet.slice(1)) headers.push(["Route", r.toString()]);
      headers.push(["Route", `<${this.remoteTarget}>`]);
    }
    if (options.headers !== undefined) headers.push(...options.headers);
    this.touch();
    return buildRequest({
      method,
      uri: uri.clone(),
      from: this.localParty,
      to: this.remoteParty,
      callId: this.callId,
      cseq: seq,
      headers,
      ...(options.via === undefined ? {} : { via: options.via }),
      ...(options.contact === undefined ? {} : { contact: options.contact }),
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    });
  }

  /**
   * Check and apply an incoming in-dialog request (§12.2.2): a CSeq lower than the remote
   * sequence number is rejected with 500 (ACK and CANCEL excepted, they reuse the INVITE's);
   * target refresh requests update the remote target from their Contact; BYE ends the
   * dialog (the caller still answers 200).
   *
   * @param req the request
   * @returns the rejection to send, or undefined
   */
  receiveRequest(req: SipRequest): DialogRejection | undefined {
    if (this.#state === "terminated") {
      return { status: 481, reason: "Call/Transaction Does Not Exist" };
    }
    const method = req.method;
    this.touch();
    if (method === "ACK" || method === "CANCEL") return undefined;
    const seq = req.cseq.seq;
    if (this.remoteSeq !== undefined && seq < this.remoteSeq) {
      return { status: 500, reason: "Out of order CSeq" };
    }
    this.remoteSeq = seq;
    if (TARGET_REFRESH_METHODS.has(method)) {
      const target = contactTarget(req);
      if (target !== undefined) this.remoteTarget = target;
    }
    if (method === "BYE") {
      // RFC 5057 §5.4.1: BYE ends the INVITE usage; the dialog ends with its last usage.
      this.#usages.delete("invite");
      if (this.#usages.size === 0) this.terminate("bye");
    }
    return undefined;
  }

  /**
   * Apply a response to a request we sent in (or to create) this dialog: 2xx to the
   * INVITE confirms an early dialog and recomputes the route set (§13.2.2.4); a 2xx to a
   * target refresh request updates the remote target (§12.2.1.2); 481 and 408 end the
   * dialog (§12.2.1.2); a 300-699 to the INVITE ends an early dialog (§12.3).
   *
   * @param res the response (its CSeq method names the request)
   */
  receiveResponse(res: SipResponse): void {
    if (this.#state === "terminated") return;
    this.touch();
    const status = res.status;
    const method = res.cseq.method;
    if (status === 481 || status === 408) {
      this.terminate(status === 481 ? "481" : "408");
      return;
    }
    if (status >= 200 && status < 300) {
      if (this.#state === "early" && method === "INVITE") {
        this.#state = "confirmed";
        if (this.role === "uac") {
          // A Record-Route the peer garbled keeps the early dialog's route set.
          const routes = parsedOrUndefined(() => res.recordRoutes.map(ownNameAddr).reverse());
          if (routes !== undefined) this.routeSet = routes;
        }
      }
      if (TARGET_REFRESH_METHODS.has(method)) this.#refreshTarget(res);
      return;
    }
    if (status < 200) {
      if (this.#state === "early" && method === "INVITE") this.#refreshTarget(res);
      return;
    }
    if (this.#state === "early" && method === "INVITE") this.terminate("rejected");
  }

  /** Take the remote target from a response's Contact (§12.2.1.2); a Contact the peer
   * garbled keeps the current target instead of failing the response. */
  #refreshTarget(res: SipResponse): void {
    const target = parsedOrUndefined(() => contactTarget(res));
    if (target !== undefined) this.remoteTarget = target;
  }

  /** Mark an early UAS dialog confirmed (we sent the 2xx, §12.1.1). */
  confirm(): void {
    if (this.#state === "early") this.#state = "confirmed";
  }

  /** End the dialog: stop the idle timer, drop the usages, tell the owner. */
  terminate(reason: DialogEndReason = "local"): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    this.#usages.clear();
    if (this.#idleTimer !== undefined) {
      this.#clock.clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    this.#onTerminated?.(this, reason);
  }

  #idleCheck(): void {
    this.#idleTimer = undefined;
    if (this.#state === "terminated" || this.#idle === undefined) return;
    const elapsed = this.#clock.now() - this.#lastActivity;
    if (elapsed >= this.#idle) {
      this.terminate("idle");
      return;
    }
    // One timer per dialog: activity only records a time; the timer re-arms itself.
    this.#idleTimer = this.#clock.setTimeout(this.#onIdle, this.#idle - elapsed);
  }
}

/** The dialogs of one service, by id; a dialog leaves the table when it terminates. */
export class DialogTable {
  readonly #dialogs = new Map<string, Dialog>();

  /** Number of live dialogs. */
  get size(): number {
    return this.#dialogs.size;
  }

  /** Running dialog timers (for leak checks). */
  get timerCount(): number {
    let n = 0;
    for (const d of this.#dialogs.values()) n += d.activeTimers;
    return n;
  }

  /** Add a dialog; it is removed automatically when it terminates. */
  add(dialog: Dialog): void {
    if (dialog.state === "terminated") return;
    const previous = dialog.onTerminated;
    dialog.onTerminated = (d, reason) => {
      if (this.#dialogs.get(d.id) === d) this.#dialogs.delete(d.id);
      previous?.(d, reason);
    };
    this.#dialogs.set(dialog.id, dialog);
  }

  /** The dialog with this id. */
  get(id: string): Dialog | undefined {
    return this.#dialogs.get(id);
  }

  /** The dialog an incoming request belongs to. */
  forRequest(req: SipRequest): Dialog | undefined {
    const id = dialogIdOfRequest(req);
    return id === undefined ? undefined : this.#dialogs.get(id);
  }

  /** The dialog a response to our request belongs to. */
  forResponse(res: SipResponse): Dialog | undefined {
    const id = dialogIdOfResponse(res);
    return id === undefined ? undefined : this.#dialogs.get(id);
  }

  /** All live dialogs. */
  values(): IterableIterator<Dialog> {
    return this.#dialogs.values();
  }

  /** Terminate every dialog. */
  clear(): void {
    for (const d of [...this.#dialogs.values()]) d.terminate("local");
    this.#dialogs.clear();
  }
}
