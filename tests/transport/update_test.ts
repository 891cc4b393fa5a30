// TransportLayer.update(): limits, TLS, udpMaxSize and keep-alive timings changed live, on
// real sockets on 127.0.0.1. Connections opened before an update keep working.
import { assert } from "../test_deps.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import { TransportError } from "../../transport/errors.ts";
import {
  autoAnswer,
  closedByPeer,
  collect,
  makeRequest,
  readUntil,
  responseFor,
  text,
  waitFor,
} from "./_sip_helpers.ts";
import { makeTestCerts } from "./_certs.ts";

const enc = new TextEncoder();

/** An OPTIONS of about `size` bytes (padded with an extension header), as raw text. */
function rawOptions(callId: string, size: number, via = "SIP/2.0/TCP 127.0.0.1:9"): string {
  const base = `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: ${via};branch=z9hG4bK${callId}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:raw@example.com>;tag=r1\r\nTo: <sip:bob@example.com>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\n`;
  const end = "Content-Length: 0\r\n\r\n";
  const pad = Math.max(0, size - base.length - end.length - "X-Pad: \r\n".length);
  return `${base}X-Pad: ${"p".repeat(pad)}\r\n${end}`;
}

/** Send a raw request on a connection and read its 200. */
async function roundTrip(conn: Deno.Conn, callId: string, size: number): Promise<void> {
  await conn.write(enc.encode(rawOptions(callId, size)));
  const got = await readUntil(
    conn,
    (s) => s.includes(`Call-ID: ${callId}`) && s.endsWith("\r\n\r\n"),
  );
  assert.match(got, /^SIP\/2\.0 200 /);
}

