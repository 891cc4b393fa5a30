import { assert, fc } from "../test_deps.ts";
import {
  CallTimeoutError,
  find,
  loadOrCreateUuid,
  SelfCallError,
  type Service,
  serviceId,
  ServiceRestartedError,
  ServiceStoppedError,
  start,
} from "../../service/service.ts";
import { NO_REPLY } from "../../service/chain.ts";
import { ConfigError } from "../../service/config.ts";
import { ServiceExistsError, ServiceRegistry } from "../../service/registry.ts";
import type { From, TerminateReason } from "../../service/types.ts";
import { ManualClock, tick, withTempDir } from "./_helpers.ts";

type Counter = { count: number; log?: string[] };

function counterCallbacks(events: string[] = []) {
  return {
    init(state: Counter) {
      state.count = 0;
      events.push("init");
    },
    handleCall(request: unknown, _from: From, state: Counter) {
      if (request === "boom") throw new Error("boom");
      if (request === "get") return state.count;
      return ++state.count;
    },
    handleCast(message: unknown, state: Counter) {
      if (message === "crash") throw new Error("cast crash");
      if (message === "incr") state.count++;
    },
    handleInfo(message: unknown, state: Counter) {
      if (message === "crash") throw new Error("info crash");
      if (typeof message === "number") state.count += message;
    },
    terminate(reason: TerminateReason) {
      events.push(`terminate:${reason.kind}`);
    },
  };
}

Deno.test("service id is a short stable hash of the name", () => {
  const a = serviceId("my_app");
  assert.equal(a, serviceId("my_app"));
  assert.match(a, /^[a-z2-7]{8}$/);
  assert.notEqual(a, serviceId("my_app2"));
});

Deno.test("UUID (RFC 4122) is created on first start, reused on later starts, distinct per service", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    const s1 = await start("uuid-a", { dataDir: dir, registry });
    const u1 = s1.uuid;
    assert.match(u1, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal((await Deno.readTextFile(`${dir}/${s1.id}.uuid`)).trim(), u1);
    await s1.stop();
    const s2 = await start("uuid-a", { dataDir: dir, registry });
    assert.equal(s2.uuid, u1);
    const other = await start("uuid-b", { dataDir: dir, registry });
    assert.notEqual(other.uuid, u1);
    await s2.stop();
    await other.stop();
  });
});

