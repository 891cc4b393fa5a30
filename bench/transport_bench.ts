/**
 * Transport round-trip cost: an OPTIONS request and its 200 through two sipkit
 * TransportLayers (parse, RFC 3581 stamping, Via rewrite, serialize, both directions) vs a raw
 * socket echo of the same bytes in the same run, over UDP and over TCP. Also the two UDP
 * back ends (`node:dgram` and `Deno.listenDatagram`) side by side.
 *
 *   deno bench -A --unstable-net bench/transport_bench.ts
 *
 * Each iteration is a batch of 50 sequential round trips (see ROUNDS).
 *
 * Without `--unstable-net` the Deno.listenDatagram rows are skipped.
 *
 * @module
 */

import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { TransportLayer } from "../transport/transport_layer.ts";
import { denoDatagramAvailable, openUdp, type UdpBackend } from "../transport/udp.ts";
import { parseMessage } from "../sip/parser.ts";
import { createResponse } from "../sip/builders.ts";
import type { SipRequest } from "../sip/types.ts";

const OPTIONS_TEXT = "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbench1;rport\r\n" +
  "Max-Forwards: 70\r\n" +
  "From: <sip:alice@example.com>;tag=bench1\r\n" +
  "To: <sip:bob@example.com>\r\n" +
  "Call-ID: bench-call-1@127.0.0.1\r\n" +
  "CSeq: 1 OPTIONS\r\n" +
  "Contact: <sip:alice@127.0.0.1:5060>\r\n" +
  "Accept: application/sdp\r\n" +
  "User-Agent: sipkit-bench\r\n" +
  "Content-Length: 0\r\n\r\n";
const OPTIONS_BYTES = new TextEncoder().encode(OPTIONS_TEXT);
const HAVE_DENO_UDP = denoDatagramAvailable();
/** Round trips per bench iteration: one call is too short to time well on a loaded machine, so each
 * iteration runs a batch; divide the reported time by ROUNDS for one round trip. */
const ROUNDS = 50;
const batch = (rt: { roundTrip(): Promise<void> }) => async (): Promise<void> => {
  for (let i = 0; i < ROUNDS; i++) await rt.roundTrip();
};

/** A pair of transport layers where `roundTrip()` sends one OPTIONS and awaits its 200. */
async function sipPair(transport: "udp" | "tcp", backend: UdpBackend) {
  const server = new TransportLayer({ udpBackend: backend, name: "bench-server" });
  const client = new TransportLayer({ udpBackend: backend, name: "bench-client" });
  const [udp] = await server.listen("sip:127.0.0.1:0");
  await client.listen("sip:127.0.0.1:0");
  server.onMessage((m) => {
    if (m.message.kind === "request") {
      server.sendResponse(createResponse(m.message, 200), m).catch(() => {});
    }
  });
  let pending: (() => void) | undefined;
  client.onMessage(() => {
    const p = pending;
    pending = undefined;
    p?.();
  });
  const request = parseMessage(OPTIONS_BYTES) as SipRequest;
  const target = { transport, host: "127.0.0.1", port: udp!.port } as const;
  const roundTrip = (): Promise<void> =>
    new Promise<void>((resolve) => {
      pending = resolve;
      client.sendRequest(request, target).catch(() => {});
    });
  await roundTrip(); // warm up (and connect, for TCP)
  return { roundTrip };
}

/** Raw node:dgram echo of the same bytes. */
async function nodeUdpEcho() {
  const echo = dgram.createSocket("udp4");
  echo.on(
    "message",
    (m: Uint8Array, r: { address: string; port: number }) => echo.send(m, r.port, r.address),
  );
  await new Promise<void>((r) => echo.bind(0, "127.0.0.1", () => r()));
  const port = echo.address().port;
  const client = dgram.createSocket("udp4");
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
  let pending: (() => void) | undefined;
  client.on("message", () => {
    const p = pending;
    pending = undefined;
    p?.();
  });
  const payload = Buffer.from(OPTIONS_BYTES);
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        pending = resolve;
        client.send(payload, port, "127.0.0.1");
      }),
  };
}

/** Raw echo through transport/udp.ts with a given back end (no SIP work). */
async function backendUdpEcho(backend: UdpBackend) {
  const echo = await openUdp({
    host: "127.0.0.1",
    port: 0,
    backend,
    onDatagram: (d, r) => void echo0().send(d, r.host, r.port).catch(() => {}),
  });
  const echo0 = () => echo;
  let pending: (() => void) | undefined;
  const client = await openUdp({
    host: "127.0.0.1",
    port: 0,
    backend,
    onDatagram: () => {
      const p = pending;
      pending = undefined;
      p?.();
    },
  });
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        pending = resolve;
        client.send(OPTIONS_BYTES, "127.0.0.1", echo.local.port).catch(() => {});
      }),
  };
}

/** Raw TCP echo of the same bytes. */
async function tcpEcho() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(65536);
        while (true) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) return;
          await conn.write(buf.subarray(0, n));
        }
      })();
    }
  })();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const buf = new Uint8Array(65536);
  return {
    async roundTrip(): Promise<void> {
      await conn.write(OPTIONS_BYTES);
      let got = 0;
      while (got < OPTIONS_BYTES.length) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("echo closed");
        got += n;
      }
    },
  };
}

const rawUdp = await nodeUdpEcho();
const sipUdp = await sipPair("udp", "node");
const rawTcp = await tcpEcho();
const sipTcp = await sipPair("tcp", "node");
const nodeBackend = await backendUdpEcho("node");
const denoBackend = HAVE_DENO_UDP ? await backendUdpEcho("deno") : undefined;
const sipUdpDeno = HAVE_DENO_UDP ? await sipPair("udp", "deno") : undefined;

Deno.bench({
  n: 40,
  warmup: 5,
  name: "raw node:dgram echo",
  group: "udp round trip",
  baseline: true,
  fn: batch(rawUdp),
});
Deno.bench({
  n: 40,
  warmup: 5,
  name: "sipkit OPTIONS→200 over UDP (node:dgram)",
  group: "udp round trip",
  fn: batch(sipUdp),
});
Deno.bench({
  n: 40,
  warmup: 5,
  name: "sipkit OPTIONS→200 over UDP (Deno.listenDatagram)",
  group: "udp round trip",
  ignore: !sipUdpDeno,
  fn: async () => await batch(sipUdpDeno!)(),
});

Deno.bench({
  n: 40,
  warmup: 5,
  name: "raw TCP echo",
  group: "tcp round trip",
  baseline: true,
  fn: batch(rawTcp),
});
Deno.bench({
  n: 40,
  warmup: 5,
  name: "sipkit OPTIONS→200 over TCP",
  group: "tcp round trip",
  fn: batch(sipTcp),
});

Deno.bench({
  n: 40,
  warmup: 5,
  name: "udp.ts echo, node:dgram back end",
  group: "udp back end",
  baseline: true,
  fn: batch(nodeBackend),
});
Deno.bench({
  n: 40,
  warmup: 5,
  name: "udp.ts echo, Deno.listenDatagram back end",
  group: "udp back end",
  ignore: !denoBackend,
  fn: async () => await batch(denoBackend!)(),
});
