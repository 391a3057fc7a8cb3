/**
 * `pystack core` on a core whose libpython (and executable) moved after the
 * dump: it names the missing files and the options that help, finds them
 * again with `--lib-search-path` and `--lib-search-root`, takes the
 * executable from the command line, and warns when the library it finds has
 * another build id than the one the core recorded.
 *
 * Setup, shared by every test of this file: pyenv's CPython 3.11 (a
 * `--enable-shared` build) is copied to `PREFIX/bin/python3.11` and
 * `PREFIX/lib/libpython3.11.so.1.0`, `named_threads` runs from there
 * (`LD_LIBRARY_PATH=PREFIX/lib`, which wins over the binary's RUNPATH;
 * `PYTHONHOME` = pyenv's prefix for the standard library), is gcored, and
 * `PREFIX/lib` is renamed `PREFIX/lib.moved`. Tests that also move
 * `PREFIX/bin` put it back in a `finally` (tests of one file run one by one).
 *
 * @module
 */
import assert from "node:assert/strict";
import { FIXTURES } from "./_fixture_specs.ts";
import { type PystackResult, registerTest, runPystack, type Skip } from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons } from "./_pythons.ts";
import { isNative, parseNativeTraceback } from "./_native_traceback.ts";
import {
  checkCoreRun,
  checkNoStackTrace,
  copyWithOtherBuildId,
  fixtureCore,
  gcoreSkip,
  shared,
} from "./_cores.ts";
import { pathExists } from "../src/fs_checks.ts";

const pythons = await findPythons();
const python = pythons.find((candidate) => candidate.id === "3.11-pyenv")!;
const otherPython = pythons.find((candidate) => candidate.id === "3.12-pyenv")!;
const fixture = FIXTURES.find((spec) => spec.key === "named_threads")!;

const LIB = "libpython3.11.so.1.0";
/** pyenv's prefix of `python` (`…/versions/3.11.7`). */
const pyenvPrefix = python.path.replace(/\/bin\/[^/]+$/, "");

const skip: Skip | undefined = remoteSkip(python, fixture) ?? gcoreSkip() ??
  (pathExists(`${pyenvPrefix}/lib/${LIB}`) ? undefined : {
    reason: `${pyenvPrefix}/lib/${LIB} not found (not an --enable-shared build)`,
    missing: true,
  });

interface Relocated {
  /** Where the copy ran from: `PREFIX/bin/python3.11`, `PREFIX/lib/LIB` (moved away). */
  prefix: string;
  /** `PREFIX/lib.moved`, where the library is now. */
  movedLib: string;
  /** The path the core recorded for the library (no longer exists). */
  recordedLib: string;
  /** `PREFIX/bin/python3.11`: still there (except inside the tests that move it). */
  executable: string;
}

/** The tests registered below that will run (each releases the shared core once). */
let users = 0;

const relocated = shared(
  () => users,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pystack-relocated-" });
    try {
      const prefix = `${dir}/prefix`;
      await Deno.mkdir(`${prefix}/bin`, { recursive: true });
      await Deno.mkdir(`${prefix}/lib`);
      const executable = `${prefix}/bin/python3.11`;
      const recordedLib = `${prefix}/lib/${LIB}`;
      await Deno.copyFile(python.path, executable);
      await Deno.copyFile(`${pyenvPrefix}/lib/${LIB}`, recordedLib);
      const core = await fixtureCore(python, fixture.file, "gcore", {
        executable,
        env: { LD_LIBRARY_PATH: `${prefix}/lib`, PYTHONHOME: pyenvPrefix },
        beforeCore(pid) {
          const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
          assert.ok(maps.includes(recordedLib), `the fixture maps the copy ${recordedLib}`);
        },
      });
      const movedLib = `${prefix}/lib.moved`;
      await Deno.rename(`${prefix}/lib`, movedLib);
      const value: Relocated = { prefix, movedLib, recordedLib, executable };
      const stopFixture = core.target.stop;
      return Object.assign(core, value, {
        async [Symbol.asyncDispose]() {
          await stopFixture();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        },
        dir,
      });
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  },
  (core) => [core.dir, core.target.dir],
);

