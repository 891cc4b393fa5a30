/**
 * HTTP Digest authentication math for SIP (RFC 2617, RFC 7616, RFC 8760; SIP usage in
 * RFC 3261 §22.4), pure and synchronous.
 *
 * - Client side: {@linkcode parseChallenges} reads `WWW-Authenticate` / `Proxy-Authenticate`
 *   values, {@linkcode selectChallenge} picks the strongest supported one, and
 *   {@linkcode buildAuthorization} (or the stateful {@linkcode DigestClient}, which counts
 *   `nc` per nonce) builds the `Authorization` / `Proxy-Authorization` value.
 * - Server side: {@linkcode createNonce} makes nonces that carry their creation time and an
 *   HMAC, so {@linkcode verifyNonce} checks them without storing anything;
 *   {@linkcode buildChallenge} builds the challenge value; {@linkcode parseCredentials} and
 *   {@linkcode verifyCredentials} check an answer with a constant-time compare.
 *
 * Hashes come from `node:crypto` (MD5 is not in Web Crypto). Nothing here does I/O or keeps
 * module state; the clock (`now`) and randomness (`cnonce`, nonce bytes) can be injected.
 *
 * @example Client and server in a few lines
 * ```ts
 * import { buildAuthorization, buildChallenge, parseChallenges, parseCredentials,
 *   verifyCredentials } from "./digest.ts";
 * import { strict as assert } from "node:assert";
 *
 * const secret = "server secret";
 * const challenge = buildChallenge({ realm: "example.com", secret, now: 1_000,
 *   algorithm: "SHA-256" });
 * const [offer] = parseChallenges(challenge);
 * const authorization = buildAuthorization(offer!, {
 *   username: "alice", password: "s3cret", method: "INVITE", uri: "sip:bob@example.com",
 * });
 * const creds = parseCredentials(authorization);
 * const result = verifyCredentials(creds, { method: "INVITE", password: "s3cret",
 *   realm: "example.com", secret, now: 2_000 });
 * assert.deepEqual(result, { ok: true });
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SipParseError } from "./errors.ts";
import { parseAuthHeader, type SipAuthHeader } from "./header_parsers.ts";

/** The digest algorithms understood here (RFC 7616 §6.1, RFC 8760 §2). */
export type DigestAlgorithm =
  | "MD5"
  | "MD5-sess"
  | "SHA-256"
  | "SHA-256-sess"
  | "SHA-512-256"
  | "SHA-512-256-sess";

/** The quality-of-protection values (RFC 7616 §3.3): `auth-int` also hashes the body. */
export type DigestQop = "auth" | "auth-int";

/** Every supported algorithm, strongest first (the preference order used by
 * {@linkcode selectChallenge}). */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = [
  "SHA-512-256",
  "SHA-512-256-sess",
  "SHA-256",
  "SHA-256-sess",
  "MD5",
  "MD5-sess",
];

/** A Digest challenge from `WWW-Authenticate` / `Proxy-Authenticate` (RFC 7616 §3.3). */
export interface DigestChallenge {
  /** The protection space. */
  realm: string;
  /** The server nonce. */
  nonce: string;
  /** The algorithm parameter; absent means MD5. Kept as written, may be unsupported. */
  algorithm: string;
  /** The offered qop values (empty: RFC 2069 compatibility, no qop). */
  qop: string[];
  /** Opaque data to echo back, if any. */
  opaque?: string;
  /** True when the server said `stale=true`: retry with the new nonce, same password. */
  stale: boolean;
  /** RFC 7616 §3.4.4: the server wants the username hashed. */
  userhash: boolean;
  /** Other parameters (e.g. `domain`), lower-case keys. */
  params: Map<string, string>;
}

/** Parsed Digest credentials from `Authorization` / `Proxy-Authorization` (RFC 7616 §3.4). */
export interface DigestCredentials {
  /** The username (or its hash when {@linkcode DigestCredentials.userhash} is true). */
  username: string;
  /** The realm the client answered for. */
  realm: string;
  /** The nonce the client used. */
  nonce: string;
  /** The digest-uri (the Request-URI in SIP). */
  uri: string;
  /** The response hash, lower-case hex. */
  response: string;
  /** The algorithm; absent means MD5. Kept as written. */
  algorithm: string;
  /** The chosen qop, if any. */
  qop?: string;
  /** The client nonce (required with qop). */
  cnonce?: string;
  /** The nonce count as sent (8 hex digits). */
  nc?: string;
  /** The nonce count as a number, for replay checks. */
  nonceCount?: number;
  /** The opaque value echoed back. */
  opaque?: string;
  /** True when the username is `H(username ":" realm)` (RFC 7616 §3.4.4). */
  userhash: boolean;
  /** Every parameter, lower-case keys. */
  params: Map<string, string>;
}

