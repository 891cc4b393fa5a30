/**
 * The `registrar` plugin: a SIP registrar (RFC 3261 §10.3, what NkSIP's `nksip_registrar`
 * does), written only through the public plugin contract.
 *
 * It answers REGISTER through the `sipRegister` chain:
 *
 * - the address-of-record (AOR) is the To URI in canonical form (§10.3 step 5: URI parameters
 *   and headers removed, escapes decoded, host lower-cased), see {@linkcode normalizeAor};
 * - each Contact gets its expiry from its `expires` parameter, else the Expires header, else
 *   `defaultExpires`; below `minExpires` (and not 0) the whole request is refused with
 *   **423 Interval Too Brief** and `Min-Expires`; above `maxExpires` it is shortened;
 * - `Contact: *` removes every binding, only alone and with `Expires: 0` (else **400**);
 * - a binding whose stored Call-ID equals the request's is changed only by a higher CSeq
 *   (§10.3 steps 6 and 7); otherwise the whole update is aborted with **500** (the RFC names
 *   no code: "the update MUST be aborted and the request fails");
 * - updates are atomic: all contacts of a request apply, or none;
 * - the 200 OK lists every current binding with its remaining `expires` (and its `q` and
 *   other contact parameters), and carries a `Date` header; a REGISTER without Contact only
 *   fetches the list;
 * - `Path` (RFC 3327) is stored with each binding and returned in the 200 OK when the UA
 *   sent `Supported: path`.
 *
 * As NkSIP's registrar, it also marks requests (other than REGISTER) that come from the flow
 * (transport, address, port) of a current binding of their From AOR: its `sipAuthorize` link
 * passes `register: true` down the chain, so a later `auth` plugin lets them through.
 *
 * Bindings live in a {@linkcode RegistrarStore} (in memory by default; pass any async store
 * to {@linkcode createRegistrar}), held as the plugin's resource: they survive restarts of the
 * service process. Expiry runs on the service clock (`ctx.clock`): expired bindings are
 * dropped when an AOR is read, and a periodic sweep (`sweepInterval`) removes the rest.
 *
 * Lookup from application code (e.g. a `sipInvite` callback): {@linkcode registrarFind},
 * {@linkcode registrarBindings}, {@linkcode registrarClear}.
 *
 * @example
 * ```ts
 * import { start } from "../service/service.ts";
 * import { registrar, registrarFind } from "./registrar.ts";
 * const dir = await Deno.makeTempDir();
 * const svc = await start("registrar_doc", {
 *   dataDir: dir,
 *   listen: ["sip:127.0.0.1:0"],
 *   plugins: [registrar],
 *   allow: ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"],
 * });
 * const port = svc.transports[0]?.port;
 * const r = await svc.register(`sip:127.0.0.1:${port}`, {
 *   to: "sip:alice@example.com",
 *   contact: "<sip:alice@127.0.0.1:5099>",
 * });
 * if (r.status !== 200) throw new Error(`status ${r.status}`);
 * const contacts = await registrarFind(svc, "sip:alice@example.com");
 * if (contacts[0] !== "sip:alice@127.0.0.1:5099") throw new Error("not registered");
 * await svc.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { ReplyValue } from "../service/reply.ts";
import { definePlugin, type Plugin } from "../service/plugin.ts";
import type { Service } from "../service/service.ts";
import type { PeerInfo } from "../service/sip_callbacks.ts";
import type { LogFunctions } from "../service/types.ts";
import type { Clock, TimerId } from "../sip/clock.ts";
import { formatParams, parseExpires, parseTokenList } from "../sip/header_parsers.ts";
import type { Contact, Params, SipRequest, Uri } from "../sip/types.ts";
import { parseUri, uriEquals } from "../sip/uri.ts";
import { ownString } from "../sip/message.ts";

/** One stored binding of an address-of-record to a contact address. */
export interface RegistrarBinding {
  /** The contact URI, as registered. */
  uri: string;
  /** The display name of the Contact, if any. */
  displayName?: string;
  /** Contact header parameters other than `expires` (e.g. `q`, `+sip.instance`,
   * `reg-id`), lower-cased names, `null` for a flag. */
  params: Record<string, string | null>;
  /** The `q` value (0 to 1), if given. */
  q?: number;
  /** When the binding expires, in ms on the service clock. */
  expiresAt: number;
  /** When the binding was last registered or refreshed, in ms on the service clock. */
  updatedAt: number;
  /** The Call-ID of the REGISTER that last wrote it. */
  callId: string;
  /** The CSeq number of the REGISTER that last wrote it. */
  cseq: number;
  /** The Path header values of that REGISTER (RFC 3327), first hop first. */
  path: string[];
  /** Where that REGISTER came from (transport, remote address and port). */
  source?: RegistrarSource;
}

