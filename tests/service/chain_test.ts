import { assert, fc } from "../test_deps.ts";
import {
  ChainError,
  compose,
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
