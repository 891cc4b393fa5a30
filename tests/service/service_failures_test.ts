// A service when something around it fails: its SIP port is taken, a plugin's stop or
// terminate hook throws. Real sockets on 127.0.0.1.
import { assert, fc } from "../test_deps.ts";
import { definePlugin, type Plugin } from "../../service/plugin.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { start } from "../../service/service.ts";
import { TransportError } from "../../transport/errors.ts";
import type { TransportLayer } from "../../transport/transport_layer.ts";
import { withTempDir } from "./_helpers.ts";

/** A port of 127.0.0.1 free over both TCP and UDP right now. */
function freePortPair(): number {
  for (let tries = 0; tries < 50; tries++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    const port = (l.addr as Deno.NetAddr).port;
    try {
      Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }).close();
      return port;
    } catch {
      // UDP side taken: try another
    } finally {
      l.close();
    }
  }
  throw new Error("no port free over TCP and UDP in 50 tries");
}

/** A plugin that records its hooks in `log`; `fail` names the hooks that throw. */
function recorder(name: string, log: string[], fail: readonly string[] = []): Plugin {
  const hook = (what: string) => () => {
    log.push(`${what}:${name}`);
    if (fail.includes(what)) throw new Error(`${what} of ${name} failed`);
  };
  return definePlugin({
    name,
    start: hook("start"),
    init: hook("init"),
    terminate: hook("terminate"),
    stop: hook("stop"),
  });
}

Deno.test("service: a SIP port already in use rejects start with a TransportError; plugins are stopped and the name is free", async () => {
  await withTempDir(async (dir) => {
    // A UDP socket of this test holds the port.
    const holder = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (holder.addr as Deno.NetAddr).port;
    const registry = new ServiceRegistry();
    const log: string[] = [];
    try {
      await assert.rejects(
        start("porttaken", {
          dataDir: dir,
          registry,
          listen: [`sip:127.0.0.1:${port};transport=udp`],
          plugins: [recorder("p1", log)],
        }),
        TransportError,
      );
      assert.deepEqual(log, ["start:p1", "init:p1", "terminate:p1", "stop:p1"]);
      assert.equal(registry.find("porttaken"), undefined, "the name is free again");
      // The same name starts once the port is free.
      holder.close();
      const svc = await start("porttaken", {
        dataDir: dir,
        registry,
        listen: [`sip:127.0.0.1:${port};transport=udp`],
      });
      assert.equal(svc.transports[0]?.port, port);
      await svc.stop();
    } finally {
      try {
        holder.close();
      } catch {
        // already closed
      }
    }
  });
});

Deno.test("service: the bind error names the address", async () => {
  await withTempDir(async (dir) => {
    const holder = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (holder.addr as Deno.NetAddr).port;
    try {
      await assert.rejects(
        start("porttaken2", {
          dataDir: dir,
          registry: new ServiceRegistry(),
          listen: [`sip:127.0.0.1:${port};transport=udp`],
        }),
        (e: unknown) => e instanceof TransportError && e.message.includes(`127.0.0.1:${port}`),
      );
    } finally {
      holder.close();
    }
  });
});

Deno.test("service: a plugin whose terminate or stop throws does not keep the service or the other plugins from stopping", async () => {
  await withTempDir(async (dir) => {
    const log: string[] = [];
    const svc = await start("badstop", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [
        recorder("a", log, ["terminate", "stop"]),
        recorder("b", log),
      ],
    });
    log.length = 0;
    await svc.stop();
    assert.equal((await svc.stopped).kind, "normal");
    for (const hook of ["terminate", "stop"]) {
      assert.ok(log.includes(`${hook}:a`), `${hook} of a ran`);
      assert.ok(log.includes(`${hook}:b`), `${hook} of b ran after a's threw`);
    }
  });
});

Deno.test("service: update removing a plugin whose terminate throws still removes it", async () => {
  await withTempDir(async (dir) => {
    const log: string[] = [];
    const a = recorder("a", log, ["terminate"]);
    const b = recorder("b", log);
    await using svc = await start("badremove", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      plugins: [a, b],
    });
    log.length = 0;
    await svc.update({ plugins: [b] });
    assert.ok(log.includes("terminate:a") && log.includes("stop:a"), log.join(" "));
    assert.equal(log.some((l) => l.endsWith(":b")), false, "b is untouched");
    assert.deepEqual(svc.plugins.map((p) => p.name), ["b"]);
  });
});

Deno.test("service: del removes a service variable", async () => {
  await withTempDir(async (dir) => {
    await using svc = await start("vars", { dataDir: dir, registry: new ServiceRegistry() });
    svc.put("k", 1);
    assert.equal(svc.del("k"), true);
    assert.equal(svc.get("k"), undefined);
    assert.equal(svc.del("k"), false);
  });
});

