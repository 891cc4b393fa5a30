// The `udpBackend` service option: which implementation carries UDP (docs/config.md).
import { assert } from "../test_deps.ts";
import { start } from "../../service/service.ts";
import { ConfigError } from "../../service/config.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { denoDatagramAvailable } from "../../transport/udp.ts";
import { withTempDir } from "./_helpers.ts";

for (const choice of ["auto", "node", "deno"] as const) {
  Deno.test(`udpBackend ${choice}: the UDP listener runs on the chosen implementation and requests over it complete`, async () => {
    if (!denoDatagramAvailable()) throw new Error("run with --unstable-net (deno task test does)");
    const expected = choice === "node" ? "node" : "deno";
    await withTempDir(async (dataDir) => {
      const registry = new ServiceRegistry();
      const bodies: string[] = [];
      await using uas = await start(`udpb-uas-${choice}`, {
        dataDir,
        registry,
        udpBackend: choice,
        listen: ["sip:127.0.0.1:0;transport=udp"],
        callbacks: {
          sipMessage(req) {
            bodies.push(req.bodyText());
            return "ok";
          },
        },
      });
      await using uac = await start(`udpb-uac-${choice}`, {
        dataDir,
        registry,
        udpBackend: choice,
        listen: ["sip:127.0.0.1:0;transport=udp"],
      });
      assert.equal(uas.config.udpBackend, choice);
      assert.deepEqual(uas.transports.map((t) => t.udpBackend), [expected]);
      assert.deepEqual(uac.transports.map((t) => t.udpBackend), [expected]);
      const port = uas.transports[0]!.port;
      const res = await uac.options(`sip:uas@127.0.0.1:${port}`);
      assert.equal(res.status, 200);
      assert.equal((await uac.message(`sip:uas@127.0.0.1:${port}`, { body: "hi" })).status, 200);
      assert.deepEqual(bodies, ["hi"]);
      // read at start: update() refuses to change it and leaves the service as it was
      const other = choice === "node" ? "deno" : "node";
      await assert.rejects(() => uas.update({ udpBackend: other }), ConfigError, "udpBackend");
      assert.equal(uas.config.udpBackend, choice);
      assert.equal((await uac.options(`sip:uas@127.0.0.1:${port}`)).status, 200);
    });
  });
}

Deno.test("udpBackend: an unknown value is a ConfigError naming the accepted values", async () => {
  await withTempDir(async (dataDir) => {
    const err = await start("udpb-bad", {
      dataDir,
      registry: new ServiceRegistry(),
      udpBackend: "epoll" as unknown as "node",
      listen: ["sip:127.0.0.1:0;transport=udp"],
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /udpBackend.*auto, deno, node/);
  });
});
