import { assert, fc } from "../test_deps.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import { TransportError } from "../../transport/errors.ts";
import { parseStunXorMappedAddress } from "../../transport/stun.ts";
import type { InboundMessage } from "../../transport/types.ts";
import { parseMessage } from "../../sip/parser.ts";
import {
  autoAnswer,
  closedByPeer,
  collect,
  makeRequest,
  makeResponse,
  readUntil,
  responseFor,
  text,
  waitFor,
} from "./_sip_helpers.ts";
import { makeTestCerts } from "./_certs.ts";

const enc = new TextEncoder();

/** A raw UDP socket for crafting bytes by hand. */
async function rawUdp(host: string) {
  const dgram = (await import("node:dgram")).default;
  const sock = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const inbox: Uint8Array[] = [];
  sock.on("message", (m: Uint8Array) => inbox.push(new Uint8Array(m)));
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  return {
    port: sock.address().port,
    inbox,
    send: (data: Uint8Array | string, port: number) =>
      new Promise<void>((r, j) =>
        sock.send(
          typeof data === "string" ? enc.encode(data) : data,
          port,
          host,
          (e) => e ? j(e) : r(),
        )
      ),
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

const rawOptions = (branch: string, via: string, callId = `raw-${branch}`) =>
  `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: ${via};branch=${branch}\r\nMax-Forwards: 70\r\n` +
  `From: <sip:raw@example.com>;tag=r1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ${callId}\r\n` +
  `CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

for (const host of ["127.0.0.1", "::1"]) {
  for (const transport of ["udp", "tcp"] as const) {
    Deno.test(`${transport} on ${host}: OPTIONS and MESSAGE round trip through two transport layers`, async () => {
      await using server = new TransportLayer({ name: "server" });
      await using client = new TransportLayer({ name: "client" });
      const bracket = host.includes(":") ? `[${host}]` : host;
      const listened = await server.listen(`sip:${bracket}:0`);
      // "sip:host:0" opens UDP and TCP on one port that was free for both.
      assert.deepEqual(listened.map((l) => l.transport), ["udp", "tcp"]);
      assert.equal(listened[0]!.port, listened[1]!.port);
      assert.ok(listened[0]!.port > 0);
      assert.equal(server.listeners.length, 2);
      await client.listen(`sip:${bracket}:0`);
      const atServer = autoAnswer(server);
      const atClient = collect(client);
      for (const method of ["OPTIONS", "MESSAGE"]) {
        const req = makeRequest(
          method,
          `sip:bob@${bracket}`,
          method === "MESSAGE" ? { body: "hello ☺" } : {},
        );
        const used = await client.sendRequest(req, { transport, host, port: listened[0]!.port });
        assert.equal(used.transport, transport);
        const res = await waitFor(
          () => responseFor(atClient, req.callId),
          3000,
          `${method} response`,
        );
        if (res.message.kind !== "response") throw new Error("unreachable");
        assert.equal(res.message.status, 200);
        const inbound = atServer.find((m) => m.message.callId === req.callId)!;
        assert.equal(inbound.transport, transport);
        assert.equal(inbound.remote.host, host);
        if (transport === "tcp") assert.ok(inbound.flowId);
        else assert.equal(inbound.flowId, undefined);
        if (method === "MESSAGE") assert.equal(inbound.message.bodyText(), "hello ☺");
        // The top Via names the real transport and the client's listener, with rport.
        const via = inbound.message.vias[0]!;
        assert.equal(via.transport, transport.toUpperCase());
        assert.equal(via.rport, inbound.remote.port);
      }
    });
  }
}

Deno.test("TLS on 127.0.0.1 and ::1 with a CA generated in the test; SNI and verification", async () => {
  const certs = await makeTestCerts();
  try {
    for (const host of ["127.0.0.1", "::1"]) {
      await using server = new TransportLayer();
      const bracket = host.includes(":") ? `[${host}]` : host;
      const [tls] = await server.listen(
        `<sip:${bracket}:0;transport=tls;tls_certfile=${certs.certFile};tls_keyfile=${certs.keyFile}>`,
      );
      assert.equal(tls!.transport, "tls");
      assert.ok(tls!.uri.startsWith("sips:"));
      const atServer = autoAnswer(server);
      await using client = new TransportLayer({ tls: { caCerts: [certs.caCert] } });
      const atClient = collect(client);
      const req = makeRequest("OPTIONS", `sips:bob@${bracket}`);
      const used = await client.sendRequest(req, { transport: "tls", host, port: tls!.port });
      assert.equal(used.transport, "tls");
      await waitFor(() => responseFor(atClient, req.callId), 3000, "TLS response");
      assert.equal(atServer[0]!.transport, "tls");
      assert.equal(atServer[0]!.message.vias[0]!.transport, "TLS");
      // SNI: the name "localhost" is in the certificate.
      const req2 = makeRequest("MESSAGE", `sips:bob@localhost`, { body: "sni" });
      await using client2 = new TransportLayer({ tls: { caCerts: [certs.caCert] } });
      const at2 = collect(client2);
      await client2.sendRequest(req2, {
        transport: "tls",
        host,
        port: tls!.port,
        tlsServerName: "localhost",
      });
      await waitFor(() => responseFor(at2, req2.callId), 3000, "SNI response");
      // A name the certificate does not carry fails verification.
      await using client3 = new TransportLayer({ tls: { caCerts: [certs.caCert] } });
      await assert.rejects(
        () =>
          client3.sendRequest(makeRequest("OPTIONS", "sips:x@wrong.example"), {
            transport: "tls",
            host,
            port: tls!.port,
            tlsServerName: "wrong.example",
          }),
        TransportError,
      );
      // Verification is on by default: without the CA the handshake fails.
      await using client4 = new TransportLayer();
      await assert.rejects(
        () =>
          client4.sendRequest(makeRequest("OPTIONS", "sips:x@y"), {
            transport: "tls",
            host,
            port: tls!.port,
          }),
        TransportError,
      );
    }
  } finally {
    await certs.cleanup();
  }
});

Deno.test("TLS listener without certificate, or with a missing file, is a clear error", async () => {
  await using t = new TransportLayer();
  await assert.rejects(() => t.listen("sips:127.0.0.1:0"), /needs a certificate and key/);
  await assert.rejects(
    () =>
      t.listen(
        "<sip:127.0.0.1:0;transport=tls;tls_certfile=/nonexistent.pem;tls_keyfile=/nonexistent.key>",
      ),
    /Cannot read TLS certificate file/,
  );
  assert.equal(t.listeners.length, 0);
});

for (const host of ["127.0.0.1", "::1"]) {
  Deno.test(`ws and wss on ${host}: RFC 7118 request/response with the sip subprotocol`, async () => {
    const certs = await makeTestCerts();
    try {
      await using server = new TransportLayer();
      const bracket = host.includes(":") ? `[${host}]` : host;
      const [ws] = await server.listen(`<sip:${bracket}:0;transport=ws;path=/sip>`);
      const [wss] = await server.listen(`<sips:${bracket}:0;transport=ws>`, {
        cert: certs.cert,
        key: certs.key,
      });
      assert.equal(ws!.path, "/sip");
      assert.equal(wss!.transport, "wss");
      const atServer = autoAnswer(server);
      await using client = new TransportLayer({ tls: { caCerts: [certs.caCert] } });
      const atClient = collect(client);
      for (const [listener, path] of [[ws!, "/sip"], [wss!, "/"]] as const) {
        for (const method of ["OPTIONS", "MESSAGE"]) {
          const req = makeRequest(
            method,
            `sip:bob@${bracket}`,
            method === "MESSAGE" ? { body: "ws" } : {},
          );
          const used = await client.sendRequest(req, {
            transport: listener.transport,
            host,
            port: listener.port,
            path,
          });
          assert.equal(used.transport, listener.transport);
          await waitFor(
            () => responseFor(atClient, req.callId),
            3000,
            `${listener.transport} response`,
          );
          const inbound = atServer.find((m) => m.message.callId === req.callId)!;
          assert.equal(inbound.transport, listener.transport);
          const via = inbound.message.vias[0]!;
          assert.equal(via.transport, listener.transport.toUpperCase());
          assert.match(
            via.host,
            /\.invalid$/,
            "RFC 7118 §5.2: a WS client may use an .invalid sent-by",
          );
          assert.equal(via.received, host, "received added because sent-by differs");
        }
      }
    } finally {
      await certs.cleanup();
    }
  });
}

Deno.test("RFC 7118 §4: a handshake without the sip subprotocol is refused; text and binary frames both work", async () => {
  await using server = new TransportLayer();
  const [ws] = await server.listen("<sip:127.0.0.1:0;transport=ws>");
  const atServer = autoAnswer(server);
  const url = `ws://127.0.0.1:${ws!.port}/`;
  const httpUrl = url.replace("ws:", "http:");
  // No subprotocol: the upgrade is refused.
  const refused = await fetch(httpUrl, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat",
    },
  });
  await refused.body?.cancel();
  assert.equal(refused.status, 400);
  const notWs = await fetch(httpUrl);
  await notWs.body?.cancel();
  assert.equal(notWs.status, 426);
  const wrongPath = await fetch(`ws://127.0.0.1:${ws!.port}/other`.replace("ws:", "http:"));
  await wrongPath.body?.cancel();
  assert.equal(wrongPath.status, 404);
  // Deno's own WebSocket client, one SIP message per frame.
  const sock = new WebSocket(url, ["sip"]);
  sock.binaryType = "arraybuffer";
  const frames: string[] = [];
  const closed = new Promise<void>((r) => sock.onclose = () => r());
  sock.onmessage = (e) =>
    frames.push(typeof e.data === "string" ? e.data : text(new Uint8Array(e.data)));
  await new Promise<void>((r, j) => {
    sock.onopen = () => r();
    sock.onerror = () => j(new Error("ws error"));
  });
  assert.equal(sock.protocol, "sip");
  sock.send(rawOptions("z9hG4bKwstext", "SIP/2.0/WS abc.invalid", "ws-text"));
  sock.send(enc.encode(rawOptions("z9hG4bKwsbin", "SIP/2.0/WS abc.invalid", "ws-bin")));
  await waitFor(() => frames.length >= 2 ? true : undefined, 3000, "two responses");
  assert.ok(frames.every((f) => f.startsWith("SIP/2.0 200 ")));
  assert.ok(frames.some((f) => f.includes("Call-ID: ws-text")));
  assert.ok(frames.some((f) => f.includes("Call-ID: ws-bin")));
  assert.equal(atServer.length, 2);
  sock.close();
  await closed;
});

