/**
 * The channel allocator `ch3` of the OTP gen_server guide, as a sipkit service: a pool of
 * channels 1..N; `alloc` is a synchronous `call` that replies with a free channel, `free`
 * is an asynchronous `cast` that returns one to the pool.
 *
 * Run it: `deno task example:gen_server` (or `deno run -A examples/gen_server.ts`).
 *
 * @module
 */

import { type Service, start } from "../mod.ts";

/** The service state: the channels handed out and the ones still free (lowest first). */
export interface Ch3State {
  /** Allocated channels. */
  allocated: Set<number>;
  /** Free channels, the next one to hand out first. */
  free: number[];
}

/** Options of {@linkcode startCh3}. */
export interface Ch3Options {
  /** Number of channels (default 100, as in the guide). */
  channels?: number;
  /** Where the service UUID lives (default `./.sipkit`). */
  dataDir?: string;
  /** The service name (default `ch3`). */
  name?: string;
}

/** A request to `handleCall`. */
type Ch3Call = "alloc" | "count";
/** A message to `handleCast`. */
type Ch3Cast = { free: number };

/**
 * Start the channel allocator.
 *
 * @param options pool size, data directory, name
 * @returns the running service
 */
export function startCh3(options: Ch3Options = {}): Promise<Service<Ch3State>> {
  const size = options.channels ?? 100;
  return start<Ch3State>(options.name ?? "ch3", {
    dataDir: options.dataDir ?? "./.sipkit",
    callbacks: {
      init(state) {
        state.allocated = new Set();
        state.free = Array.from({ length: size }, (_, i) => i + 1);
      },
      handleCall(request, _from, state) {
        switch (request as Ch3Call) {
          case "alloc": {
            const ch = state.free.shift();
            if (ch === undefined) return { error: "no_channels" };
            state.allocated.add(ch);
            return ch;
          }
          case "count":
            return { allocated: state.allocated.size, free: state.free.length };
          default:
            throw new Error(`ch3: unknown call ${JSON.stringify(request)}`);
        }
      },
      handleCast(message, state) {
        const ch = (message as Ch3Cast).free;
        // Freeing a channel that is not allocated is ignored (as in the guide).
        if (state.allocated.delete(ch)) {
          state.free.push(ch);
          state.free.sort((a, b) => a - b);
        }
      },
    },
  });
}

/**
 * Allocate a channel.
 *
 * @param svc the ch3 service
 * @returns the channel number, or `{ error: "no_channels" }`
 */
export async function alloc(svc: Service<Ch3State>): Promise<number | { error: string }> {
  return await svc.call("alloc") as number | { error: string };
}

/**
 * Return a channel to the pool (asynchronous: returns at once).
 *
 * @param svc the ch3 service
 * @param ch the channel
 */
export function free(svc: Service<Ch3State>, ch: number): void {
  svc.cast({ free: ch } satisfies Ch3Cast);
}

if (import.meta.main) {
  const dataDir = await Deno.makeTempDir({ prefix: "sipkit-ch3-" });
  await using svc = await startCh3({ channels: 3, dataDir });
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  out(`service ${svc.name} id=${svc.id} uuid=${svc.uuid}`);
  const a = await alloc(svc);
  const b = await alloc(svc);
  const c = await alloc(svc);
  out(`alloc -> ${a}, ${b}, ${c}`);
  out(`alloc -> ${JSON.stringify(await alloc(svc))} (pool exhausted)`);
  if (typeof b === "number") free(svc, b);
  out(`free(${b}); alloc -> ${await alloc(svc)}`);
  out(`count -> ${JSON.stringify(await svc.call("count"))}`);
  await svc.stop();
  await Deno.remove(dataDir, { recursive: true });
}
