/**
 * UDP sockets for SIP. Two back ends exist behind one small interface: `node:dgram` (stable
 * in Deno, the default) and `Deno.listenDatagram` (needs `--unstable-net`). The choice was
 * made by measurement in `bench/transport_bench.ts`; see docs/transport.md.
 *
 * Sends on one socket leave in the order `send` was called. Both back ends start one async
 * runtime op per datagram, and ops that are in flight together complete in no fixed order: a
 * burst of concurrent sends reached the wire about half out of order (a 180 could arrive
 * after the 200 of its transaction). So each socket keeps a send queue and has at most one
 * send in flight; this was also faster than firing them together.
 *
 * @module
 */

import dgram from "node:dgram";
import { TransportError } from "./errors.ts";
import type { Address } from "./types.ts";

/** Which implementation carries UDP. */
export type UdpBackend = "node" | "deno";

/** A bound UDP socket. */
export interface UdpSocket {
  /** The bound address (the real port when 0 was asked for). */
  readonly local: Address;
  /** Send one datagram. */
  send(data: Uint8Array, host: string, port: number): Promise<void>;
  /** Close the socket. */
  close(): Promise<void>;
}

/** Called for each datagram received. */
export type DatagramHandler = (data: Uint8Array, remote: Address) => void;

/** Options of {@linkcode openUdp}. */
export interface OpenUdpOptions {
  /** Address to bind (IPv6 without brackets). */
  host: string;
  /** Port to bind; 0 picks one. */
  port: number;
  /** Receives each datagram. */
  onDatagram: DatagramHandler;
  /** Socket errors after binding (logged by the caller; the socket stays up). */
  onError?: (e: Error) => void;
  /** The implementation (default `node`). */
  backend?: UdpBackend;
  /** Receive buffer for the Deno back end (default 65536). */
  maxDatagram?: number;
}

/** Open and bind a UDP socket.
 * @param o address, handler and back end
 * @returns the bound socket
 * @throws {TransportError} when binding fails (e.g. the port is in use)
 */
export function openUdp(o: OpenUdpOptions): Promise<UdpSocket> {
  return o.backend === "deno" ? openDeno(o) : openNode(o);
}

function openNode(o: OpenUdpOptions): Promise<UdpSocket> {
  const v6 = o.host.includes(":");
  const sock = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: v6 });
  return new Promise<UdpSocket>((resolve, reject) => {
    let bound = false;
    sock.on("error", (e: Error) => {
      if (!bound) {
        try {
          sock.close();
        } catch {
          // not bound
        }
        reject(
          new TransportError(`Cannot bind udp ${o.host}:${o.port}: ${e.message}`, { cause: e }),
        );
      } else {
        o.onError?.(e);
      }
    });
    sock.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      // Copied out at its own size: Deno's node:dgram hands each datagram over as a view of a
      // fresh 64 KiB receive buffer, and a parsed message (kept by a transaction for 32 s,
      // or by a dialog) would otherwise hold all 64 KiB of it.
      o.onDatagram(new Uint8Array(msg), { host: rinfo.address, port: rinfo.port });
    });
    sock.bind(o.port, o.host, () => {
      bound = true;
      const a = sock.address();
      let closed = false;
      const sender = new OrderedSender((data, host, port, done) => {
        sock.send(data, port, host, done);
      });
      resolve({
        local: { host: a.address, port: a.port },
        send(data: Uint8Array, host: string, port: number): Promise<void> {
          if (closed) return Promise.reject(new TransportError("UDP socket is closed"));
          return sender.send(data, host, port);
        },
        close(): Promise<void> {
          if (closed) return Promise.resolve();
          closed = true;
          sender.close();
          return new Promise<void>((res) => sock.close(() => res()));
        },
      });
    });
  });
}

/** Completion callback of one raw datagram send. */
type SendDone = (e?: Error | null) => void;

/** A raw, callback-style datagram send. */
type RawSend = (data: Uint8Array, host: string, port: number, done: SendDone) => void;

/** One queued datagram. */
interface PendingSend {
  data: Uint8Array;
  host: string;
  port: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Sends datagrams one at a time, in call order, through a raw callback-style send. */
class OrderedSender {
  readonly #raw: RawSend;
  /** The one completion callback, bound once: it always completes `#current`. */
  readonly #done: SendDone;
  #queue: PendingSend[] = [];
  #head = 0;
  #current: PendingSend | undefined;
  #closed = false;

