// npm `sip` (kirm, 0.0.6) as an answering UAS under Node, the reference the load harness
// compares sipkit with: OPTIONS 200; INVITE 180 then 200 with SDP; BYE 200; ACK absorbed.
// Usage: KIRM_DIR=<dir with node_modules/sip> node bench/kirm_uas.mjs <port>
import { createRequire } from "node:module";

const require = createRequire(`${process.env.KIRM_DIR ?? process.cwd()}/`);
const sip = require("sip");
const port = Number(process.argv[2] ?? "5060");
const SDP = "v=0\r\no=kirm 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 49200 RTP/AVP 0\r\n";
let tagSeq = 0;

sip.start({ address: "127.0.0.1", port, tcp: false, logger: {} }, (rq) => {
  try {
    if (rq.method === "ACK") return;
    if (rq.method === "INVITE") {
      const tag = `k${++tagSeq}`;
      const ringing = sip.makeResponse(rq, 180, "Ringing");
      ringing.headers.to.params.tag = tag;
      sip.send(ringing);
      const ok = sip.makeResponse(rq, 200, "OK");
      ok.headers.to.params.tag = tag;
      ok.headers.contact = [{ uri: `sip:kirm@127.0.0.1:${port}` }];
      ok.headers["content-type"] = "application/sdp";
      ok.content = SDP;
      sip.send(ok);
      return;
    }
    sip.send(sip.makeResponse(rq, 200, "OK"));
  } catch (e) {
    process.stderr.write(`kirm_uas: ${e}\n`);
  }
});
process.stdout.write(`ready udp 127.0.0.1 ${port}\n`);
process.on("SIGTERM", () => {
  sip.stop();
  process.exit(0);
});