Deno.test("RFC 3261 §18.1.1: a UDP request larger than udpMaxSize goes over TCP", async () => {
  await using server = new TransportLayer();
  await using client = new TransportLayer({ udpMaxSize: 1300 });
  const [udp] = await server.listen("sip:127.0.0.1:0");
  await client.listen("sip:127.0.0.1:0");
  const atServer = autoAnswer(server);
  const atClient = collect(client);
  const small = makeRequest("MESSAGE", "sip:bob@127.0.0.1", { body: "small" });
  assert.equal(
    (await client.sendRequest(small, { transport: "udp", host: "127.0.0.1", port: udp!.port }))
      .transport,
    "udp",
  );
  const big = makeRequest("MESSAGE", "sip:bob@127.0.0.1", { body: "x".repeat(1400) });
  const used = await client.sendRequest(big, {
    transport: "udp",
    host: "127.0.0.1",
    port: udp!.port,
  });
  assert.equal(used.transport, "tcp");
  await waitFor(() => responseFor(atClient, big.callId), 3000, "big response");
  const inbound = atServer.find((m) => m.message.callId === big.callId)!;
  assert.equal(inbound.transport, "tcp");
  assert.equal(inbound.message.vias[0]!.transport, "TCP", "the Via names TCP");
  assert.equal(inbound.message.body.length, 1400);
});

