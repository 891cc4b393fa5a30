// deno-lint-ignore-file no-console
/**
 * An answering UAS, used by the benchmarks and interop checks:
 *
 * - OPTIONS: 200 (the default, with Allow, Accept, Supported)
 * - INVITE: 180 Ringing, then 200 OK with an SDP answer (RFC 3264) to the offer (or an
 *   offer when the INVITE had none); 488 when the offer shares no codec
 * - INVITE to the user `busy` (Request-URI `sip:busy@...`): 486 Busy Here at once (the SIPp
 *   busy scenario of the interop tests expects it)
 * - ACK: accepted; BYE: 200; everything else: the sipkit defaults
 *
 * ```sh
 * deno task example:uas --listen sip:127.0.0.1:5080 [--listen <sip:127.0.0.1:5081;transport=ws>]
 *   [--ring-ms 0] [--name uas]
 * ```
 *
 * Prints `ready <transport> <host> <port>` per listener once listening (like `cli.ts serve`),
 * and stops gracefully on SIGINT or SIGTERM.
 *
 * @module
 */

import {
  createAnswer,
  NO_REPLY,
  parseSdp,
  type ReplyValue,
  serializeSdp,
  type SipRequest,
  start,
} from "../mod.ts";

const FORMATS = ["PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2", "telephone-event/8000"];
const MEDIA_PORT = 40_000;

/** Parsed command line of the example. */
interface Args {
  listen: string[];
  ringMs: number;
  name: string;
}

function parse(argv: readonly string[]): Args {
  const args: Args = { listen: [], ringMs: 0, name: "uas" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--listen") args.listen.push(value());
    else if (flag === "--ring-ms") args.ringMs = Number(value());
    else if (flag === "--name") args.name = value();
    else throw new Error(`unknown option ${a}`);
  }
  if (args.listen.length === 0) args.listen.push("sip:127.0.0.1:5080");
  return args;
}

/** The SDP of a 200 OK: an answer to the offer, or our own offer (late offer). */
function sdpFor(req: SipRequest, address: string): ReplyValue {
  const offerText = req.contentType === "application/sdp" && req.contentLength > 0
    ? req.bodyText()
    : undefined;
  if (offerText === undefined) {
    const offer = `v=0\r\no=- 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\n` +
      `m=audio ${MEDIA_PORT} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n`;
    return { answer: offer };
  }
  let answer;
  try {
    answer = createAnswer(parseSdp(offerText), { formats: FORMATS, address, port: MEDIA_PORT });
  } catch {
    return { status: 488, reason: "Unreadable SDP Offer" };
  }
  if (answer.media.every((m) => m.port === 0)) return "not_acceptable_here";
  return { answer: serializeSdp(answer) };
}

if (import.meta.main) {
  let args: Args;
  try {
    args = parse(Deno.args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(64);
  }
  const svc = await start(args.name, {
    listen: args.listen,
    callbacks: {
      sipInvite(req, call) {
        if (req.uri.user === "busy") return "busy"; // 486 Busy Here
        call.reply("ringing");
        const reply = sdpFor(req, call.peer.localHost);
        if (args.ringMs <= 0) return reply;
        setTimeout(() => call.reply(reply), args.ringMs);
        return NO_REPLY;
      },
      sipReinvite(req, call) {
        return sdpFor(req, call.peer.localHost);
      },
      sipBye() {
        return "ok";
      },
    },
  });
  for (const l of svc.transports) console.log(`ready ${l.transport} ${l.host} ${l.port}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await svc.stop();
  Deno.exit(0);
}
