/**
 * `pystack remote` failures and the CLI's own arguments: each error is one
 * line on stderr, nothing on stdout, a documented exit code, and the target
 * is left running.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  describeRun,
  procState,
  type PystackResult,
  registerTest,
  runPystack,
  sleep,
  startCommand,
  startFixture,
  tracerPid,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { NOBODY, nobodyEnvironment, nobodySkip } from "./_nobody.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { pathExists } from "../src/fs_checks.ts";

const MODES = ["block", "no-block"] as const;
const modeArgs = (mode: string) => mode === "no-block" ? ["--no-block"] : [];

/** The interpreter for tests that need any Python target. */
const python = pickPython(await findPythons());
const pythonSkip = remoteSkip(python);

function pickPython(pythons: Python[]): Python {
  const usable = pythons.filter((candidate) => !remoteSkip(candidate));
  return usable.find((candidate) => candidate.id === "3.12-pyenv") ?? usable[0] ??
    pythons.at(-1)!;
}

/** Assert a failed run: exit code, empty stdout, one line on stderr that contains `phrase`. */
function checkError(result: PystackResult, code: number, phrase: string | RegExp): void {
  try {
    assert.equal(result.code, code, "exit code");
    assert.equal(result.stdout, "", "nothing on stdout");
    const message = result.stderr.endsWith("\n") ? result.stderr.slice(0, -1) : result.stderr;
    assert.ok(message.length > 0 && !message.includes("\n"), "stderr is exactly one line");
    if (typeof phrase === "string") assert.ok(message.includes(phrase), `stderr has "${phrase}"`);
    else assert.match(message, phrase);
  } catch (error) {
    throw withRun(error, result);
  }
}

/** Assert that `pid` runs on, neither stopped nor traced. */
function checkLeftRunning(pid: number, result: PystackResult): void {
  const state = procState(pid);
  const tracer = tracerPid(pid);
  assert.ok(
    (state === "S" || state === "R") && tracer === 0,
    `target ${pid} is left running: state ${state}, TracerPid ${tracer}\n${describeRun(result)}`,
  );
}

for (const mode of MODES) {
  registerTest(
    `remote error=no-such-process pid=reaped-child mode=${mode}`,
    undefined,
    async () => {
      const pid = await reapedPid();
      checkError(
        await runPystack(["remote", String(pid), ...modeArgs(mode)]),
        3,
        "No such process",
      );
    },
  );

  registerTest(`remote error=no-such-process pid=4194303 mode=${mode}`, undefined, async () => {
    assert.ok(!pidExists(4194303), "pid 4194303 exists here: pick another");
    const result = await runPystack(["remote", "4194303", ...modeArgs(mode)]);
    checkError(result, 3, "No such process");
  });

  registerTest(`remote error=not-python target=sleep mode=${mode}`, undefined, async () => {
    await using target = await startCommand(["sleep", "100"]);
    const result = await runPystack(["remote", String(target.pid), ...modeArgs(mode)]);
    checkError(result, 5, "not a Python process");
    checkLeftRunning(target.pid, result);
  });

  registerTest(
    `remote error=not-permitted user=nobody python=${python.id} mode=${mode}`,
    pythonSkip ?? nobodySkip(),
    async () => {
      await using target = await startFixture(python, "single_thread.py");
      await using nobody = await nobodyEnvironment();
      const result = await runPystack(["remote", String(target.pid), ...modeArgs(mode)], {
        wrapper: NOBODY,
        clearEnv: true,
        env: nobody.env,
      });
      checkError(result, 4, "CAP_SYS_PTRACE");
      checkLeftRunning(target.pid, result);
    },
  );

  registerTest(
    `remote error=target-exited python=${python.id} mode=${mode}`,
    pythonSkip,
    async () => {
      await using target = await startFixture(python, "single_thread.py");
      // Kill once pystack holds the target (it then sleeps 1.5 s before reading): it says so by
      // creating the held file; a blocking run must be attached by then.
      const held = `${target.dir}/held`;
      const running = runPystack(["remote", String(target.pid), ...modeArgs(mode)], {
        env: { _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: "1500", _PYSTACK_TEST_HELD_FILE: held },
      });
      let finished = false;
      running.finally(() => {
        finished = true;
      }).catch(() => {});
      const deadline = Date.now() + 15_000;
      while (!finished && !pathExists(held) && Date.now() < deadline) await sleep(10);
      if (!pathExists(held)) {
        throw withRun(new Error("pystack never reached the hold"), await running);
      }
      if (mode === "block") {
        assert.notEqual(tracerPid(target.pid), 0, "a blocking run holds the target traced");
        assert.equal(procState(target.pid), "t", "a blocking run holds the target stopped");
      }
      Deno.kill(target.pid, "SIGKILL");
      checkError(await running, 7, "exited");
    },
  );
}