/** The secret half of the HA1 input: a password, or a precomputed `H(user:realm:password)`
 * in lower-case hex for the chosen algorithm family. */
export type DigestSecret = { password: string } | { ha1: string };

/** Input of {@linkcode computeResponse}. */
export interface DigestResponseInput {
  /** Algorithm; default `MD5`. */
  algorithm?: DigestAlgorithm;
  /** Username (the real one, not its hash). */
  username: string;
  /** Realm. */
  realm: string;
  /** Server nonce. */
  nonce: string;
  /** Request method (for SIP: the method of the request, `ACK`/`CANCEL` included). */
  method: string;
  /** The digest-uri. */
  uri: string;
  /** qop; absent = RFC 2069 compatibility (`H(HA1:nonce:HA2)`). */
  qop?: DigestQop;
  /** Client nonce; required with qop and with the `-sess` algorithms. */
  cnonce?: string;
  /** Nonce count (1 for the first use of a nonce); required with qop. */
  nc?: number;
  /** Message body for `auth-int` (empty when absent). */
  body?: Uint8Array | string;
}

const HASH_NAMES: Readonly<Record<string, string>> = {
  "md5": "md5",
  "sha-256": "sha256",
  "sha-512-256": "sha512-256",
};

/** Resolve an algorithm name as written in a header (case-insensitive) to the canonical
 * spelling, or `undefined` when not supported. An empty or absent value means MD5.
 * @param name the `algorithm` parameter value
 * @returns the canonical algorithm, or undefined
 */
export function normalizeAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined || name === "") return "MD5";
  const lower = name.toLowerCase();
  for (const a of DIGEST_ALGORITHMS) if (a.toLowerCase() === lower) return a;
  return undefined;
}

function hashName(algorithm: DigestAlgorithm): string {
  const base = algorithm.toLowerCase().replace(/-sess$/, "");
  const h = HASH_NAMES[base];
  if (h === undefined) throw new RangeError(`Unsupported digest algorithm ${algorithm}`);
  return h;
}

/**
 * The `H()` function of an algorithm: the lower-case hex digest of `data` (strings are hashed
 * as UTF-8).
 * @param algorithm the digest algorithm (`-sess` variants use the same hash)
 * @param data what to hash
 * @returns lower-case hex
 */
export function digestHash(algorithm: DigestAlgorithm, data: string | Uint8Array): string {
  return createHash(hashName(algorithm)).update(data).digest("hex");
}

/**
 * `H(username ":" realm ":" password)`: the value a server may store instead of the password
 * (RFC 7616 §3.4.2). One value per hash family: MD5 and MD5-sess share it, and so on.
 * @param algorithm the digest algorithm
 * @param username the username
 * @param realm the realm
 * @param password the password
 * @returns lower-case hex
 */
export function computeHa1(
  algorithm: DigestAlgorithm,
  username: string,
  realm: string,
  password: string,
): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/**
 * `H(username ":" realm)`, the hashed username of RFC 7616 §3.4.4 (`userhash=true`).
 * @param algorithm the digest algorithm
 * @param username the username
 * @param realm the realm
 * @returns lower-case hex
 */
export function hashUsername(algorithm: DigestAlgorithm, username: string, realm: string): string {
  return digestHash(algorithm, `${username}:${realm}`);
}

function sessionHa1(input: {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  nonce: string;
  cnonce?: string | undefined;
  secret: DigestSecret;
}): string {
  const { algorithm } = input;
  const base = "ha1" in input.secret
    ? input.secret.ha1.toLowerCase()
    : computeHa1(algorithm, input.username, input.realm, input.secret.password);
  if (!algorithm.endsWith("-sess")) return base;
  if (input.cnonce === undefined) {
    throw new RangeError(`Algorithm ${algorithm} needs a cnonce`);
  }
  // RFC 7616 §3.4.2: HA1 = H(H(username:realm:passwd):nonce-prime:cnonce-prime)
  return digestHash(algorithm, `${base}:${input.nonce}:${input.cnonce}`);
}

