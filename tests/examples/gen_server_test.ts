import { assert } from "../test_deps.ts";
import { alloc, free, startCh3 } from "../../examples/gen_server.ts";

async function withCh3(
  channels: number,
  fn: (svc: Awaited<ReturnType<typeof startCh3>>) => Promise<void>,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "sipkit-ch3-test-" });
  try {
    await using svc = await startCh3({ channels, dataDir, name: `ch3-${crypto.randomUUID()}` });
    await fn(svc);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("ch3: alloc hands out the lowest free channel; exhausted pool answers no_channels", async () => {
  await withCh3(2, async (svc) => {
    assert.equal(await alloc(svc), 1);
    assert.equal(await alloc(svc), 2);
    assert.deepEqual(await alloc(svc), { error: "no_channels" });
  });
});

Deno.test("ch3: free (a cast) returns a channel; freeing an unallocated one is ignored", async () => {
  await withCh3(3, async (svc) => {
    await alloc(svc);
    const two = await alloc(svc);
    assert.equal(two, 2);
    free(svc, 2);
    free(svc, 99);
    free(svc, 2); // twice: ignored the second time
    // The casts are handled before this call (one mailbox, in order).
    assert.deepEqual(await svc.call("count"), { allocated: 1, free: 2 });
    assert.equal(await alloc(svc), 2);
  });
});

Deno.test("ch3: concurrent allocs never hand out the same channel (mailbox serialization)", async () => {
  await withCh3(50, async (svc) => {
    const got = await Promise.all(Array.from({ length: 50 }, () => alloc(svc)));
    assert.equal(new Set(got).size, 50);
    assert.deepEqual(
      [...got].sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });
});

Deno.test("ch3: an unknown call crashes the process; the supervisor restarts it with a fresh pool", async () => {
  await withCh3(3, async (svc) => {
    await alloc(svc);
    await assert.rejects(svc.call("bogus"), /unknown call/);
    assert.equal(svc.restarts, 1);
    assert.equal(await alloc(svc), 1, "init ran again");
  });
});

Deno.test("ch3: `deno task example:gen_server` runs and prints the allocations", async () => {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../examples/gen_server.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await cmd.output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(text, /alloc -> 1, 2, 3/);
  assert.match(text, /no_channels/);
  assert.match(text, /free\(2\); alloc -> 2/);
});
