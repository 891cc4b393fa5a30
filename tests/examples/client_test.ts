// examples/client.ts: sends OPTIONS and MESSAGE to a URI and prints the results.
import { assert } from "../test_deps.ts";
import { createSipStack } from "../../service/sip_stack.ts";
import { runCli } from "./_spawn.ts";

Deno.test("example client: prints the OPTIONS and MESSAGE results", async () => {
  const texts: string[] = [];
  const uas = await createSipStack({
    name: "client-test-uas",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    callbacks: {
      sipMessage(req) {
        texts.push(req.bodyText());
        return "ok";
      },
    },
  });
  try {
    const port = uas.transports[0]!.port;
    const r = await runCli(["examples/client.ts", `sip:bob@127.0.0.1:${port}`, "hello bob"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OPTIONS 200 OK \d+(\.\d+)? ms$/m);
    assert.match(r.stdout, /^MESSAGE 200 OK$/m);
    assert.deepEqual(texts, ["hello bob"]);
  } finally {
    await uas.close(0);
  }
  // Nobody there: a local 408 and exit status 2.
  const dead = await runCli(["examples/client.ts", "sip:127.0.0.1:9", "--timeout", "200"]);
  assert.equal(dead.code, 2);
  assert.match(dead.stdout, /OPTIONS 408/);
});
