import { assert } from "../test_deps.ts";
import {
  CONFIG_DEFAULTS,
  ConfigError,
  ConfigReader,
  loadConfigFile,
  mergeConfig,
  parseConfigText,
  resolveConfig,
} from "../../service/config.ts";
import { definePlugin } from "../../service/plugin.ts";
import { withTempDir } from "./_helpers.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("every option has a default", () => {
  const c = resolveConfig({});
  assert.deepEqual(c.listen, []);
  assert.equal(c.dataDir, CONFIG_DEFAULTS.dataDir);
  assert.equal(c.callTimeout, 5000);
  assert.deepEqual(c.restart, { intensity: 10, period: 60_000 });
  assert.deepEqual(c.timers, { t1: 500, t2: 4000, t4: 5000 });
  assert.equal(c.limits.maxMessageSize, 65535);
  assert.equal(c.limits.maxCalls, 100_000);
  assert.equal(c.tryingDelay, 200);
  assert.equal(resolveConfig({ tryingDelay: false }).tryingDelay, false);
  assert.equal(c.udpMaxSize, 1300);
  assert.deepEqual(c.tls, {});
  assert.equal(c.keepAliveInterval, 120_000);
  assert.equal(c.fromUser, "sipkit");
  assert.deepEqual(c.plugins, []);
  assert.equal(typeof c.clock.now, "function");
});

Deno.test("object config: errors name the key", () => {
  assert.equal(configError(() => resolveConfig({ timers: { t1: "fast" } })).key, "timers.t1");
  assert.equal(configError(() => resolveConfig({ timers: { t1: 900, t2: 800 } })).key, "timers.t2");
  assert.equal(
    configError(() => resolveConfig({ restart: { intensity: 1.5 } })).key,
    "restart.intensity",
  );
  assert.equal(configError(() => resolveConfig({ listen: ["sip:a", 5] })).key, "listen[1]");
  const bad = configError(() => resolveConfig({ listen: ["sip:127.0.0.1:5060", "http://x"] }));
  assert.equal(bad.key, "listen[1]");
  assert.match(bad.message, /sip: or sips:/);
  assert.equal(
    configError(() => resolveConfig({ limits: { maxMessageSize: 10 } })).key,
    "limits.maxMessageSize",
  );
  assert.equal(configError(() => resolveConfig({ lisen: [] })).key, "lisen");
  assert.match(configError(() => resolveConfig({ lisen: [] })).message, /lisen: unknown option/);
  assert.equal(configError(() => resolveConfig({ callbacks: { init: 3 } })).key, "callbacks.init");
  assert.equal(configError(() => resolveConfig({ plugins: [{}] })).key, "plugins[0]");
  assert.equal(configError(() => resolveConfig(5)).key, "");
  assert.equal(resolveConfig({ listen: "sip:127.0.0.1:5060" }).listen[0], "sip:127.0.0.1:5060");
});

Deno.test("YAML config: errors carry the file, line and column", () => {
  const text = "name: x\nlisten:\n  - sip:127.0.0.1:5060\n  - 42\ntimers:\n  t1: 100\n  t2: soon\n";
  const source = parseConfigText(text, "app.yaml");
  const e = configError(() => resolveConfig(source.value, { source }));
  assert.equal(e.key, "listen[1]");
  assert.equal(e.file, "app.yaml");
  assert.equal(e.line, 4);
  assert.equal(e.column, 5);
  assert.match(e.message, /^app\.yaml:4:5: listen\[1\]: must be a string/);
  const s2 = parseConfigText("timers:\n  t1: 100\n  t2: soon\n", "b.yaml");
  const e2 = configError(() => resolveConfig(s2.value, { source: s2 }));
  assert.equal(e2.key, "timers.t2");
  assert.equal(e2.line, 3);
  const s4 = parseConfigText("listen:\n  - sip:127.0.0.1:99999\n", "d.yaml");
  const e4 = configError(() => resolveConfig(s4.value, { source: s4 }));
  assert.equal(e4.key, "listen[0]");
  assert.equal(e4.line, 2);
  const s3 = parseConfigText("restart:\n  intensty: 3\n", "c.yaml");
  const e3 = configError(() => resolveConfig(s3.value, { source: s3 }));
  assert.equal(e3.key, "restart.intensty");
  assert.equal(e3.line, 2);
});

