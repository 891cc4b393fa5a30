/**
 * The plugin contract and the callback types of a service.
 *
 * A plugin is a value made by {@linkcode definePlugin}: a `name`, optional `deps`, an optional
 * `config` reader (validation and defaults of its section `pluginConfig.<name>`), life-cycle
 * hooks and a partial set of callbacks. For every callback name the service composes, once at
 * start and at every `update` (never per message), a chain (see `chain.ts`):
 *
 *     user callback → plugins (dependants before their dependencies) → built-in default
 *
 * Plugin callbacks are {@linkcode PluginLink}s: `(args, next, ctx)`; return a value to answer,
 * `next()` / `next(changedArgs)` to continue. A plain user callback continues by returning
 * `undefined` (see `chain.ts`).
 *
 * Life cycle of a plugin in a service:
 *
 * - `config(reader)`: at start and at each `update`, validates the plugin's config section;
 * - `start(ctx)`: once when the service starts (or the plugin is added by `update`), in
 *   dependency order (dependencies first); its return value is the plugin's *resource*
 *   (`ctx.resource`): sockets, files, counters that live as long as the service, across
 *   restarts of the service process;
 * - `init(ctx)`: at start and after every crash of the service process: returns the plugin's
 *   *state*, kept in the service state map under the plugin's name (`ctx.state`);
 * - `terminate(reason, ctx)`: when the service process ends (crash or stop);
 * - `update(ctx, previous)`: after `update` changed the service config (`ctx.config` is new);
 * - `stop(ctx)`: once when the service stops (or the plugin is removed by `update`), in
 *   reverse dependency order.
 *
 * Message hooks for the SIP stack: `sipMessageIn(message, info, ctx)` and
 * `sipMessageOut(message, info, ctx)` are notifications (not chains) called for every SIP
 * message received and sent, synchronously; the stack calls them through
 * {@linkcode MessageHooks} (`types.ts`) — `messageIn` right after parsing, `messageOut` each
 * time a message is handed to a transport (retransmissions included). A throwing hook is
 * logged and ignored.
 *
 * @example A plugin that counts OPTIONS and answers them itself
 * ```ts
 * import { definePlugin } from "./plugin.ts";
 * export const counter = definePlugin({
 *   name: "counter",
 *   init: () => ({ options: 0 }),
 *   callbacks: {
 *     sipOptions(_args, _next, ctx) {
 *       ctx.state.options++;
 *       return "ok";
 *     },
 *   },
 * });
 * if (counter.name !== "counter") throw new Error("unexpected");
 * ```
 *
 * @module
 */

import type { Clock } from "../sip/clock.ts";
import type { SipMessage } from "../sip/types.ts";
import type { Next, NoReply, PlainCallback } from "./chain.ts";
import type { ConfigReader } from "./config.ts";
import type { Service } from "./service.ts";
import type { SipCallbacks } from "./sip_callbacks.ts";
import type { From, LogFunctions, MessageInfo, TerminateReason } from "./types.ts";

/** The service state map: shared by the user callbacks and every plugin; each plugin keeps
 * its state under its own name. */
export type StateMap = Record<string, unknown>;

/** The gen_server callbacks that are composed as chains (user → plugins → default). */
export interface GenServerCallbacks {
  /** Handle a synchronous `call`; the result is the reply. Default: reply `undefined`. */
  handleCall(request: unknown, from: From, state: StateMap): unknown;
  /** Handle a `cast`. Default: nothing. */
  handleCast(message: unknown, state: StateMap): void;
  /** Handle any other message (`svc.send`, timers of the user). Default: nothing. */
  handleInfo(message: unknown, state: StateMap): void;
}

/** Every callback that is composed as a chain: the gen_server ones and the SIP ones. */
export type ChainedCallbacks = GenServerCallbacks & SipCallbacks;

/** The name of a chained callback. */
export type CallbackName = keyof ChainedCallbacks;

/** The argument tuple of a chained callback. */
export type CallbackArgs<K extends CallbackName> = Parameters<ChainedCallbacks[K]>;

/** The result of a chained callback. */
export type CallbackResult<K extends CallbackName> = Awaited<ReturnType<ChainedCallbacks[K]>>;

/** What a plugin's hooks and links receive. */
export interface PluginContext<Cfg, S, R> {
  /** The plugin's name. */
  readonly name: string;
  /** The service the plugin runs in. */
  readonly service: Service;
  /** The plugin's validated config (its `pluginConfig` section). */
  readonly config: Cfg;
  /** The plugin's state in the current service process (under `name` in the state map).
   * Reset by `init` after a crash. */
  state: S;
  /** What `start` returned; lives as long as the service. */
  readonly resource: R;
  /** A logger with category `["sipkit", <service name>, "plugin", <plugin name>]`. */
  readonly logger: LogFunctions;
  /** The service clock. */
  readonly clock: Clock;
}

