/**
 * Folder-private: the shape every stream connection (TCP, TLS, WS, WSS) has inside the
 * transport layer, and the events it reports.
 *
 * @module
 */

import type { Address, TransportName } from "./types.ts";

/** One open stream connection (an RFC 5626 flow). */
export interface Flow {
  /** Unique id within the transport layer (also the flow token). */
  readonly id: string;
  /** Transport of the connection. */
  readonly transport: TransportName;
  /** Local address. */
  readonly local: Address;
  /** Peer address. */
  readonly remote: Address;
  /** True for connections we opened. */
  readonly outbound: boolean;
  /** The listener that accepted it (inbound only). */
  readonly listenerId: string | undefined;
  /** True once closed. */
  readonly closed: boolean;
  /** Send one whole SIP message (or keep-alive bytes on byte streams). */
  send(data: Uint8Array): Promise<void>;
  /** Count an unparseable message; returns true when the connection was closed for it. */
  malformed(): boolean;
  /** Keep this flow open: no idle close, and RFC 5626 pings on byte streams. */
  keep(intervalMs: number, pongTimeoutMs: number): void;
  /** Close the connection (idempotent). */
  close(reason?: string): void;
}

/** Callbacks from a flow to its owner. */
export interface FlowEvents {
  /** A whole SIP message arrived (not yet parsed). */
  onFrame(flow: Flow, data: Uint8Array): void;
  /** The connection closed. */
  onClose(flow: Flow, reason: string): void;
}

/** Timing and limits a flow enforces. */
export interface FlowSettings {
  /** Largest message accepted. */
  maxMessageSize: number;
  /** Milliseconds a partial message may take to complete. */
  headerTimeout: number;
  /** Milliseconds without SIP traffic before the connection is closed. */
  idleTimeout: number;
  /** Unparseable messages tolerated before closing. */
  maxMalformed: number;
}

/** Idle-close bookkeeping shared by the flow classes: one timer, re-armed lazily. */
export class IdleTimer {
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #kept = false;
  readonly #ms: number;
  readonly #now: () => number;
  readonly #onIdle: () => void;

  /** Create the timer and start it.
   * @param ms idle period
   * @param now clock
   * @param onIdle called once when the period passes without {@linkcode IdleTimer.touch}
   */
  constructor(ms: number, now: () => number, onIdle: () => void) {
    this.#ms = ms;
    this.#now = now;
    this.#onIdle = onIdle;
    this.#last = now();
    this.#arm(ms);
  }

  /** Note activity. */
  touch(): void {
    this.#last = this.#now();
  }

  /** Stop idle closing (kept flows). */
  keep(): void {
    this.#kept = true;
    this.stop();
  }

  /** Cancel the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#kept) return;
      const left = this.#last + this.#ms - this.#now();
      if (left > 0) this.#arm(left);
      else this.#onIdle();
    }, ms);
  }
}
