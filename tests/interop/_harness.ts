/**
 * Shared helpers for the interop tests and the load harness: free ports, child processes
 * stopped by their own pid, readiness waits with deadlines, and SIPp runs with parsed
 * statistics. Nothing here passes silently: a missing peer binary throws with the command
 * that installs it.
 *
 * @module
 */
import { createSocket } from "node:dgram";

/** The repository root (two levels above this file). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The folder holding the SIPp scenarios written for these tests. */
export const SCENARIOS: string = `${REPO_ROOT}/tests/interop/scenarios`;

// ---------------------------------------------------------------------------------------------
// Binaries

/** Returns the absolute path of `name` on PATH, or `undefined`. */
export function findBinary(name: string): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = `${dir}/${name}`;
    try {
      const st = Deno.statSync(path);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Returns the path of a peer binary, or throws an error carrying the install command, so a
 * test whose peer is missing fails (it never passes silently).
 */
export function requireBinary(name: string, aptPackage: string): string {
  const path = findBinary(name);
  if (path === undefined) {
    throw new Error(
      `interop peer "${name}" is not installed: install it with ` +
        `\`apt-get install -y ${aptPackage}\` (see .ci/run)`,
    );
  }
  return path;
}

/** Throws with a clear message when a repository file another area provides is missing. */
export function requireRepoFile(relPath: string, owner: string): string {
  const path = `${REPO_ROOT}/${relPath}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${relPath} does not exist yet (provided by ${owner}); cannot run this test`);
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// Ports

const handedOut = new Set<number>();

async function udpFree(port: number): Promise<boolean> {
  const sock = createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      sock.once("error", () => resolve(false));
      sock.bind({ port, address: "127.0.0.1", exclusive: true }, () => resolve(true));
    });
  } finally {
    await new Promise<void>((resolve) => {
      try {
        sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/**
 * A port on 127.0.0.1 that is free for both TCP and UDP right now, and that this process has
 * not handed out before (so two peers started by one test never get the same port).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (handedOut.has(port)) continue;
    if (!(await udpFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no free UDP+TCP port found on 127.0.0.1 after 100 attempts");
}

/** True when something listens on `port` (TCP LISTEN, or any bound UDP socket) per /proc. */
export function portBound(port: number, proto: "udp" | "tcp"): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (local === undefined || !local.endsWith(`:${hex}`)) continue;
      if (proto === "udp" || cols[3] === "0A") return true;
    }
  }
  return false;
}

/** Waits until `port` is bound for `proto`, polling /proc, or throws after `timeoutMs`. */
export async function waitForPort(
  port: number,
  proto: "udp" | "tcp",
  timeoutMs: number,
  proc?: Proc,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (portBound(port, proto)) return;
    if (proc?.exitedStatus !== undefined) {
      throw new Error(
        `${proc.name} exited (code ${proc.exitedStatus.code}) before binding ${proto}/${port}\n` +
          proc.output(),
      );
    }
    await delay(50);
  }
  throw new Error(
    `nothing bound ${proto}/${port} within ${timeoutMs} ms` +
      (proc ? `\n--- ${proc.name} output ---\n${proc.output()}` : ""),
  );
}

/** A plain promise-based sleep (used only for polling, never for protocol timers). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Options for {@link spawn}. */
export interface SpawnOptions {
  /** A label used in failure messages. */
  name?: string;
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Give the child a stdin pipe (for interactive peers such as baresip). */
  stdin?: boolean;
}

interface LineWaiter {
  re: RegExp;
  resolve: (m: RegExpMatchArray) => void;
}

/** A child process whose output is captured, stopped by its own pid. */
export class Proc implements AsyncDisposable {
  /** A label used in failure messages. */
  readonly name: string;
  /** The process id of the child. */
  readonly pid: number;
  /** The exit status once known. */
  exitedStatus: Deno.CommandStatus | undefined;
  readonly #child: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #readers: Promise<void>[] = [];
  readonly #cancels: (() => Promise<void>)[] = [];
  #out = "";
  #err = "";
  #lineBuf = "";
  readonly #lines: string[] = [];
  readonly #waiters = new Set<LineWaiter>();
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;

