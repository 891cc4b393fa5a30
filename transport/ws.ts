/**
 * SIP over WebSocket (RFC 7118): the `sip` subprotocol, one SIP message per frame, text or
 * binary frames. Server side uses `Deno.serve` + `Deno.upgradeWebSocket`, client side the
 * standard `WebSocket` (with a `Deno.HttpClient` when extra CAs are pinned).
 *
 * @module
 */

import { TransportError } from "./errors.ts";
import { type Flow, type FlowEvents, type FlowSettings, IdleTimer } from "./_flow.ts";
import type { Address, TransportName } from "./types.ts";

/** RFC 7118 §4: the WebSocket subprotocol for SIP. */
export const SIP_SUBPROTOCOL = "sip";

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** True when the request asks for the `sip` subprotocol (RFC 7118 §4). */
export function offersSipSubprotocol(req: Request): boolean {
  const h = req.headers.get("sec-websocket-protocol");
  if (!h) return false;
  return h.split(",").some((p) => p.trim().toLowerCase() === SIP_SUBPROTOCOL);
}

/** One WS or WSS connection carrying SIP. */
export class WsConnection implements Flow {
  /** Unique id. */
  readonly id: string;
  /** `ws` or `wss`. */
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
  readonly #ws: WebSocket;
  readonly #events: FlowEvents;
  readonly #settings: FlowSettings;
  readonly #idle: IdleTimer;
  readonly #onDone: (() => void) | undefined;
  #malformed = 0;

  /** Wrap an open (or opening, for server sockets) WebSocket.
   * @param init the socket, its identity, the owner's callbacks
   */
  constructor(init: {
    id: string;
    transport: TransportName;
    ws: WebSocket;
    local: Address;
    remote: Address;
    outbound: boolean;
    listenerId: string | undefined;
    events: FlowEvents;
    settings: FlowSettings;
    now: () => number;
    onDone?: () => void;
  }) {
    this.id = init.id;
    this.transport = init.transport;
    this.#ws = init.ws;
    this.local = init.local;
    this.remote = init.remote;
    this.outbound = init.outbound;
    this.listenerId = init.listenerId;
    this.#events = init.events;
    this.#settings = init.settings;
    this.#onDone = init.onDone;
    this.#idle = new IdleTimer(init.settings.idleTimeout, init.now, () => this.close("idle"));
    const ws = init.ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev: MessageEvent) => this.#onData(ev.data);
    ws.onclose = () => this.#finish("closed by peer");
    ws.onerror = () => this.#finish("socket error");
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #onData(data: unknown): void {
    if (this.#closed) return;
    let bytes: Uint8Array;
    if (typeof data === "string") bytes = encoder.encode(data);
    else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else return;
    if (bytes.length > this.#settings.maxMessageSize) {
      this.#closeWs(1009, "message too big");
      this.#finish("message too big");
      return;
    }
    // A lone CRLF / CRLFCRLF frame is a keep-alive; ignore it.
    if (bytes.length <= 4 && bytes.every((b) => b === 13 || b === 10)) return;
    this.#idle.touch();
    this.#events.onFrame(this, bytes);
  }

  /** Send one SIP message as one frame: text when valid UTF-8, else binary (RFC 7118 §5). */
  send(data: Uint8Array): Promise<void> {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new TransportError(`Connection ${this.id} is closed`));
    }
    this.#idle.touch();
    let text: string | undefined;
    try {
      text = decoder.decode(data);
    } catch {
      text = undefined;
    }
    try {
      this.#ws.send(text ?? data);
    } catch (e) {
      this.close("send failed");
      return Promise.reject(new TransportError(`Send on ${this.id} failed`, { cause: e }));
    }
    return Promise.resolve();
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

  /** Keep the flow open (no idle close); WebSocket pings are the runtime's job. */
  keep(_intervalMs: number, _pongTimeoutMs: number): void {
    this.#idle.keep();
  }

  /** Close the connection (idempotent). */
  close(reason = "closed"): void {
    if (this.#closed) return;
    this.#closeWs(1000, "");
    this.#finish(reason);
  }

  #closeWs(code: number, reason: string): void {
    try {
      if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
        this.#ws.close(code, reason);
      }
    } catch {
      // already closing
    }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    this.#onDone?.();
    this.#events.onClose(this, reason);
  }
}

/** Options of {@linkcode connectWebSocket}. */
export interface WsConnectOptions {
  /** `ws` or `wss`. */
  transport: "ws" | "wss";
  /** Peer host (IPv6 without brackets). */
  host: string;
  /** Peer port. */
  port: number;
  /** HTTP path (default `/`). */
  path?: string | undefined;
  /** Open timeout, ms. */
  timeout: number;
  /** WSS: extra trusted CAs (PEM). */
  caCerts?: string[] | undefined;
}

/** An open client WebSocket, and the HTTP client to close with it. */
export interface OpenWebSocket {
  /** The socket, open, with the `sip` subprotocol agreed. */
  ws: WebSocket;
  /** Release resources when the socket is done. */
  dispose: () => void;
}

/** Open a client WebSocket with the `sip` subprotocol within the timeout.
 * @param o where and how to connect
 * @returns the open socket
 * @throws {TransportError} on failure, timeout, or when the server does not agree to `sip`
 */
export function connectWebSocket(o: WsConnectOptions): Promise<OpenWebSocket> {
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  const url = `${o.transport}://${host}:${o.port}${o.path ?? "/"}`;
  const client = o.transport === "wss" && o.caCerts && o.caCerts.length > 0
    ? Deno.createHttpClient({ caCerts: o.caCerts })
    : undefined;
  const dispose = (): void => client?.close();
  let ws: WebSocket;
  try {
    ws = client
      ? new WebSocket(url, { protocols: [SIP_SUBPROTOCOL], client })
      : new WebSocket(url, [SIP_SUBPROTOCOL]);
  } catch (e) {
    dispose();
    return Promise.reject(new TransportError(`WebSocket to ${url} failed`, { cause: e }));
  }
  ws.binaryType = "arraybuffer";
  return new Promise<OpenWebSocket>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new TransportError(`WebSocket to ${url} timed out`));
      try {
        ws.close();
      } catch {
        // not open
      }
    }, o.timeout);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      ws.onopen = ws.onerror = ws.onclose = null;
      dispose();
      reject(e);
    };
    ws.onopen = () => {
      clearTimeout(timer);
      ws.onopen = ws.onerror = ws.onclose = null;
      if (ws.protocol !== SIP_SUBPROTOCOL) {
        ws.close(1002, "sip subprotocol required");
        dispose();
        reject(new TransportError(`WebSocket server ${url} did not accept the sip subprotocol`));
        return;
      }
      resolve({ ws, dispose });
    };
    ws.onerror = () => fail(new TransportError(`WebSocket to ${url} failed`));
    ws.onclose = () => fail(new TransportError(`WebSocket to ${url} closed while opening`));
  });
}
