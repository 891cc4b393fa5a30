/**
 * A sipkit service: a named, supervised process with gen_server semantics (a mailbox for
 * `call`, `cast` and `send`), service variables, a plugin set with composed callback chains,
 * live `update`, and (through the SIP stack) SIP listeners and a UAC API.
 *
 * - `handleCall`, `handleCast` and `handleInfo` run one at a time through the mailbox.
 * - A throw in one of them crashes the *service process*: the pending `call` rejects with the
 *   error, queued calls reject with {@linkcode ServiceRestartedError}, `terminate` runs, and
 *   the supervisor restarts the process: a fresh state map, the plugins' `init`, then the
 *   user's `init`. Service variables, listeners and plugin resources survive. More than
 *   `restart.intensity` restarts within `restart.period` ms stop the service; the reason is
 *   logged and resolves {@linkcode Service.stopped}.
 * - `stop()` handles the messages already queued, runs `terminate`, stops the plugins,
 *   closes the listeners and drops the service variables.
 *
 * @example A counter service
 * ```ts
 * import { start } from "./service.ts";
 * const dir = await Deno.makeTempDir();
 * const svc = await start<{ count: number }>("counter-doc", {
 *   dataDir: dir,
 *   callbacks: {
 *     init(state) { state.count = 0; },
 *     handleCall(_request, _from, state) { return ++state.count; },
 *   },
 * });
 * await svc.call("incr");
 * if ((await svc.call("incr")) !== 2) throw new Error("expected 2");
 * await svc.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { AsyncLocalStorage, createHash, getLogger, type Logger } from "../deps.ts";
import type { Clock } from "../sip/clock.ts";
import type { SipMessage } from "../sip/types.ts";
import type { ListenerInfo } from "../transport/types.ts";
import {
  type Chain,
  composeMaybe,
  composeRaw,
  fromCallback,
  isThenable,
  type Link,
  NO_REPLY,
} from "./chain.ts";
import {
  ConfigError,
  mergeConfig,
  orderPlugins,
  resolveConfig,
  type ServiceConfig,
  type ServiceConfigInput,
} from "./config.ts";
import { Mailbox } from "./mailbox.ts";
import type { AnyPluginContext, CallbackName, Plugin, StateMap } from "./plugin.ts";
import { defaultRegistry, type ServiceRegistry } from "./registry.ts";
import {
  DEFAULT_ALLOW,
  defaultSipCallbacks,
  SIP_CALLBACK_NAMES,
  type SipCallbacks,
} from "./sip_callbacks.ts";
import {
  createSipStack,
  type InviteOptions,
  type InviteResult,
  type SipStack,
  type SipStackOptions,
  type UacOptions,
  type UacResult,
} from "./sip_stack.ts";
import { RestartIntensity } from "./supervisor.ts";
import type {
  ComposedSipCallbacks,
  From,
  LogFunctions,
  MessageHooks,
  MessageInfo,
  ServiceStatus,
  StopReason,
  TerminateReason,
} from "./types.ts";

/** Options of {@linkcode Service.call}. */
export interface CallOptions {
  /** Milliseconds to wait for the reply (default: the `callTimeout` option, 5000). */
  timeout?: number;
  /** Abort the wait. */
  signal?: AbortSignal;
}

/** Thrown by `call` when the service is stopped or stopping. */
export class ServiceStoppedError extends Error {
  /** Create the error.
   * @param name the service name
   */
  constructor(name: string) {
    super(`Service "${name}" is stopped`);
    this.name = "ServiceStoppedError";
  }
}

/** Rejects the calls that were queued (or awaiting a deferred reply) when the service process
 * crashed; `cause` is the crash error. */
export class ServiceRestartedError extends Error {
  /** Create the error.
   * @param name the service name
   * @param cause the crash error
   */
  constructor(name: string, cause: unknown) {
    super(`Service "${name}" crashed and restarted before answering this call`, { cause });
    this.name = "ServiceRestartedError";
  }
}

/** Thrown by `call` made from inside the service's own `handleCall`, `handleCast`,
 * `handleInfo`, `init` or `terminate`: the mailbox handles one message at a time, so the
 * call could never be answered. */
export class SelfCallError extends Error {
  /** Create the error.
   * @param name the service name
   */
  constructor(name: string) {
    super(
      `call() to service "${name}" from inside its own handleCall/handleCast/handleInfo would ` +
        "deadlock (the mailbox runs one message at a time); use cast(), or run the logic directly",
    );
    this.name = "SelfCallError";
  }
}