/** Format a nonce count as the 8 lower-case hex digits of RFC 7616 §3.4.
 * @param nc the count, 1..2^32-1
 * @returns e.g. `00000001`
 */
export function formatNonceCount(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) {
    throw new RangeError(`Nonce count out of range: ${nc}`);
  }
  return nc.toString(16).padStart(8, "0");
}

/**
 * Compute the `response` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1; RFC 2069 when no qop).
 * @param input the request and challenge values
 * @param secret the password or a precomputed HA1
 * @returns the response, lower-case hex
 */
export function computeResponse(input: DigestResponseInput, secret: DigestSecret): string {
  const algorithm = input.algorithm ?? "MD5";
  const ha1 = sessionHa1({
    algorithm,
    username: input.username,
    realm: input.realm,
    nonce: input.nonce,
    cnonce: input.cnonce,
    secret,
  });
  const ha2 = input.qop === "auth-int"
    ? digestHash(
      algorithm,
      `${input.method}:${input.uri}:${digestHash(algorithm, input.body ?? "")}`,
    )
    : digestHash(algorithm, `${input.method}:${input.uri}`);
  if (input.qop === undefined) return digestHash(algorithm, `${ha1}:${input.nonce}:${ha2}`);
  if (input.cnonce === undefined || input.nc === undefined) {
    throw new RangeError("qop needs cnonce and nc");
  }
  return digestHash(
    algorithm,
    `${ha1}:${input.nonce}:${formatNonceCount(input.nc)}:${input.cnonce}:${input.qop}:${ha2}`,
  );
}

// ---------------------------------------------------------------------------------------
// Header parsing (the auth-param grammar itself lives in header_parsers.ts)

function toChallenge(v: SipAuthHeader): DigestChallenge | undefined {
  if (v.scheme.toLowerCase() !== "digest") return undefined;
  const p = v.params;
  const realm = p.get("realm");
  const nonce = p.get("nonce");
  if (realm === undefined) throw new SipParseError("Digest challenge has no realm");
  if (nonce === undefined) throw new SipParseError("Digest challenge has no nonce");
  const qopText = p.get("qop");
  const c: DigestChallenge = {
    realm,
    nonce,
    algorithm: p.get("algorithm") ?? "MD5",
    qop: qopText === undefined
      ? []
      : qopText.split(",").map((q) => q.trim().toLowerCase()).filter((q) => q !== ""),
    stale: (p.get("stale") ?? "").toLowerCase() === "true",
    userhash: (p.get("userhash") ?? "").toLowerCase() === "true",
    params: p,
  };
  const opaque = p.get("opaque");
  if (opaque !== undefined) c.opaque = opaque;
  return c;
}

/**
 * Parse the Digest challenges of one or more `WWW-Authenticate` / `Proxy-Authenticate`
 * values. In SIP each header field holds one challenge (RFC 3261 §25.1), so pass every
 * value of the response. Challenges of other schemes are skipped.
 * @param values one header value or all of them, in message order
 * @returns the Digest challenges, in order
 * @throws {SipParseError} on malformed syntax or a Digest challenge without realm or nonce
 */
export function parseChallenges(values: string | readonly string[]): DigestChallenge[] {
  const list = typeof values === "string" ? [values] : values;
  const out: DigestChallenge[] = [];
  for (const value of list) {
    const c = toChallenge(parseAuthHeader(value));
    if (c !== undefined) out.push(c);
  }
  return out;
}

/**
 * Choose the challenge to answer: the strongest supported algorithm
 * (SHA-512-256 > SHA-256 > MD5, each with its `-sess` variant just after it), the first
 * offered on a tie. RFC 8760 §2 has servers list their challenges in order of preference;
 * pass `{ prefer: "first" }` to follow that order instead.
 * Challenges whose qop list has neither `auth` nor `auth-int` are unusable and skipped.
 * @param challenges the parsed challenges
 * @param options `prefer`: `"strongest"` (default) or `"first"`
 * @returns the chosen challenge, or undefined when none is supported
 */
