/**
 * An in-memory network and transport for testing the layers above the transport without
 * sockets. {@linkcode MemoryTransport} implements the same {@linkcode SipTransport}
 * interface as {@linkcode TransportLayer}: listen URIs, Via rewriting with `rport`, RFC 3581
 * `received`/`rport` on delivery, §18.2.2 response routing, stream "connections" with flow
 * ids, and the §18.1.1 UDP size rule. Messages travel as bytes and are parsed on arrival, so
 * each side gets its own copy. Delivery is asynchronous (a microtask), deterministic, and
 * can be filtered to simulate loss.
 *
 * @module
 */

import { parseMessage } from "../sip/parser.ts";
import type { SipRequest, SipResponse, Uri } from "../sip/types.ts";
import { TransportError } from "./errors.ts";
import { DEFAULT_UDP_MAX_SIZE } from "./_limits.ts";
import { bareHost, listenerUri, parseListenUri } from "./listen_uri.ts";
import { Rfc3263Resolver } from "./resolver.ts";
import { DEFAULT_PORT, randomToken, stampReceived, stampVia, viaTransportName } from "./_via.ts";
import type {
  Address,
  DnsResolver,
  InboundMessage,
  ListenerInfo,
  ResponseContext,
  SendTarget,
  SipTransport,
  TransportName,
} from "./types.ts";

/** One message in flight on a {@linkcode MemoryNetwork}. */
export interface MemoryPacket {
  /** Transport used. */
  transport: TransportName;
  /** Sender address. */
  from: Address;
  /** Destination address. */
  to: Address;
  /** The message bytes. */
  data: Uint8Array;
  /** The stream connection it travels on, if any. */
  flowId: string | undefined;
}

/** Options of {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Called for every packet; return false to drop it (loss simulation). */
  filter?: (packet: MemoryPacket) => boolean;
}

interface MemoryFlow {
  id: string;
  transport: TransportName;
  a: { owner: MemoryTransport; addr: Address };
  b: { owner: MemoryTransport; addr: Address };
  open: boolean;
}

/** The shared medium that {@linkcode MemoryTransport}s attach to. */
export class MemoryNetwork {
  readonly #bound = new Map<string, MemoryTransport>();
  readonly #flows = new Map<string, MemoryFlow>();
  readonly #filter: ((packet: MemoryPacket) => boolean) | undefined;
  #port = 20000;
  #seq = 0;
  #inFlight = 0;
  #delivered = 0;
  #dropped = 0;

