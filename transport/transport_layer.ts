/**
 * The socket-backed SIP transport layer: UDP, TCP, TLS, WS and WSS listeners (several,
 * IPv4 and IPv6), outbound connections reused per (transport, host, port), RFC 3581
 * `received`/`rport`, response routing per RFC 3261 §18.2.2, the §18.1.1 UDP size rule,
 * RFC 5626 keep-alives, STUN Binding answers on UDP ports, RFC 3263 resolution, and limits
 * against bad input. Nothing a peer sends can bring a listener down.
 *
 * @module
 */

import { getLogger, type Logger } from "../deps.ts";
import { parseMessage } from "../sip/parser.ts";
import type { SipMessage, SipRequest, SipResponse, Uri, Via } from "../sip/types.ts";
import { TransportError } from "./errors.ts";
import type { Flow, FlowEvents, FlowSettings } from "./_flow.ts";
import { buildBadRequest } from "./_bad_request.ts";
import {
  DEFAULT_KEEPALIVE_TIMEOUT,
  DEFAULT_UDP_MAX_SIZE,
  MAX_TIMER_DELAY,
  resolveLimits,
} from "./_limits.ts";
import {
  bareHost,
  hostForUri,
  listenerUri,
  type ListenSpec,
  parseListenUri,
} from "./listen_uri.ts";
import { Rfc3263Resolver } from "./resolver.ts";
import { isStunBindingRequest, looksLikeStun, parseIp, stunBindingSuccess } from "./stun.ts";
import { connectStream, StreamConnection } from "./tcp.ts";
import { denoDatagramAvailable, openUdp, type UdpBackend, type UdpSocket } from "./udp.ts";
import { connectWebSocket, offersSipSubprotocol, WsConnection } from "./ws.ts";
import {
  DEFAULT_PORT,
  firstViaText,
  isWildcard,
  quickUdpReplyAddress,
  randomToken,
  sameIp,
  stampReceived,
  stampVia,
  viaTransportName,
} from "./_via.ts";
import type {
  Address,
  InboundMessage,
  ListenerInfo,
  ListenOptions,
  ResponseContext,
  SendTarget,
  SipTransport,
  TlsOptions,
  TransportLimits,
  TransportName,
  TransportOptions,
} from "./types.ts";

/** Options of {@linkcode TransportLayer}: {@linkcode TransportOptions} plus the UDP back end. */
export interface TransportLayerOptions extends TransportOptions {
  /** UDP implementation: `deno` (`Deno.listenDatagram`) when the process runs with
   * `--unstable-net` (or `"unstable": ["net"]` in deno.json), else `node` (`node:dgram`);
   * see docs/transport.md. */
  udpBackend?: UdpBackend;
  /** RFC 3261 §18.1.2: drop responses whose top Via sent-by is not one of ours (default
   * true; responses on connections we opened are always accepted). */
  checkResponseVia?: boolean;
}

/**
 * What {@linkcode TransportLayer.update} changes live. Every field is optional; what is
 * missing stays as it is. See docs/transport.md ("Live update") for what each change does to
 * connections that are already open.
 */
export interface TransportUpdate {
  /** New limits, merged over the current ones (not over the defaults). */
  limits?: Partial<TransportLimits>;
  /** New TLS settings, replacing the current ones as a whole (to change one key, spread
   * {@linkcode TransportLayer.tls}). They apply to outbound connections and listeners opened
   * afterwards; open connections and listeners keep theirs (Deno cannot swap a listener's
   * certificate). */
  tls?: TlsOptions;
  /** RFC 3261 §18.1.1 size threshold in bytes, for requests sent from now on. */
  udpMaxSize?: number;
  /** RFC 5626 ping interval in ms for kept flows (0: no pings). */
  keepAliveInterval?: number;
  /** RFC 5626 pong timeout in ms. */
  keepAliveTimeout?: number;
}

/** The layer's idle bookkeeping of one stream connection. */
interface IdleState {
  last: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  kept: boolean;
  /** `keep()` was called on the flow (it pings, or ignores the timings: WebSocket). */
  keepCalled: boolean;
}

type ListenerEntry =
  & { info: ListenerInfo; advertised: string | undefined }
  & (
    | { kind: "udp"; socket: UdpSocket }
    | { kind: "stream"; listener: Deno.Listener; loop: Promise<void> }
    | { kind: "ws"; server: Deno.HttpServer<Deno.NetAddr>; abort: AbortController }
  );

const MALFORMED_WINDOW_MS = 60_000;
const MAX_TRACKED_SOURCES = 10_000;

function isStream(t: TransportName): boolean {
  return t !== "udp";
}

function isWebSocket(t: TransportName): boolean {
  return t === "ws" || t === "wss";
}

