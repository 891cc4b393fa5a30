/**
 * The SIP callbacks of a sipkit service (NkSIP's `sip_*` callbacks), their types, and the
 * built-in defaults used when neither the user nor a plugin implements one.
 *
 * A method callback (`sipOptions`, `sipInvite`, ...) receives the request and a
 * {@linkcode SipCall} handle, and returns a {@linkcode ReplyValue} to answer at once, or
 * `undefined` to answer later through `call.reply(...)` (from anywhere, any time).
 *
 * Defaults (as in NkSIP's `nksip_sipapp`):
 *
 * | callback | default |
 * |---|---|
 * | sipGetUserPass | `""` for user `anonymous`, else `false` |
 * | sipAuthorize | `"ok"` |
 * | sipRoute | `"process"` |
 * | sipOptions | 200 with Allow, Accept, Supported (and Allow-Events, Contact) |
 * | sipRegister | 405 with Allow |
 * | sipInvite | 603 Decline |
 * | sipReinvite | calls `sipInvite` |
 * | sipCancel, sipAck | nothing |
 * | sipBye | 200 |
 * | sipUpdate | 603 Decline |
 * | sipInfo | 200 |
 * | sipMessage | 603 Decline |
 * | sipSubscribe | 603 Decline |
 * | sipNotify | 200 |
 * | sipRefer | 603 Decline |
 * | sipPublish | 405 with Allow |
 * | sipDialogUpdate, sipSessionUpdate | nothing |
 *
 * @example
 * ```ts
 * import { defaultSipCallbacks } from "./sip_callbacks.ts";
 * if (typeof defaultSipCallbacks.sipInvite !== "function") throw new Error("missing");
 * ```
 *
 * @module
 */

import type { SipRequest } from "../sip/types.ts";
import { NO_REPLY, type NoReply } from "./chain.ts";
import type { ReplyValue } from "./reply.ts";
import type { DialogHandle, SipUac } from "./sip_stack.ts";

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Where a request came from and on which listener it arrived. */
export interface PeerInfo {
  /** Lower-case transport: `udp`, `tcp`, `tls`, `ws`, `wss`. */
  transport: string;
  /** The remote address. */
  remoteHost: string;
  /** The remote port. */
  remotePort: number;
  /** The local address the request arrived on. */
  localHost: string;
  /** The local port the request arrived on. */
  localPort: number;
}

/** Key of the header values prebuilt from a {@linkcode Capabilities} (`Allow`, `Accept`,
 * `Supported`, and `Allow-Events` when there are events). The SIP stack sets it each time its
 * capabilities change, so the OPTIONS default does not join the lists for every request. */
export const CAPABILITY_HEADERS: unique symbol = Symbol.for("sipkit.capabilityHeaders");

/** What the service offers, used by the OPTIONS default and 405/420 answers. */
export interface Capabilities {
  /** Methods accepted (the Allow header). */
  allow: string[];
  /** Option tags supported (the Supported header). */
  supported: string[];
  /** Body types accepted (the Accept header). */
  accept: string[];
  /** Event packages accepted (the Allow-Events header). */
  events: string[];
  /** The header values built from the lists above, when the SIP stack prebuilt them. */
  readonly [CAPABILITY_HEADERS]?: Readonly<Record<string, string>>;
}

/** The OPTIONS header values of a {@linkcode Capabilities}: `Allow`, `Accept`, `Supported`
 * and, when there are event packages, `Allow-Events`.
 * @param c the capabilities
 * @returns a new record of header values
 */
export function capabilityHeaders(c: Capabilities): Record<string, string> {
  const headers: Record<string, string> = {
    Allow: c.allow.join(", "),
    Accept: c.accept.join(", "),
    Supported: c.supported.join(", "),
  };
  if (c.events.length > 0) headers["Allow-Events"] = c.events.join(", ");
  return headers;
}

/** The state of a dialog as reported to `sipDialogUpdate` (NkSIP's dialog statuses). */
export type DialogStatus =
  | "start"
  | "target_update"
  | {
    inviteStatus:
      | "proceeding_uac"
      | "proceeding_uas"
      | "accepted_uac"
      | "accepted_uas"
      | "confirmed"
      | "bye";
  }
  | { stop: string };

