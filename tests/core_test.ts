/**
 * `pystack core` on real cores of the live tests' fixtures: the same frames,
 * lines, GIL and GC tags and TIDs as `pystack remote` shows, and the header
 * (executable, pid, ppid, sid, uid, gid, pgrp, zombie, executable name,
 * arguments, how the process ended) as the live process and the maker give it.
 * Also: gzip-, zstd- and lz4-compressed cores read like the plain one, and a script run by a
 * relative path (2.7, 3.8) shows no source line read from pystack's working directory.
 *
 * The matrix, per interpreter of `_pythons.ts` (skipped where the remote tests
 * skip it):
 * - every fixture of the live tests as the kernel dumps it, killed by this
 *   test process with SIGABRT (`single_thread`, `named_threads`,
 *   `deep_recursion`, `exec_code`) or with SIGSEGV (`gil_holder`,
 *   `gc_collecting`, `non_ascii`, `demo`), so each signal meets threads and
 *   the GIL, and SIGSEGV the GC tag;
 * - `gcore` of `named_threads` (threads, nested frames), `gil_holder` (the GIL
 *   on a worker) and `gc_collecting` (GIL and GC on the main thread).
 * Why not every fixture × every maker: the walker is the same for every core;
 * what differs between makers is the notes (checked on every interpreter by
 * the header assertions) and which memory is dumped, which the three gcore
 * fixtures cover. And gcore is the expensive maker: it writes every page
 * (about 230 MB for a 4-thread python, where the kernel's core is sparse), so
 * a gcore test takes about 0.4 s here and a kernel one about 0.2 s: 11 tests
 * per interpreter, about 3 s each, about 45 s for the 14 interpreters (2-3
 * times that on a loaded 2-core CI), inside the 3 minutes this file may add.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { FIXTURES, type FixtureSpec, forBuild } from "./_fixture_specs.ts";
import { type PystackResult, registerTest, runPystack, type Skip } from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { checkCoreJson } from "./_check_json.ts";
import { assertValidReport } from "./_json_schema.ts";
import {
  checkCoreRun,
  type CoreMaker,
  type FixtureCore,
  fixtureCore,
  makeCore,
  makerSkip,
  onPath,
  parseCoreOutput,
  shared,
  startCoreTarget,
} from "./_cores.ts";

/** The kernel signal each fixture is killed with. */
const KERNEL_MAKER: Record<string, CoreMaker> = {
  single_thread: "kernel-abrt",
  named_threads: "kernel-abrt",
  deep_recursion: "kernel-abrt",
  exec_code: "kernel-abrt",
  gil_holder: "kernel-segv",
  gc_collecting: "kernel-segv",
  non_ascii: "kernel-segv",
  demo: "kernel-segv",
};

/** The fixtures also dumped with gcore. */
const GCORE_FIXTURES = new Set(["named_threads", "gil_holder", "gc_collecting"]);

const MATRIX: [fixture: string, maker: CoreMaker][] = FIXTURES.flatMap((fixture) => {
  const kernel = KERNEL_MAKER[fixture.key];
  if (!kernel) throw new Error(`pick a kernel signal for fixture ${fixture.key}`);
  const cases: [string, CoreMaker][] = [[fixture.key, kernel]];
  if (GCORE_FIXTURES.has(fixture.key)) cases.unshift([fixture.key, "gcore"]);
  return cases;
});

const pythons = await findPythons();

function fixtureSpec(key: string): FixtureSpec {
  const spec = FIXTURES.find((fixture) => fixture.key === key);
  if (!spec) throw new Error(`no fixture ${key} in _fixture_specs.ts`);
  return spec;
}

/** Why `python` cannot make a `maker` core of `fixture`, if it cannot. */
function coreSkip(python: Python, fixture: FixtureSpec, maker: CoreMaker): Skip | undefined {
  return remoteSkip(python, fixture) ?? makerSkip(maker);
}

/** The marker of a thread whose oldest frames lie in stack memory the core holds as zeros. */
const EMPTY_FRAME =
  /^ {4}\(!\) Stack may be incomplete: frame at 0x[0-9a-f]+ is empty \(its memory may be missing\)$/;

/**
 * A gcore core of an interpreter whose threads' stacks gcore writes as zeros
 * (`Python.gcoreSkip`): the main thread is whole; every other thread shows the
 * fixture's frames and those after them, may lose some of the frames before
 * them (entered from C on its own stack), and is marked.
 */
