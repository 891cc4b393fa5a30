import { assert } from "../test_deps.ts";
import {
  InvalidReplyError,
  isReplyValue,
  normalizeReply,
  REPLY_SHORTHANDS,
} from "../../service/reply.ts";

Deno.test("reply: a status number passes through", () => {
  const r = normalizeReply(486);
  assert.equal(r.status, 486);
  assert.equal(r.reason, undefined);
  assert.equal(r.body, undefined);
});

Deno.test("reply: shorthands map to their RFC 3261 §21 codes", () => {
  assert.equal(normalizeReply("ok").status, 200);
  assert.equal(normalizeReply("ringing").status, 180);
  assert.equal(normalizeReply("busy").status, 486);
  assert.equal(normalizeReply("decline").status, 603);
  assert.equal(normalizeReply("forbidden").status, 403);
  assert.equal(normalizeReply("not_found").status, 404);
  assert.equal(normalizeReply("accepted").status, 202);
  for (const [name, code] of Object.entries(REPLY_SHORTHANDS)) {
    assert.ok(code >= 100 && code <= 699, name);
  }
});

Deno.test("reply: unknown shorthands and bad statuses throw InvalidReplyError", () => {
  assert.throws(() => normalizeReply("nope"), InvalidReplyError);
  assert.throws(() => normalizeReply("toString"), InvalidReplyError);
  assert.throws(() => normalizeReply(99), InvalidReplyError);
  assert.throws(() => normalizeReply(700), InvalidReplyError);
  assert.throws(() => normalizeReply(200.5), InvalidReplyError);
  assert.throws(() => normalizeReply({ redirect: [] }), InvalidReplyError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => normalizeReply(null as any), InvalidReplyError);
  assert.equal(isReplyValue("busy"), true);
  assert.equal(isReplyValue({ foo: 1 }), false);
});

Deno.test("reply: redirects are 300 for several contacts, 302 or 301 for one (RFC 3261 §21.3)", () => {
  const many = normalizeReply({ redirect: ["sip:a@x", "<sip:b@y>"] });
  assert.equal(many.status, 300);
  assert.deepEqual(many.headers, [["Contact", ["<sip:a@x>", "<sip:b@y>"]]]);
  assert.equal(normalizeReply({ redirect: ["sip:a@x"] }).status, 302);
  assert.equal(normalizeReply({ redirect: ["sip:a@x"], permanent: true }).status, 301);
});

Deno.test("reply: an SDP answer is a 200 with application/sdp", () => {
  const r = normalizeReply({ answer: "v=0\r\n" });
  assert.equal(r.status, 200);
  assert.equal(r.contentType, "application/sdp");
  assert.equal(new TextDecoder().decode(r.body), "v=0\r\n");
});

Deno.test("reply: a full object keeps reason, headers, body and content type", () => {
  const r = normalizeReply({
    status: 480,
    reason: "Gone Fishing",
    headers: { "Retry-After": "60" },
    addHeaders: [["X-A", "1"]],
    body: "hello",
    contentType: "text/plain",
  });
  assert.equal(r.status, 480);
  assert.equal(r.reason, "Gone Fishing");
  assert.deepEqual(r.headers, [["Retry-After", "60"]]);
  assert.deepEqual(r.addHeaders, [["X-A", "1"]]);
  assert.equal(r.contentType, "text/plain");
  assert.equal(r.body?.length, 5);
  const bytes = normalizeReply({ status: 200, body: new Uint8Array([1, 2]) });
  assert.equal(bytes.contentType, "text/plain");
});