/** The flow a REGISTER came from. */
export interface RegistrarSource {
  /** Lower-case transport (`udp`, `tcp`, ...). */
  transport: string;
  /** Remote address. */
  host: string;
  /** Remote port. */
  port: number;
}

/** A current binding as returned by {@linkcode registrarBindings}: with its remaining
 * lifetime. */
export interface RegistrarEntry extends RegistrarBinding {
  /** Seconds left before it expires (at least 1). */
  expires: number;
}

/**
 * Where the registrar keeps its bindings, one list per AOR (canonical form, see
 * {@linkcode normalizeAor}). All methods are async so a remote store (Redis, Deno KV, ...)
 * can implement it. The registrar serialises its own read-modify-write cycles per AOR
 * within one service; a store shared by several services must do its own locking.
 */
export interface RegistrarStore {
  /** The bindings of an AOR (expired ones included; the registrar filters them).
   * @param aor the canonical AOR
   * @returns the bindings, or undefined when none are stored
   */
  get(aor: string): Promise<RegistrarBinding[] | undefined>;
  /** Replace the bindings of an AOR (never called with an empty list: see `delete`).
   * @param aor the canonical AOR
   * @param bindings the new bindings
   */
  put(aor: string, bindings: RegistrarBinding[]): Promise<void>;
  /** Remove every binding of an AOR.
   * @param aor the canonical AOR
   */
  delete(aor: string): Promise<void>;
  /** Every AOR with stored bindings.
   * @returns the AORs
   */
  list(): Promise<string[]>;
}

/** The default {@linkcode RegistrarStore}: a Map in memory (lost when the service stops). */
export class MemoryRegistrarStore implements RegistrarStore {
  readonly #map = new Map<string, RegistrarBinding[]>();

  /** Create an empty store. */
  constructor() {}

  /** The bindings of an AOR (copies).
   * @param aor the canonical AOR
   * @returns the bindings, or undefined
   */
  get(aor: string): Promise<RegistrarBinding[] | undefined> {
    const b = this.#map.get(aor);
    return Promise.resolve(b === undefined ? undefined : b.map(copyBinding));
  }

  /** Replace the bindings of an AOR.
   * @param aor the canonical AOR
   * @param bindings the bindings
   */
  put(aor: string, bindings: RegistrarBinding[]): Promise<void> {
    this.#map.set(aor, bindings.map(copyBinding));
    return Promise.resolve();
  }

  /** Remove an AOR.
   * @param aor the canonical AOR
   */
  delete(aor: string): Promise<void> {
    this.#map.delete(aor);
    return Promise.resolve();
  }

