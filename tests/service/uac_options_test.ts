// A UAC request with options of the wrong type or range, or headers that break the request,
// rejects at once with a TypeError or RangeError saying which: a caller's error is not a
// failed request (it used to come back as a 503 or an immediate 408). Fake time and an
// in-memory network.
import { assert } from "../test_deps.ts";
import type { UacOptions } from "../../service/sip_stack.ts";
import { messageResult, rig } from "./_memory_rig.ts";

const TARGET = "sip:bob@10.0.0.1:5060";

Deno.test("UAC: options of the wrong type or range reject with a specific error, nothing is sent", async (t) => {
  const { log, mk } = rig();
  const uas = await mk("uas", "10.0.0.1", { callbacks: { sipMessage: () => "ok" } });
  const uac = await mk("uac", "10.0.0.2");
  const cases: { name: string; options: UacOptions; error: typeof Error; text: RegExp }[] = [
    {
      name: "a body that is a number",
      options: { body: 123 as unknown as string },
      error: TypeError,
      text: /body must be a string or a Uint8Array, got number/,
    },
    { name: "a negative timeout", options: { timeout: -5 }, error: RangeError, text: /timeout/ },
    { name: "a NaN timeout", options: { timeout: NaN }, error: RangeError, text: /timeout/ },
    {
      name: "a CSeq of 2**31 (RFC 3261 §8.1.1.5)",
      options: { cseq: 2 ** 31 },
      error: RangeError,
      text: /cseq must be an integer from 0 to 2\*\*31-1/,
    },
    { name: "a fractional CSeq", options: { cseq: 1.5 }, error: RangeError, text: /cseq/ },
    { name: "a negative Expires", options: { expires: -1 }, error: RangeError, text: /expires/ },
    {
      name: "a CSeq header that does not parse",
      options: { headers: { CSeq: "garbage" } },
      error: TypeError,
      text: /The headers given make the request invalid: CSeq/,
    },
    {
      name: "a CSeq header of another method",
      options: { headers: { CSeq: "7 INVITE" } },
      error: TypeError,
      text: /CSeq method INVITE is not the request method MESSAGE/,
    },
    {
      name: "a Max-Forwards header that is not a number",
      options: { headers: { "Max-Forwards": "lots" } },
      error: TypeError,
      text: /Max-Forwards/,
    },
    {
      name: "a From header that does not parse",
      options: { headers: { From: "<<<" } },
      error: TypeError,
      text: /The headers given make the request invalid: Unbalanced/,
    },
    {
      name: "a second From header",
      options: { addHeaders: [["From", "<sip:x@h>;tag=2"]] },
      error: TypeError,
      text: /More than one From header/,
    },
    {
      name: "a header value with CRLF (header injection)",
      options: { headers: { "X-A": "v\r\nVia: SIP/2.0/UDP evil" } },
      error: TypeError,
      text: /must not contain CR or LF/,
    },
  ];
  try {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const before = log.length;
        await assert.rejects(
          () => uac.message(TARGET, c.options),
          (e: unknown) => e instanceof c.error && c.text.test((e as Error).message),
        );
        assert.equal(log.length, before, "nothing was sent");
        assert.equal(uac.counts.pendingRequests, 0);
      });
    }
  } finally {
    await uac.close();
    await uas.close();
  }
});

Deno.test('UAC: an ACK is not a request of its own: request("ACK") says how to ACK', async () => {
  const { log, mk } = rig();
  const uac = await mk("uac", "10.0.0.2");
  try {
    for (const method of ["ACK", "ack"]) {
      await assert.rejects(() => uac.request(method, TARGET), TypeError, "dialog.ack()");
    }
    assert.equal(log.length, 0, "nothing was sent");
  } finally {
    await uac.close();
  }
});

Deno.test("UAC: valid header overrides still go out (Call-ID, a matching CSeq)", async () => {
  const { fake, mk } = rig();
  const uas = await mk("uas", "10.0.0.1", { callbacks: { sipMessage: () => "ok" } });
  const uac = await mk("uac", "10.0.0.2");
  try {
    let got: { callId: string; cseq: number } | undefined;
    const p = uac.message(TARGET, {
      body: "hi",
      headers: { "Call-ID": "mine@10.0.0.2", CSeq: "7 MESSAGE" },
    }).then((r) => {
      got = r.response === undefined
        ? undefined
        : { callId: r.response.callId, cseq: r.response.cseq.seq };
    });
    for (let i = 0; i < 20 && got === undefined; i++) await fake.tickAsync(100);
    await p;
    assert.deepEqual(got, { callId: "mine@10.0.0.2", cseq: 7 });
    // And an ordinary request after the refused ones works.
    assert.equal((await messageResult(fake, uac, 2_000)).status, 200);
  } finally {
    await uac.close();
    await uas.close();
  }
});
