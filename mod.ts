/**
 * sipkit: a Deno-first, modular SIP toolkit. Start a named service that listens on UDP, TCP,
 * TLS, WS and WSS, send any SIP request, and answer incoming requests through callbacks;
 * plugins add registrar, auth, PRACK, events and more as callback chains.
 *
 * @example Parse a SIP message and read its fields
 * ```ts
 * import { parseMessage } from "./mod.ts";
 *
 * const msg = parseMessage(
 *   "OPTIONS sip:bob@example.com SIP/2.0\r\n" +
 *     "Via: SIP/2.0/UDP client.example.com;branch=z9hG4bK74bf9\r\n" +
 *     "Max-Forwards: 70\r\n" +
 *     "To: <sip:bob@example.com>\r\n" +
 *     "From: <sip:alice@example.com>;tag=9fxced76sl\r\n" +
 *     "Call-ID: 3848276298220188511@client.example.com\r\n" +
 *     "CSeq: 1 OPTIONS\r\n" +
 *     "Content-Length: 0\r\n\r\n",
 * );
 * if (msg.callId !== "3848276298220188511@client.example.com") throw new Error("bad Call-ID");
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

// --- sip/: messages ---
export { parseMessage } from "./sip/parser.ts";
export { validateMessage } from "./sip/validate.ts";
export type { ValidationFailure } from "./sip/validate.ts";
export {
  createRequest,
  createResponse,
  defaultReason,
  generateBranch,
  generateCallId,
  generateTag,
  MAGIC_COOKIE,
} from "./sip/builders.ts";
export type { CreateRequestOptions, CreateResponseOptions } from "./sip/builders.ts";
export {
  makeHeaderField,
  SipMessageCore,
  SipRequestMessage,
  SipResponseMessage,
} from "./sip/message.ts";
export type {
  HeaderField,
  SipMessageInit,
  SipRequestInit,
  SipResponseInit,
} from "./sip/message.ts";

// --- sip/: URIs and header values ---
export { parseUri, SipUri, uriEquals } from "./sip/uri.ts";
export type { SipUriOptions } from "./sip/uri.ts";
export {
  canonicalHeaderName,
  headerKey,
  isKnownHeader,
  isMultiValued,
} from "./sip/header_names.ts";
export {
  formatParams,
  HeaderParams,
  MAX_SEQ,
  parseAuthHeader,
  parseContact,
  parseContentType,
  parseCSeq,
  parseEvent,
  parseExpires,
  parseMinSE,
  parseNameAddr,
  parseRAck,
  parseReason,
  parseReferTo,
  parseRSeq,
  parseSessionExpires,
  parseSubscriptionState,
  parseTokenList,
  parseVia,
  quoteString,
  SipAuthHeader,
  SipContact,
  SipContentType,
  SipCSeq,
  SipNameAddr,
  SipVia,
  splitHeaderRanges,
  splitHeaderValues,
  unquoteString,
} from "./sip/header_parsers.ts";
export type {
  AuthHeaderOptions,
  ContactOptions,
  EventValue,
  NameAddrOptions,
  ParamsInit,
  RAckValue,
  ReasonValue,
  SessionExpiresValue,
  SubscriptionStateValue,
  ViaOptions,
} from "./sip/header_parsers.ts";

// --- sip/: digest, SDP, framing ---
export {
  buildAuthorization,
  buildChallenge,
  computeHa1,
  computeResponse,
  createNonce,
  DIGEST_ALGORITHMS,
  DigestClient,
  digestHash,
  formatNonceCount,
  hashUsername,
  normalizeAlgorithm,
  parseChallenges,
  parseCredentials,
  selectChallenge,
  verifyCredentials,
  verifyNonce,
} from "./sip/digest.ts";
export type {
  AuthorizationOptions,
  ChallengeOptions,
  DigestAlgorithm,
  DigestAuthorization,
  DigestChallenge,
  DigestClientOptions,
  DigestCredentials,
  DigestQop,
  DigestResponseInput,
  DigestSecret,
  NonceCheck,
  NonceOptions,
  VerifyFailure,
  VerifyOptions,
  VerifyResult,
} from "./sip/digest.ts";
export {
  answerDirection,
  createAnswer,
  getAttribute,
  getAttributes,
  getDirection,
  getFmtp,
  getPtime,
  getRtpmap,
  holdOffer,
  incrementVersion,
  isOnHold,
  parseFmtpParams,
  parseRtpmap,
  parseSdp,
  SdpParseError,
  serializeSdp,
  setDirection,
  unholdOffer,
} from "./sip/sdp.ts";
export type {
  AnswerOptions,
  ReofferOptions,
  SdpAttribute,
  SdpBandwidth,
  SdpConnection,
  SdpDirection,
  SdpExtraLine,
  SdpMedia,
  SdpOrigin,
  SdpRepeat,
  SdpRtpmap,
  SdpSession,
  SdpTiming,
  SdpZoneAdjustment,
} from "./sip/sdp.ts";
export { StreamFramer } from "./sip/framer.ts";
export type {
  FramedMessage,
  FramerEvent,
  FramingError,
  FramingErrorReason,
  StreamFramerOptions,
} from "./sip/framer.ts";

// --- sip/: transactions and dialogs ---
export { DEFAULT_SIP_TIMERS, systemClock } from "./sip/clock.ts";
export type { Clock, SipTimers, TimerId } from "./sip/clock.ts";
// TimerQueue: many SIP timers on one timer of the base clock
export { TimerQueue } from "./sip/clock.ts";
export {
  buildAckForNon2xx,
  buildCancel,
  ClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  TransactionStateError,
} from "./sip/transaction_client.ts";
export type {
  ClientTimeout,
  ClientTransactionHost,
  ClientTransactionOptions,
  InviteClientState,
  NonInviteClientState,
} from "./sip/transaction_client.ts";
export {
  InviteServerTransaction,
  NonInviteServerTransaction,
  ServerTransaction,
} from "./sip/transaction_server.ts";
export { TransactionTimers } from "./sip/transaction_timers.ts";
export type {
  InviteServerState,
  NonInviteServerState,
  ServerTransactionHost,
  ServerTransactionOptions,
} from "./sip/transaction_server.ts";
export {
  clientTransactionKey,
  serverTransactionKey,
  TransactionLayer,
} from "./sip/transaction_layer.ts";
export type {
  IncomingRequestInfo,
  SendRequestOptions,
  Transaction,
  TransactionLayerOptions,
  TransactionTimeout,
} from "./sip/transaction_layer.ts";
export {
  Dialog,
  dialogId,
  dialogIdOfRequest,
  dialogIdOfResponse,
  DialogTable,
  TARGET_REFRESH_METHODS,
} from "./sip/dialog.ts";
export type {
  DialogEndReason,
  DialogOptions,
  DialogRejection,
  DialogRole,
  DialogState,
  InDialogRequestOptions,
} from "./sip/dialog.ts";
export {
  glareBackoff,
  InviteSession,
  OfferAnswer,
  SessionStateError,
  UacInviteTracker,
} from "./sip/invite_session.ts";
export type {
  InviteSessionEvent,
  InviteSessionHost,
  InviteSessionState,
  OfferAnswerState,
  UacInviteOptions,
} from "./sip/invite_session.ts";
export { checkUasRequest, KNOWN_METHODS } from "./sip/uas_core.ts";
export type { UasCheckOptions, UasRejection } from "./sip/uas_core.ts";
export {
  AuthRetryTracker,
  challengeSummaries,
  classifyResponse,
  parseRetryAfter,
  redirectTargets,
  retryAfterSeconds,
} from "./sip/uac_core.ts";
export type { ChallengeSummary, RetryAfter, UacResponseAction } from "./sip/uac_core.ts";

// --- service/: SIP ---
export {
  InvalidReplyError,
  isReplyValue,
  normalizeReply,
  REPLY_SHORTHANDS,
} from "./service/reply.ts";
export type {
  AnswerReply,
  HeaderMap,
  NormalizedReply,
  RedirectReply,
  ReplyObject,
  ReplyShorthand,
  ReplyValue,
} from "./service/reply.ts";
export {
  CALLBACK_METHODS,
  CAPABILITY_HEADERS,
  capabilityHeaders,
  DEFAULT_ALLOW,
  defaultSipCallbacks,
  isNoReply,
  methodCallbackName,
  REINVITE_FALLBACK,
  resolveSipCallbacks,
  SIP_CALLBACK_NAMES,
} from "./service/sip_callbacks.ts";
export type {
  AuthInfo,
  AuthorizeResult,
  Capabilities,
  DialogInfo,
  DialogStatus,
  MaybePromise,
  MethodCallbackName,
  MethodReply,
  PeerInfo,
  RouteDecision,
  SessionStatus,
  SipCall,
  SipCallbacks,
  UriSet,
} from "./service/sip_callbacks.ts";
export { bodyText, createSipStack, sdpBody } from "./service/sip_stack.ts";
export type {
  AckOptions,
  DialogHandle,
  InviteOptions,
  InviteResult,
  SipStack,
  SipStackCounts,
  SipStackOptions,
  SipStackUpdate,
  SipUac,
  UacCredentials,
  UacOptions,
  UacResult,
} from "./service/sip_stack.ts";

// --- service/ ---
export {
  CallTimeoutError,
  find,
  loadOrCreateUuid,
  SelfCallError,
  Service,
  serviceId,
  ServiceRestartedError,
  ServiceStoppedError,
  start,
} from "./service/service.ts";
export type { CallOptions } from "./service/service.ts";
export {
  CONFIG_DEFAULTS,
  ConfigError,
  ConfigReader,
  loadConfigFile,
  mergeConfig,
  orderPlugins,
  parseConfigText,
  resolveConfig,
  UDP_BACKENDS,
} from "./service/config.ts";
export type {
  ConfigSource,
  ResolveOptions,
  RestartConfig,
  ServiceConfig,
  ServiceConfigInput,
  SipLimits,
  SourcePosition,
  UdpBackendChoice,
} from "./service/config.ts";
export { definePlugin, pluginState } from "./service/plugin.ts";
export type {
  AnyPluginContext,
  AnyPluginLink,
  CallbackArgs,
  CallbackName,
  CallbackResult,
  ChainedCallbacks,
  GenServerCallbacks,
  Plugin,
  PluginCallbacks,
  PluginContext,
  PluginDefinition,
  PluginDep,
  PluginLink,
  PluginRuntime,
  ServiceCallbacks,
  StateMap,
} from "./service/plugin.ts";
export { ChainError, compose, composeRaw, fromCallback, NO_REPLY } from "./service/chain.ts";
export type { Chain, Link, Next, NoReply, PlainCallback, Terminal } from "./service/chain.ts";
export { defaultRegistry, ServiceExistsError, ServiceRegistry } from "./service/registry.ts";
export type { Registered } from "./service/registry.ts";
export { KeyedQueue } from "./service/keyed_queue.ts";
export type { KeyedQueueOptions } from "./service/keyed_queue.ts";
export { Mailbox } from "./service/mailbox.ts";
export { RestartIntensity } from "./service/supervisor.ts";
export type {
  ComposedSipCallbacks,
  From,
  LogFunctions,
  MessageHooks,
  MessageInfo,
  ServiceStatus,
  SipStackCore,
  StopReason,
  TerminateReason,
} from "./service/types.ts";

// --- plugins/: trace and stats ---
export { formatTrace, trace } from "./plugins/trace.ts";
export type { TraceConfig } from "./plugins/trace.ts";
export { DEFAULT_BUCKETS, stats, statsOf, StatsRegistry, statsText } from "./plugins/stats.ts";
export type { StatsConfig } from "./plugins/stats.ts";

// --- plugins/: registrar and auth ---
export {
  createRegistrar,
  MemoryRegistrarStore,
  normalizeAor,
  registrar,
  registrarBindings,
  registrarClear,
  registrarFind,
  registrarOf,
  RegistrarResource,
} from "./plugins/registrar.ts";
export type {
  RegistrarBinding,
  RegistrarConfig,
  RegistrarEntry,
  RegistrarOptions,
  RegistrarSource,
  RegistrarStore,
} from "./plugins/registrar.ts";
export { auth } from "./plugins/auth.ts";
export type { AuthConfig } from "./plugins/auth.ts";

// --- transport/ ---
export { TransportLayer } from "./transport/transport_layer.ts";
export type { TransportLayerOptions, TransportUpdate } from "./transport/transport_layer.ts";
export { MemoryNetwork, MemoryTransport } from "./transport/memory.ts";
export type {
  MemoryNetworkOptions,
  MemoryPacket,
  MemoryTransportOptions,
} from "./transport/memory.ts";
export { DenoDnsResolver, Rfc3263Resolver } from "./transport/resolver.ts";
export type { ResolverOptions } from "./transport/resolver.ts";
export { listenerUri, parseListenUri } from "./transport/listen_uri.ts";
export type { ListenSpec } from "./transport/listen_uri.ts";
export { TransportError } from "./transport/errors.ts";
export {
  isStunBindingRequest,
  parseStunXorMappedAddress,
  STUN_MAGIC_COOKIE,
  stunBindingSuccess,
} from "./transport/stun.ts";
export type { StunMappedAddress } from "./transport/stun.ts";
export type { UdpBackend } from "./transport/udp.ts";
export type {
  Address,
  DnsRecord,
  DnsRecordType,
  DnsResolver,
  InboundMessage,
  ListenerInfo,
  ListenOptions,
  ResponseContext,
  SendTarget,
  SipTransport,
  TlsOptions,
  TransportLimits,
  TransportName,
  TransportOptions,
} from "./transport/types.ts";
