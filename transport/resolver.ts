/**
 * RFC 3263 client resolution: from a SIP URI to an ordered failover list of transport,
 * address and port. NAPTR → SRV (priority, then RFC 2782 weighted random) → A/AAAA, with the
 * `sips:` and `transport=` rules, and a cache that honours TTLs.
 *
 * The DNS source is injectable ({@linkcode DnsResolver}); production uses
 * {@linkcode DenoDnsResolver} (`Deno.resolveDns`), which does not report TTLs, so its records
 * are cached for `defaultTtl` seconds.
 *
 * @module
 */

import type { Uri } from "../sip/types.ts";
import { bareHost } from "./listen_uri.ts";
import { parseIp } from "./stun.ts";
import { DEFAULT_TTL } from "./_limits.ts";
import type { DnsRecord, DnsRecordType, DnsResolver, SendTarget, TransportName } from "./types.ts";

/** NAPTR service field → transport (RFC 3263 §4.1, RFC 7118 §5.2). SCTP (D2S) is left out:
 * Deno has no SCTP. */
const NAPTR_SERVICES: ReadonlyMap<string, TransportName> = new Map([
  ["sip+d2u", "udp"],
  ["sip+d2t", "tcp"],
  ["sips+d2t", "tls"],
  ["sip+d2w", "ws"],
  ["sips+d2w", "wss"],
]);

/** SRV owner-name prefix per transport. */
const SRV_PREFIX: Readonly<Record<TransportName, string>> = {
  udp: "_sip._udp.",
  tcp: "_sip._tcp.",
  tls: "_sips._tcp.",
  ws: "_sip._ws.",
  wss: "_sips._ws.",
};

const DEFAULT_PORTS: Readonly<Record<TransportName, number>> = {
  udp: 5060,
  tcp: 5060,
  tls: 5061,
  ws: 80,
  wss: 443,
};

/** The `Deno.resolveDns` DNS source. It reports no TTLs; a name that does not exist, or any
 * lookup failure, gives an empty list. */
export class DenoDnsResolver implements DnsResolver {
  /** Create the resolver.
   * @param nameServer optional name server to ask instead of the system's
   */
  constructor(readonly nameServer?: { ipAddr: string; port?: number }) {}

  /** Look up records of one type. */
  async resolve(name: string, type: DnsRecordType): Promise<DnsRecord[]> {
    const options = this.nameServer ? { nameServer: this.nameServer } : {};
    try {
      switch (type) {
        case "NAPTR":
          return (await Deno.resolveDns(name, "NAPTR", options)).map((r) => ({ type, ...r }));
        case "SRV":
          return (await Deno.resolveDns(name, "SRV", options)).map((r) => ({ type, ...r }));
        case "A":
        case "AAAA":
          return (await Deno.resolveDns(name, type, options)).map((address) => ({
            type,
            address,
          }));
      }
    } catch {
      return [];
    }
  }
}

/** Options of a {@linkcode Rfc3263Resolver}. */
export interface ResolverOptions {
  /** The DNS source (default {@linkcode DenoDnsResolver}). */
  dns?: DnsResolver;
  /** TTL in seconds for records without one, and for negative answers (default 300). */
  defaultTtl?: number;
  /** Random source in [0,1) for SRV weights (default `Math.random`). */
  random?: () => number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /** Transports that may be chosen (default all five). */
  transports?: readonly TransportName[];
  /** Most cache entries kept (default 4096); the oldest go first. */
  maxCacheEntries?: number;
}

interface CacheEntry {
  records: DnsRecord[];
  expires: number;
}

/**
 * RFC 3263 resolver with a TTL cache. One instance per transport layer; no global state.
 *
 * @example
 * ```ts
 * import { Rfc3263Resolver } from "./resolver.ts";
 * import type { DnsRecord, DnsRecordType } from "./types.ts";
 * const zone: Record<string, DnsRecord[]> = {
 *   "NAPTR example.com": [{ type: "NAPTR", order: 10, preference: 10, flags: "s",
 *     services: "SIP+D2T", regexp: "", replacement: "_sip._tcp.example.com" }],
 *   "SRV _sip._tcp.example.com": [{ type: "SRV", priority: 0, weight: 1, port: 5070,
 *     target: "sip1.example.com" }],
 *   "A sip1.example.com": [{ type: "A", address: "192.0.2.1" }],
 * };
 * const resolver = new Rfc3263Resolver({
 *   dns: { resolve: (name: string, type: DnsRecordType) =>
 *     Promise.resolve(zone[`${type} ${name}`] ?? []) },
 * });
 * const uri = { scheme: "sip", host: "example.com", port: undefined, params: new Map() };
 * const targets = await resolver.resolve(uri);
 * if (targets[0]?.transport !== "tcp" || targets[0].port !== 5070) throw new Error();
 * ```
 */