Deno.test("RFC 3581 §4: received and rport on the top Via; the response goes to received:rport", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  const atServer = autoAnswer(server);
  const raw = await rawUdp("127.0.0.1");
  try {
    // sent-by is some other address: the server MUST add received; rport asks for the port.
    await raw.send(
      rawOptions("z9hG4bKrport1", "SIP/2.0/UDP 192.0.2.1:5999;rport", "rport-1"),
      udp!.port,
    );
    const res = await waitFor(() => raw.inbox[0], 3000, "response at rport");
    const via = atServer[0]!.message.vias[0]!;
    assert.equal(via.received, "127.0.0.1");
    assert.equal(via.rport, raw.port);
    const response = parseMessage(res);
    assert.equal(response.kind, "response");
    assert.equal(response.vias[0]!.received, "127.0.0.1");
    assert.equal(response.vias[0]!.rport, raw.port);
    // No rport, sent-by = source IP and our port: nothing is added (RFC 3261 §18.2.1).
    await raw.send(
      rawOptions("z9hG4bKrport2", `SIP/2.0/UDP 127.0.0.1:${raw.port}`, "rport-2"),
      udp!.port,
    );
    await waitFor(() => raw.inbox[1], 3000, "second response");
    const via2 = atServer[1]!.message.vias[0]!;
    assert.equal(via2.received, undefined);
    assert.equal(via2.rport, undefined);
  } finally {
    await raw.close();
  }
});

Deno.test("RFC 3261 §18.2.2: UDP response without rport goes to received and the Via port; maddr wins", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  const got: InboundMessage[] = [];
  server.onMessage((m) => got.push(m));
  const sender = await rawUdp("127.0.0.1");
  const target = await rawUdp("127.0.0.1");
  try {
    await sender.send(
      rawOptions("z9hG4bKr1", `SIP/2.0/UDP 192.0.2.7:${target.port}`, "route-1"),
      udp!.port,
    );
    const inbound = await waitFor(() => got[0], 3000, "request");
    if (inbound.message.kind !== "request") throw new Error("expected request");
    assert.equal(inbound.message.vias[0]!.received, "127.0.0.1");
    // Response derived from the Via alone (no context): received + Via port.
    await server.sendResponse(makeResponse(inbound.message, 200));
    const r = await waitFor(() => target.inbox[0], 3000, "response at the Via port");
    assert.match(text(r), /^SIP\/2\.0 200 OK/);
    assert.equal(sender.inbox.length, 0);
    // maddr: the response goes there.
    await sender.send(
      rawOptions("z9hG4bKr2", `SIP/2.0/UDP 192.0.2.7:${target.port};maddr=127.0.0.1`, "route-2"),
      udp!.port,
    );
    const inbound2 = await waitFor(() => got[1], 3000, "request 2");
    if (inbound2.message.kind !== "request") throw new Error("expected request");
    await server.sendResponse(makeResponse(inbound2.message, 202, "Accepted"), inbound2);
    await waitFor(() => target.inbox[1], 3000, "maddr response");
  } finally {
    await sender.close();
    await target.close();
  }
});

