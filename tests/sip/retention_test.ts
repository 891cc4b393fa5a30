// What server transactions keep alive after their final response, checked with WeakRefs and
// forced collections in a child process (tests/sip/_retention_probe.ts needs --expose-gc).
import { assert } from "../test_deps.ts";

Deno.test("§17.2: a server transaction does not keep its final response message; a provisional one is kept", async () => {
  const probe = new URL("./_retention_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", probe],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the probe failed:\n${stderr}`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(r.states, ["completed", "accepted", "proceeding"]);
  assert.equal(r.completedResponse, true, "Completed keeps the bytes, not the message");
  assert.equal(r.acceptedResponse, true, "Accepted keeps nothing of the 2xx");
  // The control: the probe does see a message that is still referenced.
  assert.equal(r.provisionalResponse, false, "Proceeding keeps the provisional response");
  assert.equal(r.completedResent, true, "a retransmission is still answered from the bytes");
  assert.deepEqual(r.tags, ["t-z9hG4bKm", "t-z9hG4bKi", "t-z9hG4bKp"]);
});