  /** Starts `cmd args` (use {@link spawn}). */
  constructor(cmd: string, args: string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? cmd.split("/").pop() ?? cmd;
    const command = new Deno.Command(cmd, {
      args,
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.env !== undefined ? { env: opts.env } : {}),
    });
    this.#child = command.spawn();
    this.pid = this.#child.pid;
    this.#writer = opts.stdin ? this.#child.stdin.getWriter() : undefined;
    this.#readers.push(this.#pump(this.#child.stdout, true));
    this.#readers.push(this.#pump(this.#child.stderr, false));
    this.#status = this.#child.status.then((s) => {
      this.exitedStatus = s;
      return s;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, isOut: boolean): Promise<void> {
    const reader = stream.getReader();
    this.#cancels.push(() => reader.cancel().catch(() => {}));
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = dec.decode(value, { stream: true });
        if (isOut) {
          this.#out += text;
          this.#onStdout(text);
        } else {
          this.#err += text;
        }
        // keep memory bounded for chatty peers (SIPp screens, kamailio debug)
        if (this.#out.length > 4_000_000) this.#out = this.#out.slice(-2_000_000);
        if (this.#err.length > 4_000_000) this.#err = this.#err.slice(-2_000_000);
        if (!isOut) this.#checkWaitersAgainst(text);
      }
    } catch {
      // cancelled or broken pipe
    } finally {
      reader.releaseLock();
    }
  }

  #onStdout(text: string): void {
    this.#lineBuf += text;
    const parts = this.#lineBuf.split("\n");
    this.#lineBuf = parts.pop() ?? "";
    for (const line of parts) {
      this.#lines.push(line.replace(/\r$/, ""));
      if (this.#lines.length > 10_000) this.#lines.splice(0, 5_000);
    }
    this.#checkWaitersAgainst(undefined);
  }

  #checkWaitersAgainst(stderrChunk: string | undefined): void {
    for (const w of this.#waiters) {
      const m = stderrChunk === undefined
        ? this.#lines.map((l) => l.match(w.re)).find((x) => x !== null)
        : this.#err.match(w.re);
      if (m) {
        this.#waiters.delete(w);
        w.resolve(m);
      }
    }
  }

  /** Captured stdout so far. */
  stdout(): string {
    return this.#out;
  }

  /** Captured stderr so far. */
  stderr(): string {
    return this.#err;
  }

  /** Complete stdout lines so far. */
  lines(): readonly string[] {
    return this.#lines;
  }

  /** Both streams, labelled, for failure messages (the tail if long). */
  output(maxChars = 6000): string {
    const tail = (s: string) => s.length > maxChars ? `...${s.slice(-maxChars)}` : s;
    return `[${this.name} pid ${this.pid} stdout]\n${tail(this.#out)}\n[${this.name} stderr]\n${
      tail(this.#err)
    }`;
  }

  /** Writes text to the child's stdin (only when spawned with `stdin: true`). */
  async write(text: string): Promise<void> {
    if (!this.#writer) throw new Error(`${this.name} was spawned without a stdin pipe`);
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /**
   * Waits for a stdout line (or stderr text) matching `re`. Throws with the captured output
   * when the deadline passes or the process exits first.
   */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const already = this.#lines.map((l) => l.match(re)).find((x) => x !== null) ??
      this.#err.match(re);
    if (already) return already;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter: LineWaiter | undefined;
    try {
      return await Promise.race([
        new Promise<RegExpMatchArray>((resolve) => {
          waiter = { re, resolve };
          this.#waiters.add(waiter);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `${this.name}: no output matching ${re} within ${timeoutMs} ms\n` +
                    this.output(),
                ),
              ),
            timeoutMs,
          );
        }),
        this.#status.then((s) => {
          // one last look: the line may have arrived with the exit
          const m = this.#lines.map((l) => l.match(re)).find((x) => x !== null) ??
            this.#err.match(re);
          if (m) return m;
          throw new Error(
            `${this.name} exited (code ${s.code}, signal ${s.signal}) before printing ${re}\n` +
              this.output(),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (waiter) this.#waiters.delete(waiter);
    }
  }

  /** Resolves with the exit status; throws (after killing the child) past `timeoutMs`. */
  async wait(timeoutMs: number): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const s = await Promise.race([
        this.#status,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), timeoutMs);
        }),
      ]);
      if (s !== undefined) {
        await this.#drain();
        return s;
      }
    } finally {
      clearTimeout(timer);
    }
    await this.stop();
    throw new Error(`${this.name} did not exit within ${timeoutMs} ms; killed\n${this.output()}`);
  }

  async #drain(): Promise<void> {
    // Grandchildren may hold the pipes open: bound the wait, then cancel the readers.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const all = Promise.all(this.#readers).then(() => true);
    const done = await Promise.race([
      all,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 2000);
      }),
    ]);
    clearTimeout(timer);
    if (!done) {
      await Promise.all(this.#cancels.map((c) => c()));
      await all;
    }
    if (this.#writer) {
      await this.#writer.close().catch(() => {});
    }
  }

  /**
   * Stops the child by its own pid: SIGTERM, then SIGKILL after `graceMs`. Always awaits the
   * exit status and closes the pipes, so the test sanitizers see nothing leaked.
   */
  async stop(graceMs = 3000): Promise<Deno.CommandStatus> {
    if (this.exitedStatus === undefined) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // already gone
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const s = await Promise.race([
        this.#status,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (s === undefined) {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    const status = await this.#status;
    await this.#drain();
    return status;
  }

  /** `await using` support: stops the child. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Starts a child process with captured output. */
export function spawn(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  return new Proc(cmd, args, opts);
}

/** Result of {@link run}. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Captured stdout. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
  /** Labelled output for failure messages. */
  output: string;
}

/** Runs a command to completion within `timeoutMs` (killed and thrown past it). */
export async function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs: number },
): Promise<RunResult> {
  const p = spawn(cmd, args, opts);
  try {
    const s = await p.wait(opts.timeoutMs);
    return { code: s.code, stdout: p.stdout(), stderr: p.stderr(), output: p.output() };
  } finally {
    await p.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// sipkit processes

/** One `ready <transport> <host> <port>` line printed by the serve command or an example. */
export interface ReadyLine {
  /** Transport name as printed (udp, tcp, ws, ...). */
  transport: string;
  /** Host as printed. */
  host: string;
  /** Port as printed. */
  port: number;
}

/** A running sipkit process and the listeners it reported. */
export interface SipkitProc {
  /** The process. */
  proc: Proc;
  /** The ready lines, in order. */
  ready: ReadyLine[];
}

/**
 * Starts `deno run -A <script> <args> --listen <uri>...` from the repository root and waits
 * until it printed one ready line per listener.
 */
export async function startSipkit(
  script: "cli.ts serve" | "examples/uas.ts",
  listens: string[],
  opts: { extraArgs?: string[]; timeoutMs?: number; owner?: string } = {},
): Promise<SipkitProc> {
  const [file, ...sub] = script.split(" ");
  requireRepoFile(file!, opts.owner ?? "the service area (H5b)");
  const args = ["run", "-A", file!, ...sub, ...(opts.extraArgs ?? [])];
  for (const l of listens) args.push("--listen", l);
  const proc = spawn(Deno.execPath(), args, { name: `sipkit ${script}`, cwd: REPO_ROOT });
  const ready: ReadyLine[] = [];
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    await proc.waitFor(/^ready\s+\S+\s+\S+\s+\d+/, deadline - Date.now());
    for (;;) {
      ready.length = 0;
      for (const line of proc.lines()) {
        const m = line.match(/^ready\s+(\S+)\s+(\S+)\s+(\d+)\s*$/);
        if (m) ready.push({ transport: m[1]!, host: m[2]!, port: Number(m[3]) });
      }
      if (ready.length >= listens.length) break;
      if (proc.exitedStatus !== undefined || Date.now() > deadline) {
        throw new Error(
          `sipkit: ${ready.length} of ${listens.length} ready lines\n${proc.output()}`,
        );
      }
      await delay(20);
    }
    return { proc, ready };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// SIPp

/** Options for one SIPp run. */
export interface SippOptions {
  /** A scenario file name under tests/interop/scenarios, or an absolute path. */
  sf?: string;
  /** A built-in scenario (`uac`, `uas`). */
  sn?: string;
  /** Remote `host:port` (UAC role); omit for a UAS. */
  remote?: string;
  /** `u1` (UDP, one socket) or `t1` (TCP, one connection). Default `u1`. */
  transport?: "u1" | "t1" | "un" | "tn";
  /** Local port. */
  port: number;
  /** Calls to process before exiting (`-m`). */
  calls: number;
  /** Call rate per second (`-r`). */
  rate?: number;
  /** Maximum simultaneous calls (`-l`). */
  limit?: number;
  /** R-URI user (`-s`). */
  service?: string;
  /** Global timeout in seconds; reaching it is an error (`-timeout_error`). */
  timeoutS: number;
  /** Extra arguments, e.g. `["-lost", "10"]`. */
  extra?: string[];
  /** A label for failure messages. */
  name?: string;
  /** Log every message (`-trace_msg`) so the test can inspect them via `messages`. */
  traceMsg?: boolean;
}

/** Parsed result of a SIPp run. */
export interface SippResult {
  /** SIPp's exit code: 0 all calls succeeded, 1 some failed, 97/99/255 see `sipp -h`. */
  code: number;
  /** SuccessfulCall(C) from the final `-trace_stat` row. */
  successful: number;
  /** FailedCall(C) from the final `-trace_stat` row. */
  failed: number;
  /** Retransmissions(C) from the final `-trace_stat` row. */
  retransmissions: number;
  /** The whole final statistics row, by column name. */
  stats: Record<string, string>;
  /** Final screen, errors and output, for failure messages. */
  report: string;
  /** The `-trace_msg` log split into messages (empty unless `traceMsg`). */
  messages: TracedMessage[];
  /** SIPp's `-trace_err` log (unexpected messages, aborted calls). */
  errors: string;
}

/** One message from SIPp's `-trace_msg` log. */
export interface TracedMessage {
  /** Whether SIPp sent or received it. */
  direction: "sent" | "received";
  /** The SIP message text. */
  text: string;
}

/** Splits SIPp's `-trace_msg` log into messages. */
export function parseSippMessages(log: string): TracedMessage[] {
  const out: TracedMessage[] = [];
  for (const block of log.split(/^-{20,}.*$/m)) {
    const m = block.match(
      /^\s*(?:UDP|TCP|TLS|SCTP) message (sent|received)[^\n]*\n\s*\n([\s\S]*)$/,
    );
    if (m) out.push({ direction: m[1] as "sent" | "received", text: m[2]!.trim() });
  }
  return out;
}

/** The SIPp argument list for `o` (exported for the load harness). */
export function sippArgs(o: SippOptions, dir: string): string[] {
  const args: string[] = [];
  if (o.remote !== undefined) args.push(o.remote);
  if (o.sf !== undefined) {
    args.push("-sf", o.sf.startsWith("/") ? o.sf : `${SCENARIOS}/${o.sf}`);
  } else {
    args.push("-sn", o.sn ?? "uac");
  }
  args.push(
    "-t",
    o.transport ?? "u1",
    "-i",
    "127.0.0.1",
    "-p",
    String(o.port),
    "-m",
    String(o.calls),
    "-nostdin",
    "-timeout",
    `${o.timeoutS}s`,
    "-timeout_error",
    "-trace_stat",
    "-stf",
    `${dir}/stat.csv`,
    "-fd",
    "1",
    "-trace_err",
    "-error_file",
    `${dir}/errors.log`,
    "-trace_screen",
    "-screen_file",
    `${dir}/screen.log`,
    "-max_socket",
    "1024",
    "-skip_rlimit",
  );
  if (o.traceMsg) args.push("-trace_msg", "-message_file", `${dir}/messages.log`);
  if (o.rate !== undefined) args.push("-r", String(o.rate));
  if (o.limit !== undefined) args.push("-l", String(o.limit));
  if (o.service !== undefined) args.push("-s", o.service);
  args.push(...(o.extra ?? []));
  return args;
}

/** Parses SIPp's `-trace_stat` CSV (';'-separated) and returns its last row by column. */
export function parseSippStat(csv: string): Record<string, string> {
  const rows = csv.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const head = rows[0]?.split(";") ?? [];
  const last = rows.length > 1 ? rows[rows.length - 1]!.split(";") : [];
  const out: Record<string, string> = {};
  head.forEach((h, i) => {
    if (h !== "") out[h] = last[i] ?? "";
  });
  return out;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** A SIPp process started in the background (UAS role), with its working directory. */
export class SippProc implements AsyncDisposable {
  /** The process. */
  readonly proc: Proc;
  /** Temp directory holding the statistics and logs. */
  readonly dir: string;

  /** Use {@link startSipp}. */
  constructor(proc: Proc, dir: string) {
    this.proc = proc;
    this.dir = dir;
  }

  /** Waits for SIPp to exit by itself (e.g. after `-m` calls) and parses its result. */
  async result(timeoutMs: number): Promise<SippResult> {
    let code: number;
    try {
      code = (await this.proc.wait(timeoutMs)).code;
    } finally {
      await this.proc.stop();
    }
    return this.#parse(code);
  }

  /** Stops SIPp (by pid) and parses whatever statistics it left. */
  async stop(): Promise<SippResult> {
    const s = await this.proc.stop();
    return this.#parse(s.code);
  }

  #parse(code: number): SippResult {
    const stats = parseSippStat(readOr(`${this.dir}/stat.csv`));
    const num = (k: string) => Number(stats[k] ?? "NaN");
    const report = [
      `sipp exit code ${code}`,
      `--- errors (first) ---\n${readOr(`${this.dir}/errors.log`).slice(0, 3000)}`,
      `--- screen ---\n${readOr(`${this.dir}/screen.log`).slice(-4000)}`,
      this.proc.output(2000),
    ].join("\n");
    return {
      code,
      successful: num("SuccessfulCall(C)"),
      failed: num("FailedCall(C)"),
      retransmissions: num("Retransmissions(C)"),
      stats,
      report,
      messages: parseSippMessages(readOr(`${this.dir}/messages.log`)),
      errors: readOr(`${this.dir}/errors.log`),
    };
  }

  /** Stops the process and removes its directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.proc.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Starts SIPp with `o`. For a UAS (no `remote`) it waits until SIPp has bound its port.
 */
export async function startSipp(o: SippOptions): Promise<SippProc> {
  const bin = requireBinary("sipp", "sip-tester");
  const dir = await Deno.makeTempDir({ prefix: "sipkit-sipp-" });
  const proc = spawn(bin, sippArgs(o, dir), { name: o.name ?? `sipp ${o.sf ?? o.sn}`, cwd: dir });
  const sp = new SippProc(proc, dir);
  if (o.remote === undefined) {
    try {
      const tcp = o.transport === "t1" || o.transport === "tn";
      await waitForPort(o.port, tcp ? "tcp" : "udp", 10_000, proc);
    } catch (e) {
      await sp[Symbol.asyncDispose]();
      throw e;
    }
  }
  return sp;
}

/** Runs a SIPp UAC to completion (bounded by `timeoutS` + 15 s) and returns its result. */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  await using sp = await startSipp(o);
  return await sp.result((o.timeoutS + 15) * 1000);
}

// ---------------------------------------------------------------------------------------------
// Kamailio

/** Where the Debian package installs Kamailio's modules. */
export const KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

/** A Kamailio proxy started from tests/interop/kamailio/proxy.cfg. */
export interface KamailioProc extends AsyncDisposable {
  /** The process (main Kamailio process; it stops its children on SIGTERM). */
  proc: Proc;
  /** The port it listens on (UDP and TCP, 127.0.0.1). */
  port: number;
  /** The temp dir with the generated config and pid file. */
  dir: string;
  /** Lines logged with the SIPKIT- prefix so far. */
  marks(): string[];
}

/**
 * Starts Kamailio in the foreground as a record-routing stateful proxy that sends every
 * initial request to `127.0.0.1:<targetPort>` over `targetProto`.
 */
export async function startKamailio(
  targetPort: number,
  targetProto: "udp" | "tcp" = "udp",
): Promise<KamailioProc> {
  const bin = requireBinary("kamailio", "kamailio");
  try {
    Deno.statSync(`${KAMAILIO_MODULES}/tm.so`);
  } catch {
    throw new Error(
      `Kamailio modules not found in ${KAMAILIO_MODULES}: apt-get install -y kamailio`,
    );
  }
  const port = await freePort();
  const dir = await Deno.makeTempDir({ prefix: "sipkit-kamailio-" });
  const template = await Deno.readTextFile(`${REPO_ROOT}/tests/interop/kamailio/proxy.cfg`);
  const cfg = template
    .replaceAll("@@PORT@@", String(port))
    .replaceAll("@@TARGET_PORT@@", String(targetPort))
    .replaceAll("@@TARGET_PROTO@@", targetProto)
    .replaceAll("@@RUNDIR@@", dir)
    .replaceAll("@@MPATH@@", KAMAILIO_MODULES);
  await Deno.writeTextFile(`${dir}/proxy.cfg`, cfg);
  const proc = spawn(
    bin,
    ["-f", `${dir}/proxy.cfg`, "-DD", "-E", "-m", "32", "-M", "8", "-P", `${dir}/kamailio.pid`],
    { name: "kamailio", cwd: dir },
  );
  const k: KamailioProc = {
    proc,
    port,
    dir,
    marks: () =>
      proc.stderr().split("\n").filter((l) => l.includes("SIPKIT-")).map((l) =>
        l.slice(l.indexOf("SIPKIT-"))
      ),
    [Symbol.asyncDispose]: async () => {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    await waitForPort(port, "udp", 10_000, proc);
    await waitForPort(port, "tcp", 10_000, proc);
  } catch (e) {
    await k[Symbol.asyncDispose]();
    throw e;
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// baresip

/** What happened during one baresip call. */
export interface BaresipCall {
  /** ctrl_tcp event types in arrival order (CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED...). */
  events: string[];
  /** baresip's output including its SIP trace (`-s`). */
  output: string;
}

function netstring(obj: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const head = new TextEncoder().encode(`${json.length}:`);
  const out = new Uint8Array(head.length + json.length + 1);
  out.set(head, 0);
  out.set(json, head.length);
  out[out.length - 1] = 0x2c; // ','
  return out;
}

/**
 * Runs baresip with its own temp config dir (an account without registrar, `regint=0`, a
 * sine source, no sound device), drives it through its ctrl_tcp module: dial `target`, wait
 * for the call to be established, hang up after `holdMs`, wait for the call to close, quit.
 * Every wait has a deadline; baresip is also started with `-t` as a hard lifetime bound.
 */
export async function baresipCall(target: string, holdMs = 300): Promise<BaresipCall> {
  const bin = requireBinary("baresip", "baresip-core");
  const modules = "/usr/lib/baresip/modules";
  for (const m of ["ctrl_tcp", "menu", "account", "g711", "ausine", "aufile"]) {
    try {
      Deno.statSync(`${modules}/${m}.so`);
    } catch {
      throw new Error(
        `baresip module ${m}.so missing in ${modules}: apt-get install -y baresip-core`,
      );
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "sipkit-baresip-" });
  const sipPort = await freePort();
  await freePort(); // baresip also binds sipPort+1 for TLS; keep it out of the pool
  const ctrlPort = await freePort();
  await Deno.writeTextFile(
    `${dir}/config`,
    [
      "poll_method epoll",
      `sip_listen 127.0.0.1:${sipPort}`,
      "audio_source ausine,440",
      `audio_player aufile,${dir}/play.wav`,
      `audio_alert aufile,${dir}/alert.wav`,
      "ausrc_srate 48000",
      "ausrc_channels 2",
      "auplay_srate 48000",
      "auplay_channels 1",
      `module_path ${modules}`,
      "module g711.so",
      "module ausine.so",
      "module aufile.so",
      "module_app account.so",
      "module_app menu.so",
      "module_app ctrl_tcp.so",
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(`${dir}/accounts`, "<sip:interop@127.0.0.1>;regint=0\n");
  const proc = spawn(bin, ["-f", dir, "-s", "-t", "30"], { name: "baresip", cwd: dir });
  const events: string[] = [];
  let conn: Deno.TcpConn | undefined;
  try {
    await waitForPort(ctrlPort, "tcp", 10_000, proc);
    conn = await Deno.connect({ hostname: "127.0.0.1", port: ctrlPort });
    const c = conn;
    let buf = "";
    const dec = new TextDecoder();
    const waiters: { type: string; resolve: () => void }[] = [];
    const reading = (async () => {
      const chunk = new Uint8Array(65536);
      for (;;) {
        let n: number | null;
        try {
          n = await c.read(chunk);
        } catch {
          return;
        }
        if (n === null) return;
        buf += dec.decode(chunk.subarray(0, n), { stream: true });
        for (;;) {
          const colon = buf.indexOf(":");
          if (colon < 0) break;
          const len = Number(buf.slice(0, colon));
          if (buf.length < colon + 1 + len + 1) break;
          const body = buf.slice(colon + 1, colon + 1 + len);
          buf = buf.slice(colon + 1 + len + 1);
          try {
            const msg = JSON.parse(body) as { event?: boolean; type?: string };
            if (msg.event && msg.type) {
              events.push(msg.type);
              for (const w of waiters.filter((x) => x.type === msg.type)) w.resolve();
            }
          } catch {
            // not JSON: ignore
          }
        }
      }
    })();
    const waitEvent = async (type: string, ms: number): Promise<void> => {
      if (events.includes(type)) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          new Promise<void>((resolve) => waiters.push({ type, resolve })),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `baresip: no ${type} within ${ms} ms; events ${events.join(",")}\n` +
                      proc.output(),
                  ),
                ),
              ms,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    const send = (command: string, params = "") =>
      c.write(netstring({ command, params, token: command }));
    try {
      await send("dial", target);
      await Promise.race([
        waitEvent("CALL_ESTABLISHED", 10_000),
        waitEvent("CALL_CLOSED", 10_000).then(() => {
          throw new Error(`baresip: call closed before established: ${events.join(",")}`);
        }),
      ]);
      await delay(holdMs);
      await send("hangup");
      await waitEvent("CALL_CLOSED", 10_000);
      await send("quit");
      await proc.wait(10_000);
    } finally {
      c.close();
      conn = undefined;
      await reading;
    }
    return { events, output: proc.output(200_000) };
  } finally {
    conn?.close();
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
