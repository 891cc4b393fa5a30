// A stack's INVITE answered by two forks (two 2xx with different To tags, as a forking proxy
// passes them on, RFC 3261 §13.2.2.4): the first makes the call's dialog; the second is ACKed
// and then ended with a BYE; a retransmitted 2xx gets its ACK again. The peer is a raw UDP
// socket on 127.0.0.1 that plays both forks.
import { assert } from "../test_deps.ts";
import { createSipStack } from "../../service/sip_stack.ts";
import { bindPeer, PEER_SDP, responseTo, until } from "./_fuzz.ts";

const OFFER = PEER_SDP.replace("peer", "uac").replace("5000", "4000");

/** The value of the To tag of a request's To header. */
function toTag(request: string): string | undefined {
  return /\r\nTo:[^\r\n]*;tag=([^;\r\n]+)/i.exec(request)?.[1];
}

Deno.test("UAC: a 2xx from a second fork is ACKed and ended with a BYE; the first fork's call goes on", async () => {
  const uac = await createSipStack({
    name: "forks",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    inviteTimeout: 2000,
    closeTimeout: 300,
  });
  const { socket: peer, port } = await bindPeer();
  const got: string[] = [];
  let invite = "";
  let from = { address: "", port: 0 };
  peer.on("message", (m: Uint8Array, rinfo: { address: string; port: number }) => {
    const text = new TextDecoder().decode(m);
    got.push(text);
    if (text.startsWith("INVITE ")) {
      invite = text;
      from = rinfo;
      // fork A answers first, fork B right after
      for (const tag of ["forkA", "forkB"]) {
        peer.send(responseTo(text, 200, tag, port), rinfo.port, rinfo.address);
      }
    } else if (text.startsWith("BYE ")) {
      peer.send(responseTo(text, 200, "x", port), rinfo.port, rinfo.address);
    }
  });
  try {
    const r = await uac.invite(`sip:peer@127.0.0.1:${port}`, {
      body: OFFER,
      contentType: "application/sdp",
    });
    assert.equal(r.status, 200);
    assert.ok(r.dialog !== undefined);
    assert.equal(r.dialog.remoteTag, "forkA", "the first 2xx makes the call's dialog");

    const acks = (tag: string) => got.filter((m) => m.startsWith("ACK ") && toTag(m) === tag);
    const byes = (tag: string) => got.filter((m) => m.startsWith("BYE ") && toTag(m) === tag);
    assert.ok(await until(() => acks("forkA").length === 1, 1000), "fork A's 2xx is ACKed");
    assert.ok(await until(() => byes("forkB").length === 1, 1000), "fork B is hung up");
    assert.equal(acks("forkB").length, 1, "fork B's 2xx is ACKed before its BYE");
    assert.ok(got.indexOf(acks("forkB")[0]!) < got.indexOf(byes("forkB")[0]!));
    assert.equal(byes("forkA").length, 0, "the call itself goes on");
    assert.ok(await until(() => uac.counts.dialogs === 1, 1000), "only fork A's dialog is left");
    assert.equal(r.dialog.state, "confirmed");

    // §13.2.2.4: a retransmission of fork A's 2xx gets the same ACK again.
    peer.send(responseTo(invite, 200, "forkA", port), from.port, from.address);
    assert.ok(await until(() => acks("forkA").length === 2, 1000), "the ACK is sent again");
    assert.equal(acks("forkA")[1], acks("forkA")[0], "the same ACK, byte for byte");

    assert.equal((await r.dialog.bye()).status, 200);
    assert.equal(uac.counts.dialogs, 0);
  } finally {
    await new Promise<void>((res) => peer.close(() => res()));
    await uac.close();
  }
});
