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
