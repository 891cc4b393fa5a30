/**
 * Test-only: run a sipkit program (cli.ts serve, examples/uas.ts) as a subprocess, wait for
 * its `ready <transport> <host> <port>` lines, and stop it by its own pid.
 *
 * @module
 */

/** One `ready` line. */
export interface ReadyLine {
  /** The transport. */
  transport: string;
  /** The host. */
  host: string;
  /** The port. */
  port: number;
}

/** A running subprocess that reported ready. */
export interface Spawned {
  /** The ready lines, in order. */
  ready: ReadyLine[];
  /** The port of the first listener of a transport. */
  port(transport: string): number;
  /** Send a signal, wait for the exit, and collect the output. */
  stop(signal?: Deno.Signal): Promise<{ code: number; stdout: string; stderr: string }>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Run `deno run -A <args>` from the repository root; resolve once `count` ready lines were
 * printed (the process is killed and the promise rejects after `timeoutMs`). */
export async function spawnReady(
  args: string[],
  count: number,
  timeoutMs = 30_000,
): Promise<Spawned> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderrText = new Response(child.stderr).text();
  let out = "";
  const ready: ReadyLine[] = [];
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  let failed: string | undefined;
  try {
    while (ready.length < count) {
      const { value, done } = await reader.read();
      if (done) {
        failed = "exited before ready";
        break;
      }
      out += value;
      ready.length = 0;
      for (const line of out.split("\n")) {
        const m = /^ready (\S+) (\S+) (\d+)$/.exec(line.trim());
        if (m) ready.push({ transport: m[1]!, host: m[2]!, port: Number(m[3]) });
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const drain = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      out += value;
    }
  })();
  if (failed !== undefined) {
    await drain;
    const status = await child.status;
    throw new Error(`${args.join(" ")} ${failed} (code ${status.code}): ${await stderrText}`);
  }
  return {
    ready,
    port(transport: string): number {
      const r = ready.find((l) => l.transport === transport);
      if (r === undefined) throw new Error(`no ready line for ${transport}`);
      return r.port;
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      const status = await child.status;
      await drain;
      return { code: status.code, stdout: out, stderr: await stderrText };
    },
  };
}

/** Run `deno run -A <args>` to completion and collect its output. */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
