/**
 * Test harness for the integration tests: fixture processes, running the CLI,
 * reading `/proc`, and registering tests that may have to be skipped.
 *
 * @module
 */
import { FIXTURES_DIR } from "./_markers.ts";
import { runningThreads, waitSettled } from "./_settle.ts";
import { pathExists } from "../src/fs_checks.ts";
import { concatBytes } from "../src/bytes.ts";

export { expectedFrames, FIXTURES_DIR, parseFrameMarkers } from "./_markers.ts";
export type { ExpectedFrame, ExpectedStacks } from "./_markers.ts";
export { parseTraceback } from "./_traceback.ts";
export type { Traceback, TracebackFrame, TracebackThread } from "./_traceback.ts";

/** The repository root, with a trailing slash. The CLI runs with this as its cwd. */
export const REPO_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 10;
const PYSTACK_TIMEOUT_MS = 30_000;

/** A started fixture; `await using` it, or call `stop()` in a `finally`. */
export interface RunningFixture extends AsyncDisposable {
  pid: number;
  /** The file the fixture writes `ready` to. */
  readyPath: string;
  /** Absolute path of the fixture script (what `co_filename` holds). */
  scriptPath: string;
  /** The fixture's private temporary directory (removed by `stop`). */
  dir: string;
  /** What the fixture wrote to stderr so far. */
  stderr(): string;
  /** SIGKILL the fixture and wait for it; safe to call more than once. */
  stop(): Promise<void>;
}

/** Options of `startFixture`. */
export interface FixtureOptions {
  /** Arguments after the ready path. */
  args?: string[];
  /** Variables added to the fixture's (otherwise minimal) environment. */
  env?: Record<string, string>;
  /**
   * Milliseconds to wait after `ready`; by default, wait until every thread but those the
   * fixture declares running (`# @running N`) sits in its blocking system call.
   */
  settleMs?: number;
}

/**
 * Start `python -S fixtures/<fixtureName> <tmp>/ready` and wait until it wrote
 * `ready` (15 s at most; an early exit or the timeout throws with the
 * fixture's stderr), then until its threads block (`waitSettled`).
 *
 * The environment is minimal: PATH, `LC_ALL=C.UTF-8` (so 3.6 decodes non-ASCII
 * file names) and `PYTHONDONTWRITEBYTECODE=1` (no `__pycache__` in `fixtures/`).
 */
