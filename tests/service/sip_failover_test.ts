// RFC 3263 §4.3 failover in the UAC of the SIP stack, with a fake DNS zone that maps SRV
// names to local targets: "If a failure occurs, the client SHOULD create a new request, which
// is identical to the previous, but has a different value of the Via branch ID than the
// previous (and therefore constitutes a new SIP transaction). That request is sent to the
// next element in the list" — on a transport failure, a timeout, or a 503 (RFC 3261 §21.5.4).
import { assert } from "../test_deps.ts";
import { createSipStack, type SipStack } from "../../service/sip_stack.ts";
import type { SipCallbacks } from "../../service/sip_callbacks.ts";
import type { SipRequest } from "../../sip/types.ts";
import type { DnsRecord, DnsRecordType, DnsResolver } from "../../transport/types.ts";

const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 0\r\n";

/** A fake zone: `"SRV _sip._udp.example.test"` → records; every lookup is logged. */
function fakeDns(zone: Record<string, DnsRecord[]>, log: string[] = []): DnsResolver {
  return {
    resolve(name: string, type: DnsRecordType): Promise<DnsRecord[]> {
      log.push(`${type} ${name}`);
      return Promise.resolve(zone[`${type} ${name}`] ?? []);
    },
  };
}

/** Two SRV targets for `_sip._<transport>.example.test`, `a` first (priority 0), then `b`. */
function twoTargets(transport: "udp" | "tcp", portA: number, portB: number) {
  return {
    [`SRV _sip._${transport}.example.test`]: [
      { type: "SRV", priority: 10, weight: 0, port: portB, target: "b.example.test" },
      { type: "SRV", priority: 0, weight: 0, port: portA, target: "a.example.test" },
    ],
    "A a.example.test": [{ type: "A", address: "127.0.0.1" }],
    "A b.example.test": [{ type: "A", address: "127.0.0.1" }],
  } satisfies Record<string, DnsRecord[]>;
}

interface Seen {
  method: string;
  branch: string;
  callId: string;
  cseq: number;
}

function recorder(seen: Seen[]) {
  return (req: SipRequest): void => {
    seen.push({
      method: req.method,
      branch: req.vias[0]?.branch ?? "",
      callId: req.callId,
      cseq: req.cseq.seq,
    });
  };
}

async function uasWith(
  transport: "udp" | "tcp",
  seen: Seen[],
  answer: "ok" | "service_unavailable" | "busy",
): Promise<SipStack> {
  const note = recorder(seen);
  const callbacks: Partial<SipCallbacks> = {
    sipOptions(req) {
      note(req);
      return answer;
    },
    sipInvite(req) {
      note(req);
      return answer === "ok" ? { answer: SDP } : answer;
    },
    sipBye(req) {
      note(req);
      return "ok";
    },
  };
  return await createSipStack({
    name: `uas-${answer}`,
    listen: [`sip:127.0.0.1:0;transport=${transport}`],
    timers: { t1: 20, t2: 160, t4: 200 },
    callbacks,
  });
}

async function closedTcpPort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await Promise.resolve();
  return port;
}

Deno.test("RFC 3263 §4.3: TCP, the first SRV target is down (connection refused): the request goes to the next target", async () => {
  const seen: Seen[] = [];
  const up = await uasWith("tcp", seen, "ok");
  const down = await closedTcpPort();
  const lookups: string[] = [];
  const uac = await createSipStack({
    name: "uac-failover-tcp",
    listen: ["sip:127.0.0.1:0;transport=tcp"],
    timers: { t1: 20, t2: 160, t4: 200 },
    transportOptions: { dns: fakeDns(twoTargets("tcp", down, up.transports[0]!.port), lookups) },
  });
  try {
    const r = await uac.options("sip:bob@example.test;transport=tcp");
    assert.equal(r.status, 200);
    assert.ok(lookups.includes("SRV _sip._tcp.example.test"), lookups.join(", "));
    assert.deepEqual(seen.map((s) => s.method), ["OPTIONS"]);
    // An INVITE fails over too, and its dialog works (ACK, BYE) with the target that answered.
    const inv = await uac.invite("sip:bob@example.test;transport=tcp", { body: SDP });
    assert.equal(inv.status, 200);
    assert.equal(inv.dialog?.state, "confirmed");
    assert.equal((await inv.dialog!.bye()).status, 200);
    assert.deepEqual(seen.map((s) => s.method), ["OPTIONS", "INVITE", "BYE"]);
    assert.equal(uac.counts.dialogs, 0);
    assert.equal(uac.counts.pendingRequests, 0);
  } finally {
    await uac.close(0);
    await up.close(0);
  }
});