  /** Every stored AOR.
   * @returns the AORs
   */
  list(): Promise<string[]> {
    return Promise.resolve([...this.#map.keys()]);
  }
}

function copyBinding(b: RegistrarBinding): RegistrarBinding {
  const out: RegistrarBinding = { ...b, params: { ...b.params }, path: [...b.path] };
  if (b.source !== undefined) out.source = { ...b.source };
  return out;
}

/** The registrar's config (`pluginConfig.registrar`). */
export interface RegistrarConfig {
  /** Expiry in seconds when neither the Contact nor the request gives one (default 3600). */
  defaultExpires: number;
  /** Shortest accepted expiry in seconds; shorter non-zero ones get 423 (default 60). */
  minExpires: number;
  /** Longest expiry in seconds; longer ones are shortened to it (default 86400). */
  maxExpires: number;
  /** Domains this registrar serves (Request-URI host); empty (default): every domain. Others get
   * 404 (§10.3 step 1 and 5). */
  domains: string[];
  /** Interval of the expiry sweep in ms on the service clock; 0 disables it (default
   * 60000). Expired bindings are also dropped whenever an AOR is read. */
  sweepInterval: number;
  /** Add REGISTER to the Allow header of the default OPTIONS answer (default true). */
  advertise: boolean;
  /** Set `register` in the `sipAuthorize` info of a request (other than REGISTER) that
   * comes from the flow (transport, address, port) of a current binding of its From AOR,
   * as NkSIP's registrar does (default true). Plugins later in the chain (e.g. `auth`)
   * see it: list the registrar before them. */
  markRegistered: boolean;
}

/** The registrar's resource (what {@linkcode registrarOf} returns): the store, the clock
 * and the per-AOR write serialisation. */
export class RegistrarResource {
  /** The binding store. */
  readonly store: RegistrarStore;
  /** The service clock. */
  readonly clock: Clock;
  /** The sweep timer, while armed. */
  sweepTimer: TimerId | undefined = undefined;
  /** The sweep interval in ms (0: no sweep); set from the config. */
  sweepInterval = 0;
  /** True while a sweep runs (the timer is re-armed when it ends). */
  sweeping = false;
  /** True once the plugin stopped. */
  stopped = false;
  readonly #locks = new Map<string, Promise<unknown>>();

  /** Create the resource.
   * @param store the binding store
   * @param clock the service clock
   */
  constructor(store: RegistrarStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /** Run `fn` after every earlier task of the same AOR (read-modify-write cycles of one
   * AOR never interleave).
   * @param aor the canonical AOR
   * @param fn the task
   * @returns its result
   */
  exclusive<T>(aor: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(aor) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.#locks.set(aor, tail);
    void tail.then(() => {
      if (this.#locks.get(aor) === tail) this.#locks.delete(aor);
    });
    return run;
  }

  /** The live bindings of an AOR; expired ones are removed from the store on the way.
   * @param aor the canonical AOR
   * @returns the live bindings
   */
  live(aor: string): Promise<RegistrarBinding[]> {
    return this.exclusive(aor, () => this.#liveUnlocked(aor));
  }

  /** Same as {@linkcode RegistrarResource.live}, for callers already holding the AOR.
   * @param aor the canonical AOR
   * @returns the live bindings
   */
  async liveHeld(aor: string): Promise<RegistrarBinding[]> {
    return await this.#liveUnlocked(aor);
  }

  async #liveUnlocked(aor: string): Promise<RegistrarBinding[]> {
    const all = await this.store.get(aor);
    if (all === undefined) return [];
    const now = this.clock.now();
    const live = all.filter((b) => b.expiresAt > now);
    if (live.length !== all.length) {
      if (live.length === 0) await this.store.delete(aor);
      else await this.store.put(aor, live);
    }
    return live;
  }

  /** Remove every expired binding of every AOR.
   * @returns how many bindings were removed
   */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const aor of await this.store.list()) {
      await this.exclusive(aor, async () => {
        const all = await this.store.get(aor);
        if (all === undefined) return;
        const before = all.length;
        const live = await this.#liveUnlocked(aor);
        removed += before - live.length;
      });
    }
    return removed;
  }
}

/** A REGISTER that must be refused, with its response. */
class RegisterRejection extends Error {
  constructor(readonly reply: ReplyValue) {
    super(typeof reply === "object" && "status" in reply ? String(reply.status) : "rejected");
  }
}

function reject(status: number, reason?: string, headers?: Record<string, string>): never {
  const reply: { status: number; reason?: string; headers?: Record<string, string> } = { status };
  if (reason !== undefined) reply.reason = reason;
  if (headers !== undefined) reply.headers = headers;
  throw new RegisterRejection(reply);
}

/**
 * The canonical form of an address-of-record (RFC 3261 §10.3 step 5): URI parameters and
 * headers removed, the user part %-decoded, the host lower-cased; the port kept.
 *
 * @param aor the AOR URI (text or parsed)
 * @returns the canonical AOR, e.g. `sip:alice@example.com`
 * @throws SipParseError when the text is not a URI; TypeError when it is not sip/sips
 * @example
 * ```ts
 * import { normalizeAor } from "./registrar.ts";
 * normalizeAor("sip:%61lice@Example.COM;user=phone"); // "sip:alice@example.com"
 * ```
 */
export function normalizeAor(aor: string | Uri): string {
  const uri = typeof aor === "string" ? parseUri(aor) : aor;
  if (uri.scheme !== "sip" && uri.scheme !== "sips") {
    throw new TypeError(`An address-of-record must be a SIP or SIPS URI, got ${uri.scheme}:`);
  }
  const user = uri.user === undefined ? "" : `${uri.user}@`;
  const port = uri.port === undefined ? "" : `:${uri.port}`;
  return `${uri.scheme}:${user}${uri.host.toLowerCase()}${port}`;
}

function paramsRecord(params: Params): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of params) if (k !== "expires") out[k] = v === null ? null : ownString(v);
  return out;
}

