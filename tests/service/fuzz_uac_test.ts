// Bad input from the other side: a stack sends INVITEs, MESSAGEs and OPTIONS over real UDP on
// 127.0.0.1 to a raw peer that answers with seeded, often mangled responses (a header dropped,
// doubled or garbled, a cut, a wrong Content-Length, a bad status line). Every request must
// settle with a status (408 when nothing usable came back), no internal error may be logged,
// and once the 64*T1 windows are over no transaction, dialog or timer may be left.
import { assert, resetLogs } from "../test_deps.ts";
import { createSipStack, type DialogHandle, type UacResult } from "../../service/sip_stack.ts";
import {
  assertDrained,
  bindPeer,
  captureErrorLogs,
  mutate,
  PEER_SDP,
  random,
  responseTo,
} from "./_fuzz.ts";

const TIMERS = { t1: 10, t2: 80, t4: 100 };
const OFFER = PEER_SDP.replace("peer", "uac").replace("5000", "4000");

Deno.test("bad input: mangled responses to a stack's requests over UDP settle every request and leave nothing behind", async () => {
  const errors = await captureErrorLogs();
  // SIPKIT_FUZZ_SEED replays or varies the traffic; the default is fixed.
  const seed = Number(Deno.env.get("SIPKIT_FUZZ_SEED") ?? 20261121);
  const r = random(seed);
  const uac = await createSipStack({
    name: "fuzz-uac",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: TIMERS,
    // A 180 followed by a final response the peer mangled beyond parsing leaves the INVITE in
    // Proceeding, where only this timeout (like Timer C) ends it: CANCEL, then 408.
    inviteTimeout: 500,
    closeTimeout: 500,
    callbacks: { sipBye: () => "ok" },
  });
  const { socket: peer, port: peerPort } = await bindPeer();
  let answered = 0;
  peer.on("message", (m: Uint8Array, from: { address: string; port: number }) => {
    const text = new TextDecoder().decode(m);
    if (text.startsWith("SIP/2.0") || text.startsWith("ACK ")) return;
    const isInvite = text.startsWith("INVITE ");
    const plan = !isInvite
      ? [r() < 0.8 ? 200 : 486]
      : [[180, 200], [200], [486], [183, 200]][Math.floor(r() * 4)]!;
    const tag = `p${Math.floor(r() * 1e9)}`;
    for (const status of plan) {
      const res = responseTo(text, status, tag, peerPort);
      const wire = r() < 0.45 ? mutate(res, r) : res;
      answered++;
      peer.send(wire, from.port, from.address);
    }
  });
  const target = `sip:peer@127.0.0.1:${peerPort}`;
  const results: UacResult[] = [];
  let dialogs = 0;
  try {
    for (let i = 0; i < 90; i++) {
      const kind = i % 3;
      let dialog: DialogHandle | undefined;
      let result: UacResult;
      if (kind === 0) {
        const invite = await uac.invite(target, { body: OFFER, contentType: "application/sdp" });
        dialog = invite.dialog;
        result = invite;
      } else if (kind === 1) {
        result = await uac.message(target, { body: `hello ${i}`, contentType: "text/plain" });
      } else {
        result = await uac.options(target);
      }
      results.push(result);
      if (dialog !== undefined) {
        dialogs++;
        // The dialog's remote target may be a mangled Contact: the BYE then fails, but it
        // settles (a status, or an error saying why).
        const bye = await dialog.bye().then((x) => x.status, (e: unknown) => e);
        assert.ok(
          typeof bye === "number" || bye instanceof Error,
          `BYE ${i} gave ${String(bye)} (seed ${seed})`,
        );
      }
    }
    const statuses = results.map((x) => x.status);
    assert.ok(statuses.every((s) => s >= 200 && s <= 699), `statuses ${statuses} (seed ${seed})`);
    assert.ok(dialogs > 5, `only ${dialogs} dialogs (seed ${seed})`);
    // A clean exchange still works.
    peer.removeAllListeners("message");
    peer.on("message", (m: Uint8Array, from: { address: string; port: number }) => {
      const text = new TextDecoder().decode(m);
      if (text.startsWith("OPTIONS ")) {
        peer.send(responseTo(text, 200, "clean", peerPort), from.port, from.address);
      }
    });
    assert.equal((await uac.options(target)).status, 200);
    await assertDrained(
      uac,
      8000,
      `${results.length} requests, ${answered} answers (seed ${seed})`,
    );
    assert.deepEqual(errors, [], `error logs (seed ${seed})`);
  } finally {
    await new Promise<void>((res) => peer.close(() => res()));
    await uac.close();
    await resetLogs();
  }
});