function checkSize(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${v}`);
  }
  return v;
}

function checkDelay(name: string, v: number, zeroOk: boolean): number {
  if (
    typeof v !== "number" || !Number.isFinite(v) || v < 0 || (v === 0 && !zeroOk) ||
    v > MAX_TIMER_DELAY
  ) {
    throw new RangeError(
      `${name} must be a number of ms ${
        zeroOk ? "from 0" : "above 0"
      } up to ${MAX_TIMER_DELAY}, got ${v}`,
    );
  }
  return v;
}

/**
 * The SIP transport layer over real sockets.
 *
 * @example Answer OPTIONS on UDP and TCP
 * ```ts ignore
 * import { TransportLayer } from "./transport_layer.ts";
 * await using transport = new TransportLayer({});
 * const [udp] = await transport.listen("sip:127.0.0.1:0");
 * transport.onMessage((m) => {
 *   // hand m.message to the transaction layer
 * });
 * console.log(udp?.uri);
 * ```
 */
export class TransportLayer implements SipTransport {
  #limits: TransportLimits;
  #tls: TlsOptions;
  #udpMaxSize: number;
  readonly #resolver: Rfc3263Resolver;
  readonly #now: () => number;
  readonly #log: Logger;
  #keepAliveInterval: number;
  #keepAliveTimeout: number;
  readonly #answerMalformed: boolean;
  readonly #checkResponseVia: boolean;
  readonly #udpBackend: UdpBackend;
  readonly #token = randomToken(6);
  readonly #wsHost = `${randomToken(10)}.invalid`;
  readonly #listeners = new Map<string, ListenerEntry>();
  readonly #flows = new Map<string, Flow>();
  readonly #flowByPeer = new Map<string, string>();
  readonly #connecting = new Map<string, Promise<Flow>>();
  readonly #malformedBySource = new Map<string, number>();
  readonly #idle = new Map<string, IdleState>();
  readonly #flowEvents: FlowEvents;
  readonly #flowSettings: FlowSettings;
  #malformedWindowStart = 0;
  #handler: ((m: InboundMessage) => void) | undefined;
  #seq = 0;
  #closed = false;
  #listenerGeneration = 0;
  #capLogged = 0;
  #localIp4: string | undefined;
  #localIp6: string | undefined;

  /** Create a transport layer; nothing is opened until {@linkcode TransportLayer.listen}.
   * @param options limits, TLS, UDP size, DNS, keep-alive and logging settings
   */
  constructor(options: TransportLayerOptions = {}) {
    this.#limits = resolveLimits(options.limits);
    this.#tls = { ...options.tls };
    this.#udpMaxSize = checkSize("udpMaxSize", options.udpMaxSize ?? DEFAULT_UDP_MAX_SIZE);
    this.#now = options.now ?? Date.now;
    const resolverOptions: ConstructorParameters<typeof Rfc3263Resolver>[0] = {
      now: this.#now,
    };
    if (options.dns) resolverOptions.dns = options.dns;
    if (options.defaultTtl !== undefined) resolverOptions.defaultTtl = options.defaultTtl;
    if (options.random) resolverOptions.random = options.random;
    this.#resolver = new Rfc3263Resolver(resolverOptions);
    this.#log = getLogger(
      options.name ? ["sipkit", options.name, "transport"] : ["sipkit", "transport"],
    );
    this.#keepAliveInterval = checkDelay(
      "keepAliveInterval",
      options.keepAliveInterval ?? 120_000,
      true,
    );
    this.#keepAliveTimeout = checkDelay(
      "keepAliveTimeout",
      options.keepAliveTimeout ?? DEFAULT_KEEPALIVE_TIMEOUT,
      false,
    );
    this.#answerMalformed = options.answerMalformed ?? true;
    this.#checkResponseVia = options.checkResponseVia ?? true;
    this.#udpBackend = options.udpBackend ?? (denoDatagramAvailable() ? "deno" : "node");
    this.#flowEvents = {
      onFrame: (flow, data) => this.#onFlowFrame(flow, data),
      onClose: (flow, reason) => this.#onFlowClose(flow, reason),
    };
    // Flows read these on use, so a change made by update() reaches open connections.
    // Idle closing is done here, not by the flows (their own timer never fires), so that
    // update() can reschedule it.
    const limits = (): TransportLimits => this.#limits;
    this.#flowSettings = {
      get maxMessageSize(): number {
        return limits().maxMessageSize;
      },
      get headerTimeout(): number {
        return limits().headerTimeout;
      },
      idleTimeout: MAX_TIMER_DELAY,
      get maxMalformed(): number {
        return limits().maxMalformed;
      },
    };
  }

  /** The UDP implementation in use: `deno` (`Deno.listenDatagram`) or `node` (`node:dgram`). */
  get udpBackend(): UdpBackend {
    return this.#udpBackend;
  }

  /** The effective limits. */
  get limits(): Readonly<TransportLimits> {
    return this.#limits;
  }

  /** The effective TLS settings (for outbound connections and listeners opened from now on). */
  get tls(): Readonly<TlsOptions> {
    return this.#tls;
  }

  /** The effective RFC 3261 §18.1.1 UDP size threshold in bytes. */
  get udpMaxSize(): number {
    return this.#udpMaxSize;
  }

  /** The effective RFC 5626 keep-alive interval and pong timeout in ms. */
  get keepAlive(): { interval: number; timeout: number } {
    return { interval: this.#keepAliveInterval, timeout: this.#keepAliveTimeout };
  }

  /**
   * Change limits, TLS settings, the UDP size threshold and keep-alive timings live. Open
   * connections, listeners and transactions keep working; see docs/transport.md ("Live
   * update") for what each change does to connections that are already open. Everything is
   * validated first: on a bad value nothing changes. After {@linkcode TransportLayer.close}
   * this does nothing.
   *
   * @param update the options to change (missing ones stay as they are)
   * @throws {RangeError} when a value is not a positive number (`keepAliveInterval` may be 0)
   */
  update(update: TransportUpdate): void {
    const limits = update.limits ? resolveLimits(update.limits, this.#limits) : this.#limits;
    const udpMaxSize = update.udpMaxSize === undefined
      ? this.#udpMaxSize
      : checkSize("udpMaxSize", update.udpMaxSize);
    const interval = update.keepAliveInterval === undefined
      ? this.#keepAliveInterval
      : checkDelay("keepAliveInterval", update.keepAliveInterval, true);
    const pongTimeout = update.keepAliveTimeout === undefined
      ? this.#keepAliveTimeout
      : checkDelay("keepAliveTimeout", update.keepAliveTimeout, false);
    if (update.tls?.caCerts !== undefined && !Array.isArray(update.tls.caCerts)) {
      throw new RangeError("tls.caCerts must be a list of PEM certificates");
    }
    if (this.#closed) return;
    const idleChanged = limits.idleTimeout !== this.#limits.idleTimeout;
    const keepChanged = interval !== this.#keepAliveInterval ||
      pongTimeout !== this.#keepAliveTimeout;
    const changed: string[] = [];
    for (const key of Object.keys(limits) as (keyof TransportLimits)[]) {
      if (limits[key] !== this.#limits[key]) changed.push(`limits.${key}`);
    }
    if (update.tls && JSON.stringify(update.tls) !== JSON.stringify(this.#tls)) {
      changed.push("tls");
    }
    if (udpMaxSize !== this.#udpMaxSize) changed.push("udpMaxSize");
    if (keepChanged) changed.push("keepAlive");
    this.#limits = limits;
    this.#udpMaxSize = udpMaxSize;
    this.#keepAliveInterval = interval;
    this.#keepAliveTimeout = pongTimeout;
    if (update.tls) this.#tls = { ...update.tls };
    if (idleChanged) {
      for (const [id, state] of this.#idle) if (!state.kept) this.#armIdle(id, state);
    }
    if (keepChanged) {
      for (const [id, state] of this.#idle) {
        const flow = this.#flows.get(id);
        if (state.kept && flow && !flow.closed) this.#keepPings(flow, state);
      }
    }
    if (changed.length > 0) {
      this.#log.info("Transport options changed: {changed}", { changed: changed.join(", ") });
    }
  }

  /** (Re)arm the idle timer of a connection for the time left of the current idleTimeout. */
  #armIdle(id: string, state: IdleState): void {
    if (state.timer !== undefined) clearTimeout(state.timer);
    const left = state.last + this.#limits.idleTimeout - this.#now();
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.kept) return;
      if (state.last + this.#limits.idleTimeout - this.#now() > 0) {
        this.#armIdle(id, state);
      } else {
        this.#flows.get(id)?.close("idle");
      }
    }, Math.min(Math.max(left, 0), MAX_TIMER_DELAY));
  }

  /** Note SIP traffic on a connection (idle closing counts from the last one). */
  #touch(flow: Flow): void {
    const state = this.#idle.get(flow.id);
    if (state) state.last = this.#now();
  }

  /** Start (or, where the flow supports it, reschedule) RFC 5626 pings on a kept flow.
   * Interval 0 means no pings: a flow that never pinged is not asked to (`keep(0)` would
   * mean a zero-delay interval to a flow that does not know "off"). */
  #keepPings(flow: Flow, state: IdleState): void {
    if (this.#keepAliveInterval > 0 || state.keepCalled || isWebSocket(flow.transport)) {
      state.keepCalled = true;
      flow.keep(this.#keepAliveInterval, this.#keepAliveTimeout);
    }
  }

  /** The open listeners. */
  get listeners(): ListenerInfo[] {
    return [...this.#listeners.values()].map((e) => ({ ...e.info }));
  }

  /** A number that changes each time a listener opens or closes, so that a caller can cache
   * what it derives from {@linkcode TransportLayer.listeners} (e.g. a Contact). */
  get listenerGeneration(): number {
    return this.#listenerGeneration;
  }

  /** The number of open stream connections (inbound and outbound). */
  get connectionCount(): number {
    return this.#flows.size;
  }

  /** The RFC 3263 resolver this layer uses (its cache is per layer). */
  get resolver(): Rfc3263Resolver {
    return this.#resolver;
  }

  /** Register the inbound message handler (a later call replaces it). */
  onMessage(handler: (m: InboundMessage) => void): void {
    this.#handler = handler;
  }

  /** True when the stream connection with this id is open. */
  hasFlow(flowId: string): boolean {
    const f = this.#flows.get(flowId);
    return f !== undefined && !f.closed;
  }

  /** Describe an open stream connection (for RFC 5626 flow bookkeeping and logs).
   * @param flowId the connection id
   * @returns transport, addresses and direction, or undefined when it is closed
   */
  flowInfo(
    flowId: string,
  ): { transport: TransportName; local: Address; remote: Address; outbound: boolean } | undefined {
    const f = this.#flows.get(flowId);
    if (!f || f.closed) return undefined;
    return { transport: f.transport, local: f.local, remote: f.remote, outbound: f.outbound };
  }

  /** RFC 5626 §4.4.1: keep a flow open, sending a CRLFCRLF ping every `keepAliveInterval`
   * ms on TCP/TLS and closing it when no pong comes back in `keepAliveTimeout` ms. WS/WSS
   * flows are only exempted from the idle timeout.
   * @param flowId the connection id
   * @returns false when no such open connection exists
   */
  keepFlow(flowId: string): boolean {
    const f = this.#flows.get(flowId);
    if (!f || f.closed) return false;
    const state = this.#idle.get(flowId);
    if (state && !state.kept) {
      state.kept = true;
      if (state.timer !== undefined) clearTimeout(state.timer);
      state.timer = undefined;
      this.#keepPings(f, state);
    }
    return true;
  }

  /** Close one stream connection.
   * @param flowId the connection id
   */
  closeFlow(flowId: string): void {
    this.#flows.get(flowId)?.close("closed locally");
  }

  /**
   * Open the listeners a listen URI describes. `sip:host:port` opens UDP and TCP on the
   * same port; with port 0 a port free for both is picked.
   *
   * @param uri the listen URI (see {@linkcode parseListenUri})
   * @param options certificate, key, WS path, advertised host (override URI parameters)
   * @returns the opened listeners with their real ports
   * @throws {TransportError} on a bad URI, a missing certificate, or a port in use
   */
  async listen(uri: string, options: ListenOptions = {}): Promise<ListenerInfo[]> {
    if (this.#closed) throw new TransportError("Transport layer is closed");
    const specs = parseListenUri(uri);
    const opened: ListenerEntry[] = [];
    try {
      const udp = specs.find((s) => s.transport === "udp");
      const tcp = specs.find((s) => s.transport === "tcp");
      if (udp && tcp && udp.port === 0 && tcp.port === 0) {
        opened.push(...await this.#openPairOnFreePort(udp, tcp, options));
      } else {
        for (const spec of specs) opened.push(await this.#open(spec, options));
      }
    } catch (e) {
      for (const entry of opened) await this.#closeEntry(entry);
      throw e;
    }
    for (const entry of opened) {
      this.#listeners.set(entry.info.id, entry);
      this.#listenerGeneration++;
      this.#log.info("Listening on {uri}", { uri: entry.info.uri });
    }
    return opened.map((e) => ({ ...e.info }));
  }

  /** Close one listener and the connections it accepted.
   * @param id the listener id from {@linkcode TransportLayer.listen}
   */
  async unlisten(id: string): Promise<void> {
    const entry = this.#listeners.get(id);
    if (!entry) return;
    this.#listeners.delete(id);
    this.#listenerGeneration++;
    for (const f of [...this.#flows.values()]) if (f.listenerId === id) f.close("listener closed");
    await this.#closeEntry(entry);
  }

  async #openPairOnFreePort(
    udp: ListenSpec,
    tcp: ListenSpec,
    options: ListenOptions,
  ): Promise<ListenerEntry[]> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const t = await this.#open(tcp, options);
      try {
        const u = await this.#open({ ...udp, port: t.info.port }, options);
        return [u, t];
      } catch (e) {
        lastError = e;
        await this.#closeEntry(t);
      }
    }
    throw new TransportError(`No port free for both UDP and TCP on ${udp.host}`, {
      cause: lastError,
    });
  }

  #nextId(prefix: string): string {
    return `${prefix}-${this.#token}-${++this.#seq}`;
  }

  async #open(spec: ListenSpec, options: ListenOptions): Promise<ListenerEntry> {
    const id = this.#nextId(`l${spec.transport}`);
    const advertised = options.advertisedHost ?? spec.advertisedHost;
    const make = (host: string, port: number, path?: string): ListenerInfo => {
      const shown = advertised ?? host;
      const info: ListenerInfo = {
        id,
        transport: spec.transport,
        host,
        port,
        uri: listenerUri(spec.transport, shown, port),
      };
      if (path !== undefined) info.path = path;
      return info;
    };
    switch (spec.transport) {
      case "udp": {
        const ref: { info?: ListenerInfo } = {};
        const socket = await openUdp({
          host: spec.host,
          port: spec.port,
          backend: this.#udpBackend,
          onDatagram: (data, remote) => {
            if (ref.info) this.#onDatagram(ref.info, socket0(), data, remote);
          },
          onError: (e) => this.#log.warn("UDP socket error: {error}", { error: e.message }),
        });
        const socket0 = (): UdpSocket => socket;
        const info = make(socket.local.host, socket.local.port);
        info.udpBackend = this.#udpBackend;
        ref.info = info;
        return { kind: "udp", socket, info, advertised };
      }
      case "tcp":
      case "tls": {
        let listener: Deno.Listener;
        try {
          if (spec.transport === "tcp") {
            listener = Deno.listen({ hostname: spec.host, port: spec.port, transport: "tcp" });
          } else {
            const { cert, key } = await this.#certificate(spec, options);
            listener = Deno.listenTls({ hostname: spec.host, port: spec.port, cert, key });
          }
        } catch (e) {
          if (e instanceof TransportError) throw e;
          throw new TransportError(
            `Cannot listen on ${spec.transport} ${spec.host}:${spec.port}: ${(e as Error).message}`,
            { cause: e },
          );
        }
        const addr = listener.addr as Deno.NetAddr;
        const info = make(addr.hostname, addr.port);
        const loop = this.#acceptLoop(info, spec.transport, listener);
        return { kind: "stream", listener, loop, info, advertised };
      }
      case "ws":
      case "wss": {
        const path = options.path ?? spec.path ?? "/";
        const tlsKeys = spec.transport === "wss"
          ? await this.#certificate(spec, options)
          : undefined;
        const abort = new AbortController();
        const ref: { info?: ListenerInfo } = {};
        let server: Deno.HttpServer<Deno.NetAddr>;
        try {
          const serveOptions = {
            hostname: spec.host,
            port: spec.port,
            signal: abort.signal,
            onListen: () => {},
            onError: (e: unknown): Response => {
              this.#log.warn("WebSocket listener error: {error}", { error: String(e) });
              return new Response("internal error", { status: 500 });
            },
            ...(tlsKeys ?? {}),
          };
          server = Deno.serve(serveOptions, (req, conn) => {
            if (!ref.info) return new Response("not ready", { status: 503 });
            return this.#onWsRequest(ref.info, req, conn.remoteAddr as Deno.NetAddr);
          });
        } catch (e) {
          throw new TransportError(
            `Cannot listen on ${spec.transport} ${spec.host}:${spec.port}: ${(e as Error).message}`,
            { cause: e },
          );
        }
        const info = make(server.addr.hostname, server.addr.port, path);
        ref.info = info;
        return { kind: "ws", server, abort, info, advertised };
      }
    }
  }

  async #certificate(
    spec: ListenSpec,
    options: ListenOptions,
  ): Promise<{ cert: string; key: string }> {
    const read = async (file: string, what: string): Promise<string> => {
      try {
        return await Deno.readTextFile(file);
      } catch (e) {
        throw new TransportError(`Cannot read TLS ${what} file ${file}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    };
    const certFile = options.certFile ?? spec.certFile;
    const keyFile = options.keyFile ?? spec.keyFile;
    const cert = options.cert ?? (certFile ? await read(certFile, "certificate") : this.#tls.cert);
    const key = options.key ?? (keyFile ? await read(keyFile, "key") : this.#tls.key);
    if (!cert || !key) {
      throw new TransportError(
        `A ${spec.transport} listener needs a certificate and key (tls_certfile / tls_keyfile)`,
      );
    }
    return { cert, key };
  }

  async #closeEntry(entry: ListenerEntry): Promise<void> {
    try {
      switch (entry.kind) {
        case "udp":
          await entry.socket.close();
          break;
        case "stream":
          try {
            entry.listener.close();
          } catch {
            // already closed
          }
          await entry.loop;
          break;
        case "ws":
          for (const f of [...this.#flows.values()]) {
            if (f.listenerId === entry.info.id) f.close("listener closed");
          }
          entry.abort.abort();
          await entry.server.finished;
          break;
      }
    } catch (e) {
      this.#log.warn("Closing listener {id} failed: {error}", {
        id: entry.info.id,
        error: (e as Error).message,
      });
    }
  }

  // ---------------------------------------------------------------- inbound

  async #acceptLoop(
    info: ListenerInfo,
    transport: "tcp" | "tls",
    listener: Deno.Listener,
  ): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        if (!this.#listeners.has(info.id) && this.#closed) return;
        this.#log.warn("Accept on {uri} failed: {error}", { uri: info.uri, error: String(e) });
        continue;
      }
      if (this.#closed || this.#flows.size >= this.#limits.maxConnections) {
        this.#refuseOverCap(info.uri);
        try {
          conn.close();
        } catch {
          // closed
        }
        continue;
      }
      const flow = new StreamConnection({
        id: this.#nextId(transport),
        transport,
        conn,
        outbound: false,
        listenerId: info.id,
        events: this.#flowEvents,
        settings: this.#flowSettings,
        now: this.#now,
        firstMessageTimeout: true,
      });
      this.#register(flow);
    }
  }

  #refuseOverCap(where: string): void {
    // Logged at most once per second, so a flood does not flood the log.
    const now = this.#now();
    if (now - this.#capLogged >= 1000) {
      this.#capLogged = now;
      this.#log.warn("Connection limit {max} reached; refusing connections on {where}", {
        max: this.#limits.maxConnections,
        where,
      });
    }
  }

  #onWsRequest(info: ListenerInfo, req: Request, remote: Deno.NetAddr): Response {
    const url = new URL(req.url);
    if (url.pathname !== (info.path ?? "/")) return new Response("not found", { status: 404 });
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("SIP over WebSocket endpoint", {
        status: 426,
        headers: { upgrade: "websocket" },
      });
    }
    // RFC 7118 §4: the handshake must negotiate the "sip" subprotocol.
    if (!offersSipSubprotocol(req)) {
      return new Response("the sip WebSocket subprotocol is required", { status: 400 });
    }
    if (this.#closed || this.#flows.size >= this.#limits.maxConnections) {
      this.#refuseOverCap(info.uri);
      return new Response("connection limit reached", { status: 503 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "sip" });
    const flow = new WsConnection({
      id: this.#nextId(info.transport),
      transport: info.transport,
      ws: socket,
      local: { host: info.host, port: info.port },
      remote: { host: remote.hostname, port: remote.port },
      outbound: false,
      listenerId: info.id,
      events: this.#flowEvents,
      settings: this.#flowSettings,
      now: this.#now,
    });
    this.#register(flow);
    return response;
  }

  #peerKey(t: TransportName, host: string, port: number): string {
    return `${t}|${bareHost(host).toLowerCase()}|${port}`;
  }

  #register(flow: Flow): void {
    this.#flows.set(flow.id, flow);
    const state: IdleState = {
      last: this.#now(),
      timer: undefined,
      kept: false,
      keepCalled: false,
    };
    this.#idle.set(flow.id, state);
    this.#armIdle(flow.id, state);
    this.#flowByPeer.set(
      this.#peerKey(flow.transport, flow.remote.host, flow.remote.port),
      flow.id,
    );
    this.#log.debug("Connection {id} {dir} {remote}", {
      id: flow.id,
      dir: flow.outbound ? "to" : "from",
      remote: `${hostForUri(flow.remote.host)}:${flow.remote.port}`,
    });
  }

  #onFlowClose(flow: Flow, reason: string): void {
    this.#flows.delete(flow.id);
    const state = this.#idle.get(flow.id);
    if (state?.timer !== undefined) clearTimeout(state.timer);
    this.#idle.delete(flow.id);
    for (const [k, id] of this.#flowByPeer) if (id === flow.id) this.#flowByPeer.delete(k);
    const props = {
      id: flow.id,
      remote: `${hostForUri(flow.remote.host)}:${flow.remote.port}`,
      reason,
    };
    // Bad input (framing errors, timeouts, oversized frames) is logged once, when the
    // connection is closed for it; ordinary closes only at debug level.
    if (/^(framing error|header timeout|message too big)/.test(reason)) {
      this.#log.info("Closed connection {id} from {remote}: {reason}", props);
    } else {
      this.#log.debug("Connection {id} to {remote} closed: {reason}", props);
    }
  }

  #onFlowFrame(flow: Flow, data: Uint8Array): void {
    // A connection opened before maxMessageSize was lowered frames up to the old limit; the
    // new one is enforced here, with the same effect as for new connections.
    if (data.length > this.#limits.maxMessageSize) {
      flow.close(
        `message too big: ${data.length} bytes, limit ${this.#limits.maxMessageSize}`,
      );
      return;
    }
    this.#touch(flow);
    this.#inbound(data, flow.transport, flow.local, flow.remote, flow);
  }

  #onDatagram(info: ListenerInfo, socket: UdpSocket, data: Uint8Array, remote: Address): void {
    try {
      if (data.length > this.#limits.maxMessageSize) {
        this.#noteMalformed(remote, "datagram larger than the maximum message size");
        return;
      }
      if (looksLikeStun(data)) {
        // RFC 5389 §7.3 / RFC 5626 §4.4.2: answer Binding requests on the SIP port.
        if (isStunBindingRequest(data)) {
          socket.send(stunBindingSuccess(data, remote.host, remote.port), remote.host, remote.port)
            .catch(() => {});
        }
        return;
      }
      let blank = true;
      for (let i = 0; i < data.length && blank; i++) {
        const b = data[i];
        blank = b === 13 || b === 10 || b === 32 || b === 9 || b === 0;
      }
      if (blank) return; // a CRLF keep-alive datagram
      this.#inbound(data, "udp", { host: info.host, port: info.port }, remote, undefined, socket);
    } catch (e) {
      this.#log.error("Datagram handling failed: {error}", { error: String(e) });
    }
  }

  /** Count malformed input from a UDP source; true while the source may still be answered. */
  #noteMalformed(remote: Address, reason: string): boolean {
    const now = this.#now();
    if (now - this.#malformedWindowStart >= MALFORMED_WINDOW_MS) {
      this.#malformedBySource.clear();
      this.#malformedWindowStart = now;
    }
    const n = (this.#malformedBySource.get(remote.host) ?? 0) + 1;
    if (this.#malformedBySource.size < MAX_TRACKED_SOURCES || n > 1) {
      this.#malformedBySource.set(remote.host, n);
    }
    if (n === 1) {
      this.#log.info("Malformed datagram from {remote}: {reason}", {
        remote: `${hostForUri(remote.host)}:${remote.port}`,
        reason,
      });
    }
    return n <= this.#limits.maxMalformed;
  }

  #inbound(
    data: Uint8Array,
    transport: TransportName,
    local: Address,
    remote: Address,
    flow: Flow | undefined,
    socket?: UdpSocket,
  ): void {
    let message: SipMessage;
    let via: Via | undefined;
    try {
      message = parseMessage(data);
      via = message.vias[0];
      if (via === undefined) throw new SyntaxError("No Via header");
      // Decode the headers every layer above relies on now, so a bad one is answered here.
      void message.cseq;
      void message.callId;
      void message.from;
      void message.to;
      if (message.kind === "request") {
        stampReceived(message, via, remote);
      } else if (this.#checkResponseVia && !(flow && flow.outbound) && !this.#isOurSentBy(via)) {
        // RFC 3261 §18.1.2: a response whose top Via is not ours MUST be discarded.
        this.#log.debug("Dropped response with foreign Via {via}", { via: String(via) });
        return;
      }
    } catch (e) {
      this.#onMalformed(data, (e as Error).message, transport, remote, flow, socket);
      return;
    }
    if (message.kind === "request" && flow && !flow.outbound) {
      // Reuse this inbound connection for requests to the peer's advertised port.
      const key = this.#peerKey(transport, remote.host, via.port ?? DEFAULT_PORT[transport]);
      const existing = this.#flowByPeer.get(key);
      if (existing === undefined || !this.hasFlow(existing)) this.#flowByPeer.set(key, flow.id);
    }
    const inbound: InboundMessage = {
      message,
      transport,
      local,
      remote,
      flowId: flow?.id,
      receivedAt: this.#now(),
    };
    try {
      this.#handler?.(inbound);
    } catch (e) {
      this.#log.error("Inbound message handler failed: {error}", { error: String(e) });
    }
  }

  #isOurSentBy(via: Via): boolean {
    const host = bareHost(via.host).toLowerCase();
    if (host === this.#wsHost) return true;
    for (const e of this.#listeners.values()) {
      const port = via.port ?? DEFAULT_PORT[e.info.transport];
      if (port !== e.info.port) continue;
      if (isWildcard(e.info.host) || sameIp(host, e.info.host)) return true;
      if (e.advertised !== undefined && host === bareHost(e.advertised).toLowerCase()) return true;
    }
    return false;
  }

  #onMalformed(
    data: Uint8Array,
    reason: string,
    transport: TransportName,
    remote: Address,
    flow: Flow | undefined,
    socket: UdpSocket | undefined,
  ): void {
    if (flow) {
      if (!flow.closed && flow.malformed()) {
        this.#log.info("Closed connection {id} from {remote} after malformed messages: {reason}", {
          id: flow.id,
          remote: `${hostForUri(remote.host)}:${remote.port}`,
          reason,
        });
        return;
      }
    } else if (!this.#noteMalformed(remote, reason)) {
      return;
    }
    if (!this.#answerMalformed) return;
    const reply = buildBadRequest(data, reason, randomToken(10));
    if (!reply) return;
    if (flow) {
      this.#touch(flow);
      flow.send(reply.bytes).catch(() => {});
    } else if (socket) {
      const port = reply.rport ? remote.port : reply.viaPort ?? DEFAULT_PORT[transport];
      socket.send(reply.bytes, remote.host, port).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- outbound

  #udpSocket(host: string, local?: Address): { socket: UdpSocket; entry: ListenerEntry } {
    const v6 = host.includes(":");
    let fallback: { socket: UdpSocket; entry: ListenerEntry } | undefined;
    for (const e of this.#listeners.values()) {
      if (e.kind !== "udp") continue;
      if (e.info.host.includes(":") !== v6) continue;
      if (local && e.info.port === local.port && sameIp(e.info.host, local.host)) {
        return { socket: e.socket, entry: e };
      }
      fallback ??= { socket: e.socket, entry: e };
    }
    if (!fallback) {
      throw new TransportError(`No UDP listener for ${v6 ? "IPv6" : "IPv4"} to send from`);
    }
    return fallback;
  }

  #listenerFor(t: TransportName, v6: boolean): ListenerEntry | undefined {
    let any: ListenerEntry | undefined;
    for (const e of this.#listeners.values()) {
      if (e.info.transport !== t) continue;
      if (e.info.host.includes(":") === v6) return e;
      any ??= e;
    }
    return any;
  }

  #sentByHost(entry: ListenerEntry | undefined, fallback: string): string {
    if (entry?.advertised) return entry.advertised;
    if (entry && !isWildcard(entry.info.host)) return entry.info.host;
    if (!isWildcard(fallback) && fallback !== "") return fallback;
    return this.#defaultLocalIp((entry?.info.host ?? fallback).includes(":"));
  }

  /** For a listener bound to a wildcard address without `advertise`: the first non-loopback
   * interface address of the family (needs --allow-sys), else the loopback address. */
  #defaultLocalIp(v6: boolean): string {
    const cached = v6 ? this.#localIp6 : this.#localIp4;
    if (cached !== undefined) return cached;
    let ip = v6 ? "::1" : "127.0.0.1";
    try {
      const iface = Deno.networkInterfaces().find((i) =>
        i.family === (v6 ? "IPv6" : "IPv4") && i.address !== "::1" &&
        !i.address.startsWith("127.") && !i.address.toLowerCase().startsWith("fe80")
      );
      if (iface) ip = iface.address;
    } catch {
      // no --allow-sys: keep the loopback address
    }
    if (v6) this.#localIp6 = ip;
    else this.#localIp4 = ip;
    return ip;
  }

  /**
   * Send a request. The top Via gets the transport and the sent-by of the listener used,
   * and `;rport`. RFC 3261 §18.1.1: over UDP, a request larger than `udpMaxSize` goes over
   * TCP instead (falling back to UDP if the TCP connection cannot be made).
   *
   * @param request the request (its top Via is rewritten in place)
   * @param target where to send it
   * @returns the target really used, with the connection id for streams
   * @throws {TransportError} when it cannot be sent
   */
  async sendRequest(request: SipRequest, target: SendTarget): Promise<SendTarget> {
    if (this.#closed) throw new TransportError("Transport layer is closed");
    const host = bareHost(target.host);
    if (target.flowId !== undefined) {
      const flow = this.#flows.get(target.flowId);
      if (flow && !flow.closed) {
        await this.#sendOnFlow(request, flow);
        return { ...target, transport: flow.transport, flowId: flow.id };
      }
    }
    if (target.transport === "udp") {
      const { socket, entry } = this.#udpSocket(host);
      stampVia(request, "udp", this.#sentByHost(entry, entry.info.host), entry.info.port);
      let bytes = request.toBytes();
      if (bytes.length > this.#udpMaxSize && this.#listenerFor("tcp", host.includes(":"))) {
        try {
          const flow = await this.#flowTo({ ...target, transport: "tcp", host });
          await this.#sendOnFlow(request, flow);
          return { transport: "tcp", host, port: target.port, flowId: flow.id };
        } catch (e) {
          this.#log.info("Large request over TCP to {host} failed, using UDP: {error}", {
            host,
            error: (e as Error).message,
          });
          stampVia(request, "udp", this.#sentByHost(entry, entry.info.host), entry.info.port);
          bytes = request.toBytes();
        }
      }
      await socket.send(bytes, host, target.port);
      return { transport: "udp", host, port: target.port };
    }
    // An open connection is taken without the async connect path (one promise less per send).
    const flow = this.#openFlow(target.transport, host, target.port) ??
      await this.#flowTo({ ...target, host });
    await this.#sendOnFlow(request, flow);
    const used: SendTarget = {
      transport: flow.transport,
      host,
      port: target.port,
      flowId: flow.id,
    };
    if (target.tlsServerName !== undefined) used.tlsServerName = target.tlsServerName;
    return used;
  }

  /**
   * Try targets in order (an RFC 3263 failover list) until one accepts the request at the
   * transport level. Failover on a 503 response is the transaction user's job.
   *
   * @param request the request
   * @param targets the ordered targets
   * @returns the target used
   * @throws {TransportError} when every target failed
   */
  async sendRequestWithFailover(request: SipRequest, targets: SendTarget[]): Promise<SendTarget> {
    const errors: string[] = [];
    for (const t of targets) {
      try {
        return await this.sendRequest(request, t);
      } catch (e) {
        errors.push(`${t.transport}:${hostForUri(t.host)}:${t.port}: ${(e as Error).message}`);
      }
    }
    throw new TransportError(
      targets.length === 0 ? "No target to send to" : `Every target failed: ${errors.join("; ")}`,
    );
  }

  async #sendOnFlow(request: SipRequest, flow: Flow): Promise<void> {
    const v6 = flow.remote.host.includes(":");
    const t = flow.transport;
    if (t === "ws" || t === "wss") {
      const entry = flow.outbound ? undefined : this.#listeners.get(flow.listenerId ?? "");
      if (entry) stampVia(request, t, this.#sentByHost(entry, entry.info.host), entry.info.port);
      else stampVia(request, t, this.#wsHost, undefined); // RFC 7118 §5.2
    } else {
      const entry = this.#listenerFor(t, v6);
      if (entry) {
        stampVia(request, t, this.#sentByHost(entry, flow.local.host), entry.info.port);
      } else {
        stampVia(request, t, this.#sentByHost(undefined, flow.local.host), flow.local.port);
      }
    }
    this.#touch(flow);
    await flow.send(request.toBytes());
  }

  /** The open connection for a target, or a new one (connections are reused per
   * transport, host and port; concurrent callers share one connect). */
  async #flowTo(target: SendTarget): Promise<Flow> {
    const t = target.transport;
    const key = this.#peerKey(t, target.host, target.port);
    const existing = this.#openFlowByKey(key);
    if (existing) return existing;
    const pending = this.#connecting.get(key);
    if (pending) return await pending;
    if (this.#flows.size + this.#connecting.size >= this.#limits.maxConnections) {
      throw new TransportError(`Connection limit ${this.#limits.maxConnections} reached`);
    }
    const p = this.#connect(target);
    this.#connecting.set(key, p);
    try {
      const flow = await p;
      this.#register(flow);
      this.#flowByPeer.set(key, flow.id);
      return flow;
    } finally {
      this.#connecting.delete(key);
    }
  }

  /** The open connection reused for a transport, host and port, if there is one. */
  #openFlow(t: TransportName, host: string, port: number): Flow | undefined {
    return this.#openFlowByKey(this.#peerKey(t, host, port));
  }

  #openFlowByKey(key: string): Flow | undefined {
    const id = this.#flowByPeer.get(key);
    if (id === undefined) return undefined;
    const f = this.#flows.get(id);
    return f && !f.closed ? f : undefined;
  }

  async #connect(target: SendTarget): Promise<Flow> {
    const t = target.transport;
    if (t === "udp") throw new TransportError("UDP has no connections");
    const verify = this.#tls.rejectUnauthorized ?? true;
    if (t === "tcp" || t === "tls") {
      const conn = await connectStream({
        transport: t,
        host: target.host,
        port: target.port,
        timeout: this.#limits.connectTimeout,
        serverName: target.tlsServerName,
        caCerts: this.#tls.caCerts,
        insecureHostname: !verify,
      });
      if (this.#closed) {
        conn.close();
        throw new TransportError("Transport layer is closed");
      }
      return new StreamConnection({
        id: this.#nextId(t),
        transport: t,
        conn,
        outbound: true,
        listenerId: undefined,
        events: this.#flowEvents,
        settings: this.#flowSettings,
        now: this.#now,
      });
    }
    const { ws, dispose } = await connectWebSocket({
      transport: t,
      host: target.host,
      port: target.port,
      path: target.path,
      timeout: this.#limits.connectTimeout,
      caCerts: this.#tls.caCerts,
    });
    const flow = new WsConnection({
      id: this.#nextId(t),
      transport: t,
      ws,
      local: { host: this.#wsHost, port: 0 },
      remote: { host: target.host, port: target.port },
      outbound: true,
      listenerId: undefined,
      events: this.#flowEvents,
      settings: this.#flowSettings,
      now: this.#now,
      onDone: dispose,
    });
    if (this.#closed) {
      flow.close();
      throw new TransportError("Transport layer is closed");
    }
    return flow;
  }

  /**
   * Send a response per RFC 3261 §18.2.2 and RFC 3581 §4: on a stream, back over the
   * connection the request came on if it is still open, else a connection to `received`
   * (or sent-by) and the sent-by port; on UDP, to `maddr`, else to `received` and `rport`
   * (or the sent-by port), else to sent-by.
   *
   * @param response the response (its top Via is the one the request carried)
   * @param context the inbound request's transport, connection and addresses, if known
   * @returns settles once sent; rejects with {@linkcode TransportError} when it cannot be
   */
  sendResponse(response: SipResponse, context?: ResponseContext): Promise<void> {
    if (context?.transport === "udp" && !this.#closed) {
      // The common case, a request that came over UDP: the address is read from the top Via
      // text (no Via parse) and the socket's send promise is returned as is.
      try {
        const to = quickUdpReplyAddress(firstViaText(response));
        // The usual reply address is the request's source, an IP already (no re-check).
        if (to !== undefined && (to.host === context.remote?.host || parseIp(to.host))) {
          const bytes = response.toBytes();
          return this.#udpSocket(to.host, context.local).socket.send(bytes, to.host, to.port);
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#sendResponse(response, context);
  }

  async #sendResponse(response: SipResponse, context?: ResponseContext): Promise<void> {
    if (this.#closed) throw new TransportError("Transport layer is closed");
    if (context?.flowId !== undefined && isStream(context.transport)) {
      // Back over the request's open connection: the Via is not needed to route, so it is
      // not parsed (only checked to be there).
      const flow = this.#flows.get(context.flowId);
      if (flow && !flow.closed && response.hasHeader("Via")) {
        this.#touch(flow);
        await flow.send(response.toBytes());
        return;
      }
    }
    const via = response.vias[0];
    if (!via) throw new TransportError("A response needs a Via header to be routed");
    const t = context?.transport ?? viaTransportName(via.transport);
    if (t === undefined) throw new TransportError(`Unsupported Via transport ${via.transport}`);
    const bytes = response.toBytes();
    if (isStream(t)) {
      if (context?.flowId !== undefined) {
        const flow = this.#flows.get(context.flowId);
        if (flow && !flow.closed) {
          this.#touch(flow);
          await flow.send(bytes);
          return;
        }
      }
      if (t === "ws" || t === "wss") {
        throw new TransportError("The WebSocket connection of the request is closed");
      }
      const host = bareHost(via.received ?? via.host);
      const port = via.port ?? DEFAULT_PORT[t];
      const flow = await this.#flowTo({ transport: t, host: await this.#addressOf(host), port });
      this.#touch(flow);
      await flow.send(bytes);
      return;
    }
    const maddr = via.params.get("maddr");
    let host: string;
    let port: number;
    if (maddr) {
      host = bareHost(maddr);
      port = via.port ?? 5060;
    } else if (via.received !== undefined) {
      host = bareHost(via.received);
      port = typeof via.rport === "number" ? via.rport : via.port ?? 5060;
    } else {
      host = bareHost(via.host);
      port = via.port ?? 5060;
    }
    if (!parseIp(host)) host = await this.#addressOf(host);
    const { socket } = this.#udpSocket(host, context?.local);
    await socket.send(bytes, host, port);
  }

  /** An IP address for a host: itself when numeric, else its first A/AAAA record. */
  async #addressOf(host: string): Promise<string> {
    if (parseIp(host)) return host;
    const targets = await this.#resolver.resolve({
      scheme: "sip",
      host,
      port: 5060,
      params: new Map(),
    });
    const first = targets[0];
    if (!first) throw new TransportError(`Cannot resolve ${host}`);
    return first.host;
  }

  /** RFC 3263: the targets to try for a URI, in order.
   * @param uri the next-hop URI
   * @returns the ordered targets (empty when nothing resolves)
   */
  resolve(uri: Uri): Promise<SendTarget[]> {
    return this.#resolver.resolve(uri);
  }

  /** Close every listener and connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of [...this.#flows.values()]) f.close("transport closed");
    const entries = [...this.#listeners.values()];
    this.#listeners.clear();
    this.#listenerGeneration++;
    await Promise.all(entries.map((e) => this.#closeEntry(e)));
    await Promise.allSettled([...this.#connecting.values()]);
    for (const f of [...this.#flows.values()]) f.close("transport closed");
  }

  /** Same as {@linkcode TransportLayer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