function contactValue(b: RegistrarBinding, expires: number): string {
  const params = new Map<string, string | null>(Object.entries(b.params));
  params.set("expires", String(expires));
  const name = b.displayName === undefined
    ? ""
    : `"${b.displayName.replace(/[\\"]/g, (c) => `\\${c}`)}" `;
  return `${name}<${b.uri}>${formatParams(params)}`;
}

function remaining(b: RegistrarBinding, now: number): number {
  return Math.max(1, Math.ceil((b.expiresAt - now) / 1000));
}

/** Sort by q (absent: 1.0) descending, then most recently updated first. */
function byPreference(a: RegistrarBinding, b: RegistrarBinding): number {
  const qa = a.q ?? 1;
  const qb = b.q ?? 1;
  if (qa !== qb) return qb - qa;
  return b.updatedAt - a.updatedAt;
}

function supportsPath(req: SipRequest): boolean {
  for (const v of req.headers("Supported")) {
    try {
      if (parseTokenList(v).some((t) => t.toLowerCase() === "path")) return true;
    } catch {
      // A malformed Supported value carries no option tag.
    }
  }
  return false;
}

function sameUri(a: string, b: Uri): boolean {
  try {
    return uriEquals(parseUri(a), b);
  } catch {
    return false;
  }
}

/** Process one REGISTER against the store; returns the reply. */
async function processRegister(
  req: SipRequest,
  peer: PeerInfo,
  cfg: RegistrarConfig,
  res: RegistrarResource,
  logger: LogFunctions,
): Promise<ReplyValue> {
  // §10.3 step 1: a domain we do not serve.
  if (cfg.domains.length > 0 && !cfg.domains.includes(req.uri.host.toLowerCase())) {
    reject(404, "Domain Not Served");
  }
  // Step 5: the AOR from To, canonical.
  let aor: string;
  try {
    aor = normalizeAor(req.to.uri);
  } catch {
    return reject(404, "Invalid Address-Of-Record");
  }
  if (cfg.domains.length > 0 && !cfg.domains.includes(req.to.uri.host.toLowerCase())) {
    reject(404, "Address-Of-Record Not In Domain");
  }
  let headerExpires: number | undefined;
  const expiresText = req.header("Expires");
  if (expiresText !== undefined) {
    try {
      headerExpires = parseExpires(expiresText);
    } catch {
      reject(400, "Invalid Expires");
    }
  }
  let contacts: Contact[];
  try {
    contacts = req.contacts;
  } catch {
    return reject(400, "Invalid Contact");
  }
  const callId = req.callId;
  const cseq = req.cseq.seq;
  const path = req.headers("Path");
  return await res.exclusive(aor, async () => {
    const now = res.clock.now();
    const current = await res.liveHeld(aor);
    let next: RegistrarBinding[] = current;
    if (contacts.some((c) => c.star)) {
      // Step 6: "*" only alone and with Expires: 0.
      if (contacts.length !== 1 || headerExpires !== 0) {
        reject(400, "Invalid Use Of Contact *");
      }
      for (const b of current) {
        if (b.callId === callId && cseq <= b.cseq) reject(500, "Out Of Order Request");
      }
      next = [];
    } else if (contacts.length > 0) {
      next = current.map(copyBinding);
      for (const c of contacts) {
        let expires = c.expires ?? headerExpires ?? cfg.defaultExpires;
        if (expires !== 0 && expires < cfg.minExpires) {
          reject(423, "Interval Too Brief", { "Min-Expires": String(cfg.minExpires) });
        }
        if (expires > cfg.maxExpires) expires = cfg.maxExpires;
        const index = next.findIndex((b) => sameUri(b.uri, c.uri));
        const existing = index >= 0 ? next[index] : undefined;
        // Step 7: the same Call-ID must come with a higher CSeq.
        if (existing !== undefined && existing.callId === callId && cseq <= existing.cseq) {
          reject(500, "Out Of Order Request");
        }
        if (expires === 0) {
          if (index >= 0) next.splice(index, 1);
          continue;
        }
        // Own copies of the strings (see ownString): a binding outlives its REGISTER.
        const binding: RegistrarBinding = {
          uri: ownString(c.uri.toString()),
          params: paramsRecord(c.params),
          expiresAt: now + expires * 1000,
          updatedAt: now,
          callId: ownString(callId),
          cseq,
          path: path.map(ownString),
          source: { transport: peer.transport, host: peer.remoteHost, port: peer.remotePort },
        };
        if (c.displayName !== undefined) binding.displayName = ownString(c.displayName);
        if (c.q !== undefined) binding.q = c.q;
        if (index >= 0) next[index] = binding;
        else next.push(binding);
      }
    }
    // Commit all changes at once (step 7: all or nothing).
    if (next !== current) {
      if (next.length === 0) await res.store.delete(aor);
      else await res.store.put(aor, next);
      logger.debug("REGISTER {aor}: {n} binding(s)", { aor, n: next.length });
    }
    const headers: Record<string, string | string[]> = {
      Date: new Date(now).toUTCString(),
    };
    const sorted = [...next].sort(byPreference);
    if (sorted.length > 0) {
      headers["Contact"] = sorted.map((b) => contactValue(b, remaining(b, now)));
    }
    if (path.length > 0 && supportsPath(req)) headers["Path"] = path;
    return { status: 200, headers };
  });
}

