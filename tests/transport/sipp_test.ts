/**
 * SIPp (Debian `sip-tester`, no TLS in its build) sends OPTIONS to a tiny responder built
 * directly on the TransportLayer, over UDP and over TCP (`-t t1`), 300 calls each at a
 * bounded rate; every call must succeed.
 */
import { assert } from "../test_deps.ts";
import { TransportLayer } from "../../transport/transport_layer.ts";
import { makeResponse } from "./_sip_helpers.ts";

const SCENARIO = new URL("./sipp_options.xml", import.meta.url).pathname;
const CALLS = 300;

function freePort(transport: "udp" | "tcp"): number {
  if (transport === "tcp") {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  }
  // A TCP probe is a good enough hint for UDP on the loopback; SIPp reports a bind failure.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function sippAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command("sipp", { args: ["-v"], stdout: "null", stderr: "null" })
      .output();
    return out.code === 0 || out.code === 99 || out.code === 1;
  } catch {
    return false;
  }
}

for (const mode of ["u1", "t1"] as const) {
  Deno.test({
    name: `SIPp ${CALLS} OPTIONS over ${
      mode === "u1" ? "UDP" : "TCP (-t t1)"
    } get 200 with no failed call`,
    fn: async () => {
      // A missing peer fails the test with the install command; it never passes silently.
      if (!(await sippAvailable())) {
        throw new Error("sipp is missing: apt-get install -y sip-tester");
      }
      await using server = new TransportLayer({ name: "sipp-responder" });
      const [udp] = await server.listen("sip:127.0.0.1:0");
      let answered = 0;
      server.onMessage((m) => {
        if (m.message.kind !== "request") return;
        answered++;
        server.sendResponse(makeResponse(m.message, 200), m).catch(() => {});
      });
      const dir = await Deno.makeTempDir({ prefix: "sipkit-sipp-" });
      const child = new Deno.Command("sipp", {
        args: [
          "-sf",
          SCENARIO,
          "-i",
          "127.0.0.1",
          "-p",
          String(freePort(mode === "u1" ? "udp" : "tcp")),
          "-t",
          mode,
          "-m",
          String(CALLS),
          "-r",
          "200",
          "-timeout",
          "30s",
          "-nostdin",
          "-trace_stat",
          "-stf",
          `${dir}/stat.csv`,
          "-trace_err",
          "-error_file",
          `${dir}/errors.log`,
          `127.0.0.1:${udp!.port}`,
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Stop SIPp by its own pid if it has not finished in 45 s.
      const guard = setTimeout(() => {
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 45_000);
      try {
        const out = await child.output();
        const stat = await Deno.readTextFile(`${dir}/stat.csv`).catch(() => "");
        const detail = new TextDecoder().decode(out.stderr).slice(-2000);
        // SIPp exits 0 only when every call succeeded.
        assert.equal(out.code, 0, `sipp exit ${out.code}: ${detail}`);
        const lines = stat.trim().split("\n");
        const head = lines[0]!.split(";");
        const last = lines[lines.length - 1]!.split(";");
        const col = (name: string) => Number(last[head.indexOf(name)]);
        assert.equal(col("SuccessfulCall(C)"), CALLS);
        assert.equal(col("FailedCall(C)"), 0);
        assert.ok(answered >= CALLS);
      } finally {
        clearTimeout(guard);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
