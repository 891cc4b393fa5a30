/**
 * sipkit: a Deno-first, modular SIP toolkit. Start a named service that listens on UDP, TCP,
 * TLS, WS and WSS, send any SIP request, and answer incoming requests through callbacks;
 * plugins add registrar, auth, PRACK, events and more as callback chains.
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
