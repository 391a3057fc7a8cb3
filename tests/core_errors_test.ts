/**
 * `pystack core` on files that are not (whole) Python cores: each run must
 * end with the documented exit code and one `pystack: …` line naming the
 * problem (never a JS stack trace). A core cut inside its memory must say
 * that it is truncated: with exit 5 when too little memory is left to find the
 * interpreter (cut at the first memory segment or in the middle), else as a
 * warning above the stacks it still has.
 *
 * The cut cores are copies of one kernel core of `named_threads` under pyenv's
 * 3.11 (killed with SIGSEGV), cut at offsets taken from its own program
 * headers: inside the ELF header, the program headers, the notes, at the
 * first memory segment, in the middle of the memory, inside the main thread's
 * stack, and one byte short. And a kernel core of the same under Debian's
 * static 3.11 (its runtime and thread states lie low, in the executable's data
 * and the heap), cut just before the interpreter's dicts (`sys.modules`, the
 * `sys` and builtins dicts): its threads must still be shown.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkStacks } from "./_check_stacks.ts";
import { FIXTURES } from "./_fixture_specs.ts";
import {
  describeRun,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { checkCoreJson } from "./_check_json.ts";
import { findPythons } from "./_pythons.ts";
import { openCore } from "../src/core/core_file.ts";
import { CoreMemory } from "../src/memory/core_memory.ts";
import { selectRuntime } from "../src/cpython/runtime.ts";
import { readStruct } from "../src/cpython/struct_view.ts";
import {
  checkCoreHeader,
  checkCoreRun,
  checkNoStackTrace,
  cutCopy,
  type ElfLayout,
  elfLayout,
  type FixtureCore,
  fixtureCore,
  kernelCoreSkip,
  type MadeCore,
  makeCore,
  makerSkip,
  parseCoreOutput,
  shared,
  startCoreTarget,
} from "./_cores.ts";

/** Exit codes of the README. */
const EXIT = { ok: 0, usage: 2, notPython: 5, badCore: 8 } as const;

/** Assert a failed run: the exit code, nothing on stdout, one `pystack:` line containing `phrase`. */
function checkError(result: PystackResult, code: number, phrase: string | RegExp): void {
  try {
    checkNoStackTrace(result.stderr);
    assert.equal(result.code, code, "exit code");
    assert.equal(result.stdout, "", "nothing on stdout");
    const message = result.stderr.endsWith("\n") ? result.stderr.slice(0, -1) : result.stderr;
    assert.ok(message.length > 0 && !message.includes("\n"), "stderr is exactly one line");
    assert.ok(message.startsWith("pystack: "), "the line starts with 'pystack: '");
    if (typeof phrase === "string") assert.ok(message.includes(phrase), `stderr has "${phrase}"`);
    else assert.match(message, phrase);
  } catch (error) {
    throw withRun(error, result);
  }
}

/** A temporary directory for one test's files, removed on dispose. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "pystack-core-errors-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

// ---- Not a core -------------------------------------------------------------------------------

registerTest("core error=no-such-file", undefined, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/does-not-exist`;
  const result = await runPystack(["core", path]);
  checkError(result, EXIT.usage, `Cannot open core ${path}: No such file or directory`);
});

registerTest("core error=directory", undefined, async () => {
  await using dir = await tempDir();
  checkError(await runPystack(["core", dir.path]), EXIT.badCore, "it is a directory");
});

registerTest("core error=empty-file", undefined, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/core`;
  await Deno.writeFile(path, new Uint8Array(0));
  checkError(await runPystack(["core", path]), EXIT.badCore, "the file is empty");
});

registerTest("core error=text-file", undefined, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/core.txt`;
  await Deno.writeTextFile(path, "this is not a core\n".repeat(100));
  checkError(await runPystack(["core", path]), EXIT.badCore, "not an ELF file");
});

registerTest("core error=elf-executable file=/bin/sh", undefined, async () => {
  checkError(await runPystack(["core", "/bin/sh"]), EXIT.badCore, "not a core dump");
});

// ---- Cores of a program that is not Python ----------------------------------------------------

const SLEEP = Deno.realPathSync("/usr/bin/sleep");

for (const maker of ["gcore", "kernel-segv"] as const) {
  registerTest(`core error=not-python target=sleep maker=${maker}`, makerSkip(maker), async () => {
    await using target = await startCoreTarget([SLEEP, "100"]);
    const core = await makeCore(target, maker);
    const result = await runPystack(["core", core.path]);
    checkError(
      result,
      EXIT.notPython,
      `not a Python process (no CPython version found in ${SLEEP})`,
    );
    try {
      // The hint of `pystack remote` ("pass the PID of a CPython interpreter") means nothing here.
      assert.doesNotMatch(result.stderr, /\bPID\b/, "the hint is about cores, not PIDs");
    } catch (error) {
      throw withRun(error, result);
    }
  });
}

// ---- A Python core, cut short, and bad EXECUTABLE arguments ------------------------------------

const python = (await findPythons()).find((candidate) => candidate.id === "3.11-pyenv")!;
const fixture = FIXTURES.find((spec) => spec.key === "named_threads")!;
const pythonSkip: Skip | undefined = remoteSkip(python, fixture) ?? kernelCoreSkip();

/**
 * Where to cut the core, from its layout, and what pystack must do: exit 8
 * naming the cut notes, exit 5 (too little memory left to find the
 * interpreter, and the error says the core is truncated, with its sizes), or
 * show the stacks with a warning (exit 0).
 */
