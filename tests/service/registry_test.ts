import { assert } from "../test_deps.ts";
import { defaultRegistry, ServiceExistsError, ServiceRegistry } from "../../service/registry.ts";

Deno.test("ServiceRegistry finds by name and id, rejects duplicates, removes only its entry", () => {
  const r = new ServiceRegistry();
  const a = { name: "a", id: "ida" };
  r.add(a);
  assert.equal(r.find("a"), a);
  assert.equal(r.find("ida"), a);
  assert.throws(() => r.add({ name: "a", id: "other" }), ServiceExistsError);
  r.remove({ name: "a", id: "ida" });
  assert.equal(r.find("a"), a, "a different object with the same name is not removed");
  r.remove(a);
  assert.equal(r.find("a"), undefined);
  assert.deepEqual(r.list(), []);
});

Deno.test("defaultRegistry is one process-wide instance held under a registered symbol", () => {
  const r = defaultRegistry();
  assert.equal(defaultRegistry(), r);
  const held =
    (globalThis as unknown as Record<symbol, unknown>)[Symbol.for("sipkit.serviceRegistry")];
  assert.equal(held, r);
});
