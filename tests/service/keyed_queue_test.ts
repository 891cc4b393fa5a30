import { assert, fc } from "../test_deps.ts";
import { KeyedQueue } from "../../service/keyed_queue.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("KeyedQueue serializes per key, in order, and never interleaves one key's tasks", async () => {
  const q = new KeyedQueue();
  let inside = 0;
  let max = 0;
  const order: number[] = [];
  const tasks = Array.from({ length: 10 }, (_, i) =>
    q.run("k", async () => {
      inside++;
      max = Math.max(max, inside);
      await sleep(i % 3);
      order.push(i);
      inside--;
      return i;
    }));
  assert.deepEqual(await Promise.all(tasks), [...Array(10).keys()]);
  assert.deepEqual(order, [...Array(10).keys()]);
  assert.equal(max, 1);
  assert.equal(q.size, 0, "idle keys are removed");
});

Deno.test("KeyedQueue runs different keys concurrently", async () => {
  const q = new KeyedQueue();
  let release: () => void = () => {};
  const blocked = q.run("a", () => new Promise<void>((r) => (release = r)));
  assert.equal(await q.run("b", () => "b done"), "b done");
  assert.equal(q.busy("a"), true);
  release();
  await blocked;
  assert.equal(q.busy("a"), false);
});

Deno.test("KeyedQueue: a throwing task rejects its own promise and does not block the key", async () => {
  const q = new KeyedQueue();
  const bad = q.run("k", () => {
    throw new Error("bad");
  });
  const good = q.run("k", () => "good");
  await assert.rejects(bad, /bad/);
  assert.equal(await good, "good");
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue: a task awaiting run() on its own key runs inline instead of deadlocking", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  const outer = q.run("call-1", async () => {
    order.push("outer start");
    const inner = await q.run("call-1", async () => {
      await sleep(1);
      order.push("inner");
      return 7;
    });
    order.push("outer end");
    return inner;
  });
  const later = q.run("call-1", () => void order.push("later"));
  assert.equal(await outer, 7);
  await later;
  assert.deepEqual(order, ["outer start", "inner", "outer end", "later"]);
});

Deno.test("KeyedQueue: a timer started in a task and firing after it queues normally", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  let fromTimer: Promise<void> = Promise.resolve();
  let release: () => void = () => {};
  await q.run("k", () => {
    setTimeout(() => {
      fromTimer = q.run("k", () => void order.push("timer task"));
    }, 1);
  });
  const blocker = q.run("k", async () => {
    await new Promise<void>((r) => (release = r));
    order.push("blocker");
  });
  await sleep(5);
  assert.deepEqual(order, [], "the timer's task waits behind the blocker (not inline)");
  release();
  await blocker;
  await fromTimer;
  assert.deepEqual(order, ["blocker", "timer task"]);
});

Deno.test("KeyedQueue.post queues behind the current task even from inside it", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  let posted: Promise<void> = Promise.resolve();
  await q.run("k", () => {
    posted = q.post("k", () => void order.push("posted"));
    order.push("current");
  });
  await posted;
  assert.deepEqual(order, ["current", "posted"]);
});

Deno.test("KeyedQueue: property — per key, tasks run in submission order and never overlap", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })), {
        maxLength: 30,
      }),
      async (tasks) => {
        const q = new KeyedQueue();
        const running = new Set<number>();
        const order = new Map<number, number[]>();
        await Promise.all(tasks.map(([key, delay], i) =>
          q.run(String(key), async () => {
            assert.equal(running.has(key), false, "tasks of one key overlap");
            running.add(key);
            if (delay > 0) await sleep(delay);
            else await Promise.resolve();
            order.set(key, [...(order.get(key) ?? []), i]);
            running.delete(key);
          })
        ));
        for (const [key, seen] of order) {
          const expected = tasks.map(([k], i) => (k === key ? i : -1)).filter((i) => i >= 0);
          assert.deepEqual(seen, expected);
        }
        assert.equal(q.size, 0);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("KeyedQueue.runNow: an idle key runs the task at once and returns a plain result as is", () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  const result = q.runNow("k", () => {
    order.push("task");
    assert.equal(q.busy("k"), true, "the key is busy while the task runs");
    return 42;
  });
  order.push("after");
  assert.equal(result, 42);
  assert.deepEqual(order, ["task", "after"]);
  assert.equal(q.size, 0);
  assert.throws(() =>
    q.runNow("k", () => {
      throw new Error("sync throw");
    }), /sync throw/);
  assert.equal(q.size, 0, "a throwing task leaves the key idle");
});

