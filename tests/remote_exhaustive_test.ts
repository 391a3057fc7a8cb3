/**
 * `--exhaustive` finds an interpreter that only its scans can find: `fixtures/hidden_interpreter.py`
 * erases every pointer to its interpreter state from the writable data of libpython and the
 * executable (where the default methods look). Without `--exhaustive`, `pystack remote` and
 * `pystack core` exit 5 and say to try it; with it they print every thread, and `-v` says which
 * scan found the interpreter:
 *
 * - 3.6 to 3.10: "scanning anonymous maps". `_thread` keeps, for each running thread it started,
 *   a `struct bootstate` whose first member is the interpreter, allocated with `PyMem_Malloc`:
 *   pymalloc's arenas, anonymous mappings (3.9 and 3.10 also leave it on the threads' stacks).
 * - 2.7: "scanning the heap". Its `PyMem_Malloc` is `malloc`: the bootstates, like the thread
 *   states, are in the heap, and no anonymous mapping holds the interpreter's address.
 *
 * The test checks these facts itself in the target's memory (`/proc/PID/mem`): no word of the
 * default methods' mappings points at the interpreter, and which mappings do (on 3.6 to 3.10,
 * exactly two bootstates, recognised by their shape, among the anonymous words).
 *
 * Not run from 3.11 on: the main interpreter is a static part of `_PyRuntime`, inside libpython's
 * data, so the scan of writable data always finds it (its own thread state, inside it too, points
 * at it and cannot be erased without breaking the interpreter). The fixture refuses (exit 3).
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkStacks, type StackExpectations } from "./_check_stacks.ts";
import { checkCoreJson, checkJsonRun } from "./_check_json.ts";
import { assertValidReport } from "./_json_schema.ts";
import {
  checkCoreRun,
  checkNoStackTrace,
  type FixtureCore,
  kernelCoreSkip,
  makeCore,
  startCoreTarget,
} from "./_cores.ts";
import type { FixtureSpec, Version } from "./_fixture_specs.ts";
import {
  expectedFrames,
  FIXTURES_DIR,
  parseTraceback,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
  threadSnapshot,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { LAYOUTS } from "../src/cpython/layouts/all.ts";

const FILE = "hidden_interpreter.py";

/** Newest thread first; every thread sleeps, so none holds the GIL. */
const FIXTURE: FixtureSpec = {
  key: "hidden_interpreter",
  file: FILE,
  threads: (v: Version) => {
    const bootstrap = v[0] === 2
      ? ["__bootstrap", "__bootstrap_inner", "run"]
      : ["_bootstrap", "_bootstrap_inner", "run"];
    return [
      { stack: "sleeper-2", before: bootstrap, after: [], status: [[]] },
      { stack: "sleeper-1", before: bootstrap, after: [], status: [[]] },
      { stack: "main", before: [], after: [], status: [[]] },
    ];
  },
};

/** What the fixture wrote to `READY.json`. */
interface HiddenReport {
  interp: string;
  mapping: { start: string; end: string; perms: string; path: string };
  erased: { address: string; why: string; path: string; offset: string }[];
}

/** The default methods, as the error message lists them. */
const DEFAULT_TRIED = "debug offsets, ELF section, symbols, scanning writable data";

/** Why the test cannot run on `python`, if it cannot. */
function exhaustiveSkip(python: Python): Skip | undefined {
  const skip = remoteSkip(python);
  if (skip) return skip;
  if (python.version[0] === 3 && python.version[1] >= 11) {
    return {
      reason: "from 3.11 the main interpreter state is static inside _PyRuntime " +
        "(libpython's data): the scan of writable data always finds it",
    };
  }
  return undefined;
}

/** `interpreters.head` and `.main` offsets in `_PyRuntime` from pystack's layout (3.7+). */
function fixtureArgs(python: Python): string[] {
  const runtime = LAYOUTS[`${python.version[0]}.${python.version[1]}`]?.structs.runtime;
  if (runtime === undefined) return []; // 2.7 and 3.6 have no _PyRuntime
  return ["interpreters_head", "interpreters_main"].map((field) => {
    const offset = runtime.fields[field]?.offset;
    assert.ok(offset !== undefined, `the ${python.id} layout has _PyRuntime.${field}`);
    return String(offset);
  });
}

