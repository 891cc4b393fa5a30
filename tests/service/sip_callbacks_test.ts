import { assert } from "../test_deps.ts";
import {
  type Capabilities,
  defaultSipCallbacks,
  isNoReply,
  type MaybePromise,
  methodCallbackName,
  type MethodReply,
  resolveSipCallbacks,
  SIP_CALLBACK_NAMES,
  type SipCall,
} from "../../service/sip_callbacks.ts";
import { normalizeReply, type ReplyValue } from "../../service/reply.ts";
import { NO_REPLY } from "../../service/chain.ts";
import type { SipRequest } from "../../sip/types.ts";

const caps: Capabilities = {
  allow: ["INVITE", "ACK", "OPTIONS"],
  supported: ["path"],
  accept: ["application/sdp"],
  events: [],
};
// The defaults only look at call.capabilities; the request is not inspected.
const req = {} as SipRequest;
const call = { capabilities: caps } as SipCall;

function status(v: MaybePromise<MethodReply>): number {
  if (v === undefined || v instanceof Promise || typeof v === "symbol") {
    throw new Error("expected a reply value");
  }
  return normalizeReply(v).status;
}

Deno.test("callbacks: every name has a default", () => {
  assert.equal(SIP_CALLBACK_NAMES.length, 19);
  for (const name of SIP_CALLBACK_NAMES) {
    assert.equal(typeof defaultSipCallbacks[name], "function", name);
  }
});

Deno.test("callbacks: NkSIP defaults for each method", () => {
  const d = defaultSipCallbacks;
  assert.equal(status(d.sipInvite(req, call)), 603);
  assert.equal(status(d.sipBye(req, call)), 200);
  assert.equal(status(d.sipInfo(req, call)), 200);
  assert.equal(status(d.sipNotify(req, call)), 200);
  assert.equal(status(d.sipMessage(req, call)), 603);
  assert.equal(status(d.sipUpdate(req, call)), 603);
  assert.equal(status(d.sipSubscribe(req, call)), 603);
  assert.equal(status(d.sipRefer(req, call)), 603);
  assert.equal(status(d.sipRegister(req, call)), 405);
  assert.equal(status(d.sipPublish(req, call)), 405);
  assert.equal(d.sipRoute("sip", "", "h", req, call), "process");
  assert.equal(
    d.sipAuthorize({ dialog: false, register: false, digest: new Map() }, req, call),
    "ok",
  );
  assert.equal(d.sipGetUserPass("anonymous", "r", req, call), "");
  assert.equal(d.sipGetUserPass("bob", "r", req, call), false);
});

Deno.test("callbacks: RFC 3261 §8.2.1 405 carries Allow; OPTIONS 200 carries Allow, Accept, Supported", () => {
  const r405 = normalizeReply(defaultSipCallbacks.sipRegister(req, call) as ReplyValue);
  // A default does nothing when an earlier link already answered (call.responded).
  const answered = { capabilities: caps, responded: true } as SipCall;
  assert.equal(defaultSipCallbacks.sipInvite(req, answered), undefined);
  assert.equal(defaultSipCallbacks.sipOptions(req, answered), undefined);
  assert.deepEqual(r405.headers, [["Allow", "INVITE, ACK, OPTIONS"]]);
  const ok = normalizeReply(defaultSipCallbacks.sipOptions(req, call) as ReplyValue);
  assert.equal(ok.status, 200);
  const names = ok.headers.map(([n]) => n);
  assert.deepEqual(names, ["Allow", "Accept", "Supported"]);
});

Deno.test("callbacks: a missing sipReinvite calls the effective sipInvite", async () => {
  const resolved = resolveSipCallbacks({ sipInvite: () => "busy" });
  assert.equal(status(await resolved.sipReinvite(req, call)), 486);
  const own = resolveSipCallbacks({ sipInvite: () => "busy", sipReinvite: () => 488 });
  assert.equal(status(await own.sipReinvite(req, call)), 488);
  assert.equal(status(await resolveSipCallbacks().sipReinvite(req, call)), 603);
});

Deno.test("callbacks: chain semantics: undefined falls through, NO_REPLY defers", async () => {
  const fallThrough = resolveSipCallbacks({ sipMessage: () => undefined });
  assert.equal(status(await fallThrough.sipMessage(req, call)), 603);
  const deferred = resolveSipCallbacks({ sipMessage: () => NO_REPLY });
  assert.ok(isNoReply(await deferred.sipMessage(req, call)));
});

Deno.test("callbacks: method to callback mapping", () => {
  assert.equal(methodCallbackName("INVITE", false), "sipInvite");
  assert.equal(methodCallbackName("INVITE", true), "sipReinvite");
  assert.equal(methodCallbackName("OPTIONS", false), "sipOptions");
  assert.equal(methodCallbackName("FOO", false), undefined);
  assert.equal(methodCallbackName("ACK", false), undefined);
});
