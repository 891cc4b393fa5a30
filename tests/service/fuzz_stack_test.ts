// Bad input against a whole stack over real UDP on 127.0.0.1: calls and single requests whose
// INVITE, ACK, BYE or request has one header dropped, doubled or mangled, a cut, a wrong
// Content-Length, a bad start line... (seeded, so a failure can be replayed). Whatever the
// stack answers, it must log no internal error, must keep answering clean traffic, and
// must end every transaction, dialog and timer once the 64*T1 windows have passed.
import { assert, resetLogs } from "../test_deps.ts";
import dgram from "node:dgram";
import { createSipStack } from "../../service/sip_stack.ts";
import { assertDrained, captureErrorLogs, mutate, random } from "./_fuzz.ts";

const TIMERS = { t1: 10, t2: 80, t4: 100 };
const SDP = "v=0\r\no=fz 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

Deno.test("bad input: mangled calls and requests over UDP leave the stack serving and clean", async () => {
  const errors = await captureErrorLogs();
  const uas = await createSipStack({
    name: "fuzz-uas",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: TIMERS,
    closeTimeout: 500,
    callbacks: {
      sipInvite: (req, call) => {
        call.reply("ringing");
        return req.contentLength > 0 ? { answer: SDP } : "ok";
      },
      sipBye: () => "ok",
      sipMessage: () => "ok",
      sipInfo: () => "ok",
    },
  });
  const port = uas.transports[0]!.port;
  const sock = dgram.createSocket("udp4");
  const inbox: string[] = [];
  sock.on("message", (m: Uint8Array) => inbox.push(new TextDecoder().decode(m)));
  await new Promise<void>((res) => sock.bind(0, "127.0.0.1", () => res()));
  const me = sock.address().port;
  const send = (text: string) =>
    new Promise<void>((res) => sock.send(text, port, "127.0.0.1", () => res()));
  /** Responses for a Call-ID and CSeq method, waiting up to `ms` for a final one. */
  const finalFor = async (
    callId: string,
    method: string,
    ms = 150,
  ): Promise<string | undefined> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = inbox.find((t) =>
        t.startsWith("SIP/2.0 ") && !t.startsWith("SIP/2.0 1") &&
        t.includes(`Call-ID: ${callId}\r\n`) && new RegExp(`CSeq: \\d+ ${method}\\r\\n`).test(t)
      );
      if (hit !== undefined || Date.now() > deadline) return hit;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const request = (method: string, callId: string, seq: number, branch: string, extra = "") => {
    const body = method === "INVITE" ? SDP : method === "MESSAGE" ? "hello" : "";
    const type = method === "INVITE"
      ? "Content-Type: application/sdp\r\n"
      : method === "MESSAGE"
      ? "Content-Type: text/plain\r\n"
      : "";
    return `${method} sip:svc@127.0.0.1:${port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK${branch};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:fz@127.0.0.1:${me}>;tag=f${callId}\r\n` +
      `To: <sip:svc@127.0.0.1:${port}>${extra}\r\nCall-ID: ${callId}\r\n` +
      `CSeq: ${seq} ${method}\r\nContact: <sip:fz@127.0.0.1:${me}>\r\n${type}` +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`;
  };
  // SIPKIT_FUZZ_SEED replays or varies the traffic; the default is fixed.
  const seed = Number(Deno.env.get("SIPKIT_FUZZ_SEED") ?? 20261121);
  const r = random(seed);
  const maybe = (text: string, p: number) => (r() < p ? mutate(text, r) : text);
  let singles = 0;
  let established = 0;
  try {
    for (let i = 0; i < 120; i++) {
      const id = `fz${seed}-${i}`;
      if (i % 2 === 1) {
        // A single request.
        const method = ["OPTIONS", "MESSAGE", "INFO", "REGISTER", "SUBSCRIBE", "NOTIFY"][i % 6]!;
        const text = maybe(request(method, id, 1, `s${i}`), 0.7);
        singles++;
        await send(text);
        await finalFor(id, method, 30);
        continue;
      }
      // A call: INVITE, ACK, BYE, each maybe mangled; a clean BYE ends what is left.
      await send(maybe(request("INVITE", id, 1, `i${i}`), 0.4));
      const ok = await finalFor(id, "INVITE");
      const tag = ok?.startsWith("SIP/2.0 2")
        ? /\r\nTo: [^\r\n]*;tag=([^;\r\n]+)/.exec(ok)?.[1]
        : undefined;
      if (tag === undefined) continue;
      established++;
      const dialog = `;tag=${tag}`;
      await send(maybe(request("ACK", id, 1, `a${i}`, dialog), 0.4));
      await send(maybe(request("BYE", id, 2, `b${i}`, dialog), 0.4));
      const bye = await finalFor(id, "BYE");
      if (bye === undefined || !bye.startsWith("SIP/2.0 200")) {
        await send(request("BYE", id, 3, `c${i}`, dialog));
        await finalFor(id, "BYE", 300);
      }
    }
    assert.ok(established > 10, `only ${established} calls got through (seed ${seed})`);
    const statuses = new Map<string, number>();
    for (const t of inbox) {
      const k = t.slice(0, 12);
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    }
    if (Deno.env.get("SIPKIT_FUZZ_SEED")) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`${established} calls ${JSON.stringify([...statuses])}\n`),
      );
    }
    // Clean traffic is still served.
    inbox.length = 0;
    await send(request("OPTIONS", "after-options", 1, "after1"));
    const options = await finalFor("after-options", "OPTIONS", 1000);
    assert.ok(options?.startsWith("SIP/2.0 200"), `OPTIONS after the fuzz: ${options}`);
    await send(request("INVITE", "after-call", 1, "after2"));
    const ok = await finalFor("after-call", "INVITE", 1000);
    assert.ok(ok?.startsWith("SIP/2.0 200"), `INVITE after the fuzz: ${ok}`);
    const tag = /\r\nTo: [^\r\n]*;tag=([^;\r\n]+)/.exec(ok!)![1];
    await send(request("ACK", "after-call", 1, "after3", `;tag=${tag}`));
    await send(request("BYE", "after-call", 2, "after4", `;tag=${tag}`));
    assert.ok((await finalFor("after-call", "BYE", 1000))?.startsWith("SIP/2.0 200"));
    // Everything ends: 64*T1 = 640 ms windows (and the §13.3.1.4 BYE of calls whose ACK was
    // mangled) are over within a few seconds.
    await assertDrained(
      uas,
      8000,
      `${established} calls and ${singles} single requests (seed ${seed})`,
    );
    assert.deepEqual(errors, [], `error logs (seed ${seed})`);
  } finally {
    await new Promise<void>((res) => sock.close(() => res()));
    await uas.close();
    await resetLogs();
  }
});
