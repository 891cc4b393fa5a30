/**
 * Service configuration: the options of a service, their defaults, and validation of an object
 * or a YAML file with errors that name the key (and, for files, the line and column).
 *
 * Every option is documented in `docs/config.md`. The service reads its config with
 * {@linkcode resolveConfig}; plugins read their section through a {@linkcode ConfigReader}.
 *
 * @example Reading a YAML config
 * ```ts
 * import { ConfigError, parseConfigText, resolveConfig } from "./config.ts";
 * const source = parseConfigText("listen: sip:127.0.0.1:5080\ntimers:\n  t1: 100\n", "app.yaml");
 * const config = resolveConfig(source.value, { source });
 * if (config.timers.t1 !== 100 || config.restart.intensity !== 10) throw new Error("unexpected");
 * try {
 *   const bad = parseConfigText("timers:\n  t1: fast\n", "app.yaml");
 *   resolveConfig(bad.value, { source: bad });
 * } catch (e) {
 *   if (!(e instanceof ConfigError) || e.line !== 2) throw e;
 * }
 * ```
 *
 * @module
 */

import { parseYamlDocument } from "../deps.ts";
import { type Clock, DEFAULT_SIP_TIMERS, type SipTimers, systemClock } from "../sip/clock.ts";
import { parseListenUri } from "../transport/listen_uri.ts";
import type { TlsOptions, TransportLimits } from "../transport/types.ts";
import type { Plugin, ServiceCallbacks, StateMap } from "./plugin.ts";
import type { ServiceRegistry } from "./registry.ts";

/** A config error: names the key and, for YAML files, the file, line and column. */
export class ConfigError extends Error {
  /** The dotted path of the offending key, e.g. `timers.t1` or `listen[0]`. */
  readonly key: string;
  /** The file, when the config came from one. */
  readonly file: string | undefined;
  /** The 1-based line in the file, when known. */
  readonly line: number | undefined;
  /** The 1-based column in the file, when known. */
  readonly column: number | undefined;
  /** Create the error.
   * @param key the dotted path of the key
   * @param problem what is wrong, in a sentence
   * @param where the file position, if known
   */
  constructor(
    key: string,
    problem: string,
    where: { file?: string | undefined; line?: number | undefined; column?: number | undefined } =
      {},
  ) {
    const pos = where.line === undefined
      ? (where.file === undefined ? "" : `${where.file}: `)
      : `${where.file ?? "<config>"}:${where.line}:${where.column ?? 1}: `;
    super(`${pos}${key === "" ? "config" : key}: ${problem}`);
    this.name = "ConfigError";
    this.key = key;
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
  }
}

/** A position in a config file. */
export interface SourcePosition {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A parsed config file: the plain value and where each key is. */
export interface ConfigSource {
  /** The plain value (objects, arrays, scalars). */
  value: unknown;
  /** The file name (for messages). */
  file: string | undefined;
  /** The position of the value at a dotted path (`timers.t1`, `listen[0]`), if known. */
  position(path: string): SourcePosition | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base === "" ? key : `${base}.${key}`;
}

/** Walk a YAML node tree (duck-typed, `unknown` all the way) recording value offsets. */
function walkYaml(node: unknown, path: string, out: Map<string, number>): void {
  if (typeof node !== "object" || node === null) return;
  const range = (node as { range?: unknown }).range;
  if (Array.isArray(range) && typeof range[0] === "number") out.set(path, range[0]);
  const items = (node as { items?: unknown }).items;
  if (!Array.isArray(items)) return;
  items.forEach((item: unknown, index: number) => {
    if (typeof item === "object" && item !== null && "key" in item && "value" in item) {
      const pair = item as { key: unknown; value: unknown };
      const keyNode = pair.key as { value?: unknown; range?: unknown } | null;
      const keyText = keyNode !== null && typeof keyNode === "object" ? keyNode.value : keyNode;
      const childPath = joinPath(path, String(keyText));
      const keyRange = keyNode !== null && typeof keyNode === "object" ? keyNode.range : undefined;
      if (Array.isArray(keyRange) && typeof keyRange[0] === "number") {
        out.set(childPath, keyRange[0]);
      }
      walkYaml(pair.value, childPath, out);
    } else {
      walkYaml(item, joinPath(path, index), out);
    }
  });
}

/**
 * Parse YAML text into a {@linkcode ConfigSource}.
 *
 * @param text the YAML text
 * @param file the file name for messages
 * @returns the source
 * @throws ConfigError on a YAML syntax error (with line and column)
 */
export function parseConfigText(text: string, file?: string): ConfigSource {
  const doc = parseYamlDocument(text, { prettyErrors: true });
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const toPos = (offset: number): SourcePosition => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (lineStarts[lo] ?? 0) + 1 };
  };
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = toPos(first.pos[0]);
    const problem = first.message.split("\n")[0] ?? "invalid YAML";
    throw new ConfigError("", `invalid YAML: ${problem}`, { file, ...pos });
  }
  const offsets = new Map<string, number>();
  walkYaml(doc.contents, "", offsets);
  const value: unknown = doc.toJS();
  return {
    value: value ?? {},
    file,
    position(path: string): SourcePosition | undefined {
      const off = offsets.get(path);
      return off === undefined ? undefined : toPos(off);
    },
  };
}