/** Register one test that uses the relocated core (and counts towards releasing it). */
function relocationTest(
  name: string,
  fn: (core: Awaited<ReturnType<typeof relocated.get>>) => Promise<void>,
  extraSkip?: Skip,
): void {
  const why = skip ?? extraSkip;
  if (!why) users++;
  registerTest(`core relocated python=${python.id} ${name}`, why, async () => {
    try {
      await fn(await relocated.get());
    } finally {
      await relocated.release();
    }
  });
}

/** Run `fn` while `PREFIX/bin` is renamed `PREFIX/bin.moved`. */
async function withoutExecutable<T>(prefix: string, fn: (movedBin: string) => Promise<T>) {
  const movedBin = `${prefix}/bin.moved`;
  await Deno.rename(`${prefix}/bin`, movedBin);
  try {
    return await fn(movedBin);
  } finally {
    await Deno.rename(movedBin, `${prefix}/bin`);
  }
}

/** Assert, with the run in the message, that `check` holds. */
function checking(result: PystackResult, check: () => void): void {
  try {
    checkNoStackTrace(result.stderr);
    check();
  } catch (error) {
    throw withRun(error, result);
  }
}

relocationTest("options=none", async (core) => {
  const result = await runPystack(["core", core.path]);
  checking(result, () => {
    // Stacks need libpython's symbols: exit 5, one line naming the file that is missing and
    // the options that find it.
    assert.equal(result.code, 5, "exit code: no interpreter state found");
    assert.equal(result.stdout, "", "an error prints nothing on stdout");
    assert.equal(
      result.stderr,
      `pystack: Cannot inspect core ${core.path}: no Python interpreter state found in ` +
        "Python 3.11 (tried debug offsets, ELF section, symbols, scanning writable data); " +
        `files not found: ${core.recordedLib}; pass --lib-search-path or --lib-search-root ` +
        "(and the python executable as the second argument) so that the files the core was " +
        "made with are found\n",
    );
  });
});

relocationTest("options=--lib-search-path", async (core) => {
  const result = await runPystack(["core", core.path, "--lib-search-path", core.movedLib]);
  checkCoreRun(result, core, fixture, python.version, { executable: core.executable });
});

relocationTest("options=--lib-search-path(elsewhere:right)", async (core) => {
  const result = await runPystack([
    "core",
    core.path,
    "--lib-search-path",
    `${core.prefix}/nowhere:${core.movedLib}`,
  ]);
  checkCoreRun(result, core, fixture, python.version, { executable: core.executable });
});

relocationTest("options=--lib-search-root", async (core) => {
  const result = await runPystack(["core", core.path, "--lib-search-root", core.prefix]);
  checkCoreRun(result, core, fixture, python.version, { executable: core.executable });
});

for (
  const [option, where] of [["--lib-search-path", "movedLib"], [
    "--lib-search-root",
    "prefix",
  ]] as const
) {
  relocationTest(`native options=${option}`, async (core) => {
    const result = await runPystack(["core", core.path, "--native", option, core[where]]);
    checking(result, () => {
      assert.equal(result.code, 0, "exit code");
      assert.equal(result.stderr, "", "nothing on stderr");
      assert.doesNotMatch(
        result.stdout,
        /Unable to merge/,
        "every stack merged: the evaluation loop was named from the moved libpython",
      );
      const threads = parseNativeTraceback(result.stdout.slice(result.stdout.indexOf("Traceback")));
      assert.equal(threads.length, 4, "the main thread and worker-1..3");
      const native = threads.flatMap((t) => t.stack.filter(isNative));
      const fromLib = native.filter((f) => f.library === LIB);
      assert.ok(
        !native.some((f) => f.func.startsWith("???") && f.library.startsWith(LIB)),
        "no unnamed address in libpython",
      );
      // Source files and lines come from the DWARF of the file itself, which the core lacks.
      const where = (func: string, file: RegExp) =>
        fromLib.filter((f) => f.func === func && file.test(f.file) && f.line > 0);
      assert.equal(
        where("lock_PyThread_acquire_lock", /Modules\/_threadmodule\.c$/).length,
        4,
        "every thread waits in lock_PyThread_acquire_lock (Modules/_threadmodule.c)",
      );
      assert.equal(where("Py_BytesMain", /Modules\/main\.c$/).length, 1, "Py_BytesMain");
      for (const thread of threads.filter((t) => t.tid !== core.pid)) {
        assert.equal(
          thread.stack.filter(isNative).filter((f) => f.library === LIB && f.func === "thread_run")
            .length,
          1,
          `thread ${thread.tid} runs in thread_run`,
        );
      }
    });
  });
}