function armSweep(res: RegistrarResource, logger: LogFunctions): void {
  if (res.sweepInterval <= 0 || res.stopped || res.sweeping || res.sweepTimer !== undefined) {
    return;
  }
  res.sweepTimer = res.clock.setTimeout(() => {
    res.sweepTimer = undefined;
    res.sweeping = true;
    res.sweep().then(
      (n) => {
        if (n > 0) logger.debug("Sweep removed {n} expired binding(s)", { n });
      },
      (error) => logger.warn("Sweep failed: {error}", { error: String(error) }),
    ).finally(() => {
      res.sweeping = false;
      armSweep(res, logger);
    });
  }, res.sweepInterval);
}

function disarmSweep(res: RegistrarResource): void {
  if (res.sweepTimer !== undefined) res.clock.clearTimeout(res.sweepTimer);
  res.sweepTimer = undefined;
}

/** Options of {@linkcode createRegistrar} (objects that cannot come from a config file). */
export interface RegistrarOptions {
  /** The binding store (default: a new {@linkcode MemoryRegistrarStore} per service). */
  store?: RegistrarStore | (() => RegistrarStore);
}

/**
 * Make a registrar plugin (named `registrar`) with a custom store.
 *
 * @param options the store
 * @returns the plugin
 * @example
 * ```ts
 * import { createRegistrar, MemoryRegistrarStore } from "./registrar.ts";
 * const shared = new MemoryRegistrarStore();
 * const plugin = createRegistrar({ store: shared });
 * if (plugin.name !== "registrar") throw new Error("unexpected");
 * ```
 */