/**
 * Reads one object of a config (the root or a section) with typed getters that apply
 * defaults and throw {@linkcode ConfigError}s naming the key and its file position.
 * Call {@linkcode ConfigReader.done} at the end: unknown keys are errors.
 */
export class ConfigReader {
  /** The dotted path of this object (`""` for the root). */
  readonly path: string;
  #value: Record<string, unknown>;
  #source: ConfigSource | undefined;
  #read = new Set<string>();

  /** Create a reader.
   * @param value the object to read (undefined reads as an empty object)
   * @param path its dotted path
   * @param source the file it came from, for positions
   * @throws ConfigError when the value is not an object
   */
  constructor(value: unknown, path = "", source?: ConfigSource) {
    this.path = path;
    this.#source = source;
    if (value === undefined || value === null) value = {};
    if (!isRecord(value)) throw this.#error(path, "must be a mapping of keys to values");
    this.#value = value;
  }

  #error(path: string, problem: string): ConfigError {
    const pos = this.#source?.position(path);
    return new ConfigError(path, problem, { file: this.#source?.file, ...pos });
  }

  /** A {@linkcode ConfigError} for a key of this object.
   * @param key the key
   * @param problem what is wrong
   * @returns the error (to throw)
   */
  error(key: string, problem: string): ConfigError {
    return this.#error(joinPath(this.path, key), problem);
  }

  /** Whether the key is present (not undefined).
   * @param key the key
   * @returns true when present
   */
  has(key: string): boolean {
    return this.#value[key] !== undefined;
  }

  /** The raw value of a key (marks it as read).
   * @param key the key
   * @returns the value, possibly undefined
   */
  raw(key: string): unknown {
    this.#read.add(key);
    return this.#value[key];
  }

  /** A number option.
   * @param key the key
   * @param def the default
   * @param opts range and integer checks
   * @returns the value or the default
   */
  number(
    key: string,
    def: number,
    opts: { min?: number; max?: number; integer?: boolean } = {},
  ): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw this.error(key, `must be a number, got ${describe(v)}`);
    }
    if (opts.integer === true && !Number.isInteger(v)) {
      throw this.error(key, `must be an integer, got ${v}`);
    }
    if (opts.min !== undefined && v < opts.min) {
      throw this.error(key, `must be at least ${opts.min}, got ${v}`);
    }
    if (opts.max !== undefined && v > opts.max) {
      throw this.error(key, `must be at most ${opts.max}, got ${v}`);
    }
    return v;
  }

  /** A string option.
   * @param key the key
   * @param def the default
   * @param oneOf allowed values, if restricted
   * @returns the value or the default
   */
  string<T extends string = string>(key: string, def: T, oneOf?: readonly T[]): T {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (typeof v !== "string") throw this.error(key, `must be a string, got ${describe(v)}`);
    if (oneOf !== undefined && !oneOf.includes(v as T)) {
      throw this.error(key, `must be one of ${oneOf.join(", ")}, got "${v}"`);
    }
    return v as T;
  }

  /** An optional string option.
   * @param key the key
   * @returns the value, or undefined when absent
   */
  optionalString(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw this.error(key, `must be a string, got ${describe(v)}`);
    return v;
  }

  /** A boolean option.
   * @param key the key
   * @param def the default
   * @returns the value or the default
   */
  boolean(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (typeof v !== "boolean") throw this.error(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  /** A list of strings; a single string is a one-element list.
   * @param key the key
   * @param def the default
   * @returns a fresh array
   */
  stringList(key: string, def: readonly string[]): string[] {
    const v = this.raw(key);
    if (v === undefined) return [...def];
    if (typeof v === "string") return [v];
    if (!Array.isArray(v)) throw this.error(key, `must be a list of strings, got ${describe(v)}`);
    return v.map((item: unknown, i: number) => {
      if (typeof item !== "string") {
        throw this.#error(joinPath(joinPath(this.path, key), i), "must be a string");
      }
      return item;
    });
  }

  /** A nested section (a missing key reads as an empty section).
   * @param key the key
   * @returns a reader for it
   */
  section(key: string): ConfigReader {
    return new ConfigReader(this.raw(key), joinPath(this.path, key), this.#source);
  }

  /** Throw for the first key that was never read.
   * @throws ConfigError naming the unknown key
   */
  done(): void {
    for (const [key, value] of Object.entries(this.#value)) {
      if (value !== undefined && !this.#read.has(key)) throw this.error(key, "unknown option");
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/** Restart intensity of the supervisor (OTP's `intensity` and `period`). */
export interface RestartConfig {
  /** Most restarts allowed within `period` (default 10). 0: the first crash stops. */
  intensity: number;
  /** The sliding window in milliseconds (default 60000). */
  period: number;
}

/** Limits of the SIP stack: the transport limits plus the call limit. */
export interface SipLimits extends TransportLimits {
  /** Most concurrent calls (Call-IDs with a transaction or dialog); beyond it new requests
   * get 503 (default 100000). */
  maxCalls: number;
}

/** The `udpBackend` option: `auto` picks `deno` when `Deno.listenDatagram` is usable. */
export type UdpBackendChoice = "auto" | "deno" | "node";

/** The values `udpBackend` accepts. */
export const UDP_BACKENDS: readonly UdpBackendChoice[] = Object.freeze(["auto", "deno", "node"]);

/** The input of `start` and `update`: every option is optional (see `docs/config.md`). */
export interface ServiceConfigInput<S extends object = StateMap> {
  /** The service name (only from files; `start` takes the name as its first argument). */
  name?: string;
  /** Listen URIs (`sip:127.0.0.1:5060;transport=tcp`, `sips:...`, `<sip:...;transport=ws>`). */
  listen?: string | readonly string[];
  /** Directory of the per-service UUID file. */
  dataDir?: string;
  /** Default timeout of `call` in milliseconds. */
  callTimeout?: number;
  /** Supervisor restart intensity. */
  restart?: Partial<RestartConfig>;
  /** SIP timers T1, T2, T4 in milliseconds. */
  timers?: Partial<SipTimers>;
  /** Limits. */
  limits?: Partial<SipLimits>;
  /** RFC 3261 §18.1.1: requests larger than this (bytes) go over TCP instead of UDP. */
  udpMaxSize?: number;
  /** UDP implementation: `auto` (default: `Deno.listenDatagram` when the process runs with
   * `--unstable-net`, else `node:dgram`), `deno` or `node`. Read when the service starts. */
  udpBackend?: UdpBackendChoice;
  /** TLS settings. */
  tls?: TlsOptions;
  /** RFC 5626 keep-alive ping interval on outbound flows in ms (0: off). */
  keepAliveInterval?: number;
  /** RFC 5626 pong timeout in ms. */
  keepAliveTimeout?: number;
  /** Option tags added to Supported. */
  supported?: readonly string[];
  /** Body types added to Accept. */
  accept?: readonly string[];
  /** Event packages for Allow-Events. */
  events?: readonly string[];
  /** The user part of our From/Contact for requests we originate. */
  fromUser?: string;
  /** Methods for Allow (default: every method sipkit answers). */
  allow?: readonly string[];
  /** Realm of the default Digest challenges (default: the service name). */
  realm?: string;
  /** Delay of the automatic 100 Trying to INVITE in ms, or false for none. */
  tryingDelay?: number | false;
  /** End dialogs idle for this long (ms). */
  dialogIdleTimeout?: number;
  /** Longest wait in `stop` for transactions in flight (ms). */
  closeTimeout?: number;
  /** Default INVITE timeout before a CANCEL (ms). */
  inviteTimeout?: number;
  /** Plugins (values; names only in files read with a plugin table). */
  plugins?: readonly (Plugin | string)[];
  /** Per-plugin config sections, keyed by plugin name. */
  pluginConfig?: Record<string, unknown>;
  /** The callbacks (object config only). */
  callbacks?: ServiceCallbacks<S>;
  /** The clock (object config only; default: the system clock). */
  clock?: Clock;
  /** The registry `find` looks in (object config only; default: the process registry). */
  registry?: ServiceRegistry;
}

/** A resolved config: every option present. */
export interface ServiceConfig<S extends object = StateMap> {
  /** Listen URIs. */
  listen: string[];
  /** Directory of the UUID file. */
  dataDir: string;
  /** Default `call` timeout (ms). */
  callTimeout: number;
  /** Restart intensity. */
  restart: RestartConfig;
  /** SIP timers (ms). */
  timers: SipTimers;
  /** Limits. */
  limits: SipLimits;
  /** UDP size threshold (bytes). */
  udpMaxSize: number;
  /** UDP implementation. */
  udpBackend: UdpBackendChoice;
  /** TLS settings. */
  tls: TlsOptions;
  /** Keep-alive interval (ms, 0 = off). */
  keepAliveInterval: number;
  /** Keep-alive timeout (ms). */
  keepAliveTimeout: number;
  /** Extra Supported option tags. */
  supported: string[];
  /** Extra Accept types. */
  accept: string[];
  /** Allow-Events packages. */
  events: string[];
  /** From/Contact user part for our requests. */
  fromUser: string;
  /** Methods for Allow (undefined: every method sipkit answers). */
  allow: string[] | undefined;
  /** Digest realm (undefined: the service name). */
  realm: string | undefined;
  /** 100 Trying delay (ms) or false. */
  tryingDelay: number | false;
  /** Dialog idle timeout (ms). */
  dialogIdleTimeout: number;
  /** Close timeout (ms). */
  closeTimeout: number;
  /** INVITE timeout (ms). */
  inviteTimeout: number;
  /** The plugins, resolved (dependencies added), in chain order (dependants first). */
  plugins: Plugin[];
  /** Validated per-plugin config, keyed by plugin name. */
  pluginConfig: Map<string, unknown>;
  /** The callbacks. */
  callbacks: ServiceCallbacks<S>;
  /** The clock. */
  clock: Clock;
  /** The registry, if one was given. */
  registry: ServiceRegistry | undefined;
}

/** Defaults of the scalar options (see `docs/config.md`). */
export const CONFIG_DEFAULTS: {
  readonly listen: readonly string[];
  readonly dataDir: string;
  readonly callTimeout: number;
  readonly restart: Readonly<RestartConfig>;
  readonly timers: Readonly<SipTimers>;
  readonly limits: Readonly<SipLimits>;
  readonly udpMaxSize: number;
  readonly udpBackend: UdpBackendChoice;
  readonly keepAliveInterval: number;
  readonly keepAliveTimeout: number;
  readonly fromUser: string;
  readonly tryingDelay: number;
  readonly dialogIdleTimeout: number;
  readonly closeTimeout: number;
  readonly inviteTimeout: number;
} = Object.freeze({
  listen: Object.freeze([]) as readonly string[],
  dataDir: "./.sipkit",
  callTimeout: 5000,
  restart: Object.freeze({ intensity: 10, period: 60_000 }),
  timers: DEFAULT_SIP_TIMERS,
  limits: Object.freeze({
    maxMessageSize: 65535,
    maxConnections: 1024,
    headerTimeout: 10_000,
    maxMalformed: 5,
    idleTimeout: 120_000,
    connectTimeout: 10_000,
    maxCalls: 100_000,
  }),
  udpMaxSize: 1300,
  udpBackend: "auto",
  keepAliveInterval: 120_000,
  keepAliveTimeout: 10_000,
  fromUser: "sipkit",
  tryingDelay: 200,
  dialogIdleTimeout: 1_800_000,
  closeTimeout: 32_000,
  inviteTimeout: 180_000,
});

/** Options of {@linkcode resolveConfig}. */
export interface ResolveOptions {
  /** The file the value came from (for line numbers). */
  source?: ConfigSource;
  /** Plugins by name, to resolve names in `plugins` (files, CLI). */
  pluginTable?: Readonly<Record<string, Plugin>>;
  /** Object-only options from a previous config (used by `update`). */
  previous?: ServiceConfig<object>;
}

const OBJECT_ONLY = ["callbacks", "clock", "registry"] as const;

/**
 * Order plugins for the chains: dependants before their dependencies, otherwise in the given
 * order; plugin values named in `deps` are added when missing.
 *
 * @param plugins the plugins as listed
 * @returns the chain order
 * @throws Error naming the plugin for a missing dependency, a cycle or a duplicate name
 */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  const byName = new Map<string, Plugin>();
  const queue = [...plugins];
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i] as Plugin;
    const seen = byName.get(p.name);
    if (seen !== undefined) {
      if (seen !== p) throw new Error(`two different plugins are named "${p.name}"`);
      continue;
    }
    byName.set(p.name, p);
    for (const d of p.deps) if (typeof d !== "string") queue.push(d);
  }
  const deps = (p: Plugin): string[] => p.deps.map((d) => (typeof d === "string" ? d : d.name));
  for (const p of byName.values()) {
    for (const d of deps(p)) {
      if (!byName.has(d)) {
        throw new Error(`plugin "${p.name}" depends on "${d}", which is not in the plugin list`);
      }
    }
  }
  // Depth-first post-order over "dependency of" edges gives dependencies first; reverse it.
  const order: Plugin[] = [];
  const mark = new Map<string, 1 | 2>();
  const visit = (p: Plugin, trail: string[]): void => {
    const m = mark.get(p.name);
    if (m === 2) return;
    if (m === 1) {
      throw new Error(`plugin dependency cycle: ${[...trail, p.name].join(" -> ")}`);
    }
    mark.set(p.name, 1);
    for (const d of deps(p)) visit(byName.get(d) as Plugin, [...trail, p.name]);
    mark.set(p.name, 2);
    order.push(p);
  };
  // Visit in reverse listing order so that, reversed, unrelated plugins keep their order.
  for (const p of [...byName.values()].reverse()) visit(p, []);
  return order.reverse();
}

/**
 * Validate a config value and fill in every default.
 *
 * @param input the config object (or the value of a parsed file)
 * @param options the file source, a plugin table, the previous config
 * @returns the resolved config
 * @throws ConfigError naming the key (and line) of the first problem
 */
export function resolveConfig<S extends object = StateMap>(
  input: unknown,
  options: ResolveOptions = {},
): ServiceConfig<S> {
  const r = new ConfigReader(input, "", options.source);
  const d = CONFIG_DEFAULTS;
  r.optionalString("name");
  const listen = r.stringList("listen", d.listen);
  listen.forEach((uri, i) => {
    try {
      parseListenUri(uri);
    } catch (e) {
      throw posError(options.source, `listen[${i}]`, (e as Error).message);
    }
  });
  const dataDir = r.string("dataDir", d.dataDir);
  if (dataDir === "") throw r.error("dataDir", "must not be empty");
  const callTimeout = r.number("callTimeout", d.callTimeout, { min: 1 });
  const rs = r.section("restart");
  const restart: RestartConfig = {
    intensity: rs.number("intensity", d.restart.intensity, { min: 0, integer: true }),
    period: rs.number("period", d.restart.period, { min: 1 }),
  };
  rs.done();
  const ts = r.section("timers");
  const timers: SipTimers = {
    t1: ts.number("t1", d.timers.t1, { min: 1 }),
    t2: ts.number("t2", d.timers.t2, { min: 1 }),
    t4: ts.number("t4", d.timers.t4, { min: 1 }),
  };
  if (timers.t2 < timers.t1) throw ts.error("t2", "must not be smaller than t1");
  ts.done();
  const ls = r.section("limits");
  const int1 = { min: 1, integer: true };
  const limits: SipLimits = {
    maxMessageSize: ls.number("maxMessageSize", d.limits.maxMessageSize, {
      min: 512,
      max: 16 * 1024 * 1024,
      integer: true,
    }),
    maxConnections: ls.number("maxConnections", d.limits.maxConnections, int1),
    headerTimeout: ls.number("headerTimeout", d.limits.headerTimeout, { min: 1 }),
    maxMalformed: ls.number("maxMalformed", d.limits.maxMalformed, { min: 0, integer: true }),
    idleTimeout: ls.number("idleTimeout", d.limits.idleTimeout, { min: 1 }),
    connectTimeout: ls.number("connectTimeout", d.limits.connectTimeout, { min: 1 }),
    maxCalls: ls.number("maxCalls", d.limits.maxCalls, int1),
  };
  ls.done();
  const udpMaxSize = r.number("udpMaxSize", d.udpMaxSize, { min: 200, integer: true });
  const udpBackend = r.string<UdpBackendChoice>("udpBackend", d.udpBackend, UDP_BACKENDS);
  const tr = r.section("tls");
  const tls: TlsOptions = {};
  if (tr.has("caCerts")) tls.caCerts = tr.stringList("caCerts", []);
  if (tr.has("rejectUnauthorized")) {
    tls.rejectUnauthorized = tr.boolean("rejectUnauthorized", true);
  }
  const cert = tr.optionalString("cert");
  if (cert !== undefined) tls.cert = cert;
  const key = tr.optionalString("key");
  if (key !== undefined) tls.key = key;
  tr.done();
  const keepAliveInterval = r.number("keepAliveInterval", d.keepAliveInterval, { min: 0 });
  const keepAliveTimeout = r.number("keepAliveTimeout", d.keepAliveTimeout, { min: 1 });
  const supported = r.stringList("supported", []);
  const accept = r.stringList("accept", []);
  const events = r.stringList("events", []);
  const fromUser = r.string("fromUser", d.fromUser);
  const allow = r.has("allow") ? r.stringList("allow", []) : (r.raw("allow"), undefined);
  const realm = r.optionalString("realm");
  const td = r.raw("tryingDelay");
  const tryingDelay = td === false ? false : r.number("tryingDelay", d.tryingDelay, { min: 0 });
  const dialogIdleTimeout = r.number("dialogIdleTimeout", d.dialogIdleTimeout, { min: 1 });
  const closeTimeout = r.number("closeTimeout", d.closeTimeout, { min: 0 });
  const inviteTimeout = r.number("inviteTimeout", d.inviteTimeout, { min: 1 });

  // Plugins: values, or names resolved through the table.
  const rawPlugins = r.raw("plugins");
  const listed: Plugin[] = [];
  if (rawPlugins !== undefined) {
    if (!Array.isArray(rawPlugins)) throw r.error("plugins", "must be a list of plugins");
    rawPlugins.forEach((p: unknown, i: number) => {
      const at = `plugins[${i}]`;
      if (typeof p === "string") {
        const found = options.pluginTable?.[p];
        if (found === undefined) {
          const known = Object.keys(options.pluginTable ?? {});
          throw posError(
            options.source,
            at,
            `unknown plugin "${p}"` + (known.length > 0 ? ` (known: ${known.join(", ")})` : ""),
          );
        }
        listed.push(found);
      } else if (isPlugin(p)) {
        listed.push(p);
      } else {
        throw posError(options.source, at, "must be a plugin value or a plugin name");
      }
    });
  }
  let plugins: Plugin[];
  try {
    plugins = orderPlugins(listed);
  } catch (e) {
    throw r.error("plugins", (e as Error).message);
  }
  const pc = r.section("pluginConfig");
  const pluginConfig = new Map<string, unknown>();
  for (const p of plugins) {
    if (!p.runtime.hasConfig) continue;
    const section = pc.section(p.name);
    pluginConfig.set(p.name, p.runtime.readConfig(section));
    section.done();
  }
  for (const name of Object.keys((input as { pluginConfig?: object }).pluginConfig ?? {})) {
    if (!plugins.some((p) => p.name === name && p.runtime.hasConfig)) {
      throw pc.error(
        name,
        plugins.some((p) => p.name === name)
          ? `plugin "${name}" takes no configuration`
          : `no plugin named "${name}" in plugins`,
      );
    }
  }
  pc.done();

  // Object-only options.
  const prev = options.previous;
  const callbacks = r.raw("callbacks") ?? prev?.callbacks ?? {};
  if (!isRecord(callbacks)) throw r.error("callbacks", "must be an object of functions");
  for (const [name, fn] of Object.entries(callbacks)) {
    if (fn !== undefined && typeof fn !== "function") {
      throw r.error(`callbacks.${name}`, "must be a function");
    }
  }
  const clock = r.raw("clock") ?? prev?.clock ?? systemClock;
  if (!isRecord(clock) || typeof clock.now !== "function") {
    throw r.error("clock", "must be a Clock (now, setTimeout, clearTimeout)");
  }
  const registry = r.raw("registry") ?? prev?.registry;
  for (const k of OBJECT_ONLY) r.raw(k);
  r.done();
  return {
    listen,
    dataDir,
    callTimeout,
    restart,
    timers,
    limits,
    udpMaxSize,
    udpBackend,
    tls,
    keepAliveInterval,
    keepAliveTimeout,
    supported,
    accept,
    events,
    fromUser,
    allow,
    realm,
    tryingDelay,
    dialogIdleTimeout,
    closeTimeout,
    inviteTimeout,
    plugins,
    pluginConfig,
    callbacks: callbacks as ServiceCallbacks<S>,
    clock: clock as unknown as Clock,
    registry: registry as ServiceRegistry | undefined,
  };
}

function posError(source: ConfigSource | undefined, key: string, problem: string): ConfigError {
  return new ConfigError(key, problem, { file: source?.file, ...source?.position(key) });
}

function isPlugin(v: unknown): v is Plugin {
  return isRecord(v) && typeof v.name === "string" && isRecord(v.runtime) &&
    Array.isArray(v.deps);
}

/**
 * Merge a partial config into a previous input: mappings merge key by key, everything else
 * (lists included) replaces, and `null` removes a key (the option returns to its default).
 *
 * @param base the previous input
 * @param patch the partial config
 * @returns a new object
 */
export function mergeConfig(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch) || isPlugin(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) {
      delete out[k]; // null resets an option to its default
      continue;
    }
    // Object-only values (callbacks, clock, registry, tls PEM objects) replace as a whole.
    out[k] = k === "callbacks" || k === "clock" || k === "registry" ? v : mergeConfig(base[k], v);
  }
  return out;
}

/**
 * Read and validate a YAML config file.
 *
 * @param path the file path
 * @param options a plugin table to resolve plugin names
 * @returns the validated plain input (pass it to `start`, possibly with callbacks added)
 * @throws ConfigError naming the key, line and column of a problem, or the file when it
 * cannot be read
 */
export async function loadConfigFile(
  path: string,
  options: { pluginTable?: Readonly<Record<string, Plugin>> } = {},
): Promise<ServiceConfigInput> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError("", `cannot read the file: ${(e as Error).message}`, { file: path });
  }
  const source = parseConfigText(text, path);
  const resolveOpts: ResolveOptions = { source };
  if (options.pluginTable !== undefined) resolveOpts.pluginTable = options.pluginTable;
  const resolved = resolveConfig(source.value, resolveOpts);
  const input = { ...(source.value as Record<string, unknown>) } as ServiceConfigInput;
  if (input.plugins !== undefined) input.plugins = resolved.plugins;
  return input;
}