/** A plugin's implementation of a chained callback: answer, or call `next` to continue. */
export type PluginLink<K extends CallbackName, Cfg, S, R> = (
  args: CallbackArgs<K>,
  next: Next<CallbackArgs<K>, CallbackResult<K> | NoReply>,
  ctx: PluginContext<Cfg, S, R>,
) => CallbackResult<K> | NoReply | Promise<CallbackResult<K> | NoReply>;

/** The chained callbacks a plugin may implement. */
export type PluginCallbacks<Cfg, S, R> = {
  [K in CallbackName]?: PluginLink<K, Cfg, S, R>;
};

/** A dependency: a plugin value (added automatically when missing) or a plugin name (which
 * must be in the service's plugin list). */
export type PluginDep = string | Plugin;

/** What {@linkcode definePlugin} takes. */
export interface PluginDefinition<N extends string, Cfg, S, R> {
  /** The plugin's name: its key in the state map and in `pluginConfig`. */
  name: N;
  /** Plugins this one depends on; it runs before them in every chain, starts after them. */
  deps?: readonly PluginDep[];
  /** Read and validate the plugin's config section (missing section: an empty reader), with
   * defaults. Without it, the plugin takes no config (a section for it is an error). */
  config?(reader: ConfigReader): Cfg;
  /** Start: acquire resources that live as long as the service; the value is `ctx.resource`. */
  start?(ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, undefined>): R | Promise<R>;
  /** Build the plugin's state in a new service process (at start and after every crash);
   * `ctx.state` is whatever was there before (undefined at start). */
  init?(ctx: PluginContext<NoInfer<Cfg>, unknown, NoInfer<R>>): S | Promise<S>;
  /** The service process ends (crash or stop). */
  terminate?(
    reason: TerminateReason,
    ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>,
  ): void | Promise<void>;
  /** The service config changed; `ctx.config` is the new config. */
  update?(
    ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>,
    previous: NoInfer<Cfg>,
  ): void | Promise<void>;
  /** Stop: release the resources. */
  stop?(ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>): void | Promise<void>;
  /** Chained callbacks. */
  callbacks?: PluginCallbacks<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>;
  /** Every SIP message received (synchronous notification). */
  sipMessageIn?(
    message: SipMessage,
    info: MessageInfo,
    ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>,
  ): void;
  /** Every SIP message sent (synchronous notification). */
  sipMessageOut?(
    message: SipMessage,
    info: MessageInfo,
    ctx: PluginContext<NoInfer<Cfg>, NoInfer<S>, NoInfer<R>>,
  ): void;
}

/** A plugin context with the types erased, as the service holds it. */
export type AnyPluginContext = PluginContext<unknown, unknown, unknown>;

/** A plugin link with the types erased, as the service holds it. */
export type AnyPluginLink = (
  args: readonly unknown[],
  next: Next<readonly unknown[], unknown>,
  ctx: AnyPluginContext,
) => unknown;

/** The type-erased implementation of a plugin, used by the service. Build it with
 * {@linkcode definePlugin}, never by hand: the casts inside are sound because the service
 * hands every function the context built for that plugin. */
export interface PluginRuntime {
  /** Whether the plugin reads a config section. */
  readonly hasConfig: boolean;
  /** Read the config section. */
  readConfig(reader: ConfigReader): unknown;
  /** The `start` hook. */
  start(ctx: AnyPluginContext): unknown;
  /** The `init` hook (undefined state when absent). */
  init(ctx: AnyPluginContext): unknown;
  /** The `terminate` hook. */
  terminate(reason: TerminateReason, ctx: AnyPluginContext): unknown;
  /** The `update` hook. */
  update(ctx: AnyPluginContext, previous: unknown): unknown;
  /** The `stop` hook. */
  stop(ctx: AnyPluginContext): unknown;
  /** The chained callbacks. */
  readonly links: ReadonlyMap<CallbackName, AnyPluginLink>;
  /** The message-in hook, if any. */
  readonly messageIn:
    | ((message: SipMessage, info: MessageInfo, ctx: AnyPluginContext) => void)
    | undefined;
  /** The message-out hook, if any. */
  readonly messageOut:
    | ((message: SipMessage, info: MessageInfo, ctx: AnyPluginContext) => void)
    | undefined;
}