  /** Create a network.
   * @param options the loss filter
   */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#filter = options.filter;
  }

  /** Packets delivered so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Packets dropped (no receiver, or the filter said so). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Wait until no packet is in flight (bounded: at most 1000 rounds). */
  async settle(): Promise<void> {
    for (let i = 0; i < 1000 && this.#inFlight > 0; i++) {
      await new Promise<void>((r) => queueMicrotask(r));
    }
  }

  /** @internal Bind an address. */
  bind(t: TransportName, host: string, port: number, owner: MemoryTransport): number {
    const p = port === 0 ? this.#nextFreePort(t, host) : port;
    const key = keyOf(t, host, p);
    if (this.#bound.has(key)) {
      throw new TransportError(`Address ${t} ${host}:${p} is already in use`);
    }
    this.#bound.set(key, owner);
    return p;
  }

  /** @internal Release an address. */
  unbind(t: TransportName, host: string, port: number): void {
    this.#bound.delete(keyOf(t, host, port));
  }

  /** @internal Is the address free? */
  isFree(t: TransportName, host: string, port: number): boolean {
    return !this.#bound.has(keyOf(t, host, port));
  }

  /** @internal A free port. */
  nextPort(): number {
    return this.#port++;
  }

  #nextFreePort(t: TransportName, host: string): number {
    for (let i = 0; i < 40000; i++) {
      const p = this.#port++;
      if (this.#port > 65000) this.#port = 20000;
      if (!this.#bound.has(keyOf(t, host, p))) return p;
    }
    throw new TransportError("No free port on the memory network");
  }

  /** @internal The transport bound at an address. */
  lookup(t: TransportName, host: string, port: number): MemoryTransport | undefined {
    return this.#bound.get(keyOf(t, host, port));
  }

  /** @internal Open a stream connection between two transports. */
  connect(
    t: TransportName,
    a: { owner: MemoryTransport; addr: Address },
    b: { owner: MemoryTransport; addr: Address },
  ): MemoryFlow {
    const flow: MemoryFlow = { id: `mem-${t}-${++this.#seq}`, transport: t, a, b, open: true };
    this.#flows.set(flow.id, flow);
    return flow;
  }

  /** @internal A connection by id. */
  flow(id: string): MemoryFlow | undefined {
    const f = this.#flows.get(id);
    return f && f.open ? f : undefined;
  }

  /** @internal Close the connections of a transport. */
  closeFlowsOf(owner: MemoryTransport): void {
    for (const f of this.#flows.values()) {
      if (f.a.owner === owner || f.b.owner === owner) {
        f.open = false;
        this.#flows.delete(f.id);
      }
    }
  }

  /** @internal Send a packet to whoever is bound at its destination (or the flow peer). */
  deliver(packet: MemoryPacket, to: MemoryTransport | undefined): void {
    if (!to || (this.#filter && !this.#filter(packet))) {
      this.#dropped++;
      return;
    }
    this.#inFlight++;
    queueMicrotask(() => {
      this.#inFlight--;
      this.#delivered++;
      to.receive(packet);
    });
  }
}

function keyOf(t: TransportName, host: string, port: number): string {
  return `${t}|${bareHost(host).toLowerCase()}|${port}`;
}

/** Options of {@linkcode MemoryTransport}. */
export interface MemoryTransportOptions {
  /** The §18.1.1 UDP size limit (default 1300). */
  udpMaxSize?: number;
  /** DNS for {@linkcode MemoryTransport.resolve} (default: a zone with no records). */
  dns?: DnsResolver;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * A {@linkcode SipTransport} on a {@linkcode MemoryNetwork}.
 *
 * @example Two endpoints exchanging a request
 * ```ts
 * import { MemoryNetwork, MemoryTransport } from "./memory.ts";
 * import { parseMessage } from "../sip/parser.ts";
 * import type { SipRequest } from "../sip/types.ts";
 * const net = new MemoryNetwork();
 * const a = new MemoryTransport(net);
 * const b = new MemoryTransport(net);
 * await a.listen("sip:10.0.0.1:5060;transport=udp");
 * await b.listen("sip:10.0.0.2:5060;transport=udp");
 * const got: string[] = [];
 * b.onMessage((m) => got.push(m.message.kind));
 * const req = parseMessage(
 *   "OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\n" +
 *     "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n" +
 *     "Content-Length: 0\r\n\r\n",
 * ) as SipRequest;
 * await a.sendRequest(req, { transport: "udp", host: "10.0.0.2", port: 5060 });
 * await net.settle();
 * if (got[0] !== "request") throw new Error("not delivered");
 * await a.close();
 * await b.close();
 * ```
 */
export class MemoryTransport implements SipTransport {
  readonly #net: MemoryNetwork;
  readonly #udpMaxSize: number;
  readonly #resolver: Rfc3263Resolver;
  readonly #now: () => number;
  readonly #listeners = new Map<string, ListenerInfo>();
  readonly #flowByPeer = new Map<string, string>();
  readonly #token = randomToken(6);
  #handler: ((m: InboundMessage) => void) | undefined;
  #seq = 0;
  #closed = false;

  /** Attach a transport to a network.
   * @param network the shared medium
   * @param options UDP size limit, DNS, clock
   */
  constructor(network: MemoryNetwork, options: MemoryTransportOptions = {}) {
    this.#net = network;
    this.#udpMaxSize = options.udpMaxSize ?? DEFAULT_UDP_MAX_SIZE;
    this.#now = options.now ?? Date.now;
    this.#resolver = new Rfc3263Resolver({
      dns: options.dns ?? { resolve: () => Promise.resolve([]) },
      now: this.#now,
    });
  }

  /** The open listeners. */
  get listeners(): ListenerInfo[] {
    return [...this.#listeners.values()].map((l) => ({ ...l }));
  }

  /** Register the inbound message handler. */
  onMessage(handler: (m: InboundMessage) => void): void {
    this.#handler = handler;
  }

  /** Bind the addresses a listen URI names (port 0 picks a free one, the same for a
   * UDP+TCP pair). */
  listen(uri: string): Promise<ListenerInfo[]> {
    if (this.#closed) return Promise.reject(new TransportError("Transport is closed"));
    let specs;
    try {
      specs = parseListenUri(uri);
    } catch (e) {
      return Promise.reject(e);
    }
    let shared: number | undefined;
    if (specs.length > 1 && specs.every((s) => s.port === 0)) {
      for (let i = 0; i < 1000 && shared === undefined; i++) {
        const p = this.#net.nextPort();
        if (specs.every((s) => this.#net.isFree(s.transport, s.host, p))) shared = p;
      }
    }
    const out: ListenerInfo[] = [];
    try {
      for (const spec of specs) {
        const port = this.#net.bind(spec.transport, spec.host, shared ?? spec.port, this);
        const info: ListenerInfo = {
          id: `mem-l${spec.transport}-${this.#token}-${++this.#seq}`,
          transport: spec.transport,
          host: spec.host,
          port,
          uri: listenerUri(spec.transport, spec.host, port),
        };
        if (spec.path !== undefined) info.path = spec.path;
        out.push(info);
      }
    } catch (e) {
      for (const l of out) this.#net.unbind(l.transport, l.host, l.port);
      return Promise.reject(e);
    }
    for (const l of out) this.#listeners.set(l.id, l);
    return Promise.resolve(out.map((l) => ({ ...l })));
  }

  /** Release one listener. */
  unlisten(id: string): Promise<void> {
    const l = this.#listeners.get(id);
    if (l) {
      this.#listeners.delete(id);
      this.#net.unbind(l.transport, l.host, l.port);
    }
    return Promise.resolve();
  }

  #listenerFor(t: TransportName, v6?: boolean): ListenerInfo | undefined {
    let any: ListenerInfo | undefined;
    for (const l of this.#listeners.values()) {
      if (l.transport !== t) continue;
      if (v6 === undefined || l.host.includes(":") === v6) return l;
      any ??= l;
    }
    return any;
  }

  /** Send a request (see {@linkcode TransportLayer.sendRequest}). */
  sendRequest(request: SipRequest, target: SendTarget): Promise<SendTarget> {
    try {
      return Promise.resolve(this.#sendRequest(request, target));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #sendRequest(request: SipRequest, target: SendTarget): SendTarget {
    if (this.#closed) throw new TransportError("Transport is closed");
    const host = bareHost(target.host);
    if (target.flowId !== undefined) {
      const flow = this.#net.flow(target.flowId);
      if (flow) {
        const [me] = this.#ends(flow);
        stampVia(request, flow.transport, me.addr.host, me.addr.port);
        this.#sendOnFlow(flow, request.toBytes());
        return { ...target, transport: flow.transport, flowId: flow.id };
      }
    }
    let t = target.transport;
    if (t === "udp") {
      const l = this.#listenerFor("udp", host.includes(":"));
      if (!l) throw new TransportError("No UDP listener to send from");
      stampVia(request, "udp", l.host, l.port);
      const bytes = request.toBytes();
      // RFC 3261 §18.1.1: too large for UDP → TCP, when we can speak TCP.
      if (bytes.length <= this.#udpMaxSize || !this.#listenerFor("tcp")) {
        this.#net.deliver(
          {
            transport: "udp",
            from: { host: l.host, port: l.port },
            to: { host, port: target.port },
            data: bytes,
            flowId: undefined,
          },
          this.#net.lookup("udp", host, target.port),
        );
        return { transport: "udp", host, port: target.port };
      }
      t = "tcp";
    }
    const flow = this.#flowTo(t, host, target.port);
    const [me] = this.#ends(flow);
    stampVia(request, t, me.addr.host, me.addr.port);
    this.#sendOnFlow(flow, request.toBytes());
    return { transport: t, host, port: target.port, flowId: flow.id };
  }

  #ends(flow: MemoryFlow): [MemoryFlow["a"], MemoryFlow["b"]] {
    return flow.a.owner === this ? [flow.a, flow.b] : [flow.b, flow.a];
  }

  #sendOnFlow(flow: MemoryFlow, data: Uint8Array): void {
    const [me, peer] = this.#ends(flow);
    this.#net.deliver(
      { transport: flow.transport, from: me.addr, to: peer.addr, data, flowId: flow.id },
      peer.owner,
    );
  }

  #flowTo(t: TransportName, host: string, port: number): MemoryFlow {
    const key = `${t}|${host}|${port}`;
    const existing = this.#flowByPeer.get(key);
    const open = existing !== undefined ? this.#net.flow(existing) : undefined;
    if (open) return open;
    const peer = this.#net.lookup(t, host, port);
    if (!peer) throw new TransportError(`Connection to ${t} ${host}:${port} refused`);
    const l = this.#listenerFor(t, host.includes(":"));
    const local: Address = l
      ? { host: l.host, port: l.port }
      : { host: host.includes(":") ? "::1" : "127.0.0.1", port: this.#net.nextPort() };
    const flow = this.#net.connect(t, { owner: this, addr: local }, {
      owner: peer,
      addr: { host, port },
    });
    this.#flowByPeer.set(key, flow.id);
    return flow;
  }

  /** @internal Called by the network. */
  receive(packet: MemoryPacket): void {
    if (this.#closed) return;
    let message;
    try {
      message = parseMessage(packet.data);
      const via = message.vias[0];
      if (!via) return;
      if (message.kind === "request") stampReceived(message, via, packet.from);
    } catch {
      return; // malformed input is dropped on the memory network
    }
    this.#handler?.({
      message,
      transport: packet.transport,
      local: packet.to,
      remote: packet.from,
      flowId: packet.flowId,
      receivedAt: this.#now(),
    });
  }

  /** Send a response (see {@linkcode TransportLayer.sendResponse}). */
  sendResponse(response: SipResponse, context?: ResponseContext): Promise<void> {
    try {
      this.#sendResponse(response, context);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #sendResponse(response: SipResponse, context?: ResponseContext): void {
    if (this.#closed) throw new TransportError("Transport is closed");
    const via = response.vias[0];
    if (!via) throw new TransportError("A response needs a Via header to be routed");
    const t = context?.transport ?? viaTransportName(via.transport);
    if (!t) throw new TransportError(`Unsupported Via transport ${via.transport}`);
    const bytes = response.toBytes();
    if (t !== "udp") {
      const flow = context?.flowId !== undefined ? this.#net.flow(context.flowId) : undefined;
      if (flow) {
        this.#sendOnFlow(flow, bytes);
        return;
      }
      const f = this.#flowTo(t, bareHost(via.received ?? via.host), via.port ?? DEFAULT_PORT[t]);
      this.#sendOnFlow(f, bytes);
      return;
    }
    const maddr = via.params.get("maddr");
    let host: string;
    let port: number;
    if (maddr) {
      host = maddr;
      port = via.port ?? 5060;
    } else if (via.received !== undefined) {
      host = via.received;
      port = typeof via.rport === "number" ? via.rport : via.port ?? 5060;
    } else {
      host = via.host;
      port = via.port ?? 5060;
    }
    host = bareHost(host);
    const l = context?.local ?? this.#listenerFor("udp", host.includes(":"));
    if (!l) throw new TransportError("No UDP listener to send from");
    this.#net.deliver(
      {
        transport: "udp",
        from: { host: l.host, port: l.port },
        to: { host, port },
        data: bytes,
        flowId: undefined,
      },
      this.#net.lookup("udp", host, port),
    );
  }

  /** RFC 3263 resolution against the configured DNS (numeric hosts need none). */
  resolve(uri: Uri): Promise<SendTarget[]> {
    return this.#resolver.resolve(uri);
  }

  /** Release every address and connection. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const l of this.#listeners.values()) this.#net.unbind(l.transport, l.host, l.port);
    this.#listeners.clear();
    this.#net.closeFlowsOf(this);
    return Promise.resolve();
  }

  /** Same as {@linkcode MemoryTransport.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
