/**
 * `pystack remote PID --locks` and `pystack core CORE --locks` on the
 * scenarios of `fixtures/locks.py`, for every interpreter: the exact threads,
 * what each waits for, its holder and the confidence, and the deadlocks
 * (`_locks_cases.ts`); descriptors named live; a core whose mutex was
 * overwritten gives "owner unknown", never a wrong edge.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FIXTURES_DIR,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
} from "./_harness.ts";
import { withRun } from "./_remote_cases.ts";
import { assertValidReport } from "./_json_schema.ts";
import { findPythons, type Python } from "./_pythons.ts";
import {
  type CoreMaker,
  elfLayout,
  kernelCoreSkip,
  makeCore,
  makerSkip,
  startCoreTarget,
} from "./_cores.ts";
import {
  type LockDoc,
  type LockScenario,
  mainThread,
  SCENARIOS,
  threadWith,
} from "./_locks_cases.ts";
import { buildSkip } from "./_native_build.ts";

/** Scenarios also read from a kernel core. */
const CORE_SCENARIOS = new Set([
  "with_locks",
  "rlocks",
  "join",
  "gil_mutex",
  "cpp_mutex",
  "pthread_join",
  "no_deadlock",
]);

/** Scenarios also read live without pausing (system calls from `/proc/PID/task/TID/syscall`). */
const NO_BLOCK_SCENARIOS = new Set(["rlocks", "gil_mutex"]);

/** Scenarios also read from a gcore core (gdb stops the threads with ptrace first). */
const GCORE_SCENARIOS = new Set(["with_locks", "gil_mutex"]);

let cppLibrary: Promise<string> | undefined;

/** `fixtures/native/locks_mutex.cpp` built as a shared library (once per test process). */
function buildCppLibrary(): Promise<string> {
  cppLibrary ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "pystack-locks-lib-" });
    addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const path = `${dir}/liblocks_mutex.so`;
    const out = await new Deno.Command("g++", {
      args: ["-O2", "-g", "-shared", "-fPIC", "-o", path, `${FIXTURES_DIR}native/locks_mutex.cpp`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`g++ failed: ${new TextDecoder().decode(out.stderr)}`);
    return path;
  })();
  return cppLibrary;
}

async function scenarioArgs(scenario: LockScenario): Promise<string[]> {
  return scenario.cppLibrary ? [scenario.name, await buildCppLibrary()] : [scenario.name];
}

function pythonSkip(python: Python): Skip | undefined {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  return undefined;
}

function parse(result: PystackResult): LockDoc {
  assert.equal(result.code, 0, "exit code");
  assert.doesNotMatch(result.stderr, /internal error|at .*\.ts:\d+/);
  const doc = JSON.parse(result.stdout);
  assertValidReport(doc);
  return doc as LockDoc;
}

/** Live runs of a scenario that may catch a waiter between two waits (see `caughtAll`). */
const MAX_LIVE_RUNS = 5;

async function checked(result: PystackResult, check: (doc: LockDoc) => void): Promise<void> {
  try {
    check(parse(result));
  } catch (error) {
    throw withRun(error, result);
  }
  await Promise.resolve();
}