interface Cut {
  name: string;
  at(layout: ElfLayout): number;
  expect: "bad-notes" | "no-interpreter" | "stacks";
}

/** The notes part of the exit-8 message, per cut. */
const NOTES_PROBLEM: Record<string, RegExp> = {
  "inside-elf-header": /: the core is truncated: it ends inside the ELF header; /,
  "inside-program-headers": /: its program headers cannot be read: .* past the end of the /,
  "inside-notes": /: the core is truncated: its notes end at byte \d+ but the file has \d+ bytes; /,
};

const PAGE = 4096;

/** The segment of the main thread's stack: the highest dumped one below the kernel's half. */
function stackLoad(layout: ElfLayout): ElfLayout["loads"][number] {
  const user = layout.loads.filter((load) => load.vaddr < 0x8000_0000_0000n);
  return user.reduce((a, b) => (b.vaddr > a.vaddr ? b : a));
}

const CUTS: Cut[] = [
  { name: "inside-elf-header", at: () => 40, expect: "bad-notes" },
  {
    name: "inside-program-headers",
    at: (l) => l.phoff + Math.floor(l.phnum / 2) * l.phentsize + 3,
    expect: "bad-notes",
  },
  {
    name: "inside-notes",
    at: (l) => l.notes[0]!.offset + Math.floor(l.notes[0]!.size / 2),
    expect: "bad-notes",
  },
  { name: "at-first-memory-segment", at: (l) => l.loads[0]!.offset, expect: "no-interpreter" },
  {
    name: "middle-of-memory",
    at: (l) => Math.floor(l.size / 2 / PAGE) * PAGE,
    expect: "no-interpreter",
  },
  { name: "inside-main-stack", at: (l) => stackLoad(l).offset + PAGE, expect: "stacks" },
  { name: "last-byte-missing", at: (l) => l.size - 1, expect: "stacks" },
];

const BAD_EXECUTABLES = ["missing", "text-file"] as const;

/** The kernel core every test below cuts or uses (about 30 MB, sparse). */
const pythonCore = shared(
  CUTS.length + BAD_EXECUTABLES.length,
  async () => {
    const core = await fixtureCore(python, fixture.file, "kernel-segv");
    return Object.assign(core, { layout: elfLayout(core.path) });
  },
  (core) => [core.target.dir],
);

/** The warning `pystack core` prints for a truncated core. */
const TRUNCATED_WARNING = /^pystack: warning: core .* is truncated \((\d+) of (\d+) bytes\)/m;

