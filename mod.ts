/**
 * sipkit: a Deno-first, modular SIP toolkit. Start a named service that listens on UDP, TCP,
 * TLS, WS and WSS, send any SIP request, and answer incoming requests through callbacks;
 * plugins add registrar, auth, PRACK, events and more as callback chains.
 *
 * @example Parse a message
 * ```ts
 * import { parseMessage } from "./mod.ts";
 * const msg = parseMessage(
 *   "OPTIONS sip:bob@example.com SIP/2.0\r\n" +
 *     "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK776asdhds\r\n" +
 *     "Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\n" +
 *     "From: <sip:alice@example.com>;tag=1928301774\r\n" +
 *     "Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n",
 * );
 * console.log(msg.callId); // "a84b4c76e66710"
 * ```
 *
 * @module
 */

// --- sip/: message model (types) ---
export type {
  Contact,
  CSeq,
  HeaderValue,
  NameAddr,
  Params,
  SipMessage,
  SipMessageBase,
  SipRequest,
  SipResponse,
  Uri,
  Via,
} from "./sip/types.ts";
export { SipParseError } from "./sip/errors.ts";