for (const python of await findPythons()) {
  for (const scenario of SCENARIOS) {
    const skip = pythonSkip(python) ?? scenario.skip(python) ??
      (scenario.cppLibrary ? buildSkip() : undefined);
    registerTest(`--locks ${scenario.name} live python=${python.id}`, skip, async () => {
      await using fixture = await startFixture(python, "locks.py", {
        args: await scenarioArgs(scenario),
        settleMs: scenario.settleMs,
      });
      // Every run is checked; a scenario whose check accepts a partial catch is run again until
      // one run catches all (MAX_LIVE_RUNS at most), and the test fails if none does.
      for (let run = 1;; run++) {
        const result = await runPystack(["remote", String(fixture.pid), "--locks", "--json"]);
        let all = true;
        await checked(result, (doc) => {
          scenario.check(doc, python);
          assert.equal(doc.locks!.snapshots, 2, "two snapshots compared");
          all = scenario.caughtAll?.(doc) ?? true;
        });
        if (all) break;
        if (run === MAX_LIVE_RUNS) {
          throw withRun(new Error(`no run of ${MAX_LIVE_RUNS} caught the whole finding`), result);
        }
      }
    });
    if (NO_BLOCK_SCENARIOS.has(scenario.name)) {
      registerTest(
        `--locks ${scenario.name} live --no-block python=${python.id}`,
        skip,
        async () => {
          await using fixture = await startFixture(python, "locks.py", {
            args: await scenarioArgs(scenario),
            settleMs: scenario.settleMs,
          });
          const result = await runPystack([
            "remote",
            String(fixture.pid),
            "--locks",
            "--json",
            "--no-block",
          ]);
          await checked(result, (doc) => {
            scenario.check(doc, python);
            assert.equal(doc.locks!.snapshots, 1, "--no-block: one snapshot");
          });
        },
      );
    }
    if (!CORE_SCENARIOS.has(scenario.name)) continue;
    const makers: CoreMaker[] = GCORE_SCENARIOS.has(scenario.name)
      ? ["kernel-abrt", "gcore"]
      : ["kernel-abrt"];
    for (const maker of makers) {
      const gcoreSkip = maker === "gcore" && python.gcoreSkip !== undefined
        ? { reason: python.gcoreSkip }
        : undefined;
      registerTest(
        `--locks ${scenario.name} core python=${python.id} maker=${maker}`,
        skip ?? gcoreSkip ?? makerSkip(maker),
        async () => {
          await using target = await startCoreTarget(
            [
              python.path,
              "-S",
              FIXTURES_DIR + "locks.py",
              "{dir}/ready",
              ...await scenarioArgs(scenario),
            ],
            { readyFile: "ready", settleMs: scenario.settleMs },
          );
          const core = await makeCore(target, maker);
          const result = await runPystack(["core", core.path, "--locks", "--json"]);
          await checked(result, (doc) => {
            scenario.check(doc, python);
            assert.equal(doc.locks!.snapshots, 1, "a core is one snapshot");
          });
        },
      );
    }
  }

  registerTest(`--locks io live python=${python.id}`, pythonSkip(python), async () => {
    await using fixture = await startFixture(python, "locks.py", { args: ["io"] });
    const [pipe, listener, client, listenPort, serverPort] = (await Deno.readTextFile(
      `${fixture.readyPath}.fds`,
    )).trim().split(" ").map(Number);
    const result = await runPystack(["remote", String(fixture.pid), "--locks", "--json"]);
    await checked(result, (doc) => {
      // The fixture names each thread's OS name after its role.
      const syscall = (name: string) => doc.threads.find((t) => t.name === name)?.syscall?.text;
      assert.equal(syscall("reader"), `read(fd ${pipe} → pipe)`);
      // Python 3 accepts with accept4(), 2.7 with accept().
      assert.match(
        syscall("acceptor") ?? "",
        new RegExp(`^accept4?\\(fd ${listener} → TCP listening 127\\.0\\.0\\.1:${listenPort}\\)$`),
      );
      assert.match(
        syscall("receiver") ?? "",
        new RegExp(
          `^recvfrom\\(fd ${client} → TCP 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${serverPort} ` +
            "ESTABLISHED\\)$",
        ),
      );
      assert.deepEqual(doc.locks?.deadlocks, []);
    });
  });
}

const BAD_INPUT_PYTHON = (await findPythons()).find((p) => p.id === "3.12-pyenv");

