import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { assert, fc } from "../test_deps.ts";
import {
  buildAuthorization,
  buildChallenge,
  computeHa1,
  computeResponse,
  createNonce,
  type DigestAlgorithm,
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
} from "../../sip/digest.ts";
import { SipParseError } from "../../sip/errors.ts";

// ---- RFC 2617 §3.5 example (fixture copied from the RFC) ----------------------------
const RFC2617_CHALLENGE = `Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`;
const RFC2617_CREDENTIALS = `Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`;

// ---- RFC 7616 §3.9.1 example (fixtures copied from the RFC) ---------------------------
const RFC7616_CHALLENGES = [
  `Digest
       realm="http-auth@example.org",
       qop="auth, auth-int",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
  `Digest
       realm="http-auth@example.org",
       qop="auth, auth-int",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
];
const RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC7616_MD5_RESPONSE = "8ca523f5e9506fed4657c9700eebdbec";
const RFC7616_SHA256_RESPONSE = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

Deno.test("RFC 2617 §3.5: response for Mufasa / Circle Of Life is 6629fae4...", () => {
  const creds = parseCredentials(RFC2617_CREDENTIALS);
  assert.equal(creds.username, "Mufasa");
  assert.equal(creds.nonceCount, 1);
  const r = computeResponse({
    username: "Mufasa",
    realm: "testrealm@host.com",
    nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    method: "GET",
    uri: "/dir/index.html",
    qop: "auth",
    nc: 1,
    cnonce: "0a4f113b",
  }, { password: "Circle Of Life" });
  assert.equal(r, "6629fae49393a05397450978507c4ef1");
  assert.deepEqual(
    verifyCredentials(creds, {
      method: "GET",
      password: "Circle Of Life",
      realm: "testrealm@host.com",
      opaque: "5ccc069c403ebaf9f0171e9517f40e41",
    }),
    { ok: true },
  );
});

