// Issue 3, bad input: "garbage on a stream closes that connection only and is logged once".
import { assert, configureLogs, type LogRecord, resetLogs } from "../test_deps.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import { closedByPeer, makeRequest, waitFor } from "./_sip_helpers.ts";

Deno.test("garbage on a TCP connection closes that connection only, logged once at info", async () => {
  const records: LogRecord[] = [];
  await configureLogs({
    sinks: { mem: (r: LogRecord) => void records.push(r) },
    loggers: [
      { category: ["sipkit"], sinks: ["mem"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  try {
    await using t = new TransportLayer({ name: "garbage-log" });
    const got: string[] = [];
    t.onMessage((m) => {
      if (m.message.kind === "request") got.push(m.message.callId);
    });
    const [, tcp] = await t.listen("sip:127.0.0.1:0");
    assert.equal(tcp!.transport, "tcp");
    const bad = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    const good = await Deno.connect({ hostname: "127.0.0.1", port: tcp!.port });
    try {
      const enc = new TextEncoder();
      // A header section whose Content-Length is not a number: a framing error (RFC 3261
      // §18.3 needs a valid Content-Length on streams), then more garbage on the same socket.
      await bad.write(enc.encode("OPTIONS sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\n"));
      await bad.write(enc.encode("\x00\x01 more garbage\r\n\r\n")).catch(() => 0);
      assert.ok(await closedByPeer(bad, 3000), "the bad connection was not closed");
      // The other connection still serves.
      await good.write(
        makeRequest("OPTIONS", "sip:x@127.0.0.1", { callId: "still-ok" }).toBytes(),
      );
      await waitFor(() => got.includes("still-ok") || undefined, 3000, "the good connection");
      const closes = records.filter((r) =>
        r.category.join(".") === "sipkit.garbage-log.transport" &&
        r.level === "info" && String(r.properties.reason ?? "").startsWith("framing error")
      );
      assert.equal(closes.length, 1, JSON.stringify(records.map((r) => r.message.join(""))));
      assert.equal(t.listeners.length, 2, "the listener stays up");
    } finally {
      bad.close();
      good.close();
    }
  } finally {
    await resetLogs();
  }
});