export class Rfc3263Resolver {
  readonly #dns: DnsResolver;
  readonly #defaultTtl: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #transports: ReadonlySet<TransportName>;
  readonly #maxEntries: number;
  readonly #cache = new Map<string, CacheEntry>();

  /** Create a resolver.
   * @param options DNS source, TTL default, random source, clock, allowed transports
   */
  constructor(options: ResolverOptions = {}) {
    this.#dns = options.dns ?? new DenoDnsResolver();
    this.#defaultTtl = options.defaultTtl ?? DEFAULT_TTL;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#transports = new Set(options.transports ?? ["udp", "tcp", "tls", "ws", "wss"]);
    this.#maxEntries = options.maxCacheEntries ?? 4096;
  }

  /** Forget every cached record. */
  clearCache(): void {
    this.#cache.clear();
  }

  /**
   * The targets to try, in failover order (RFC 3263 §4). Numeric hosts short-circuit DNS;
   * `maddr` overrides the host; `sips:` allows only TLS/WSS; `transport=` pins the
   * transport; an explicit port skips NAPTR and SRV.
   *
   * @param uri the SIP or SIPS URI to reach (the next hop: a Route or the Request-URI)
   * @returns targets in the order to try them; empty when nothing resolves
   */
  async resolve(uri: Pick<Uri, "scheme" | "host" | "port" | "params">): Promise<SendTarget[]> {
    const secure = uri.scheme.toLowerCase() === "sips";
    const maddr = uri.params.get("maddr");
    const host = bareHost(maddr ?? uri.host).toLowerCase().replace(/\.$/, "");
    const tparam = uri.params.get("transport")?.toLowerCase() ?? undefined;
    let transport: TransportName | undefined;
    if (tparam !== undefined) {
      transport = mapTransportParam(tparam, secure);
      if (transport === undefined || !this.#transports.has(transport)) return [];
    }
    const numeric = parseIp(host) !== undefined;
    // §4.1: numeric IP or explicit port: no NAPTR; transport from param, else UDP (sip) / TLS (sips).
    if (numeric || uri.port !== undefined) {
      const tp = transport ?? (secure ? "tls" : "udp");
      const port = uri.port ?? DEFAULT_PORTS[tp];
      if (numeric) return [{ transport: tp, host, port }];
      return await this.#addresses(host, tp, port, host);
    }
    // §4.2: transport known, no port: SRV for that transport, then A/AAAA on the default port.
    if (transport !== undefined) {
      const viaSrv = await this.#srvTargets(SRV_PREFIX[transport] + host, transport, host);
      if (viaSrv.length > 0) return viaSrv;
      return await this.#addresses(host, transport, DEFAULT_PORTS[transport], host);
    }
    // §4.1: NAPTR.
    const naptr = (await this.#lookup(host, "NAPTR"))
      .filter((r): r is Extract<DnsRecord, { type: "NAPTR" }> => r.type === "NAPTR")
      .filter((r) => r.flags.toLowerCase() === "s")
      .map((r) => ({ r, tp: NAPTR_SERVICES.get(r.services.toLowerCase()) }))
      .filter((x): x is { r: typeof x.r; tp: TransportName } =>
        x.tp !== undefined && this.#transports.has(x.tp) &&
        (!secure || x.tp === "tls" || x.tp === "wss")
      )
      .sort((a, b) => a.r.order - b.r.order || a.r.preference - b.r.preference);
    if (naptr.length > 0) {
      const out: SendTarget[] = [];
      for (const { r, tp } of naptr) {
        out.push(...await this.#srvTargets(r.replacement.replace(/\.$/, ""), tp, host));
      }
      if (out.length > 0) return dedupe(out);
    }
    // §4.1 without NAPTR: SRV for each supported transport, in our preference order.
    const order: TransportName[] = secure ? ["tls", "wss"] : ["udp", "tcp", "tls", "ws", "wss"];
    const out: SendTarget[] = [];
    for (const tp of order) {
      if (!this.#transports.has(tp)) continue;
      out.push(...await this.#srvTargets(SRV_PREFIX[tp] + host, tp, host));
    }
    if (out.length > 0) return dedupe(out);
    // No SRV either: A/AAAA, UDP (sip) or TLS (sips) on the default port.
    const tp: TransportName = secure ? "tls" : "udp";
    if (!this.#transports.has(tp)) return [];
    return await this.#addresses(host, tp, DEFAULT_PORTS[tp], host);
  }

  /** Order SRV records per RFC 2782: ascending priority; within a priority, weighted random
   * selection (zero weights first in the running sum, so they are picked rarely).
   * @param records the SRV records of one name
   * @returns the records in the order to try them
   */
  orderSrv<T extends { priority: number; weight: number }>(records: readonly T[]): T[] {
    const byPriority = new Map<number, T[]>();
    for (const r of records) {
      const list = byPriority.get(r.priority);
      if (list) list.push(r);
      else byPriority.set(r.priority, [r]);
    }
    const out: T[] = [];
    for (const prio of [...byPriority.keys()].sort((a, b) => a - b)) {
      const remaining = [...byPriority.get(prio)!].sort((a, b) => a.weight - b.weight);
      while (remaining.length > 0) {
        const total = remaining.reduce((s, r) => s + r.weight, 0);
        const pick = Math.floor(this.#random() * (total + 1));
        let sum = 0;
        let idx = remaining.length - 1;
        for (let i = 0; i < remaining.length; i++) {
          sum += remaining[i]!.weight;
          if (sum >= pick) {
            idx = i;
            break;
          }
        }
        out.push(remaining[idx]!);
        remaining.splice(idx, 1);
      }
    }
    return out;
  }

  async #srvTargets(name: string, tp: TransportName, domain: string): Promise<SendTarget[]> {
    const srv = (await this.#lookup(name, "SRV"))
      .filter((r): r is Extract<DnsRecord, { type: "SRV" }> => r.type === "SRV")
      .filter((r) => r.target !== "." && r.target !== "");
    const out: SendTarget[] = [];
    for (const r of this.orderSrv(srv)) {
      out.push(...await this.#addresses(r.target.replace(/\.$/, ""), tp, r.port, domain));
    }
    return out;
  }

  async #addresses(
    name: string,
    tp: TransportName,
    port: number,
    domain: string,
  ): Promise<SendTarget[]> {
    const out: SendTarget[] = [];
    const secure = tp === "tls" || tp === "wss";
    if (parseIp(name)) {
      out.push({ transport: tp, host: bareHost(name), port });
    } else {
      for (const type of ["A", "AAAA"] as const) {
        for (const r of await this.#lookup(name, type)) {
          if (r.type !== "A" && r.type !== "AAAA") continue;
          const t: SendTarget = { transport: tp, host: r.address, port };
          // RFC 5922 §4.1: the certificate must match the domain of the URI, not the SRV target.
          if (secure) t.tlsServerName = domain;
          out.push(t);
        }
      }
    }
    return out;
  }

  async #lookup(name: string, type: DnsRecordType): Promise<DnsRecord[]> {
    const key = `${type} ${name}`;
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && hit.expires > now) return hit.records;
    if (hit) this.#cache.delete(key);
    const records = await this.#dns.resolve(name, type);
    let ttl = records.length === 0 ? this.#defaultTtl : Infinity;
    for (const r of records) ttl = Math.min(ttl, r.ttl ?? this.#defaultTtl);
    if (ttl > 0) {
      if (this.#cache.size >= this.#maxEntries) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(key, { records, expires: now + ttl * 1000 });
    }
    return records;
  }
}

function mapTransportParam(tparam: string, secure: boolean): TransportName | undefined {
  switch (tparam) {
    case "udp":
      return secure ? undefined : "udp";
    case "tcp":
      return secure ? "tls" : "tcp";
    case "tls":
      return "tls";
    case "ws":
      return secure ? "wss" : "ws";
    case "wss":
      return "wss";
    default:
      return undefined;
  }
}

function dedupe(targets: SendTarget[]): SendTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const k = `${t.transport}|${t.host}|${t.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