Deno.test("RFC 3261 §18.2.2: stream response goes back on the same connection; when closed, to received:sent-by port", async () => {
  await using server = new TransportLayer();
  await using client = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  await client.listen("sip:127.0.0.1:0");
  const atServer: InboundMessage[] = [];
  server.onMessage((m) => atServer.push(m));
  const atClient = collect(client);
  const req = makeRequest("OPTIONS", "sip:bob@127.0.0.1");
  const used = await client.sendRequest(req, {
    transport: "tcp",
    host: "127.0.0.1",
    port: tcp!.port,
  });
  const inbound = await waitFor(() => atServer[0], 3000, "request");
  if (inbound.message.kind !== "request") throw new Error("expected request");
  await server.sendResponse(makeResponse(inbound.message, 180, "Ringing"), inbound);
  await waitFor(() => responseFor(atClient, req.callId), 3000, "180 on the same connection");
  assert.equal(atClient[0]!.flowId, used.flowId);
  // Close the connection from the client side: the 200 needs a new connection to the
  // client's listener (received + sent-by port).
  client.closeFlow(used.flowId!);
  await waitFor(
    () => server.hasFlow(inbound.flowId!) ? undefined : true,
    3000,
    "close seen by server",
  );
  await server.sendResponse(makeResponse(inbound.message, 200), inbound);
  await waitFor(() => atClient.length >= 2 ? true : undefined, 3000, "200 over a new connection");
  assert.notEqual(atClient[1]!.flowId, used.flowId);
});

Deno.test("connections are reused per (transport, host, port), and inbound connections serve requests back", async () => {
  await using server = new TransportLayer();
  await using client = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  const [, clientTcp] = await client.listen("sip:127.0.0.1:0");
  const atServer = autoAnswer(server);
  const atClient = autoAnswer(client);
  const flows = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const used = await client.sendRequest(makeRequest("OPTIONS", "sip:bob@127.0.0.1"), {
      transport: "tcp",
      host: "127.0.0.1",
      port: tcp!.port,
    });
    flows.add(used.flowId!);
  }
  assert.equal(flows.size, 1, "one outbound connection");
  await waitFor(() => atServer.length >= 5 ? true : undefined, 3000, "5 requests");
  assert.equal(server.connectionCount, 1);
  // The server sends a request to the client's advertised TCP address: the inbound
  // connection is reused (no new connection is opened).
  const back = makeRequest("OPTIONS", "sip:alice@127.0.0.1");
  const used = await server.sendRequest(back, {
    transport: "tcp",
    host: "127.0.0.1",
    port: clientTcp!.port,
  });
  assert.equal(used.flowId, atServer[0]!.flowId);
  await waitFor(
    () => atClient.find((m) => m.message.callId === back.callId),
    3000,
    "request at client",
  );
  assert.equal(server.connectionCount, 1);
  assert.equal(client.connectionCount, 1);
  // And by flow id (RFC 5626 flow token).
  const byFlow = await server.sendRequest(makeRequest("OPTIONS", "sip:alice@x"), {
    transport: "tcp",
    host: "192.0.2.1",
    port: 1,
    flowId: atServer[0]!.flowId!,
  });
  assert.equal(byFlow.flowId, atServer[0]!.flowId);
});

Deno.test("concurrent sends to one target share one connect", async () => {
  await using server = new TransportLayer();
  await using client = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  autoAnswer(server);
  const used = await Promise.all(
    Array.from(
      { length: 10 },
      () =>
        client.sendRequest(makeRequest("OPTIONS", "sip:bob@127.0.0.1"), {
          transport: "tcp",
          host: "127.0.0.1",
          port: tcp!.port,
        }),
    ),
  );
  assert.equal(new Set(used.map((u) => u.flowId)).size, 1);
});

Deno.test("limit: a dribbling client is cut off by the header timeout (200 ms)", async () => {
  await using server = new TransportLayer({ limits: { headerTimeout: 200 } });
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  const got = autoAnswer(server);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    const msg = enc.encode(rawOptions("z9hG4bKdribble", "SIP/2.0/TCP 127.0.0.1:9"));
    const started = Date.now();
    let cut = false;
    // One byte every 40 ms: the message would take far longer than 200 ms.
    for (let i = 0; i < msg.length && i < 40; i++) {
      try {
        await conn.write(msg.subarray(i, i + 1));
      } catch {
        cut = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    if (!cut) cut = await closedByPeer(conn, 1000);
    assert.ok(cut, "the connection must be closed");
    assert.ok(Date.now() - started < 2000);
    assert.equal(got.length, 0);
    await waitFor(
      () => server.connectionCount === 0 ? true : undefined,
      1000,
      "connection dropped",
    );
  } finally {
    conn.close();
  }
});

Deno.test("limit: a connection that sends nothing is cut off by the header timeout", async () => {
  await using server = new TransportLayer({ limits: { headerTimeout: 150 } });
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    assert.ok(await closedByPeer(conn, 2000));
  } finally {
    conn.close();
  }
});

