/**
 * Helpers of the `pystack core` integration tests: run a fixture so that it
 * can leave a core, make the core (gcore, or the kernel after SIGABRT or
 * SIGSEGV), remember what the live process looked like, and check the core
 * header and the stacks against that.
 *
 * Every fixture runs in its own temporary directory, which is also where its
 * core is written; disposing a {@linkcode FixtureCore} kills the process if it
 * still runs and removes the directory with the core (cores are big: a gcore
 * of a threaded python is 20 to 250 MB).
 *
 * @module
 */
import assert from "node:assert/strict";
import { runningThreads, waitSettled } from "./_settle.ts";
import { basename } from "node:path";
import { checkStacks } from "./_check_stacks.ts";
import type { FixtureSpec } from "./_fixture_specs.ts";
import {
  expectedFrames,
  type ExpectedStacks,
  FIXTURES_DIR,
  type OsThread,
  parseTraceback,
  type PystackResult,
  type Skip,
  sleep,
  threadSnapshot,
  type Traceback,
} from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { pathExists } from "../src/fs_checks.ts";
import { concatBytes } from "../src/bytes.ts";

const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 10;

/** How a core is made: `gcore PID`, or the kernel after `kill -ABRT` / `kill -SEGV` from the test. */
export type CoreMaker = "gcore" | "kernel-abrt" | "kernel-segv";

/** The signal that makes a kernel core, per maker. */
const KERNEL_SIGNAL = { "kernel-abrt": "SIGABRT", "kernel-segv": "SIGSEGV" } as const;

/** Why cores of `maker` cannot be made here, if they cannot. */
export function makerSkip(maker: CoreMaker): Skip | undefined {
  return maker === "gcore" ? gcoreSkip() : kernelCoreSkip();
}

/** Why `gcore` cannot be used (it is not on PATH). */
export function gcoreSkip(): Skip | undefined {
  return onPath("gcore") ? undefined : { reason: "gcore (gdb) is not installed", missing: true };
}

/**
 * Why the kernel cores cannot be used: they need `/proc/sys/kernel/core_pattern`
 * to be `core` (optionally with `core_uses_pid`), i.e. a file in the dying
 * process's cwd. The tests never change that setting.
 */
export function kernelCoreSkip(): Skip | undefined {
  let pattern: string;
  try {
    pattern = Deno.readTextFileSync("/proc/sys/kernel/core_pattern").trim();
  } catch (error) {
    return { reason: `cannot read /proc/sys/kernel/core_pattern: ${error}`, missing: true };
  }
  if (pattern === "core" || pattern === "core.%p") return undefined;
  return {
    reason: `/proc/sys/kernel/core_pattern is '${pattern}', not 'core' ` +
      "(kernel cores would not land in the fixture's directory; the tests do not change it)",
    missing: true,
  };
}