  constructor(raw: RawSend) {
    this.#raw = raw;
    this.#done = (e) => this.#complete(e);
  }

  send(data: Uint8Array, host: string, port: number): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError("UDP socket is closed"));
    return new Promise<void>((resolve, reject) => {
      const item: PendingSend = { data, host, port, resolve, reject };
      if (this.#current === undefined) this.#start(item);
      else this.#queue.push(item);
    });
  }

  #start(item: PendingSend): void {
    this.#current = item;
    try {
      this.#raw(item.data, item.host, item.port, this.#done);
    } catch (e) {
      // Deferred, so a queue of sends that all throw cannot grow the stack.
      const err = e instanceof Error ? e : new Error(String(e));
      queueMicrotask(() => {
        if (this.#current === item) this.#complete(err);
      });
    }
  }

  #complete(e: Error | null | undefined): void {
    const item = this.#current;
    if (item === undefined) return; // already failed by close()
    if (e) {
      item.reject(
        new TransportError(`UDP send to ${item.host}:${item.port} failed: ${e.message}`, {
          cause: e,
        }),
      );
    } else {
      item.resolve();
    }
    this.#current = undefined;
    if (this.#closed || this.#head >= this.#queue.length) return;
    const next = this.#queue[this.#head]!;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#start(next);
  }

  /** Fail every send not completed yet: the runtime may never report the one in flight. */
  close(): void {
    this.#closed = true;
    const rest = this.#queue.slice(this.#head);
    if (this.#current !== undefined) rest.unshift(this.#current);
    this.#current = undefined;
    this.#queue = [];
    this.#head = 0;
    const err = new TransportError("UDP socket is closed");
    for (const item of rest) item.reject(err);
  }
}

/** The part of the unstable `Deno.DatagramConn` used here. */
interface DenoDatagramConn {
  readonly addr: Deno.Addr;
  receive(p?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  send(p: Uint8Array, addr: Deno.Addr): Promise<number>;
  close(): void;
}

type ListenDatagram = (o: {
  hostname: string;
  port: number;
  transport: "udp";
}) => DenoDatagramConn;

/** True when `Deno.listenDatagram` is usable (the process runs with `--unstable-net`). */
export function denoDatagramAvailable(): boolean {
  return typeof (Deno as unknown as { listenDatagram?: unknown }).listenDatagram === "function";
}

function openDeno(o: OpenUdpOptions): Promise<UdpSocket> {
  const listen = (Deno as unknown as { listenDatagram?: ListenDatagram }).listenDatagram;
  if (typeof listen !== "function") {
    return Promise.reject(
      new TransportError("Deno.listenDatagram needs --unstable-net; use the node back end"),
    );
  }
  let conn: DenoDatagramConn;
  try {
    conn = listen({ hostname: o.host, port: o.port, transport: "udp" });
  } catch (e) {
    return Promise.reject(
      new TransportError(`Cannot bind udp ${o.host}:${o.port}: ${(e as Error).message}`, {
        cause: e,
      }),
    );
  }
  const addr = conn.addr as Deno.NetAddr;
  let closed = false;
  const size = o.maxDatagram ?? 65536;
  const loop = async (): Promise<void> => {
    // One receive buffer for the socket; each datagram is copied out at its own size (a
    // fresh 64 KiB buffer per datagram cost more than the copy).
    const buf = new Uint8Array(size);
    while (!closed) {
      try {
        const [data, from] = await conn.receive(buf);
        const f = from as Deno.NetAddr;
        o.onDatagram(data.slice(), { host: f.hostname, port: f.port });
      } catch (e) {
        if (closed) return;
        o.onError?.(e as Error);
        // ICMP errors surface here and are harmless; a dead socket ends the loop.
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
      }
    }
  };
  const done = loop();
  const sender = new OrderedSender((data, host, port, sent) => {
    conn.send(data, { transport: "udp", hostname: host, port }).then(
      () => sent(),
      (e: unknown) => sent(e instanceof Error ? e : new Error(String(e))),
    );
  });
  return Promise.resolve({
    local: { host: addr.hostname, port: addr.port },
    send(data: Uint8Array, host: string, port: number): Promise<void> {
      if (closed) return Promise.reject(new TransportError("UDP socket is closed"));
      return sender.send(data, host, port);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      sender.close();
      conn.close();
      await done;
    },
  });
}
