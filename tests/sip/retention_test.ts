// What server and client transactions keep alive after a final response, checked with WeakRefs
// and forced collections in a child process (tests/sip/_retention_probe.ts needs --expose-gc).
import { assert } from "../test_deps.ts";

Deno.test("§17.1, §17.2: transactions keep no final response message; a client keeps only the wire form of an INVITE in Accepted", async () => {
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
  // Client transactions (the probe runs both kinds in one child process).
  const c = r.client;
  assert.deepEqual(c.states, ["completed", "accepted", "completed"]);
  assert.equal(c.doneRequest, true, "a non-INVITE in Completed keeps not its request");
  assert.equal(c.doneResponse, true, "... nor its final response");
  assert.equal(c.acceptedResponse, true, "an INVITE in Accepted keeps not the 2xx");
  // An INVITE in Accepted keeps its wire form (a forked 2xx needs the request), not the message.
  assert.equal(c.acceptedRequest, true, "an INVITE in Accepted keeps not the request message");
  assert.equal(c.acceptedRequestReadable, true, "... but can still give an equal request");
  assert.equal(c.rejectedRequest, true, "an INVITE in Completed keeps not its request");
  assert.equal(c.rejectedResponse, true, "... nor the 300-699");
  assert.equal(c.ackResent, true, "a retransmitted 486 still gets the ACK");
});
