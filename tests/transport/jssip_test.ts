/**
 * JsSIP (npm `jssip`) as an independent SIP-over-WebSocket client against the transport
 * layer, over WS and WSS, on 127.0.0.1 and ::1: OPTIONS and MESSAGE from JsSIP, and a
 * MESSAGE from sipkit to JsSIP over the same WebSocket connection.
 */
import { assert, JsSIP } from "../test_deps.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import type { InboundMessage } from "../../transport/types.ts";
import { makeRequest, makeResponse, waitFor } from "./_sip_helpers.ts";
import { makeTestCerts } from "./_certs.ts";

type Outcome = { ok: boolean; cause?: string; status?: number };

for (const host of ["127.0.0.1", "::1"]) {
  for (const secure of [false, true]) {
    Deno.test(`JsSIP over ${secure ? "wss" : "ws"} on ${host}: OPTIONS, MESSAGE both ways (RFC 7118)`, async () => {
      const certs = secure ? await makeTestCerts() : undefined;
      const client = certs ? Deno.createHttpClient({ caCerts: [certs.caCert] }) : undefined;
      const bracket = host.includes(":") ? `[${host}]` : host;
      await using server = new TransportLayer();
      const [listener] = await server.listen(
        `<${secure ? "sips" : "sip"}:${bracket}:0;transport=ws;path=/ws>`,
        certs ? { cert: certs.cert, key: certs.key } : {},
      );
      const got: InboundMessage[] = [];
      server.onMessage((m) => {
        got.push(m);
        if (m.message.kind === "request") {
          server.sendResponse(makeResponse(m.message, 200), m).catch(() => {});
        }
      });
      const url = `${secure ? "wss" : "ws"}://${bracket}:${listener!.port}/ws`;
      // JsSIP opens its socket with `new WebSocket(url, "sip")`; for WSS with our test CA the
      // socket class is wrapped to pass Deno's HttpClient carrying the pinned CA.
      const socket = new JsSIP.WebSocketInterface(url);
      if (client) {
        const NativeWebSocket = globalThis.WebSocket;
        const s = socket as unknown as Record<string, unknown>;
        s.connect = function (this: Record<string, unknown>) {
          if (this._ws) return;
          const ws = new NativeWebSocket(url, { protocols: ["sip"], client });
          ws.binaryType = "arraybuffer";
          this._ws = ws;
          ws.onopen = () => (this.onconnect as () => void)();
          ws.onclose = (e: CloseEvent) =>
            (this.ondisconnect as (err: boolean, code: number, reason: string) => void)(
              !e.wasClean,
              e.code,
              e.reason,
            );
          ws.onmessage = (e: MessageEvent) => (this.ondata as (d: unknown) => void)(e.data);
          ws.onerror = () => {};
        };
      }
      const ua = new JsSIP.UA({
        sockets: [socket],
        uri: `sip:alice@example.com`,
        register: false,
        connection_recovery_min_interval: 60,
        connection_recovery_max_interval: 60,
      });
      const incoming: string[] = [];
      ua.on("newMessage", (e: { originator: string; request: { body: string } }) => {
        if (e.originator === "remote") incoming.push(e.request.body);
      });
      const connected = new Promise<void>((r) => ua.once("connected", () => r()));
      const disconnected = new Promise<void>((r) => ua.once("disconnected", () => r()));
      ua.start();
      try {
        await connected;
        const options = await new Promise<Outcome>((resolve) =>
          (ua as unknown as { sendOptions: (t: string, b: null, o: unknown) => void }).sendOptions(
            `sip:bob@${bracket}`,
            null,
            {
              eventHandlers: {
                succeeded: (e: { response: { status_code: number } }) =>
                  resolve({ ok: true, status: e.response.status_code }),
                failed: (e: { cause: string }) => resolve({ ok: false, cause: e.cause }),
              },
            },
          )
        );
        assert.deepEqual(options, { ok: true, status: 200 });
        const message = await new Promise<Outcome>((resolve) =>
          ua.sendMessage(`sip:bob@${bracket}`, "hello from JsSIP", {
            eventHandlers: {
              succeeded: () => resolve({ ok: true }),
              failed: (e) => resolve({ ok: false, cause: String(e.cause) }),
            },
          })
        );
        assert.deepEqual(message, { ok: true });
        const msg = got.find((m) =>
          m.message.kind === "request" && m.message.method === "MESSAGE"
        )!;
        assert.equal(msg.message.bodyText(), "hello from JsSIP");
        assert.equal(msg.transport, secure ? "wss" : "ws");
        assert.equal(msg.message.vias[0]!.transport, secure ? "WSS" : "WS");
        // sipkit → JsSIP over the same WebSocket connection (the flow of JsSIP's request).
        const toJsSip = makeRequest("MESSAGE", "sip:alice@example.com", { body: "hello JsSIP" });
        await server.sendRequest(toJsSip, {
          transport: msg.transport,
          host: msg.remote.host,
          port: msg.remote.port,
          flowId: msg.flowId!,
        });
        await waitFor(() => incoming[0], 3000, "MESSAGE at JsSIP");
        assert.equal(incoming[0], "hello JsSIP");
        const reply = await waitFor(
          () =>
            got.find((m) => m.message.kind === "response" && m.message.callId === toJsSip.callId),
          3000,
          "JsSIP's 200",
        );
        assert.equal(reply.message.kind === "response" && reply.message.status, 200);
      } finally {
        ua.stop();
        await disconnected;
        client?.close();
        await certs?.cleanup();
      }
    });
  }
}