/** A raw UDP socket on 127.0.0.1 (node:dgram: needs no unstable flag). */
async function rawUdp() {
  const dgram = (await import("node:dgram")).default;
  const sock = dgram.createSocket("udp4");
  const inbox: Uint8Array[] = [];
  sock.on("message", (m: Uint8Array) => inbox.push(new Uint8Array(m)));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return {
    inbox,
    send: (data: string, port: number) =>
      new Promise<void>((r, j) =>
        sock.send(enc.encode(data), port, "127.0.0.1", (e) => e ? j(e) : r())
      ),
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** Read a raw connection in the background: everything read so far, and whether it ended. */
function pump(conn: Deno.Conn): { data: () => string; take: () => string; done: Promise<void> } {
  let acc = "";
  const done = (async () => {
    const buf = new Uint8Array(4096);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return;
        acc += text(buf.subarray(0, n));
      }
    } catch {
      // closed locally or reset
    }
  })();
  return {
    data: () => acc,
    take: () => {
      const s = acc;
      acc = "";
      return s;
    },
    done,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test(
  "update maxMessageSize down: a bigger message is refused on new and old connections; smaller ones are still served",
  async () => {
    await using server = new TransportLayer({ limits: { maxMessageSize: 4000 } });
    const [udp, tcp] = await server.listen("sip:127.0.0.1:0");
    const got = autoAnswer(server);
    const before = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    let after: Deno.Conn | undefined;
    try {
      await roundTrip(before, "old-3000-a", 3000);
      server.update({ limits: { maxMessageSize: 2000 } });
      assert.equal(server.limits.maxMessageSize, 2000);
      assert.equal(server.limits.maxConnections, 1024, "other limits are kept, not reset");
      // The connection opened before the update serves messages within the new limit...
      await roundTrip(before, "old-1000", 1000);
      assert.equal(server.connectionCount, 1);
      // ...and is closed by a message above it, as a new connection would be.
      await before.write(enc.encode(rawOptions("old-3000-b", 3000)));
      assert.ok(await closedByPeer(before, 2000), "old connection closed for a too-big message");
      assert.equal(got.some((m) => m.message.callId === "old-3000-b"), false);
      // A new connection: a 3000-byte message is refused (closed) ...
      after = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
      await after.write(enc.encode(rawOptions("new-3000", 3000))).catch(() => 0);
      assert.ok(await closedByPeer(after, 2000), "new connection closed");
      after.close();
      // ... and UDP drops it, while a small datagram is answered.
      const raw = await rawUdp();
      try {
        await raw.send(rawOptions("udp-3000", 3000, "SIP/2.0/UDP 127.0.0.1;rport"), udp!.port);
        await raw.send(rawOptions("udp-500", 500, "SIP/2.0/UDP 127.0.0.1;rport"), udp!.port);
        const reply = await waitFor(() => raw.inbox[0], 3000, "UDP answer");
        assert.match(text(reply), /Call-ID: udp-500/);
        assert.equal(raw.inbox.length, 1);
        assert.equal(got.some((m) => m.message.callId === "udp-3000"), false);
      } finally {
        await raw.close();
      }
      // Raising it again applies to new connections.
      server.update({ limits: { maxMessageSize: 8000 } });
      after = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
      await roundTrip(after, "new-6000", 6000);
    } finally {
      before.close();
      try {
        after?.close();
      } catch {
        // closed already
      }
    }
  },
);

Deno.test("update keeps a busy connection working: requests in flight on one flow across many updates", async () => {
  await using server = new TransportLayer();
  const [tcp] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  autoAnswer(server);
  await using client = new TransportLayer();
  const atClient = collect(client);
  const target = { transport: "tcp" as const, host: "127.0.0.1", port: tcp!.port };
  const sent: string[] = [];
  let flowId: string | undefined;
  for (let i = 0; i < 20; i++) {
    const req = makeRequest("MESSAGE", "sip:bob@127.0.0.1", { body: `n${i}` });
    sent.push(req.callId);
    const used = await client.sendRequest(req, target);
    flowId ??= used.flowId;
    assert.equal(used.flowId, flowId, "the same connection is reused");
    const limits = { idleTimeout: 5000 + i, headerTimeout: 3000 + i, maxMalformed: 5 + i };
    server.update({ limits, keepAliveInterval: 1000 + i });
    client.update({ limits, udpMaxSize: 1300 + i });
  }
  await waitFor(
    () => sent.every((id) => responseFor(atClient, id)) ? true : undefined,
    3000,
    "every response",
  );
  assert.equal(server.connectionCount, 1);
  assert.equal(server.limits.maxMalformed, 24);
});

Deno.test("update maxConnections: a lower cap keeps existing connections and refuses new ones", async () => {
  await using server = new TransportLayer({ limits: { maxConnections: 10 } });
  const [tcp] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  autoAnswer(server);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port }));
    }
    await waitFor(() => server.connectionCount === 3 ? true : undefined, 2000, "3 connections");
    server.update({ limits: { maxConnections: 1 } });
    // Existing connections are not closed and still serve.
    for (let i = 0; i < 3; i++) await roundTrip(conns[i]!, `kept-${i}`, 400);
    assert.equal(server.connectionCount, 3);
    // A new one is refused at once.
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    conns.push(refused);
    assert.ok(await closedByPeer(refused, 1000), "new connection over the cap is closed");
    assert.equal(server.connectionCount, 3);
    // Raising the cap accepts new connections again.
    server.update({ limits: { maxConnections: 5 } });
    const fresh = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    conns.push(fresh);
    await roundTrip(fresh, "fresh", 400);
    assert.equal(server.connectionCount, 4);
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("update maxConnections on the sending side: reuse still works, a new outbound connection fails", async () => {
  await using server = new TransportLayer();
  const [tcp1] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  const [tcp2] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  autoAnswer(server);
  await using client = new TransportLayer();
  const atClient = collect(client);
  const r1 = makeRequest("OPTIONS", "sip:a@127.0.0.1");
  const used = await client.sendRequest(r1, {
    transport: "tcp",
    host: "127.0.0.1",
    port: tcp1!.port,
  });
  client.update({ limits: { maxConnections: 1 } });
  const r2 = makeRequest("OPTIONS", "sip:a@127.0.0.1");
  const again = await client.sendRequest(r2, {
    transport: "tcp",
    host: "127.0.0.1",
    port: tcp1!.port,
  });
  assert.equal(again.flowId, used.flowId);
  await waitFor(() => responseFor(atClient, r2.callId), 3000, "response on the kept connection");
  await assert.rejects(
    () =>
      client.sendRequest(makeRequest("OPTIONS", "sip:b@127.0.0.1"), {
        transport: "tcp",
        host: "127.0.0.1",
        port: tcp2!.port,
      }),
    (e: unknown) => e instanceof TransportError && /Connection limit 1/.test(e.message),
  );
});