Deno.test("limit: an oversized message is refused (TCP connection closed, UDP datagram dropped)", async () => {
  await using server = new TransportLayer({ limits: { maxMessageSize: 2000 } });
  const [udp, tcp] = await server.listen("sip:127.0.0.1:0");
  const got = autoAnswer(server);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  const big = rawOptions("z9hG4bKbig", "SIP/2.0/TCP 127.0.0.1:9").replace(
    "Content-Length: 0",
    `X-Pad: ${"p".repeat(3000)}\r\nContent-Length: 0`,
  );
  try {
    await conn.write(enc.encode(big)).catch(() => 0);
    assert.ok(await closedByPeer(conn, 2000), "TCP: closed");
  } finally {
    conn.close();
  }
  const raw = await rawUdp("127.0.0.1");
  try {
    await raw.send(big.replace("TCP", "UDP"), udp!.port);
    // A valid request afterwards proves the listener lives and the big one was not answered.
    await raw.send(
      rawOptions("z9hG4bKafter", "SIP/2.0/UDP 127.0.0.1;rport", "after-big"),
      udp!.port,
    );
    const r = await waitFor(() => raw.inbox[0], 3000, "response");
    assert.match(text(r), /Call-ID: after-big/);
    assert.equal(got.length, 1);
  } finally {
    await raw.close();
  }
});

Deno.test("limit: a connection flood is capped and the listener still serves", async () => {
  await using server = new TransportLayer({ limits: { maxConnections: 5, headerTimeout: 5000 } });
  const [udp, tcp] = await server.listen("sip:127.0.0.1:0");
  const got = autoAnswer(server);
  const flood: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      flood.push(await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port }));
    }
    await waitFor(() => server.connectionCount === 5 ? true : undefined, 2000, "5 connections");
    // Connections past the cap are closed at once.
    let refused = 0;
    for (const c of flood.slice(5)) if (await closedByPeer(c, 300)) refused++;
    assert.equal(refused, 15);
    assert.equal(server.connectionCount, 5);
    // UDP still serves during the flood.
    const raw = await rawUdp("127.0.0.1");
    try {
      await raw.send(
        rawOptions("z9hG4bKflood", "SIP/2.0/UDP 127.0.0.1;rport", "during-flood"),
        udp!.port,
      );
      await waitFor(() => raw.inbox[0], 3000, "UDP answer during flood");
    } finally {
      await raw.close();
    }
    // After the flood, TCP serves again.
    for (const c of flood) c.close();
    flood.length = 0;
    await waitFor(() => server.connectionCount === 0 ? true : undefined, 2000, "flood gone");
    await using client = new TransportLayer();
    const atClient = collect(client);
    const req = makeRequest("OPTIONS", "sip:bob@127.0.0.1");
    await client.sendRequest(req, { transport: "tcp", host: "127.0.0.1", port: tcp!.port });
    await waitFor(() => responseFor(atClient, req.callId), 3000, "TCP answer after flood");
    assert.ok(got.length >= 2);
  } finally {
    for (const c of flood) c.close();
  }
});

Deno.test("bad input: garbage on a stream closes only that connection", async () => {
  await using server = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  autoAnswer(server);
  const good = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  const bad = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    await good.write(enc.encode(rawOptions("z9hG4bKg1", "SIP/2.0/TCP 127.0.0.1:9", "good-1")));
    await readUntil(good, (s) => s.includes("Call-ID: good-1"));
    // A header section without Content-Length on a stream is a framing error (RFC 3261 §18.3).
    await bad.write(
      enc.encode("INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\nbody-without-length"),
    );
    assert.ok(await closedByPeer(bad, 2000), "garbage connection closed");
    await good.write(enc.encode(rawOptions("z9hG4bKg2", "SIP/2.0/TCP 127.0.0.1:9", "good-2")));
    const s = await readUntil(good, (s) => s.includes("Call-ID: good-2"));
    assert.match(s, /Call-ID: good-2/);
  } finally {
    good.close();
    bad.close();
  }
});

Deno.test("bad input: well-framed unparseable requests on a stream get 400 until maxMalformed, then close", async () => {
  await using server = new TransportLayer({ limits: { maxMalformed: 3 } });
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  const got = autoAnswer(server);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  const badReq = (n: number) =>
    `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKm${n}\r\n` +
    `From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: mal-${n}\r\nCSeq: notanumber OPTIONS\r\n` +
    `Content-Length: 0\r\n\r\n`;
  try {
    await conn.write(enc.encode(badReq(1)));
    const first = await readUntil(conn, (s) => s.includes("Call-ID: mal-1"));
    assert.match(first, /^SIP\/2\.0 400 Bad Request/);
    await conn.write(enc.encode(badReq(2)));
    await readUntil(conn, (s) => s.includes("Call-ID: mal-2"));
    await conn.write(enc.encode(badReq(3)));
    assert.ok(await closedByPeer(conn, 2000), "closed after 3 malformed messages");
    assert.equal(got.length, 0);
  } finally {
    conn.close();
  }
});

