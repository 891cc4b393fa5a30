// Two sipkit services: a CANCEL crossing the 200 of the INVITE it cancels. RFC 3261 §9.1: a
// CANCEL has no effect on a request that already got its final response; the 2xx must still
// be ACKed (§13.2.2.4), and a UAC that wanted the call no more ends the dialog with a BYE
// (§15). Both sides must end with no dialog, call, transaction or timer left.
import { assert } from "../test_deps.ts";
import { NO_REPLY } from "../../service/chain.ts";
import { type Service, start } from "../../service/service.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { withTempDir } from "./_helpers.ts";

const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 0\r\n";
const FAST = { t1: 20, t2: 160, t4: 200 };

async function settled(svc: Service, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  const idle = (): boolean => {
    const c = svc.stack.counts;
    return c.dialogs === 0 && c.calls === 0 && c.transactions === 0 &&
      c.pendingRequests === 0 && c.timers === 0;
  };
  while (!idle() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(svc.stack.counts, {
    transactions: 0,
    dialogs: 0,
    calls: 0,
    pendingRequests: 0,
    timers: 0,
  }, `${svc.name} left work in flight`);
}

for (const transport of ["udp", "tcp"] as const) {
  Deno.test(`CANCEL crossing the 200 (${transport}): the UAC cancels on the 180 while the UAS answers 200 right after it; ACK then BYE (RFC 3261 §9.1, §15)`, async () => {
    await withTempDir(async (dataDir) => {
      const registry = new ServiceRegistry();
      const uasSeen: string[] = [];
      await using uas = await start("race-uas", {
        dataDir,
        registry,
        timers: FAST,
        listen: [`sip:127.0.0.1:0;transport=${transport}`],
        callbacks: {
          sipInvite(_req, call) {
            uasSeen.push("INVITE");
            call.reply("ringing");
            return { answer: SDP }; // the 200 leaves right after the 180
          },
          sipCancel() {
            uasSeen.push("sipCancel");
          },
          sipAck() {
            uasSeen.push("ACK");
          },
          sipBye() {
            uasSeen.push("BYE");
            return "ok";
          },
        },
      });
      const uacSeen: string[] = [];
      await using uac = await start("race-uac", {
        dataDir,
        registry,
        timers: FAST,
        listen: [`sip:127.0.0.1:0;transport=${transport}`],
        callbacks: {
          sipDialogUpdate(status) {
            uacSeen.push(typeof status === "string" ? status : Object.keys(status)[0]!);
          },
        },
      });
      const port = uas.transports[0]!.port;
      const abort = new AbortController();
      const r = await uac.invite(`sip:bob@127.0.0.1:${port};transport=${transport}`, {
        body: SDP,
        signal: abort.signal,
        onProvisional: (res) => {
          if (res.status === 180) abort.abort(); // the CANCEL goes out as the 200 arrives
        },
      });
      assert.equal(r.status, 200, "the 2xx won the race: the CANCEL had no effect (§9.1)");
      assert.equal(r.dialog, undefined, "no dialog for the caller: it is being ended");
      const end = Date.now() + 5000;
      while (!uasSeen.includes("BYE") && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 10));
      }
      assert.deepEqual(uasSeen, ["INVITE", "ACK", "BYE"], "the 2xx was ACKed, then BYE");
      await settled(uac);
      await settled(uas);
      assert.ok(uacSeen.includes("stop"), uacSeen.join(","));
    });
  });
}

Deno.test("CANCEL crossing the 200 at random moments (UDP timeout vs delayed 200): whichever wins, both sides end clean", async () => {
  await withTempDir(async (dataDir) => {
    const registry = new ServiceRegistry();
    let delay = 0;
    await using uas = await start("race2-uas", {
      dataDir,
      registry,
      timers: FAST,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      callbacks: {
        sipInvite(_req, call) {
          call.reply("ringing");
          setTimeout(() => call.reply({ answer: SDP }), delay);
          return NO_REPLY;
        },
      },
    });
    await using uac = await start("race2-uac", {
      dataDir,
      registry,
      timers: FAST,
      listen: ["sip:127.0.0.1:0;transport=udp"],
    });
    const port = uas.transports[0]!.port;
    const outcomes = new Set<string>();
    for (let i = 0; i < 12; i++) {
      delay = 20 + (i % 6) * 4; // 20..40 ms, around the 30 ms timeout
      const r = await uac.invite(`sip:bob@127.0.0.1:${port}`, { body: SDP, timeout: 30 });
      assert.ok(r.status === 200 || r.status === 487, `status ${r.status}`);
      if (r.dialog !== undefined) {
        // Answered before the timeout: an ordinary call.
        outcomes.add("answered");
        assert.equal((await r.dialog.bye()).status, 200);
      } else {
        // 487: the CANCEL won; 200 without a dialog: the 2xx crossed it (ACK then BYE).
        outcomes.add(r.status === 487 ? "cancelled" : "crossed");
      }
    }
    await settled(uac);
    await settled(uas);
    assert.ok(outcomes.size >= 1, [...outcomes].join(","));
  });
});