/** A plugin value, as made by {@linkcode definePlugin}. `S` is the type of its state (see
 * {@linkcode pluginState}). */
export interface Plugin<N extends string = string, S = unknown> {
  /** The plugin's name. */
  readonly name: N;
  /** Its dependencies. */
  readonly deps: readonly PluginDep[];
  /** The implementation, used by the service. */
  readonly runtime: PluginRuntime;
  /** Phantom member carrying the state type; always undefined at run time. */
  readonly stateType?: S;
}

/**
 * Make a plugin value from a definition. The definition is fully typed (config, state,
 * resource); the result is a {@linkcode Plugin} that fits in any service's `plugins` list.
 *
 * @param def the definition
 * @returns the plugin
 * @throws TypeError when the name is empty or a callback is not a function
 */
export function definePlugin<N extends string, Cfg = undefined, S = undefined, R = undefined>(
  def: PluginDefinition<N, Cfg, S, R>,
): Plugin<N, S> {
  if (typeof def.name !== "string" || def.name === "") {
    throw new TypeError("A plugin needs a non-empty name");
  }
  type Ctx = PluginContext<Cfg, S, R>;
  const links = new Map<CallbackName, AnyPluginLink>();
  for (const [name, link] of Object.entries(def.callbacks ?? {})) {
    if (link === undefined) continue;
    if (typeof link !== "function") {
      throw new TypeError(`Plugin ${def.name}: callback ${name} is not a function`);
    }
    links.set(name as CallbackName, link as unknown as AnyPluginLink);
  }
  const msgIn = def.sipMessageIn;
  const msgOut = def.sipMessageOut;
  const runtime: PluginRuntime = Object.freeze({
    hasConfig: def.config !== undefined,
    readConfig: (reader: ConfigReader): unknown => def.config?.(reader),
    start: (ctx: AnyPluginContext): unknown =>
      def.start?.(ctx as unknown as PluginContext<Cfg, S, undefined>),
    init: (ctx: AnyPluginContext): unknown =>
      def.init?.(ctx as unknown as PluginContext<Cfg, unknown, R>),
    terminate: (reason: TerminateReason, ctx: AnyPluginContext): unknown =>
      def.terminate?.(reason, ctx as unknown as Ctx),
    update: (ctx: AnyPluginContext, previous: unknown): unknown =>
      def.update?.(ctx as unknown as Ctx, previous as Cfg),
    stop: (ctx: AnyPluginContext): unknown => def.stop?.(ctx as unknown as Ctx),
    links,
    messageIn: msgIn === undefined
      ? undefined
      : (m: SipMessage, i: MessageInfo, ctx: AnyPluginContext): void =>
        msgIn(m, i, ctx as unknown as Ctx),
    messageOut: msgOut === undefined
      ? undefined
      : (m: SipMessage, i: MessageInfo, ctx: AnyPluginContext): void =>
        msgOut(m, i, ctx as unknown as Ctx),
  });
  return Object.freeze({ name: def.name, deps: Object.freeze([...(def.deps ?? [])]), runtime });
}

/**
 * A plugin's state in a state map (e.g. the `state` argument of `handleCall`), typed.
 *
 * @param state the service state map
 * @param plugin the plugin
 * @returns its state, or undefined when the plugin is not in the service
 */
export function pluginState<S>(state: StateMap, plugin: Plugin<string, S>): S | undefined {
  return state[plugin.name] as S | undefined;
}

/** The user's callbacks: gen_server ones, SIP ones (plain positional functions; returning
 * `undefined` continues to the plugins and the default, `NO_REPLY` stops without a value).
 * `S` is the user's view of the state map. */
export type ServiceCallbacks<S extends object = StateMap> =
  & {
    /** Build the initial state (fill the map in place); runs at start and after every crash,
     * after the plugins' `init`. */
    init?(state: S): void | Promise<void>;
    /** Handle a `call`: the return value is the reply (`undefined` continues to the plugins;
     * the default replies `undefined`). */
    handleCall?(request: unknown, from: From, state: S): unknown;
    /** Handle a `cast`. */
    handleCast?(message: unknown, state: S): void | NoReply | Promise<void | NoReply>;
    /** Handle an info message. */
    handleInfo?(message: unknown, state: S): void | NoReply | Promise<void | NoReply>;
    /** The service process ends: a crash (then it restarts) or a stop. */
    terminate?(reason: TerminateReason, state: S): void | Promise<void>;
  }
  & {
    [K in keyof SipCallbacks]?: PlainCallback<
      Parameters<SipCallbacks[K]>,
      Awaited<ReturnType<SipCallbacks[K]>>
    >;
  };
