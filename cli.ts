/**
 * The sipkit command line.
 *
 * ```sh
 * deno run -A cli.ts serve [--config sipkit.yaml] [--name NAME] [--listen URI]...
 * deno run -A cli.ts options <uri> [--timeout MS] [--transport udp|tcp|tls|ws|wss]
 * deno run -A cli.ts message <uri> <text> [--timeout MS]
 * deno run -A cli.ts --help
 * ```
 *
 * `serve` starts a service from a config file (default `sipkit.yaml` when present), with
 * `--listen` URIs replacing the configured listeners, prints one line
 * `ready <transport> <host> <port>` per listener on stdout once listening, and on SIGINT or
 * SIGTERM stops gracefully: transactions in flight finish (bounded), then it exits 0.
 *
 * `options` prints `<status> <reason> <rtt> ms` and exits 0 on a 2xx, 1 on any other final
 * response, 2 on a timeout or when nothing could be sent. `message` prints `<status>
 * <reason>` with the same exit codes. Usage errors exit 64.
 *
 * @module
 */

import { loadConfigFile } from "./service/config.ts";
import { start } from "./service/service.ts";
import { createSipStack } from "./service/sip_stack.ts";
import type { TransportName } from "./transport/types.ts";

/** Exit status of a command. */
export type ExitCode = 0 | 1 | 2 | 64;

/** Where the CLI writes: stdout lines, stderr lines (injectable for tests). */
export interface CliOutput {
  /** Write one line to stdout. */
  out(line: string): void;
  /** Write one line to stderr. */
  err(line: string): void;
}

/** Parsed command line. */
export interface CliArgs {
  /** The command (`serve`, `options`, `message`, `help`). */
  command: string;
  /** Positional arguments after the command. */
  positional: string[];
  /** Repeatable `--listen` values. */
  listen: string[];
  /** Other `--flag value` options. */
  flags: Map<string, string>;
}

const USAGE = `sipkit: a Deno SIP toolkit

Usage:
  sipkit serve [--config FILE] [--name NAME] [--listen URI]...
      Start a service (config from FILE, default ./sipkit.yaml when present).
      --listen replaces the configured listeners; repeat it for several.
      Prints "ready <transport> <host> <port>" per listener; SIGINT/SIGTERM stop it
      gracefully.
  sipkit options <uri> [--timeout MS] [--transport T] [--listen URI] [--ca FILE]
      Send OPTIONS, print "<status> <reason> <rtt> ms".
  sipkit message <uri> <text> [--timeout MS] [--transport T] [--listen URI] [--ca FILE]
      Send a MESSAGE with a text/plain body, print "<status> <reason>".
  sipkit --help

Listen URIs: sip:127.0.0.1:5060 (UDP+TCP), <sip:0.0.0.0:5061;transport=tls;
tls_certfile=cert.pem;tls_keyfile=key.pem>, <sip:[::1]:8080;transport=ws>, sips:...
Exit status: 0 on a 2xx, 1 on another final response, 2 on timeout / send failure,
64 on a usage error.`;

const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "config",
  "name",
  "timeout",
  "transport",
  "ca",
  "from",
  "close-timeout",
]);
const TRANSPORTS: ReadonlySet<string> = new Set(["udp", "tcp", "tls", "ws", "wss"]);

/** Thrown for a bad command line. */
export class UsageError extends Error {
  /** Create the error.
   * @param message what is wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parse the command line.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./cli.ts";
 * const a = parseArgs(["serve", "--listen", "sip:127.0.0.1:5060", "--listen=sip:[::1]:0"]);
 * if (a.command !== "serve" || a.listen.length !== 2) throw new Error("parse");
 * ```
 *
 * @param argv the arguments (without the program)
 * @returns the parsed command
 * @throws UsageError for an unknown flag or a flag without its value
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const positional: string[] = [];
  const listen: string[] = [];
  const flags = new Map<string, string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      command = "help";
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name !== "listen" && !VALUE_FLAGS.has(name)) {
        throw new UsageError(`Unknown option --${name}`);
      }
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) throw new UsageError(`Option --${name} needs a value`);
        i++;
      }
      if (name === "listen") listen.push(value);
      else flags.set(name, value);
      continue;
    }
    if (command === undefined) command = arg;
    else positional.push(arg);
  }
  return { command: command ?? "help", positional, listen, flags };
}

function numberFlag(args: CliArgs, name: string, fallback: number): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a number >= 0, got ${v}`);
  }
  return n;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `serve` until a signal (or `stop` aborts).
 *
 * @param args the parsed command line
 * @param io where to print
 * @param stop aborting it stops the service like a signal (for tests and embedding)
 * @returns the exit code
 */
export async function serve(args: CliArgs, io: CliOutput, stop?: AbortSignal): Promise<ExitCode> {
  let configPath = args.flags.get("config");
  if (configPath === undefined && await fileExists("sipkit.yaml")) configPath = "sipkit.yaml";
  const input = configPath === undefined ? {} : await loadConfigFile(configPath);
  if (args.listen.length > 0) input.listen = args.listen;
  if (input.listen === undefined || input.listen.length === 0) {
    input.listen = ["sip:127.0.0.1:5060"];
  }
  const name = args.flags.get("name") ?? input.name ?? "sipkit";
  delete input.name;
  const svc = await start(name, input);
  for (const l of svc.transports) io.out(`ready ${l.transport} ${l.host} ${l.port}`);
  const closeTimeout = numberFlag(args, "close-timeout", 32_000);
  await new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    const done = (): void => {
      for (const s of signals) Deno.removeSignalListener(s, done);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, done);
    if (stop?.aborted) done();
    else stop?.addEventListener("abort", done, { once: true });
  });
  io.err(`stopping ${name}: finishing transactions in flight`);
  // The stack bounds its own wait (closeTimeout); the race is a last guard.
  let guard: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    svc.stop(),
    new Promise<void>((resolve) => {
      guard = setTimeout(resolve, closeTimeout + 1000);
    }),
  ]);
  clearTimeout(guard);
  io.err(`stopped ${name}`);
  return 0;
}

