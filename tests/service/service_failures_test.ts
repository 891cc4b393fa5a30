// A service when something around it fails: its SIP port is taken, a plugin's stop or
// terminate hook throws. Real sockets on 127.0.0.1.
import { assert } from "../test_deps.ts";
import { definePlugin, type Plugin } from "../../service/plugin.ts";
import { ServiceRegistry } from "../../service/registry.ts";
import { start } from "../../service/service.ts";
import { TransportError } from "../../transport/errors.ts";
import type { TransportLayer } from "../../transport/transport_layer.ts";
import { withTempDir } from "./_helpers.ts";

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