/** Whether `command` is an executable file in a PATH directory. */
export function onPath(command: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").some((dir) => {
    try {
      const info = Deno.statSync(`${dir}/${command}`);
      return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/** What `/proc` said about the process just before the core was made. */
export interface LiveFacts {
  /** Threads by TID, with their OS names. */
  osThreads: Map<number, OsThread>;
  ppid: number;
  pgrp: number;
  sid: number;
  nice: number;
  /** `/proc/PID/cmdline`, split on NUL. */
  argv: string[];
  /** `/proc/PID/exe`. */
  exe: string;
}

/** Read {@linkcode LiveFacts} of `pid`. */
export function liveFacts(pid: number): LiveFacts {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3
  const field = (n: number) => Number(fields[n - 3]);
  const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
  return {
    osThreads: threadSnapshot(pid),
    ppid: field(4),
    pgrp: field(5),
    sid: field(6),
    nice: field(19),
    argv: cmdline.split("\0").slice(0, -1),
    exe: Deno.readLinkSync(`/proc/${pid}/exe`),
  };
}

/** A process started so that the kernel may dump it (`ulimit -c unlimited`). */
export interface CoreTarget extends AsyncDisposable {
  pid: number;
  /** Its private directory: its cwd, where the kernel writes its core. */
  dir: string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Kill it with `signal` (SIGKILL by default) unless it exited, and wait for it. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** SIGKILL it if needed, wait, remove `dir` (and every core in it). Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startCoreTarget}. */
export interface CoreTargetOptions {
  /** Added to the minimal environment (PATH, LC_ALL=C.UTF-8, PYTHONDONTWRITEBYTECODE=1). */
  env?: Record<string, string>;
  /**
   * Wait until this file (relative to `dir`) exists (15 s at most), then until
   * every thread but `running` sits in its blocking system call
   * (`waitSettled`). Without it: wait until the process has exec'd `argv[0]`
   * and every thread sleeps.
   */
  readyFile?: string;
  /** Threads that never block (default 0): `runningThreads` of a fixture's source. */
  running?: number;
  /** Milliseconds to wait after `readyFile` instead of waiting for the threads to block. */
  settleMs?: number;
}

/**
 * Start `argv` in a fresh temporary directory through
 * `bash -c 'ulimit -c unlimited && exec "$@"'`, so it keeps bash's pid (its
 * parent is this test process) and the kernel may write its core into `dir`.
 * `argv` may refer to the directory as `{dir}`.
 */
export async function startCoreTarget(
  argv: [string, ...string[]],
  options: CoreTargetOptions = {},
): Promise<CoreTarget> {
  const dir = await Deno.makeTempDir({ prefix: "pystack-core-" });
  const args = argv.map((arg) => arg.replaceAll("{dir}", dir));
  const child = new Deno.Command("bash", {
    args: ["-c", 'ulimit -c unlimited && exec "$@"', "bash", ...args],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      LC_ALL: "C.UTF-8",
      PYTHONDONTWRITEBYTECODE: "1",
      ...options.env,
    },
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const chunks: Uint8Array[] = [];
  const drained = (async () => {
    for await (const chunk of child.stderr) chunks.push(chunk);
  })();
  const stderr = () => new TextDecoder().decode(concatBytes(chunks));
  const kill = async (signal: Deno.Signal = "SIGKILL") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // it just exited
      }
    }
    const result = await status;
    await drained;
    return result;
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await kill("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const target: CoreTarget = {
    pid: child.pid,
    dir,
    stderr,
    kill,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const ready = options.readyFile === undefined
      ? () => execed(child.pid, args[0]!) && allAsleep(child.pid)
      : () => pathExists(`${dir}/${options.readyFile}`);
    while (!ready()) {
      if (exited) throw new Error(`${args.join(" ")} exited before it was ready:\n${stderr()}`);
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${args.join(" ")} to be ready:\n${stderr()}`);
      }
      await sleep(POLL_MS);
    }
    if (options.readyFile !== undefined) {
      if (options.settleMs !== undefined) await sleep(options.settleMs);
      else await waitSettled(child.pid, options.running ?? 0, () => exited);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return target;
}

/** Whether `pid` runs `program` (its exe is `program`, resolved). */
function execed(pid: number, program: string): boolean {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`) === Deno.realPathSync(program);
  } catch {
    return false;
  }
}

/** Whether every thread of `pid` is in state S. */
function allAsleep(pid: number): boolean {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].every((task) => {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("S");
    });
  } catch {
    return false;
  }
}

/** A core of a target and what the target looked like just before. */
export interface MadeCore {
  /** The core file (inside the target's directory). */
  path: string;
  maker: CoreMaker;
  pid: number;
  live: LiveFacts;
}

/**
 * Make a core of the running `target` with `maker`: `gcore -o DIR/gcore PID`
 * (the target then is SIGKILLed), or signal it from this process and take the
 * core the kernel writes into its directory. The target has exited on return.
 */
