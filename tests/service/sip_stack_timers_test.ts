// SIP stack timers on fake time and an in-memory network (no sockets, no real sleeps).
import { assert, FakeTimers } from "../test_deps.ts";
import { createSipStack, type SipStack } from "../../service/sip_stack.ts";
import { fakeClockOf } from "./_helpers.ts";
import { MemoryNetwork, type MemoryPacket, MemoryTransport } from "../../transport/memory.ts";

const SDP = "v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
  "m=audio 4000 RTP/AVP 0\r\n";

function firstLine(p: MemoryPacket): string {
  const text = new TextDecoder().decode(p.data);
  const cseq = /\r\nCSeq: *(\d+ \w+)/i.exec(text)?.[1] ?? "";
  return `${text.slice(0, text.indexOf("\r\n"))} (${cseq})`;
}

Deno.test(
  "sip stack: RFC 3261 §13.3.1.4 2xx retransmitted at T1, 2T1, ... capped at T2; BYE after 64*T1 without ACK",
  async () => {
    const fake = FakeTimers.createClock(0);
    const clock = fakeClockOf(fake);
    const log: { at: number; line: string }[] = [];
    const net = new MemoryNetwork({
      filter: (p) => {
        const line = firstLine(p);
        log.push({ at: fake.now, line });
        return !line.startsWith("ACK "); // every ACK is lost
      },
    });
    const mk = async (name: string, host: string, cbs = {}): Promise<SipStack> =>
      await createSipStack({
        name,
        transport: new MemoryTransport(net, { now: () => fake.now }),
        listen: [`sip:${host}:5060;transport=udp`],
        clock,
        callbacks: cbs,
        tryingDelay: false,
        closeTimeout: 0,
      });
    let byeAt = -1;
    const uas = await mk("uas", "10.0.0.1", { sipInvite: () => ({ answer: SDP }) });
    const uac = await mk("uac", "10.0.0.2", {
      sipBye: () => {
        byeAt = fake.now;
        return "ok";
      },
    });
    try {
      const r = await uac.invite("sip:bob@10.0.0.1:5060", { body: SDP });
      assert.equal(r.status, 200);
      for (let i = 0; i < 70 && byeAt < 0; i++) await fake.tickAsync(500);
      const oks = log.filter((l) => l.line.startsWith("SIP/2.0 200") && l.line.endsWith("INVITE)"))
        .map((l) => l.at);
      // First 200 at 0, then T1=500 doubling, capped at T2=4000 (§13.3.1.4, §17.2.1).
      assert.deepEqual(
        oks.slice(0, 8),
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500],
      );
      // The UAC resends its ACK for every retransmitted 2xx (§13.2.2.4).
      const acks = log.filter((l) => l.line.startsWith("ACK ")).length;
      assert.equal(acks, oks.length);
      // No ACK within 64*T1 = 32 s: the UAS ends the dialog with a BYE.
      assert.equal(byeAt, 32_000);
      assert.equal(uas.counts.dialogs, 0);
      assert.equal(uac.counts.dialogs, 0);
    } finally {
      await uac.close(0);
      await uas.close(0);
    }
    // Everything is cleaned up: no transaction, dialog or timer left.
    assert.equal(uas.counts.timers, 0);
    assert.equal(uac.counts.timers, 0);
    assert.equal(fake.countTimers(), 0);
  },
);

Deno.test(
  "sip stack: RFC 3261 §17.1.2.2 a non-INVITE request without an answer ends with a local 408 after 64*T1",
  async () => {
    const fake = FakeTimers.createClock(0);
    const clock = fakeClockOf(fake);
    const sent: number[] = [];
    const net = new MemoryNetwork({
      filter: (p) => {
        if (firstLine(p).startsWith("OPTIONS")) sent.push(fake.now);
        return false; // the network loses everything
      },
    });
    // A peer that exists but never gets anything.
    await using silent = new MemoryTransport(net, { now: () => fake.now });
    await silent.listen("sip:10.0.0.9:5060;transport=udp");
    const uac = await createSipStack({
      name: "uac",
      transport: new MemoryTransport(net, { now: () => fake.now }),
      listen: ["sip:10.0.0.2:5060;transport=udp"],
      clock,
      closeTimeout: 0,
    });
    try {
      const p = uac.options("sip:10.0.0.9:5060");
      let result;
      p.then((r) => (result = r));
      for (let i = 0; i < 70 && result === undefined; i++) await fake.tickAsync(500);
      const r = await p;
      assert.equal(r.status, 408);
      assert.equal(r.response, undefined);
      // Timer E: 0, 500, 1500, 3500, 7500, then every T2 = 4 s; Timer F at 32 s.
      assert.deepEqual(sent.slice(0, 6), [0, 500, 1500, 3500, 7500, 11500]);
      assert.equal(fake.now, 32_000);
    } finally {
      await uac.close(0);
    }
  },
);
