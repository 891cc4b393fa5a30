/**
 * The `trace` plugin: logs every SIP message in and out, with direction, transport and peer,
 * to the logger (category `["sipkit", <service>, "plugin", "trace"]`, level info) or to a
 * file, optionally filtered by method or peer.
 *
 * Config (`pluginConfig.trace`), all optional:
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `file` | none | append to this file instead of logging |
 * | `methods` | all | only messages of these methods (responses: their CSeq method) |
 * | `peers` | all | only messages from/to these peers (`host` or `host:port`) |
 * | `full` | `true` | the whole message; `false`: the start line only |
 *
 * @example
 * ```ts
 * import { start } from "../service/service.ts";
 * import { trace } from "./trace.ts";
 * const dir = await Deno.makeTempDir();
 * const svc = await start("traced", {
 *   dataDir: dir,
 *   plugins: [trace],
 *   pluginConfig: { trace: { file: `${dir}/sip.log`, methods: ["INVITE", "BYE"] } },
 * });
 * await svc.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { definePlugin, type Plugin } from "../service/plugin.ts";
import type { MessageInfo } from "../service/types.ts";
import type { SipMessage } from "../sip/types.ts";

/** The trace plugin's config. */
export interface TraceConfig {
  /** Append to this file instead of logging. */
  file: string | undefined;
  /** Only these methods (upper-case); undefined: all. */
  methods: Set<string> | undefined;
  /** Only these peers (`host` or `host:port`); undefined: all. */
  peers: Set<string> | undefined;
  /** Whole messages (true) or start lines only. */
  full: boolean;
}

/** An append-only writer that serializes asynchronous writes to one file. */
class TraceFile {
  #file: Deno.FsFile;
  #pending: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();
  #failed = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  static async open(path: string): Promise<TraceFile> {
    return new TraceFile(await Deno.open(path, { append: true, create: true }));
  }

  write(text: string, onError: (e: unknown) => void): void {
    if (this.#failed) return;
    const bytes = this.#encoder.encode(text);
    this.#pending = this.#pending.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
    }).catch((e) => {
      this.#failed = true;
      onError(e);
    });
  }

  async close(): Promise<void> {
    await this.#pending;
    this.#file.close();
  }
}

/** The trace plugin's resource: the open file, if any. */
interface TraceResource {
  /** The file writer, when `file` is set. */
  file: TraceFile | undefined;
}

function methodOf(m: SipMessage): string {
  return m.kind === "request" ? m.method : m.cseq.method;
}

function startLine(m: SipMessage): string {
  return m.kind === "request"
    ? `${m.method} ${m.uri.toString()} ${m.version}`
    : `${m.version} ${m.status} ${m.reason}`;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Format one trace record (exported for tests and custom sinks).
 *
 * @param direction `in` or `out`
 * @param message the message
 * @param info transport and addresses
 * @param full whole message or start line only
 * @param time the timestamp
 * @returns the record text, ending with a blank line
 */
export function formatTrace(
  direction: "in" | "out",
  message: SipMessage,
  info: MessageInfo,
  full: boolean,
  time: Date,
): string {
  const local = hostPort(info.local.host, info.local.port);
  const remote = hostPort(info.remote.host, info.remote.port);
  const arrow = direction === "in" ? `IN  ${remote} -> ${local}` : `OUT ${local} -> ${remote}`;
  const text = full ? message.toString() : startLine(message) + "\r\n";
  return `${time.toISOString()} ${arrow} ${info.transport.toUpperCase()}\n${
    text.replaceAll("\r\n", "\n")
  }\n`;
}

function matches(cfg: TraceConfig, message: SipMessage, info: MessageInfo): boolean {
  if (cfg.methods !== undefined && !cfg.methods.has(methodOf(message).toUpperCase())) {
    return false;
  }
  if (cfg.peers !== undefined) {
    const host = info.remote.host;
    if (!cfg.peers.has(host) && !cfg.peers.has(`${host}:${info.remote.port}`)) return false;
  }
  return true;
}

function bareHostPeer(peer: string): string {
  // "[::1]:5060" -> "::1:5060" is ambiguous; keep "[::1]" forms as "::1" and "::1:port".
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(peer);
  if (m === null) return peer;
  return m[2] === undefined ? (m[1] as string) : `${m[1]}:${m[2]}`;
}

/** The `trace` plugin value. */
export const trace: Plugin<"trace", undefined> = definePlugin({
  name: "trace",
  config(r): TraceConfig {
    const methods = r.has("methods")
      ? new Set(r.stringList("methods", []).map((m) => m.toUpperCase()))
      : (r.raw("methods"), undefined);
    const peers = r.has("peers")
      ? new Set(r.stringList("peers", []).map(bareHostPeer))
      : (r.raw("peers"), undefined);
    const file = r.optionalString("file");
    if (file === "") throw r.error("file", "must not be empty");
    return { file, methods, peers, full: r.boolean("full", true) };
  },
  async start(ctx): Promise<TraceResource> {
    const file = ctx.config.file === undefined ? undefined : await TraceFile.open(ctx.config.file);
    return { file };
  },
  async update(ctx, previous): Promise<void> {
    if (ctx.config.file === previous.file) return;
    const old = ctx.resource.file;
    ctx.resource.file = ctx.config.file === undefined
      ? undefined
      : await TraceFile.open(ctx.config.file);
    await old?.close();
  },
  async stop(ctx): Promise<void> {
    const file = ctx.resource.file;
    ctx.resource.file = undefined;
    await file?.close();
  },
  sipMessageIn(message, info, ctx): void {
    record("in", message, info, ctx.config, ctx.resource, ctx.logger);
  },
  sipMessageOut(message, info, ctx): void {
    record("out", message, info, ctx.config, ctx.resource, ctx.logger);
  },
});

function record(
  direction: "in" | "out",
  message: SipMessage,
  info: MessageInfo,
  cfg: TraceConfig,
  res: TraceResource,
  logger: {
    info(msg: string, props: Record<string, unknown>): void;
    error(msg: string, props: Record<string, unknown>): void;
  },
): void {
  if (!matches(cfg, message, info)) return;
  const text = formatTrace(direction, message, info, cfg.full, new Date());
  if (res.file !== undefined) {
    res.file.write(text, (error) => logger.error("Trace file write failed: {error}", { error }));
  } else {
    logger.info("{trace}", { trace: text, direction, transport: info.transport });
  }
}
