/**
 * The SIPp load harness (`deno task bench:load`, not run in CI).
 *
 * Starts three UASs on 127.0.0.1, one at a time, and drives each with SIPp over UDP:
 *
 * - `floor`: bench/raw_responder.ts, a Deno UDP responder that copies headers without SIP
 *   parsing (the runtime's floor), on `Deno.listenDatagram` like sipkit (deno.json enables
 *   `--unstable-net`, so sipkit's UDP transport picks that back end),
 * - `floor_dgram`: the same responder on `node:dgram`, the back end sipkit falls back to
 *   without `--unstable-net` (a second reference: Deno's node:dgram layer costs more),
 * - `floor_parse` (only when asked for with --targets): the `floor` responder that also parses
 *   each datagram with sipkit's parser (runtime + SIP parsing, no transactions or dialogs),
 * - `sipkit`: examples/uas.ts,
 * - `kirm`: npm `sip` 0.0.6 under Node (bench/kirm_uas.mjs; installed with npm into a temp dir),
 * - `kamailio`: Kamailio answering OPTIONS statelessly (bench/kamailio_options.cfg; OPTIONS
 *   only, and only when asked for with --targets).
 *
 * It reads each UAS process tree's CPU time (utime+stime+cutime+cstime from /proc/<pid>/stat,
 * children included) before and after each run and prints one table: CPU µs per OPTIONS
 * transaction and per INVITE/ACK/BYE call, failed calls, retransmissions, the ratios to the
 * floor and to npm `sip`, and RSS. Then a max-rate search (highest rate with 0 failed calls
 * and < 1% retransmissions) and the RSS per confirmed dialog with 10,000 dialogs held open.
 *
 * Options: --quick (short runs), --only=options,calls,maxrate,memory,
 * --targets=floor,sipkit,kirm, --options-rate=10000, --calls-rate=2000, --seconds=5,
 * --warmup=3 (seconds of the same traffic, not counted, before each fixed-rate run; 0: none),
 * --json=<file> (also write the results as JSON).
 */
import {
  delay,
  freePort,
  KAMAILIO_MODULES,
  type Proc,
  REPO_ROOT,
  requireBinary,
  type SippResult,
  spawn,
  startSipkit,
  startSipp,
  waitForPort,
} from "../tests/interop/_harness.ts";

// ---------------------------------------------------------------------------------------------
// arguments

const argv = new Map<string, string>();
for (const a of Deno.args) {
  const m = a.match(/^--([a-z-]+)(?:=(.*))?$/);
  if (m) argv.set(m[1]!, m[2] ?? "true");
}
const QUICK = argv.has("quick");
const ONLY = new Set((argv.get("only") ?? "options,calls,maxrate,memory").split(","));
const TARGETS = (argv.get("targets") ?? "floor,floor_dgram,sipkit,kirm").split(",") as TargetName[];
const OPTIONS_RATE = Number(argv.get("options-rate") ?? (QUICK ? "2000" : "10000"));
const CALLS_RATE = Number(argv.get("calls-rate") ?? (QUICK ? "500" : "2000"));
const SECONDS = Number(argv.get("seconds") ?? (QUICK ? "2" : "5"));
const WARMUP = Number(argv.get("warmup") ?? (QUICK ? "0" : "3"));
const DIALOGS = Number(argv.get("dialogs") ?? (QUICK ? "2000" : "10000"));

function out(line = ""): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

// ---------------------------------------------------------------------------------------------
// /proc accounting

const CLK_TCK = 100; // USER_HZ on Linux x86_64

function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // fields after the parenthesised command name; stat(5): state is field 3
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    const f = (n: number) => Number(rest[n - 3]);
    return { ppid: f(4), ticks: f(14) + f(15) + f(16) + f(17) };
  } catch {
    return undefined;
  }
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = readStat(Number(e.name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e.name));
    children.set(st.ppid, list);
  }
  const outList: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    outList.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return outList;
}