/** The state of an SDP session as reported to `sipSessionUpdate`. */
export type SessionStatus =
  | { start: { local: string; remote: string } }
  | { update: { local: string; remote: string } }
  | "stop";

/** A dialog as seen by callbacks. */
export interface DialogInfo {
  /** A stable id for the dialog (Call-ID plus both tags). */
  id: string;
  /** The Call-ID. */
  callId: string;
  /** The local tag. */
  localTag: string;
  /** The remote tag (empty while unknown). */
  remoteTag: string;
  /** `early`, `confirmed` or `terminated`. */
  state: "early" | "confirmed" | "terminated";
  /** True when we sent the request that created the dialog. */
  isUac: boolean;
}

/** The digest outcome handed to `sipAuthorize` (NkSIP's AuthList). */
export interface AuthInfo {
  /** The request is inside an existing dialog and comes from that dialog's peer. */
  dialog: boolean;
  /** The request comes from the flow of a current registration (set by a registrar). */
  register: boolean;
  /** Per realm: true when some credentials for it were valid, false when all failed. */
  digest: Map<string, boolean>;
}

/** What `sipAuthorize` answers. */
export type AuthorizeResult =
  | "ok"
  | "forbidden"
  | "authenticate"
  | "proxy_authenticate"
  | { authenticate: string }
  | { proxyAuthenticate: string };

/** A set of target URIs for a proxy decision: serial entries, inner arrays in parallel. */
export type UriSet = (string | string[])[];

/** What `sipRoute` answers: process locally, reply at once, or proxy (RFC 3261 §16). */
export type RouteDecision =
  | "process"
  | "process_stateless"
  | "proxy"
  | "proxy_stateless"
  | { reply: ReplyValue }
  | { replyStateless: ReplyValue }
  | { proxy: "ruri" | UriSet; recordRoute?: boolean; route?: string[] }
  | { proxyStateless: "ruri" | UriSet; route?: string[] };

/** Key of the hook through which the default `sipReinvite` calls the service's composed
 * `sipInvite` (set by the SIP stack on its call handles). */
export const REINVITE_FALLBACK: unique symbol = Symbol.for("sipkit.reinviteFallback");

/** The handle of one incoming request, given to every SIP callback. */
export interface SipCall {
  /** The request. */
  readonly request: SipRequest;
  /** Its Call-ID. */
  readonly callId: string;
  /** Its method. */
  readonly method: string;
  /** Where it came from. */
  readonly peer: PeerInfo;
  /** The dialog the request belongs to, if any (for a new INVITE: once a 1xx/2xx with a
   * To tag was sent). Send BYE, re-INVITE, UPDATE, ... through it. */
  readonly dialog: DialogHandle | undefined;
  /** What the service offers (Allow, Supported, Accept, Allow-Events). */
  readonly capabilities: Capabilities;
  /** True once a final response was sent. */
  readonly replied: boolean;
  /** True once any response (provisional or final) was sent through `reply`. */
  readonly responded: boolean;
  /** The UAC API of the stack, to send requests from inside a callback (also on this
   * call: work for one Call-ID is serialized, but a callback's own requests never wait
   * behind it). */
  readonly uac: SipUac;
  /** Send a response, provisional or final, now or later (from any code). Replies after the
   * final one are ignored and return false.
   * @param value the reply
   * @returns true when the response was sent
   */
  reply(value: ReplyValue): boolean;
  /** Set by the SIP stack: run the effective `sipInvite` for this request (used by the
   * default `sipReinvite`). */
  readonly [REINVITE_FALLBACK]?: () => MaybePromise<MethodReply>;
}

/** What a method callback returns: a reply, `undefined` (let the next link, finally the
 * default, answer) or {@linkcode NO_REPLY} (answer later through `call.reply`). */
export type MethodReply = ReplyValue | undefined | NoReply;

