/**
 * TCP and TLS byte-stream connections (RFC 3261 §18.3): framing with the sip/ stream
 * framer, the header-section timeout, idle close, RFC 5626 CRLF keep-alives, and serialized
 * writes. Also the outbound connect helpers with connect/handshake timeouts and SNI.
 *
 * @module
 */

import { StreamFramer } from "../sip/framer.ts";
import { TransportError } from "./errors.ts";
import { type Flow, type FlowEvents, type FlowSettings, IdleTimer } from "./_flow.ts";
import type { Address, TransportName } from "./types.ts";

const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
/** Queued messages are joined into one write up to about this many bytes. */
const COALESCE_MAX = 65536;

/** The address of a Deno connection end (IPv6 without brackets). */
export function netAddr(addr: Deno.Addr): Address {
  // TLS connections from Deno.startTls report addresses without a `transport` field.
  const a = addr as Partial<Deno.NetAddr>;
  if (typeof a.hostname === "string" && typeof a.port === "number") {
    return { host: a.hostname, port: a.port };
  }
  return { host: "", port: 0 };
}

/** A TCP or TLS connection carrying SIP. Created by the transport layer. */
export class StreamConnection implements Flow {
  /** Unique id. */
  readonly id: string;
  /** `tcp` or `tls`. */
  readonly transport: TransportName;
  /** Local address. */
  readonly local: Address;
  /** Peer address. */
  readonly remote: Address;
  /** True when we opened it. */
  readonly outbound: boolean;
  /** Listener that accepted it (inbound). */
  readonly listenerId: string | undefined;
  #closed = false;
  readonly #conn: Deno.Conn;
  readonly #events: FlowEvents;
  readonly #settings: FlowSettings;
  readonly #framer: StreamFramer;
  readonly #idle: IdleTimer;
  #headerTimer: ReturnType<typeof setTimeout> | undefined;
  #keepTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #pongTimeout = 0;
  #malformed = 0;
  /** Messages waiting for the write in progress, and their callers. */
  #pending: Uint8Array[] = [];
  #waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #writing = false;

