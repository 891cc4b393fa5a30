// deno-lint-ignore-file no-console
/**
 * A small client: sends OPTIONS and a MESSAGE to a URI and prints the results.
 *
 * ```sh
 * deno task example:client sip:127.0.0.1:5080 [text] [--timeout 5000]
 * ```
 *
 * Output, one line per request: `OPTIONS <status> <reason> <ms> ms` and
 * `MESSAGE <status> <reason>`. Exits 0 when both got a final response from the peer, 2
 * otherwise (timeout, unreachable).
 *
 * @module
 */

import { start } from "../mod.ts";

if (import.meta.main) {
  const positional: string[] = [];
  let timeout = 5000;
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i]!;
    if (a === "--timeout") timeout = Number(Deno.args[++i]);
    else positional.push(a);
  }
  const uri = positional[0];
  if (uri === undefined) {
    console.error("usage: client.ts <sip-uri> [text] [--timeout ms]");
    Deno.exit(64);
  }
  const text = positional[1] ?? "Hello from sipkit";
  const local = uri.includes("[::1]") ? "sip:[::1]:0" : "sip:127.0.0.1:0";
  const svc = await start("sipkit-client", { listen: [local] });
  let ok = true;
  try {
    const t0 = performance.now();
    const o = await svc.options(uri, { timeout });
    const ms = (performance.now() - t0).toFixed(1);
    console.log(`OPTIONS ${o.status} ${o.reason} ${ms} ms`);
    ok &&= o.response !== undefined;
    const m = await svc.message(uri, { body: text, contentType: "text/plain", timeout });
    console.log(`MESSAGE ${m.status} ${m.reason}`);
    ok &&= m.response !== undefined;
  } finally {
    await svc.stop();
  }
  Deno.exit(ok ? 0 : 2);
}
