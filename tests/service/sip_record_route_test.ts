import { assert } from "../test_deps.ts";
import dgram from "node:dgram";
import { start } from "../../service/service.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { parseMessage } from "../../sip/parser.ts";
import type { SipResponse } from "../../sip/types.ts";

// RFC 3261 §12.1.1: "When a UAS responds to a request with a response that establishes a
// dialog (such as a 2xx to INVITE), the UAS MUST copy all Record-Route header field values
// from the request into the response ... and MUST maintain the order of those values."
Deno.test("§12.1.1: the 180 and 200 to an INVITE copy its Record-Route values in order", async () => {
  const dataDir = await Deno.makeTempDir();
  const svc = await start("rr_uas", {
    registry: new ServiceRegistry(),
    dataDir,
    listen: ["sip:127.0.0.1:0"],
    tryingDelay: false,
    callbacks: {
      sipInvite(_req, call) {
        call.reply("ringing");
        return "ok";
      },
    },
  });
  const sock = dgram.createSocket("udp4");
  const inbox: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  sock.on("message", (data: Uint8Array) => {
    inbox.push(new Uint8Array(data));
    wake?.();
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  const send = (text: string, port: number) =>
    new Promise<void>((resolve, reject) =>
      sock.send(new TextEncoder().encode(text), port, "127.0.0.1", (e) => e ? reject(e) : resolve())
    );
  try {
    const port = svc.transports.find((t) => t.transport === "udp")!.port;
    const me = sock.address();
    const invite = [
      `INVITE sip:bob@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${me.port};branch=z9hG4bKrrtest1;rport`,
      "Record-Route: <sip:p2.example.com;lr>",
      "Record-Route: <sip:p1.example.com;lr;ftag=x>, <sip:p0.example.com;lr>",
      "Max-Forwards: 70",
      `To: <sip:bob@127.0.0.1:${port}>`,
      "From: <sip:alice@127.0.0.1>;tag=rra",
      "Call-ID: rr-test-1@127.0.0.1",
      "CSeq: 1 INVITE",
      `Contact: <sip:alice@127.0.0.1:${me.port}>`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    await send(invite, port);
    const responses: SipResponse[] = [];
    const deadline = Date.now() + 5000;
    while (!responses.some((r) => r.status === 200) && Date.now() < deadline) {
      if (inbox.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
        continue;
      }
      const msg = parseMessage(inbox.shift()!);
      if (msg.kind === "response") responses.push(msg);
    }
    const expected = [
      "<sip:p2.example.com;lr>",
      "<sip:p1.example.com;lr;ftag=x>",
      "<sip:p0.example.com;lr>",
    ];
    for (const status of [180, 200]) {
      const r = responses.find((x) => x.status === status);
      assert.ok(r, `no ${status} received`);
      assert.deepEqual(r.recordRoutes.map((x) => x.uri.toString()), [
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr;ftag=x",
        "sip:p0.example.com;lr",
      ]);
      assert.deepEqual(r.headers("Record-Route"), expected);
    }
    // Complete the transaction: ACK the 2xx (through the recorded route's last hop, here us).
    const ok = responses.find((x) => x.status === 200)!;
    const ack = [
      `ACK sip:bob@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${me.port};branch=z9hG4bKrrtest2;rport`,
      "Max-Forwards: 70",
      `To: <sip:bob@127.0.0.1:${port}>;tag=${ok.to.tag}`,
      "From: <sip:alice@127.0.0.1>;tag=rra",
      "Call-ID: rr-test-1@127.0.0.1",
      "CSeq: 1 ACK",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    await send(ack, port);
  } finally {
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    await svc.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
