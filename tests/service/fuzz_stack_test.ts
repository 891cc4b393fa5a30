// Bad input against a whole stack over real UDP on 127.0.0.1: calls and single requests whose
// INVITE, ACK, BYE or request has one header dropped, doubled or mangled, a cut, a wrong
// Content-Length, a bad start line... (seeded, so a failure can be replayed). Whatever the
// stack answers, it must log no internal error, must keep answering clean traffic, and
// must end every transaction, dialog and timer once the 64*T1 windows have passed.
import { assert, configureLogs, type LogRecord, resetLogs } from "../test_deps.ts";
import dgram from "node:dgram";
import { createSipStack } from "../../service/sip_stack.ts";

const TIMERS = { t1: 10, t2: 80, t4: 100 };
const SDP = "v=0\r\no=fz 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/** A small seeded generator (LCG): the same seed gives the same traffic. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const GARBAGE = [
  "",
  ";;;",
  "<sip:",
  "<>;tag=",
  "sip:@",
  "\u00ff\u00fe\u0000",
  "99999999999 INVITE",
  "-1",
  "abc",
  "x".repeat(3000),
  '"unterminated <sip:a@b>',
  "<sip:a@[::1>",
  "SIP/2.0/UDP",
];

/** Mangle one message (header lines and body as text), or leave it alone. */
function mutate(text: string, r: () => number): string {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const body = text.slice(end + 4);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const h = 1 + Math.floor(r() * (lines.length - 1)); // a header line
  switch (Math.floor(r() * 9)) {
    case 0:
      lines.splice(h, 1); // drop a header
      break;
    case 1:
      lines.splice(h, 0, lines[h]!); // double it
      break;
    case 2: {
      const colon = lines[h]!.indexOf(":");
      lines[h] = `${lines[h]!.slice(0, colon + 1)} ${pick(GARBAGE)}`; // mangle its value
      break;
    }
    case 3: {
      const l = lines[h]!;
      const at = Math.floor(r() * l.length);
      lines[h] = l.slice(0, at) + pick(GARBAGE) + l.slice(at); // insert into it
      break;
    }
    case 4:
      lines[0] = pick(["INVITE", "BYE sip:x", "SIP/2.0 200 OK", "X Y Z", lines[0]!.toLowerCase()]);
      break;
    case 5: {
      const i = lines.findIndex((l) => /^content-length:/i.test(l));
      if (i > 0) lines[i] = `Content-Length: ${Math.floor(r() * 400) - 5}`;
      break;
    }
    case 6:
      return text.slice(0, Math.floor(r() * text.length)); // cut anywhere
    case 7:
      return lines.join("\r\n") + "\r\n\r\n" + pick(GARBAGE) + body; // body garbage
    default:
      lines[h] = lines[h]!.replace(/;branch=[^;\r\n]*/i, ""); // a Via without branch
  }
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

Deno.test("bad input: mangled calls and requests over UDP leave the stack serving and clean", async () => {
  const errors: string[] = [];
  await configureLogs({
    sinks: {
      mem: (r: LogRecord) => {
        if (r.level === "error" || r.level === "fatal") {
          errors.push(`${r.category.join(".")}: ${r.message.map(String).join("")}`);
        }
      },
    },
    loggers: [
      { category: ["sipkit"], sinks: ["mem"], lowestLevel: "warning" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
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
    const deadline = Date.now() + 8000;
    let counts = uas.counts;
    while (
      (counts.transactions > 0 || counts.dialogs > 0 || counts.timers > 0) && Date.now() < deadline
    ) {
      await new Promise((res) => setTimeout(res, 50));
      counts = uas.counts;
    }
    assert.deepEqual(
      { transactions: counts.transactions, dialogs: counts.dialogs, timers: counts.timers },
      { transactions: 0, dialogs: 0, timers: 0 },
      `left behind after ${established} calls and ${singles} single requests (seed ${seed}): ${
        JSON.stringify(counts)
      }`,
    );
    assert.deepEqual(errors, [], `error logs (seed ${seed})`);
  } finally {
    await new Promise<void>((res) => sock.close(() => res()));
    await uas.close();
    await resetLogs();
  }
});