/** Starts `fixtures/zombie_child.py`; its child's pid once the child is a zombie. */
async function startZombie() {
  const parent = await startFixture(python, "zombie_child.py");
  const pid = Number(await Deno.readTextFile(`${parent.readyPath}.pid`));
  const deadline = Date.now() + 15_000;
  while (procState(pid) !== "Z") {
    if (Date.now() > deadline) {
      await parent.stop();
      throw new Error(`child ${pid} never became a zombie`);
    }
    await sleep(10);
  }
  return { parent, pid };
}

const ZOMBIE_RUNS: [string, string[]][] = [
  ["remote", []],
  ["remote", ["--no-block"]],
  ["watch", ["--duration", "1"]],
];
for (const [command, args] of ZOMBIE_RUNS) {
  registerTest(
    `${command} error=target-exited target=zombie python=${python.id} ${args.join(" ")}`.trim(),
    pythonSkip,
    async () => {
      const { parent, pid } = await startZombie();
      await using _ = parent;
      const result = await runPystack([command, String(pid), ...args]);
      checkError(result, 7, `Cannot inspect process ${pid}: it has exited (a zombie its parent`);
      assert.equal(procState(pid), "Z", "still a zombie, never reaped by pystack");
    },
  );
}

const BAD_ARGUMENTS: [string[], string][] = [
  [
    ["remote", "notapid"],
    "Invalid PID 'notapid': expected a positive integer; usage: pystack remote PID [options]",
  ],
  [["remote"], "Missing the PID to inspect; usage: pystack remote PID [options]"],
  [
    ["bogus"],
    "Unknown command 'bogus'; commands are: remote, core, watch, demo; see 'pystack --help'",
  ],
];
for (const [args, message] of BAD_ARGUMENTS) {
  registerTest(`cli error=bad-arguments args="${args.join(" ")}"`, undefined, async () => {
    const result = await runPystack(args);
    checkError(result, 2, message);
    assert.equal(result.stderr, `pystack: ${message}\n`, "exactly this line");
  });
}

registerTest("cli --version", undefined, async () => {
  const result = await runPystack(["--version"]);
  try {
    assert.equal(result.code, 0, "exit code");
    assert.match(result.stdout, /\b\d+\.\d+\.\d+\b/, "a version number on stdout");
    assert.equal(result.stderr, "", "nothing on stderr");
  } catch (error) {
    throw withRun(error, result);
  }
});

const HELP: [string[], string][] = [[["--help"], "remote"], [["remote", "--help"], "--no-block"]];
for (const [args, mention] of HELP) {
  registerTest(`cli ${args.join(" ")}`, undefined, async () => {
    const result = await runPystack(args);
    try {
      assert.equal(result.code, 0, "exit code");
      assert.ok(result.stdout.includes(mention), `stdout mentions ${mention}`);
    } catch (error) {
      throw withRun(error, result);
    }
  });
}

/** The pid of a child that has exited and been reaped. */
async function reapedPid(): Promise<number> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
    await child.status;
    if (!pidExists(child.pid)) return child.pid;
  }
  throw new Error("Every reaped pid was reused at once");
}

function pidExists(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
