// RFC 5118 (SIP torture test messages for IPv6): every message of section 4, handled as the
// RFC says. The fixtures were typed from the RFC text (see tests/fixtures/rfc5118/manifest.json).
import { assert } from "../test_deps.ts";
import { parseMessage } from "../../sip/parser.ts";
import { validateMessage } from "../../sip/validate.ts";
import { SipParseError } from "../../sip/errors.ts";
import type { SipMessage, SipRequest } from "../../sip/types.ts";

interface Entry {
  name: string;
  file: string;
  section: string;
  title: string;
  verdict: "valid" | "invalid" | "valid-syntax";
  reason: string;
  body_bytes: number;
}

const dir = new URL("../fixtures/rfc5118/", import.meta.url);
const manifest: { messages: Entry[] } = JSON.parse(
  Deno.readTextFileSync(new URL("manifest.json", dir)),
);

function req(m: SipMessage): SipRequest {
  assert.equal(m.kind, "request");
  return m as SipRequest;
}

const CHECKS: Record<string, (r: SipRequest) => void> = {
  "ipv6-good"(r) {
    // "An IPv6 reference appears in the Request-URI, Via header field, and Contact".
    assert.equal(r.uri.host, "[2001:db8::10]");
    assert.equal(r.uri.port, undefined);
    assert.equal(r.vias[0]!.host, "[2001:db8::9:1]");
    assert.equal(r.contacts[0]!.uri.host, "[2001:db8::1]");
    assert.equal(r.contacts[0]!.displayName, "Caller");
  },
  "port-ambiguous"(r) {
    // "[2001:db8::10:5070]" is an IPv6 address; 5070 is not a port.
    assert.equal(r.uri.host, "[2001:db8::10:5070]");
    assert.equal(r.uri.port, undefined);
  },
  "port-unambiguous"(r) {
    assert.equal(r.uri.host, "[2001:db8::10]");
    assert.equal(r.uri.port, 5070);
  },
  "via-received-brackets"(r) {
    // "robust implementations must nonetheless be able to parse the topmost Via".
    const v = r.vias[0]!;
    assert.equal(v.host, "[2001:db8::9:1]");
    assert.ok(v.received !== undefined && v.received.includes("2001:db8::9:255"));
    assert.equal(v.branch, "z9hG4bKas3-111");
  },
  "via-received-nobrackets"(r) {
    const v = r.vias[0]!;
    assert.equal(v.received, "2001:db8::9:255");
    assert.equal(v.branch, "z9hG4bKas3");
    assert.equal(r.contacts[0]!.uri.host, "[2001:db8::9:1]");
  },
  "ipv6-sdp"(r) {
    assert.equal(r.uri.host, "[2001:db8::10]");
    assert.equal(r.contentType, "application/sdp");
    // "the IPv6 addresses in the SDP body do not have the delimiting '[' and ']'".
    assert.ok(r.bodyText().includes("c=IN IP6 2001:db8::20\r\n"));
  },
  "mixed-via"(r) {
    assert.deepEqual(r.vias.map((v) => [v.transport, v.host, v.port]), [
      ["UDP", "[2001:db8::9:1]", 6050],
      ["UDP", "192.0.2.1", undefined],
      ["TCP", "[2001:db8::9:255]", undefined],
    ]);
    assert.equal(r.vias[2]!.received, "192.0.2.200");
  },
  "mixed-sdp"(r) {
    assert.ok(r.bodyText().includes("c=IN IP4 192.0.2.1\r\n"));
    assert.ok(r.bodyText().includes("c=IN IP6 2001:db8::1\r\n"));
  },
  "ipv4-mapped"(r) {
    assert.equal(r.vias[0]!.host, "[::ffff:192.0.2.10]");
    assert.equal(r.vias[0]!.port, 19823);
    assert.equal(r.vias[1]!.host, "[::ffff:192.0.2.2]");
    assert.equal(r.contacts[0]!.uri.host, "[::ffff:192.0.2.2]");
    assert.equal(r.contacts[0]!.displayName, "T. desk phone");
  },
  "ipv6-correct-v4"(r) {
    assert.equal(r.uri.host, "[2001:db8::192.0.2.1]");
    assert.equal(r.to.uri.host, "[2001:db8::192.0.2.1]");
  },
};

for (const e of manifest.messages) {
  const expect = e.verdict === "invalid"
    ? "must be rejected with 400"
    : e.verdict === "valid"
    ? "must be accepted"
    : "may be parsed robustly or rejected, never crash";
  Deno.test(`RFC 5118 §${e.section} ${e.name} (${e.title}) ${expect}: ${e.reason}`, () => {
    const bytes = Deno.readFileSync(new URL(e.file, dir));
    if (e.verdict === "invalid") {
      let msg: SipMessage;
      try {
        msg = parseMessage(bytes);
      } catch (err) {
        assert.ok(err instanceof SipParseError, `unexpected ${err}`);
        return;
      }
      const failure = validateMessage(msg);
      assert.equal(failure?.status, 400, "the RFC says respond 400 Bad Request");
      return;
    }
    if (e.verdict === "valid-syntax") {
      // §4.10: accept the extra colon robustly, or answer 400; anything else is a bug.
      let msg: SipMessage;
      try {
        msg = parseMessage(bytes);
      } catch (err) {
        assert.ok(err instanceof SipParseError, `unexpected ${err}`);
        return;
      }
      const failure = validateMessage(msg);
      if (failure !== undefined) assert.equal(failure.status, 400);
      else assert.ok(req(msg).uri.host.startsWith("[2001:db8:"));
      return;
    }
    const msg = parseMessage(bytes);
    assert.equal(validateMessage(msg), undefined);
    assert.equal(msg.body.length, e.body_bytes);
    const check = CHECKS[e.name];
    assert.ok(check !== undefined, `no field checks written for ${e.name}`);
    check(req(msg));
    assert.deepEqual(msg.toBytes(), bytes);
  });
}