Deno.test("YAML syntax errors are ConfigErrors with a line", () => {
  const e = configError(() => parseConfigText("listen: [a, b\ntimers: {", "bad.yaml"));
  assert.equal(e.file, "bad.yaml");
  assert.ok(e.line !== undefined && e.line >= 1);
  assert.match(e.message, /invalid YAML/);
});

Deno.test("plugin names in files resolve through a plugin table; unknown names are errors with a line", () => {
  const trace = definePlugin({ name: "trace" });
  const s = parseConfigText("plugins: [trace, nope]\n", "p.yaml");
  const e = configError(() => resolveConfig(s.value, { source: s, pluginTable: { trace } }));
  assert.equal(e.key, "plugins[1]");
  assert.equal(e.line, 1);
  assert.match(e.message, /unknown plugin "nope" \(known: trace\)/);
  const ok = parseConfigText("plugins: [trace]\n");
  assert.equal(resolveConfig(ok.value, { source: ok, pluginTable: { trace } }).plugins[0], trace);
});

Deno.test("loadConfigFile reads and validates a file; a missing file is a ConfigError", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/sipkit.yaml`;
    await Deno.writeTextFile(
      path,
      "name: app\nlisten:\n  - sip:127.0.0.1:5070\ncallTimeout: 100\n",
    );
    const input = await loadConfigFile(path);
    assert.equal(input.name, "app");
    assert.deepEqual(input.listen, ["sip:127.0.0.1:5070"]);
    await Deno.writeTextFile(path, "callTimeout: -5\n");
    await assert.rejects(
      loadConfigFile(path),
      (e: unknown) => e instanceof ConfigError && e.line === 1 && e.key === "callTimeout",
    );
    await assert.rejects(loadConfigFile(`${dir}/missing.yaml`), ConfigError);
  });
});

Deno.test("the shipped sipkit.yaml is valid", async () => {
  const input = await loadConfigFile(new URL("../../sipkit.yaml", import.meta.url).pathname);
  assert.equal(typeof input.name, "string");
});

Deno.test("mergeConfig merges mappings key by key and replaces lists and object-only values", () => {
  const cb = { init() {} };
  const merged = mergeConfig(
    { timers: { t1: 100, t2: 4000 }, listen: ["a", "b"], callbacks: { x: 1 } },
    { timers: { t1: 200, t2: null }, listen: ["c"], callbacks: cb },
  ) as Record<string, unknown>;
  assert.deepEqual(merged.timers, { t1: 200 }, "null removes a key");
  assert.deepEqual(merged.listen, ["c"]);
  assert.equal(merged.callbacks, cb);
});

Deno.test("ConfigReader: typed getters with defaults and range checks", () => {
  const r = new ConfigReader({ n: 3, s: "x", b: true, l: ["a"], o: { k: 1 } }, "sec");
  assert.equal(r.number("n", 0, { min: 1, max: 5, integer: true }), 3);
  assert.equal(r.number("missing", 9), 9);
  assert.equal(r.string("s", "d", ["x", "y"]), "x");
  assert.equal(r.boolean("b", false), true);
  assert.deepEqual(r.stringList("l", []), ["a"]);
  const o = r.section("o");
  assert.equal(o.number("k", 0), 1);
  o.done();
  r.done();
  const bad = new ConfigReader({ s: "z", extra: 1 }, "sec");
  assert.equal(configError(() => bad.string("s", "x", ["x", "y"])).key, "sec.s");
  assert.equal(configError(() => bad.done()).key, "sec.extra");
});