Deno.test("update udpMaxSize: RFC 3261 §18.1.1 — a request larger than the new threshold MUST go over TCP", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0");
  const atServer = autoAnswer(server);
  await using client = new TransportLayer();
  await client.listen("sip:127.0.0.1:0");
  const atClient = collect(client);
  const target = { transport: "udp" as const, host: "127.0.0.1", port: udp!.port };
  const first = makeRequest("MESSAGE", "sip:bob@127.0.0.1", { body: "x".repeat(800) });
  assert.equal((await client.sendRequest(first, target)).transport, "udp");
  await waitFor(() => responseFor(atClient, first.callId), 3000, "UDP response");
  client.update({ udpMaxSize: 500 });
  assert.equal(client.udpMaxSize, 500);
  const second = makeRequest("MESSAGE", "sip:bob@127.0.0.1", { body: "x".repeat(800) });
  assert.equal((await client.sendRequest(second, target)).transport, "tcp");
  await waitFor(() => responseFor(atClient, second.callId), 3000, "TCP response");
  const inbound = atServer.find((m) => m.message.callId === second.callId)!;
  assert.equal(inbound.transport, "tcp");
  assert.equal(inbound.message.vias[0]!.transport, "TCP");
  // A small request still goes over UDP.
  const small = makeRequest("OPTIONS", "sip:bob@127.0.0.1");
  assert.equal((await client.sendRequest(small, target)).transport, "udp");
});

Deno.test("update idleTimeout: open connections are rescheduled, shorter and longer", async () => {
  await using server = new TransportLayer({ limits: { idleTimeout: 60_000 } });
  const [tcp] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  autoAnswer(server);
  await using client = new TransportLayer({ limits: { idleTimeout: 60_000 } });
  const atClient = collect(client);
  const target = { transport: "tcp" as const, host: "127.0.0.1", port: tcp!.port };
  const r1 = makeRequest("OPTIONS", "sip:b@127.0.0.1");
  const used = await client.sendRequest(r1, target);
  await waitFor(() => responseFor(atClient, r1.callId), 3000, "response");
  // Shorter: the server closes the open connection ~150 ms after its last traffic.
  const t0 = Date.now();
  server.update({ limits: { idleTimeout: 150 } });
  await waitFor(() => client.hasFlow(used.flowId!) ? undefined : true, 3000, "idle close");
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(server.connectionCount, 0);
  // Longer: a connection opened under 150 ms survives once the timeout is raised.
  const r2 = makeRequest("OPTIONS", "sip:b@127.0.0.1");
  const used2 = await client.sendRequest(r2, target);
  await waitFor(() => responseFor(atClient, r2.callId), 3000, "second response");
  server.update({ limits: { idleTimeout: 30_000 } });
  await sleep(400);
  assert.ok(client.hasFlow(used2.flowId!), "still open past the old idle timeout");
  assert.equal(server.connectionCount, 1);
  // A kept flow is never closed for idleness, also after an update.
  assert.ok(client.keepFlow(used2.flowId!));
  client.update({ limits: { idleTimeout: 50 } });
  await sleep(200);
  assert.ok(client.hasFlow(used2.flowId!), "kept flow stays open");
});

Deno.test("update headerTimeout and maxMalformed: the next message on an open connection uses the new values", async () => {
  await using server = new TransportLayer({ limits: { headerTimeout: 60_000, maxMalformed: 50 } });
  const [tcp] = await server.listen("sip:127.0.0.1:0;transport=tcp");
  autoAnswer(server);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    await roundTrip(conn, "before", 300);
    server.update({ limits: { headerTimeout: 150 } });
    // A dribbled message started after the update is cut off after ~150 ms.
    await conn.write(enc.encode("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"));
    const t0 = Date.now();
    assert.ok(await closedByPeer(conn, 3000), "closed by the header timeout");
    assert.ok(Date.now() - t0 < 2500);
  } finally {
    conn.close();
  }
  server.update({ limits: { headerTimeout: 60_000, maxMalformed: 2 } });
  const c2 = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    // Well framed, unparseable (bad CSeq): answered 400 until maxMalformed, then closed.
    const bad = (n: number) =>
      `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKm${n}\r\n` +
      `From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: mal-${n}\r\nCSeq: x OPTIONS\r\n` +
      `Content-Length: 0\r\n\r\n`;
    await c2.write(enc.encode(bad(1)));
    assert.match(await readUntil(c2, (s) => s.includes("Call-ID: mal-1")), /^SIP\/2\.0 400 /);
    await c2.write(enc.encode(bad(2)));
    assert.ok(await closedByPeer(c2, 3000), "closed after 2 malformed messages");
  } finally {
    c2.close();
  }
});