export async function makeCore(target: CoreTarget, maker: CoreMaker): Promise<MadeCore> {
  const live = liveFacts(target.pid);
  if (maker === "gcore") {
    const prefix = `${target.dir}/gcore`;
    const output = await new Deno.Command("gcore", {
      args: ["-o", prefix, String(target.pid)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    await target.kill("SIGKILL");
    const path = `${prefix}.${target.pid}`;
    if (!output.success || !pathExists(path)) {
      throw new Error(`gcore ${target.pid} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    return { path, maker, pid: target.pid, live };
  }
  const signal = KERNEL_SIGNAL[maker];
  const status = await target.kill(signal);
  assert.equal(status.signal, signal, `the target died of ${signal}`);
  for (const name of ["core", `core.${target.pid}`]) {
    const path = `${target.dir}/${name}`;
    if (pathExists(path)) return { path, maker, pid: target.pid, live };
  }
  throw new Error(
    `The kernel wrote no core for process ${target.pid} in ${target.dir} ` +
      `(core_pattern ${Deno.readTextFileSync("/proc/sys/kernel/core_pattern").trim()})`,
  );
}

/** A fixture's core, its expected stacks, and its target (dispose to remove everything). */
export interface FixtureCore extends MadeCore, AsyncDisposable {
  target: CoreTarget;
  /** Absolute path of the fixture script. */
  scriptPath: string;
  frames: ExpectedStacks;
}

/** Options of {@linkcode fixtureCore}. */
export interface FixtureCoreOptions {
  /** Run this interpreter binary instead of `python.path` (e.g. a relocated copy). */
  executable?: string;
  env?: Record<string, string>;
  /** Called with the pid once the fixture is ready, before the core is made (may throw). */
  beforeCore?: (pid: number) => void;
}

/**
 * Run `python -S fixtures/<file> DIR/ready` under `ulimit -c unlimited`, wait
 * until it is ready (plus 100 ms, as the live tests do), and make its core.
 */
export async function fixtureCore(
  python: { path: string },
  file: string,
  maker: CoreMaker,
  options: FixtureCoreOptions = {},
): Promise<FixtureCore> {
  const frames = await expectedFrames(file);
  const scriptPath = FIXTURES_DIR + file;
  const target = await startCoreTarget(
    [options.executable ?? python.path, "-S", scriptPath, "{dir}/ready"],
    {
      readyFile: "ready",
      running: runningThreads(await Deno.readTextFile(scriptPath)),
      ...(options.env ? { env: options.env } : {}),
    },
  );
  try {
    options.beforeCore?.(target.pid);
    const made = await makeCore(target, maker);
    return { ...made, target, scriptPath, frames, [Symbol.asyncDispose]: target.stop };
  } catch (error) {
    await target.stop();
    throw error;
  }
}

// ---- Reading and checking the output -------------------------------------------------------

/** The block `pystack core` prints before the stacks. */
export interface CoreHeader {
  /** The path after `Using executable found in the core file:` or `Using executable:`. */
  executable: string;
  /** True for `found in the core file`. */
  foundInCore: boolean;
  state: string;
  zombie: string;
  niceness: number;
  pid: number;
  ppid: number;
  sid: number;
  uid: number;
  gid: number;
  pgrp: number;
  fname: string;
  psargs: string;
  /** The line that says how the process ended. */
  failure: string;
}

/** The output of `pystack core`, split into its header and its stacks. */
export interface CoreOutput {
  header: CoreHeader;
  traceback: Traceback;
}

const HEADER_LINES = [
  /^Using executable(?<found> found in the core file)?: (?<executable>.*)$/,
  /^$/,
  /^Core file information:$/,
  /^state: (?<state>\S*) zombie: (?<zombie>\S*) niceness: (?<niceness>-?\d+)$/,
  /^pid: (?<pid>\d+) ppid: (?<ppid>\d+) sid: (?<sid>\d+)$/,
  /^uid: (?<uid>\d+) gid: (?<gid>\d+) pgrp: (?<pgrp>\d+)$/,
  /^executable: (?<fname>.*?) arguments: (?<psargs>.*)$/,
  /^$/,
  /^(?<failure>The .*)$/,
  /^$/,
];

/** Split the stdout of `pystack core` into the header (exactly its 10 lines) and the stacks. */
export function parseCoreOutput(stdout: string): CoreOutput {
  const lines = stdout.split("\n");
  const groups: Record<string, string> = {};
  HEADER_LINES.forEach((pattern, index) => {
    const match = pattern.exec(lines[index] ?? "<end of output>");
    assert.ok(match, `header line ${index + 1} ${JSON.stringify(lines[index])} matches ${pattern}`);
    Object.assign(groups, match.groups ?? {});
  });
  const number = (key: string) => Number(groups[key]);
  return {
    header: {
      executable: groups.executable!,
      foundInCore: groups.found !== undefined,
      state: groups.state!,
      zombie: groups.zombie!,
      niceness: number("niceness"),
      pid: number("pid"),
      ppid: number("ppid"),
      sid: number("sid"),
      uid: number("uid"),
      gid: number("gid"),
      pgrp: number("pgrp"),
      fname: groups.fname!,
      psargs: groups.psargs!,
      failure: groups.failure!,
    },
    traceback: parseTraceback(lines.slice(HEADER_LINES.length).join("\n")),
  };
}

/** The failure line expected for a core made by `maker` from this test process. */
export function expectedFailureLine(maker: CoreMaker): string {
  if (maker === "gcore") {
    return "The core was taken from a running process (e.g. by gcore): the process did not crash";
  }
  return `The process died due to receiving signal ${KERNEL_SIGNAL[maker]} sent by pid ${Deno.pid}`;
}

/** What the header's first line must say. */
export interface HeaderExpectations {
  /** The executable pystack used. */
  executable: string;
  /** Whether it came from the core (default) or from the command line. */
  foundInCore?: boolean;
}

/**
 * Assert the header of a core of `core.pid`: every value must be what the
 * live process showed (`/proc` just before the core), and the failure line
 * must name the signal and this test process as its sender.
 *
 * `NT_PRPSINFO` is written differently by the two makers: the kernel puts the
 * group leader's `comm` in `fname` and the first 79 bytes of the command line
 * (NULs as spaces) in `psargs`; gdb puts the base name of `argv[0]` in `fname`
 * and `argv[0]` alone in `psargs` (an attached process has no "inferior
 * arguments"). Both are derived here from the live `/proc/PID/cmdline`.
 */
export function checkCoreHeader(
  header: CoreHeader,
  core: MadeCore,
  expect: HeaderExpectations,
): void {
  assert.equal(
    header.foundInCore,
    expect.foundInCore ?? true,
    "'Using executable found in the core file' (else 'Using executable', given as an argument)",
  );
  assert.equal(header.executable, expect.executable, "the executable the core names");
  assert.equal(header.pid, core.pid, "pid");
  assert.equal(core.live.ppid, Deno.pid, "the test process started the target");
  if (core.maker === "gcore") {
    assert.equal(header.ppid, core.live.ppid, "ppid (gdb copies /proc/PID/stat)");
  } else {
    // The kernel writes task_pid_vnr(real_parent): the TID of the parent's thread that forked
    // (a worker thread of this Deno process), not its pid as /proc/PID/stat shows.
    assert.ok(
      header.ppid === core.live.ppid || pathExists(`/proc/${core.live.ppid}/task/${header.ppid}`),
      `ppid ${header.ppid} is this test process (${core.live.ppid}) or one of its threads`,
    );
  }
  assert.equal(header.sid, core.live.sid, "sid");
  assert.equal(header.pgrp, core.live.pgrp, "pgrp");
  assert.equal(header.uid, Deno.uid(), "uid");
  assert.equal(header.gid, Deno.gid(), "gid");
  assert.equal(header.niceness, core.live.nice, "niceness");
  // Neither maker dumps a zombie: gcore a live process, the kernel a dying one (state R or D).
  assert.equal(header.zombie, "False", "zombie");
  assert.match(
    header.state,
    core.maker === "gcore" ? /^[RSDtT]$/ : /^[RD]$/,
    "state (a single letter of /proc/PID/stat)",
  );
  const argv0 = core.live.argv[0] ?? "";
  const fname = core.maker === "gcore" ? basename(argv0) : threadCommOf(core);
  assert.equal(
    header.fname,
    firstBytes(fname, 15),
    "executable: the short name (15 bytes at most)",
  );
  const psargs = core.maker === "gcore" ? argv0 : core.live.argv.join(" ");
  assert.equal(
    header.psargs.trimEnd(),
    firstBytes(psargs, 79).trimEnd(),
    "arguments: the command line, 79 bytes at most",
  );
  assert.equal(header.failure, expectedFailureLine(core.maker), "how the process ended");
}

/** The first `n` bytes of the UTF-8 encoding of `text`, decoded again. */
function firstBytes(text: string, n: number): string {
  return new TextDecoder().decode(new TextEncoder().encode(text).subarray(0, n));
}

function threadCommOf(core: MadeCore): string {
  const name = core.live.osThreads.get(core.pid)?.name;
  assert.ok(name !== undefined, `the live snapshot has the main thread ${core.pid}`);
  return name;
}

/**
 * Assert the stacks of a fixture's core exactly as the live tests assert
 * `pystack remote` (same frames, lines, source lines, GIL and GC tags, thread
 * order), and that the TIDs are the live process's.
 *
 * A core does not record the OS names of threads, so a thread header without
 * a name gets the name the live thread had (by TID) before the comparison;
 * a name that is printed must be the live one.
 */
export function checkCoreStacks(
  traceback: Traceback,
  core: FixtureCore,
  threads: ReturnType<FixtureSpec["threads"]>,
): void {
  const osThreads = core.live.osThreads;
  for (const thread of traceback) {
    const live = osThreads.get(thread.tid);
    if (thread.name === undefined && live) thread.name = live.name;
  }
  checkStacks(traceback, {
    pid: core.pid,
    scriptPath: core.scriptPath,
    threads,
    frames: core.frames,
    osThreads,
  });
}

/** Assert that stderr holds only pystack's own lines (`pystack: …`), never a JS stack trace. */
export function checkNoStackTrace(stderr: string): void {
  const lines = stderr.split("\n").filter((line) => line !== "");
  for (const line of lines) {
    assert.ok(line.startsWith("pystack:"), `stderr line is pystack's own: ${JSON.stringify(line)}`);
  }
  assert.doesNotMatch(stderr, /^\s+at .*:\d+:\d+\)?$/m, "no JS stack trace on stderr");
}

/**
 * Assert a clean run on a fixture's core: exit 0, nothing on stderr, the
 * header, and the stacks. Failures carry the command line and output.
 */
export function checkCoreRun(
  result: PystackResult,
  core: FixtureCore,
  fixture: FixtureSpec,
  version: readonly [number, number],
  expect: HeaderExpectations & { stderr?: (stderr: string) => void },
): void {
  try {
    assert.equal(result.code, 0, "exit code");
    if (expect.stderr) expect.stderr(result.stderr);
    else assert.equal(result.stderr, "", "nothing on stderr");
    const { header, traceback } = parseCoreOutput(result.stdout);
    checkCoreHeader(header, core, expect);
    checkCoreStacks(traceback, core, fixture.threads(version));
  } catch (error) {
    throw withRun(error, result);
  }
}

// ---- ELF layout, for cutting cores and patching build ids ----------------------------------

/** Where the parts of an ELF file are. */
export interface ElfLayout {
  size: number;
  /** `e_type`: 4 for a core. */
  type: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  notes: { offset: number; size: number }[];
  loads: { offset: number; size: number; vaddr: bigint }[];
}

/** Read the ELF header and program headers of a 64-bit little-endian file. */
export function elfLayout(path: string): ElfLayout {
  using file = Deno.openSync(path);
  const size = file.statSync().size;
  const head = readAt(file, 0, 64);
  const view = new DataView(head.buffer);
  assert.equal(view.getUint32(0), 0x7f454c46, `${path} is an ELF file`);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  const table = new DataView(readAt(file, phoff, phentsize * phnum).buffer);
  const layout: ElfLayout = {
    size,
    type: view.getUint16(16, true),
    phoff,
    phentsize,
    phnum,
    notes: [],
    loads: [],
  };
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    const type = table.getUint32(at, true);
    const offset = Number(table.getBigUint64(at + 8, true));
    const filesz = Number(table.getBigUint64(at + 32, true));
    if (type === 4) layout.notes.push({ offset, size: filesz });
    if (type === 1 && filesz > 0) {
      layout.loads.push({ offset, size: filesz, vaddr: table.getBigUint64(at + 16, true) });
    }
  }
  return layout;
}

/**
 * In a copy of the ELF file `from` written to `to`, flip the first byte of
 * the GNU build id (the descriptor of the `NT_GNU_BUILD_ID` note); returns
 * the original and the new build id, in hex.
 */
export function copyWithOtherBuildId(from: string, to: string): { before: string; after: string } {
  const bytes = Deno.readFileSync(from);
  const view = new DataView(bytes.buffer);
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  for (const note of elfLayoutOfBytes(bytes).notes) {
    for (let at = note.offset; at + 12 <= note.offset + note.size;) {
      const namesz = view.getUint32(at, true);
      const descsz = view.getUint32(at + 4, true);
      const type = view.getUint32(at + 8, true);
      const name = new TextDecoder().decode(bytes.subarray(at + 12, at + 12 + namesz));
      const desc = at + 12 + align4(namesz);
      if (type === 3 && name === "GNU\0" && descsz > 0) {
        const before = hex(bytes.slice(desc, desc + descsz));
        bytes[desc] = bytes[desc]! ^ 0xff;
        Deno.writeFileSync(to, bytes, { mode: 0o755 });
        return { before, after: hex(bytes.slice(desc, desc + descsz)) };
      }
      at = desc + align4(descsz);
    }
  }
  throw new Error(`${from} has no GNU build id note`);
}

function elfLayoutOfBytes(bytes: Uint8Array): Pick<ElfLayout, "notes"> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  const notes = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== 4) continue;
    notes.push({
      offset: Number(view.getBigUint64(at + 8, true)),
      size: Number(view.getBigUint64(at + 32, true)),
    });
  }
  return { notes };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function readAt(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  for (let got = 0; got < length;) {
    const n = file.readSync(out.subarray(got));
    if (n === null || n === 0) throw new Error(`short read at ${offset + got}`);
    got += n;
  }
  return out;
}

/** A copy of `from` cut to its first `length` bytes, at `to` (sparse where `from` is). */
export async function cutCopy(from: string, to: string, length: number): Promise<void> {
  await Deno.copyFile(from, to);
  await Deno.truncate(to, length);
}

// ---- Cores shared by several tests of one file ---------------------------------------------

/** A lazily made value that several tests use and the last one removes. */
export interface Shared<T> {
  /** Make it on first use; later calls get the same value (or the same error). */
  get(): Promise<T>;
  /** Call once per test that used it, in a `finally`; the last one disposes of it. */
  release(): Promise<void>;
}

/**
 * Share `make()` between `users` tests (a number, or a function called at
 * release time): it is made by the first `get`, and disposed when every user
 * released it; if some never ran (`--filter`, a failure before `release`), the
 * `unload` of the test module removes the directories `dirsOf(value)` instead.
 */
export function shared<T extends AsyncDisposable>(
  users: number | (() => number),
  make: () => Promise<T>,
  dirsOf: (value: T) => string[],
): Shared<T> {
  let made: Promise<T> | undefined;
  let released = 0;
  let dirs: string[] = [];
  addEventListener("unload", () => {
    for (const dir of dirs) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already removed
      }
    }
  });
  return {
    get: () =>
      made ??= make().then((value) => {
        dirs = dirsOf(value);
        return value;
      }),
    async release() {
      if (++released < (typeof users === "number" ? users : users()) || !made) return;
      const value = await made.catch(() => undefined);
      await value?.[Symbol.asyncDispose]();
      dirs = [];
    },
  };
}
