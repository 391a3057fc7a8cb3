/**
 * `pystack remote` failures and the CLI's own arguments: each error is one
 * line on stderr, nothing on stdout, a documented exit code, and the target
 * is left running.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isAbsolute } from "node:path";
import {
  describeRun,
  procState,
  pystackCommand,
  type PystackResult,
  registerTest,
  REPO_ROOT,
  runPystack,
  type Skip,
  sleep,
  startCommand,
  startFixture,
  tracerPid,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";

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
      if (mode === "no-block") await runPystack(["--version"]); // warm the CLI up: timing below
      const running = runPystack(["remote", String(target.pid), ...modeArgs(mode)], {
        env: { _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: "1500" },
      });
      let finished = false;
      running.finally(() => {
        finished = true;
      }).catch(() => {});
      if (mode === "block") {
        // Kill once pystack has attached: it then sleeps 1.5 s before reading.
        const deadline = Date.now() + 15_000;
        while (!finished && tracerPid(target.pid) === 0 && Date.now() < deadline) await sleep(10);
        if (finished) {
          throw withRun(
            new Error("pystack ended without being seen attached (TracerPid stayed 0)"),
            await running,
          );
        }
      } else {
        await sleep(500); // nothing to observe without ptrace: 0.5 s into the 1.5 s sleep
      }
      Deno.kill(target.pid, "SIGKILL");
      checkError(await running, 7, "exited");
    },
  );
}

for (const args of [["remote", "notapid"], ["remote"], ["bogus"]]) {
  registerTest(`cli error=bad-arguments args="${args.join(" ")}"`, undefined, async () => {
    checkError(await runPystack(args), 2, /\S/);
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

const NOBODY_ID = 65534;
const NOBODY = [
  "setpriv",
  `--reuid=${NOBODY_ID}`,
  `--regid=${NOBODY_ID}`,
  "--clear-groups",
  "--inh-caps=-all",
];

function nobodySkip(): Skip | undefined {
  if (Deno.uid() !== 0) return { reason: "needs root to run pystack as nobody", missing: true };
  const path = Deno.env.get("PATH") ?? "";
  const found = path.split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/setpriv`).isFile;
    } catch {
      return false;
    }
  });
  return found ? undefined : { reason: "setpriv not found", missing: true };
}

/**
 * A fresh HOME and DENO_DIR owned by nobody (the CLI imports nothing remote,
 * so an empty DENO_DIR works offline), after checking that nobody can read
 * every path in the pystack command.
 */
async function nobodyEnvironment(): Promise<AsyncDisposable & { env: Record<string, string> }> {
  for (const word of pystackCommand()) {
    if (!word.includes("/")) continue;
    const path = isAbsolute(word) ? word : REPO_ROOT + word;
    const { success } = await new Deno.Command(NOBODY[0]!, {
      args: [...NOBODY.slice(1), "test", "-r", path],
    }).output();
    assert.ok(
      success,
      `User nobody (uid ${NOBODY_ID}) cannot read ${path} from the pystack command; ` +
        "make it and its directories world-readable, or set PYSTACK_CMD to a copy that is",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "pystack-nobody-" });
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: `${dir}/home`,
    DENO_DIR: `${dir}/deno`,
    LC_ALL: "C.UTF-8",
  };
  for (const path of [dir, env.HOME, env.DENO_DIR]) {
    await Deno.mkdir(path, { recursive: true });
    await Deno.chown(path, NOBODY_ID, NOBODY_ID);
  }
  return {
    env,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
