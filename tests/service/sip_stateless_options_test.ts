// RFC 3261 §8.2.7: out-of-dialog OPTIONS that only the default callbacks would see are
// answered statelessly. Raw UDP datagrams on 127.0.0.1 against a real stack.
import { assert } from "../test_deps.ts";
import dgram from "node:dgram";
import { createSipStack, type SipStack, type SipStackOptions } from "../../service/sip_stack.ts";
import type { MessageHooks } from "../../service/types.ts";
import { parseMessage } from "../../sip/parser.ts";
import type { SipMessage, SipResponse } from "../../sip/types.ts";

const TIMERS = { t1: 20, t2: 160, t4: 200 };

async function stack(options: Partial<SipStackOptions> = {}): Promise<SipStack> {
  return await createSipStack({
    name: "uas",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: TIMERS,
    closeTimeout: 500,
    ...options,
  });
}

/** A raw UDP peer: sends text, returns the datagrams it gets within `ms`. */
async function rawPeer(): Promise<{
  port: number;
  exchange(text: string, to: number, want: number, ms?: number): Promise<string[]>;
  close(): void;
}> {
  const sock = dgram.createSocket("udp4");
  const got: string[] = [];
  sock.on("message", (m: Uint8Array) => got.push(new TextDecoder().decode(m)));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const port = sock.address().port;
  return {
    port,
    async exchange(text, to, want, ms = 2000): Promise<string[]> {
      got.length = 0;
      sock.send(text, to, "127.0.0.1");
      const end = Date.now() + ms;
      while (got.length < want && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      return [...got];
    },
    close: () => sock.close(),
  };
}

function options(port: number, id: string, extra = ""): string {
  return `OPTIONS sip:uas@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${id};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=f-${id}\r\n` +
    `To: <sip:uas@127.0.0.1>\r\nCall-ID: ${id}@127.0.0.1\r\nCSeq: 7 OPTIONS\r\n` +
    `${extra}Content-Length: 0\r\n\r\n`;
}

function res(text: string | undefined): SipResponse {
  assert.ok(text !== undefined, "no response");
  const m = parseMessage(text);
  assert.equal(m.kind, "response");
  return m as SipResponse;
}

Deno.test("stateless OPTIONS: a 200 with the capability headers, no transaction kept; a retransmission gets the same response (RFC 3261 §8.2.7)", async () => {
  const uas = await stack({ supported: ["path"], events: ["presence"] });
  const peer = await rawPeer();
  try {
    const port = uas.transports[0]!.port;
    const [a] = await peer.exchange(options(peer.port, "one"), port, 1);
    const r = res(a);
    assert.equal(r.status, 200);
    assert.equal(r.callId, "one@127.0.0.1");
    assert.deepEqual({ ...r.cseq }, { seq: 7, method: "OPTIONS" });
    assert.equal(r.from.tag, "f-one");
    assert.match(r.to.tag ?? "", /^s[0-9a-f]{16}$/);
    assert.equal(r.headers("Allow").join(", "), uas.capabilities.allow.join(", "));
    assert.equal(r.header("Supported"), "path");
    assert.equal(r.header("Allow-Events"), "presence");
    // RFC 3581: rport filled in, received added (the sent-by matches, so no received).
    assert.equal(r.vias[0]!.rport, peer.port);
    assert.equal(uas.statelessReplies, 1);
    assert.equal(uas.counts.transactions, 0, "no server transaction for a stateless reply");
    assert.equal(uas.counts.calls, 0);
    // The retransmission: the identical response, To tag included.
    const [b] = await peer.exchange(options(peer.port, "one"), port, 1);
    assert.equal(b, a);
    assert.equal(uas.statelessReplies, 2);
    // Another request: another tag.
    const [c] = await peer.exchange(options(peer.port, "two"), port, 1);
    assert.notEqual(res(c).to.tag, r.to.tag);
  } finally {
    peer.close();
    await uas.close(0);
  }
});

Deno.test("stateless OPTIONS: what the stateful path must see still goes there", async (t) => {
  const peer = await rawPeer();
  try {
    await t.step("a user sipOptions callback", async () => {
      const uas = await stack({
        callbacks: { sipOptions: () => ({ status: 200, reason: "Mine" }) },
      });
      try {
        const [a] = await peer.exchange(options(peer.port, "cb"), uas.transports[0]!.port, 1);
        assert.equal(res(a).reason, "Mine");
        assert.equal(uas.statelessReplies, 0);
      } finally {
        await uas.close(0);
      }
    });
    await t.step("a sipRoute or sipAuthorize callback", async () => {
      for (
        const callbacks of [
          { sipRoute: () => ({ reply: 404 }) },
          { sipAuthorize: () => "forbidden" as const },
        ]
      ) {
        const uas = await stack({ callbacks });
        try {
          const [a] = await peer.exchange(options(peer.port, "rt"), uas.transports[0]!.port, 1);
          assert.ok(res(a).status >= 400, `got ${res(a).status}`);
          assert.equal(uas.statelessReplies, 0);
        } finally {
          await uas.close(0);
        }
      }
    });
    await t.step(
      "in-dialog (To tag), unsupported Require, credentials, bad Max-Forwards",
      async () => {
        const uas = await stack();
        try {
          const port = uas.transports[0]!.port;
          const inDialog = options(peer.port, "dlg").replace(
            "To: <sip:uas@127.0.0.1>",
            "To: <sip:uas@127.0.0.1>;tag=x",
          );
          assert.equal(res((await peer.exchange(inDialog, port, 1))[0]).status, 481);
          const require = options(peer.port, "req", "Require: foo\r\n");
          const r420 = res((await peer.exchange(require, port, 1))[0]);
          assert.equal(r420.status, 420);
          assert.equal(r420.header("Unsupported"), "foo");
          const creds = options(
            peer.port,
            "cred",
            'Authorization: Digest username="a", realm="uas", nonce="n", uri="sip:uas@127.0.0.1", response="00000000000000000000000000000000"\r\n',
          );
          // Credentials go through the Digest checks (an unknown nonce/user: not a stateless 200
          // without looking at them).
          assert.ok((await peer.exchange(creds, port, 1)).length === 1);
          const badMf = options(peer.port, "mf").replace("Max-Forwards: 70", "Max-Forwards: abc");
          assert.equal(res((await peer.exchange(badMf, port, 1))[0]).status, 400);
          assert.equal(uas.statelessReplies, 0);
        } finally {
          await uas.close(0);
        }
      },
    );
  } finally {
    peer.close();
  }
});

Deno.test("stateless OPTIONS: message hooks see the request and the reply", async () => {
  const seen: string[] = [];
  const hooks: MessageHooks = {
    active: true,
    messageIn: (m: SipMessage) => seen.push(`in ${m.kind === "request" ? m.method : m.status}`),
    messageOut: (m: SipMessage) => seen.push(`out ${m.kind === "request" ? m.method : m.status}`),
  };
  const uas = await stack({ hooks });
  const peer = await rawPeer();
  try {
    await peer.exchange(options(peer.port, "hk"), uas.transports[0]!.port, 1);
    const end = Date.now() + 2000;
    while (seen.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(seen, ["in OPTIONS", "out 200"]);
    assert.equal(uas.statelessReplies, 1);
  } finally {
    peer.close();
    await uas.close(0);
  }
});