Deno.test("bad input: a malformed datagram with a readable Via gets 400 with the reason; without one it is dropped", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  const got = autoAnswer(server);
  const raw = await rawUdp("127.0.0.1");
  try {
    await raw.send(
      "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKbad\r\n" +
        "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bad-cseq\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n",
      udp!.port,
    );
    const r = await waitFor(() => raw.inbox[0], 3000, "400");
    const res = parseMessage(r);
    if (res.kind !== "response") throw new Error("expected a response");
    assert.equal(res.status, 400);
    assert.match(res.reason, /^Bad Request - ./, "the parse error is in the reason phrase");
    assert.equal(res.callId, "bad-cseq");
    assert.ok(res.to.tag, "a To tag is added");
    // Pure garbage and a request without Via: dropped; the next valid request is answered.
    await raw.send("\x16\x03\x01 not sip at all", udp!.port);
    await raw.send("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\n", udp!.port);
    await raw.send(
      rawOptions("z9hG4bKok", "SIP/2.0/UDP 127.0.0.1;rport", "valid-after"),
      udp!.port,
    );
    const next = await waitFor(() => raw.inbox[1], 3000, "valid answer");
    assert.match(text(next), /^SIP\/2\.0 200 OK[\s\S]*Call-ID: valid-after/);
    assert.equal(got.length, 1);
  } finally {
    await raw.close();
  }
});