async function clientStack(args: CliArgs, uri: string) {
  const listen = args.listen.length > 0 ? args.listen : [
    /@?\[?(::1|127\.\d+\.\d+\.\d+|localhost)\]?(:|;|>|$)/.test(uri)
      ? (uri.includes("[::1]") ? "sip:[::1]:0" : "sip:127.0.0.1:0")
      : "sip:0.0.0.0:0",
  ];
  const ca = args.flags.get("ca");
  const tls = ca === undefined ? {} : { caCerts: [await Deno.readTextFile(ca)] };
  return await createSipStack({ name: "sipkit-cli", listen, tls, closeTimeout: 0 });
}

function transportFlag(args: CliArgs): TransportName | undefined {
  const t = args.flags.get("transport");
  if (t === undefined) return undefined;
  if (!TRANSPORTS.has(t)) throw new UsageError(`--transport must be one of udp, tcp, tls, ws, wss`);
  return t as TransportName;
}

/**
 * Run a client command (`options` or `message`).
 *
 * @param args the parsed command line
 * @param io where to print
 * @returns the exit code
 */
export async function client(args: CliArgs, io: CliOutput): Promise<ExitCode> {
  const uri = args.positional[0];
  if (uri === undefined) throw new UsageError(`${args.command} needs a URI`);
  if (args.command === "message" && args.positional[1] === undefined) {
    throw new UsageError("message needs a URI and a text");
  }
  const timeout = numberFlag(args, "timeout", 5000);
  const transport = transportFlag(args);
  const stack = await clientStack(args, uri);
  try {
    const from = args.flags.get("from");
    const opts = {
      timeout,
      ...(transport === undefined ? {} : { transport }),
      ...(from === undefined ? {} : { from }),
    };
    const t0 = performance.now();
    let r;
    try {
      r = args.command === "options"
        ? await stack.options(uri, opts)
        : await stack.message(uri, { ...opts, body: args.positional[1] ?? "" });
    } catch (error) {
      // The UAC API reports a caller's error (here: a bad URI) as a TypeError or RangeError.
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new UsageError(error.message);
      }
      throw error;
    }
    const rtt = performance.now() - t0;
    if (r.response === undefined) {
      io.out(`${r.status} ${r.reason} (no response)`);
      return 2;
    }
    io.out(
      args.command === "options"
        ? `${r.status} ${r.reason} ${rtt.toFixed(1)} ms`
        : `${r.status} ${r.reason}`,
    );
    return r.status >= 200 && r.status < 300 ? 0 : 1;
  } finally {
    await stack.close(0);
  }
}

/**
 * Run the CLI with arguments.
 *
 * @param argv the arguments (without the program)
 * @param io where to print (default stdout/stderr)
 * @param stop for `serve`: aborting it stops the service
 * @returns the exit code
 */
export async function main(
  argv: readonly string[],
  io: CliOutput = consoleOutput,
  stop?: AbortSignal,
): Promise<ExitCode> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
    switch (args.command) {
      case "help":
        io.out(USAGE);
        return 0;
      case "serve":
        return await serve(args, io, stop);
      case "options":
      case "message":
        return await client(args, io);
      default:
        throw new UsageError(`Unknown command ${args.command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(`run "sipkit --help" for usage`);
      return 64;
    }
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

const encoder = new TextEncoder();

function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
}

/** stdout / stderr, one line per call. */
export const consoleOutput: CliOutput = Object.freeze({
  out(line: string): void {
    writeAll(Deno.stdout, line + "\n");
  },
  err(line: string): void {
    writeAll(Deno.stderr, line + "\n");
  },
});

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
