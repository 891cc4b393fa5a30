/**
 * sipsak against `cli.ts serve`: an OPTIONS ping (shoot mode, `sipsak -s`) over UDP and TCP,
 * and a MESSAGE, which serve declines with 603 (NkSIP's default, no sipMessage callback).
 *
 * Debian's sipsak 0.9.8.1 crashes (SIGSEGV, before sending anything) in message mode
 * (`sipsak -M -B text -s uri`), as reported upstream in nils-ohlmeier/sipsak#95, so the
 * MESSAGE is sent in shoot mode from a file (`sipsak -f file -s uri`): sipsak still adds its
 * own Via, sends, retransmits over UDP and checks the final response.
 */
import { assert } from "../test_deps.ts";
import { freePort, requireBinary, run, startSipkit } from "./_harness.ts";

Deno.test("sipsak OPTIONS ping (200) and MESSAGE (603 by default) to sipkit serve, UDP and TCP", async (t) => {
  const sipsak = requireBinary("sipsak", "sipsak");
  const port = await freePort();
  const sk = await startSipkit("cli.ts serve", [`sip:127.0.0.1:${port}`]);
  const dir = await Deno.makeTempDir({ prefix: "sipkit-sipsak-" });
  try {
    for (const transport of ["udp", "tcp"]) {
      await t.step(`OPTIONS over ${transport}: 200`, async () => {
        const r = await run(
          sipsak,
          ["-vv", "-E", transport, "-H", "127.0.0.1", "-s", `sip:ping@127.0.0.1:${port}`],
          { timeoutMs: 20_000 },
        );
        // sipsak exits 0 only for a 2xx final response in shoot mode
        assert.equal(r.code, 0, r.output);
        assert.match(r.stdout, /SIP\/2\.0 200/, r.output);
      });

      await t.step(`MESSAGE over ${transport}: 603, serve's default answer`, async () => {
        const body = `hello sipkit over ${transport}`;
        const file = `${dir}/message_${transport}.txt`;
        const msg = [
          `MESSAGE sip:alice@127.0.0.1:${port} SIP/2.0`,
          `From: <sip:sipsak@127.0.0.1>;tag=sak${transport}`,
          `To: <sip:alice@127.0.0.1:${port}>`,
          `Call-ID: sipsak-${crypto.randomUUID()}@127.0.0.1`,
          "CSeq: 1 MESSAGE",
          "Max-Forwards: 70",
          "Content-Type: text/plain",
          `Content-Length: ${new TextEncoder().encode(body).length}`,
          "",
          body,
        ].join("\r\n");
        await Deno.writeTextFile(file, msg);
        const r = await run(
          sipsak,
          [
            "-vv",
            "-E",
            transport,
            "-H",
            "127.0.0.1",
            "-f",
            file,
            "-s",
            `sip:alice@127.0.0.1:${port}`,
          ],
          { timeoutMs: 20_000 },
        );
        // serve has no sipMessage callback: NkSIP's default answer is 603 Decline, which
        // sipsak reports with exit status 1 (a final non-2xx response)
        assert.match(r.stdout, /final received/, r.output);
        assert.match(r.stdout, /^\s*SIP\/2\.0 603 /m, r.output);
        assert.equal(r.code, 1, r.output);
      });
    }
  } finally {
    await sk.proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
