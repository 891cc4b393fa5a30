/**
 * UDP sockets for SIP. Two back ends exist behind one small interface: `node:dgram` (stable
 * in Deno, the default) and `Deno.listenDatagram` (needs `--unstable-net`). The choice was
 * made by measurement in `bench/transport_bench.ts`; see docs/transport.md.
 *
 * @module
 */

import dgram from "node:dgram";
import { Buffer } from "node:buffer";
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
      o.onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
        host: rinfo.address,
        port: rinfo.port,
      });
    });
    sock.bind(o.port, o.host, () => {
      bound = true;
      const a = sock.address();
      let closed = false;
      resolve({
        local: { host: a.address, port: a.port },
        send(data: Uint8Array, host: string, port: number): Promise<void> {
          if (closed) return Promise.reject(new TransportError("UDP socket is closed"));
          return new Promise<void>((res, rej) => {
            sock.send(
              Buffer.from(data.buffer, data.byteOffset, data.byteLength),
              port,
              host,
              (e) => {
                if (e) rej(new TransportError(`UDP send to ${host}:${port} failed: ${e.message}`));
                else res();
              },
            );
          });
        },
        close(): Promise<void> {
          if (closed) return Promise.resolve();
          closed = true;
          return new Promise<void>((res) => sock.close(() => res()));
        },
      });
    });
  });
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
    while (!closed) {
      try {
        const [data, from] = await conn.receive(new Uint8Array(size));
        const f = from as Deno.NetAddr;
        o.onDatagram(data, { host: f.hostname, port: f.port });
      } catch (e) {
        if (closed) return;
        o.onError?.(e as Error);
        // ICMP errors surface here and are harmless; a dead socket ends the loop.
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
      }
    }
  };
  const done = loop();
  return Promise.resolve({
    local: { host: addr.hostname, port: addr.port },
    async send(data: Uint8Array, host: string, port: number): Promise<void> {
      if (closed) throw new TransportError("UDP socket is closed");
      try {
        await conn.send(data, { transport: "udp", hostname: host, port });
      } catch (e) {
        throw new TransportError(`UDP send to ${host}:${port} failed: ${(e as Error).message}`);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      conn.close();
      await done;
    },
  });
}