Deno.test("update with a bad value throws RangeError and changes nothing", () => {
  const t = new TransportLayer({ udpMaxSize: 1300, limits: { maxConnections: 7 } });
  assert.throws(
    () => t.update({ udpMaxSize: 500, limits: { maxConnections: -1 } }),
    RangeError,
  );
  assert.throws(() => t.update({ keepAliveTimeout: 0 }), RangeError);
  assert.throws(() => t.update({ keepAliveInterval: Number.NaN }), RangeError);
  assert.throws(() => t.update({ udpMaxSize: 0 }), RangeError);
  assert.equal(t.udpMaxSize, 1300);
  assert.equal(t.limits.maxConnections, 7);
  t.update({ keepAliveInterval: 0, keepAliveTimeout: 20 });
  assert.deepEqual(t.keepAlive, { interval: 0, timeout: 20 });
  // limits merge over the current values; tls replaces the settings as a whole.
  t.update({ limits: { idleTimeout: 999 } });
  assert.equal(t.limits.maxConnections, 7);
  assert.equal(t.limits.idleTimeout, 999);
  t.update({ tls: { caCerts: ["ca"], rejectUnauthorized: false } });
  t.update({ tls: { ...t.tls, caCerts: ["ca2"] } });
  assert.deepEqual(t.tls, { caCerts: ["ca2"], rejectUnauthorized: false });
  t.update({ tls: {} });
  assert.deepEqual(t.tls, {});
});

Deno.test("update keepAliveInterval: RFC 5626 §4.4.1 pings follow the new timings", async () => {
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (peer.addr as Deno.NetAddr).port;
  // Pings off at first: keeping a flow sends nothing.
  await using client = new TransportLayer({ keepAliveInterval: 0 });
  const accepted = peer.accept();
  const used = await client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
    transport: "tcp",
    host: "127.0.0.1",
    port,
  });
  const conn = await accepted;
  const reader = pump(conn);
  try {
    await waitFor(() => reader.data().endsWith("Content-Length: 0\r\n\r\n") || undefined);
    reader.take();
    assert.ok(client.keepFlow(used.flowId!));
    await sleep(200);
    assert.equal(reader.data(), "", "no ping while keepAliveInterval is 0");
    // Turn pings on for the kept flow: CRLFCRLF every 50 ms, each answered with a CRLF pong.
    client.update({ keepAliveInterval: 50, keepAliveTimeout: 150 });
    for (let i = 0; i < 3; i++) {
      await waitFor(() => reader.data() === "\r\n\r\n" || undefined, 1000, `ping ${i}`);
      reader.take();
      await conn.write(enc.encode("\r\n"));
    }
    assert.ok(client.hasFlow(used.flowId!));
    // No more pongs: the flow closes after keepAliveTimeout.
    await waitFor(() => client.hasFlow(used.flowId!) ? undefined : true, 2000, "flow closed");
    await reader.done;
  } finally {
    conn.close();
    peer.close();
    await reader.done;
  }
});

Deno.test("update keepAliveInterval before keepFlow: the flow is pinged at the new interval", async () => {
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (peer.addr as Deno.NetAddr).port;
  await using client = new TransportLayer({ keepAliveInterval: 600_000 });
  const accepted = peer.accept();
  const used = await client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
    transport: "tcp",
    host: "127.0.0.1",
    port,
  });
  const conn = await accepted;
  try {
    await readUntil(conn, (s) => s.endsWith("Content-Length: 0\r\n\r\n"));
    client.update({ keepAliveInterval: 40, keepAliveTimeout: 1000 });
    assert.ok(client.keepFlow(used.flowId!));
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      assert.equal(await readUntil(conn, (s) => s === "\r\n\r\n", 1000), "\r\n\r\n");
      await conn.write(enc.encode("\r\n"));
    }
    assert.ok(Date.now() - t0 < 1500, "three pings well before the old 10-minute interval");
  } finally {
    conn.close();
    peer.close();
  }
});