for (const cut of CUTS) {
  registerTest(`core error=truncated cut=${cut.name}`, pythonSkip, async () => {
    try {
      const core = await pythonCore.get();
      await using dir = await tempDir();
      const at = cut.at(core.layout);
      assert.ok(at > 0 && at < core.layout.size, `cut ${at} inside the ${core.layout.size} bytes`);
      const path = `${dir.path}/core.cut`;
      await cutCopy(core.path, path, at);
      const result = await runPystack(["core", path]);
      const size = core.layout.size;
      if (cut.expect === "bad-notes") {
        checkError(result, EXIT.badCore, `Cannot read the notes of core ${path}`);
        assert.match(result.stderr, NOTES_PROBLEM[cut.name]!, describeRun(result));
        assert.match(result.stderr, /; the core is probably truncated \(disk full, 'ulimit -c' /);
      } else if (cut.expect === "no-interpreter") {
        checkError(
          result,
          EXIT.notPython,
          `Cannot inspect core ${path}: no Python interpreter state found in Python 3.11.`,
        );
        assert.ok(
          result.stderr.includes(`; the core is truncated (${at} of ${size} bytes); make a `),
          `the error says the core is truncated, with its sizes: ${describeRun(result)}`,
        );
      } else {
        checkTruncatedRun(result, core, { at, size, cut: cut.name });
        await checkCoreJson(["core", path], result, { truncated: true });
      }
    } finally {
      await pythonCore.release();
    }
  });
}

/**
 * A core whose notes are whole but whose memory is cut: stderr must say the
 * core is truncated (as a warning when stacks follow, or in the error), and
 * what is printed must be right.
 */
function checkTruncatedRun(
  result: PystackResult,
  core: FixtureCore,
  cut: { at: number; size: number; cut: string },
): void {
  assert.equal(result.code, EXIT.ok, describeRun(result));
  const executable = Deno.realPathSync(python.path);
  try {
    checkNoStackTrace(result.stderr);
    const warning = TRUNCATED_WARNING.exec(result.stderr);
    assert.ok(warning, "a warning on stderr says the core is truncated");
    assert.deepEqual([Number(warning[1]), Number(warning[2])], [cut.at, cut.size], "sizes");
  } catch (error) {
    throw withRun(error, result);
  }
  if (cut.cut === "last-byte-missing") {
    // The last segment (vsyscall) is not needed: everything must be shown.
    checkCoreRun(result, core, fixture, python.version, { executable, stderr: () => {} });
    return;
  }
  try {
    const { header, traceback } = parseCoreOutput(result.stdout);
    checkCoreHeader(header, core, { executable });
    // The main thread may be cut off; every other thread must be whole.
    const main = traceback.find((thread) => thread.tid === core.pid);
    assert.ok(main, "the main thread is listed");
    const complete = !main.empty && main.extra.length === 0;
    if (!complete) {
      assert.ok(
        main.extra.some((line) => line.trimStart().startsWith("(!)")),
        "an incomplete main thread is marked with (!)",
      );
    }
    const kept = Object.assign(traceback.filter((thread) => complete || thread !== main), {
      preamble: traceback.preamble,
    });
    for (const thread of kept) {
      const name = core.live.osThreads.get(thread.tid)?.name;
      if (thread.name === undefined && name !== undefined) thread.name = name;
    }
    checkStacks(kept, {
      pid: core.pid,
      scriptPath: core.scriptPath,
      threads: fixture.threads(python.version).filter((spec) => complete || spec.stack !== "main"),
      frames: core.frames,
      osThreads: new Map([...core.live.osThreads].filter(([tid]) => complete || tid !== core.pid)),
    });
  } catch (error) {
    throw withRun(error, result);
  }
}

const debian = (await findPythons()).find((candidate) => candidate.id === "3.11-debian")!;

/** The interpreter (`-vv` names it) and its `modules` dict, in a whole core of `debian`. */
async function interpreterAndModules(corePath: string): Promise<[bigint, bigint]> {
  const verbose = await runPystack(["-vv", "core", corePath]);
  const found = /main interpreter at (0x[0-9a-f]+)/.exec(verbose.stderr);
  assert.ok(found, describeRun(verbose));
  using core = await openCore(corePath);
  using memory = new CoreMemory(core);
  const [major, minor] = debian.version;
  const rt = selectRuntime({ major, minor, micro: 0, releaseLevel: "final", serial: 0 });
  const interp = BigInt(found[1]!);
  return [interp, readStruct(memory, interp, rt.layout.structs.interp!).ptr("modules")];
}

registerTest(
  "core error=truncated cut=before-interpreter-dicts",
  remoteSkip(debian, fixture) ?? kernelCoreSkip(),
  async () => {
    await using core = await fixtureCore(debian, fixture.file, "kernel-segv");
    const layout = elfLayout(core.path);
    const [interp, modules] = await interpreterAndModules(core.path);
    const loadOf = (address: bigint) =>
      layout.loads.find((l) => l.vaddr <= address && address < l.vaddr + BigInt(l.size));
    const cut = loadOf(modules);
    assert.ok(cut !== undefined, `a dumped segment holds sys.modules at 0x${modules.toString(16)}`);
    assert.ok(loadOf(interp)!.offset < cut.offset, "the interpreter state is before the cut");
    await using dir = await tempDir();
    const path = `${dir.path}/core.cut`;
    await cutCopy(core.path, path, cut.offset);
    // Before: "no Python interpreter state found" (exit 5), the threads being there.
    const result = await runPystack(["core", path]);
    try {
      assert.equal(result.code, EXIT.ok, "exit code");
      checkNoStackTrace(result.stderr);
      assert.match(result.stderr, TRUNCATED_WARNING);
      const { traceback } = parseCoreOutput(result.stdout);
      assert.deepEqual(
        traceback.map((t) => t.tid).sort((a, b) => a - b),
        [...core.live.osThreads.keys()].sort((a, b) => a - b),
        "every thread of the process",
      );
      // A frame whose code object was cut off shows as ???, and its thread says so.
      for (const thread of traceback) {
        if (!thread.frames.some((f) => f.func === "???")) continue;
        assert.ok(
          thread.extra.some((line) =>
            /\(!\) .*code objects are unreadable \(shown as \?\?\?\)/.test(line)
          ),
          `thread ${thread.tid} is marked`,
        );
      }
    } catch (error) {
      throw withRun(error, result);
    }
  },
);

for (const kind of BAD_EXECUTABLES) {
  registerTest(`core error=bad-executable executable=${kind}`, pythonSkip, async () => {
    try {
      const core: MadeCore = await pythonCore.get();
      await using dir = await tempDir();
      const executable = `${dir.path}/python3.11`;
      if (kind === "text-file") await Deno.writeTextFile(executable, "#!/bin/sh\n");
      checkError(
        await runPystack(["core", core.path, executable]),
        EXIT.usage,
        `Cannot use executable ${executable}`,
      );
    } finally {
      await pythonCore.release();
    }
  });
}