export function selectChallenge(
  challenges: readonly DigestChallenge[],
  options: { prefer?: "strongest" | "first" } = {},
): DigestChallenge | undefined {
  let best: DigestChallenge | undefined;
  let bestRank = Infinity;
  for (const c of challenges) {
    const alg = normalizeAlgorithm(c.algorithm);
    if (alg === undefined) continue;
    if (c.qop.length > 0 && !c.qop.includes("auth") && !c.qop.includes("auth-int")) continue;
    if (options.prefer === "first") return c;
    const rank = DIGEST_ALGORITHMS.indexOf(alg);
    if (rank < bestRank) {
      best = c;
      bestRank = rank;
    }
  }
  return best;
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => "\\" + c)}"`;
}

/** Default client nonce: 16 random bytes as 32 hex digits. */
function defaultCnonce(): string {
  return randomBytes(16).toString("hex");
}

/** Options of {@linkcode buildAuthorization}. */
export interface AuthorizationOptions {
  /** The username. */
  username: string;
  /** The password (or give `ha1`). */
  password?: string;
  /** Precomputed `H(username:realm:password)` for the challenge's hash family. */
  ha1?: string;
  /** The request method. */
  method: string;
  /** The digest-uri: the Request-URI of the request being authorized. */
  uri: string;
  /** The body, hashed when `auth-int` is used. */
  body?: Uint8Array | string;
  /** Nonce count for this use of the nonce; default 1. */
  nc?: number;
  /** Client nonce; default 16 random bytes in hex. Injectable for tests. */
  cnonce?: string;
  /** Use `auth-int` when the server offers both (default false: `auth`). */
  preferAuthInt?: boolean;
}

/**
 * Build an `Authorization` / `Proxy-Authorization` value answering a challenge
 * (RFC 7616 §3.4; RFC 3261 §22.4). The header name to use is the caller's: `Authorization`
 * after a 401, `Proxy-Authorization` after a 407.
 * @param challenge the challenge to answer (see {@linkcode selectChallenge})
 * @param options credentials and the request
 * @returns the header value, beginning with `Digest `
 * @throws {RangeError} when the algorithm or every offered qop is unsupported, or no
 *   password/HA1 is given
 */