registerTest(
  "--locks core with an overwritten mutex owner: owner unknown, no deadlock claimed",
  (BAD_INPUT_PYTHON === undefined
    ? { reason: "3.12-pyenv is not listed", missing: true }
    : pythonSkip(BAD_INPUT_PYTHON)) ?? kernelCoreSkip(),
  async () => {
    const python = BAD_INPUT_PYTHON!;
    await using target = await startCoreTarget(
      [python.path, "-S", FIXTURES_DIR + "locks.py", "{dir}/ready", "gil_mutex"],
      { readyFile: "ready", settleMs: 600 },
    );
    const core = await makeCore(target, "kernel-abrt");
    const before = parse(await runPystack(["core", core.path, "--locks", "--json"]));
    const mutex = BigInt(
      (mainThread(before).waitingFor as unknown as { address: string }).address,
    );
    // Overwrite `__owner` (mutex + 8) with an id no thread has.
    const load = elfLayout(core.path).loads.find((l) =>
      l.vaddr <= mutex && mutex + 12n <= l.vaddr + BigInt(l.size)
    );
    assert.ok(load !== undefined, "the mutex is dumped in the core");
    {
      using file = await Deno.open(core.path, { read: true, write: true });
      await file.seek(load.offset + Number(mutex + 8n - load.vaddr), Deno.SeekMode.Start);
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setInt32(0, 0x3ffffff0, true);
      await file.write(bytes);
    }
    const result = await runPystack(["core", core.path, "--locks", "--json"]);
    await checked(result, (doc) => {
      const main = mainThread(doc);
      const holder = threadWith(doc, "hold_mutex");
      assert.equal(main.waitingFor?.kind, "pthread_mutex");
      assert.equal(main.waitingFor?.holder, undefined);
      assert.equal(main.waitingFor?.confidence, undefined);
      assert.equal(
        main.waitingFor?.evidence,
        `owner unknown: the mutex names ${0x3ffffff0}, not a thread of this process`,
      );
      // The GIL edge is still recorded; the cycle is not claimed.
      assert.equal(holder.waitingFor?.holder, main.tid);
      assert.deepEqual(doc.locks?.deadlocks, []);
    });
    const text = await runPystack(["core", core.path, "--locks"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\nNo deadlock found\n$/);
  },
);

registerTest(
  "--locks text: the lines under each header and the deadlock (3.12-pyenv)",
  BAD_INPUT_PYTHON === undefined
    ? { reason: "3.12-pyenv is not listed", missing: true }
    : pythonSkip(BAD_INPUT_PYTHON),
  async () => {
    await using fixture = await startFixture(BAD_INPUT_PYTHON!, "locks.py", {
      args: ["rlocks"],
    });
    const result = await runPystack(["remote", String(fixture.pid), "--locks"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = parse(await runPystack(["remote", String(fixture.pid), "--locks", "--json"]));
    const a = threadWith(doc, "take_a").tid;
    const b = threadWith(doc, "take_b").tid;
    const lines = result.stdout.split("\n");
    const under = (tid: number) => {
      const i = lines.findIndex((l) => l.startsWith(`Traceback for thread ${tid} `));
      return lines.slice(i + 1, i + 3).map((l) => l.replace(/0x[0-9a-f]+/g, "ADDR"));
    };
    assert.deepEqual(under(a), [
      `    Waiting for: threading.RLock ADDR (RLOCK_Y), held by thread ${b} (b) [owner recorded in the RLock]`,
      "    Holds: threading.RLock ADDR (RLOCK_X) (count 1)",
    ]);
    assert.equal(
      lines.at(-2)!.replace(/0x[0-9a-f]+/g, "ADDR"),
      `Deadlock: thread ${a} (a) waits for threading.RLock ADDR (RLOCK_Y) held by thread ${b} (b); ` +
        `thread ${b} (b) waits for threading.RLock ADDR (RLOCK_X) held by thread ${a} (a) [recorded]`,
    );
  },
);

/** The file offset of `rdi` in the `NT_PRSTATUS` note of thread `tid` of a core. */
function rdiOffset(core: string, tid: number): number {
  const data = Deno.readFileSync(core);
  const view = new DataView(data.buffer);
  for (const note of elfLayout(core).notes) {
    for (let at = note.offset; at + 12 <= note.offset + note.size;) {
      const namesz = view.getUint32(at, true);
      const descsz = view.getUint32(at + 4, true);
      const type = view.getUint32(at + 8, true);
      const desc = at + 12 + Math.ceil(namesz / 4) * 4;
      // `struct elf_prstatus`: pr_pid at 32, pr_reg (user_regs_struct) at 112, rdi its 15th.
      if (type === 1 && view.getInt32(desc + 32, true) === tid) return desc + 112 + 14 * 8;
      at = desc + Math.ceil(descsz / 4) * 4;
    }
  }
  throw new Error(`no NT_PRSTATUS for thread ${tid} in ${core}`);
}

registerTest(
  "--locks core with a waiter's futex register pointing nowhere: owner unknown, no deadlock",
  (BAD_INPUT_PYTHON === undefined
    ? { reason: "3.12-pyenv is not listed", missing: true }
    : pythonSkip(BAD_INPUT_PYTHON)) ?? kernelCoreSkip(),
  async () => {
    await using target = await startCoreTarget(
      [BAD_INPUT_PYTHON!.path, "-S", FIXTURES_DIR + "locks.py", "{dir}/ready", "with_locks"],
      { readyFile: "ready" },
    );
    const core = await makeCore(target, "kernel-abrt");
    const before = parse(await runPystack(["core", core.path, "--locks", "--json"]));
    const a = threadWith(before, "take_a").tid;
    {
      using file = await Deno.open(core.path, { read: true, write: true });
      await file.seek(rdiOffset(core.path, a), Deno.SeekMode.Start);
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, 0x10n, true);
      await file.write(bytes);
    }
    const result = await runPystack(["core", core.path, "--locks", "--json"]);
    await checked(result, (doc) => {
      const t = threadWith(doc, "take_a");
      assert.deepEqual(t.waitingFor, {
        kind: "futex",
        resource: "futex 0x10",
        address: "0x10",
        evidence: "owner unknown: not a GIL, a pthread mutex or a lock its frames refer to " +
          "(a semaphore or condition variable has no owner)",
      });
      // b's wait is untouched; the cycle through a is not claimed.
      assert.equal(threadWith(doc, "take_b").waitingFor?.holder, a);
      assert.deepEqual(doc.locks?.deadlocks, []);
    });
  },
);

// 3.12+: each interpreter that owns a GIL is told apart (`fixtures/subinterpreters.py`: `busy`
// spins holding its subinterpreter's own GIL; the main interpreter's GIL is free).
for (const python of await findPythons()) {
  const skip = pythonSkip(python) ??
    (python.version[0] < 3 || python.version[1] < 12
      ? { reason: "one GIL per interpreter only from 3.12" }
      : python.freeThreaded
      ? { reason: "a free-threaded build has no GIL" }
      : undefined);
  registerTest(`--locks per-interpreter GIL python=${python.id}`, skip, async () => {
    await using fixture = await startFixture(python, "subinterpreters.py");
    const result = await runPystack(["remote", String(fixture.pid), "--locks", "--json"]);
    await checked(result, (doc) => {
      const busy = threadWith(doc, "sub_spinner");
      const interpreters = (doc as unknown as { interpreters: { id: number }[] }).interpreters;
      const held = busy.holds?.filter((h) => h.kind === "gil") ?? [];
      assert.equal(held.length, 1, JSON.stringify(busy.holds));
      const id = Number(/^the GIL of interpreter (\d+)$/.exec(held[0]!.resource)?.[1]);
      assert.ok(id > 0 && interpreters.some((i) => i.id === id), held[0]!.resource);
      for (const t of doc.threads) {
        if (t !== busy) assert.equal(t.holds, undefined, `thread ${t.tid} holds nothing`);
      }
      assert.deepEqual(doc.locks?.deadlocks, []);
    });
  });
}
