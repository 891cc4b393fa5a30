import dgram from "node:dgram";
import { assert } from "../test_deps.ts";
import { denoDatagramAvailable, openUdp, type UdpBackend } from "../../transport/udp.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import type { InboundMessage } from "../../transport/types.ts";
import { createResponse } from "../../sip/builders.ts";

const N = 2000;
const ROUND = 100;

/** Sends N numbered datagrams from one sipkit socket, ROUND at a time without awaiting each,
 * to a node:dgram receiver on 127.0.0.1, and returns the numbers in arrival order. */
async function burst(backend: UdpBackend): Promise<number[]> {
  const got: number[] = [];
  const recv = dgram.createSocket("udp4");
  recv.on("message", (m: Uint8Array) => {
    got.push(new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(0));
  });
  await new Promise<void>((r) => recv.bind(0, "127.0.0.1", () => r()));
  const port = recv.address().port;
  const sock = await openUdp({ host: "127.0.0.1", port: 0, onDatagram: () => {}, backend });
  const deadline = Date.now() + 10_000;
  try {
    for (let i = 0; i < N && Date.now() < deadline; i += ROUND) {
      const sends: Promise<void>[] = [];
      for (let j = i; j < i + ROUND; j++) {
        const b = new Uint8Array(64);
        new DataView(b.buffer).setUint32(0, j);
        sends.push(sock.send(b, "127.0.0.1", port));
      }
      await Promise.all(sends);
      // Let the receiver drain its socket buffer (bounded), so most datagrams arrive.
      const until = Date.now() + 200;
      while (got.length < i + ROUND && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  } finally {
    await sock.close();
    await new Promise<void>((r) => recv.close(() => r()));
  }
  return got;
}

function assertInOrder(got: number[]): void {
  // The test must not pass vacuously: on loopback nearly all arrive.
  // Loopback drops datagrams when the receiver falls behind (more on a loaded machine); the
  // order of those that arrive is the point, a tenth is enough to see it.
  assert.ok(got.length >= N / 10, `only ${got.length} of ${N} datagrams arrived`);
  let late = 0;
  for (let i = 1; i < got.length; i++) if (got[i]! <= got[i - 1]!) late++;
  assert.equal(late, 0, `${late} of ${got.length} datagrams arrived out of order`);
}

// RFC 3261 §17.2.1 expects a provisional response to reach the client before the final one;
// on one socket, datagrams must leave in the order they were sent.
Deno.test("udp node:dgram: a burst of sends on one socket leaves in call order", async () => {
  assertInOrder(await burst("node"));
});

Deno.test({
  name: "udp Deno.listenDatagram: a burst of sends on one socket leaves in call order",
  fn: async () => {
    // `deno task test` passes --unstable-net; without it this back end cannot be tested.
    if (!denoDatagramAvailable()) throw new Error("run with --unstable-net to test this back end");
    assertInOrder(await burst("deno"));
  },
});

Deno.test("udp: sends queued behind a closing socket are rejected, not lost", async () => {
  const sock = await openUdp({ host: "127.0.0.1", port: 0, onDatagram: () => {} });
  const target = sock.local.port;
  const results = Array.from(
    { length: 50 },
    () => sock.send(new Uint8Array(8), "127.0.0.1", target).then(() => "sent", () => "rejected"),
  );
  await sock.close();
  // Every send settles (none hangs); the ones still queued are rejected.
  const settled = await Promise.all(results);
  assert.equal(settled.length, 50);
  assert.equal(settled.at(-1), "rejected");
  await assert.rejects(sock.send(new Uint8Array(8), "127.0.0.1", target), /closed/);
});

/** The UDP peer of the next test, run in its own process so that its receiving does not
 * wait for our sending: it sends CALLS OPTIONS requests to the port in Deno.args[0], in
 * bursts, then one with Call-ID "flush", and prints the status codes received per Call-ID as
 * JSON. Bounded to about 5 s. */
const PEER = `
import dgram from "node:dgram";
const CALLS = Number(Deno.args[1]);
const seen = {};
let answers = 0;
let last = 0;
const s = dgram.createSocket("udp4");
s.on("message", (b) => {
  const text = new TextDecoder().decode(b);
  const id = /\\r\\nCall-ID: ([^\\r]+)/i.exec(text)?.[1] ?? "";
  (seen[id] ??= []).push(Number(text.slice(8, 11)));
  answers++;
  last = Date.now();
});
await new Promise((r) => s.bind(0, "127.0.0.1", r));
const port = s.address().port;
const deadline = Date.now() + 5000;
for (let i = 0; i < CALLS && Date.now() < deadline; i++) {
  const req = "OPTIONS sip:x@127.0.0.1 SIP/2.0\\r\\n" +
    "Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bKorder" + i + ";rport\\r\\n" +
    "From: <sip:a@127.0.0.1>;tag=a" + i + "\\r\\nTo: <sip:x@127.0.0.1>\\r\\n" +
    "Call-ID: order-" + i + "\\r\\nCSeq: 1 OPTIONS\\r\\nMax-Forwards: 70\\r\\n" +
    "Content-Length: 0\\r\\n\\r\\n";
  await new Promise((r) => s.send(new TextEncoder().encode(req), Number(Deno.args[0]), "127.0.0.1", r));
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
}
await new Promise((r) => setTimeout(r, 50));
const flush = "OPTIONS sip:x@127.0.0.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 127.0.0.1:" + port +
  ";branch=z9hG4bKflush\\r\\nFrom: <sip:a@127.0.0.1>;tag=f\\r\\nTo: <sip:x@127.0.0.1>\\r\\n" +
  "Call-ID: flush\\r\\nCSeq: 1 OPTIONS\\r\\nMax-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n";
s.send(new TextEncoder().encode(flush), Number(Deno.args[0]), "127.0.0.1");
last = Date.now();
// Until all came, or nothing came for 300 ms.
while (answers < CALLS * 2 && Date.now() < deadline && Date.now() - last < 300) await new Promise((r) => setTimeout(r, 10));
s.close();
console.log(JSON.stringify(seen));
`;

// RFC 3261 §17.2.1: the responses of one transaction reach the client in the order the
// transaction user sent them (a 180 must not overtake the 200), even when the caller does not
// await each send and a thousand sends are in flight at once.
Deno.test("TransportLayer.sendResponse over UDP: 180 and 200 sent without awaiting arrive in order", async () => {
  await using server = new TransportLayer({ name: "order-server" });
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  // The requests are answered all at once when the "flush" request comes, as a busy event
  // loop does: a thousand sends are then in flight together, which is when the runtime
  // completed them out of order.
  const batch: InboundMessage[] = [];
  server.onMessage((m) => {
    if (m.message.kind !== "request") return;
    if (m.message.callId !== "flush") {
      batch.push(m);
      return;
    }
    for (const b of batch.splice(0)) {
      if (b.message.kind !== "request") continue;
      server.sendResponse(createResponse(b.message, 180), b).catch(() => {});
      server.sendResponse(createResponse(b.message, 200), b).catch(() => {});
    }
  });
  const CALLS = 500;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", PEER, String(udp!.port), String(CALLS)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const seen = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, number[]>;
  const all = Object.entries(seen);
  const got = all.reduce((n, [, s]) => n + s.length, 0);
  // Not vacuous: enough transactions got both responses to see an overtaking. (Loopback
  // drops some datagrams when the peer process falls behind; their number varies with load.)
  const both = all.filter(([, s]) => s.length >= 2).length;
  assert.ok(both >= 25, `both responses for only ${both} of ${CALLS} requests (${got} in all)`);
  const disordered = all.filter(([, s]) => s.some((x, k) => k > 0 && x < s[k - 1]!));
  assert.deepEqual(
    disordered.slice(0, 5),
    [],
    `${disordered.length} of ${all.length} transactions (${got} responses) out of order`,
  );
});

for (const backend of ["node", "deno"] as const) {
  Deno.test({
    name:
      `udp ${backend}: a received datagram owns a buffer of its own size (a kept message does not hold a 64 KiB receive buffer)`,
    async fn() {
      if (backend === "deno" && !denoDatagramAvailable()) {
        throw new Error("run with --unstable-net to test this back end");
      }
      const got: Uint8Array[] = [];
      const sock = await openUdp({
        host: "127.0.0.1",
        port: 0,
        backend,
        onDatagram: (data) => got.push(data),
      });
      const peer = dgram.createSocket("udp4");
      try {
        await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
        for (let i = 0; i < 3; i++) peer.send(`OPTIONS ${i}`, sock.local.port, "127.0.0.1");
        const end = Date.now() + 2000;
        while (got.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
        assert.equal(got.length, 3);
        for (const d of got) {
          assert.equal(d.byteLength, 9);
          assert.equal(d.buffer.byteLength, d.byteLength, "the datagram's buffer is its own size");
        }
      } finally {
        peer.close();
        await sock.close();
      }
    },
  });
}

Deno.test({
  name:
    "TransportLayer picks Deno.listenDatagram for UDP when --unstable-net is on, node:dgram otherwise, and obeys udpBackend",
  fn() {
    const auto = new TransportLayer({ name: "udp-auto" });
    assert.equal(auto.udpBackend, denoDatagramAvailable() ? "deno" : "node");
    // `deno task test` passes --unstable-net, so the default must be the Deno back end here.
    assert.equal(auto.udpBackend, "deno", "run with --unstable-net to test the default");
    assert.equal(new TransportLayer({ udpBackend: "node" }).udpBackend, "node");
    assert.equal(new TransportLayer({ udpBackend: "deno" }).udpBackend, "deno");
  },
});