export function buildAuthorization(
  challenge: DigestChallenge,
  options: AuthorizationOptions,
): string {
  const algorithm = normalizeAlgorithm(challenge.algorithm);
  if (algorithm === undefined) {
    throw new RangeError(`Unsupported digest algorithm ${challenge.algorithm}`);
  }
  let qop: DigestQop | undefined;
  if (challenge.qop.length > 0) {
    const auth = challenge.qop.includes("auth");
    const authInt = challenge.qop.includes("auth-int");
    if (authInt && (options.preferAuthInt === true || !auth)) qop = "auth-int";
    else if (auth) qop = "auth";
    else throw new RangeError(`No supported qop in ${challenge.qop.join(",")}`);
  }
  let secret: DigestSecret;
  if (options.ha1 !== undefined) secret = { ha1: options.ha1 };
  else if (options.password !== undefined) secret = { password: options.password };
  else throw new RangeError("A password or an HA1 is needed");
  const useCnonce = qop !== undefined || algorithm.endsWith("-sess");
  const cnonce = useCnonce ? options.cnonce ?? defaultCnonce() : undefined;
  const nc = options.nc ?? 1;
  const input: DigestResponseInput = {
    algorithm,
    username: options.username,
    realm: challenge.realm,
    nonce: challenge.nonce,
    method: options.method,
    uri: options.uri,
  };
  if (qop !== undefined) {
    input.qop = qop;
    input.nc = nc;
  }
  if (cnonce !== undefined) input.cnonce = cnonce;
  if (options.body !== undefined) input.body = options.body;
  const response = computeResponse(input, secret);
  const username = challenge.userhash
    ? hashUsername(algorithm, options.username, challenge.realm)
    : options.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(options.uri)}`,
    `response=${quote(response)}`,
    `algorithm=${challenge.algorithm === "" ? "MD5" : challenge.algorithm}`,
  ];
  if (cnonce !== undefined) parts.push(`cnonce=${quote(cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${formatNonceCount(nc)}`);
  if (challenge.userhash) parts.push("userhash=true");
  return `Digest ${parts.join(", ")}`;
}

/** What {@linkcode DigestClient.authorize} returns. */
export interface DigestAuthorization {
  /** The header value. */
  value: string;
  /** The challenge answered. */
  challenge: DigestChallenge;
  /** The nonce count used. */
  nc: number;
}

/** Options of the {@linkcode DigestClient} constructor. */
export interface DigestClientOptions {
  /** The username. */
  username: string;
  /** The password (or give `ha1`). */
  password?: string;
  /** Precomputed HA1 for the hash family the server will use. */
  ha1?: string;
  /** Client nonce generator (injectable for tests); default random hex. */
  cnonce?: () => string;
  /** Challenge preference, see {@linkcode selectChallenge}. */
  prefer?: "strongest" | "first";
  /** Prefer `auth-int` when offered. */
  preferAuthInt?: boolean;
}

/**
 * A small stateful UAC helper: remembers the last challenge and counts `nc` per nonce, so
 * later requests can be authorized pre-emptively with the same nonce (RFC 7616 §3.4).
 *
 * @example
 * ```ts
 * import { DigestClient } from "./digest.ts";
 * const client = new DigestClient({ username: "alice", password: "pw", cnonce: () => "c1" });
 * const first = client.respond('Digest realm="r", nonce="n", qop="auth"',
 *   { method: "REGISTER", uri: "sip:example.com" });
 * const again = client.authorize({ method: "REGISTER", uri: "sip:example.com" });
 * console.log(first?.nc, again?.nc); // 1 2
 * ```
 */
export class DigestClient {
  readonly #options: DigestClientOptions;
  #challenge: DigestChallenge | undefined;
  #nc = 0;

  /** Create a client for one set of credentials.
   * @param options credentials and preferences
   */
  constructor(options: DigestClientOptions) {
    if (options.password === undefined && options.ha1 === undefined) {
      throw new RangeError("A password or an HA1 is needed");
    }
    this.#options = options;
  }

  /** The challenge currently answered, if any. */
  get challenge(): DigestChallenge | undefined {
    return this.#challenge;
  }

  /**
   * Answer a 401/407: pick a challenge among the header values and build the credentials.
   * A new nonce restarts the count at 1.
   * @param challengeValues the `WWW-Authenticate` or `Proxy-Authenticate` values
   * @param request the method, Request-URI and body of the request to (re)send
   * @returns the credentials, or undefined when no challenge is supported
   * @throws {SipParseError} when the challenge values are malformed
   */
  respond(
    challengeValues: string | readonly string[],
    request: { method: string; uri: string; body?: Uint8Array | string },
  ): DigestAuthorization | undefined {
    const prefer = this.#options.prefer;
    const chosen = selectChallenge(
      parseChallenges(challengeValues),
      prefer === undefined ? {} : { prefer },
    );
    if (chosen === undefined) return undefined;
    if (this.#challenge === undefined || this.#challenge.nonce !== chosen.nonce) this.#nc = 0;
    this.#challenge = chosen;
    return this.authorize(request);
  }

  /**
   * Authorize another request with the remembered challenge, incrementing `nc`.
   * @param request the method, Request-URI and body
   * @returns the credentials, or undefined before any challenge was seen
   */
  authorize(
    request: { method: string; uri: string; body?: Uint8Array | string },
  ): DigestAuthorization | undefined {
    const challenge = this.#challenge;
    if (challenge === undefined) return undefined;
    this.#nc++;
    const o = this.#options;
    const opts: AuthorizationOptions = {
      username: o.username,
      method: request.method,
      uri: request.uri,
      nc: this.#nc,
    };
    if (o.password !== undefined) opts.password = o.password;
    if (o.ha1 !== undefined) opts.ha1 = o.ha1;
    if (o.cnonce !== undefined) opts.cnonce = o.cnonce();
    if (o.preferAuthInt !== undefined) opts.preferAuthInt = o.preferAuthInt;
    if (request.body !== undefined) opts.body = request.body;
    return { value: buildAuthorization(challenge, opts), challenge, nc: this.#nc };
  }
}

// ---------------------------------------------------------------------------------------
// Server side

const NONCE_VERSION = 1;
const NONCE_RANDOM_BYTES = 8;
const NONCE_MAC_BYTES = 16;

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function nonceMac(secret: string | Uint8Array, realm: string, head: Uint8Array): Uint8Array {
  const mac = createHmac("sha256", secret).update(head).update(realm).digest();
  return new Uint8Array(mac.buffer, mac.byteOffset, NONCE_MAC_BYTES);
}

/** Options of {@linkcode createNonce}. */
export interface NonceOptions {
  /** HMAC key; keep it secret and the same across restarts / cluster nodes. */
  secret: string | Uint8Array;
  /** The realm the nonce is for (bound into the HMAC). */
  realm: string;
  /** Creation time, ms since the epoch (inject the clock). */
  now: number;
  /** Random bytes source (default `node:crypto` randomBytes). */
  random?: (size: number) => Uint8Array;
}

/**
 * Create a stateless nonce: base64url of version (1 byte), creation time (8 bytes, ms),
 * 8 random bytes and a 16-byte HMAC-SHA-256 over those and the realm. The server can later
 * check authenticity and age with {@linkcode verifyNonce} without storing it.
 * @param options secret, realm and time
 * @returns the nonce (44 characters, no padding)
 */
export function createNonce(options: NonceOptions): string {
  const head = new Uint8Array(1 + 8 + NONCE_RANDOM_BYTES);
  const view = new DataView(head.buffer);
  view.setUint8(0, NONCE_VERSION);
  view.setBigUint64(1, BigInt(Math.max(0, Math.floor(options.now))));
  const rnd = (options.random ?? randomBytes)(NONCE_RANDOM_BYTES);
  if (rnd.length !== NONCE_RANDOM_BYTES) throw new RangeError("random() returned a wrong size");
  head.set(rnd, 9);
  const mac = nonceMac(options.secret, options.realm, head);
  const all = new Uint8Array(head.length + mac.length);
  all.set(head);
  all.set(mac, head.length);
  return b64url(all);
}

/** Result of {@linkcode verifyNonce}. */
export type NonceCheck =
  | { valid: true; stale: boolean; issuedAt: number }
  | { valid: false; reason: "malformed" | "bad-mac" | "future" };

/**
 * Check a nonce made by {@linkcode createNonce}: the HMAC must match (constant-time) and
 * the age decides staleness.
 * @param nonce the nonce from the credentials
 * @param options secret, realm, current time and the maximum age in ms (default 300 000)
 * @returns whether it is ours, and whether it is stale
 */
export function verifyNonce(
  nonce: string,
  options: { secret: string | Uint8Array; realm: string; now: number; maxAgeMs?: number },
): NonceCheck {
  if (!/^[A-Za-z0-9_-]{44}$/.test(nonce)) return { valid: false, reason: "malformed" };
  const bytes = new Uint8Array(Buffer.from(nonce, "base64url"));
  const headLen = 1 + 8 + NONCE_RANDOM_BYTES;
  if (bytes.length !== headLen + NONCE_MAC_BYTES || bytes[0] !== NONCE_VERSION) {
    return { valid: false, reason: "malformed" };
  }
  const head = bytes.subarray(0, headLen);
  const mac = nonceMac(options.secret, options.realm, head);
  if (!timingSafeEqual(mac, bytes.subarray(headLen))) return { valid: false, reason: "bad-mac" };
  const issuedAt = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(1));
  // A little clock skew between cluster nodes is tolerated.
  if (issuedAt > options.now + 5_000) return { valid: false, reason: "future" };
  const maxAge = options.maxAgeMs ?? 300_000;
  return { valid: true, stale: options.now - issuedAt > maxAge, issuedAt };
}

/** Options of {@linkcode buildChallenge}. */
export interface ChallengeOptions {
  /** The realm (RFC 3261 §22.1: usually the domain). */
  realm: string;
  /** Nonce HMAC key (ignored when `nonce` is given). */
  secret?: string | Uint8Array;
  /** Current time in ms (ignored when `nonce` is given). */
  now?: number;
  /** A nonce to use instead of generating one. */
  nonce?: string;
  /** Algorithm; default MD5 (what most SIP phones support; RFC 8760 recommends also
   * offering SHA-256 in a separate header first). */
  algorithm?: DigestAlgorithm;
  /** Offered qop values; default `["auth"]`; an empty list omits qop (RFC 2069). */
  qop?: readonly DigestQop[];
  /** Opaque value to be echoed back. */
  opaque?: string;
  /** Add `stale=true` (the previous nonce was valid but too old). */
  stale?: boolean;
  /** Random bytes source for the nonce. */
  random?: (size: number) => Uint8Array;
}

/**
 * Build a `WWW-Authenticate` / `Proxy-Authenticate` value (RFC 7616 §3.3, RFC 3261 §22.1).
 * To offer several algorithms, call it once per algorithm and send one header each,
 * most preferred first (RFC 8760 §2).
 * @param options realm, nonce source and parameters
 * @returns the header value, beginning with `Digest `
 */
export function buildChallenge(options: ChallengeOptions): string {
  let nonce = options.nonce;
  if (nonce === undefined) {
    if (options.secret === undefined || options.now === undefined) {
      throw new RangeError("buildChallenge needs a nonce, or a secret and now");
    }
    const n: NonceOptions = { secret: options.secret, realm: options.realm, now: options.now };
    if (options.random !== undefined) n.random = options.random;
    nonce = createNonce(n);
  }
  const parts = [`realm=${quote(options.realm)}`, `nonce=${quote(nonce)}`];
  if (options.opaque !== undefined) parts.push(`opaque=${quote(options.opaque)}`);
  if (options.stale === true) parts.push("stale=true");
  parts.push(`algorithm=${options.algorithm ?? "MD5"}`);
  const qop = options.qop ?? ["auth"];
  if (qop.length > 0) parts.push(`qop=${quote(qop.join(","))}`);
  return `Digest ${parts.join(", ")}`;
}

/**
 * Parse an `Authorization` / `Proxy-Authorization` value into Digest credentials.
 * @param value the header value
 * @returns the credentials
 * @throws {SipParseError} when the syntax is bad (see `parseAuthHeader`), the scheme is not Digest, a required
 *   parameter (username, realm, nonce, uri, response) is missing, or qop comes without
 *   cnonce/nc or with a malformed nc
 */
export function parseCredentials(value: string): DigestCredentials {
  const v = parseAuthHeader(value);
  if (v.scheme.toLowerCase() !== "digest") {
    throw new SipParseError(`Credentials scheme ${v.scheme} is not Digest`);
  }
  const p = v.params;
  const need = (k: string): string => {
    const x = p.get(k);
    if (x === undefined) throw new SipParseError(`Digest credentials have no ${k}`);
    return x;
  };
  const c: DigestCredentials = {
    username: need("username"),
    realm: need("realm"),
    nonce: need("nonce"),
    uri: need("uri"),
    response: need("response").toLowerCase(),
    algorithm: p.get("algorithm") ?? "MD5",
    userhash: (p.get("userhash") ?? "").toLowerCase() === "true",
    params: p,
  };
  const qop = p.get("qop");
  const cnonce = p.get("cnonce");
  const nc = p.get("nc");
  const opaque = p.get("opaque");
  if (qop !== undefined) {
    c.qop = qop.toLowerCase();
    if (cnonce === undefined || nc === undefined) {
      throw new SipParseError("Digest credentials with qop need cnonce and nc");
    }
  }
  if (cnonce !== undefined) c.cnonce = cnonce;
  if (nc !== undefined) {
    if (!/^[0-9a-fA-F]{8}$/.test(nc)) throw new SipParseError(`Malformed nonce count ${nc}`);
    c.nc = nc;
    c.nonceCount = parseInt(nc, 16);
  }
  if (opaque !== undefined) c.opaque = opaque;
  return c;
}

/** Options of {@linkcode verifyCredentials}. */
export interface VerifyOptions {
  /** The method of the request carrying the credentials. */
  method: string;
  /** The password, or a precomputed HA1 (give exactly one). */
  password?: string;
  /** Precomputed `H(user:realm:password)` for the credentials' hash family. */
  ha1?: string;
  /** The realm we challenged with. */
  realm: string;
  /** Nonce HMAC key: the nonce must have been made by {@linkcode createNonce} with it.
   * Omit to skip nonce checks (the caller tracks nonces itself). */
  secret?: string | Uint8Array;
  /** Current time, ms since the epoch (needed with `secret`). */
  now?: number;
  /** Nonce lifetime in ms (default 300 000). */
  nonceMaxAgeMs?: number;
  /** Accepted algorithms (default: all supported). */
  algorithms?: readonly DigestAlgorithm[];
  /** The opaque value we sent, when one must be echoed back. */
  opaque?: string;
  /** The body of the request, for `auth-int`. */
  body?: Uint8Array | string;
  /** The username used when `userhash=true` (the credentials then carry only the hash). */
  username?: string;
  /** The Request-URI; when given, the digest-uri must equal it (RFC 7616 §3.4.6). */
  requestUri?: string;
}

/** Why {@linkcode verifyCredentials} refused credentials. */
export type VerifyFailure =
  | "realm-mismatch"
  | "unsupported-algorithm"
  | "unsupported-qop"
  | "bad-nonce"
  | "stale-nonce"
  | "opaque-mismatch"
  | "username-mismatch"
  | "uri-mismatch"
  | "wrong-response";

/** Result of {@linkcode verifyCredentials}: `ok`, or the reason; on `stale-nonce` answer
 * with a new challenge carrying `stale=true` (the password was right). */
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), "utf8");
  const y = Buffer.from(b.toLowerCase(), "utf8");
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/**
 * Verify Digest credentials (server side, RFC 7616 §3.4.1 and §3.3 `stale`). The response is
 * compared in constant time. The password is checked before the nonce age, so
 * `stale-nonce` is only reported for the right password, as `stale=true` requires.
 * Nonce-count replay tracking is left to the caller (see `nonceCount`).
 * @param credentials from {@linkcode parseCredentials}
 * @param options the request, secret and policy
 * @returns `{ ok: true }` or the failure reason
 */
export function verifyCredentials(
  credentials: DigestCredentials,
  options: VerifyOptions,
): VerifyResult {
  if (credentials.realm !== options.realm) return { ok: false, reason: "realm-mismatch" };
  const algorithm = normalizeAlgorithm(credentials.algorithm);
  if (algorithm === undefined || !(options.algorithms ?? DIGEST_ALGORITHMS).includes(algorithm)) {
    return { ok: false, reason: "unsupported-algorithm" };
  }
  let qop: DigestQop | undefined;
  if (credentials.qop !== undefined) {
    if (credentials.qop !== "auth" && credentials.qop !== "auth-int") {
      return { ok: false, reason: "unsupported-qop" };
    }
    qop = credentials.qop;
  }
  if (options.opaque !== undefined && credentials.opaque !== options.opaque) {
    return { ok: false, reason: "opaque-mismatch" };
  }
  if (options.requestUri !== undefined && credentials.uri !== options.requestUri) {
    return { ok: false, reason: "uri-mismatch" };
  }
  let nonceStale = false;
  if (options.secret !== undefined) {
    if (options.now === undefined) throw new RangeError("verifyCredentials needs now");
    const check = verifyNonce(credentials.nonce, {
      secret: options.secret,
      realm: options.realm,
      now: options.now,
      ...(options.nonceMaxAgeMs === undefined ? {} : { maxAgeMs: options.nonceMaxAgeMs }),
    });
    if (!check.valid) return { ok: false, reason: "bad-nonce" };
    nonceStale = check.stale;
  }
  let username = credentials.username;
  if (credentials.userhash) {
    if (options.username === undefined) return { ok: false, reason: "username-mismatch" };
    const expected = hashUsername(algorithm, options.username, credentials.realm);
    if (!safeEqualHex(expected, credentials.username)) {
      return { ok: false, reason: "username-mismatch" };
    }
    username = options.username;
  }
  let secret: DigestSecret;
  if (options.ha1 !== undefined) secret = { ha1: options.ha1 };
  else if (options.password !== undefined) secret = { password: options.password };
  else throw new RangeError("verifyCredentials needs a password or an HA1");
  const input: DigestResponseInput = {
    algorithm,
    username,
    realm: credentials.realm,
    nonce: credentials.nonce,
    method: options.method,
    uri: credentials.uri,
  };
  if (qop !== undefined) {
    input.qop = qop;
    input.nc = credentials.nonceCount ?? 0;
  }
  if (credentials.cnonce !== undefined) input.cnonce = credentials.cnonce;
  if (options.body !== undefined) input.body = options.body;
  let expected: string;
  try {
    expected = computeResponse(input, secret);
  } catch {
    // e.g. nc=00000000 or a -sess algorithm without cnonce: cannot match.
    return { ok: false, reason: "wrong-response" };
  }
  if (!safeEqualHex(expected, credentials.response)) {
    return { ok: false, reason: "wrong-response" };
  }
  if (nonceStale) return { ok: false, reason: "stale-nonce" };
  return { ok: true };
}
