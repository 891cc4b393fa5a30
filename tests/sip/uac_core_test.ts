// UAC core helpers (RFC 3261 §8.1.3).
import { assert } from "../test_deps.ts";
import {
  AuthRetryTracker,
  challengeSummaries,
  classifyResponse,
  parseRetryAfter,
  redirectTargets,
  retryAfterSeconds,
} from "../../sip/uac_core.ts";
import { request, response } from "./_transaction_helpers.ts";

Deno.test("§8.1.3.4: 3xx Contacts are tried by descending q, ties in header order", () => {
  const res = response(request(), 302, { toTag: "r" });
  res.appendHeader("Contact", "<sip:a@x.example.com>;q=0.5");
  res.appendHeader("Contact", "<sip:b@x.example.com>");
  res.appendHeader("Contact", "<sip:c@x.example.com>;q=0.9");
  res.appendHeader("Contact", "<sip:d@x.example.com>;q=0.5");
  res.appendHeader("Contact", "<sip:b@x.example.com>");
  assert.deepEqual(redirectTargets(res).map(String), [
    "sip:b@x.example.com",
    "sip:c@x.example.com",
    "sip:a@x.example.com",
    "sip:d@x.example.com",
  ]);
});

Deno.test("§8.1.3.4: targets already tried are not tried again", () => {
  const res = response(request(), 301, {
    toTag: "r",
    headers: ["Contact: <sip:a@x.example.com>, <sip:b@x.example.com>"],
  });
  assert.deepEqual(redirectTargets(res, new Set(["sip:a@x.example.com"])).map(String), [
    "sip:b@x.example.com",
  ]);
});

Deno.test("§20.33: Retry-After with comment and duration parses; garbage does not", () => {
  assert.deepEqual(parseRetryAfter("18000;duration=3600"), { seconds: 18000, duration: 3600 });
  assert.deepEqual(parseRetryAfter("120 (I'm in a meeting)"), {
    seconds: 120,
    comment: "I'm in a meeting",
  });
  assert.equal(parseRetryAfter("soon"), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});

Deno.test("§21.5.4: 503 with Retry-After means retry later; without it, try the next destination", () => {
  const withRa = response(request(), 503, { toTag: "t", headers: ["Retry-After: 30"] });
  assert.equal(retryAfterSeconds(withRa), 30);
  assert.equal(classifyResponse(withRa), "retry-later");
  assert.equal(classifyResponse(response(request(), 503, { toTag: "t" })), "try-next");
});

Deno.test("§12.2.1.2: 481 and 408 to an in-dialog request end the dialog; outside a dialog they are failures", () => {
  const inDialog = request({ method: "INFO", toTag: "t" });
  assert.equal(classifyResponse(response(inDialog, 481), true), "terminate-dialog");
  assert.equal(classifyResponse(response(inDialog, 408), true), "terminate-dialog");
  assert.equal(classifyResponse(response(request(), 408, { toTag: "t" }), false), "fail");
});

Deno.test("§8.1.3: 1xx, 2xx, 3xx, 401/407 are classified", () => {
  const req = request();
  assert.equal(classifyResponse(response(req, 180, { toTag: "t" })), "provisional");
  assert.equal(classifyResponse(response(req, 200, { toTag: "t" })), "success");
  assert.equal(classifyResponse(response(req, 302, { toTag: "t" })), "redirect");
  assert.equal(classifyResponse(response(req, 407, { toTag: "t" })), "authenticate");
  assert.equal(classifyResponse(response(req, 486, { toTag: "t" })), "fail");
});

Deno.test("§22.2: retry once per realm; a second challenge for the same realm means refused credentials", () => {
  const req = request({ method: "REGISTER" });
  const c401 = response(req, 401, {
    toTag: "t",
    headers: ['WWW-Authenticate: Digest realm="atlanta.com", nonce="1", qop="auth"'],
  });
  assert.deepEqual(challengeSummaries(c401).map((c) => c.realm), ["atlanta.com"]);
  const t = new AuthRetryTracker();
  assert.equal(t.shouldRetry(c401), true);
  assert.equal(t.shouldRetry(c401), false, "same realm again: give up");
});

Deno.test("§22.2 / RFC 2617 stale=true: a stale nonce allows another retry", () => {
  const req = request();
  const first = response(req, 407, {
    toTag: "t",
    headers: ['Proxy-Authenticate: Digest realm="biloxi.com", nonce="1"'],
  });
  const stale = response(req, 407, {
    toTag: "t",
    headers: ['Proxy-Authenticate: Digest realm="biloxi.com", nonce="2", stale=true'],
  });
  const t = new AuthRetryTracker(3);
  assert.equal(t.shouldRetry(first), true);
  assert.equal(t.shouldRetry(stale), true);
  assert.equal(t.shouldRetry(stale), true);
  assert.equal(t.shouldRetry(stale), false, "the cap on retries holds");
  assert.equal(t.attempts, 3);
});

Deno.test("§22.1: a 401 without a challenge cannot be retried", () => {
  const t = new AuthRetryTracker();
  assert.equal(t.shouldRetry(response(request(), 401, { toTag: "t" })), false);
  assert.equal(t.shouldRetry(response(request(), 404, { toTag: "t" })), false);
});