Deno.test("an invalid UUID file is replaced by a new UUID", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/abc.uuid`, "not-a-uuid\n");
    const u = await loadOrCreateUuid(dir, "abc");
    assert.notEqual(u, "not-a-uuid");
    assert.equal(await loadOrCreateUuid(dir, "abc"), u);
  });
});

Deno.test("call returns handleCall's value; cast and send reach handleCast and handleInfo", async () => {
  await withTempDir(async (dir) => {
    await using svc = await start<Counter>("basic", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: counterCallbacks(),
    });
    assert.equal(await svc.call("incr"), 1);
    assert.equal(svc.cast("incr"), true);
    assert.equal(svc.send(5), true);
    assert.equal(await svc.call("get"), 7);
    assert.equal(svc.status, "running");
  });
});

Deno.test("handleCall/handleCast/handleInfo run one at a time (mailbox)", async () => {
  await withTempDir(async (dir) => {
    let inside = 0;
    let maxInside = 0;
    const order: string[] = [];
    const enter = async (tag: string) => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      await new Promise((r) => setTimeout(r, 1));
      order.push(tag);
      inside--;
    };
    await using svc = await start("mailbox", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: {
        async handleCall(r) {
          await enter(`call${r}`);
          return r;
        },
        async handleCast(m) {
          await enter(`cast${m}`);
        },
        async handleInfo(m) {
          await enter(`info${m}`);
        },
      },
    });
    const calls = [svc.call(1), svc.call(2)];
    svc.cast(3);
    svc.send(4);
    const last = svc.call(5);
    assert.deepEqual(await Promise.all([...calls, last]), [1, 2, 5]);
    assert.equal(maxInside, 1);
    assert.deepEqual(order, ["call1", "call2", "cast3", "info4", "call5"]);
  });
});

Deno.test("call times out with the injected clock (default 5 s) and honours an AbortSignal", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock();
    let release: () => void = () => {};
    await using svc = await start("timeouts", {
      dataDir: dir,
      clock,
      registry: new ServiceRegistry(),
      callbacks: {
        handleCall(r) {
          if (r === "slow") return new Promise((res) => (release = () => res("late")));
          return r;
        },
      },
    });
    const slow = svc.call("slow");
    await tick();
    clock.advance(4999);
    const queued = svc.call("queued", { timeout: 100 });
    clock.advance(1);
    await assert.rejects(slow, CallTimeoutError);
    clock.advance(100);
    await assert.rejects(queued, CallTimeoutError);
    release();
    const ac = new AbortController();
    const aborted = svc.call("x", { signal: ac.signal });
    ac.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    assert.equal(await svc.call("after"), "after");
    assert.equal(clock.pending, 0);
  });
});

Deno.test("a call to itself from inside handleCall throws SelfCallError instead of deadlocking", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    await using other = await start("other", {
      dataDir: dir,
      registry,
      callbacks: { handleCall: (r) => `other:${r}` },
    });
    let selfError: unknown;
    let castOk = false;
    const svc: Service = await start("selfcall", {
      dataDir: dir,
      registry,
      callbacks: {
        async handleCall(r) {
          if (r === "self") {
            // Detection survives awaits (AsyncLocalStorage follows the async context).
            await new Promise((res) => setTimeout(res, 1));
            try {
              await svc.call("inner");
            } catch (e) {
              selfError = e;
            }
            castOk = svc.cast("from-inside");
            return await other.call("hi");
          }
          return r;
        },
      },
    });
    assert.equal(await svc.call("self"), "other:hi");
    assert.ok(selfError instanceof SelfCallError);
    assert.match((selfError as Error).message, /deadlock/);
    assert.equal(castOk, true);
    // Outside any handler, calls work again.
    assert.equal(await svc.call("x"), "x");
    await svc.stop();
  });
});

Deno.test("a throw in handleCall crashes the process: call rejects, init re-runs, variables and plugin resources survive", async () => {
  await withTempDir(async (dir) => {
    const events: string[] = [];
    await using svc = await start<Counter>("crash", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: counterCallbacks(events),
    });
    svc.put("k", { v: 1 });
    const uuid = svc.uuid;
    assert.equal(await svc.call("incr"), 1);
    assert.equal(await svc.call("incr"), 2);
    const boom = svc.call("boom");
    const queued = svc.call("incr");
    await assert.rejects(boom, /boom/);
    await assert.rejects(queued, ServiceRestartedError);
    assert.equal(svc.restarts, 1);
    assert.deepEqual(svc.get("k"), { v: 1 });
    assert.equal(svc.uuid, uuid);
    assert.equal(await svc.call("get"), 0, "state was rebuilt by init");
    assert.deepEqual(events, ["init", "terminate:crash", "init"]);
    // handleCast and handleInfo crashes restart too; as in OTP, what was queued behind the
    // crashing message is lost with the process (queued calls reject, casts are dropped).
    await svc.call("incr");
    svc.cast("crash");
    svc.cast("incr");
    await assert.rejects(svc.call("get"), ServiceRestartedError);
    assert.equal(await svc.call("get"), 0);
    svc.send("crash");
    await assert.rejects(svc.call("incr"), ServiceRestartedError);
    assert.equal(await svc.call("incr"), 1);
    assert.equal(svc.restarts, 3);
    assert.equal(svc.status, "running");
  });
});

Deno.test("restart intensity exceeded (default 10 in 60 s) stops the service with the reason", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock();
    const registry = new ServiceRegistry();
    const svc = await start<Counter>("intensity", {
      dataDir: dir,
      clock,
      registry,
      callbacks: counterCallbacks(),
    });
    svc.put("k", 1);
    for (let i = 0; i < 10; i++) {
      await assert.rejects(svc.call("boom"), /boom/);
      clock.advance(1000);
    }
    assert.equal(await svc.call("get"), 0);
    assert.equal(svc.status, "running");
    assert.equal(svc.restarts, 10);
    await assert.rejects(svc.call("boom"), /boom/);
    const reason = await svc.stopped;
    assert.equal(reason.kind, "intensity");
    assert.match(reason.message, /more than 10 times in 60000 ms/);
    assert.equal(svc.status, "stopped");
    assert.equal(svc.get("k"), undefined, "variables dropped");
    assert.equal(registry.find("intensity"), undefined);
    await assert.rejects(svc.call("x"), ServiceStoppedError);
  });
});

Deno.test("restart intensity is a sliding window on the injected clock", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock();
    await using svc = await start<Counter>("window", {
      dataDir: dir,
      clock,
      registry: new ServiceRegistry(),
      restart: { intensity: 2, period: 1000 },
      callbacks: counterCallbacks(),
    });
    for (let i = 0; i < 6; i++) {
      await assert.rejects(svc.call("boom"));
      clock.advance(600); // at most 2 crashes in any 1000 ms window
    }
    assert.equal(await svc.call("get"), 0);
    assert.equal(svc.status, "running");
    await assert.rejects(svc.call("boom"));
    await assert.rejects(svc.call("boom"));
    assert.equal((await svc.stopped).kind, "intensity");
  });
});

Deno.test("init failing on restart counts against the intensity and stops with kind init", async () => {
  await withTempDir(async (dir) => {
    let inits = 0;
    const svc = await start("badinit", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      restart: { intensity: 3, period: 60_000 },
      callbacks: {
        init() {
          if (++inits > 1) throw new Error("init broken");
        },
        handleCall() {
          throw new Error("first crash");
        },
      },
    });
    await assert.rejects(svc.call("x"), /first crash/);
    const reason = await svc.stopped;
    assert.equal(reason.kind, "init");
    assert.equal(inits, 4);
  });
});

Deno.test("init failing at start rejects start and frees the name", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    await assert.rejects(
      start("failstart", {
        dataDir: dir,
        registry,
        callbacks: { init: () => Promise.reject(new Error("no")) },
      }),
      /no/,
    );
    assert.equal(registry.find("failstart"), undefined);
    const ok = await start("failstart", { dataDir: dir, registry });
    await ok.stop();
  });
});

Deno.test("stop runs terminate(normal), drops the variables, and later calls/casts fail", async () => {
  await withTempDir(async (dir) => {
    const events: string[] = [];
    const svc = await start<Counter>("stopper", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: counterCallbacks(events),
    });
    svc.put("a", 1);
    const pending = svc.call("incr");
    await svc.stop();
    assert.equal(await pending, 1, "messages queued before stop are handled");
    assert.deepEqual(events, ["init", "terminate:normal"]);
    assert.equal(svc.get("a"), undefined);
    assert.equal((await svc.stopped).kind, "normal");
    await assert.rejects(svc.call("x"), ServiceStoppedError);
    assert.equal(svc.cast("x"), false);
    assert.equal(svc.send("x"), false);
    await assert.rejects(svc.options("sip:127.0.0.1:9"), ServiceStoppedError);
    await assert.rejects(svc.update({ callTimeout: 10 }), ServiceStoppedError);
    await svc.stop(); // idempotent
  });
});

Deno.test("stop from inside handleCall does not deadlock", async () => {
  await withTempDir(async (dir) => {
    const svc: Service = await start("selfstop", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: {
        async handleCall() {
          await svc.stop();
          return "bye";
        },
      },
    });
    assert.equal(await svc.call("x"), "bye");
    assert.equal((await svc.stopped).kind, "normal");
  });
});

Deno.test("handleCall may return NO_REPLY and answer later through from.reply", async () => {
  await withTempDir(async (dir) => {
    const waiting: From[] = [];
    await using svc = await start("deferred", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: {
        handleCall(r, from) {
          if (r === "wait") {
            waiting.push(from);
            return NO_REPLY;
          }
          if (r === "release") {
            for (const f of waiting.splice(0)) f.reply("released");
            return "done";
          }
          if (r === "crash") throw new Error("crash");
          return r;
        },
      },
    });
    const w = svc.call("wait");
    assert.equal(await svc.call("release"), "done");
    assert.equal(await w, "released");
    const w2 = svc.call("wait");
    await assert.rejects(svc.call("crash"), /crash/);
    await assert.rejects(
      w2,
      ServiceRestartedError,
      "a deferred call rejects when the process dies",
    );
  });
});

Deno.test("two services in one process never interfere; names are unique; find by name or id", async () => {
  await withTempDir(async (dir) => {
    const a = await start<Counter>("svc-a-" + crypto.randomUUID(), {
      dataDir: dir,
      callbacks: counterCallbacks(),
    });
    const b = await start<Counter>("svc-b-" + crypto.randomUUID(), {
      dataDir: dir,
      restart: { intensity: 0 },
      callbacks: counterCallbacks(),
    });
    try {
      assert.equal(find(a.name), a);
      assert.equal(find(a.id), a);
      assert.equal(find(b.name), b);
      await assert.rejects(start(a.name, { dataDir: dir }), ServiceExistsError);
      a.put("x", "a");
      b.put("x", "b");
      await a.call("incr");
      await a.call("incr");
      assert.equal(await b.call("incr"), 1);
      // b crashes with intensity 0: b stops; a is untouched.
      await assert.rejects(b.call("boom"));
      assert.equal((await b.stopped).kind, "intensity");
      assert.equal(find(b.name), undefined);
      assert.equal(await a.call("get"), 2);
      assert.equal(a.get("x"), "a");
      assert.notEqual(a.uuid, b.uuid);
    } finally {
      await a.stop();
      await b.stop();
    }
    assert.equal(find(a.name), undefined);
  });
});

Deno.test("start rejects an invalid config with a ConfigError naming the key", async () => {
  await assert.rejects(
    start("badcfg", { callTimeout: -1, registry: new ServiceRegistry() }),
    (e: unknown) => e instanceof ConfigError && e.key === "callTimeout",
  );
  await assert.rejects(start("", {}), ConfigError);
});

Deno.test("update changes callbacks, call timeout and restart intensity live", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock();
    await using svc = await start<Counter>("upd", {
      dataDir: dir,
      clock,
      registry: new ServiceRegistry(),
      callbacks: counterCallbacks(),
    });
    assert.equal(await svc.call("incr"), 1);
    await svc.update({ callbacks: { handleCall: () => "v2" }, callTimeout: 50 });
    assert.equal(await svc.call("x"), "v2");
    assert.equal(svc.config.callTimeout, 50);
    await assert.rejects(
      svc.update({ timers: { t1: 0 } }),
      (e: unknown) => e instanceof ConfigError && e.key === "timers.t1",
    );
    assert.equal(svc.config.timers.t1, 500, "a failed update changes nothing");
    await svc.update({
      restart: { intensity: 0 },
      callbacks: {
        handleCall: () => {
          throw new Error("x");
        },
      },
    });
    await assert.rejects(svc.call("x"));
    assert.equal((await svc.stopped).kind, "intensity");
  });
});

Deno.test("update from inside handleCall does not deadlock", async () => {
  await withTempDir(async (dir) => {
    const svc: Service = await start("upd-inside", {
      dataDir: dir,
      registry: new ServiceRegistry(),
      callbacks: {
        async handleCall() {
          await svc.update({ callTimeout: 1234 });
          return svc.config.callTimeout;
        },
      },
    });
    assert.equal(await svc.call("x"), 1234);
    await svc.stop();
  });
});

Deno.test("SIP side: transports report real ports; listeners survive a crash; update adds and removes listeners", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    await using uas = await start<Counter>("sip-uas", {
      dataDir: dir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
      callbacks: {
        ...counterCallbacks(),
        sipOptions: () => ({ status: 200, headers: { "X-Svc": "uas" } }),
      },
    });
    await using uac = await start("sip-uac", {
      dataDir: dir,
      registry,
      listen: ["sip:127.0.0.1:0;transport=udp"],
    });
    const udp = uas.transports.find((t) => t.transport === "udp");
    assert.ok(udp !== undefined && udp.port > 0);
    const target = `sip:127.0.0.1:${udp.port}`;
    const r1 = await uac.options(target);
    assert.equal(r1.status, 200);
    assert.equal(r1.response?.header("X-Svc"), "uas");
    // Crash the uas process: the listener is kept.
    await assert.rejects(uas.call("boom"));
    assert.equal(await uas.call("get"), 0);
    assert.equal(uas.transports.find((t) => t.transport === "udp")?.port, udp.port);
    assert.equal((await uac.options(target)).status, 200);
    // Add a TCP listener live, then remove it.
    await uas.update({
      listen: [`sip:127.0.0.1:${udp.port};transport=udp`, "sip:127.0.0.1:0;transport=tcp"],
    });
    const tcp = uas.transports.find((t) => t.transport === "tcp");
    assert.ok(tcp !== undefined && tcp.port > 0);
    const r2 = await uac.options(`sip:127.0.0.1:${tcp.port};transport=tcp`);
    assert.equal(r2.status, 200);
    await uas.update({ listen: [`sip:127.0.0.1:${udp.port};transport=udp`] });
    assert.equal(uas.transports.some((t) => t.transport === "tcp"), false);
  });
});

Deno.test("property: call/cast/crash sequences follow the gen_server model (OTP mailbox semantics)", async () => {
  await withTempDir(async (dir) => {
    const registry = new ServiceRegistry();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("call", "cast", "crashCall", "crashCast"), { maxLength: 25 }),
        async (ops) => {
          const svc = await start<Counter>(`prop-${n++}`, {
            dataDir: dir,
            registry,
            restart: { intensity: 1000 },
            callbacks: counterCallbacks(),
          });
          // Model: the count, and whether a crash is pending in the mailbox (a crashing cast
          // not yet handled: what is queued behind it is lost).
          let count = 0;
          let pendingCrash = false;
          for (const op of ops) {
            if (op === "cast") {
              svc.cast("incr");
              if (!pendingCrash) count++;
            } else if (op === "crashCast") {
              svc.cast("crash");
              pendingCrash = true;
            } else if (op === "call") {
              if (pendingCrash) {
                await assert.rejects(svc.call("incr"), ServiceRestartedError);
                pendingCrash = false;
                count = 0;
              } else {
                assert.equal(await svc.call("incr"), ++count);
              }
            } else {
              await assert.rejects(svc.call("boom"), pendingCrash ? ServiceRestartedError : /boom/);
              pendingCrash = false;
              count = 0;
            }
          }
          if (pendingCrash) {
            await assert.rejects(svc.call("get"), ServiceRestartedError);
            count = 0;
          }
          assert.equal(await svc.call("get"), count);
          assert.equal(svc.status, "running");
          await svc.stop();
        },
      ),
      { numRuns: 60 },
    );
  });
});