Deno.test("service: when its second listener cannot bind, the first is closed again (no socket left open)", async () => {
  await withTempDir(async (dir) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    const taken = (holder.addr as Deno.NetAddr).port;
    const probe = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const free = (probe.addr as Deno.NetAddr).port;
    probe.close();
    try {
      await assert.rejects(
        start("halfbound", {
          dataDir: dir,
          registry: new ServiceRegistry(),
          listen: [
            `sip:127.0.0.1:${free};transport=udp`,
            `sip:127.0.0.1:${taken};transport=tcp`,
          ],
        }),
        TransportError,
      );
      // The UDP port bound first is free again (the test's resource sanitizer also fails
      // on a socket left open).
      const again = Deno.listenDatagram({ hostname: "127.0.0.1", port: free, transport: "udp" });
      again.close();
    } finally {
      holder.close();
    }
  });
});

Deno.test("service: update with a listener that cannot bind rejects and keeps the running listeners, transport settings and config", async () => {
  await withTempDir(async (dir) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    const taken = (holder.addr as Deno.NetAddr).port;
    const registry = new ServiceRegistry();
    try {
      await using uas = await start("upd-uas", {
        dataDir: dir,
        registry,
        listen: ["sip:127.0.0.1:0;transport=udp"],
      });
      await using uac = await start("upd-uac", {
        dataDir: dir,
        registry,
        listen: ["sip:127.0.0.1:0;transport=udp"],
      });
      const udp = uas.transports[0]!.port;
      const callTimeout = uas.config.callTimeout;
      const layer = uas.stack.transport as TransportLayer;
      const udpMaxSize = layer.udpMaxSize;
      await assert.rejects(
        uas.update({
          listen: [`sip:127.0.0.1:${udp};transport=udp`, `sip:127.0.0.1:${taken};transport=tcp`],
          callTimeout: callTimeout + 1234,
          udpMaxSize: udpMaxSize + 100,
        }),
        TransportError,
      );
      assert.equal(uas.config.callTimeout, callTimeout, "nothing of the failed update applies");
      assert.equal(layer.udpMaxSize, udpMaxSize, "the transport settings are put back");
      assert.equal(uas.config.listen.length, 1);
      assert.deepEqual(uas.transports.map((t) => `${t.transport}:${t.port}`), [`udp:${udp}`]);
      assert.equal((await uac.options(`sip:127.0.0.1:${udp}`)).status, 200);
      // A later valid update still works.
      await uas.update({
        listen: [`sip:127.0.0.1:${udp};transport=udp`, "sip:127.0.0.1:0;transport=tcp"],
      });
      assert.equal(uas.transports.length, 2);
    } finally {
      holder.close();
    }
  });
});

Deno.test("service: a failed listener update leaves the listeners it would have closed open", async () => {
  await withTempDir(async (dir) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    const taken = (holder.addr as Deno.NetAddr).port;
    try {
      await using svc = await start("upd-keep", {
        dataDir: dir,
        registry: new ServiceRegistry(),
        listen: ["sip:127.0.0.1:0;transport=udp", "sip:127.0.0.1:0;transport=tcp"],
      });
      const before = svc.transports.map((t) => `${t.transport}:${t.port}`).sort();
      const udp = svc.transports.find((t) => t.transport === "udp")!.port;
      // Drop the TCP listener and add one on a port in use: the update fails as a whole.
      await assert.rejects(
        svc.update({
          listen: [`sip:127.0.0.1:${udp};transport=udp`, `sip:127.0.0.1:${taken};transport=tcp`],
        }),
        TransportError,
      );
      assert.deepEqual(svc.transports.map((t) => `${t.transport}:${t.port}`).sort(), before);
    } finally {
      holder.close();
    }
  });
});

Deno.test("service: a new listener may take the port of one the same update removes", async () => {
  await withTempDir(async (dir) => {
    await using svc = await start("upd-move", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      listen: ["sip:127.0.0.1:0;transport=udp"],
    });
    const port = svc.transports[0]!.port;
    // UDP only → UDP and TCP on the same port: the UDP socket must be closed and reopened.
    await svc.update({ listen: [`sip:127.0.0.1:${port}`] });
    assert.deepEqual(
      svc.transports.map((t) => `${t.transport}:${t.port}`).sort(),
      [`tcp:${port}`, `udp:${port}`],
    );
  });
});