/** Rejects a `call` whose reply did not arrive within the timeout. */
export class CallTimeoutError extends Error {
  /** Create the error.
   * @param name the service name
   * @param ms the timeout
   */
  constructor(name: string, ms: number) {
    super(`call() to service "${name}" got no reply within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * The internal id of a service: a short stable hash of its name (the first 40 bits of the
 * SHA-1 of the UTF-8 name, as 8 lower-case base32 characters).
 *
 * @param name the service name
 * @returns the id
 */
export function serviceId(name: string): string {
  const digest = createHash("sha1").update(name, "utf8").digest();
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(digest[i] ?? 0);
  let out = "";
  for (let i = 7; i >= 0; i--) out += alphabet[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * Read the service UUID from `<dataDir>/<id>.uuid`, or create it (RFC 4122 version 4) and
 * persist it. A file with invalid content is replaced (with a warning).
 *
 * @param dataDir the data directory (created when missing)
 * @param id the service id
 * @param logger where to warn
 * @returns the UUID
 */
export async function loadOrCreateUuid(
  dataDir: string,
  id: string,
  logger?: LogFunctions,
): Promise<string> {
  const file = `${dataDir}/${id}.uuid`;
  try {
    const text = (await Deno.readTextFile(file)).trim();
    if (UUID_RE.test(text)) return text.toLowerCase();
    logger?.warn("Invalid UUID file {file}; writing a new UUID", { file });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return await writeUuid(dataDir, id, crypto.randomUUID());
}

async function writeUuid(dataDir: string, id: string, uuid: string): Promise<string> {
  await Deno.mkdir(dataDir, { recursive: true });
  const file = `${dataDir}/${id}.uuid`;
  const tmp = `${file}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, uuid + "\n");
  await Deno.rename(tmp, file);
  return uuid;
}

type Envelope =
  | {
    kind: "call";
    request: unknown;
    from: PendingFrom;
    started: boolean;
  }
  | { kind: "cast"; message: unknown }
  | { kind: "info"; message: unknown }
  | { kind: "control"; run: () => Promise<void> };

interface PendingFrom extends From {
  settled: boolean;
  fail(error: unknown): void;
}

interface Frame {
  active: boolean;
}

interface PluginSlot {
  plugin: Plugin;
  config: unknown;
  resource: unknown;
  ctx: AnyPluginContext;
}

type AnyChain = Chain<readonly unknown[], unknown>;

const GEN_SERVER_CHAINS = ["handleCall", "handleCast", "handleInfo"] as const;

function isStopping(status: ServiceStatus): boolean {
  return status === "stopping" || status === "stopped";
}

/** A running service. Create one with {@linkcode start}. */
export class Service<S extends object = StateMap> implements AsyncDisposable {
  /** The service name. */
  readonly name: string;
  /** The internal id: a short stable hash of the name. */
  readonly id: string;
  /** Resolves when the service has stopped, with the reason. */
  readonly stopped: Promise<StopReason>;

  #uuid = "";
  #status: ServiceStatus = "starting";
  #config: ServiceConfig<S>;
  #input: unknown;
  #vars = new Map<string, unknown>();
  #state: StateMap = {};
  #generation = 0;
  #deferred = new Set<PendingFrom>();
  #mailbox: Mailbox<Envelope>;
  #intensity: RestartIntensity;
  #frames = new AsyncLocalStorage<Frame>();
  #slots: PluginSlot[] = [];
  #chains = new Map<CallbackName, AnyChain>();
  /** SIP callbacks with no user callback and no plugin link, by name: the stack calls the
   * built-in default directly (no chain, no promise). */
  #defaultOnly = new Set<CallbackName>();
  /** Per SIP callback name, the chain as the SIP stack calls it: synchronous while every
   * link that runs answers synchronously (see `composeMaybe`), `NO_REPLY` mapped to
   * `undefined`. */
  #stackChains = new Map<CallbackName, (...args: unknown[]) => unknown>();
  #hooksIn: PluginSlot[] = [];
  #hooksOut: PluginSlot[] = [];
  #registry: ServiceRegistry;
  #logger: Logger;
  #nextFrom = 1;
  #restarts = 0;
  #stack: SipStack | undefined;
  #updating: Promise<void> = Promise.resolve();
  #resolveStopped: (reason: StopReason) => void = () => {};
  #stopReason: StopReason | undefined;
  /** The SIP callbacks as composed chains: a stable object for the SIP stack. */
  readonly #sipFacade: ComposedSipCallbacks;
  /** The SIP callbacks handed to the SIP stack: one property per name, set at every
   * (re)composition to the built-in default itself when nothing else is in its chain (so the
   * stack can call it synchronously, or skip it), else to a function running the chain. */
  readonly #stackCallbacks: Record<string, (...args: unknown[]) => unknown> = {};
  /** The message hooks for the SIP stack. */
  readonly #hooks: MessageHooks;

