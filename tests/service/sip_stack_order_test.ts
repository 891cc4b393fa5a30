// Response order at the stack level: the SIP stack hands each response to the transport as
// soon as the transaction sends it (no per-transaction promise chain); the transport keeps
// the sends of one socket in order. This test keeps that guarantee covered end to end.
import { assert } from "../test_deps.ts";
import { createSipStack } from "../../service/sip_stack.ts";

const SDP_OFFER = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 0\r\n";
const SDP_ANSWER = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40002 RTP/AVP 0\r\n";
const CALLS = 300;

// RFC 3261 §17.2.1 / §13.3.1: the 180 Ringing a UAS sends before its 200 must reach the UAC
// first (an INVITE client transaction that got the 2xx drops a late 180, so a reordering
// shows up as a call without its 180). Many INVITEs at once over UDP, each answered 180 then
// 200 in the same tick, put hundreds of sends in flight together.
Deno.test("stack over UDP: for many concurrent INVITEs, each 180 reaches the UAC before its 200", async () => {
  const timers = { t1: 100, t2: 400, t4: 500 };
  const uas = await createSipStack({
    name: "order-uas",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers,
    tryingDelay: false,
    closeTimeout: 2000,
    callbacks: {
      sipInvite(_req, call) {
        call.reply("ringing");
        return { answer: SDP_ANSWER };
      },
    },
  });
  // Every response as the UAC's transport delivered it, in arrival order, per Call-ID
  // (a reordered 180 still arrives, after the 200; a dropped one just is not there).
  const arrived = new Map<string, number[]>();
  const uac = await createSipStack({
    name: "order-uac",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers,
    closeTimeout: 2000,
    hooks: {
      active: true,
      messageIn(message) {
        if (message.kind !== "response" || message.cseq.method !== "INVITE") return;
        const list = arrived.get(message.callId) ?? [];
        list.push(message.status);
        arrived.set(message.callId, list);
      },
      messageOut() {},
    },
  });
  try {
    const port = uas.transports[0]!.port;
    const results = await Promise.all(
      Array.from({ length: CALLS }, async () => {
        const r = await uac.invite(`sip:uas@127.0.0.1:${port}`, {
          body: SDP_OFFER,
          timeout: 10_000,
        });
        return r.status;
      }),
    );
    const answered = results.filter((status) => status === 200).length;
    // Loopback may drop a datagram under load (the INVITE is then retransmitted), but
    // nearly every call must be answered, with both responses seen, for the check to mean
    // anything.
    assert.ok(answered >= CALLS * 0.9, `only ${answered} of ${CALLS} answered`);
    let both = 0;
    let late = 0;
    for (const statuses of arrived.values()) {
      const first200 = statuses.indexOf(200);
      const last180 = statuses.lastIndexOf(180);
      if (first200 < 0 || last180 < 0) continue;
      both++;
      if (last180 > first200) late++;
    }
    // The kernel drops datagrams on loopback when the receiver falls behind (a dropped 180
    // is not resent once the 200 went out); the order of those that arrive is the point.
    assert.ok(both >= CALLS / 10, `only ${both} of ${CALLS} calls saw both 180 and 200`);
    assert.equal(late, 0, `in ${late} of ${both} calls a 180 arrived after the 200`);
  } finally {
    await uac.close(0);
    await uas.close(0);
  }
});