Deno.test("bad input: after maxMalformed datagrams from one source it is no longer answered", async () => {
  await using server = new TransportLayer({ limits: { maxMalformed: 2 } });
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  autoAnswer(server);
  const raw = await rawUdp("127.0.0.1");
  try {
    const bad = (n: number) =>
      `OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKq${n}\r\n` +
      `From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: q${n}\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    for (let i = 1; i <= 4; i++) await raw.send(bad(i), udp!.port);
    await raw.send(rawOptions("z9hG4bKv", "SIP/2.0/UDP 127.0.0.1;rport", "valid-q"), udp!.port);
    await waitFor(() => raw.inbox.find((b) => text(b).includes("valid-q")), 3000, "valid answer");
    const fours = raw.inbox.filter((b) => text(b).startsWith("SIP/2.0 400"));
    assert.equal(fours.length, 2, "only the first maxMalformed get a 400");
  } finally {
    await raw.close();
  }
});

Deno.test("RFC 5389: a STUN Binding request on the SIP UDP port gets XOR-MAPPED-ADDRESS", async () => {
  for (const host of ["127.0.0.1", "::1"]) {
    await using server = new TransportLayer();
    const bracket = host.includes(":") ? `[${host}]` : host;
    const [udp] = await server.listen(`sip:${bracket}:0;transport=udp`);
    const raw = await rawUdp(host);
    try {
      const req = new Uint8Array(20);
      req.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
      crypto.getRandomValues(req.subarray(8));
      await raw.send(req, udp!.port);
      const res = await waitFor(() => raw.inbox[0], 3000, "STUN response");
      assert.equal((res[0]! << 8) | res[1]!, 0x0101);
      assert.deepEqual([...res.subarray(8, 20)], [...req.subarray(8, 20)]);
      const mapped = parseStunXorMappedAddress(res)!;
      assert.equal(mapped.port, raw.port);
      assert.ok(mapped.host === host || mapped.host.endsWith(":1"));
    } finally {
      await raw.close();
    }
  }
});

Deno.test("RFC 5626 §3.5.1: a CRLFCRLF ping on a stream is answered with a CRLF pong", async () => {
  await using server = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
  try {
    await conn.write(enc.encode("\r\n\r\n"));
    const pong = await readUntil(conn, (s) => s.length >= 2);
    assert.equal(pong, "\r\n");
  } finally {
    conn.close();
  }
});

Deno.test("RFC 5626 §4.4.1: kept flows are pinged; a missing pong closes the flow", async () => {
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (peer.addr as Deno.NetAddr).port;
  await using client = new TransportLayer({ keepAliveInterval: 50, keepAliveTimeout: 150 });
  const accepted = peer.accept();
  const used = await client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
    transport: "tcp",
    host: "127.0.0.1",
    port,
  });
  const conn = await accepted;
  try {
    assert.ok(client.keepFlow(used.flowId!));
    // Read the OPTIONS, then the first ping; answer it with a pong.
    await readUntil(
      conn,
      (s) => s.endsWith("\r\n\r\n\r\n\r\n") || /Content-Length: 0\r\n\r\n\r\n\r\n/.test(s),
    );
    await conn.write(enc.encode("\r\n"));
    // Keep answering for a while: the flow stays open past the idle/pong timeouts.
    for (let i = 0; i < 4; i++) {
      await readUntil(conn, (s) => s === "\r\n\r\n");
      await conn.write(enc.encode("\r\n"));
    }
    assert.ok(client.hasFlow(used.flowId!));
    // Stop answering: the flow closes after keepAliveTimeout.
    await waitFor(() => client.hasFlow(used.flowId!) ? undefined : true, 2000, "flow closed");
  } finally {
    conn.close();
    peer.close();
  }
});

Deno.test("RFC 3261 §18.1.2: a response whose top Via is not ours is discarded", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  const got = collect(server);
  const raw = await rawUdp("127.0.0.1");
  try {
    const res = (host: string, id: string) =>
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP ${host};branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n` +
      `To: <sip:b@c>;tag=2\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    await raw.send(res("198.51.100.1:5060", "foreign"), udp!.port);
    await raw.send(res(`127.0.0.1:${udp!.port}`, "ours"), udp!.port);
    await waitFor(() => got.find((m) => m.message.callId === "ours"), 3000, "our response");
    assert.equal(got.length, 1);
  } finally {
    await raw.close();
  }
});

Deno.test("idle connections are closed after idleTimeout", async () => {
  await using server = new TransportLayer({ limits: { idleTimeout: 150 } });
  await using client = new TransportLayer({ limits: { idleTimeout: 5000 } });
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  autoAnswer(server);
  const used = await client.sendRequest(makeRequest("OPTIONS", "sip:b@127.0.0.1"), {
    transport: "tcp",
    host: "127.0.0.1",
    port: tcp!.port,
  });
  await waitFor(() => server.connectionCount === 1 ? true : undefined, 2000, "connected");
  await waitFor(() => client.hasFlow(used.flowId!) ? undefined : true, 3000, "idle close");
  assert.equal(server.connectionCount, 0);
});

Deno.test("connect timeout and refused connections give TransportError; failover tries the next target", async () => {
  await using server = new TransportLayer();
  const [, tcp] = await server.listen("sip:127.0.0.1:0");
  autoAnswer(server);
  const closedPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  await using client = new TransportLayer({ limits: { connectTimeout: 500 } });
  await assert.rejects(
    () =>
      client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
        transport: "tcp",
        host: "127.0.0.1",
        port: closedPort,
      }),
    TransportError,
  );
  const used = await client.sendRequestWithFailover(makeRequest("OPTIONS", "sip:x@127.0.0.1"), [
    { transport: "tcp", host: "127.0.0.1", port: closedPort },
    { transport: "tcp", host: "127.0.0.1", port: tcp!.port },
  ]);
  assert.equal(used.port, tcp!.port);
  await assert.rejects(
    () => client.sendRequestWithFailover(makeRequest("OPTIONS", "sip:x@y"), []),
    /No target/,
  );
  // UDP without a UDP listener is a clear error.
  await assert.rejects(
    () =>
      client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
        transport: "udp",
        host: "127.0.0.1",
        port: 5060,
      }),
    /No UDP listener/,
  );
});

Deno.test("listen errors, unlisten and close", async () => {
  await using a = new TransportLayer();
  const [udp, tcp] = await a.listen("sip:127.0.0.1:0");
  await using b = new TransportLayer();
  await assert.rejects(() => b.listen(`sip:127.0.0.1:${tcp!.port};transport=tcp`), TransportError);
  await assert.rejects(() => b.listen(`sip:127.0.0.1:${udp!.port}`), TransportError);
  assert.equal(b.listeners.length, 0, "a failed listen leaves nothing open");
  await a.unlisten(udp!.id);
  assert.deepEqual(a.listeners.map((l) => l.transport), ["tcp"]);
  await a.close();
  await a.close();
  await assert.rejects(() => a.listen("sip:127.0.0.1:0"), /closed/);
});

Deno.test("resolve() short-circuits numeric hosts and uses the injected DNS", async () => {
  await using t = new TransportLayer({
    dns: {
      resolve: (name, type) =>
        Promise.resolve(
          type === "A" && name === "sip.test" ? [{ type: "A" as const, address: "192.0.2.9" }] : [],
        ),
    },
  });
  const uri = (host: string, params: [string, string][] = []) => ({
    scheme: "sip",
    user: undefined,
    password: undefined,
    host,
    port: undefined,
    params: new Map<string, string | null>(params),
    headers: new Map<string, string>(),
    opaque: undefined,
    toString: () => `sip:${host}`,
    clone() {
      return this;
    },
  });
  assert.deepEqual(await t.resolve(uri("[::1]", [["transport", "tcp"]])), [{
    transport: "tcp",
    host: "::1",
    port: 5060,
  }]);
  assert.deepEqual(await t.resolve(uri("sip.test")), [{
    transport: "udp",
    host: "192.0.2.9",
    port: 5060,
  }]);
});

Deno.test("limit: an oversized WebSocket frame closes that connection (1009)", async () => {
  await using server = new TransportLayer({ limits: { maxMessageSize: 1000 } });
  const [ws] = await server.listen("<sip:127.0.0.1:0;transport=ws>");
  const got = autoAnswer(server);
  const sock = new WebSocket(`ws://127.0.0.1:${ws!.port}/`, ["sip"]);
  const closed = new Promise<number>((r) => sock.onclose = (e) => r(e.code));
  await new Promise<void>((r, j) => {
    sock.onopen = () => r();
    sock.onerror = () => j(new Error("ws error"));
  });
  sock.send(
    rawOptions("z9hG4bKwsbig", "SIP/2.0/WS a.invalid").replace(
      "Content-Length: 0",
      `X-Pad: ${"p".repeat(2000)}\r\nContent-Length: 0`,
    ),
  );
  assert.equal(await closed, 1009);
  assert.equal(got.length, 0);
  await waitFor(() => server.connectionCount === 0 ? true : undefined, 2000, "flow gone");
});

Deno.test("bad input: random bytes on UDP, TCP and WS never bring a listener down", async () => {
  await using server = new TransportLayer({ limits: { headerTimeout: 300 } });
  const [udp, tcp] = await server.listen("sip:127.0.0.1:0");
  const [ws] = await server.listen("<sip:127.0.0.1:0;transport=ws>");
  autoAnswer(server);
  const raw = await rawUdp("127.0.0.1");
  const samples = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.string({ maxLength: 300 }).map((s) => enc.encode(`OPTIONS sip:x SIP/2.0\r\n${s}\r\n\r\n`)),
      fc.string({ maxLength: 300 }).map((s) =>
        enc.encode(rawOptions("z9hG4bKfz", "SIP/2.0/UDP 127.0.0.1;rport").replace("CSeq: 1", s))
      ),
    ),
    { numRuns: 60, seed: 42 },
  );
  try {
    const sock = new WebSocket(`ws://127.0.0.1:${ws!.port}/`, ["sip"]);
    const wsClosed = new Promise<void>((r) => sock.onclose = () => r());
    await new Promise<void>((r) => sock.onopen = () => r());
    for (const bytes of samples) {
      await raw.send(bytes, udp!.port);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
      await conn.write(bytes).catch(() => 0);
      conn.close();
      if (sock.readyState === WebSocket.OPEN) sock.send(bytes);
    }
    sock.close();
    await wsClosed;
    // Every listener still answers a valid request.
    await raw.send(
      rawOptions("z9hG4bKalive", "SIP/2.0/UDP 127.0.0.1;rport", "alive-udp"),
      udp!.port,
    );
    await waitFor(() => raw.inbox.find((b) => text(b).includes("alive-udp")), 3000, "UDP alive");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    try {
      await conn.write(
        enc.encode(rawOptions("z9hG4bKalive2", "SIP/2.0/TCP 127.0.0.1:9", "alive-tcp")),
      );
      await readUntil(conn, (s) => s.includes("alive-tcp"));
    } finally {
      conn.close();
    }
    await using client = new TransportLayer();
    const atClient = collect(client);
    const req = makeRequest("OPTIONS", "sip:bob@127.0.0.1");
    await client.sendRequest(req, { transport: "ws", host: "127.0.0.1", port: ws!.port });
    await waitFor(() => responseFor(atClient, req.callId), 3000, "WS alive");
  } finally {
    await raw.close();
  }
});