function checkZeroedStacks(
  result: PystackResult,
  core: FixtureCore,
  fixture: FixtureSpec,
  python: Python,
): void {
  try {
    assert.equal(result.code, 0, "exit code");
    const { header, traceback } = parseCoreOutput(result.stdout);
    // The rest of the header is checked on this interpreter's kernel cores (gdb 13 writes the
    // loader's 16-byte name where the kernel cuts it to 15).
    assert.equal(header.executable, executableOf(python), "the executable");
    const specs = fixture.threads(python.version);
    assert.deepEqual(
      traceback.map((t) => t.tid).sort(),
      [...core.live.osThreads.keys()].sort(),
      "threads",
    );
    for (const thread of traceback) {
      const stack = thread.tid === core.pid ? "main" : core.live.osThreads.get(thread.tid)!.name;
      const spec = specs.find((candidate) => candidate.stack === stack)!;
      const own = core.frames.get(stack) ?? [];
      const wanted = [...spec.before, ...own.map((f) => f.func), ...spec.after];
      const got = thread.frames.map((f) => f.func);
      const where = `thread ${thread.tid} (${stack}): ${got.join(" > ")}`;
      if (stack === "main") {
        assert.deepEqual(thread.extra, [], `${where}: the main thread's stack is whole`);
        assert.deepEqual(
          got.slice(-own.length - spec.after.length),
          wanted.slice(spec.before.length),
          where,
        );
        continue;
      }
      assert.equal(thread.extra.length, 1, `${where}: one marker`);
      assert.match(thread.extra[0]!, EMPTY_FRAME, `${where}: the marker says a frame is empty`);
      const lost = wanted.length - got.length;
      // 3.13 and later keep the frames, but their entry frame on the C stack reads as empty.
      assert.ok(
        lost >= 0 && lost <= spec.before.length,
        `${where}: only frames before the fixture's are lost`,
      );
      assert.deepEqual(got, wanted.slice(lost), where);
      const lines = thread.frames.filter((f) => f.file === core.scriptPath).map((f) => f.line);
      own.forEach((frame, i) =>
        assert.ok(frame.lines.includes(lines[i]!), `${where}: line of ${frame.func}`)
      );
    }
  } catch (error) {
    throw withRun(error, result);
  }
}

/** The executable `pystack core` must report: the interpreter binary, resolved. */
function executableOf(python: Python): string {
  return Deno.realPathSync(python.interpreter ?? python.path);
}

for (const python of pythons) {
  for (const [key, maker] of MATRIX) {
    const fixture = forBuild(fixtureSpec(key), python);
    const relaxed = fixture.relaxed?.(python.version) ?? [];
    const name = `core python=${python.id} fixture=${key} maker=${maker}` +
      (relaxed.length ? ` (relaxed: ${relaxed.join("; ")})` : "");
    const zeroed = maker === "gcore" ? python.gcoreSkip : undefined;
    registerTest(
      name + (zeroed ? ` (note: ${zeroed}: frames there are lost, and marked)` : ""),
      coreSkip(python, fixture, maker),
      async () => {
        for (const note of relaxed) console.log(`not asserted: ${note}`);
        if (zeroed) console.log(`thread stacks lost, asserted marked: ${zeroed}`);
        await using core = await fixtureCore(python, fixture.file, maker);
        const result = await runPystack(["core", core.path]);
        const executable = executableOf(python);
        if (zeroed) checkZeroedStacks(result, core, fixture, python);
        else checkCoreRun(result, core, fixture, python.version, { executable });
        await checkCoreJson(["core", core.path], result);
      },
    );
  }
}

// ---- Compressed cores -------------------------------------------------------------------------

// lz4-linked: blocks that refer back to earlier ones, as systemd-coredump wrote them (lz4 -BD).
const COMPRESSIONS = ["gzip", "zstd", "lz4", "lz4-linked"] as const;
type Compression = typeof COMPRESSIONS[number];

const compressedPython = pythons.find((python) => python.id === "3.11-pyenv")!;
const compressedFixture = fixtureSpec("named_threads");
const compressedMaker: CoreMaker = "kernel-abrt";

/** One kernel core (about 20 MB, sparse) and its plain run, shared by the compressed tests. */
const plainCore = shared(
  COMPRESSIONS.length,
  async () => {
    const core = await fixtureCore(compressedPython, compressedFixture.file, compressedMaker);
    try {
      const plain = await runPystack(["core", core.path]);
      checkCoreRun(plain, core, compressedFixture, compressedPython.version, {
        executable: executableOf(compressedPython),
      });
      return Object.assign(core, { plain });
    } catch (error) {
      await core[Symbol.asyncDispose]();
      throw error;
    }
  },
  (core) => [core.target.dir],
);

