/**
 * How `pystack remote` treats its target beyond the happy path: a signal to
 * pystack while the target is paused, the `/proc/PID/mem` fallback, and the
 * demo a newcomer runs first.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkRemote, remoteSkip, withRun } from "./_remote_cases.ts";
import { FIXTURES } from "./_fixture_specs.ts";
import { basename } from "node:path";
import {
  FIXTURES_DIR,
  parseFrameMarkers,
  parseTraceback,
  procState,
  pystackCommand,
  registerTest,
  REPO_ROOT,
  sleep,
  startFixture,
  tracerPid,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";
import { checkStacks } from "./_check_stacks.ts";
import { stripFrameMarkers } from "../src/cli/strip_markers.ts";

const pythons = await findPythons();
const python = pythons.find((p) => p.id === "3.12-pyenv" && !p.missing) ??
  pythons.find((p) => !remoteSkip(p))!;
const namedThreads = FIXTURES.find((f) => f.key === "named_threads")!;

for (const candidate of pythons) {
  registerTest(
    `remote python=${candidate.id} fixture=named_threads memory=/proc/PID/mem`,
    remoteSkip(candidate, namedThreads),
    () =>
      checkRemote(candidate, namedThreads, {
        mode: "block",
        env: { _PYSTACK_NO_PROCESS_VM_READV: "1" },
        verbose: 2,
        checkRun(result) {
          assert.match(
            result.stderr,
            /^pystack: memory read through \/proc\/\d+\/mem: _PYSTACK_NO_PROCESS_VM_READV is set \(\d+ reads\)$/m,
            "-vv says the reads went through /proc/PID/mem",
          );
          assert.doesNotMatch(result.stderr, /process_vm_readv \(/, "and not process_vm_readv");
        },
      }),
  );
}

for (const [signal, number] of [["SIGTERM", 15], ["SIGINT", 2]] as const) {
  registerTest(
    `remote ${signal} while the target is paused: pystack dies of it, target resumed and untraced`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, "single_thread.py");
      const [cmd, ...args] = pystackCommand();
      const child = new Deno.Command(cmd!, {
        args: [...args, "--no-color", "remote", String(target.pid)],
        cwd: REPO_ROOT,
        env: { _PYSTACK_TEST_SLEEP_AFTER_ATTACH_MS: "1500" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Wait until pystack holds the target, then signal pystack.
      // (TracerPid is set by PTRACE_SEIZE, a moment before the stop itself.)
      const deadline = Date.now() + 10_000;
      const held = () => tracerPid(target.pid) !== 0 && procState(target.pid) === "t";
      while (!held() && Date.now() < deadline) await sleep(10);
      assert.ok(held(), "pystack attached and the target is paused meanwhile");
      child.kill(signal);
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      // The default action: pystack ends at once (128 + signal), having printed nothing.
      assert.equal(out.code, 128 + number, `exit code; stderr: ${stderr}`);
      assert.equal(out.signal, signal);
      assert.equal(new TextDecoder().decode(out.stdout), "", "nothing printed");
      // The kernel detached every thread as the tracer died: the target runs on, untraced.
      const resumed = Date.now() + 2_000;
      while (tracerPid(target.pid) !== 0 && Date.now() < resumed) await sleep(5);
      assert.equal(tracerPid(target.pid), 0, "target untraced");
      assert.ok(["S", "R"].includes(procState(target.pid)), "target running");
    },
  );
}

const demoSpec = FIXTURES.find((f) => f.key === "demo")!;
for (const argv of [["demo"], []]) {
  registerTest(
    `${argv.length ? "pystack demo" : "plain pystack"} starts the deadlock sample, shows its ` +
      "stacks and stops it",
    remoteSkip(python),
    async () => {
      const [cmd, ...args] = pystackCommand();
      const out = await new Deno.Command(cmd!, {
        args: [...args, "--no-color", ...argv],
        cwd: REPO_ROOT,
        env: { PYSTACK_DEMO_PYTHON: python.path },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      const result = { code: out.code, stdout, stderr, command: [cmd!, ...args, ...argv] };
      try {
        assert.equal(out.code, 0);
        const match = /^pystack demo: started (\S+) (\S+) \(PID (\d+)\); .*\n$/.exec(stderr);
        assert.ok(match, "one line on stderr says which program and PID it started");
        const [, pythonPath, script, pid] = match;
        const source = await Deno.readTextFile(`${FIXTURES_DIR}${demoSpec.file}`);
        assert.equal(pythonPath, python.path);
        // Every thread, in order, with the frames of the demo's markers (its program is
        // fixtures/demo.py without them, same lines) and the standard library's around them.
        // --locks lines (the demo runs with --locks) are checked below; the summary follows
        // the last thread.
        const traceback = parseTraceback(stdout);
        const lockLines = new Map(traceback.map((t) => [t.tid, t.extra.filter(isLockLine)]));
        for (const t of traceback) {
          t.extra = t.extra.filter((l) => !isLockLine(l) && !l.startsWith("Deadlock: "));
        }
        for (const [tid, lines] of lockLines) {
          assert.match(
            lines[0] ?? "",
            /^ {4}Waiting for: /,
            `thread ${tid} says what it waits for`,
          );
        }
        checkStacks(traceback, {
          pid: Number(pid),
          scriptPath: script!,
          threads: demoSpec.threads(python.version),
          frames: parseFrameMarkers(source, basename(script!)),
          checkSource: false,
        });
        const program = stripFrameMarkers(source).split("\n");
        for (const thread of parseTraceback(stdout)) {
          for (const frame of thread.frames.filter((f) => f.file === script)) {
            assert.equal(frame.source, program[frame.line - 1]!.trim(), `source of ${frame.func}`);
          }
        }
        assert.ok(!stdout.includes("@frame"), "the embedded demo carries no test markers");
        // --locks (the demo runs with it): the output ends by naming the deadlock and its threads.
        const threads = parseTraceback(stdout);
        const [a, b] = ["transfer_a", "transfer_b"].map((func) =>
          threads.find((t) => t.frames.some((f) => f.func === func))!.tid
        );
        assert.match(
          stdout.trimEnd().split("\n").at(-1)!,
          new RegExp(
            `^Deadlock: thread ${a} \\(transfer-a\\) waits for threading\\.Lock 0x[0-9a-f]+ ` +
              `\\(lock_y\\) held by thread ${b} \\(transfer-b\\); thread ${b} \\(transfer-b\\) ` +
              `waits for threading\\.Lock 0x[0-9a-f]+ \\(lock_x\\) held by thread ${a} ` +
              `\\(transfer-a\\) \\[inferred\\]$`,
          ),
        );
        let gone = false;
        try {
          Deno.statSync(`/proc/${pid}`);
        } catch {
          gone = true;
        }
        assert.ok(gone, "the demo program was stopped");
      } catch (error) {
        throw withRun(error, result);
      }
    },
  );
}

/** A line `--locks` adds under a thread header. */
function isLockLine(line: string): boolean {
  return /^ {4}(Waiting for|Holds|In system call): /.test(line);
}