export async function startFixture(
  python: { path: string },
  fixtureName: string,
  options: FixtureOptions = {},
): Promise<RunningFixture> {
  const scriptPath = FIXTURES_DIR + fixtureName;
  const dir = await Deno.makeTempDir({ prefix: "pystack-fixture-" });
  const readyPath = `${dir}/ready`;
  const process = spawnPython(python.path, [scriptPath, readyPath, ...(options.args ?? [])], {
    env: options.env ?? {},
    dir,
  });
  const fixture: RunningFixture = {
    pid: process.pid,
    readyPath,
    scriptPath,
    dir,
    stderr: process.stderr,
    stop: process.stop,
    [Symbol.asyncDispose]: process.stop,
  };
  try {
    await waitForFile(readyPath, process, `${fixtureName} to write ready`);
  } catch (error) {
    await fixture.stop();
    throw error;
  }
  try {
    if (options.settleMs !== undefined) await sleep(options.settleMs);
    else {
      const running = runningThreads(await Deno.readTextFile(scriptPath));
      await waitSettled(process.pid, running, process.exited);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const stderr = process.stderr();
    await fixture.stop();
    throw new Error(`${message}; ${fixtureName}'s stderr:\n${stderr}`, { cause: error });
  }
  return fixture;
}

/**
 * Run a fixture under `fixtures/_dump_stacks.py` and return the stacks Python
 * itself reports once the fixture is ready, in pystack's text format (status
 * brackets always empty; see that file). Used to check the markers without
 * the CLI.
 */
export async function dumpFixtureStacks(
  python: { path: string },
  fixtureName: string,
): Promise<{ pid: number; text: string }> {
  const dir = await Deno.makeTempDir({ prefix: "pystack-dump-" });
  const dumpPath = `${dir}/dump`;
  const process = spawnPython(
    python.path,
    [FIXTURES_DIR + "_dump_stacks.py", dumpPath, FIXTURES_DIR + fixtureName, `${dir}/ready`],
    { env: {}, dir },
  );
  try {
    await waitForFile(dumpPath, process, `the stack dump of ${fixtureName}`);
    return { pid: process.pid, text: await Deno.readTextFile(dumpPath) };
  } finally {
    await process.stop();
  }
}

interface SpawnedPython {
  pid: number;
  exited(): boolean;
  stderr(): string;
  stop(): Promise<void>;
}

function spawnPython(
  pythonPath: string,
  args: string[],
  options: { env: Record<string, string>; dir: string },
): SpawnedPython {
  const child = new Deno.Command(pythonPath, {
    args: ["-S", ...args],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      LC_ALL: "C.UTF-8",
      PYTHONDONTWRITEBYTECODE: "1",
      ...options.env,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => {
    exited = true;
  });
  const chunks: Uint8Array[] = [];
  const drained = (async () => {
    for await (const chunk of child.stderr) chunks.push(chunk);
  })();
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    exited: () => exited,
    stderr: () => new TextDecoder().decode(concatBytes(chunks)),
    stop: () =>
      stopping ??= (async () => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already exited
        }
        await status;
        await drained;
        await Deno.remove(options.dir, { recursive: true }).catch(() => {});
      })(),
  };
}

async function waitForFile(path: string, process: SpawnedPython, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!pathExists(path)) {
    if (process.exited()) {
      throw new Error(`Fixture exited before ${what}; its stderr:\n${process.stderr()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${READY_TIMEOUT_MS} ms waiting for ${what}; stderr:\n${process.stderr()}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** A plain process started by `startCommand` (e.g. `sleep 100`). */
export interface RunningCommand extends AsyncDisposable {
  pid: number;
  stop(): Promise<void>;
}

/** Start `argv` and wait until it has exec'd (its `/proc/PID/exe` is no longer Deno). */
export async function startCommand(argv: [string, ...string[]]): Promise<RunningCommand> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
    })();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (readExe(child.pid) === Deno.execPath()) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Timed out waiting for ${argv.join(" ")} to start`);
    }
    await sleep(POLL_MS);
  }
  return { pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}

function readExe(pid: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** What a CLI run produced. */
export interface PystackResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The command line that ran, for messages. */
  command: string[];
}

/** Options of `runPystack`. */
export interface PystackOptions {
  /** Variables added to the environment (or the whole environment with `clearEnv`). */
  env?: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** A command prefix, e.g. `setpriv --reuid=65534 …`. */
  wrapper?: string[];
  /** Default 30 000. */
  timeoutMs?: number;
  /** The working directory (default: the repository root). */
  cwd?: string;
}

/**
 * The CLI command prefix: `$PYSTACK_CMD` split on whitespace (relative paths
 * are relative to the repository root), else `deno run --allow-all <repo>/src/main.ts`.
 */
export function pystackCommand(): string[] {
  const fromEnv = Deno.env.get("PYSTACK_CMD")?.trim();
  // Relative paths made absolute: a run may start in another directory (`cwd`).
  if (fromEnv) {
    return fromEnv.split(/\s+/).map((word) =>
      !word.startsWith("-") && !word.startsWith("/") && word.includes("/")
        ? `${REPO_ROOT}${word}`
        : word
    );
  }
  return ["deno", "run", "--allow-all", `${REPO_ROOT}src/main.ts`];
}

/**
 * Run the CLI with `--no-color` followed by `args`, from the repository root,
 * and return its exit code and output. A run longer than 30 s is killed and
 * throws.
 */