/** Write `core.path` compressed with `compression` next to it; returns the new path. */
async function compress(core: FixtureCore, compression: Compression): Promise<string> {
  if (compression === "gzip") {
    await run(["gzip", "-k", "-1", core.path]);
    return `${core.path}.gz`;
  }
  if (compression === "lz4" || compression === "lz4-linked") {
    const out = `${core.path}.${compression}`;
    await run(["lz4", "-q", "-1", ...(compression === "lz4" ? [] : ["-BD"]), core.path, out]);
    return out;
  }
  const out = `${core.path}.zst`;
  if (onPath("zstd")) {
    await run(["zstd", "-q", "-1", "-k", core.path, "-o", out]);
  } else {
    // No zstd binary: the same frame format from node:zlib (the core is small enough for memory).
    const zstd = (zlib as unknown as { zstdCompressSync(data: Uint8Array): Uint8Array })
      .zstdCompressSync;
    await Deno.writeFile(out, zstd(await Deno.readFile(core.path)));
  }
  return out;
}

async function run(argv: [string, ...string[]]): Promise<void> {
  const output = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

for (const compression of COMPRESSIONS) {
  const name = `core python=${compressedPython.id} fixture=${compressedFixture.key} ` +
    `maker=${compressedMaker} compression=${compression}`;
  const skip = coreSkip(compressedPython, compressedFixture, compressedMaker) ??
    (compression === "gzip" && !onPath("gzip")
      ? { reason: "gzip is not installed", missing: true }
      : compression.startsWith("lz4") && !onPath("lz4")
      ? { reason: "lz4 is not installed (Debian's lz4 package)", missing: true }
      : undefined);
  registerTest(name, skip, async () => {
    try {
      const core = await plainCore.get();
      const path = await compress(core, compression);
      let result: PystackResult | undefined;
      try {
        result = await runPystack(["core", path]);
        checkCoreRun(result, core, compressedFixture, compressedPython.version, {
          executable: executableOf(compressedPython),
        });
        try {
          assert.equal(result.stdout, core.plain.stdout, "the same output as the plain core");
        } catch (error) {
          throw withRun(error, result);
        }
        await checkCoreJson(["core", path], result, {
          compression: compression === "lz4-linked" ? "lz4" : compression,
        });
      } finally {
        await Deno.remove(path).catch(() => {});
      }
    } finally {
      await plainCore.release();
    }
  });
}

// ---- A file the core maps, gone ---------------------------------------------------------------

const missingPython = pythons.find((python) => python.id === "3.12-pyenv")!;
/** Copies `_bisect` into the core's directory, imports it from there, then sleeps. */
const WITH_EXTENSION = `
import importlib.machinery, importlib.util, shutil, sys, time
src = [p for p in sys.path if p.endswith("lib-dynload")][0] + "/_bisect.cpython-312-x86_64-linux-gnu.so"
copy = sys.argv[1] + "/_bisect.cpython-312-x86_64-linux-gnu.so"
shutil.copy(src, copy)
spec = importlib.util.spec_from_file_location("_bisect", copy)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
open(sys.argv[1] + "/ready", "w").close()
while True:
    time.sleep(1000)
`;

registerTest(
  `core python=${missingPython.id} missing-file=extension: stacks, a warning, JSON missingFiles`,
  remoteSkip(missingPython) ?? makerSkip("kernel-abrt"),
  async () => {
    const scriptDir = await Deno.makeTempDir({ prefix: "pystack-missing-" });
    const script = `${scriptDir}/with_extension.py`;
    await Deno.writeTextFile(script, WITH_EXTENSION);
    await using target = await startCoreTarget([missingPython.path, "-S", script, "{dir}"], {
      readyFile: "ready",
    });
    await Deno.remove(scriptDir, { recursive: true });
    const made = await makeCore(target, "kernel-abrt");
    const extension = `${target.dir}/_bisect.cpython-312-x86_64-linux-gnu.so`;
    await Deno.remove(extension);
    const result = await runPystack(["core", made.path]);
    try {
      assert.equal(result.code, 0, "exit code: the extension is not needed for the stacks");
      assert.ok(result.stderr.includes(extension), "stderr names the missing file");
      const { traceback } = parseCoreOutput(result.stdout);
      assert.deepEqual(traceback.map((t) => t.tid), [made.pid], "the one thread");
      assert.deepEqual(traceback[0]!.frames.map((f) => [f.func, f.line]), [[
        "<module>",
        WITH_EXTENSION.split("\n").findIndex((line) => line.includes("time.sleep")) + 1,
      ]]);
    } catch (error) {
      throw withRun(error, result);
    }
    await checkCoreJson(["core", made.path], result, { missingFiles: [extension] });
  },
);

// ---- A script run by a relative path ------------------------------------------------------------

/** Signals ready, then sleeps on line 4 (Python 2.7 and 3). */
const RELATIVE_SCRIPT = `import sys, time
open(sys.argv[1], "w").close()
while True:
    time.sleep(1000)
`;

for (const id of ["2.7-pyenv", "3.8-pyenv"]) {
  const python = pythons.find((p) => p.id === id)!;
  registerTest(
    `core python=${python.id} relative-script: no source line from pystack's working directory`,
    remoteSkip(python) ?? makerSkip("kernel-abrt"),
    async () => {
      // 2.7 and 3.6 to 3.8 record the path as given (co_filename "rel.py"); the core does
      // not say what it was relative to. pystack runs where a different rel.py sits.
      const scriptDir = await Deno.makeTempDir({ prefix: "pystack-rel-" });
      const decoyDir = await Deno.makeTempDir({ prefix: "pystack-decoy-" });
      try {
        await Deno.writeTextFile(`${scriptDir}/rel.py`, RELATIVE_SCRIPT);
        await Deno.writeTextFile(
          `${decoyDir}/rel.py`,
          ["decoy_1()", "decoy_2()", "decoy_3()", "decoy_4()", "decoy_5()", ""].join("\n"),
        );
        await using target = await startCoreTarget([
          "bash",
          "-c",
          'cp "$0" rel.py && exec "$1" -S rel.py ready',
          `${scriptDir}/rel.py`,
          python.path,
        ], { readyFile: "ready" });
        const made = await makeCore(target, "kernel-abrt");
        const result = await runPystack(["core", made.path], { cwd: decoyDir });
        try {
          assert.equal(result.code, 0, "exit code");
          const { traceback } = parseCoreOutput(result.stdout);
          assert.deepEqual(traceback.map((t) => t.tid), [made.pid], "the one thread");
          assert.deepEqual(traceback[0]!.frames, [
            { file: "rel.py", line: 4, func: "<module>" },
          ]);
          assert.ok(!result.stdout.includes("decoy"), "no line of the decoy file");
        } catch (error) {
          throw withRun(error, result);
        }
      } finally {
        await Deno.remove(scriptDir, { recursive: true });
        await Deno.remove(decoyDir, { recursive: true });
      }
    },
  );
}

// ---- sys.last_exc of a process that ran on -------------------------------------------------------

const replPython = pythons.find((p) => p.id === "3.12-pyenv")!;
/** A REPL-like host reports an error (sys.last_exc set), then runs on. */
const REPL_HOST = `import code, sys, time
code.InteractiveInterpreter().runsource("1/0")
open(sys.argv[1], "w").close()
while True:
    time.sleep(1000)
`;

registerTest(
  `core python=${replPython.id} last-exc of a process that did not crash: said as reported`,
  remoteSkip(replPython) ?? makerSkip("kernel-abrt"),
  async () => {
    const scriptDir = await Deno.makeTempDir({ prefix: "pystack-repl-" });
    try {
      const script = `${scriptDir}/repl_host.py`;
      await Deno.writeTextFile(script, REPL_HOST);
      await using target = await startCoreTarget(
        [replPython.path, "-S", script, "{dir}/ready"],
        { readyFile: "ready" },
      );
      // SIGABRT from this process: a kill, not a crash.
      const made = await makeCore(target, "kernel-abrt");
      const result = await runPystack(["core", made.path]);
      try {
        assert.equal(result.code, 0, "exit code");
        const lines = result.stdout.split("\n");
        assert.deepEqual(lines.slice(8, 12), [
          `The process died due to receiving signal SIGABRT sent by pid ${Deno.pid}`,
          "",
          "Last exception reported to sys.excepthook (sys.last_exc): ZeroDivisionError: " +
          "division by zero (at <input>:1)",
          "",
        ]);
      } catch (error) {
        throw withRun(error, result);
      }
      const json = await runPystack(["core", made.path, "--json"]);
      try {
        const doc = JSON.parse(json.stdout);
        assertValidReport(doc);
        const e = doc.target.core.lastException;
        assert.deepEqual([e.state, e.type, e.message], [
          "reported",
          "ZeroDivisionError",
          "division by zero",
        ]);
        assert.equal(doc.target.core.crash, undefined);
      } catch (error) {
        throw withRun(error, json);
      }
    } finally {
      await Deno.remove(scriptDir, { recursive: true });
    }
  },
);