Deno.test("property: every listener update either applies exactly or changes nothing", async () => {
  // Four ports: P0, P1 free; H0 held over TCP and H1 held over UDP by this test.
  const free = [freePortPair(), freePortPair()];
  const heldTcp = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const heldUdp = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const held = [
    `tcp:${(heldTcp.addr as Deno.NetAddr).port}`,
    `udp:${(heldUdp.addr as Deno.NetAddr).port}`,
  ];
  // One URI per transport and port, so every address has exactly one spelling.
  const addresses = [...free.flatMap((p) => [`udp:${p}`, `tcp:${p}`]), ...held];
  const uri = (a: string): string => {
    const [t, p] = a.split(":");
    return `sip:127.0.0.1:${p};transport=${t}`;
  };
  const sorted = (xs: Iterable<string>): string[] => [...xs].sort();
  try {
    await withTempDir(async (dir) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uniqueArray(fc.constantFrom(...addresses), { minLength: 1, maxLength: 3 }), {
            minLength: 1,
            maxLength: 4,
          }),
          async (updates) => {
            await using svc = await start(`prop-${crypto.randomUUID()}`, {
              dataDir: dir,
              registry: new ServiceRegistry(),
              listen: [uri(`udp:${free[0]}`)],
            });
            for (const wanted of updates) {
              const before = sorted(svc.transports.map((t) => `${t.transport}:${t.port}`));
              const refused = wanted.some((a) => held.includes(a));
              try {
                await svc.update({ listen: wanted.map(uri) });
                assert.equal(refused, false, `update to ${wanted} should have failed`);
                assert.deepEqual(
                  sorted(svc.transports.map((t) => `${t.transport}:${t.port}`)),
                  sorted(wanted),
                );
              } catch (error) {
                if (!(error instanceof TransportError)) throw error;
                assert.equal(refused, true, `update to ${wanted} failed: ${error.message}`);
                assert.deepEqual(
                  sorted(svc.transports.map((t) => `${t.transport}:${t.port}`)),
                  before,
                );
              }
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  } finally {
    heldTcp.close();
    heldUdp.close();
  }
});

Deno.test("property: plugin updates with failing starts or listeners keep every plugin started exactly while it is in the service", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const taken = `sip:127.0.0.1:${(holder.addr as Deno.NetAddr).port};transport=tcp`;
  try {
    await withTempDir(async (dir) => {
      await fc.assert(
        fc.asyncProperty(
          // Each update: a subset of five plugins, and maybe a listener on a port in use;
          // `failing` plugins throw from start.
          fc.array(
            fc.record({
              wanted: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { maxLength: 5 }),
              badListen: fc.boolean(),
            }),
            { minLength: 1, maxLength: 6 },
          ),
          fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }),
          async (updates, failing) => {
            const running = new Map<string, number>(); // started and not stopped, per plugin
            const plugins = [0, 1, 2, 3, 4].map((i) =>
              definePlugin({
                name: `p${i}`,
                start: () => {
                  if (failing.includes(i)) throw new Error(`p${i} cannot start`);
                  running.set(`p${i}`, (running.get(`p${i}`) ?? 0) + 1);
                },
                stop: () => {
                  const n = running.get(`p${i}`) ?? 0;
                  if (n <= 0) throw new Error(`p${i} stopped while not running`);
                  running.set(`p${i}`, n - 1);
                },
              })
            );
            const live = (): string[] =>
              [...running].filter(([, n]) => n > 0).map(([k]) => k).sort();
            const svc = await start(`plug-${crypto.randomUUID()}`, {
              dataDir: dir,
              registry: new ServiceRegistry(),
              listen: ["sip:127.0.0.1:0;transport=udp"],
            });
            const listen = [`sip:127.0.0.1:${svc.transports[0]!.port};transport=udp`];
            try {
              for (const { wanted, badListen } of updates) {
                const before = svc.plugins.map((p) => p.name);
                const refused = badListen || wanted.some((i) => failing.includes(i));
                try {
                  await svc.update({
                    plugins: wanted.map((i) => plugins[i]!),
                    listen: badListen ? [...listen, taken] : listen,
                  });
                  assert.equal(refused, false);
                  assert.deepEqual(
                    svc.plugins.map((p) => p.name).sort(),
                    wanted.map((i) => `p${i}`).sort(),
                  );
                } catch (error) {
                  assert.equal(refused, true, String(error));
                  assert.deepEqual(svc.plugins.map((p) => p.name), before);
                }
                for (const [name, n] of running) assert.ok(n <= 1, `${name} started ${n} times`);
                assert.deepEqual(live(), svc.plugins.map((p) => p.name).sort());
              }
            } finally {
              await svc.stop();
            }
            assert.deepEqual(live(), [], "every plugin started was stopped");
          },
        ),
        { numRuns: 60 },
      );
    });
  } finally {
    holder.close();
  }
});

Deno.test("service: a port move that fails leaves the old listener closed (the documented exception), and a later update recovers", async () => {
  await withTempDir(async (dir) => {
    const port = freePortPair();
    await using svc = await start("upd-move-fail", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      listen: [`sip:127.0.0.1:${port};transport=udp`],
    });
    const holder = Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" });
    try {
      // UDP on the port → UDP and TCP on it: the UDP listener must close first for the new
      // pair; then TCP cannot bind, so the update fails with the old listener already gone.
      await assert.rejects(svc.update({ listen: [`sip:127.0.0.1:${port}`] }), TransportError);
      assert.deepEqual(svc.transports.map((t) => `${t.transport}:${t.port}`), []);
    } finally {
      holder.close();
    }
    await svc.update({ listen: [`sip:127.0.0.1:${port};transport=udp`] });
    assert.deepEqual(svc.transports.map((t) => `${t.transport}:${t.port}`), [`udp:${port}`]);
  });
});
