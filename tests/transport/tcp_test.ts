import { assert } from "../test_deps.ts";
import { StreamConnection } from "../../transport/tcp.ts";
import type { Flow } from "../../transport/_flow.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A StreamConnection to a raw Deno TCP peer on 127.0.0.1. */
async function pair(): Promise<
  { conn: StreamConnection; peer: Deno.Conn; listener: Deno.Listener; closed: string[] }
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const raw = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const peer = await accepted;
  const closed: string[] = [];
  const conn = new StreamConnection({
    id: "tcp-test",
    transport: "tcp",
    conn: raw,
    outbound: true,
    listenerId: undefined,
    events: { onFrame: () => {}, onClose: (_f: Flow, reason: string) => closed.push(reason) },
    settings: {
      maxMessageSize: 65535,
      headerTimeout: 10_000,
      idleTimeout: 600_000,
      maxMalformed: 5,
    },
    now: () => Date.now(),
  });
  return { conn, peer, listener, closed };
}

/** Read from `peer` until `want` bytes arrived or the deadline passes. */
async function readBytes(peer: Deno.Conn, want: number, ms = 5000): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  let got = 0;
  const deadline = Date.now() + ms;
  while (got < want && Date.now() < deadline) {
    const n = await peer.read(buf);
    if (n === null) break;
    got += n;
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text;
}

// RFC 3261 §18.3: messages on a stream must not interleave; queued sends are coalesced into
// fewer writes, in call order.
Deno.test("tcp: 500 sends without awaiting arrive whole and in order, each promise resolves", async () => {
  const { conn, peer, listener } = await pair();
  try {
    const parts: string[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      const m = `OPTIONS sip:x SIP/2.0\r\nCSeq: ${i} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      parts.push(m);
      sends.push(conn.send(enc.encode(m)));
    }
    const expected = parts.join("");
    const [text] = await Promise.all([readBytes(peer, expected.length), Promise.all(sends)]);
    assert.equal(text, expected);
  } finally {
    conn.close();
    peer.close();
    listener.close();
  }
});

Deno.test("tcp: sends queued when the connection closes are rejected, none hangs", async () => {
  const { conn, peer, listener, closed } = await pair();
  try {
    const results = Array.from(
      { length: 20 },
      (_, i) => conn.send(enc.encode(`m${i}\r\n`)).then(() => "sent", () => "rejected"),
    );
    conn.close("test");
    const settled = await Promise.all(results);
    assert.equal(settled.length, 20);
    assert.equal(settled.at(-1), "rejected");
    assert.deepEqual(closed, ["test"]);
    await assert.rejects(conn.send(enc.encode("late")), /closed/);
  } finally {
    peer.close();
    listener.close();
  }
});
