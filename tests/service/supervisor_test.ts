import { assert, fc } from "../test_deps.ts";
import { RestartIntensity } from "../../service/supervisor.ts";

Deno.test("RestartIntensity allows `intensity` restarts per sliding `period`", () => {
  let now = 0;
  const r = new RestartIntensity({ intensity: 3, period: 100 }, { now: () => now });
  assert.equal(r.allow(), true);
  now = 10;
  assert.equal(r.allow(), true);
  now = 20;
  assert.equal(r.allow(), true);
  now = 50;
  assert.equal(r.allow(), false);
  assert.equal(r.count, 3);
  now = 101; // the restart at 0 left the window
  assert.equal(r.allow(), true);
  r.configure({ intensity: 0, period: 100 });
  assert.equal(r.allow(), false);
});

Deno.test("RestartIntensity: property — never more than `intensity` allowed in any window", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 40 }),
      (intensity, period, gaps) => {
        let now = 0;
        const r = new RestartIntensity({ intensity, period }, { now: () => now });
        const allowed: number[] = [];
        for (const g of gaps) {
          now += g;
          if (r.allow()) allowed.push(now);
        }
        for (const t of allowed) {
          const inWindow = allowed.filter((u) => u > t - period && u <= t).length;
          assert.ok(inWindow <= intensity);
        }
      },
    ),
  );
});