  /** Use {@linkcode start}: this constructor does not start anything.
   * @param name the service name
   * @param config the resolved config
   * @param input the raw config input (kept for `update`)
   */
  constructor(name: string, config: ServiceConfig<S>, input: unknown) {
    this.name = name;
    this.id = serviceId(name);
    this.#config = config;
    this.#input = input;
    this.#registry = config.registry ?? defaultRegistry();
    this.#logger = getLogger(["sipkit", name, "service"]);
    this.#intensity = new RestartIntensity(config.restart, config.clock);
    this.#mailbox = new Mailbox<Envelope>(
      (env) => this.#handle(env),
      (error) => this.#logger.error("Mailbox handler failed: {error}", { error }),
    );
    // Messages sent while starting (e.g. by a plugin's start hook) wait for init.
    this.#mailbox.pause();
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    const facade: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const name of SIP_CALLBACK_NAMES) {
      facade[name] = (...args: unknown[]) => this.#chain(name)(args);
    }
    this.#sipFacade = facade as unknown as ComposedSipCallbacks;
    const hooks = (which: "in" | "out") => (message: SipMessage, info: MessageInfo): void => {
      for (const slot of which === "in" ? this.#hooksIn : this.#hooksOut) {
        const fn = which === "in" ? slot.plugin.runtime.messageIn : slot.plugin.runtime.messageOut;
        try {
          fn?.(message, info, slot.ctx);
        } catch (error) {
          this.#logger.error("Message hook of plugin {plugin} failed: {error}", {
            plugin: slot.plugin.name,
            error,
          });
        }
      }
    };
    const isActive = (): boolean => this.#hooksIn.length + this.#hooksOut.length > 0;
    this.#hooks = {
      messageIn: hooks("in"),
      messageOut: hooks("out"),
      get active(): boolean {
        return isActive();
      },
    };
  }

  /** The RFC 4122 UUID of the service, persisted under `dataDir`. */
  get uuid(): string {
    return this.#uuid;
  }

  /** The life-cycle status. */
  get status(): ServiceStatus {
    return this.#status;
  }

  /** How many times the service process was restarted since start. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The resolved config (read-only view; change it with {@linkcode Service.update}). */
  get config(): Readonly<ServiceConfig<S>> {
    return this.#config;
  }

  /** The plugins, in chain order (dependants first). */
  get plugins(): readonly Plugin[] {
    return this.#slots.map((s) => s.plugin);
  }

  /** The resource a plugin's `start` returned (its sockets, files, counters), for the
   * plugin's own helper functions; check its type at run time before use.
   * @param plugin the plugin or its name
   * @returns the resource, or undefined when the plugin is not in the service
   */
  pluginResource(plugin: Plugin | string): unknown {
    const name = typeof plugin === "string" ? plugin : plugin.name;
    return this.#slots.find((s) => s.plugin.name === name)?.resource;
  }

  /** The open listeners with their real ports (empty until the SIP stack is up). */
  get transports(): readonly ListenerInfo[] {
    return this.#stack?.transports ?? [];
  }

  /** The SIP callbacks composed as chains (user → plugins → defaults): a stable object whose
   * functions always run the current chains (for the SIP stack). */
  get sipCallbacks(): ComposedSipCallbacks {
    return this.#sipFacade;
  }

  /** The message hooks (for the SIP stack): feed every SIP message in and out. */
  get messageHooks(): MessageHooks {
    return this.#hooks;
  }

  /** The service logger (category `["sipkit", "service", <name>]`). */
  get logger(): LogFunctions {
    return this.#logger;
  }

  // --- service variables ---

  /** Set a service variable (kept across restarts, dropped on stop).
   * @param key the name
   * @param value the value
   */
  put(key: string, value: unknown): void {
    this.#vars.set(key, value);
  }

  /** Read a service variable.
   * @param key the name
   * @returns the value, or undefined
   */
  get(key: string): unknown {
    return this.#vars.get(key);
  }

  /** Delete a service variable.
   * @param key the name
   * @returns true when it existed
   */
  del(key: string): boolean {
    return this.#vars.delete(key);
  }

  // --- gen_server API ---

  #inHandler(): boolean {
    return this.#frames.getStore()?.active === true;
  }

  async #inFrame<T>(fn: () => T | Promise<T>): Promise<T> {
    const frame: Frame = { active: true };
    try {
      return await this.#frames.run(frame, fn);
    } finally {
      frame.active = false;
    }
  }

  /**
   * Send a request to `handleCall` and wait for the reply.
   *
   * @param request any value
   * @param options timeout (default `callTimeout`) and abort signal
   * @returns the reply
   * @throws SelfCallError from inside this service's own gen_server callbacks
   * @throws CallTimeoutError when no reply arrives in time; the signal's reason on abort;
   * the crash error when `handleCall` throws; ServiceRestartedError or ServiceStoppedError
   */
  call(request: unknown, options: CallOptions = {}): Promise<unknown> {
    if (isStopping(this.#status)) return Promise.reject(new ServiceStoppedError(this.name));
    if (this.#inHandler()) return Promise.reject(new SelfCallError(this.name));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ms = options.timeout ?? this.#config.callTimeout;
    const clock: Clock = this.#config.clock;
    return new Promise<unknown>((resolve, reject) => {
      const abort = new AbortController();
      let timer: unknown = undefined;
      const cleanup = (): void => {
        clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#deferred.delete(from);
        if (!envelope.started) this.#mailbox.remove(envelope);
      };
      const from: PendingFrom = {
        id: this.#nextFrom++,
        signal: abort.signal,
        settled: false,
        reply(value: unknown): void {
          if (from.settled) return;
          from.settled = true;
          cleanup();
          resolve(value);
        },
        fail(error: unknown): void {
          if (from.settled) return;
          from.settled = true;
          cleanup();
          abort.abort(error);
          reject(error);
        },
      };
      const onAbort = (): void => from.fail(signal?.reason);
      const envelope: Envelope & { kind: "call" } = { kind: "call", request, from, started: false };
      timer = clock.setTimeout(() => from.fail(new CallTimeoutError(this.name, ms)), ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#mailbox.post(envelope);
    });
  }

  /** Send a message to `handleCast`; returns at once.
   * @param message any value
   * @returns false when the service is stopped (the message is dropped)
   */
  cast(message: unknown): boolean {
    if (isStopping(this.#status)) return false;
    this.#mailbox.post({ kind: "cast", message });
    return true;
  }

  /** Send any other message to `handleInfo` (Erlang's `!`); returns at once.
   * @param message any value
   * @returns false when the service is stopped (the message is dropped)
   */
  send(message: unknown): boolean {
    if (isStopping(this.#status)) return false;
    this.#mailbox.post({ kind: "info", message });
    return true;
  }

  async #handle(env: Envelope): Promise<void> {
    if (env.kind === "control") return await env.run();
    if (this.#status !== "running") {
      // Only reachable for messages posted while stopping.
      if (env.kind === "call") env.from.fail(new ServiceStoppedError(this.name));
      return;
    }
    if (env.kind === "call") {
      env.started = true;
      if (env.from.settled) return;
    }
    const generation = this.#generation;
    try {
      if (env.kind === "call") {
        const from = env.from;
        const result = await this.#inFrame(() =>
          this.#chain("handleCall")([env.request, from, this.#state])
        );
        if (result === NO_REPLY) {
          if (!from.settled) this.#deferred.add(from);
        } else {
          from.reply(result);
        }
      } else {
        const name = env.kind === "cast" ? "handleCast" : "handleInfo";
        await this.#inFrame(() => this.#chain(name)([env.message, this.#state]));
      }
    } catch (error) {
      // The supervisor acts first (restart or stop), then the caller sees the error: when
      // `call` rejects, the service is already running again (or stopped).
      if (generation === this.#generation) await this.#crash(error);
      if (env.kind === "call") env.from.fail(error);
    }
  }

  async #crash(error: unknown): Promise<void> {
    this.#logger.error("Service process crashed: {error}", { error });
    this.#status = "restarting";
    this.#generation++;
    this.#dropQueued((from) => from.fail(new ServiceRestartedError(this.name, error)));
    await this.#terminate({ kind: "crash", error });
    let lastError = error;
    let kind: "intensity" | "init" = "intensity";
    for (;;) {
      if (!this.#intensity.allow()) {
        const { intensity, period } = this.#config.restart;
        const message = `Service "${this.name}" crashed more than ${intensity} times in ` +
          `${period} ms; stopping (last error: ${errorText(lastError)})`;
        await this.#shutdown({ kind, message, error: lastError }, false);
        return;
      }
      this.#restarts++;
      try {
        await this.#initProcess();
        this.#status = "running";
        this.#logger.info("Service process restarted ({n} restarts)", { n: this.#restarts });
        return;
      } catch (e) {
        this.#logger.error("init failed on restart: {error}", { error: e });
        lastError = e;
        kind = "init";
        await this.#terminate({ kind: "crash", error: e });
      }
    }
  }

  /** Reject queued calls and deferred replies; keep control messages. */
  #dropQueued(failCall: (from: PendingFrom) => void): void {
    const queued = this.#mailbox.takeAll();
    for (const env of queued) {
      if (env.kind === "call") failCall(env.from);
      else if (env.kind === "control") this.#mailbox.post(env);
    }
    for (const from of [...this.#deferred]) failCall(from);
    this.#deferred.clear();
  }

  async #initProcess(): Promise<void> {
    this.#state = {};
    await this.#inFrame(async () => {
      for (const slot of [...this.#slots].reverse()) {
        this.#state[slot.plugin.name] = await slot.plugin.runtime.init(slot.ctx);
      }
      await this.#config.callbacks.init?.(this.#state as S);
    });
  }

  async #terminate(reason: TerminateReason): Promise<void> {
    await this.#inFrame(async () => {
      try {
        await this.#config.callbacks.terminate?.(reason, this.#state as S);
      } catch (error) {
        this.#logger.error("terminate failed: {error}", { error });
      }
      for (const slot of this.#slots) {
        try {
          await slot.plugin.runtime.terminate(reason, slot.ctx);
        } catch (error) {
          this.#logger.error("terminate of plugin {plugin} failed: {error}", {
            plugin: slot.plugin.name,
            error,
          });
        }
      }
    });
  }

  // --- chains ---

  #chain(name: CallbackName): AnyChain {
    return this.#chains.get(name) as AnyChain;
  }

  #makeCtx(plugin: Plugin, slotRef: () => PluginSlot): AnyPluginContext {
    const logger = getLogger(["sipkit", this.name, "plugin", plugin.name]);
    const getState = (): unknown => this.#state[plugin.name];
    const setState = (value: unknown): void => {
      this.#state[plugin.name] = value;
    };
    return {
      name: plugin.name,
      service: this as unknown as Service,
      get config(): unknown {
        return slotRef().config;
      },
      get state(): unknown {
        return getState();
      },
      set state(value: unknown) {
        setState(value);
      },
      get resource(): unknown {
        return slotRef().resource;
      },
      logger,
      clock: this.#config.clock,
    };
  }

  #compose(config: ServiceConfig<S>, slots: readonly PluginSlot[]): Map<CallbackName, AnyChain> {
    const chains = new Map<CallbackName, AnyChain>();
    const defaultOnly = new Set<CallbackName>();
    const stackChains = new Map<CallbackName, (...args: unknown[]) => unknown>();
    const userCallbacks = config.callbacks as Record<string, unknown>;
    const build = (name: CallbackName, terminal: (args: readonly unknown[]) => unknown) => {
      const links: Link<readonly unknown[], unknown>[] = [];
      const user = userCallbacks[name];
      if (typeof user === "function") {
        links.push(fromCallback((...args: readonly unknown[]) => user(...args)));
      }
      for (const slot of slots) {
        const link = slot.plugin.runtime.links.get(name);
        if (link !== undefined) links.push((args, next) => link(args, next, slot.ctx));
      }
      if (links.length === 0) defaultOnly.add(name);
      chains.set(name, composeRaw<readonly unknown[], unknown>(links, terminal));
      return links;
    };
    build("handleCall", () => undefined);
    for (const name of GEN_SERVER_CHAINS.slice(1)) {
      build(name, ([message]) => {
        this.#logger.debug("Unhandled {name}: {message}", { name, message });
        return undefined;
      });
    }
    const defaults = defaultSipCallbacks as unknown as Record<
      string,
      (...args: readonly unknown[]) => unknown
    >;
    for (const name of SIP_CALLBACK_NAMES) {
      let terminal: (args: readonly unknown[]) => unknown;
      if (name === "sipReinvite") {
        // NkSIP: an unimplemented sipReinvite behaves as sipInvite (the composed chain).
        terminal = (args) => mapNoReply(chains.get("sipInvite") as AnyChain, args);
      } else {
        const fn = defaults[name] as (...args: readonly unknown[]) => unknown;
        terminal = (args) => fn(...args);
      }
      const maybe = composeMaybe<readonly unknown[], unknown>(build(name, terminal), terminal);
      stackChains.set(name, (...args: unknown[]): unknown => {
        const result = maybe(args);
        return isThenable(result) ? result.then(noReplyToUndefined) : noReplyToUndefined(result);
      });
    }
    // SIP chains resolve NO_REPLY to undefined ("answer later"); gen_server ones keep it.
    for (const name of SIP_CALLBACK_NAMES) {
      const raw = chains.get(name) as AnyChain;
      chains.set(name, (args) => mapNoReply(raw, args));
    }
    this.#defaultOnly = defaultOnly;
    this.#stackChains = stackChains;
    return chains;
  }

  #installChains(config: ServiceConfig<S>, slots: PluginSlot[]): void {
    this.#chains = this.#compose(config, slots);
    const defaults = defaultSipCallbacks as unknown as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    for (const name of SIP_CALLBACK_NAMES) {
      // The default `sipReinvite` runs the stack's `sipInvite`, i.e. the composed chain.
      this.#stackCallbacks[name] = this.#defaultOnly.has(name)
        ? defaults[name]!
        : this.#stackChains.get(name)!;
    }
    this.#hooksIn = slots.filter((s) => s.plugin.runtime.messageIn !== undefined);
    this.#hooksOut = slots.filter((s) => s.plugin.runtime.messageOut !== undefined);
  }

  #newSlot(plugin: Plugin, config: ServiceConfig<S>): PluginSlot {
    const slot: PluginSlot = {
      plugin,
      config: config.pluginConfig.get(plugin.name),
      resource: undefined,
      ctx: undefined as unknown as AnyPluginContext,
    };
    slot.ctx = this.#makeCtx(plugin, () => slot);
    return slot;
  }

  /** Start the given slots in dependency order (dependencies first); on failure stop the
   * ones started and rethrow. */
  async #startSlots(slots: readonly PluginSlot[]): Promise<void> {
    const started: PluginSlot[] = [];
    try {
      for (const slot of [...slots].reverse()) {
        slot.resource = await slot.plugin.runtime.start(slot.ctx);
        started.push(slot);
      }
    } catch (error) {
      await this.#stopSlots(started.reverse());
      throw error;
    }
  }

  /** Stop slots in the given order (chain order: dependants first); errors are logged. */
  async #stopSlots(slots: readonly PluginSlot[]): Promise<void> {
    for (const slot of slots) {
      try {
        await slot.plugin.runtime.stop(slot.ctx);
      } catch (error) {
        this.#logger.error("stop of plugin {plugin} failed: {error}", {
          plugin: slot.plugin.name,
          error,
        });
      }
    }
  }

  // --- life cycle ---

  /**
   * Start a named service (the same as the {@linkcode start} function).
   *
   * @param name the service name (unique among running services of its registry)
   * @param config the options (see `docs/config.md`); all optional
   * @returns the running service
   * @throws ConfigError for an invalid option; ServiceExistsError when the name is taken;
   * the error of a plugin's `start` or of `init`
   */
  static async start<S extends object = StateMap>(
    name: string,
    config: ServiceConfigInput<S> = {},
  ): Promise<Service<S>> {
    if (typeof name !== "string" || name === "") {
      throw new ConfigError("name", "must be a non-empty string");
    }
    const resolved = resolveConfig<S>(config);
    const svc = new Service<S>(name, resolved, config);
    await svc.#start();
    return svc;
  }

  async #start(): Promise<void> {
    this.#registry.add(this as unknown as Service);
    try {
      this.#uuid = await loadOrCreateUuid(this.#config.dataDir, this.id, this.#logger);
      const slots = this.#config.plugins.map((p) => this.#newSlot(p, this.#config));
      await this.#startSlots(slots);
      this.#slots = slots;
      this.#installChains(this.#config, slots);
      try {
        await this.#initProcess();
      } catch (error) {
        await this.#stopSlots(this.#slots);
        throw error;
      }
      try {
        this.#stack = await this.#createStack();
      } catch (error) {
        await this.#terminate({ kind: "normal" });
        await this.#stopSlots(this.#slots);
        throw error;
      }
      this.#status = "running";
      this.#mailbox.resume();
      this.#logger.info("Service {name} ({id}) started", { name: this.name, id: this.id });
    } catch (error) {
      this.#registry.remove(this as unknown as Service);
      this.#status = "stopped";
      this.#dropQueued((from) => from.fail(new ServiceStoppedError(this.name)));
      this.#vars.clear();
      const reason: StopReason = { kind: "init", message: errorText(error), error };
      this.#stopReason = reason;
      this.#resolveStopped(reason);
      throw error;
    }
  }

  /** Create the SIP stack from the config. */
  #createStack(): Promise<SipStack> {
    const c = this.#config;
    const options: SipStackOptions = {
      name: this.name,
      listen: c.listen,
      transportOptions: {
        limits: c.limits,
        tls: c.tls,
        udpMaxSize: c.udpMaxSize,
        keepAliveInterval: c.keepAliveInterval,
        keepAliveTimeout: c.keepAliveTimeout,
        now: () => c.clock.now(),
        name: this.name,
        ...(c.udpBackend === "auto" ? {} : { udpBackend: c.udpBackend }),
      },
      callbacks: this.#stackCallbacks as unknown as SipCallbacks,
      // The chains end in the defaults already: `undefined` means "answered later".
      callbacksComplete: true,
      clock: c.clock,
      timers: c.timers,
      tryingDelay: c.tryingDelay,
      maxCalls: c.limits.maxCalls,
      supported: c.supported,
      accept: c.accept,
      events: c.events,
      fromUser: c.fromUser,
      realm: c.realm ?? this.name,
      hooks: this.#hooks,
      dialogIdleTimeout: c.dialogIdleTimeout,
      closeTimeout: c.closeTimeout,
      inviteTimeout: c.inviteTimeout,
    };
    if (c.allow !== undefined) options.allow = c.allow;
    return createSipStack(options);
  }

  /** The SIP stack (listeners, transactions, dialogs); for advanced use. */
  get stack(): SipStack {
    if (this.#stack === undefined) throw new ServiceStoppedError(this.name);
    return this.#stack;
  }

  // --- UAC API (delegated to the SIP stack) ---

  /** Send any request outside a dialog.
   * @param method the method
   * @param uri the Request-URI
   * @param options headers, body, route, from/to/contact, provisional callback, signal...
   * @returns the final status, reason and response
   */
  async request(method: string, uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.request(method, uri, options);
  }

  /** Send OPTIONS.
   * @param uri the Request-URI
   * @param options shared UAC options
   * @returns the final status, reason and response
   */
  async options(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.options(uri, options);
  }

  /** Send REGISTER.
   * @param uri the registrar URI
   * @param options shared UAC options (`expires`, `auth`, ...)
   * @returns the final status, reason and response
   */
  async register(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.register(uri, options);
  }

  /** Send INVITE; resolves on the final response, with the dialog handle for a 2xx.
   * @param uri the Request-URI
   * @param options UAC options plus `autoAck` and `onDialog`
   * @returns the final status, reason, response and dialog
   */
  async invite(uri: string, options?: InviteOptions): Promise<InviteResult> {
    return await this.stack.invite(uri, options);
  }

  /** Send INFO (RFC 6086).
   * @param uri the Request-URI
   * @param options shared UAC options
   * @returns the final status, reason and response
   */
  async info(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.info(uri, options);
  }

  /** Send MESSAGE (RFC 3428).
   * @param uri the Request-URI
   * @param options shared UAC options (`body`, `contentType`)
   * @returns the final status, reason and response
   */
  async message(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.message(uri, options);
  }

  /** Send SUBSCRIBE (RFC 6665).
   * @param uri the Request-URI
   * @param options shared UAC options (`event`, `expires`)
   * @returns the final status, reason and response
   */
  async subscribe(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.subscribe(uri, options);
  }

  /** Send NOTIFY (RFC 6665).
   * @param uri the Request-URI
   * @param options shared UAC options (`event`, `subscriptionState`)
   * @returns the final status, reason and response
   */
  async notify(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.notify(uri, options);
  }

  /** Send REFER (RFC 3515).
   * @param uri the Request-URI
   * @param options shared UAC options (`referTo`)
   * @returns the final status, reason and response
   */
  async refer(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.refer(uri, options);
  }

  /** Send PUBLISH (RFC 3903).
   * @param uri the Request-URI
   * @param options shared UAC options (`event`, `expires`, `body`)
   * @returns the final status, reason and response
   */
  async publish(uri: string, options?: UacOptions): Promise<UacResult> {
    return await this.stack.publish(uri, options);
  }

  /**
   * Stop the service: the messages already queued are handled, then `terminate` runs, the
   * plugins stop, listeners close and the service variables are dropped.
   *
   * Called from inside the service's own gen_server callback, the stop is scheduled after
   * the current message and the promise resolves at once (await {@linkcode Service.stopped}
   * elsewhere to wait for it).
   *
   * @returns resolves when stopped
   */
  stop(): Promise<void> {
    if (this.#status === "stopped") return Promise.resolve();
    if (this.#status !== "stopping") {
      this.#mailbox.post({
        kind: "control",
        run: () => this.#shutdown({ kind: "normal", message: "stopped" }, true),
      });
    }
    if (this.#inHandler()) return Promise.resolve();
    return this.stopped.then(() => {});
  }

  /** Stop the service (for `await using`).
   * @returns resolves when stopped
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #shutdown(reason: StopReason, runTerminate: boolean): Promise<void> {
    if (this.#status === "stopping" || this.#status === "stopped") return;
    this.#status = "stopping";
    this.#dropQueued((from) => from.fail(new ServiceStoppedError(this.name)));
    for (const env of this.#mailbox.takeAll()) {
      if (env.kind === "control") void env.run();
    }
    if (runTerminate) await this.#terminate({ kind: "normal" });
    try {
      await this.#stack?.close(this.#config.closeTimeout);
    } catch (error) {
      this.#logger.error("Closing the SIP stack failed: {error}", { error });
    }
    this.#stack = undefined;
    await this.#stopSlots(this.#slots);
    this.#vars.clear();
    this.#registry.remove(this as unknown as Service);
    this.#status = "stopped";
    this.#stopReason = reason;
    if (reason.kind === "normal") {
      this.#logger.info("Service {name} stopped", { name: this.name });
    } else {
      this.#logger.error("Service {name} stopped: {message}", {
        name: this.name,
        message: reason.message,
      });
    }
    this.#resolveStopped(reason);
  }

  /** The reason the service stopped, once stopped. */
  get stopReason(): StopReason | undefined {
    return this.#stopReason;
  }

  /**
   * Change options live: every option of the config (timers, listeners, limits, plugins and
   * their config, callbacks, restart intensity...). Maps merge key by key; lists replace.
   * Plugins removed are terminated and stopped, plugins added are started and initialised,
   * plugins kept get their `update` hook; the chains are recomposed. Updates are serialized.
   *
   * @param partial the options to change
   * @throws ConfigError when the merged config is invalid, or changes `name` or `udpBackend`
   *   (then nothing changed)
   */
  update(partial: ServiceConfigInput<S>): Promise<void> {
    const run = this.#updating.then(() => this.#update(partial));
    this.#updating = run.catch(() => {});
    return run;
  }

  async #update(partial: ServiceConfigInput<S>): Promise<void> {
    if (isStopping(this.#status)) throw new ServiceStoppedError(this.name);
    if (partial.name !== undefined && partial.name !== this.name) {
      throw new ConfigError("name", "cannot be changed by update");
    }
    const merged = mergeConfig(this.#input, partial) as Record<string, unknown>;
    // A plugin removed by this update takes its config section with it.
    const pc = merged.pluginConfig;
    if (partial.plugins !== undefined && pc !== null && typeof pc === "object") {
      const names = new Set(partial.plugins.map((p) => (typeof p === "string" ? p : p.name)));
      try {
        const values = partial.plugins.filter((p): p is Plugin => typeof p !== "string");
        for (const p of orderPlugins(values)) names.add(p.name);
      } catch {
        // resolveConfig reports the problem below.
      }
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(pc)) {
        if (names.has(k) || (partial.pluginConfig !== undefined && k in partial.pluginConfig)) {
          kept[k] = v;
        }
      }
      merged.pluginConfig = kept;
    }
    const next = resolveConfig<S>(merged, { previous: this.#config as ServiceConfig<object> });
    if (next.udpBackend !== this.#config.udpBackend) {
      // The UDP sockets are open on one implementation; they are not reopened live.
      throw new ConfigError("udpBackend", "cannot be changed by update (it is read at start)");
    }
    await new Promise<void>((resolve, reject) => {
      const run = async (): Promise<void> => {
        try {
          await this.#applyUpdate(next);
          this.#input = merged;
          resolve();
        } catch (error) {
          reject(error);
        }
      };
      if (this.#inHandler()) void run();
      else this.#mailbox.post({ kind: "control", run });
    });
  }

  async #applyUpdate(next: ServiceConfig<S>): Promise<void> {
    if (isStopping(this.#status)) throw new ServiceStoppedError(this.name);
    const prev = this.#config;
    const oldSlots = this.#slots;
    const keep = new Map<string, PluginSlot>();
    for (const s of oldSlots) {
      if (next.plugins.includes(s.plugin)) keep.set(s.plugin.name, s);
    }
    const added = next.plugins.filter((p) => !keep.has(p.name)).map((p) => this.#newSlot(p, next));
    const removed = oldSlots.filter((s) => !keep.has(s.plugin.name));
    await this.#startSlots(added);
    // The SIP stack next (its listeners are what the outside world may refuse): on an error
    // the plugins just started are stopped and nothing of the update applies.
    try {
      await this.#updateStack(next);
    } catch (error) {
      await this.#stopSlots(added);
      throw error;
    }
    const slots = next.plugins.map((p) => keep.get(p.name) ?? added.find((s) => s.plugin === p))
      .filter((s): s is PluginSlot => s !== undefined);
    // Removed plugins: terminate and stop, drop their state.
    for (const slot of removed) {
      try {
        await slot.plugin.runtime.terminate({ kind: "normal" }, slot.ctx);
      } catch (error) {
        this.#logger.error("terminate of plugin {plugin} failed: {error}", {
          plugin: slot.plugin.name,
          error,
        });
      }
    }
    await this.#stopSlots(removed);
    for (const slot of removed) delete this.#state[slot.plugin.name];
    // Added plugins: init their state in the running process.
    for (const slot of [...added].reverse()) {
      this.#state[slot.plugin.name] = await slot.plugin.runtime.init(slot.ctx);
    }
    this.#config = next;
    this.#intensity.configure(next.restart);
    this.#slots = slots;
    this.#installChains(next, slots);
    for (const slot of slots) {
      if (!keep.has(slot.plugin.name)) continue;
      const previous = slot.config;
      slot.config = next.pluginConfig.get(slot.plugin.name);
      await slot.plugin.runtime.update(slot.ctx, previous);
    }
    if (next.dataDir !== prev.dataDir) await writeUuid(next.dataDir, this.id, this.#uuid);
  }

  /** Hand the new config to the SIP stack (listeners added/removed, timers, capabilities). */
  async #updateStack(next: ServiceConfig<S>): Promise<void> {
    if (this.#stack === undefined) return;
    await this.#stack.update({
      listen: next.listen,
      timers: next.timers,
      maxCalls: next.limits.maxCalls,
      limits: next.limits,
      udpMaxSize: next.udpMaxSize,
      tls: next.tls,
      keepAliveInterval: next.keepAliveInterval,
      keepAliveTimeout: next.keepAliveTimeout,
      supported: next.supported,
      accept: next.accept,
      events: next.events,
      fromUser: next.fromUser,
      allow: next.allow ?? DEFAULT_ALLOW,
      realm: next.realm ?? this.name,
      tryingDelay: next.tryingDelay,
      dialogIdleTimeout: next.dialogIdleTimeout,
      inviteTimeout: next.inviteTimeout,
      closeTimeout: next.closeTimeout,
    });
  }
}

function noReplyToUndefined(r: unknown): unknown {
  return r === NO_REPLY ? undefined : r;
}

function mapNoReply(chain: AnyChain, args: readonly unknown[]): Promise<unknown> {
  return chain(args).then(noReplyToUndefined);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Start a named service.
 *
 * @param name the service name (unique among running services of its registry)
 * @param config the options (see `docs/config.md`); all optional
 * @returns the running service
 * @throws ConfigError for an invalid option; ServiceExistsError when the name is taken;
 * the error of a plugin's `start` or of `init`
 */
export async function start<S extends object = StateMap>(
  name: string,
  config: ServiceConfigInput<S> = {},
): Promise<Service<S>> {
  return await Service.start<S>(name, config);
}

/**
 * Find a running service by name or internal id in the process registry.
 *
 * @param nameOrId the name or the id
 * @returns the service, or undefined
 */
export function find(nameOrId: string): Service | undefined {
  return defaultRegistry().find(nameOrId) as Service | undefined;
}