/** The SIP callbacks of a service; all optional for users, all present after defaults. */
export interface SipCallbacks {
  /** The password (or a hash) of `user` in `realm`, `true` to accept without checking, or
   * `false` to refuse. */
  sipGetUserPass(
    user: string,
    realm: string,
    request: SipRequest,
    call: SipCall,
  ): MaybePromise<string | boolean>;
  /** Authorize a request given the digest and dialog information. */
  sipAuthorize(auth: AuthInfo, request: SipRequest, call: SipCall): MaybePromise<AuthorizeResult>;
  /** Decide whether to process, reply or proxy a new request. */
  sipRoute(
    scheme: string,
    user: string,
    domain: string,
    request: SipRequest,
    call: SipCall,
  ): MaybePromise<RouteDecision>;
  /** Answer an OPTIONS request. */
  sipOptions(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a new (out-of-dialog) INVITE. */
  sipInvite(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer an in-dialog INVITE (re-INVITE). */
  sipReinvite(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Told that a pending INVITE was cancelled (it has been answered 487). */
  sipCancel(invite: SipRequest, cancel: SipRequest, call: SipCall): MaybePromise<void>;
  /** Told of an ACK to a 2xx of ours. */
  sipAck(request: SipRequest, call: SipCall): MaybePromise<void>;
  /** Answer a BYE (the dialog is already ended). */
  sipBye(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer an UPDATE (RFC 3311). */
  sipUpdate(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer an INFO (RFC 6086). */
  sipInfo(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a MESSAGE (RFC 3428). */
  sipMessage(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a REGISTER. */
  sipRegister(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a SUBSCRIBE (RFC 6665). */
  sipSubscribe(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a NOTIFY (RFC 6665). */
  sipNotify(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a REFER (RFC 3515). */
  sipRefer(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Answer a PUBLISH (RFC 3903). */
  sipPublish(request: SipRequest, call: SipCall): MaybePromise<MethodReply>;
  /** Told that a dialog changed state. */
  sipDialogUpdate(status: DialogStatus, dialog: DialogInfo): MaybePromise<void>;
  /** Told that the SDP session of a dialog started, changed or stopped. */
  sipSessionUpdate(status: SessionStatus, dialog: DialogInfo): MaybePromise<void>;
}

/** The names of all SIP callbacks, in pipeline order first, then methods, then events. */
export const SIP_CALLBACK_NAMES: readonly (keyof SipCallbacks)[] = Object.freeze(
  [
    "sipGetUserPass",
    "sipAuthorize",
    "sipRoute",
    "sipOptions",
    "sipInvite",
    "sipReinvite",
    "sipCancel",
    "sipAck",
    "sipBye",
    "sipUpdate",
    "sipInfo",
    "sipMessage",
    "sipRegister",
    "sipSubscribe",
    "sipNotify",
    "sipRefer",
    "sipPublish",
    "sipDialogUpdate",
    "sipSessionUpdate",
  ] as const,
);

/** A request method and the callback that answers it. */
export type MethodCallbackName =
  | "sipOptions"
  | "sipInvite"
  | "sipReinvite"
  | "sipBye"
  | "sipUpdate"
  | "sipInfo"
  | "sipMessage"
  | "sipRegister"
  | "sipSubscribe"
  | "sipNotify"
  | "sipRefer"
  | "sipPublish";

/** The callback answering a method; INVITE inside a dialog maps to `sipReinvite`.
 * @param method the request method
 * @param inDialog whether the request carries a To tag
 * @returns the callback name, or undefined for a method without one (answered 405)
 */
export function methodCallbackName(
  method: string,
  inDialog: boolean,
): MethodCallbackName | undefined {
  switch (method) {
    case "OPTIONS":
      return "sipOptions";
    case "INVITE":
      return inDialog ? "sipReinvite" : "sipInvite";
    case "BYE":
      return "sipBye";
    case "UPDATE":
      return "sipUpdate";
    case "INFO":
      return "sipInfo";
    case "MESSAGE":
      return "sipMessage";
    case "REGISTER":
      return "sipRegister";
    case "SUBSCRIBE":
      return "sipSubscribe";
    case "NOTIFY":
      return "sipNotify";
    case "REFER":
      return "sipRefer";
    case "PUBLISH":
      return "sipPublish";
    default:
      return undefined;
  }
}

/** The methods advertised in Allow by default. REGISTER and PUBLISH are answered 405 by
 * default (NkSIP), so they are listed only when configured (`allow`) or added by a plugin;
 * their callbacks are still called when a request arrives. */
export const DEFAULT_ALLOW: readonly string[] = Object.freeze([
  "INVITE",
  "ACK",
  "CANCEL",
  "BYE",
  "OPTIONS",
  "INFO",
  "UPDATE",
  "MESSAGE",
  "SUBSCRIBE",
  "NOTIFY",
  "REFER",
]);

/** Every method that has a callback: such requests reach their callback even when not
 * advertised in Allow. */
export const CALLBACK_METHODS: readonly string[] = Object.freeze([
  ...DEFAULT_ALLOW,
  "REGISTER",
  "PUBLISH",
]);

function methodNotAllowed(call: SipCall): ReplyValue | undefined {
  if (call.responded) return undefined;
  const c = call.capabilities;
  return { status: 405, headers: { Allow: c[CAPABILITY_HEADERS]?.Allow ?? c.allow.join(", ") } };
}

/** NkSIP's default implementation of every SIP callback. */
export const defaultSipCallbacks: Readonly<SipCallbacks> = Object.freeze({
  sipGetUserPass(user: string): string | boolean {
    return user === "anonymous" ? "" : false;
  },
  sipAuthorize(): AuthorizeResult {
    return "ok";
  },
  sipRoute(): RouteDecision {
    return "process";
  },
  sipOptions(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    const c = call.capabilities;
    return { status: 200, headers: c[CAPABILITY_HEADERS] ?? capabilityHeaders(c) };
  },
  sipInvite(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "decline";
  },
  sipReinvite(_request: SipRequest, call: SipCall): MaybePromise<MethodReply> {
    // NkSIP: a re-INVITE nobody handles goes to the (composed) sipInvite.
    const invite = call[REINVITE_FALLBACK];
    if (invite !== undefined) return invite();
    return call.responded ? undefined : "decline";
  },
  sipCancel(): void {},
  sipAck(): void {},
  sipBye(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "ok";
  },
  sipUpdate(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "decline";
  },
  sipInfo(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "ok";
  },
  sipMessage(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "decline";
  },
  sipRegister(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    return methodNotAllowed(call);
  },
  sipSubscribe(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "decline";
  },
  sipNotify(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "ok";
  },
  sipRefer(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    if (call.responded) return undefined;
    return "decline";
  },
  sipPublish(_request: SipRequest, call: SipCall): ReplyValue | undefined {
    return methodNotAllowed(call);
  },
  sipDialogUpdate(): void {},
  sipSessionUpdate(): void {},
});

/** Fill in the defaults, with the chain semantics of `chain.ts`: a user callback that
 * returns `undefined` falls through to the default, {@linkcode NO_REPLY} means "answered
 * later through `call.reply`". As in NkSIP, the default `sipReinvite` calls the effective
 * `sipInvite`.
 * @param partial the callbacks implemented by the user
 * @returns a complete set
 */
export function resolveSipCallbacks(partial: Partial<SipCallbacks> = {}): SipCallbacks {
  type Fn = (...args: unknown[]) => unknown;
  const defaults = defaultSipCallbacks as unknown as Record<string, Fn>;
  const given = partial as unknown as Record<string, Fn | undefined>;
  const out: Record<string, Fn> = { ...defaults };
  const wrap = (user: Fn, fallback: () => Fn): Fn => async (...args: unknown[]) => {
    const r = await user(...args);
    return r === undefined ? await fallback()(...args) : r;
  };
  for (const name of SIP_CALLBACK_NAMES) {
    const user = given[name];
    if (typeof user !== "function") continue;
    const fallback = name === "sipReinvite" ? () => out["sipInvite"]! : () => defaults[name]!;
    out[name] = wrap(user, fallback);
  }
  if (typeof given["sipReinvite"] !== "function") {
    out["sipReinvite"] = (...args: unknown[]) => out["sipInvite"]!(...args);
  }
  return out as unknown as SipCallbacks;
}

/** True when a callback result means "answered later" ({@linkcode NO_REPLY}).
 * @param value a callback result
 * @returns whether it is the no-reply marker
 */
export function isNoReply(value: unknown): value is NoReply {
  return value === NO_REPLY;
}
