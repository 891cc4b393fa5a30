/**
 * The `stats` plugin: counters of SIP requests per method and responses per method and
 * status, in and out, and a histogram of UAS response times (from a request's arrival to our
 * final response), in the Prometheus text format (version 0.0.4): through
 * {@linkcode statsText} and, when `port` is set, over HTTP (`GET /metrics`) with
 * `Deno.serve`, closed when the service stops.
 *
 * Config (`pluginConfig.stats`), all optional:
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `port` | none | serve the metrics over HTTP on this port (0: a free port) |
 * | `host` | `127.0.0.1` | HTTP listen address |
 * | `path` | `/metrics` | HTTP path |
 * | `buckets` | 0.005 … 10 | histogram bucket bounds in seconds |
 * | `maxPending` | 100000 | requests tracked for response times at once (oldest dropped) |
 *
 * Counters live as long as the service (they survive restarts of the service process).
 *
 * @example
 * ```ts
 * import { start } from "../service/service.ts";
 * import { stats, statsText } from "./stats.ts";
 * const dir = await Deno.makeTempDir();
 * const svc = await start("measured", { dataDir: dir, plugins: [stats] });
 * if (!statsText(svc).includes("sipkit_sip_requests_received_total")) throw new Error("no metrics");
 * await svc.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { definePlugin, type Plugin } from "../service/plugin.ts";
import type { Service } from "../service/service.ts";
import type { MessageInfo } from "../service/types.ts";
import type { SipMessage } from "../sip/types.ts";

/** The stats plugin's config. */
export interface StatsConfig {
  /** HTTP port, or undefined for no HTTP endpoint. */
  port: number | undefined;
  /** HTTP listen address. */
  host: string;
  /** HTTP path. */
  path: string;
  /** Histogram bucket upper bounds in seconds, ascending. */
  buckets: number[];
  /** Most requests tracked at once for response times. */
  maxPending: number;
}

/** Default histogram buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number): void {
    this.count++;
    this.sum += v;
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= (this.bounds[i] as number)) this.counts[i] = (this.counts[i] ?? 0) + 1;
    }
  }
}

/** The counters of one service: what {@linkcode statsText} renders. */
export class StatsRegistry {
  /** Requests received, by method. */
  readonly requestsIn: Map<string, number> = new Map();
  /** Requests sent, by method. */
  readonly requestsOut: Map<string, number> = new Map();
  /** Responses received, by `method status`. */
  readonly responsesIn: Map<string, number> = new Map();
  /** Responses sent, by `method status`. */
  readonly responsesOut: Map<string, number> = new Map();
  #histograms = new Map<string, Histogram>();
  #pending = new Map<string, number>();
  #buckets: readonly number[];
  #maxPending: number;
  /** The HTTP server, when serving. */
  server: Deno.HttpServer<Deno.NetAddr> | undefined = undefined;

  /** Create an empty registry.
   * @param buckets histogram bounds in seconds
   * @param maxPending most requests tracked at once
   */
  constructor(buckets: readonly number[], maxPending: number) {
    this.#buckets = buckets;
    this.#maxPending = maxPending;
  }

  /** The HTTP port, when serving. */
  get port(): number | undefined {
    return this.server?.addr.port;
  }

  /** Requests currently tracked for response times. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Count a message.
   * @param direction in or out
   * @param m the message
   * @param now the time in ms
   */
  count(direction: "in" | "out", m: SipMessage, now: number): void {
    if (m.kind === "request") {
      const map = direction === "in" ? this.requestsIn : this.requestsOut;
      map.set(m.method, (map.get(m.method) ?? 0) + 1);
      if (direction === "in" && m.method !== "ACK") {
        const key = txKey(m);
        if (!this.#pending.has(key)) {
          if (this.#pending.size >= this.#maxPending) {
            const oldest = this.#pending.keys().next();
            if (oldest.done !== true) this.#pending.delete(oldest.value);
          }
          this.#pending.set(key, now);
        }
      }
      return;
    }
    const method = m.cseq.method;
    const map = direction === "in" ? this.responsesIn : this.responsesOut;
    const k = `${method} ${m.status}`;
    map.set(k, (map.get(k) ?? 0) + 1);
    if (direction === "out" && m.status >= 200) {
      const key = txKey(m);
      const t0 = this.#pending.get(key);
      if (t0 !== undefined) {
        this.#pending.delete(key);
        let h = this.#histograms.get(method);
        if (h === undefined) {
          h = new Histogram(this.#buckets);
          this.#histograms.set(method, h);
        }
        h.observe(Math.max(0, now - t0) / 1000);
      }
    }
  }

  /** Render in the Prometheus text format.
   * @param service the service name (a label on every sample)
   * @returns the exposition text
   */
  render(service: string): string {
    const out: string[] = [];
    const sv = `service="${escapeLabel(service)}"`;
    const counter = (name: string, help: string, map: Map<string, number>, status: boolean) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [k, v] of [...map].sort(([a], [b]) => a.localeCompare(b))) {
        const [method, code] = status ? k.split(" ") : [k, undefined];
        const labels = `${sv},method="${escapeLabel(method ?? "")}"` +
          (code === undefined ? "" : `,status="${code}"`);
        out.push(`${name}{${labels}} ${v}`);
      }
    };
    counter(
      "sipkit_sip_requests_received_total",
      "SIP requests received, by method.",
      this.requestsIn,
      false,
    );
    counter(
      "sipkit_sip_requests_sent_total",
      "SIP requests sent, by method.",
      this.requestsOut,
      false,
    );
    counter(
      "sipkit_sip_responses_received_total",
      "SIP responses received, by method and status.",
      this.responsesIn,
      true,
    );
    counter(
      "sipkit_sip_responses_sent_total",
      "SIP responses sent, by method and status.",
      this.responsesOut,
      true,
    );
    const hn = "sipkit_sip_uas_response_seconds";
    out.push(
      `# HELP ${hn} Time from a request's arrival to our final response, by method.`,
      `# TYPE ${hn} histogram`,
    );
    for (const [method, h] of [...this.#histograms].sort(([a], [b]) => a.localeCompare(b))) {
      const l = `${sv},method="${escapeLabel(method)}"`;
      h.bounds.forEach((b, i) => out.push(`${hn}_bucket{${l},le="${b}"} ${h.counts[i] ?? 0}`));
      out.push(`${hn}_bucket{${l},le="+Inf"} ${h.count}`);
      out.push(`${hn}_sum{${l}} ${h.sum}`);
      out.push(`${hn}_count{${l}} ${h.count}`);
    }
    return out.join("\n") + "\n";
  }
}