Deno.test("connect timeout: a peer that accepts but never completes the TLS or WebSocket handshake", async () => {
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of silent) held.push(c);
    } catch {
      // listener closed
    }
  })();
  try {
    await using client = new TransportLayer({ limits: { connectTimeout: 200 } });
    for (const transport of ["tls", "ws"] as const) {
      const started = Date.now();
      await assert.rejects(
        () =>
          client.sendRequest(makeRequest("OPTIONS", "sip:x@127.0.0.1"), {
            transport,
            host: "127.0.0.1",
            port,
          }),
        (e: unknown) => e instanceof TransportError && /timed out/.test(e.message),
      );
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 2000, `${transport} gave up after ${took} ms`);
    }
    assert.equal(client.connectionCount, 0);
  } finally {
    silent.close();
    await accepting;
    for (const c of held) c.close();
  }
});

Deno.test("wildcard listeners write a real or advertised host in Via, never 0.0.0.0", async () => {
  await using server = new TransportLayer();
  const [udp] = await server.listen("sip:127.0.0.1:0;transport=udp");
  const got = collect(server);
  await using a = new TransportLayer();
  await a.listen("sip:0.0.0.0:0;transport=udp;advertise=sip.example.test");
  await using b = new TransportLayer();
  await b.listen("sip:0.0.0.0:0;transport=udp");
  const r1 = makeRequest("OPTIONS", "sip:x@127.0.0.1");
  await a.sendRequest(r1, { transport: "udp", host: "127.0.0.1", port: udp!.port });
  const r2 = makeRequest("OPTIONS", "sip:x@127.0.0.1");
  await b.sendRequest(r2, { transport: "udp", host: "127.0.0.1", port: udp!.port });
  const v1 = (await waitFor(() => got.find((m) => m.message.callId === r1.callId), 3000, "r1"))
    .message.vias[0]!;
  const v2 = (await waitFor(() => got.find((m) => m.message.callId === r2.callId), 3000, "r2"))
    .message.vias[0]!;
  assert.equal(v1.host, "sip.example.test");
  assert.equal(v1.received, "127.0.0.1");
  assert.notEqual(v2.host, "0.0.0.0");
  assert.equal(a.listeners[0]!.uri.startsWith("sip:sip.example.test:"), true);
});