/** Which scan finds the interpreter, and why (see the module's comment). */
function expectedScan(python: Python): "scanning anonymous maps" | "scanning the heap" {
  return python.version[0] === 2 ? "scanning the heap" : "scanning anonymous maps";
}

function checkReport(report: HiddenReport, python: Python): void {
  assert.equal(report.mapping.path, "[heap]", "the interpreter state is in the heap");
  const whys = report.erased.map((e) => e.why);
  if (fixtureArgs(python).length > 0) {
    assert.deepEqual(
      whys.slice(0, 2),
      ["_PyRuntime.interpreters.head", "_PyRuntime.interpreters.main"],
      "the layout's offsets of interpreters.head and .main held the interpreter",
    );
  }
  // 2.7 and 3.6: interp_head and autoInterpreterState; 3.7 to 3.10: gilstate.autoInterpreterState.
  assert.ok(whys.filter((why) => why === "scan").length >= 1, "other pointers were erased");
}

/** Runs without `--exhaustive`: exit 5, one line saying what was tried and to try `--exhaustive`. */
function checkNotFound(result: PystackResult, subject: RegExp, python: Python): void {
  try {
    assert.equal(result.code, 5, "exit code 5 (not a Python process / no interpreter)");
    assert.equal(result.stdout, "", "nothing on stdout");
    checkNoStackTrace(result.stderr);
    const version = `${python.version[0]}\\.${python.version[1]}\\.\\d+`;
    assert.match(
      result.stderr,
      new RegExp(
        `^pystack: Cannot inspect ${subject.source}: no Python interpreter state found in ` +
          `Python ${version} \\(tried ${DEFAULT_TRIED}\\); the interpreter may be starting up ` +
          `or shutting down; retry, or use --exhaustive\\n$`,
      ),
    );
  } catch (error) {
    throw withRun(error, result);
  }
}

/** The same run with `--json`: the `not_python` error document, with the text run's message. */
async function checkNotFoundJson(args: string[], text: PystackResult): Promise<void> {
  const json = await runPystack([...args, "--json"]);
  try {
    assert.equal(json.code, 5, "--json exit code");
    const doc = JSON.parse(json.stdout);
    assertValidReport(doc, "the error document");
    assert.equal(doc.error.code, "not_python");
    assert.equal(doc.error.exitCode, 5);
    assert.equal(`pystack: ${doc.error.message}; ${doc.error.hint}\n`, text.stderr);
  } catch (error) {
    throw withRun(error, json);
  }
}

/** `-v` with `--exhaustive`: the default methods failed, then the expected scan found it. */
function checkFoundBy(stderr: string, report: HiddenReport, python: Python): void {
  for (const method of ["debug offsets", "ELF section", "symbols", "scanning writable data"]) {
    assert.match(stderr, new RegExp(`^pystack: interpreter not found by ${method}$`, "m"));
  }
  const scan = expectedScan(python);
  if (scan === "scanning the heap") {
    assert.match(stderr, /^pystack: interpreter not found by scanning anonymous maps$/m);
  }
  assert.match(
    stderr,
    new RegExp(`^pystack: interpreter found by ${scan} at ${report.interp}$`, "m"),
    `-v says the interpreter (${report.interp}) was found by ${scan}`,
  );
}

// ---- The target's memory, read by the test -----------------------------------------------------

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
}

function readMaps(pid: number): Mapping[] {
  return Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n").filter((l) => l).map((line) => {
    const [range, perms, , , , ...path] = line.split(/\s+/);
    const [start, end] = range!.split("-").map((x) => BigInt(`0x${x}`));
    return { start: start!, end: end!, perms: perms!, path: path.join(" ") };
  });
}