Deno.test("RFC 2617 §3.5: the challenge parses with qop list and opaque", () => {
  const [c] = parseChallenges(RFC2617_CHALLENGE);
  assert.ok(c);
  assert.equal(c.realm, "testrealm@host.com");
  assert.deepEqual(c.qop, ["auth", "auth-int"]);
  assert.equal(c.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  assert.equal(c.algorithm, "MD5");
  const value = buildAuthorization(c, {
    username: "Mufasa",
    password: "Circle Of Life",
    method: "GET",
    uri: "/dir/index.html",
    cnonce: "0a4f113b",
  });
  assert.equal(parseCredentials(value).response, "6629fae49393a05397450978507c4ef1");
});

Deno.test("RFC 7616 §3.9.1: MD5 and SHA-256 responses match the RFC", () => {
  const challenges = parseChallenges(RFC7616_CHALLENGES);
  assert.equal(challenges.length, 2);
  const expected: Record<string, string> = {
    "SHA-256": RFC7616_SHA256_RESPONSE,
    "MD5": RFC7616_MD5_RESPONSE,
  };
  for (const c of challenges) {
    const value = buildAuthorization(c, {
      username: "Mufasa",
      password: "Circle of Life",
      method: "GET",
      uri: "/dir/index.html",
      cnonce: RFC7616_CNONCE,
    });
    const creds = parseCredentials(value);
    assert.equal(creds.response, expected[c.algorithm]);
    assert.equal(creds.qop, "auth");
    assert.equal(creds.nc, "00000001");
    assert.equal(creds.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
  }
});

Deno.test("RFC 7616 §3.9.1: the RFC's Authorization values verify on the server", () => {
  for (
    const [alg, response] of [["MD5", RFC7616_MD5_RESPONSE], ["SHA-256", RFC7616_SHA256_RESPONSE]]
  ) {
    const value = `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=${alg},
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="${response}",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
    const creds = parseCredentials(value);
    assert.deepEqual(
      verifyCredentials(creds, {
        method: "GET",
        password: "Circle of Life",
        realm: "http-auth@example.org",
        requestUri: "/dir/index.html",
      }),
      { ok: true },
    );
    // Precomputed HA1 gives the same answer.
    const ha1 = computeHa1(
      alg as DigestAlgorithm,
      "Mufasa",
      "http-auth@example.org",
      "Circle of Life",
    );
    assert.deepEqual(
      verifyCredentials(creds, { method: "GET", ha1, realm: "http-auth@example.org" }),
      { ok: true },
    );
    assert.deepEqual(
      verifyCredentials(creds, {
        method: "GET",
        password: "Circle Of Life",
        realm: "http-auth@example.org",
      }),
      { ok: false, reason: "wrong-response" },
    );
  }
});

Deno.test("selectChallenge: strongest supported wins; 'first' keeps server order (RFC 8760 §2)", () => {
  const cs = parseChallenges([
    'Digest realm="r", nonce="1", algorithm=MD5',
    'Digest realm="r", nonce="2", algorithm=SHA-512-256',
    'Digest realm="r", nonce="3", algorithm=SHA-256',
    'Digest realm="r", nonce="4", algorithm=SHA-1024',
  ]);
  assert.equal(selectChallenge(cs)?.nonce, "2");
  assert.equal(selectChallenge(cs, { prefer: "first" })?.nonce, "1");
  assert.equal(selectChallenge(cs.slice(3)), undefined);
  // Unsupported qop only: unusable.
  const q = parseChallenges('Digest realm="r", nonce="5", qop="auth-conf"');
  assert.equal(selectChallenge(q), undefined);
  // Non-digest schemes are ignored.
  assert.deepEqual(parseChallenges('Basic realm="x"'), []);
});

Deno.test("SHA-512-256 and SHA-256 hashes equal node:crypto's output (RFC 8760 §2)", () => {
  const data = "alice:example.com:pw";
  assert.equal(
    digestHash("SHA-512-256", data),
    createHash("sha512-256").update(data).digest("hex"),
  );
  assert.equal(digestHash("SHA-512-256-sess", data).length, 64);
  assert.equal(digestHash("SHA-256", data), createHash("sha256").update(data).digest("hex"));
  assert.equal(digestHash("MD5", data), createHash("md5").update(data).digest("hex"));
  // Independent: the SHA-512/256 vector of FIPS 180-4 for "abc".
  assert.equal(
    digestHash("SHA-512-256", "abc"),
    "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
  );
});

Deno.test("SHA-512-256 response follows RFC 7616 §3.4.1 formulas", () => {
  const H = (s: string) => createHash("sha512-256").update(s).digest("hex");
  const ha1 = H("bob:biloxi.com:zanzibar");
  const ha2 = H("INVITE:sip:alice@atlanta.com");
  const expected = H(`${ha1}:abc:0000000a:cn:auth:${ha2}`);
  assert.equal(
    computeResponse({
      algorithm: "SHA-512-256",
      username: "bob",
      realm: "biloxi.com",
      nonce: "abc",
      method: "INVITE",
      uri: "sip:alice@atlanta.com",
      qop: "auth",
      nc: 10,
      cnonce: "cn",
    }, { password: "zanzibar" }),
    expected,
  );
});

Deno.test("auth-int: HA2 = H(method:uri:H(body)) (RFC 7616 §3.4.3)", () => {
  const body = new TextEncoder().encode("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n");
  const H = (s: string | Uint8Array) => createHash("md5").update(s).digest("hex");
  const ha1 = H("alice:atlanta.com:pw");
  const ha2 = H(`INVITE:sip:bob@biloxi.com:${H(body)}`);
  const expected = H(`${ha1}:n1:00000001:c1:auth-int:${ha2}`);
  const input = {
    username: "alice",
    realm: "atlanta.com",
    nonce: "n1",
    method: "INVITE",
    uri: "sip:bob@biloxi.com",
    qop: "auth-int" as const,
    nc: 1,
    cnonce: "c1",
    body,
  };
  assert.equal(computeResponse(input, { password: "pw" }), expected);
  // A different body changes the response.
  assert.notEqual(computeResponse({ ...input, body: "x" }, { password: "pw" }), expected);
  // Client picks auth-int when it is the only qop, and the server verifies with the body.
  const [c] = parseChallenges('Digest realm="atlanta.com", nonce="n1", qop="auth-int"');
  const value = buildAuthorization(c!, {
    username: "alice",
    password: "pw",
    method: "INVITE",
    uri: "sip:bob@biloxi.com",
    body,
    cnonce: "c1",
  });
  const creds = parseCredentials(value);
  assert.equal(creds.qop, "auth-int");
  assert.equal(creds.response, expected);
  assert.deepEqual(
    verifyCredentials(creds, { method: "INVITE", password: "pw", realm: "atlanta.com", body }),
    { ok: true },
  );
  assert.deepEqual(
    verifyCredentials(creds, {
      method: "INVITE",
      password: "pw",
      realm: "atlanta.com",
      body: "tampered",
    }),
    { ok: false, reason: "wrong-response" },
  );
});

Deno.test("MD5-sess: HA1 = H(H(user:realm:pw):nonce:cnonce) (RFC 2617 §3.2.2.2)", () => {
  const H = (s: string) => createHash("md5").update(s).digest("hex");
  const ha1 = H(`${H("alice:r:pw")}:n:c`);
  const ha2 = H("REGISTER:sip:r");
  const expected = H(`${ha1}:n:00000002:c:auth:${ha2}`);
  const input = {
    algorithm: "MD5-sess" as const,
    username: "alice",
    realm: "r",
    nonce: "n",
    method: "REGISTER",
    uri: "sip:r",
    qop: "auth" as const,
    nc: 2,
    cnonce: "c",
  };
  assert.equal(computeResponse(input, { password: "pw" }), expected);
  // With a stored HA1 the session key is derived from it.
  assert.equal(computeResponse(input, { ha1: H("alice:r:pw") }), expected);
  assert.throws(
    () => computeResponse({ ...input, cnonce: undefined as unknown as string }, { password: "pw" }),
    RangeError,
  );
  // SHA-256-sess and SHA-512-256-sess round-trip client -> server.
  for (const alg of ["SHA-256-sess", "SHA-512-256-sess", "MD5-sess"] as const) {
    const [c] = parseChallenges(`Digest realm="r", nonce="n", algorithm=${alg}, qop="auth"`);
    const creds = parseCredentials(
      buildAuthorization(c!, { username: "u", password: "p", method: "BYE", uri: "sip:x@r" }),
    );
    assert.deepEqual(verifyCredentials(creds, { method: "BYE", password: "p", realm: "r" }), {
      ok: true,
    });
    assert.equal(
      verifyCredentials(creds, { method: "BYE", password: "q", realm: "r" }).ok,
      false,
    );
  }
});

Deno.test("No qop: RFC 2069 compatible response H(HA1:nonce:HA2), no nc/cnonce sent", () => {
  const H = (s: string) => createHash("md5").update(s).digest("hex");
  const expected = H(`${H("alice:r:pw")}:n:${H("INVITE:sip:b@r")}`);
  const [c] = parseChallenges('Digest realm="r", nonce="n"');
  const value = buildAuthorization(c!, {
    username: "alice",
    password: "pw",
    method: "INVITE",
    uri: "sip:b@r",
  });
  const creds = parseCredentials(value);
  assert.equal(creds.response, expected);
  assert.equal(creds.qop, undefined);
  assert.equal(creds.cnonce, undefined);
  assert.equal(creds.nc, undefined);
  assert.deepEqual(verifyCredentials(creds, { method: "INVITE", password: "pw", realm: "r" }), {
    ok: true,
  });
});

Deno.test("Stateless nonce: fresh ok, old one is stale only with the right password (RFC 7616 §3.3)", () => {
  const secret = "k";
  const realm = "example.com";
  const t0 = 1_700_000_000_000;
  const challenge = buildChallenge({ realm, secret, now: t0, opaque: "op" });
  const [c] = parseChallenges(challenge);
  assert.ok(c);
  assert.equal(c.opaque, "op");
  assert.deepEqual(c.qop, ["auth"]);
  const creds = parseCredentials(
    buildAuthorization(c, {
      username: "alice",
      password: "pw",
      method: "REGISTER",
      uri: "sip:example.com",
    }),
  );
  const opts = { method: "REGISTER", password: "pw", realm, secret, opaque: "op" };
  assert.deepEqual(verifyCredentials(creds, { ...opts, now: t0 + 1000 }), { ok: true });
  assert.deepEqual(
    verifyCredentials(creds, { ...opts, now: t0 + 300_001 }),
    { ok: false, reason: "stale-nonce" },
  );
  assert.deepEqual(
    verifyCredentials(creds, { ...opts, now: t0 + 10_000, nonceMaxAgeMs: 5_000 }),
    { ok: false, reason: "stale-nonce" },
  );
  // Wrong password with a stale nonce: wrong-response, never stale (stale=true would leak).
  assert.deepEqual(
    verifyCredentials(creds, { ...opts, password: "bad", now: t0 + 300_001 }),
    { ok: false, reason: "wrong-response" },
  );
  const stale = buildChallenge({ realm, secret, now: t0 + 300_001, stale: true });
  assert.equal(parseChallenges(stale)[0]?.stale, true);
  assert.match(stale, /stale=true/);
});

Deno.test("Tampered, foreign-realm, foreign-secret and future nonces are bad-nonce", () => {
  const secret = "k";
  const now = 1_000_000;
  const nonce = createNonce({ secret, realm: "r", now, random: () => new Uint8Array(8).fill(7) });
  assert.equal(nonce.length, 44);
  assert.deepEqual(verifyNonce(nonce, { secret, realm: "r", now }), {
    valid: true,
    stale: false,
    issuedAt: now,
  });
  // Flip one character of the timestamp part.
  const chars = [...nonce];
  chars[5] = chars[5] === "A" ? "B" : "A";
  const tampered = chars.join("");
  assert.deepEqual(verifyNonce(tampered, { secret, realm: "r", now }), {
    valid: false,
    reason: "bad-mac",
  });
  assert.deepEqual(verifyNonce(nonce, { secret, realm: "other", now }), {
    valid: false,
    reason: "bad-mac",
  });
  assert.deepEqual(verifyNonce(nonce, { secret: "x", realm: "r", now }), {
    valid: false,
    reason: "bad-mac",
  });
  assert.deepEqual(verifyNonce("short", { secret, realm: "r", now }), {
    valid: false,
    reason: "malformed",
  });
  assert.deepEqual(verifyNonce(nonce, { secret, realm: "r", now: now - 60_000 }), {
    valid: false,
    reason: "future",
  });
  // Through verifyCredentials: a correct response with a tampered nonce fails.
  const response = computeResponse(
    { username: "u", realm: "r", nonce: tampered, method: "INVITE", uri: "sip:r" },
    { password: "p" },
  );
  const creds = parseCredentials(
    `Digest username="u", realm="r", nonce="${tampered}", uri="sip:r", response="${response}"`,
  );
  assert.deepEqual(
    verifyCredentials(creds, { method: "INVITE", password: "p", realm: "r", secret, now }),
    { ok: false, reason: "bad-nonce" },
  );
});

Deno.test("Nonces are unique and fast-check: any nonce with one changed char is rejected", () => {
  const secret = "s";
  const a = createNonce({ secret, realm: "r", now: 5 });
  const b = createNonce({ secret, realm: "r", now: 5 });
  assert.notEqual(a, b);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 43 }), fc.constantFrom(..."ABCxyz019-_"), (pos, ch) => {
      fc.pre(a[pos] !== ch);
      const t = a.slice(0, pos) + ch + a.slice(pos + 1);
      const r = verifyNonce(t, { secret, realm: "r", now: 5 });
      // A changed last character may only alter unused base64 bits; then it decodes equal.
      return !r.valid || Buffer.from(t, "base64url").equals(Buffer.from(a, "base64url"));
    }),
    { numRuns: 300 },
  );
});

Deno.test("verifyCredentials rejects realm, algorithm, qop, opaque and uri mismatches", () => {
  const [c] = parseChallenges(
    'Digest realm="r", nonce="n", qop="auth", opaque="o", algorithm=SHA-256',
  );
  const creds = parseCredentials(
    buildAuthorization(c!, { username: "u", password: "p", method: "INVITE", uri: "sip:a@r" }),
  );
  const base = { method: "INVITE", password: "p", realm: "r" };
  assert.deepEqual(verifyCredentials(creds, base), { ok: true });
  assert.deepEqual(verifyCredentials(creds, { ...base, realm: "x" }), {
    ok: false,
    reason: "realm-mismatch",
  });
  assert.deepEqual(
    verifyCredentials(creds, { ...base, algorithms: ["MD5"] }),
    { ok: false, reason: "unsupported-algorithm" },
  );
  assert.deepEqual(verifyCredentials(creds, { ...base, opaque: "z" }), {
    ok: false,
    reason: "opaque-mismatch",
  });
  assert.deepEqual(
    verifyCredentials(creds, { ...base, requestUri: "sip:b@r" }),
    { ok: false, reason: "uri-mismatch" },
  );
  assert.deepEqual(verifyCredentials(creds, { ...base, method: "BYE" }), {
    ok: false,
    reason: "wrong-response",
  });
  const weird = parseCredentials(
    'Digest username="u", realm="r", nonce="n", uri="sip:a@r", response="00", qop=auth-conf, nc=00000001, cnonce="c"',
  );
  assert.deepEqual(verifyCredentials(weird, base), { ok: false, reason: "unsupported-qop" });
  const unknownAlg = parseCredentials(
    'Digest username="u", realm="r", nonce="n", uri="sip:a@r", response="00", algorithm=SHA-1',
  );
  assert.deepEqual(verifyCredentials(unknownAlg, base), {
    ok: false,
    reason: "unsupported-algorithm",
  });
  // nc=00000000 cannot produce a valid response.
  const zero = parseCredentials(
    'Digest username="u", realm="r", nonce="n", uri="sip:a@r", response="00", qop=auth, nc=00000000, cnonce="c"',
  );
  assert.deepEqual(verifyCredentials(zero, base), { ok: false, reason: "wrong-response" });
});

Deno.test("userhash=true: username sent as H(user:realm) and verified (RFC 7616 §3.4.4)", () => {
  const [c] = parseChallenges(
    'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256, userhash=true',
  );
  const value = buildAuthorization(c!, {
    username: "Jäsøn Doe",
    password: "p",
    method: "GET",
    uri: "/",
  });
  const creds = parseCredentials(value);
  assert.equal(creds.userhash, true);
  assert.equal(creds.username, hashUsername("SHA-256", "Jäsøn Doe", "r"));
  const base = { method: "GET", password: "p", realm: "r" };
  assert.deepEqual(verifyCredentials(creds, { ...base, username: "Jäsøn Doe" }), { ok: true });
  assert.deepEqual(verifyCredentials(creds, base), { ok: false, reason: "username-mismatch" });
  assert.deepEqual(verifyCredentials(creds, { ...base, username: "Bob" }), {
    ok: false,
    reason: "username-mismatch",
  });
});

Deno.test("DigestClient counts nc per nonce and restarts at 1 for a new nonce", () => {
  let n = 0;
  const client = new DigestClient({ username: "alice", password: "pw", cnonce: () => `c${++n}` });
  assert.equal(client.authorize({ method: "INVITE", uri: "sip:b@r" }), undefined);
  const a1 = client.respond(
    [
      'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
      'Digest realm="r", nonce="n1", algorithm=SHA-256, qop="auth"',
    ],
    { method: "INVITE", uri: "sip:b@r" },
  );
  assert.ok(a1);
  assert.equal(a1.challenge.algorithm, "SHA-256");
  assert.equal(a1.nc, 1);
  const a2 = client.authorize({ method: "BYE", uri: "sip:b@r" });
  assert.equal(a2?.nc, 2);
  const creds2 = parseCredentials(a2!.value);
  assert.equal(creds2.nc, "00000002");
  assert.equal(creds2.cnonce, "c2");
  assert.deepEqual(verifyCredentials(creds2, { method: "BYE", password: "pw", realm: "r" }), {
    ok: true,
  });
  const a3 = client.respond('Digest realm="r", nonce="n2", qop="auth", stale=true', {
    method: "BYE",
    uri: "sip:b@r",
  });
  assert.equal(a3?.nc, 1);
  assert.equal(a3?.challenge.stale, true);
  assert.equal(
    client.respond('Digest realm="r", nonce="n3", algorithm=FOO', { method: "BYE", uri: "x" }),
    undefined,
  );
  assert.throws(() => new DigestClient({ username: "x" }), RangeError);
});

Deno.test("Challenge parsing: quoted commas, escapes, folding, one challenge per header value", () => {
  const cs = parseChallenges([
    'Digest realm="a, \\"b\\"",\r\n nonce=xyz/+=, qop="auth,auth-int" , opaque=""',
    'Basic realm="b"',
    'Digest realm=r2 ,nonce="n2"',
  ]);
  assert.equal(cs.length, 2); // Basic is skipped
  assert.equal(cs[0]?.realm, 'a, "b"');
  assert.equal(cs[0]?.nonce, "xyz/+=");
  assert.deepEqual(cs[0]?.qop, ["auth", "auth-int"]);
  assert.equal(cs[0]?.opaque, "");
  assert.equal(cs[1]?.realm, "r2");
  assert.equal(cs[1]?.nonce, "n2");
  // Quoting in built values round-trips.
  const [c] = parseChallenges('Digest realm="x\\\\y\\"z", nonce="n"');
  assert.equal(c?.realm, 'x\\y"z');
  const value = buildAuthorization(c!, {
    username: 'we"ird',
    password: "p",
    method: "M",
    uri: "u",
  });
  const creds = parseCredentials(value);
  assert.equal(creds.realm, 'x\\y"z');
  assert.equal(creds.username, 'we"ird');
  // Case-insensitive parameter names and scheme.
  assert.equal(
    parseChallenges('DIGEST REALM="r", NONCE="n", ALGORITHM=sha-256')[0]?.algorithm,
    "sha-256",
  );
  assert.equal(normalizeAlgorithm("sha-256"), "SHA-256");
  assert.equal(normalizeAlgorithm(undefined), "MD5");
  assert.equal(normalizeAlgorithm("SHA-1"), undefined);
});

Deno.test("Auth header parser: malformed input throws SipParseError with a reason", () => {
  const bad: [string, RegExp][] = [
    ['Digest nonce="n", realm="open', /Unterminated/],
    ['Digest realm=, nonce="n"', /empty value/],
    ['="r", nonce="n"', /scheme/],
    ['Digest realm="r" nonce="n"', /Expected ','/],
    ['Digest realm="r", @', /Invalid character/],
    ["Digest realm, nonce", /no '=' value/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseChallenges(text),
      (e: unknown) => e instanceof SipParseError && re.test(e.message),
      text,
    );
  }
  assert.throws(() => parseChallenges('Digest nonce="n"'), /no realm/);
  assert.throws(() => parseChallenges('Digest realm="r"'), /no nonce/);
  assert.throws(() => parseCredentials("Basic dXNlcjpwYXNz"), SipParseError);
  assert.throws(() => parseCredentials(""), SipParseError);
  assert.throws(
    () => parseCredentials('Digest username="u", realm="r", nonce="n", uri="u"'),
    /no response/,
  );
  assert.throws(
    () =>
      parseCredentials(
        'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth',
      ),
    /need cnonce and nc/,
  );
  assert.throws(
    () =>
      parseCredentials(
        'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=1, cnonce="c"',
      ),
    /Malformed nonce count/,
  );
});

Deno.test("fast-check: challenge/credential parsing only ever throws SipParseError, and built values round-trip", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      try {
        parseChallenges(s);
        parseCredentials(s);
      } catch (e) {
        if (!(e instanceof SipParseError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.string({ maxLength: 20 }),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      fc.constantFrom<DigestAlgorithm>(
        "MD5",
        "MD5-sess",
        "SHA-256",
        "SHA-256-sess",
        "SHA-512-256",
        "SHA-512-256-sess",
      ),
      (user, realm, pw, alg) => {
        const challenge = buildChallenge({
          realm,
          nonce: "n",
          algorithm: alg,
          qop: ["auth", "auth-int"],
        });
        const [c] = parseChallenges(challenge);
        const creds = parseCredentials(
          buildAuthorization(c!, {
            username: user,
            password: pw,
            method: "INVITE",
            uri: "sip:x",
            preferAuthInt: true,
          }),
        );
        return creds.username === user && creds.realm === realm &&
          verifyCredentials(creds, { method: "INVITE", password: pw, realm }).ok;
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("formatNonceCount and buildChallenge parameters", () => {
  assert.equal(formatNonceCount(1), "00000001");
  assert.equal(formatNonceCount(0xffffffff), "ffffffff");
  assert.throws(() => formatNonceCount(0), RangeError);
  assert.throws(() => formatNonceCount(2 ** 32), RangeError);
  assert.equal(
    buildChallenge({ realm: "r", nonce: "n", algorithm: "SHA-256", qop: [] }),
    'Digest realm="r", nonce="n", algorithm=SHA-256',
  );
  assert.equal(
    buildChallenge({ realm: "r", nonce: "n", qop: ["auth", "auth-int"], opaque: "o", stale: true }),
    'Digest realm="r", nonce="n", opaque="o", stale=true, algorithm=MD5, qop="auth,auth-int"',
  );
  assert.throws(() => buildChallenge({ realm: "r" }), RangeError);
});
