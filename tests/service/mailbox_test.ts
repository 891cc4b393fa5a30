import { assert } from "../test_deps.ts";
import { Mailbox } from "../../service/mailbox.ts";

Deno.test("Mailbox handles items one at a time in order; postFirst jumps the queue", async () => {
  const seen: number[] = [];
  let inside = 0;
  let max = 0;
  const box = new Mailbox<number>(async (n) => {
    inside++;
    max = Math.max(max, inside);
    await new Promise((r) => setTimeout(r, 1));
    seen.push(n);
    inside--;
  });
  box.post(1);
  box.post(2);
  box.post(3);
  box.postFirst(0);
  assert.equal(box.busy, true);
  await box.idle();
  assert.deepEqual(seen, [1, 0, 2, 3]);
  assert.equal(max, 1);
  assert.equal(box.busy, false);
});

Deno.test("Mailbox: remove and takeAll drop waiting items; errors go to onError and do not stop it", async () => {
  const errors: unknown[] = [];
  const seen: string[] = [];
  const box = new Mailbox<string>((s) => {
    if (s === "bad") throw new Error("bad");
    seen.push(s);
  }, (e) => errors.push(e));
  box.post("bad");
  box.post("a");
  box.post("b");
  box.post("c");
  assert.equal(box.remove("b"), true);
  assert.equal(box.remove("zz"), false);
  await box.idle();
  assert.deepEqual(seen, ["a", "c"]);
  assert.equal(errors.length, 1);
  assert.deepEqual(box.takeAll(), []);
  assert.equal(box.size, 0);
});

Deno.test("Mailbox: paused, items queue up; resume handles them in order", async () => {
  const seen: number[] = [];
  const box = new Mailbox<number>((n) => void seen.push(n));
  box.pause();
  box.post(1);
  box.post(2);
  await box.idle();
  assert.deepEqual(seen, []);
  assert.equal(box.size, 2);
  box.resume();
  await box.idle();
  assert.deepEqual(seen, [1, 2]);
  assert.equal(box.paused, false);
});
