/**
 * baresip (Debian `baresip-core`) places a call to sipkit's answering UAS (examples/uas.ts)
 * with an account that has no registrar, and hangs up. baresip is driven through its
 * ctrl_tcp module and traces SIP (`-s`), so the test sees the 200 for the INVITE and for the
 * BYE as baresip received them.
 */
import { assert } from "../test_deps.ts";
import { baresipCall, freePort, requireBinary, startSipkit } from "./_harness.ts";

/** For each CSeq method seen in baresip's SIP trace, the start lines of those messages. */
function startLinesByMethod(trace: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let start = "";
  for (const raw of trace.split("\n")) {
    const line = raw.replace(/\r$/, "").trim();
    if (/^SIP\/2\.0 \d{3}/.test(line) || /^[A-Z]+ sips?:\S+ SIP\/2\.0$/.test(line)) start = line;
    const m = line.match(/^CSeq:\s*\d+\s+([A-Z]+)/i);
    if (m && start !== "") {
      const list = out.get(m[1]!.toUpperCase()) ?? [];
      list.push(start);
      out.set(m[1]!.toUpperCase(), list);
      start = "";
    }
  }
  return out;
}

Deno.test("baresip calls sipkit's UAS and hangs up: INVITE 200, ACK, BYE 200 (RFC 3261 13, 15)", async () => {
  requireBinary("baresip", "baresip-core");
  const port = await freePort();
  const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port};transport=udp`]);
  try {
    const call = await baresipCall(`sip:interop@127.0.0.1:${port}`);
    const established = call.events.indexOf("CALL_ESTABLISHED");
    const closed = call.events.indexOf("CALL_CLOSED");
    assert.ok(established >= 0, `not established: ${call.events.join(",")}\n${call.output}`);
    assert.ok(closed > established, `not closed after hangup: ${call.events.join(",")}`);
    const byMethod = startLinesByMethod(call.output);
    assert.ok(
      (byMethod.get("INVITE") ?? []).some((s) => s.startsWith("SIP/2.0 200")),
      `no 200 for the INVITE in baresip's trace\n${call.output.slice(-6000)}`,
    );
    assert.ok(
      (byMethod.get("ACK") ?? []).some((s) => s.startsWith("ACK ")),
      `baresip sent no ACK\n${call.output.slice(-6000)}`,
    );
    assert.ok(
      (byMethod.get("BYE") ?? []).some((s) => s.startsWith("SIP/2.0 200")),
      `no 200 for baresip's BYE\n${call.output.slice(-6000)}\n${sk.proc.output()}`,
    );
  } finally {
    await sk.proc.stop();
  }
});
