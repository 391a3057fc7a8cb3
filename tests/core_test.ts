/**
 * `pystack core` on real cores of the live tests' fixtures: the same frames,
 * lines, GIL and GC tags and TIDs as `pystack remote` shows, and the header
 * (executable, pid, ppid, sid, uid, gid, pgrp, zombie, executable name,
 * arguments, how the process ended) as the live process and the maker give it.
 * Also: gzip- and zstd-compressed cores read like the plain one.
 *
 * The matrix, per interpreter of `_pythons.ts` (skipped where the remote tests
 * skip it; 2.7 with its GIL window relaxed, see `withGilWindow`):
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
import { FIXTURES, type FixtureSpec, forBuild, type ThreadSpec } from "./_fixture_specs.ts";
import { type PystackResult, registerTest, runPystack, type Skip } from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { checkCoreJson } from "./_check_json.ts";
import {
  checkCoreRun,
  type CoreMaker,
  type FixtureCore,
  fixtureCore,
  makerSkip,
  onPath,
  shared,
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
  if (maker === "gcore" && python.gcoreSkip) return { reason: python.gcoreSkip };
  return remoteSkip(python, fixture) ?? makerSkip(maker);
}

/**
 * CPython 2.7 drops and retakes the GIL every 100 bytecodes, with no thread
 * state current in between, even when no other thread wants it: a core (or a
 * live pause) taken in that window shows no GIL holder (measured: 2 to 7 in
 * 100 cores of `gil_holder` and `gc_collecting`; 1 in 40 `remote` runs). So on
 * 2.7 the holder's status may also be empty. (This belongs in
 * `_fixture_specs.ts` for the remote tests too.)
 */
function withGilWindow(fixture: FixtureSpec, version: Python["version"]): {
  fixture: FixtureSpec;
  relaxed: string[];
} {
  const relaxed = fixture.relaxed?.(version) ?? [];
  const holds = (spec: ThreadSpec) => spec.status.some((status) => status.includes("Has the GIL"));
  if (version[0] !== 2 || !fixture.threads(version).some(holds)) return { fixture, relaxed };
  return {
    fixture: {
      ...fixture,
      threads: (v) =>
        fixture.threads(v).map((spec) =>
          holds(spec) ? { ...spec, status: [...spec.status, []] } : spec
        ),
    },
    relaxed: [...relaxed, "GIL holder not required on 2.7: it drops the GIL every 100 bytecodes"],
  };
}

/** The executable `pystack core` must report: the interpreter binary, resolved. */
function executableOf(python: Python): string {
  return Deno.realPathSync(python.interpreter ?? python.path);
}

for (const python of pythons) {
  for (const [key, maker] of MATRIX) {
    const { fixture, relaxed } = withGilWindow(forBuild(fixtureSpec(key), python), python.version);
    const name = `core python=${python.id} fixture=${key} maker=${maker}` +
      (relaxed.length ? ` (relaxed: ${relaxed.join("; ")})` : "");
    registerTest(name, coreSkip(python, fixture, maker), async () => {
      for (const note of relaxed) console.log(`not asserted: ${note}`);
      await using core = await fixtureCore(python, fixture.file, maker);
      const result = await runPystack(["core", core.path]);
      checkCoreRun(result, core, fixture, python.version, { executable: executableOf(python) });
      await checkCoreJson(["core", core.path], result);
    });
  }
}

// ---- Compressed cores -------------------------------------------------------------------------

const COMPRESSIONS = ["gzip", "zstd"] as const;
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
        await checkCoreJson(["core", path], result);
      } finally {
        await Deno.remove(path).catch(() => {});
      }
    } finally {
      await plainCore.release();
    }
  });
}
