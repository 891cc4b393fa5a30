// Two sipkit services (start(), with callbacks composed as chains) exchange every SIP method
// over real sockets on 127.0.0.1, over UDP and over TCP.
import { assert } from "../test_deps.ts";
import { NO_REPLY } from "../../service/chain.ts";
import { type Service, start } from "../../service/service.ts";
import type { DialogHandle } from "../../service/sip_stack.ts";
import { ServiceRegistry } from "../../service/registry.ts";

const OFFER = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40000 RTP/AVP 0\r\n";
const ANSWER = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 40002 RTP/AVP 0\r\n";

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function uri(svc: Service, transport: "udp" | "tcp"): string {
  const l = svc.transports.find((t) => t.transport === transport)!;
  return `sip:bob@127.0.0.1:${l.port}${transport === "tcp" ? ";transport=tcp" : ""}`;
}

for (const transport of ["udp", "tcp"] as const) {
  Deno.test(`sip service (${transport}): UAC and UAS services exchange every method`, async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "sipkit-sip-svc-" });
    const registry = new ServiceRegistry();
    const seen: string[] = [];
    const uasDialogs: DialogHandle[] = [];
    let crashOnce = true;
    const uas = await start(`uas-${transport}`, {
      listen: ["sip:127.0.0.1:0"],
      dataDir,
      registry,
      timers: { t1: 20, t2: 160, t4: 200 },
      callbacks: {
        init(state: Record<string, unknown>) {
          state.count = 0;
        },
        sipOptions(req) {
          seen.push(req.method);
          return undefined; // default: 200 with Allow, Accept, Supported
        },
        sipRegister(req) {
          seen.push(req.method);
          return "ok";
        },
        sipInvite(req, call) {
          seen.push(req.method);
          call.reply("ringing");
          setTimeout(() => call.reply({ answer: ANSWER }), 10);
          return NO_REPLY;
        },
        sipReinvite(req) {
          seen.push(`re-${req.method}`);
          return { answer: ANSWER };
        },
        sipAck(req, call) {
          seen.push(req.method);
          if (call.dialog !== undefined) uasDialogs.push(call.dialog);
        },
        sipUpdate(req) {
          seen.push(req.method);
          return { answer: ANSWER };
        },
        sipInfo(req) {
          seen.push(req.method);
          if (crashOnce) {
            crashOnce = false;
            throw new Error("boom"); // a throwing SIP callback answers 500, the service lives
          }
          return "ok";
        },
        sipMessage(req) {
          seen.push(`${req.method}:${req.bodyText()}`);
          return "ok";
        },
        sipSubscribe(req) {
          seen.push(req.method);
          return { status: 200, headers: { Expires: "60" } };
        },
        sipNotify(req) {
          seen.push(req.method);
          return "ok";
        },
        sipRefer(req) {
          seen.push(req.method);
          return "accepted";
        },
        sipPublish(req) {
          seen.push(req.method);
          return "ok";
        },
        sipBye(req) {
          seen.push(req.method);
          return undefined; // default: 200
        },
      },
    });
    const uac = await start(`uac-${transport}`, {
      listen: ["sip:127.0.0.1:0"],
      dataDir,
      registry,
      timers: { t1: 20, t2: 160, t4: 200 },
    });
    try {
      const to = uri(uas, transport);
      assert.equal((await uac.options(to)).status, 200);
      assert.equal((await uac.register(to, { expires: 60 })).status, 200);
      assert.equal((await uac.info(to)).status, 500);
      assert.equal((await uac.info(to)).status, 200);
      assert.equal((await uac.message(to, { body: "hi" })).status, 200);
      assert.equal((await uac.subscribe(to, { event: "presence" })).status, 200);
      assert.equal((await uac.notify(to, { event: "presence" })).status, 200);
      assert.equal((await uac.refer(to, { referTo: "<sip:carol@127.0.0.1>" })).status, 202);
      assert.equal((await uac.publish(to, { event: "presence", body: "x" })).status, 200);
      assert.equal((await uac.request("MESSAGE", to, { body: "generic" })).status, 200);
      const inv = await uac.invite(to, { body: OFFER });
      assert.equal(inv.status, 200);
      const d = inv.dialog!;
      await waitFor(() => uasDialogs.length === 1);
      assert.equal((await d.update({ body: OFFER })).status, 200);
      assert.equal((await d.reinvite({ body: OFFER })).status, 200);
      // BYE from the UAS side this time.
      assert.equal((await uasDialogs[0]!.bye()).status, 200);
      await waitFor(() => d.state === "terminated");
      for (
        const m of [
          "OPTIONS",
          "REGISTER",
          "INFO",
          "MESSAGE:hi",
          "MESSAGE:generic",
          "SUBSCRIBE",
          "NOTIFY",
          "REFER",
          "PUBLISH",
          "INVITE",
          "ACK",
          "UPDATE",
          "re-INVITE",
        ]
      ) {
        assert.ok(seen.includes(m), `${m} missing from ${seen.join(",")}`);
      }
    } finally {
      await uac.stop();
      await uas.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  });
}

Deno.test("sip service: a SIP callback uses the service API on its own call", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sipkit-sip-svc-" });
  const registry = new ServiceRegistry();
  let updateStatus = 0;
  let counted = 0;
  const uac = await start("uac-self", {
    listen: ["sip:127.0.0.1:0;transport=udp"],
    dataDir,
    registry,
    callbacks: { sipUpdate: () => ({ answer: ANSWER }) },
  });
  const uas: Service = await start("uas-self", {
    listen: ["sip:127.0.0.1:0;transport=udp"],
    dataDir,
    registry,
    callbacks: {
      init(state: Record<string, unknown>) {
        state.n = 0;
      },
      handleCall(_req: unknown, _from, state: Record<string, unknown>) {
        state.n = (state.n as number) + 1;
        return state.n;
      },
      sipInvite: () => ({ answer: ANSWER }),
      async sipInfo(_req, call) {
        // gen_server call from a SIP callback, then a request on the same call.
        counted = (await uas.call("count")) as number;
        updateStatus = (await call.dialog!.update({ body: OFFER })).status;
        return "ok";
      },
    },
  });
  try {
    const inv = await uac.invite(uri(uas, "udp"), { body: OFFER });
    assert.equal(inv.status, 200);
    assert.equal((await inv.dialog!.info()).status, 200);
    assert.equal(updateStatus, 200);
    assert.equal(counted, 1);
    // NkSIP: without sipReinvite, a re-INVITE goes to sipInvite (here: answered 200).
    const re = await inv.dialog!.reinvite({ body: OFFER });
    assert.equal(re.status, 200);
    assert.equal(re.response?.bodyText(), ANSWER);
    assert.equal((await inv.dialog!.bye()).status, 200);
  } finally {
    await uac.stop();
    await uas.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
