// What the stack answers for a callback: a request that no callback ever replies to, and the
// sipRoute decisions that answer at once. Fake time and an in-memory network.
import { assert } from "../test_deps.ts";
import { NO_REPLY } from "../../service/chain.ts";
import { messageResult, rig, runUntil } from "./_memory_rig.ts";

Deno.test("sip stack: a non-INVITE whose callback returned NO_REPLY and never replied is answered 500 after 32*T1, before the client's Timer F", async () => {
  const { fake, log, mk } = rig();
  // Both on the default T1 (500 ms): the guard at 16 s comes before the UAC's Timer F (32 s).
  const uas = await mk("uas", "10.0.0.1", { callbacks: { sipMessage: () => NO_REPLY } });
  const uac = await mk("uac", "10.0.0.2");
  try {
    const { status, reason } = await messageResult(fake, uac, 40_000);
    assert.equal(status, 500);
    assert.equal(reason, "No Reply From Callback");
    const sent = log.find((l) => l.line.startsWith("SIP/2.0 500"));
    assert.ok(sent !== undefined);
    assert.equal(sent.at, 16_000); // 32 * T1 after the request arrived at 0
    assert.equal(uas.counts.calls, 0, "the unanswered request is not kept");
  } finally {
    await uac.close();
    await uas.close();
  }
});

Deno.test("sip stack: an INVITE whose callback returned NO_REPLY and never replied gets 100 at once and 408 at inviteTimeout", async () => {
  const { fake, log, mk } = rig();
  const uas = await mk("uas", "10.0.0.1", {
    inviteTimeout: 5_000,
    tryingDelay: 0,
    callbacks: { sipInvite: () => NO_REPLY },
  });
  const uac = await mk("uac", "10.0.0.2", { inviteTimeout: 60_000 });
  try {
    let status = 0;
    const p = uac.invite("sip:bob@10.0.0.1:5060", {}).then((r) => {
      status = r.status;
    });
    await runUntil(fake, () => status !== 0, 20_000);
    await p;
    assert.equal(status, 408);
    const trying = log.find((l) => l.line.startsWith("SIP/2.0 100"));
    assert.ok(trying !== undefined && trying.at === 0, "100 Trying stops the UAC's Timer A/B");
    assert.equal(log.find((l) => l.line.startsWith("SIP/2.0 408"))?.at, 5_000);
    // The 408 is ACKed (hop by hop, §17.1.1.3) and nothing else is sent: no CANCEL.
    assert.ok(log.some((l) => l.line.startsWith("ACK ")));
    assert.ok(!log.some((l) => l.line.startsWith("CANCEL ")));
  } finally {
    await uac.close();
    await uas.close();
  }
});

Deno.test("sip stack: sipRoute decisions that answer at once", async (t) => {
  const cases: { name: string; decision: unknown; status: number; reason?: string }[] = [
    { name: "{ reply }", decision: { reply: { status: 404, reason: "Nobody Here" } }, status: 404 },
    { name: "{ replyStateless }", decision: { replyStateless: "forbidden" }, status: 403 },
    {
      name: "a proxy decision (not implemented)",
      decision: "proxy",
      status: 501,
      reason: "Proxying Not Implemented",
    },
    {
      name: "a proxy-to decision (not implemented)",
      decision: { proxy: "ruri" },
      status: 501,
      reason: "Proxying Not Implemented",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { fake, mk } = rig();
      let messageCalled = false;
      const uas = await mk("uas", "10.0.0.1", {
        callbacks: {
          sipRoute: () => c.decision as "process",
          sipMessage: () => {
            messageCalled = true;
            return "ok";
          },
        },
      });
      const uac = await mk("uac", "10.0.0.2");
      try {
        const { status, reason } = await messageResult(fake, uac, 5_000);
        assert.equal(status, c.status);
        if (c.reason !== undefined) assert.equal(reason, c.reason);
        assert.equal(messageCalled, false, "the method callback is not reached");
      } finally {
        await uac.close();
        await uas.close();
      }
    });
  }
});

Deno.test("sip stack: sipAuthorize decisions and the challenge each sends", async (t) => {
  const cases: { decision: unknown; status: number; header?: string; realm?: string }[] = [
    { decision: "forbidden", status: 403 },
    { decision: "authenticate", status: 401, header: "WWW-Authenticate", realm: "10.0.0.1" },
    {
      decision: "proxy_authenticate",
      status: 407,
      header: "Proxy-Authenticate",
      realm: "10.0.0.1",
    },
    { decision: { authenticate: "a.example" }, status: 401, header: "WWW-Authenticate" },
    { decision: { proxyAuthenticate: "b.example" }, status: 407, header: "Proxy-Authenticate" },
    { decision: "maybe", status: 500 },
  ];
  for (const c of cases) {
    await t.step(JSON.stringify(c.decision), async () => {
      const { fake, mk } = rig();
      const uas = await mk("uas", "10.0.0.1", {
        realm: "10.0.0.1",
        callbacks: { sipAuthorize: () => c.decision as "ok", sipMessage: () => "ok" },
      });
      const uac = await mk("uac", "10.0.0.2");
      try {
        const res = await messageResult(fake, uac, 5_000);
        assert.equal(res.status, c.status);
        if (c.header !== undefined) {
          const challenge = res.response?.header(c.header) ?? "";
          const realm = c.realm ?? Object.values(c.decision as Record<string, string>)[0];
          assert.match(challenge, new RegExp(`^Digest realm="${realm}", nonce="[^"]+"`));
        }
      } finally {
        await uac.close();
        await uas.close();
      }
    });
  }
});
