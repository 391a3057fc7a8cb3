/**
 * `--locals` on Python 2.7 (`fixtures/locals_py2.py`): `str` of bytes,
 * `unicode` of every width, `int` and `long`, sets, types, old-style classes
 * and instances, 2.7's dicts and the mangled `Thread.__name`. Every variable
 * of the fixture's frames, in order, with the interpreter's own `repr` except
 * where pystack cuts or cannot run `__repr__`; the Python thread names. Live
 * (blocking and `--no-block`) and from a gcore core of the same process.
 * Registered for the 2.x interpreters only: the fixture is Python 2 code.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  expectedFrames,
  FIXTURES_DIR,
  registerTest,
  runPystack,
  startFixture,
} from "./_harness.ts";
import { remoteSkip, withRun } from "./_remote_cases.ts";
import { findPythons } from "./_pythons.ts";
import { makeCore, makerSkip, startCoreTarget } from "./_cores.ts";
import { checkLocalsWorkers, type LocalsThread, parseLocalsOutput, type Reprs } from "./_locals.ts";

const FIXTURE = "locals_py2.py";
const ADDRESS = "0x[0-9a-f]+";

/** The main thread's frames of the fixture: argument and local names, in order. */
const NAMES: Record<string, { args: string[]; locals: string[] }> = {
  main: { args: ["ready_path"], locals: ["number", "name", "thread"] },
  outer: { args: ["ready_path", "cell_arg"], locals: ["plain_local", "inner", "captured"] },
  inner: {
    args: ["inner_arg", "args", "kwargs"],
    locals: ["inner_local", "captured", "cell_arg"],
  },
  scalars: {
    args: [],
    locals: [
      ..."nothing yes no zero small negative max_int min_int long_zero small_long big".split(" "),
      ..."big_negative huge my_long one tenth e16 not_a_number empty_str text utf8".split(" "),
      ..."binary long_str empty_unicode ascii_unicode latin1 ucs2 ucs4 quotes".split(" "),
      ..."both_quotes escapes long_unicode instance shown klass builtin_class".split(" "),
      ..."none_type function old_class old_instance".split(" "),
    ],
  },
  containers: {
    args: [],
    locals: [
      ..."empty_list empty_tuple one_tuple pair nested long_list recursive empty_dict".split(" "),
      ..."deleted attributes big_dict self_dict empty_set small_set empty_frozenset".split(" "),
      ..."small_frozenset my_list my_set empty_my_set".split(" "),
    ],
  },
};

/** Values that are not Python's own repr, on purpose: cut, or a `__repr__` pystack cannot run. */
const NOT_PYTHON: Record<string, RegExp> = {
  "main.thread": new RegExp(`^<threading\\.Thread object at ${ADDRESS}>$`),
  "scalars.huge": new RegExp(`^<long of 20001 bits at ${ADDRESS}>$`),
  "scalars.long_str": new RegExp(`^'y{200}'\\.\\.\\.\\(\\+100 bytes\\)$`),
  "scalars.long_unicode": new RegExp(`^u'x{200}'\\.\\.\\.\\(\\+800 chars\\)$`),
  "scalars.shown": new RegExp(`^<__main__\\.Shown object at ${ADDRESS}>$`),
  "containers.long_list": /^\[0, 1, 2, .*, 19, \.\.\.\(\+10 more\)\]$/,
  "containers.big_dict": /^\{0: 0, 1: -1, .*, 19: -19, \.\.\.\(\+9980 more\)\}$/,
};

/** Assert every variable of the fixture's main-thread frames, and the thread names. */
function checkPy2Locals(threads: LocalsThread[], scriptPath: string, reprs: Reprs): void {
  const main = threads.find((t) => t.pythonName === "MainThread");
  assert.ok(main, "a thread named MainThread");
  const own = main.frames.filter((f) => f.file === scriptPath);
  assert.deepEqual(
    own.map((f) => f.func),
    ["<module>", "main", "outer", "inner", "scalars", "containers"],
    "the fixture's frames",
  );
  for (const frame of own.slice(1)) {
    const names = NAMES[frame.func]!;
    assert.deepEqual(frame.args.map(([name]) => name), names.args, `arguments of ${frame.func}`);
    assert.deepEqual(frame.locals.map(([name]) => name), names.locals, `locals of ${frame.func}`);
    for (const [name, value] of [...frame.args, ...frame.locals]) {
      const where = `${frame.func}.${name}`;
      const pattern = NOT_PYTHON[where];
      if (pattern) assert.match(value, pattern, where);
      else assert.equal(value, reprs[frame.func]?.[name], `${where} is Python's repr`);
    }
  }
  checkLocalsWorkers(threads, scriptPath);
}

/** Check the frames' lines against the fixture's markers. */
async function checkLines(threads: LocalsThread[], scriptPath: string): Promise<void> {
  const markers = (await expectedFrames(FIXTURE)).get("main")!;
  const main = threads.find((t) => t.pythonName === "MainThread")!;
  main.frames.filter((f) => f.file === scriptPath).forEach((frame, i) => {
    assert.ok(markers[i]?.lines.includes(frame.line), `${frame.func} is at line ${frame.line}`);
  });
}

const pythons = (await findPythons()).filter((python) => python.version[0] === 2);

for (const python of pythons) {
  registerTest(
    `locals remote python=${python.id} fixture=locals_py2`,
    remoteSkip(python),
    async () => {
      await using target = await startFixture(python, FIXTURE);
      const reprs = JSON.parse(await Deno.readTextFile(`${target.dir}/reprs.json`)) as Reprs;
      for (const mode of [[], ["--no-block"]]) {
        const result = await runPystack(["remote", String(target.pid), "--locals", ...mode]);
        try {
          assert.equal(result.code, 0, "exit code");
          assert.equal(result.stderr, "", "nothing on stderr");
          const threads = parseLocalsOutput(result.stdout);
          checkPy2Locals(threads, target.scriptPath, reprs);
          await checkLines(threads, target.scriptPath);
        } catch (error) {
          throw withRun(error, result);
        }
      }
    },
  );

  const name = `locals core python=${python.id} fixture=locals_py2 maker=gcore`;
  registerTest(name, remoteSkip(python) ?? makerSkip("gcore"), async () => {
    const scriptPath = FIXTURES_DIR + FIXTURE;
    await using target = await startCoreTarget([python.path, "-S", scriptPath, "{dir}/ready"], {
      readyFile: "ready",
    });
    const reprs = JSON.parse(await Deno.readTextFile(`${target.dir}/reprs.json`)) as Reprs;
    const core = await makeCore(target, "gcore");
    const result = await runPystack(["core", core.path, "--locals"]);
    try {
      assert.equal(result.code, 0, "exit code");
      const threads = parseLocalsOutput(result.stdout);
      checkPy2Locals(threads, scriptPath, reprs);
      await checkLines(threads, scriptPath);
    } catch (error) {
      throw withRun(error, result);
    }
  });
}