relocationTest("build-id=patched", async (core) => {
  const dir = `${core.prefix}/patched`;
  await Deno.mkdir(dir);
  const patched = `${dir}/${LIB}`;
  const ids = copyWithOtherBuildId(`${core.movedLib}/${LIB}`, patched);
  try {
    // Only the build id differs: the stacks are right, and a warning says which file differs.
    const result = await runPystack(["core", core.path, "--lib-search-path", dir]);
    checkCoreRun(result, core, fixture, python.version, {
      executable: core.executable,
      stderr(stderr) {
        assert.equal(
          stderr,
          `pystack: warning: ${LIB} needed BUILD ID ${ids.before} but found ${ids.after} ` +
            `at ${patched}\n`,
          "one build-id warning on stderr",
        );
      },
    });

    // With the right file later in the search path, the one whose build id matches wins.
    const both = await runPystack([
      "core",
      core.path,
      "--lib-search-path",
      `${dir}:${core.movedLib}`,
    ]);
    checkCoreRun(both, core, fixture, python.version, { executable: core.executable });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

relocationTest(
  "build-id=other-python(3.12-libpython-renamed)",
  async (core) => {
    const dir = `${core.prefix}/other`;
    await Deno.mkdir(dir);
    const other = `${dir}/${LIB}`;
    await Deno.copyFile(
      otherPython.path.replace(/\/bin\/[^/]+$/, "/lib/libpython3.12.so.1.0"),
      other,
    );
    try {
      const result = await runPystack(["core", core.path, "--lib-search-path", dir]);
      checking(result, () => {
        // Whatever it makes of a 3.12 library, it must say it is not the library of the core.
        assert.match(
          result.stderr,
          new RegExp(
            `^pystack: (warning: )?.*${LIB} needed BUILD ID [0-9a-f]+ but found [0-9a-f]+ at ${other}`,
            "m",
          ),
          "a build-id warning names the library",
        );
        assert.equal(result.code, 5, "exit code: no interpreter state found in the wrong library");
        assert.equal(result.stdout, "", "an error prints nothing on stdout");
        assert.match(
          result.stderr,
          /^pystack: Cannot inspect core .*: no Python interpreter state found in Python 3\.12\.\d+ .*; pass --lib-search-path or --lib-search-root .*\n$/,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  otherPython.missing ? { reason: otherPython.missing, missing: true } : undefined,
);

relocationTest("executable=argument(moved)", async (core) => {
  await withoutExecutable(core.prefix, async (movedBin) => {
    const executable = `${movedBin}/python3.11`;
    const result = await runPystack([
      "core",
      core.path,
      executable,
      "--lib-search-path",
      core.movedLib,
    ]);
    checkCoreRun(result, core, fixture, python.version, { executable, foundInCore: false });
  });
});

relocationTest("executable=moved options=none", async (core) => {
  await withoutExecutable(core.prefix, async () => {
    const result = await runPystack(["core", core.path]);
    checking(result, () => {
      assert.equal(result.code, 5, "exit code: no interpreter can be found");
      assert.equal(result.stdout, "", "nothing on stdout");
      assert.equal(
        result.stderr,
        `pystack: Cannot inspect core ${core.path}: no Python interpreter is mapped in it, or ` +
          `its files cannot be found (files not found: ${core.executable}, ${core.recordedLib}); ` +
          "if the core comes from another machine or the files moved, pass --lib-search-path " +
          "or --lib-search-root, and the python executable as the second argument\n",
      );
    });
  });
});