/** CPU time of a process and all its live descendants (and reaped children), in µs. */
function treeCpuMicros(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) ticks += readStat(p)?.ticks ?? 0;
  return ticks * (1_000_000 / CLK_TCK);
}

/** Resident set size of a process tree, in bytes. */
function treeRss(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      const m = Deno.readTextFileSync(`/proc/${p}/status`).match(/^VmRSS:\s+(\d+)\s+kB/m);
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb * 1024;
}

// ---------------------------------------------------------------------------------------------
// targets

type TargetName = "floor" | "floor_dgram" | "floor_parse" | "sipkit" | "kirm" | "kamailio";

interface Target {
  name: TargetName;
  port: number;
  proc: Proc;
  dir?: string;
}

async function installKirm(): Promise<string> {
  requireBinary("node", "nodejs");
  requireBinary("npm", "npm");
  const dir = await Deno.makeTempDir({ prefix: "sipkit-kirm-" });
  const p = spawn("npm", ["install", "--no-audit", "--no-fund", "--silent", "sip@0.0.6"], {
    cwd: dir,
    name: "npm install sip@0.0.6",
  });
  const s = await p.wait(180_000);
  if (s.code !== 0) throw new Error(`npm install sip@0.0.6 failed\n${p.output()}`);
  return dir;
}

let kirmDir: string | undefined;