export function createRegistrar(options: RegistrarOptions = {}): Plugin<"registrar", undefined> {
  const makeStore = (): RegistrarStore => {
    const s = options.store;
    if (s === undefined) return new MemoryRegistrarStore();
    return typeof s === "function" ? s() : s;
  };
  return definePlugin({
    name: "registrar",
    config: (r): RegistrarConfig => {
      const minExpires = r.number("minExpires", 60, { min: 0, integer: true });
      const maxExpires = r.number("maxExpires", 86400, { min: 1, integer: true });
      const defaultExpires = r.number("defaultExpires", 3600, { min: 1, integer: true });
      if (maxExpires < minExpires) throw r.error("maxExpires", "must be at least minExpires");
      if (defaultExpires < minExpires || defaultExpires > maxExpires) {
        throw r.error("defaultExpires", "must be between minExpires and maxExpires");
      }
      return {
        defaultExpires,
        minExpires,
        maxExpires,
        domains: r.stringList("domains", []).map((d) => d.toLowerCase()),
        sweepInterval: r.number("sweepInterval", 60_000, { min: 0 }),
        advertise: r.boolean("advertise", true),
        markRegistered: r.boolean("markRegistered", true),
      };
    },
    start: (ctx) => {
      const res = new RegistrarResource(makeStore(), ctx.clock);
      res.sweepInterval = ctx.config.sweepInterval;
      armSweep(res, ctx.logger);
      return res;
    },
    update: (ctx, previous) => {
      if (ctx.config.sweepInterval !== previous.sweepInterval) {
        ctx.resource.sweepInterval = ctx.config.sweepInterval;
        disarmSweep(ctx.resource);
        armSweep(ctx.resource, ctx.logger);
      }
    },
    stop: (ctx) => {
      ctx.resource.stopped = true;
      disarmSweep(ctx.resource);
    },
    callbacks: {
      async sipRegister([request, call], next, ctx) {
        if (call.responded) return next();
        try {
          return await processRegister(request, call.peer, ctx.config, ctx.resource, ctx.logger);
        } catch (e) {
          if (e instanceof RegisterRejection) return e.reply;
          throw e;
        }
      },
      async sipAuthorize(args, next, ctx) {
        const [info, request, call] = args;
        if (
          !ctx.config.markRegistered || info.register || info.dialog ||
          request.method === "REGISTER"
        ) {
          return next();
        }
        let aor: string;
        try {
          aor = normalizeAor(request.from.uri);
        } catch {
          return next();
        }
        const p = call.peer;
        const live = await ctx.resource.live(aor);
        const registered = live.some((b) =>
          b.source !== undefined && b.source.transport === p.transport &&
          b.source.host === p.remoteHost && b.source.port === p.remotePort
        );
        return registered ? next([{ ...info, register: true }, request, call]) : next();
      },
      async sipOptions(args, next, ctx) {
        const r = await next(args);
        if (!ctx.config.advertise || typeof r !== "object" || r === null) return r;
        if (!("status" in r) || r.status !== 200 || r.headers === undefined) return r;
        const allow = r.headers["Allow"];
        if (typeof allow !== "string" || /\bREGISTER\b/.test(allow)) return r;
        return {
          ...r,
          headers: { ...r.headers, Allow: allow === "" ? "REGISTER" : `${allow}, REGISTER` },
        };
      },
    },
  });
}

/** The registrar plugin with the in-memory store. Config: `pluginConfig.registrar` with
 * `defaultExpires`, `minExpires`, `maxExpires`, `domains`, `sweepInterval`, `advertise`. */
export const registrar: Plugin<"registrar", undefined> = createRegistrar();

/**
 * The registrar resource of a service.
 *
 * @param service a service running a registrar plugin
 * @returns its resource (store and clock)
 * @throws Error when the service runs no registrar
 */
export function registrarOf(service: Service): RegistrarResource {
  const r = service.pluginResource("registrar");
  if (!(r instanceof RegistrarResource)) {
    throw new Error(`Service "${service.name}" does not run the registrar plugin`);
  }
  return r;
}

/**
 * The current bindings of an AOR, most preferred first (q descending, then the most recent).
 *
 * @param service a service running the registrar
 * @param aor the address-of-record (any form; it is normalised)
 * @returns the bindings with their remaining `expires`
 */
export async function registrarBindings(
  service: Service,
  aor: string,
): Promise<RegistrarEntry[]> {
  const res = registrarOf(service);
  const key = normalizeAor(aor);
  const live = await res.live(key);
  const now = res.clock.now();
  return live.sort(byPreference).map((b) => ({ ...b, expires: remaining(b, now) }));
}

/**
 * The contact URIs registered for an AOR, most preferred first: what a `sipInvite` callback
 * uses to redirect (`{ redirect: await registrarFind(svc, aor) }`) or to route.
 *
 * @param service a service running the registrar
 * @param aor the address-of-record (any form; it is normalised)
 * @returns the contact URIs (empty when not registered)
 */
export async function registrarFind(service: Service, aor: string): Promise<string[]> {
  return (await registrarBindings(service, aor)).map((b) => b.uri);
}

/**
 * Remove the bindings of one AOR, or of every AOR.
 *
 * @param service a service running the registrar
 * @param aor the address-of-record; omitted: all
 */
export async function registrarClear(service: Service, aor?: string): Promise<void> {
  const res = registrarOf(service);
  const keys = aor === undefined ? await res.store.list() : [normalizeAor(aor)];
  for (const key of keys) await res.exclusive(key, () => res.store.delete(key));
}