  /** Wrap an open connection and start reading.
   * @param init the connection, its identity and the owner's callbacks
   */
  constructor(init: {
    id: string;
    transport: TransportName;
    conn: Deno.Conn;
    outbound: boolean;
    listenerId: string | undefined;
    events: FlowEvents;
    settings: FlowSettings;
    now: () => number;
    /** Inbound: the first message must complete within the header timeout too. */
    firstMessageTimeout?: boolean;
  }) {
    this.id = init.id;
    this.transport = init.transport;
    this.#conn = init.conn;
    this.local = netAddr(init.conn.localAddr);
    this.remote = netAddr(init.conn.remoteAddr);
    this.outbound = init.outbound;
    this.listenerId = init.listenerId;
    this.#events = init.events;
    this.#settings = init.settings;
    this.#framer = new StreamFramer({
      maxMessageSize: init.settings.maxMessageSize,
      // RFC 5626 §3.5.1: the side that opened the connection sends pings and gets pongs.
      keepAlive: init.outbound ? "pong" : "ping",
    });
    this.#idle = new IdleTimer(init.settings.idleTimeout, init.now, () => this.close("idle"));
    if (init.firstMessageTimeout) this.#startHeaderTimer();
    void this.#readLoop();
  }

  #startHeaderTimer(): void {
    this.#headerTimer ??= setTimeout(() => {
      this.#headerTimer = undefined;
      this.close("header timeout");
    }, this.#settings.headerTimeout);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Send bytes; writes are serialized so messages never interleave. Messages sent while a
   * write is in progress are coalesced into the next write (one syscall for many). */
  send(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError(`Connection ${this.id} is closed`));
    if (data.length > 4) this.#idle.touch();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(data);
      this.#waiters.push({ resolve, reject });
      if (!this.#writing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#pending.length > 0 && !this.#closed) {
      let take = 1;
      let size = this.#pending[0]!.length;
      while (take < this.#pending.length && size < COALESCE_MAX) {
        size += this.#pending[take]!.length;
        take++;
      }
      let chunks: Uint8Array[];
      let waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
      if (take === this.#pending.length) {
        // The usual case: write everything queued; hand the arrays over instead of copying.
        chunks = this.#pending;
        waiters = this.#waiters;
        this.#pending = [];
        this.#waiters = [];
      } else {
        chunks = this.#pending.splice(0, take);
        waiters = this.#waiters.splice(0, take);
      }
      let data = chunks[0]!;
      if (take > 1) {
        data = new Uint8Array(size);
        let off = 0;
        for (const c of chunks) {
          data.set(c, off);
          off += c.length;
        }
      }
      try {
        let off = 0;
        while (off < data.length) off += await this.#conn.write(data.subarray(off));
        for (const w of waiters) w.resolve();
      } catch (e) {
        this.close("write failed");
        const err = new TransportError(`Write to ${this.id} failed: ${(e as Error).message}`, {
          cause: e,
        });
        for (const w of waiters) w.reject(err);
      }
    }
    this.#writing = false;
    if (this.#waiters.length > 0) {
      // Closed with messages still queued.
      const err = new TransportError(`Connection ${this.id} is closed`);
      const waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      for (const w of waiters) w.reject(err);
    }
  }

  /** Count an unparseable message; closes the connection past the limit. */
  malformed(): boolean {
    this.#malformed++;
    if (this.#malformed >= this.#settings.maxMalformed) {
      this.close("too many malformed messages");
      return true;
    }
    return false;
  }

  /** RFC 5626 §4.4.1: keep the flow open with CRLFCRLF pings answered by CRLF pongs. A
   * later call reschedules the pings with the new timings; interval 0 sends none. */
  keep(intervalMs: number, pongTimeoutMs: number): void {
    if (this.#closed) return;
    this.#idle.keep();
    this.#pongTimeout = pongTimeoutMs;
    if (this.#keepTimer !== undefined) clearInterval(this.#keepTimer);
    this.#keepTimer = intervalMs > 0 ? setInterval(() => this.#ping(), intervalMs) : undefined;
  }

  #ping(): void {
    if (this.#closed || this.#pongTimer !== undefined) return;
    this.#pongTimer = setTimeout(() => {
      this.#pongTimer = undefined;
      this.close("no keep-alive pong");
    }, this.#pongTimeout);
    this.send(CRLFCRLF).catch(() => {});
  }

  /** Close the connection (idempotent). */
  close(reason = "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    this.#clearHeaderTimer();
    if (this.#keepTimer !== undefined) clearInterval(this.#keepTimer);
    if (this.#pongTimer !== undefined) clearTimeout(this.#pongTimer);
    this.#keepTimer = this.#pongTimer = undefined;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
    this.#events.onClose(this, reason);
  }

  #clearHeaderTimer(): void {
    if (this.#headerTimer !== undefined) clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(16384);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          this.close("closed by peer");
          return;
        }
        this.#onBytes(buf.subarray(0, n));
      }
    } catch (e) {
      this.close(this.#closed ? "closed" : `read failed: ${(e as Error).message}`);
    }
  }

  #onBytes(chunk: Uint8Array): void {
    let completed = false;
    for (const ev of this.#framer.push(chunk)) {
      if (this.#closed) return;
      switch (ev.type) {
        case "message":
          completed = true;
          this.#idle.touch();
          this.#events.onFrame(this, ev.data);
          break;
        case "ping":
          // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong.
          this.send(CRLF).catch(() => {});
          break;
        case "pong":
          if (this.#pongTimer !== undefined) clearTimeout(this.#pongTimer);
          this.#pongTimer = undefined;
          break;
        case "error":
          this.close(`framing error: ${ev.message}`);
          return;
      }
    }
    if (this.#closed) return;
    // The header-section timeout runs from the first byte of a message to its last.
    if (completed) this.#clearHeaderTimer();
    if (this.#framer.bufferedBytes > 0) {
      this.#startHeaderTimer();
    } else if (completed) {
      this.#clearHeaderTimer();
    }
  }
}

/** Options of {@linkcode connectStream}. */
export interface ConnectOptions {
  /** `tcp` or `tls`. */
  transport: "tcp" | "tls";
  /** Peer IP or name (IPv6 without brackets). */
  host: string;
  /** Peer port. */
  port: number;
  /** Connect plus handshake timeout in ms. */
  timeout: number;
  /** TLS: server name for SNI and verification (default `host`). */
  serverName?: string | undefined;
  /** TLS: extra trusted CAs (PEM). */
  caCerts?: string[] | undefined;
  /** TLS: skip host-name verification (the chain is still verified). */
  insecureHostname?: boolean | undefined;
}

/** Open a TCP connection, and for TLS run the handshake, within the timeout.
 * @param o where and how to connect
 * @returns the open connection
 * @throws {TransportError} on refusal, timeout or handshake failure
 */
export async function connectStream(o: ConnectOptions): Promise<Deno.Conn> {
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new TransportError(`Connect to ${o.transport}:${o.host}:${o.port} timed out`));
    }, o.timeout);
  });
  let conn: Deno.Conn | undefined;
  const attempt = (async (): Promise<Deno.Conn> => {
    const tcp = await Deno.connect({ hostname: o.host, port: o.port, signal: ac.signal });
    conn = tcp;
    if (o.transport === "tcp") return tcp;
    const opts: Deno.StartTlsOptions = { hostname: o.serverName ?? o.host };
    if (o.caCerts && o.caCerts.length > 0) opts.caCerts = o.caCerts;
    if (o.insecureHostname) opts.unsafelyDisableHostnameVerification = true;
    const tls = await Deno.startTls(tcp, opts);
    conn = tls;
    await tls.handshake();
    return tls;
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } catch (e) {
    // A connection that completes after the timeout is closed at once.
    attempt.then((c) => closeQuietly(c), () => {});
    closeQuietly(conn);
    if (e instanceof TransportError) throw e;
    throw new TransportError(
      `Connect to ${o.transport}:${o.host}:${o.port} failed: ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
  }
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // not open
  }
}