Deno.test("RFC 3263 §4.3 / RFC 3261 §21.5.4: UDP, the first target answers 503: the same request, with a new branch, goes to the next one", async () => {
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const a = await uasWith("udp", seenA, "service_unavailable");
  const b = await uasWith("udp", seenB, "ok");
  const uac = await createSipStack({
    name: "uac-failover-503",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: { t1: 20, t2: 160, t4: 200 },
    transportOptions: {
      dns: fakeDns(twoTargets("udp", a.transports[0]!.port, b.transports[0]!.port)),
    },
  });
  try {
    const inv = await uac.invite("sip:bob@example.test;transport=udp", { body: SDP });
    assert.equal(inv.status, 200);
    assert.equal(seenA.length, 1);
    assert.equal(seenB.length, 1);
    const [first, second] = [seenA[0]!, seenB[0]!];
    assert.notEqual(first.branch, second.branch, "a new transaction: a new Via branch");
    assert.ok(second.branch.startsWith("z9hG4bK"));
    assert.equal(first.callId, second.callId, "an identical request: same Call-ID");
    assert.equal(first.cseq, second.cseq, "an identical request: same CSeq");
    assert.equal((await inv.dialog!.bye()).status, 200);
    assert.equal(seenA.length, 1, "the BYE goes to the dialog's remote target only");
    // The 503 left nothing behind on A; B's dialog ended with the BYE.
    assert.equal(a.counts.dialogs, 0);
    assert.equal(b.counts.dialogs, 0);
    assert.equal(uac.counts.dialogs, 0);
    // Non-INVITE too.
    assert.equal((await uac.options("sip:bob@example.test;transport=udp")).status, 200);
    assert.equal(seenA.length, 2);
    assert.equal(seenB.length, 3);
  } finally {
    await uac.close(0);
    await a.close(0);
    await b.close(0);
  }
});

Deno.test("RFC 3263 §4.3: other failures (486) do not fail over; when every target fails, the last failure is returned", async () => {
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const busy = await uasWith("udp", seenA, "busy");
  const unavailable = await uasWith("udp", seenB, "service_unavailable");
  // A second 503 server (the same one twice would see a merged request, §8.2.2.2: 482).
  const seenC: Seen[] = [];
  const unavailable2 = await uasWith("udp", seenC, "service_unavailable");
  const uac = await createSipStack({
    name: "uac-failover-none",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: { t1: 20, t2: 160, t4: 200 },
    transportOptions: {
      dns: fakeDns({
        ...twoTargets("udp", busy.transports[0]!.port, unavailable.transports[0]!.port),
        // c: both targets answer 503.
        "SRV _sip._udp.c.example.test": [
          {
            type: "SRV",
            priority: 0,
            weight: 0,
            port: unavailable.transports[0]!.port,
            target: "b.example.test",
          },
          {
            type: "SRV",
            priority: 1,
            weight: 0,
            port: unavailable2.transports[0]!.port,
            target: "a.example.test",
          },
        ],
      }),
    },
  });
  try {
    const r = await uac.invite("sip:bob@example.test;transport=udp", { body: SDP });
    assert.equal(r.status, 486);
    assert.equal(seenA.length, 1);
    assert.equal(seenB.length, 0, "no failover on a 486");
    const all = await uac.options("sip:bob@c.example.test;transport=udp");
    assert.equal(all.status, 503);
    assert.ok(all.response !== undefined, "the last target's 503 is the result");
    assert.equal(seenB.length, 1, "both targets were tried, once each");
    assert.equal(seenC.length, 1);
    assert.equal(uac.counts.pendingRequests, 0);
  } finally {
    await uac.close(0);
    await busy.close(0);
    await unavailable.close(0);
    await unavailable2.close(0);
  }
});
