/**
 * `pystack remote` on a process whose files were deleted or replaced after it
 * mapped them: what a package upgrade does under a running service (the
 * kernel then names the mappings `PATH (deleted)`). pystack used to say the
 * process was "not a Python process" (nothing at the path), and would have
 * read a replacement file's symbols against the old build's memory. It now
 * opens the files the process mapped (`/proc/PID/map_files/`): the stacks
 * are the same as before the deletion, Python-only and with `--native`. (The
 * replaced libpython's stacks were right before too, by fallbacks: the
 * interpreter found by a scan of memory, libdw refusing the file whose build
 * id differs; the interpreter is now found through the mapped file's
 * `.PyRuntime` section.)
 *
 * Two shapes: Debian's static `python3.11` run from a copy that is then
 * deleted, and pyenv's 3.12 with its `libpython3.12.so.1.0` loaded from a copy
 * (`LD_LIBRARY_PATH`) that is then overwritten by pyenv's 3.11 libpython.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkStacks } from "./_check_stacks.ts";
import { FIXTURES, forBuild } from "./_fixture_specs.ts";
import {
  expectedFrames,
  parseTraceback,
  registerTest,
  runPystack,
  startFixture,
  threadSnapshot,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";

const fixture = FIXTURES.find((spec) => spec.key === "named_threads")!;
const pythons = await findPythons();
const debian = pythons.find((p) => p.id === "3.11-debian");
const py312 = pythons.find((p) => p.id === "3.12-pyenv");
const py311 = pythons.find((p) => p.id === "3.11-pyenv");

/** The directory of a pyenv Python's libpython (`…/bin/python3.12` → `…/lib`). */
function libDir(python: Python): string {
  return python.path.replace(/\/bin\/[^/]+$/, "/lib");
}

interface Shape {
  name: string;
  python: Python | undefined;
  /** Sets the files up in `dir`; returns the Python to run and its extra environment. */
  before(dir: string, python: Python): Promise<{ run: Python; env: Record<string, string> }>;
  /** Deletes or replaces them while the fixture runs. */
  after(dir: string): Promise<void>;
  /** The mapping that must read `(deleted)`. */
  deleted(dir: string): string;
}

const SHAPES: Shape[] = [
  {
    name: "executable deleted",
    python: debian,
    async before(dir, python) {
      await Deno.copyFile(python.path, `${dir}/python3.11`);
      return { run: { ...python, path: `${dir}/python3.11` }, env: {} };
    },
    async after(dir) {
      await Deno.remove(`${dir}/python3.11`);
    },
    deleted: (dir) => `${dir}/python3.11`,
  },
  {
    name: "libpython replaced",
    python: py312,
    async before(dir, python) {
      await Deno.copyFile(`${libDir(python)}/libpython3.12.so.1.0`, `${dir}/libpython3.12.so.1.0`);
      return { run: python, env: { LD_LIBRARY_PATH: dir } };
    },
    async after(dir) {
      // Another build at the same path (a new inode: the mapping reads "(deleted)").
      await Deno.remove(`${dir}/libpython3.12.so.1.0`);
      await Deno.copyFile(`${libDir(py311!)}/libpython3.11.so.1.0`, `${dir}/libpython3.12.so.1.0`);
    },
    deleted: (dir) => `${dir}/libpython3.12.so.1.0`,
  },
];

for (const shape of SHAPES) {
  for (const native of [false, true]) {
    const python = shape.python;
    const name = `remote ${shape.name}${native ? " --native" : ""} python=${python?.id ?? "?"}`;
    const skip =
      python === undefined || (shape.name === "libpython replaced" && py311 === undefined)
        ? { reason: "needs Debian's python3.11, pyenv's 3.12 and 3.11", missing: true }
        : remoteSkip(python);
    registerTest(name, skip, async () => {
      const dir = await Deno.makeTempDir({ prefix: "pystack-deleted-" });
      try {
        const { run, env } = await shape.before(dir, python!);
        const frames = await expectedFrames(fixture.file);
        await using target = await startFixture(run, fixture.file, { env });
        await shape.after(dir);
        const maps = await Deno.readTextFile(`/proc/${target.pid}/maps`);
        assert.ok(maps.includes(`${shape.deleted(dir)} (deleted)`), "the mapping reads (deleted)");
        const result = await runPystack([
          ...(native ? [] : ["-v"]),
          "remote",
          String(target.pid),
          ...(native ? ["--native"] : []),
        ]);
        try {
          assert.equal(result.code, 0, "exit code");
          assert.doesNotMatch(result.stderr, /warning/);
          if (!native) {
            // Found where the file the process mapped says (not by a scan of its memory, the
            // fallback that got the replaced build's case right before).
            assert.match(result.stderr, /interpreter found by ELF section/);
          }
          const traceback = parseTraceback(result.stdout);
          if (native) {
            // Every thread waits in a lock: its native frames in the interpreter, named from the
            // file the process mapped, merged with its Python frames.
            const wait = `in PyThread_acquire_lock_timed (${shape.deleted(dir)} (deleted))`;
            const blocks = result.stdout.split("\n\n");
            assert.equal(traceback.length, threadSnapshot(target.pid).size, "every thread");
            for (const thread of traceback) {
              const block = blocks.find((b) => b.startsWith(`Traceback for thread ${thread.tid} `));
              assert.ok(block?.includes(wait), `thread ${thread.tid}: ${wait}`);
              assert.ok(block?.includes("(Python) File"), `thread ${thread.tid}: Python frames`);
            }
          } else {
            checkStacks(traceback, {
              pid: target.pid,
              scriptPath: target.scriptPath,
              threads: forBuild(fixture, python!).threads(python!.version),
              frames,
              osThreads: threadSnapshot(target.pid),
            });
          }
        } catch (error) {
          throw withRun(error, result);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}