/** Addresses of the 8-byte-aligned words equal to `value` in `maps`, read from `/proc/PID/mem`. */
function wordsEqualTo(pid: number, maps: Mapping[], value: bigint): bigint[] {
  const found: bigint[] = [];
  using mem = Deno.openSync(`/proc/${pid}/mem`);
  for (const map of maps) {
    const bytes = new Uint8Array(Number(map.end - map.start));
    mem.seekSync(map.start, Deno.SeekMode.Start);
    let got = 0;
    while (got < bytes.length) {
      const n = mem.readSync(bytes.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    const view = new DataView(bytes.buffer, 0, got - (got % 8));
    for (let at = 0; at < view.byteLength; at += 8) {
      if (view.getBigUint64(at, true) === value) found.push(map.start + BigInt(at));
    }
  }
  return found;
}

/** Reads little-endian words and C strings of a live process through `/proc/PID/mem`. */
function wordReader(pid: number) {
  const mem = Deno.openSync(`/proc/${pid}/mem`);
  const read = (address: bigint, length: number) => {
    const bytes = new Uint8Array(length);
    mem.seekSync(address, Deno.SeekMode.Start);
    if (mem.readSync(bytes) !== length) throw new Error(`short read at 0x${address.toString(16)}`);
    return bytes;
  };
  const word = (address: bigint) => new DataView(read(address, 8).buffer).getBigUint64(0, true);
  /** `tp_name` of the type of the object at `address` (`ob_type` at +8, `tp_name` at +24). */
  const typeName = (address: bigint) => {
    const name = read(word(word(address + 8n) + 24n), 32);
    return new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
  };
  return { word, typeName, [Symbol.dispose]: () => mem.close() };
}

/**
 * The default methods' mappings hold no pointer to the interpreter. On 3.6 to 3.10 the anonymous
 * mappings hold, among others, `_thread`'s `struct bootstate` of each sleeper (`interp`, `func`
 * the bound method `Thread._bootstrap`, `args` a tuple, `keyw` NULL, `tstate` a thread state of
 * that interpreter); on 2.7 they hold no pointer to it and the heap does.
 */
function checkMemory(pid: number, report: HiddenReport, python: Python): void {
  const interp = BigInt(report.interp);
  const exe = Deno.realPathSync(`/proc/${pid}/exe`);
  const all = readMaps(pid);
  const data: Mapping[] = [];
  let owner: string | undefined;
  all.forEach((m, i) => {
    if (m.path !== "" && !m.path.startsWith("[")) {
      const base = m.path.slice(m.path.lastIndexOf("/") + 1);
      owner = m.path === exe || base.startsWith("libpython") ? m.path : undefined;
    } else if (m.path !== "" || m.start !== all[i - 1]?.end) {
      owner = undefined;
    }
    if (owner !== undefined && m.perms.startsWith("rw")) data.push(m);
  });
  assert.ok(data.length > 0, "the executable and libpython have writable mappings");
  assert.deepEqual(
    wordsEqualTo(pid, data, interp),
    [],
    "no word of libpython's and the executable's writable data points at the interpreter",
  );
  const anonymous = all.filter((m) => m.path === "" && m.perms.startsWith("rw"))
    .filter((m) => !data.includes(m));
  const inAnonymous = wordsEqualTo(pid, anonymous, interp);
  if (expectedScan(python) === "scanning anonymous maps") {
    const threadInterp = LAYOUTS[`${python.version[0]}.${python.version[1]}`]!.structs.thread!
      .fields["interp"]!.offset;
    using mem = wordReader(pid);
    const bootstates = inAnonymous.filter((at) => {
      try {
        return mem.typeName(mem.word(at + 8n)) === "method" &&
          mem.typeName(mem.word(at + 16n)) === "tuple" && mem.word(at + 24n) === 0n &&
          mem.word(mem.word(at + 32n) + BigInt(threadInterp)) === interp;
      } catch {
        return false; // not a bootstate (a thread's stack, …)
      }
    });
    assert.equal(
      bootstates.length,
      2,
      `one _thread bootstate per sleeper among the ${inAnonymous.length} anonymous words ` +
        "that point at the interpreter",
    );
  } else {
    assert.deepEqual(inAnonymous, [], "no anonymous mapping points at the interpreter");
    const heap = all.filter((m) => m.path === "[heap]");
    assert.ok(wordsEqualTo(pid, heap, interp).length > 0, "the heap points at the interpreter");
  }
}

// ---- Tests ---------------------------------------------------------------------------------

const pythons = await findPythons();

for (const python of pythons) {
  registerTest(
    `remote --exhaustive python=${python.id} fixture=${FIXTURE.key}`,
    exhaustiveSkip(python),
    async () => {
      const frames = await expectedFrames(FILE);
      await using target = await startFixture(python, FILE, { args: fixtureArgs(python) });
      const report: HiddenReport = JSON.parse(
        await Deno.readTextFile(`${target.readyPath}.json`),
      );
      checkReport(report, python);
      checkMemory(target.pid, report, python);
      const comm = Deno.readTextFileSync(`/proc/${target.pid}/comm`).trimEnd();
      const subject = new RegExp(`process ${target.pid} \\(${comm.replaceAll(".", "\\.")}\\)`);
      const notFound = await runPystack(["remote", String(target.pid)]);
      checkNotFound(notFound, subject, python);
      await checkNotFoundJson(["remote", String(target.pid)], notFound);

      const args = ["remote", String(target.pid), "--exhaustive"];
      const result = await runPystack(["-v", ...args]);
      const expect: StackExpectations = {
        pid: target.pid,
        scriptPath: target.scriptPath,
        threads: FIXTURE.threads(python.version),
        frames,
        osThreads: threadSnapshot(target.pid),
      };
      try {
        assert.equal(result.code, 0, "exit code");
        checkNoStackTrace(result.stderr);
        checkFoundBy(result.stderr, report, python);
        checkStacks(parseTraceback(result.stdout), expect);
      } catch (error) {
        throw withRun(error, result);
      }
      const doc = await checkJsonRun(args, result, { expect });
      assert.equal(
        (doc.target as { foundBy?: string }).foundBy,
        expectedScan(python),
        "--json: target.foundBy",
      );
    },
  );
}

/** Where the test does not apply, the fixture proves why: its interpreter state is in that data. */
for (const python of pythons) {
  const applies = exhaustiveSkip(python) === undefined;
  registerTest(
    `${FILE} refuses python=${python.id}: the interpreter state is in libpython's data`,
    remoteSkip(python) ??
      (applies ? { reason: "the interpreter state is in the heap" } : undefined),
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "pystack-hidden-" });
      try {
        const output = await new Deno.Command(python.path, {
          args: ["-S", FIXTURES_DIR + FILE, `${dir}/ready`, ...fixtureArgs(python)],
          clearEnv: true,
          env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1" },
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 3, `exit code 3; stderr:\n${stderr}`);
        const data = Deno.realPathSync(python.interpreter ?? python.path);
        assert.match(
          stderr,
          /^hidden_interpreter: the interpreter state 0x[0-9a-f]+ lies in the writable data of (\S+)\n$/,
        );
        const owner = /of (\S+)\n$/.exec(stderr)![1]!;
        assert.ok(
          owner.includes("/libpython3.") || owner === data,
          `${owner} is libpython or the interpreter's executable (${data})`,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

for (const python of pythons) {
  registerTest(
    `core --exhaustive python=${python.id} fixture=${FIXTURE.key} maker=kernel-abrt`,
    exhaustiveSkip(python) ?? kernelCoreSkip(),
    async () => {
      const scriptPath = FIXTURES_DIR + FILE;
      const target = await startCoreTarget(
        [python.path, "-S", scriptPath, "{dir}/ready", ...fixtureArgs(python)],
        { readyFile: "ready" },
      );
      try {
        const report: HiddenReport = JSON.parse(
          await Deno.readTextFile(`${target.dir}/ready.json`),
        );
        checkReport(report, python);
        const made = await makeCore(target, "kernel-abrt");
        const core: FixtureCore = {
          ...made,
          target,
          scriptPath,
          frames: await expectedFrames(FILE),
          [Symbol.asyncDispose]: target.stop,
        };
        const escaped = made.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        const notFound = await runPystack(["core", made.path]);
        checkNotFound(notFound, new RegExp(`core ${escaped}`), python);
        await checkNotFoundJson(["core", made.path], notFound);

        const result = await runPystack(["-v", "core", made.path, "--exhaustive"]);
        checkCoreRun(result, core, FIXTURE, python.version, {
          executable: Deno.realPathSync(python.path),
          stderr(stderr) {
            checkNoStackTrace(stderr);
            checkFoundBy(stderr, report, python);
          },
        });
        const doc = await checkCoreJson(["core", made.path, "--exhaustive"], result);
        assert.equal(
          (doc.target as { foundBy?: string }).foundBy,
          expectedScan(python),
          "--json: target.foundBy",
        );
      } finally {
        await target.stop();
      }
    },
  );
}
