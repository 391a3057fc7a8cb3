/**
 * The `pystack remote` matrix: interpreter × fixture × mode, one `Deno.test`
 * each. Split over several `*_test.ts` files so `deno test --parallel` runs
 * them side by side (it parallelises files, not the tests inside a file).
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkStacks, type StackExpectations } from "./_check_stacks.ts";
import { checkJsonRun } from "./_check_json.ts";
import { FIXTURES, type FixtureSpec, forBuild } from "./_fixture_specs.ts";
import {
  describeRun,
  expectedFrames,
  parseTraceback,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
  threadSnapshot,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";

/** `block` is pystack's default (threads paused with ptrace); `no-block` passes `--no-block`. */
export type Mode = "block" | "no-block";

/** Register `remote python=… fixture=… mode=…` for every interpreter and fixture. */
export async function registerRemoteTests(mode: Mode): Promise<void> {
  for (const python of await findPythons()) {
    for (const fixture of FIXTURES) {
      const relaxed = fixture.relaxed?.(python.version) ?? [];
      const name = `remote python=${python.id} fixture=${fixture.key} mode=${mode}` +
        (relaxed.length ? ` (relaxed: ${relaxed.join("; ")})` : "");
      registerTest(name, remoteSkip(python, fixture), async () => {
        for (const note of relaxed) console.log(`not asserted: ${note}`);
        await checkRemote(python, fixture, { mode });
      });
    }
  }
}

/**
 * Register, per interpreter, a run that may only find the interpreter by
 * scanning writable data (`_PYSTACK_METHODS=bss`), with `-v` to learn how it
 * was found.
 */
export async function registerScanTests(): Promise<void> {
  const fixture = FIXTURES.find((spec) => spec.key === "named_threads")!;
  for (const python of await findPythons()) {
    const name = `remote python=${python.id} fixture=${fixture.key} mode=block methods=bss`;
    registerTest(name, remoteSkip(python, fixture), async () => {
      await checkRemote(python, fixture, {
        mode: "block",
        env: { _PYSTACK_METHODS: "bss" },
        verbose: true,
        checkRun(result) {
          assert.match(
            result.stderr,
            /interpreter found by scanning writable data/,
            "-v reports how the interpreter was found",
          );
        },
      });
    });
  }
}

/** Why `python` cannot run `fixture` under `remote`, if it cannot. */
export function remoteSkip(python: Python, fixture?: FixtureSpec): Skip | undefined {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  if (fixture?.python3Only && python.version[0] < 3) return { reason: "fixture needs Python 3" };
  return undefined;
}

interface RemoteRun {
  mode: Mode;
  env?: Record<string, string>;
  /** Pass `-v`; stderr is then not required to be empty. */
  verbose?: boolean;
  /** Extra assertions on the run. */
  checkRun?(result: PystackResult): void;
}

/**
 * Start the fixture, run `pystack remote PID`, and assert the exit code, an
 * empty stderr, that every thread is left running and untraced, and the stacks.
 */
export async function checkRemote(
  python: Python,
  fixture: FixtureSpec,
  run: RemoteRun,
): Promise<void> {
  const frames = await expectedFrames(fixture.file);
  await using target = await startFixture(python, fixture.file);
  const args = [
    ...(run.verbose ? ["-v"] : []),
    "remote",
    String(target.pid),
    ...(run.mode === "no-block" ? ["--no-block"] : []),
  ];
  const result = await runPystack(args, { env: run.env ?? {} });
  let expect: StackExpectations;
  try {
    const osThreads = threadSnapshot(target.pid);
    assert.equal(result.code, 0, "exit code");
    if (!run.verbose) assert.equal(result.stderr, "", "nothing on stderr");
    run.checkRun?.(result);
    for (const [tid, thread] of osThreads) {
      assert.ok(
        (thread.state === "S" || thread.state === "R") && thread.tracerPid === 0,
        `thread ${tid} is left running (state ${thread.state}, TracerPid ${thread.tracerPid})`,
      );
    }
    expect = {
      pid: target.pid,
      scriptPath: target.scriptPath,
      threads: forBuild(fixture, python).threads(python.version),
      frames,
      osThreads,
    };
    checkStacks(parseTraceback(result.stdout), expect);
  } catch (error) {
    throw withRun(error, result);
  }
  // The same with --json: it validates, shows the same threads and frames, meets the same expectations.
  await checkJsonRun(args, result, { env: run.env ?? {}, expect, quietStderr: !run.verbose });
}

/** Add the command line and output of `result` to an assertion failure. */
export function withRun(error: unknown, result: PystackResult): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${message}\n\n${describeRun(result)}`, { cause: error });
}