export async function runPystack(
  args: string[],
  options: PystackOptions = {},
): Promise<PystackResult> {
  const command = [...(options.wrapper ?? []), ...pystackCommand(), "--no-color", ...args];
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? {},
    clearEnv: options.clearEnv ?? false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timeoutMs = options.timeoutMs ?? PYSTACK_TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    const result = {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      command,
    };
    if (timedOut) {
      throw new Error(`${describeRun(result)}\nwas killed after ${timeoutMs} ms`);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** The command line, exit code and output of a run, for assertion messages. */
export function describeRun(result: PystackResult): string {
  return [
    `$ ${result.command.join(" ")}`,
    `exit code ${result.code}`,
    "--- stdout ---",
    result.stdout,
    "--- stderr ---",
    result.stderr,
  ].join("\n");
}

/** The state letter of `/proc/PID[/task/TID]/stat` (`R`, `S`, `D`, `T`, `t`, `Z`, …). */
export function procState(pid: number, tid?: number): string {
  const stat = Deno.readTextFileSync(procPath(pid, tid, "stat"));
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ", 1)[0]!;
}

/** The `TracerPid` of `/proc/PID[/task/TID]/status` (0: not traced). */
export function tracerPid(pid: number, tid?: number): number {
  const status = Deno.readTextFileSync(procPath(pid, tid, "status"));
  return Number(/^TracerPid:\s*(\d+)$/m.exec(status)?.[1] ?? NaN);
}

/** The TIDs of a process, ascending. */
export function threadIds(pid: number): number[] {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].map((entry) => Number(entry.name))
    .sort((a, b) => a - b);
}

/** The OS name of a thread (`comm`), trailing whitespace removed as pystack does. */
export function threadName(pid: number, tid: number): string {
  return Deno.readTextFileSync(procPath(pid, tid, "comm")).trimEnd();
}

/** What `/proc` says about one thread at one moment. */
export interface OsThread {
  name: string;
  state: string;
  tracerPid: number;
}

/** Name, state and tracer of every thread of `pid`, by TID. */
export function threadSnapshot(pid: number): Map<number, OsThread> {
  return new Map(
    threadIds(pid).map((tid) => [tid, {
      name: threadName(pid, tid),
      state: procState(pid, tid),
      tracerPid: tracerPid(pid, tid),
    }]),
  );
}

function procPath(pid: number, tid: number | undefined, file: string): string {
  return tid === undefined ? `/proc/${pid}/${file}` : `/proc/${pid}/task/${tid}/${file}`;
}

/** Why a test cannot run. */
export interface Skip {
  reason: string;
  /**
   * True when something the test needs is absent (an interpreter, root).
   * With `PYSTACK_TEST_REQUIRE_ALL=1` such a test fails instead of being skipped.
   */
  missing?: boolean;
}

/**
 * Register a test, or, when `skip` is given, an ignored test named
 * `<name> (skipped: <reason>)` plus one line on stderr, so a skip is never silent.
 */
export function registerTest(
  name: string,
  skip: Skip | undefined,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void {
  if (!skip) {
    Deno.test({ name, fn });
    return;
  }
  if (skip.missing && requireAll()) {
    Deno.test({
      name,
      fn() {
        throw new Error(`Cannot run (PYSTACK_TEST_REQUIRE_ALL=1): ${skip.reason}`);
      },
    });
    return;
  }
  console.error(`skipped: ${name}: ${skip.reason}`);
  Deno.test({ name: `${name} (skipped: ${skip.reason})`, ignore: true, fn() {} });
}

/** True with `PYSTACK_TEST_REQUIRE_ALL=1`: a missing prerequisite fails its test instead of skipping it. */
export function requireAll(): boolean {
  return Deno.env.get("PYSTACK_TEST_REQUIRE_ALL") === "1";
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
