/**
 * JsSIP (npm `jssip`, running unmodified in Deno with Deno's own WebSocket) as an independent
 * SIP-over-WebSocket client (RFC 7118): it sends OPTIONS and MESSAGE to a sipkit service
 * started with a WS listener (`cli.ts serve --listen "<sip:127.0.0.1:P;transport=ws>"`).
 * OPTIONS is answered 200; MESSAGE 603, serve's default (no sipMessage callback, as NkSIP).
 */
import { assert, JsSIP } from "../test_deps.ts";
import { freePort, startSipkit } from "./_harness.ts";

interface JsSipOptionsSender {
  sendOptions(target: string, body: string | undefined, options: { eventHandlers: Handlers }): void;
}

type Handlers = Record<
  string,
  (e: { response?: { status_code: number }; cause?: string }) => void
>;

interface Outcome {
  ok: boolean;
  status: number;
  cause: string;
}

/** Waits for one JsSIP request's `succeeded`/`failed` event (bounded). */
function outcome(
  send: (handlers: Handlers) => void,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no JsSIP outcome in ${timeoutMs} ms`)),
      timeoutMs,
    );
    send({
      succeeded: (e) => {
        clearTimeout(timer);
        resolve({ ok: true, status: e.response?.status_code ?? 0, cause: "" });
      },
      failed: (e) => {
        clearTimeout(timer);
        resolve({ ok: false, status: e.response?.status_code ?? 0, cause: String(e.cause) });
      },
    });
  });
}

Deno.test("JsSIP over WS sends OPTIONS and MESSAGE to a sipkit service (RFC 7118, RFC 3428)", async () => {
  const port = await freePort();
  const sk = await startSipkit("cli.ts serve", [`<sip:127.0.0.1:${port};transport=ws>`]);
  const socket = new JsSIP.WebSocketInterface(`ws://127.0.0.1:${port}`);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: "sip:jssip@127.0.0.1",
    register: false,
    connection_recovery_min_interval: 30,
    connection_recovery_max_interval: 30,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("JsSIP did not connect in 10 s")), 10_000);
      ua.on("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      ua.start();
    });
    const target = `sip:svc@127.0.0.1:${port};transport=ws`;
    const opt = await outcome((eventHandlers) => {
      // sendOptions exists in JsSIP 3.13 (lib/UA.js) but is missing from its .d.ts
      (ua as unknown as JsSipOptionsSender).sendOptions(target, undefined, { eventHandlers });
    }, 10_000);
    assert.deepEqual(opt, { ok: true, status: 200, cause: "" }, sk.proc.output());
    const msg = await outcome((eventHandlers) => {
      const options = { eventHandlers, contentType: "text/plain" };
      ua.sendMessage(
        target,
        "hello from JsSIP",
        options as unknown as Parameters<typeof ua.sendMessage>[2],
      );
    }, 10_000);
    // serve has no sipMessage callback: NkSIP's default answer is 603 Decline
    assert.deepEqual(msg, { ok: false, status: 603, cause: "Rejected" }, sk.proc.output());
  } finally {
    await new Promise<void>((resolve) => {
      if (!ua.isConnected()) return resolve();
      const timer = setTimeout(resolve, 3000);
      ua.on("disconnected", () => {
        clearTimeout(timer);
        resolve();
      });
      ua.stop();
    });
    await sk.proc.stop();
  }
});