Deno.test("update tls.caCerts: new outbound TLS connections use the new CAs; an open one keeps working", async () => {
  const a = await makeTestCerts();
  const b = await makeTestCerts();
  try {
    await using serverA = new TransportLayer({ tls: { cert: a.cert, key: a.key } });
    await using serverB = new TransportLayer({ tls: { cert: b.cert, key: b.key } });
    const [tlsA] = await serverA.listen("sips:127.0.0.1:0");
    const [tlsB] = await serverB.listen("sips:127.0.0.1:0");
    autoAnswer(serverA);
    autoAnswer(serverB);
    await using client = new TransportLayer({ tls: { caCerts: [a.caCert] } });
    const atClient = collect(client);
    const toA = { transport: "tls" as const, host: "127.0.0.1", port: tlsA!.port };
    const toB = { transport: "tls" as const, host: "127.0.0.1", port: tlsB!.port };
    const r1 = makeRequest("OPTIONS", "sips:a@127.0.0.1");
    const flowA = (await client.sendRequest(r1, toA)).flowId!;
    await waitFor(() => responseFor(atClient, r1.callId), 3000, "A via CA a");
    await assert.rejects(
      () => client.sendRequest(makeRequest("OPTIONS", "sips:b@127.0.0.1"), toB),
      TransportError,
      "B is not trusted yet",
    );
    client.update({ tls: { caCerts: [b.caCert] } });
    assert.deepEqual(client.tls.caCerts, [b.caCert]);
    // The connection opened before the swap keeps serving.
    const r2 = makeRequest("OPTIONS", "sips:a@127.0.0.1");
    assert.equal((await client.sendRequest(r2, toA)).flowId, flowA);
    await waitFor(() => responseFor(atClient, r2.callId), 3000, "A on the old connection");
    // A new connection to B verifies with CA b now.
    const r3 = makeRequest("OPTIONS", "sips:b@127.0.0.1");
    await client.sendRequest(r3, toB);
    await waitFor(() => responseFor(atClient, r3.callId), 3000, "B via CA b");
    // A new connection to A no longer verifies.
    client.closeFlow(flowA);
    await assert.rejects(
      () => client.sendRequest(makeRequest("OPTIONS", "sips:a@127.0.0.1"), toA),
      TransportError,
    );
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("update tls.cert/key: listeners opened afterwards use the new default certificate", async () => {
  const certs = await makeTestCerts();
  try {
    await using server = new TransportLayer();
    await assert.rejects(() => server.listen("sips:127.0.0.1:0"), TransportError);
    server.update({ tls: { cert: certs.cert, key: certs.key } });
    const [tls] = await server.listen("sips:127.0.0.1:0");
    autoAnswer(server);
    await using client = new TransportLayer({ tls: { caCerts: [certs.caCert] } });
    const atClient = collect(client);
    const req = makeRequest("OPTIONS", "sips:a@127.0.0.1");
    await client.sendRequest(req, { transport: "tls", host: "127.0.0.1", port: tls!.port });
    await waitFor(() => responseFor(atClient, req.callId), 3000, "TLS response");
  } finally {
    await certs.cleanup();
  }
});

Deno.test("update keepAliveInterval reschedules the pings of an already-kept flow (RFC 5626 §4.4.1)", async () => {
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (peer.addr as Deno.NetAddr).port;
  await using client = new TransportLayer({ keepAliveInterval: 600_000 });
  const accepted = peer.accept();
  const used = await client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
    transport: "tcp",
    host: "127.0.0.1",
    port,
  });
  const conn = await accepted;
  const reader = pump(conn);
  try {
    await waitFor(() => reader.data().endsWith("Content-Length: 0\r\n\r\n") || undefined);
    reader.take();
    assert.ok(client.keepFlow(used.flowId!)); // first ping due in 10 minutes
    client.update({ keepAliveInterval: 40, keepAliveTimeout: 1000 });
    for (let i = 0; i < 3; i++) {
      await waitFor(() => reader.data() === "\r\n\r\n" || undefined, 1000, `ping ${i}`);
      reader.take();
      await conn.write(enc.encode("\r\n"));
    }
    // Interval 0 stops them.
    client.update({ keepAliveInterval: 0 });
    await sleep(200);
    assert.equal(reader.data(), "");
    assert.ok(client.hasFlow(used.flowId!));
  } finally {
    conn.close();
    peer.close();
    await reader.done;
  }
});