function txKey(m: SipMessage): string {
  const branch = m.vias[0]?.branch ?? "";
  return `${m.callId}\n${m.cseq.seq}\n${m.cseq.method}\n${branch}`;
}

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function serve(reg: StatsRegistry, cfg: StatsConfig, service: string): void {
  if (cfg.port === undefined) return;
  reg.server = Deno.serve({
    port: cfg.port,
    hostname: cfg.host,
    onListen: () => {},
  }, (req) => {
    const url = new URL(req.url);
    if (req.method !== "GET" || url.pathname !== cfg.path) {
      return new Response("not found\n", { status: 404 });
    }
    return new Response(reg.render(service), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
}

/** The `stats` plugin value. */
export const stats: Plugin<"stats", undefined> = definePlugin({
  name: "stats",
  config(r): StatsConfig {
    const port = r.has("port") ? r.number("port", 0, { min: 0, max: 65535, integer: true }) : (
      r.raw("port"), undefined
    );
    const buckets = r.has("buckets") ? r.raw("buckets") : DEFAULT_BUCKETS;
    if (
      !Array.isArray(buckets) || buckets.length === 0 ||
      !buckets.every((b, i) =>
        typeof b === "number" && b > 0 && Number.isFinite(b) && (i === 0 || b > buckets[i - 1])
      )
    ) {
      throw r.error("buckets", "must be a non-empty ascending list of positive numbers");
    }
    const path = r.string("path", "/metrics");
    if (!path.startsWith("/")) throw r.error("path", 'must start with "/"');
    return {
      port,
      host: r.string("host", "127.0.0.1"),
      path,
      buckets: [...(buckets as number[])],
      maxPending: r.number("maxPending", 100_000, { min: 1, integer: true }),
    };
  },
  start(ctx): StatsRegistry {
    const reg = new StatsRegistry(ctx.config.buckets, ctx.config.maxPending);
    serve(reg, ctx.config, ctx.service.name);
    return reg;
  },
  async update(ctx, previous): Promise<void> {
    const c = ctx.config;
    if (c.port === previous.port && c.host === previous.host && c.path === previous.path) return;
    await ctx.resource.server?.shutdown();
    ctx.resource.server = undefined;
    serve(ctx.resource, c, ctx.service.name);
  },
  async stop(ctx): Promise<void> {
    await ctx.resource.server?.shutdown();
    ctx.resource.server = undefined;
  },
  sipMessageIn(message: SipMessage, _info: MessageInfo, ctx): void {
    ctx.resource.count("in", message, ctx.clock.now());
  },
  sipMessageOut(message: SipMessage, _info: MessageInfo, ctx): void {
    ctx.resource.count("out", message, ctx.clock.now());
  },
});

/**
 * The stats of a service in the Prometheus text format.
 *
 * @param service a service running the stats plugin
 * @returns the exposition text
 * @throws Error when the service does not run the stats plugin
 */
export function statsText(service: Service): string {
  return statsOf(service).render(service.name);
}

/**
 * The counters of a service (for programmatic access).
 *
 * @param service a service running the stats plugin
 * @returns its registry
 * @throws Error when the service does not run the stats plugin
 */
export function statsOf(service: Service): StatsRegistry {
  const reg = service.pluginResource(stats);
  if (!(reg instanceof StatsRegistry)) {
    throw new Error(`Service "${service.name}" does not run the stats plugin`);
  }
  return reg;
}
