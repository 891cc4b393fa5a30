import { assert, fc } from "../test_deps.ts";
import { systemClock, TimerQueue } from "../../sip/clock.ts";
import { fakeClock } from "./_transaction_helpers.ts";

Deno.test("TimerQueue fires each timer once at its due time, in due order, on one base timer", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  const fired: string[] = [];
  q.setTimeout(() => fired.push("c@300"), 300);
  q.setTimeout(() => fired.push("a@100"), 100);
  q.setTimeout(() => fired.push("b@200"), 200);
  assert.equal(f.countTimers(), 1, "one base timer for three queued timers");
  assert.equal(q.size, 3);
  f.tick(99);
  assert.deepEqual(fired, []);
  f.tick(1);
  assert.deepEqual(fired, ["a@100"]);
  f.tick(200);
  assert.deepEqual(fired, ["a@100", "b@200", "c@300"]);
  assert.equal(q.size, 0);
  assert.equal(f.countTimers(), 0, "an idle queue holds no base timer");
});

Deno.test("TimerQueue: timers due at the same time fire in the order they were set", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  const fired: number[] = [];
  for (let i = 0; i < 10; i++) q.setTimeout(() => fired.push(i), 50);
  f.tick(50);
  assert.deepEqual(fired, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("TimerQueue.clearTimeout cancels; clearing the last timer clears the base timer", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  let fired = 0;
  const a = q.setTimeout(() => fired++, 100);
  const b = q.setTimeout(() => fired++, 200);
  q.clearTimeout(a);
  q.clearTimeout(a); // twice: ignored
  q.clearTimeout(undefined); // foreign handles: ignored
  q.clearTimeout(42);
  assert.equal(q.size, 1);
  q.clearTimeout(b);
  assert.equal(q.size, 0);
  assert.equal(f.countTimers(), 0);
  f.tick(1000);
  assert.equal(fired, 0);
});

Deno.test("TimerQueue: an earlier timer re-arms the base timer; a cleared one is never run", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  const fired: string[] = [];
  q.setTimeout(() => fired.push("late"), 32_000);
  const early = q.setTimeout(() => fired.push("early"), 200);
  q.setTimeout(() => fired.push("mid"), 500);
  assert.equal(f.countTimers(), 1);
  q.clearTimeout(early);
  f.tick(499);
  assert.deepEqual(fired, []);
  f.tick(1);
  assert.deepEqual(fired, ["mid"]);
  f.tick(31_500);
  assert.deepEqual(fired, ["mid", "late"]);
  assert.equal(f.countTimers(), 0);
});

Deno.test("TimerQueue: callbacks may set and clear timers; a zero delay set while firing runs in the same pass", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  const fired: string[] = [];
  const victim: { id?: unknown } = {};
  q.setTimeout(() => {
    fired.push("first");
    q.setTimeout(() => fired.push("zero"), 0);
    q.setTimeout(() => fired.push("later"), 100);
    q.clearTimeout(victim.id);
  }, 10);
  victim.id = q.setTimeout(() => fired.push("victim"), 10);
  f.tick(10);
  assert.deepEqual(fired, ["first", "zero"]);
  f.tick(100);
  assert.deepEqual(fired, ["first", "zero", "later"]);
  assert.equal(f.countTimers(), 0);
});

Deno.test("TimerQueue: a throwing callback does not stop the others and its error is rethrown", () => {
  const f = fakeClock();
  const q = new TimerQueue(f.clock);
  const fired: string[] = [];
  q.setTimeout(() => {
    throw new Error("boom");
  }, 10);
  q.setTimeout(() => fired.push("after"), 10);
  q.setTimeout(() => fired.push("next"), 20);
  assert.throws(() => f.tick(10), /boom/);
  assert.deepEqual(fired, ["after"]);
  f.tick(10);
  assert.deepEqual(fired, ["after", "next"], "the base timer was re-armed despite the error");
  assert.equal(f.countTimers(), 0);
});

