// A stack's INVITE answered by a raw UDP peer on 127.0.0.1 with a 2xx that has one bad header.
// Each case was found by fuzz_uac_test.ts and left a dialog behind before the fix.
import { assert } from "../test_deps.ts";
import { createSipStack, type SipStack } from "../../service/sip_stack.ts";
import { bindPeer, PEER_SDP, responseTo, until } from "./_fuzz.ts";

const OFFER = PEER_SDP.replace("peer", "uac").replace("5000", "4000");

/** A stack and a peer that answers each INVITE with `answers(request)`, records every
 * request it gets, and answers a BYE with 200. */
async function setup(answers: (invite: string, port: number) => string[]): Promise<{
  uac: SipStack;
  target: string;
  got: string[];
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const uac = await createSipStack({
    name: "bad-2xx",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: { t1: 10, t2: 80, t4: 100 },
    inviteTimeout: 2000,
    closeTimeout: 300,
  });
  const { socket: peer, port } = await bindPeer();
  const got: string[] = [];
  peer.on("message", (m: Uint8Array, from: { address: string; port: number }) => {
    const text = new TextDecoder().decode(m);
    got.push(text);
    const out = text.startsWith("INVITE ")
      ? answers(text, port)
      : text.startsWith("BYE ")
      ? [responseTo(text, 200, "x", port)]
      : [];
    for (const r of out) peer.send(r, from.port, from.address);
  });
  return {
    uac,
    target: `sip:peer@127.0.0.1:${port}`,
    got,
    async [Symbol.asyncDispose]() {
      await new Promise<void>((res) => peer.close(() => res()));
      await uac.close();
    },
  };
}

Deno.test("UAC: a 2xx with an unreadable Content-Type is ACKed and gives a dialog (its body is not taken as SDP)", async () => {
  await using t = await setup((inv, port) => [
    responseTo(inv, 200, "ct", port).replace(
      "Content-Type: application/sdp",
      "Content-Type: \u00ff\u00fe",
    ),
  ]);
  const r = await t.uac.invite(t.target, { body: OFFER, contentType: "application/sdp" });
  assert.equal(r.status, 200);
  assert.ok(r.dialog !== undefined);
  assert.ok(await until(() => t.got.some((m) => m.startsWith("ACK ")), 1000), "no ACK");
  assert.equal((await r.dialog.bye()).status, 200);
  assert.equal(t.uac.counts.dialogs, 0);
});

Deno.test("UAC: a 2xx whose Contact does not parse keeps the early dialog's target (§12.2.1.2) and is ACKed", async () => {
  await using t = await setup((inv, port) => [
    responseTo(inv, 183, "cg", port),
    responseTo(inv, 200, "cg", port).replace(/Contact: [^\r\n]*/, "Contact: -1"),
  ]);
  const r = await t.uac.invite(t.target, { body: OFFER, contentType: "application/sdp" });
  assert.equal(r.status, 200);
  assert.ok(r.dialog !== undefined);
  assert.equal(r.dialog.state, "confirmed");
  assert.ok(await until(() => t.got.some((m) => m.startsWith("ACK ")), 1000), "no ACK");
  // The BYE goes to the target of the 183.
  assert.equal((await r.dialog.bye()).status, 200);
  assert.equal(t.uac.counts.dialogs, 0);
});

Deno.test("UAC: hanging up a dialog whose remote target cannot be resolved ends it anyway (503)", async () => {
  await using t = await setup((inv, port) => [
    responseTo(inv, 200, "us", port).replace(/Contact: <sip:/, "Contact: <sipabc:"),
  ]);
  const r = await t.uac.invite(t.target, { body: OFFER, contentType: "application/sdp" });
  assert.equal(r.status, 200);
  assert.ok(r.dialog !== undefined);
  const bye = await r.dialog.bye();
  assert.equal(bye.status, 503);
  assert.equal(r.dialog.state, "terminated");
  assert.equal(t.uac.counts.dialogs, 0, "the dialog is gone");
});

Deno.test("UAC: a 2xx whose Contact does not parse, with no early dialog, is ACKed at the Request-URI (as a 2xx without Contact)", async () => {
  await using t = await setup((inv, port) => [
    responseTo(inv, 200, "nc", port).replace(/Contact: [^\r\n]*/, "Contact: -1"),
  ]);
  const r = await t.uac.invite(t.target, { body: OFFER, contentType: "application/sdp" });
  assert.equal(r.status, 200);
  assert.ok(r.dialog !== undefined, "a dialog");
  assert.equal(r.dialog.state, "confirmed");
  assert.ok(await until(() => t.got.some((m) => m.startsWith("ACK ")), 1000), "no ACK");
  const ack = t.got.find((m) => m.startsWith("ACK "))!;
  assert.ok(ack.startsWith(`ACK ${t.target} SIP/2.0`), ack.split("\r\n")[0]);
  assert.equal((await r.dialog.bye()).status, 200);
  assert.equal(t.uac.counts.dialogs, 0);
});

Deno.test("UAC: a 2xx whose Record-Route does not parse is ACKed; the dialog has no route set", async () => {
  await using t = await setup((inv, port) => [
    responseTo(inv, 200, "rr", port).replace("\r\nContact:", "\r\nRecord-Route: <<<\r\nContact:"),
  ]);
  const r = await t.uac.invite(t.target, { body: OFFER, contentType: "application/sdp" });
  assert.equal(r.status, 200);
  assert.ok(r.dialog !== undefined, "a dialog");
  assert.ok(await until(() => t.got.some((m) => m.startsWith("ACK ")), 1000), "no ACK");
  const ack = t.got.find((m) => m.startsWith("ACK "))!;
  assert.ok(!/\r\nRoute:/i.test(ack), ack);
  assert.equal((await r.dialog.bye()).status, 200);
  assert.equal(t.uac.counts.dialogs, 0);
});
