import { assert, fc } from "../test_deps.ts";
import {
  ChainError,
  compose,
  composeMaybe,
  composeRaw,
  fromCallback,
  type Link,
  NO_REPLY,
} from "../../service/chain.ts";

Deno.test("compose: links run in order; the terminal runs when every link continues", async () => {
  const seen: string[] = [];
  const mk = (tag: string): Link<[string], string> => (_args, next) => {
    seen.push(tag);
    return next();
  };
  const run = compose<[string], string>([mk("a"), mk("b")], ([s]) => `default:${s}`);
  assert.equal(await run(["x"]), "default:x");
  assert.deepEqual(seen, ["a", "b"]);
});

Deno.test("compose: a link answers by returning without next; later links do not run", async () => {
  let ran = false;
  const run = compose<[number], number>(
    [([n]) => n + 1, (args, next) => {
      ran = true;
      return next(args);
    }],
    () => 0,
  );
  assert.equal(await run([1]), 2);
  assert.equal(ran, false);
});

Deno.test("compose: next with changed arguments passes them down", async () => {
  const run = compose<[number, string], string>(
    [([n, s], next) => next([n * 10, s.toUpperCase()])],
    ([n, s]) => `${s}${n}`,
  );
  assert.equal(await run([4, "a"]), "A40");
});

Deno.test("compose: calling next twice rejects with ChainError (hono semantics)", async () => {
  const run = compose<[], number>([async (_a, next) => {
    await next();
    return next();
  }], () => 1);
  await assert.rejects(run([]), ChainError);
});

Deno.test("compose: sync and async throws in links and terminal reject", async () => {
  await assert.rejects(
    compose<[], number>([() => {
      throw new Error("sync");
    }], () => 1)([]),
    /sync/,
  );
  await assert.rejects(
    compose<[], number>([() => Promise.reject(new Error("async"))], () => 1)([]),
    /async/,
  );
  await assert.rejects(
    compose<[], number>([], () => {
      throw new Error("terminal");
    })([]),
    /terminal/,
  );
});

Deno.test("fromCallback: undefined continues, NO_REPLY stops with undefined, values answer", async () => {
  const user = fromCallback((n: number) => (n === 0 ? NO_REPLY : n > 5 ? n : undefined));
  let terminal = 0;
  const run = compose<[number], number>([user], () => ++terminal);
  assert.equal(await run([9]), 9);
  assert.equal(await run([1]), 1, "continued to the terminal");
  assert.equal(await run([0]), undefined);
  assert.equal(terminal, 1);
  const raw = composeRaw<[number], number>([user], () => -1);
  assert.equal(await raw([0]), NO_REPLY);
});

Deno.test("compose: property — the result is that of the first answering link, else the terminal", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.option(fc.integer(), { nil: undefined }), { maxLength: 8 }),
      async (answers) => {
        const links = answers.map((a): Link<[], number> => (_args, next) =>
          a === undefined ? next() : a
        );
        const expected = answers.find((a) => a !== undefined) ?? -1;
        assert.equal(await compose<[], number>(links, () => -1)([]), expected);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("composeMaybe: plain callbacks and a terminal that answer synchronously give a plain value", async () => {
  const seen: string[] = [];
  const user = fromCallback((n: number) => {
    seen.push("user");
    return n > 10 ? n : undefined;
  });
  const run = composeMaybe<[number], number>([user], ([n]) => -n);
  assert.equal(run([20]), 20, "the user answers: no promise");
  assert.equal(run([3]), -3, "the user continues, the terminal answers: no promise");
  const noReply = fromCallback<[number], number>((_n: number) => NO_REPLY);
  assert.equal(composeMaybe<[number], number>([noReply], () => 0)([1]), NO_REPLY);
  // A promise from the callback: the result is a promise; undefined continues.
  const later = composeMaybe<[number], number>(
    [fromCallback((n: number) => Promise.resolve(n > 10 ? n : undefined))],
    ([n]) => -n,
  );
  const p = later([3]);
  assert.ok(p instanceof Promise);
  assert.equal(await p, -3);
  assert.equal(await later([30]), 30);
  // A throwing callback throws synchronously.
  const bad = composeMaybe<[number], number>([fromCallback<[number], number>((_n: number) => {
    throw new Error("boom");
  })], () => 0);
  assert.throws(() => bad([1]), /boom/);
  assert.deepEqual(seen, ["user", "user"]);
});

Deno.test("composeMaybe: from the first link with next on, the chain runs as composeRaw", async () => {
  const order: string[] = [];
  const user = fromCallback<[number], number>((n: number) => {
    order.push("user");
    return n === 0 ? 100 : undefined;
  });
  const plugin: Link<[number], number> = ([n], next) => {
    order.push("plugin");
    return next([n * 2]);
  };
  const after = fromCallback<[number], number>((n: number) => {
    order.push("after");
    return n > 10 ? n : undefined;
  });
  const run = composeMaybe<[number], number>([user, plugin, after], ([n]) => -n);
  assert.equal(run([0]), 100);
  const r = run([3]);
  assert.ok(r instanceof Promise);
  assert.equal(await r, -6);
  assert.equal(await run([6]), 12);
  assert.deepEqual(order, ["user", "user", "plugin", "after", "user", "plugin", "after"]);
});