Deno.test("TimerQueue property: random set/clear/tick sequences fire exactly the uncleared timers, each at its due time", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant("set" as const), ms: fc.integer({ min: 0, max: 1000 }) }),
          fc.record({ op: fc.constant("clear" as const), i: fc.nat() }),
          fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 700 }) }),
        ),
        { maxLength: 60 },
      ),
      (ops) => {
        const f = fakeClock();
        const q = new TimerQueue(f.clock);
        const timers: {
          id: unknown;
          due: number;
          cleared: boolean;
          firedAt: number | undefined;
        }[] = [];
        for (const o of ops) {
          if (o.op === "set") {
            const t = {
              id: undefined as unknown,
              due: f.now() + o.ms,
              cleared: false,
              firedAt: undefined as number | undefined,
            };
            t.id = q.setTimeout(() => {
              assert.equal(t.firedAt, undefined, "fires once");
              t.firedAt = f.now();
            }, o.ms);
            timers.push(t);
          } else if (o.op === "clear") {
            const t = timers[o.i % Math.max(1, timers.length)];
            if (t !== undefined && t.firedAt === undefined) {
              t.cleared = true;
              q.clearTimeout(t.id);
            }
          } else {
            f.tick(o.ms);
          }
        }
        f.tick(2000);
        for (const t of timers) {
          if (t.cleared) assert.equal(t.firedAt, undefined);
          else assert.equal(t.firedAt, t.due);
        }
        assert.equal(q.size, 0);
        assert.equal(f.countTimers(), 0);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("TimerQueue on the system clock leaves no timer behind once cleared (sanitizer)", async () => {
  const q = new TimerQueue(systemClock);
  const id = q.setTimeout(() => {}, 60_000);
  q.clearTimeout(id);
  let fired = false;
  await new Promise<void>((resolve) => {
    q.setTimeout(() => {
      fired = true;
      resolve();
    }, 1);
  });
  assert.equal(fired, true);
  assert.equal(q.size, 0);
});

Deno.test("TimerQueue property: many timers of a few delays (delay lists, compaction) fire in due order, then set order", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant("set" as const),
            ms: fc.constantFrom(0, 5, 10, 500, 32_000),
            n: fc.integer({ min: 1, max: 40 }),
          }),
          fc.record({
            op: fc.constant("clear" as const),
            i: fc.nat(),
            n: fc.integer({ min: 1, max: 80 }),
          }),
          fc.record({ op: fc.constant("tick" as const), ms: fc.constantFrom(0, 1, 5, 200, 600) }),
        ),
        { maxLength: 80 },
      ),
      (ops) => {
        const f = fakeClock();
        const q = new TimerQueue(f.clock);
        const timers: {
          id: unknown;
          due: number;
          seq: number;
          cleared: boolean;
          fired: boolean;
        }[] = [];
        const order: number[] = [];
        for (const o of ops) {
          if (o.op === "set") {
            for (let k = 0; k < o.n; k++) {
              const t = {
                id: undefined as unknown,
                due: f.now() + o.ms,
                seq: timers.length,
                cleared: false,
                fired: false,
              };
              t.id = q.setTimeout(() => {
                assert.equal(t.fired, false, "fires once");
                assert.equal(f.now(), t.due, "fires at its due time");
                t.fired = true;
                order.push(t.seq);
              }, o.ms);
              timers.push(t);
            }
          } else if (o.op === "clear") {
            for (let k = 0; k < o.n && timers.length > 0; k++) {
              const t = timers[(o.i + 7 * k) % timers.length]!;
              if (!t.fired && !t.cleared) {
                t.cleared = true;
                q.clearTimeout(t.id);
              }
            }
          } else {
            f.tick(o.ms);
          }
          assert.equal(q.size, timers.filter((t) => !t.fired && !t.cleared).length);
        }
        f.tick(40_000);
        for (const t of timers) assert.equal(t.fired, !t.cleared);
        for (let i = 1; i < order.length; i++) {
          const a = timers[order[i - 1]!]!;
          const b = timers[order[i]!]!;
          assert.ok(
            a.due < b.due || (a.due === b.due && a.seq < b.seq),
            "due order, then set order",
          );
        }
        assert.equal(q.size, 0);
        assert.equal(f.countTimers(), 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("TimerQueue: more distinct delays than delay lists, and a time base that goes back, keep due order", () => {
  const f = fakeClock();
  let offset = 0; // the base clock's time may step back (a wall clock set backwards)
  const base = {
    now: () => f.now() - offset,
    setTimeout: (fn: () => void, ms: number) => f.clock.setTimeout(fn, ms),
    clearTimeout: (id: unknown) => f.clock.clearTimeout(id),
  };
  const q = new TimerQueue(base);
  const fired: string[] = [];
  for (let d = 1; d <= 40; d++) q.setTimeout(() => void fired.push(`d${d}`), 100 + d);
  q.setTimeout(() => void fired.push("late"), 1000); // due at base time 1000
  offset = 500; // base time now -500
  q.setTimeout(() => void fired.push("early"), 1000); // due at base time 500: before "late"
  // Due times are on the base clock: the d timers (101..140) and "early" (500) are now due
  // 500 ms later in real time; "early" went to the heap (its list's last timer is due later)
  // and still fires before "late" (1000).
  f.tick(2000);
  assert.deepEqual(fired, [...Array.from({ length: 40 }, (_, i) => `d${i + 1}`), "early", "late"]);
  assert.equal(q.size, 0);
});
