/**
 * Shared shapes of the service layer: the service status and stop reason, the gen_server
 * caller handle, the message hooks the SIP stack calls for every message in and out, and the
 * contract between the service shell (`service.ts`) and the SIP stack (`sip_stack.ts`).
 *
 * @module
 */

import type { SipMessage } from "../sip/types.ts";
import type { Address, ListenerInfo, TransportName } from "../transport/types.ts";
import type { SipCallbacks } from "./sip_callbacks.ts";

/** The logging methods sipkit hands to plugins and users: a `@logtape/logtape` `Logger`
 * fits. Messages are templates with `{name}` placeholders filled from `properties`. */
export interface LogFunctions {
  /** Log at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Log at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Log at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Log at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** The life cycle of a service. `restarting` is the window between a crash of the service
 * process and the end of the new `init`. */
export type ServiceStatus = "starting" | "running" | "restarting" | "stopping" | "stopped";

/** Why a service stopped: `normal` after {@linkcode Service.stop}, `intensity` when it crashed
 * more often than the restart intensity allows, `init` when `init` failed on a restart. */
export interface StopReason {
  /** The kind of stop. */
  kind: "normal" | "intensity" | "init";
  /** A sentence saying why. */
  message: string;
  /** The error that caused the last crash, if any. */
  error?: unknown;
}

/** The reason handed to `terminate`: a normal stop, or the crash of the service process
 * (then the supervisor restarts it). */
export type TerminateReason =
  | { kind: "normal" }
  | { kind: "crash"; error: unknown }
  | { kind: "intensity"; error: unknown };

/** The caller of a `handleCall`, as OTP's `From`: `handleCall` may return
 * `NO_REPLY` (from `chain.ts`) and answer later with {@linkcode From.reply}. */
export interface From {
  /** A number unique among the calls of this service. */
  readonly id: number;
  /** Aborted when the caller gave up (timeout or its own signal). */
  readonly signal: AbortSignal;
  /** Reply to the caller; later replies are ignored.
   * @param value the reply
   */
  reply(value: unknown): void;
}

/** Where a SIP message was received or sent: given to the message hooks. */
export interface MessageInfo {
  /** The transport. */
  transport: TransportName;
  /** Our address. */
  local: Address;
  /** The peer's address. */
  remote: Address;
  /** The connection id for stream transports, undefined for UDP. */
  flowId?: string | undefined;
}

/** Notifications for every SIP message in and out, fed to the plugins' `sipMessageIn` and
 * `sipMessageOut` hooks. The SIP stack calls these synchronously on its hot path: they never
 * throw (a throwing plugin hook is logged and ignored) and return at once. */
export interface MessageHooks {
  /** A message was received and parsed (before any processing).
   * @param message the message
   * @param info where it came from
   */
  messageIn(message: SipMessage, info: MessageInfo): void;
  /** A message was handed to the transport (retransmissions included).
   * @param message the message
   * @param info where it goes
   */
  messageOut(message: SipMessage, info: MessageInfo): void;
  /** True when some plugin listens, so the stack can skip building `info` otherwise. */
  readonly active: boolean;
}

/** The SIP callbacks as composed chains: every function returns a promise (a rejection means
 * the callback threw). Assignable to `SipCallbacks`. */
export type ComposedSipCallbacks = {
  readonly [K in keyof SipCallbacks]: (
    ...args: Parameters<SipCallbacks[K]>
  ) => Promise<Awaited<ReturnType<SipCallbacks[K]>>>;
};

/** The part of a SIP stack the service shell relies on. The stack is created by
 * `createSipStack` in `sip_stack.ts` and closed by the service on stop. */
export interface SipStackCore {
  /** The open listeners, with the real ports. */
  readonly transports: readonly ListenerInfo[];
  /** Close every listener and connection, after transactions in flight have finished or
   * timed out (bounded). */
  close(): Promise<void>;
}