async function startTarget(name: TargetName): Promise<Target> {
  const port = await freePort();
  if (name === "sipkit") {
    const sk = await startSipkit("examples/uas.ts", [`sip:127.0.0.1:${port};transport=udp`]);
    return { name, port, proc: sk.proc };
  }
  let proc: Proc;
  if (name === "kamailio") {
    const bin = requireBinary("kamailio", "kamailio");
    const dir = await Deno.makeTempDir({ prefix: "sipkit-bench-kamailio-" });
    const cfg = (await Deno.readTextFile(`${REPO_ROOT}/bench/kamailio_options.cfg`))
      .replaceAll("@@PORT@@", String(port))
      .replaceAll("@@RUNDIR@@", dir)
      .replaceAll("@@MPATH@@", KAMAILIO_MODULES);
    await Deno.writeTextFile(`${dir}/k.cfg`, cfg);
    proc = spawn(bin, ["-f", `${dir}/k.cfg`, "-DD", "-E", "-m", "64", "-M", "8"], {
      name: "kamailio",
      cwd: dir,
    });
    try {
      await waitForPort(port, "udp", 10_000, proc);
    } catch (e) {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
    return { name, port, proc, dir };
  }
  if (name === "floor" || name === "floor_dgram" || name === "floor_parse") {
    const backend = name === "floor_dgram" ? "dgram" : "deno";
    const script = `${REPO_ROOT}/bench/raw_responder.ts`;
    const args = ["run", "-A", "--unstable-net", script, `${port}`, backend];
    if (name === "floor_parse") args.push("parse");
    proc = spawn(Deno.execPath(), args, { name: `raw_responder ${backend} ${args.at(-1)}` });
  } else {
    kirmDir ??= await installKirm();
    proc = spawn("node", [`${REPO_ROOT}/bench/kirm_uas.mjs`, `${port}`], {
      name: "kirm_uas",
      env: { KIRM_DIR: kirmDir },
    });
  }
  await proc.waitFor(/^ready /, 20_000);
  await waitForPort(port, "udp", 10_000, proc);
  return { name, port, proc };
}

// ---------------------------------------------------------------------------------------------
// one measured run

interface Row {
  target: TargetName;
  kind: "options" | "calls";
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  cpuUsPerCall: number;
  sippCpuPct: number;
  rssMB: number;
  seconds: number;
}

async function measure(
  t: Target,
  kind: "options" | "calls",
  rate: number,
  seconds: number,
): Promise<Row> {
  const calls = Math.max(1, Math.round(rate * seconds));
  const sipp = await startSipp({
    ...(kind === "options" ? { sf: "options_uac.xml" } : { sn: "uac" }),
    remote: `127.0.0.1:${t.port}`,
    transport: "u1",
    port: await freePort(),
    calls,
    rate,
    limit: Math.max(100, rate * 2),
    timeoutS: Math.ceil(seconds) + 40,
    extra: ["-max_recv_loops", "5000", "-max_sched_loops", "5000"],
    name: `sipp ${kind} ${rate}/s → ${t.name}`,
  });
  const cpu0 = treeCpuMicros(t.proc.pid);
  const sippCpu0 = treeCpuMicros(sipp.proc.pid);
  const t0 = performance.now();
  let rss = 0;
  let sippCpu1 = sippCpu0;
  // sample RSS and SIPp's CPU while it runs
  const sampler = setInterval(() => {
    rss = Math.max(rss, treeRss(t.proc.pid));
    const c = treeCpuMicros(sipp.proc.pid);
    if (c > 0) sippCpu1 = c;
  }, 250);
  let r: SippResult;
  try {
    try {
      r = await sipp.result((Math.ceil(seconds) + 60) * 1000);
    } catch {
      // SIPp overran its deadline (the UAS fell behind): count what it finished
      r = await sipp.stop();
    }
  } finally {
    clearInterval(sampler);
    await sipp[Symbol.asyncDispose]();
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = treeCpuMicros(t.proc.pid) - cpu0;
  rss = Math.max(rss, treeRss(t.proc.pid));
  const ok = Number.isFinite(r.successful) ? r.successful : 0;
  return {
    target: t.name,
    kind,
    rate,
    calls,
    successful: ok,
    failed: Number.isFinite(r.failed) ? r.failed : calls - ok,
    retransmissions: Number.isFinite(r.retransmissions) ? r.retransmissions : 0,
    cpuUsPerCall: ok > 0 ? cpu / ok : NaN,
    sippCpuPct: (100 * (sippCpu1 - sippCpu0)) / 1e6 / elapsed,
    rssMB: rss / 1048576,
    seconds: elapsed,
  };
}

// ---------------------------------------------------------------------------------------------
// phases

const rows: Row[] = [];
const maxRates: { target: TargetName; kind: string; rate: number; tried: string }[] = [];
const memory: {
  target: TargetName;
  dialogs: number;
  baseMB: number;
  heldMB: number;
  perDialogKB: number;
  settledMB: number;
  settledPerDialogKB: number;
}[] = [];

async function withTarget<T>(name: TargetName, fn: (t: Target) => Promise<T>): Promise<T> {
  const t = await startTarget(name);
  try {
    // warm up (JIT, caches) before measuring
    await measure(t, "options", 200, 1);
    return await fn(t);
  } finally {
    await t.proc.stop();
    if (t.dir) await Deno.remove(t.dir, { recursive: true }).catch(() => {});
  }
}

async function fixedRatePhase(): Promise<void> {
  // Steady state: each measured run follows WARMUP seconds of the same traffic at the same
  // rate (not counted), so no target is measured while its JIT still compiles that path.
  const steady = async (t: Target, kind: "options" | "calls", rate: number): Promise<Row> => {
    if (WARMUP > 0) await measure(t, kind, rate, WARMUP);
    return await measure(t, kind, rate, SECONDS);
  };
  for (const name of TARGETS) {
    await withTarget(name, async (t) => {
      if (ONLY.has("options")) rows.push(await steady(t, "options", OPTIONS_RATE));
      if (ONLY.has("calls") && name !== "kamailio") {
        rows.push(await steady(t, "calls", CALLS_RATE));
      }
    });
  }
}

async function maxRatePhase(): Promise<void> {
  const ladders = {
    options: QUICK ? [1000, 5000] : [2000, 5000, 10000, 15000, 20000, 25000, 30000],
    calls: QUICK ? [200, 1000] : [500, 1000, 2000, 3000, 4000, 5000],
  };
  for (const name of TARGETS) {
    for (const kind of ["options", "calls"] as const) {
      if (name === "kamailio" && kind === "calls") continue;
      let best = 0;
      const tried: string[] = [];
      for (const rate of ladders[kind]) {
        // a fresh process per step, so a failed step does not poison the next one
        const row = await withTarget(name, async (t) => {
          // The same traffic at half the rate first (not counted): a fresh process would
          // otherwise be measured while its JIT warms up, which the 1% rule punishes for
          // every JIT runtime alike (the raw Deno responder too).
          if (!QUICK) await measure(t, kind, Math.max(200, Math.round(rate / 2)), 2);
          return await measure(t, kind, rate, QUICK ? 1 : 3);
        });
        const pass = row.failed === 0 && row.successful === row.calls &&
          row.retransmissions < 0.01 * row.calls;
        tried.push(`${rate}:${pass ? "ok" : `fail(${row.failed}f/${row.retransmissions}r)`}`);
        if (!pass) break;
        best = rate;
      }
      maxRates.push({ target: name, kind, rate: best, tried: tried.join(" ") });
    }
  }
}

async function memoryPhase(): Promise<void> {
  for (
    const name of TARGETS.filter((n) => n === "sipkit" || n === "kirm")
  ) {
    await withTarget(name, async (t) => {
      await measure(t, "calls", 200, 1);
      await delay(1000);
      const base = treeRss(t.proc.pid);
      // calls stay up for -d ms between ACK and BYE: DIALOGS confirmed dialogs held open
      const rate = Math.min(2000, DIALOGS);
      const sipp = await startSipp({
        sn: "uac",
        remote: `127.0.0.1:${t.port}`,
        port: await freePort(),
        calls: DIALOGS,
        rate,
        limit: DIALOGS + 10,
        timeoutS: 300,
        extra: ["-d", "120000", "-max_recv_loops", "5000"],
        name: `sipp hold ${DIALOGS} dialogs → ${name}`,
      });
      let held = 0;
      let settled = 0;
      try {
        const deadline = Date.now() + (DIALOGS / rate) * 1000 + 30_000;
        let open = 0;
        while (Date.now() < deadline) {
          await delay(500);
          const stat = Deno.readTextFileSync(`${sipp.dir}/stat.csv`).trim().split("\n");
          const head = stat[0]?.split(";") ?? [];
          const last = stat[stat.length - 1]?.split(";") ?? [];
          open = Number(last[head.indexOf("CurrentCall")] ?? 0);
          const created = Number(last[head.indexOf("OutgoingCall(C)")] ?? 0);
          if (created >= DIALOGS && open >= DIALOGS) break;
        }
        // let the last ACKs land, then sample
        await delay(2000);
        for (let i = 0; i < 4; i++) {
          held = Math.max(held, treeRss(t.proc.pid));
          await delay(250);
        }
        if (open < DIALOGS) out(`  note: only ${open} of ${DIALOGS} calls open for ${name}`);
        // 40 s later the INVITE transactions are gone (Timer L = 64*T1 = 32 s): dialogs only
        await delay(QUICK ? 5000 : 40_000);
        for (let i = 0; i < 4; i++) {
          settled = Math.max(settled, treeRss(t.proc.pid));
          await delay(250);
        }
      } finally {
        await sipp[Symbol.asyncDispose]();
      }
      memory.push({
        target: name,
        dialogs: DIALOGS,
        baseMB: base / 1048576,
        heldMB: held / 1048576,
        perDialogKB: (held - base) / DIALOGS / 1024,
        settledMB: settled / 1048576,
        settledPerDialogKB: (settled - base) / DIALOGS / 1024,
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// report

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** `r`'s CPU per call over the reference row's, with `!` when the reference run had failed
 * calls (a UAS that stalls or drops calls spends CPU on other things: not comparable). */
function ratio(r: Row, ref: Row | undefined): string {
  if (ref === undefined) return "-";
  const text = fmt(r.cpuUsPerCall / ref.cpuUsPerCall, 2);
  return ref.failed > 0 || ref.successful < ref.calls ? `${text}!` : text;
}

function pad(cols: string[], widths: number[]): string {
  return cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

function report(): void {
  const cpuInfo = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1];
  out();
  out(`sipkit load harness — ${new Date().toISOString()}`);
  out(`machine: ${navigator.hardwareConcurrency} cores, ${cpuInfo ?? "unknown CPU"}`);
  out(`command: deno task bench:load ${Deno.args.join(" ")}`);
  out();
  if (rows.length > 0) {
    const widths = [11, 8, 7, 8, 7, 7, 8, 10, 8, 8, 8, 8, 7];
    out(pad([
      "target",
      "kind",
      "rate/s",
      "calls",
      "ok",
      "failed",
      "retrans",
      "µs/txn",
      "×floor",
      "×f.dgram",
      "×kirm",
      "RSS MB",
      "sipp%",
    ], widths));
    for (const r of rows) {
      const floor = rows.find((x) => x.target === "floor" && x.kind === r.kind);
      const floorDgram = rows.find((x) => x.target === "floor_dgram" && x.kind === r.kind);
      const kirm = rows.find((x) => x.target === "kirm" && x.kind === r.kind);
      out(pad([
        r.target,
        r.kind,
        String(r.rate),
        String(r.calls),
        String(r.successful),
        String(r.failed),
        String(r.retransmissions),
        fmt(r.cpuUsPerCall),
        ratio(r, floor),
        ratio(r, floorDgram),
        ratio(r, kirm),
        fmt(r.rssMB),
        fmt(r.sippCpuPct, 0),
      ], widths));
    }
    out(
      "µs/txn: UAS CPU per OPTIONS transaction or per INVITE/ACK/BYE call; ×floor: to the " +
        "raw responder on Deno.listenDatagram (sipkit's back end here), ×f.dgram: on node:dgram; " +
        "sipp%: SIPp's own CPU (100 = one core saturated); !: the reference run had failed " +
        "calls, so the ratio is not a fair comparison; " +
        (WARMUP > 0
          ? `each run after ${WARMUP} s of the same traffic, not counted (steady state)`
          : "no warm-up run (--warmup=0): JIT compilation is counted"),
    );
  }
  if (maxRates.length > 0) {
    out();
    out("max rate (0 failed, < 1% retransmissions):");
    for (const m of maxRates) {
      out(
        `  ${m.target.padEnd(11)} ${m.kind.padEnd(8)} ${
          String(m.rate).padStart(6)
        }/s   [${m.tried}]`,
      );
    }
  }
  if (memory.length > 0) {
    out();
    out("memory with confirmed dialogs held open:");
    for (const m of memory) {
      out(
        `  ${m.target.padEnd(11)} ${m.dialogs} dialogs: RSS ${fmt(m.baseMB)} → ${
          fmt(m.heldMB)
        } MB, ` +
          `${fmt(m.perDialogKB, 2)} KB per dialog; 40 s later (transactions gone) ` +
          `${fmt(m.settledMB)} MB, ${fmt(m.settledPerDialogKB, 2)} KB per dialog`,
      );
    }
  }
}

if (import.meta.main) {
  requireBinary("sipp", "sip-tester");
  try {
    if (ONLY.has("options") || ONLY.has("calls")) await fixedRatePhase();
    if (ONLY.has("maxrate")) await maxRatePhase();
    if (ONLY.has("memory")) await memoryPhase();
  } finally {
    report();
    const json = argv.get("json");
    if (json) {
      await Deno.writeTextFile(json, JSON.stringify({ rows, maxRates, memory }, null, 2));
    }
    if (kirmDir) await Deno.remove(kirmDir, { recursive: true }).catch(() => {});
  }
}