Deno.test("KeyedQueue.runNow: a busy key queues behind its tasks, as run does", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  let release: () => void = () => {};
  const first = q.run("k", () => new Promise<void>((r) => (release = r)));
  const second = q.runNow("k", () => void order.push("second"));
  assert.ok(second instanceof Promise, "queued: a promise");
  await sleep(1);
  assert.deepEqual(order, []);
  release();
  await first;
  await second;
  assert.deepEqual(order, ["second"]);
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue.runNow: a promise result keeps the key until it settles; later tasks wait", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  let release: () => void = () => {};
  const first = q.runNow("k", async () => {
    order.push("first start");
    await new Promise<void>((r) => (release = r));
    order.push("first end");
    return "one";
  });
  assert.ok(first instanceof Promise);
  const second = q.run("k", () => void order.push("second"));
  await sleep(1);
  assert.deepEqual(order, ["first start"], "the second task waits");
  release();
  assert.equal(await first, "one");
  await second;
  assert.deepEqual(order, ["first start", "first end", "second"]);
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue.runNow: tasks posted during the synchronous part run after the whole task", async () => {
  const q = new KeyedQueue();
  const order: string[] = [];
  let posted: Promise<void> = Promise.resolve();
  let release: () => void = () => {};
  // A task that posts while synchronous, then turns asynchronous.
  const task = q.runNow("k", async () => {
    posted = q.post("k", () => void order.push("posted"));
    order.push("sync part");
    await new Promise<void>((r) => (release = r));
    order.push("async part");
  });
  await sleep(1);
  assert.deepEqual(order, ["sync part"], "the posted task waits for the async part");
  release();
  await task;
  await posted;
  assert.deepEqual(order, ["sync part", "async part", "posted"]);
  // A synchronous task that posts: the posted task runs after it, later.
  const sync = q.runNow("k", () => {
    posted = q.post("k", () => void order.push("posted 2"));
    order.push("sync task");
  });
  assert.equal(sync, undefined);
  assert.deepEqual(order.slice(3), ["sync task"]);
  await posted;
  assert.deepEqual(order.slice(3), ["sync task", "posted 2"]);
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue.runNow: re-entrant run on its own key runs inline, nested", async () => {
  const q = new KeyedQueue();
  const inner = q.runNow("k", () => q.run("k", () => 7));
  assert.equal(await inner, 7);
  // From inside a task of the key, runNow behaves as run (inline).
  const v = await q.run("c", () => q.runNow("c", () => 8));
  assert.equal(v, 8);
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue { asyncContext: false }: inline from the synchronous part only", async () => {
  const q = new KeyedQueue({ asyncContext: false });
  const order: string[] = [];
  // From the synchronous part of a task: inline, nested (as with an async context).
  const inline = q.runNow("k", () => {
    order.push("outer");
    const nested = q.runNow("k", () => {
      order.push("nested");
      return 1;
    });
    order.push("outer end");
    return nested;
  });
  assert.equal(await inline, 1);
  assert.deepEqual(order, ["outer", "nested", "outer end"]);
  assert.equal(q.size, 0);
  // Another key from inside a task runs at once, not nested in it: its own key's task
  // (the outer one) is not "inside" there.
  let fromB: Promise<string> = Promise.resolve("");
  const seen: string[] = [];
  q.runNow("a", () => {
    q.runNow("b", () => {
      fromB = q.run("a", () => {
        seen.push("from b");
        return "queued";
      });
    });
    seen.push("a end");
  });
  assert.equal(await fromB, "queued");
  assert.deepEqual(seen, ["a end", "from b"]);
  // From a continuation after an await: queued behind the task (no async context), so it
  // runs once the task has settled.
  order.length = 0;
  let later: Promise<void> = Promise.resolve();
  const task = q.runNow("k", async () => {
    await Promise.resolve();
    later = q.run("k", () => void order.push("later"));
    await sleep(1);
    order.push("task end");
  });
  await task;
  await later;
  assert.deepEqual(order, ["task end", "later"]);
  // A synchronous task leaves nothing behind; a throw propagates synchronously.
  assert.equal(q.runNow("s", () => 5), 5);
  assert.throws(() =>
    q.runNow("s", () => {
      throw new Error("sync throw");
    }), /sync throw/);
  assert.equal(q.size, 0);
  // Queued tasks run outside the poster's synchronous part.
  const queued = q.run("q", () => q.run("q", () => "inline in a queued task"));
  assert.equal(await queued, "inline in a queued task");
  assert.equal(q.size, 0);
});

Deno.test("KeyedQueue.runNow: busy and size during synchronous parts, nested keys", async () => {
  for (const asyncContext of [true, false]) {
    const q = new KeyedQueue({ asyncContext });
    const seen: unknown[] = [];
    let queued: Promise<void> = Promise.resolve();
    const r = q.runNow("a", () => {
      seen.push(q.busy("a"), q.busy("b"), q.size);
      const inner = q.runNow("b", () => {
        seen.push(q.busy("a"), q.busy("b"), q.size);
        // Queued behind "a", whose synchronous part is still running further down.
        queued = q.post("a", () => void seen.push("queued a"));
        return "b";
      });
      seen.push(inner, q.busy("b"), q.size);
      return "a";
    });
    assert.equal(r, "a");
    // "a" stays busy for the task queued behind it; "b" is idle.
    assert.deepEqual([q.busy("a"), q.busy("b"), q.size], [true, false, 1]);
    await queued;
    assert.deepEqual(seen, [true, false, 1, true, true, 2, "b", false, 1, "queued a"]);
    assert.equal(q.size, 0);
    assert.equal(q.busy("a"), false);
  }
});
