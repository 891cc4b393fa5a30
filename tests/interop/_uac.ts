/**
 * A thin adapter from the interop tests to sipkit's UAC API (`start` from mod.ts and the
 * service's `options`, `message`, `invite` → dialog handle). It keeps the interop tests short
 * and puts the knowledge of the API in one place.
 *
 * @module
 */
import { start } from "../../mod.ts";
import { freePort } from "./_harness.ts";

/** One outgoing call as the interop tests see it. */
export interface UacCall {
  /** Final status of the INVITE. */
  status: number;
  /** Sends BYE in the dialog and returns the final status of the BYE. */
  bye(): Promise<number>;
  /** Sends a re-INVITE with a new SDP version and returns its final status. */
  reinvite(): Promise<number>;
}

/** Per-request options the interop tests use. */
export interface UacRequestOptions {
  /** A preloaded route set (RFC 3261 8.1.2). */
  route?: string[];
  /** Give up after this many ms (default 40 s, longer than Timer B/F). */
  timeout?: number;
}

/** The sipkit UAC operations the interop tests use. */
export interface SipkitUac {
  /** The port the service listens on (UDP and TCP, 127.0.0.1). */
  port: number;
  /** Sends OPTIONS and returns the final status. */
  options(uri: string, opts?: UacRequestOptions): Promise<number>;
  /** Sends MESSAGE with a text/plain body and returns the final status. */
  message(uri: string, text: string, opts?: UacRequestOptions): Promise<number>;
  /** Sends INVITE (with SDP); on 2xx the ACK is sent automatically. */
  call(uri: string, opts?: UacRequestOptions): Promise<UacCall>;
  /** Sends INVITE, waits for a provisional response, CANCELs, returns the INVITE's final status. */
  cancelAfterRinging(uri: string, opts?: UacRequestOptions): Promise<number>;
  /** Stops the service and removes its data dir. */
  stop(): Promise<void>;
}

const SDP = "v=0\r\no=sipkit 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 49300 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

function common(opts: UacRequestOptions | undefined): { route?: string[]; timeout: number } {
  return {
    ...(opts?.route !== undefined ? { route: opts.route } : {}),
    timeout: opts?.timeout ?? 40_000,
  };
}

/**
 * Starts a sipkit service listening on UDP and TCP on a free port of 127.0.0.1.
 * `t1` scales the RFC 3261 timers (default 500 ms; Timer B/F = 64*T1).
 */
export async function startUac(name: string, opts: { t1?: number } = {}): Promise<SipkitUac> {
  const port = await freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "sipkit-uac-" });
  const svc = await start(name, {
    listen: [`sip:127.0.0.1:${port}`],
    dataDir,
    fromUser: "interop",
    ...(opts.t1 !== undefined ? { timers: { t1: opts.t1 } } : {}),
  });
  return {
    port,
    options: async (uri, opts) => (await svc.options(uri, common(opts))).status,
    message: async (uri, text, opts) =>
      (await svc.message(uri, { ...common(opts), body: text, contentType: "text/plain" }))
        .status,
    call: async (uri, opts) => {
      const r = await svc.invite(uri, {
        ...common(opts),
        body: SDP,
        contentType: "application/sdp",
      });
      const dialog = () => {
        if (r.dialog === undefined) throw new Error(`no dialog after a ${r.status}`);
        return r.dialog;
      };
      return {
        status: r.status,
        bye: async () => (await dialog().bye({ timeout: 40_000 })).status,
        reinvite: async () =>
          (await dialog().reinvite({
            body: SDP.replace("o=sipkit 1 1", "o=sipkit 1 2"),
            contentType: "application/sdp",
            timeout: 40_000,
          })).status,
      };
    },
    cancelAfterRinging: async (uri, opts) => {
      const abort = new AbortController();
      const r = await svc.invite(uri, {
        ...common(opts),
        body: SDP,
        contentType: "application/sdp",
        // RFC 3261 9.1: a CANCEL is sent only after a provisional response arrived
        onProvisional: (res) => {
          if (res.status > 100) abort.abort(new Error("interop test cancels"));
        },
        signal: abort.signal,
      });
      return r.status;
    },
    stop: async () => {
      await svc.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
