/**
 * Helpers of the `--locals` integration tests: a parser for the variables and
 * Python thread names in pystack's text output, and what `fixtures/locals.py`
 * must show.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Python } from "./_pythons.ts";
import type { ExpectedStacks, Skip } from "./_harness.ts";
import { remoteSkip } from "./_remote_cases.ts";

/** One `(Python)` frame with its `--locals` lines. */
export interface LocalsFrame {
  file: string;
  line: number;
  func: string;
  /** `Arguments:` then `Locals:` lines, in printed order. */
  args: [name: string, value: string][];
  locals: [name: string, value: string][];
}

/** One thread block. */
export interface LocalsThread {
  tid: number;
  osName?: string;
  /** The double-quoted Python thread name of the header, decoded. */
  pythonName?: string;
  frames: LocalsFrame[];
}

const HEADER =
  /^Traceback for thread (\d+)(?: \((.*)\))?(?: ("(?:[^"\\]|\\.)*"))? \[[^\]]*\] \(most recent call last\):$/;
const FRAME = /^ {4}\(Python\) File "(.*)", line (\d+), in (.*)$/;
const VARIABLE = /^ {8}([^:]+): (.*)$/;

/** The threads of `pystack remote/core --locals` output (lines before the first thread are skipped). */
export function parseLocalsOutput(stdout: string): LocalsThread[] {
  const threads: LocalsThread[] = [];
  let thread: LocalsThread | undefined;
  let frame: LocalsFrame | undefined;
  let section: "args" | "locals" | undefined;
  for (const line of stdout.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      thread = { tid: Number(header[1]), frames: [] };
      if (header[2] !== undefined) thread.osName = header[2];
      if (header[3] !== undefined) thread.pythonName = JSON.parse(header[3]) as string;
      threads.push(thread);
      frame = undefined;
      section = undefined;
      continue;
    }
    const f = FRAME.exec(line);
    if (f && thread) {
      frame = { file: f[1]!, line: Number(f[2]), func: f[3]!, args: [], locals: [] };
      thread.frames.push(frame);
      section = undefined;
      continue;
    }
    if (line === "      Arguments:") section = "args";
    else if (line === "      Locals:") section = "locals";
    else if (section && frame) {
      const v = VARIABLE.exec(line);
      if (v) frame[section].push([v[1]!, v[2]!]);
      else section = undefined;
    }
  }
  return threads;
}

/** Why `python` cannot run the `--locals` tests, if it cannot. */
export function localsSkip(python: Python): Skip | undefined {
  const skip = remoteSkip(python);
  if (skip) return skip;
  if (python.version[0] < 3) {
    return { reason: "fixtures/locals.py is Python 3 code (2.7: tests/locals_py2_test.ts)" };
  }
  return undefined;
}

/** Python's `repr` of each variable of each frame, by function (`reprs.json` of the fixture). */
export type Reprs = Record<string, Record<string, string | null>>;

/** An expected value: literal text, a pattern, or `PYTHON`: exactly Python's own repr. */
type Expected = string | RegExp | typeof PYTHON;
export const PYTHON = Symbol("python repr");

const ADDRESS = "0x[0-9a-f]+";

/** The main thread's frames of `fixtures/locals.py`: arguments, then locals, in order. */
export const LOCALS_FIXTURE: Record<
  string,
  { args: [string, Expected][]; locals: [string, Expected][] }
> = {
  main: {
    args: [["ready_path", PYTHON]],
    locals: [
      ["number", "2"],
      ["name", "'locals-worker-with-a-long-name'"],
      ["thread", new RegExp(`^<threading\\.Thread object at ${ADDRESS}>$`)],
    ],
  },
  outer: {
    args: [["ready_path", PYTHON], ["cell_arg", "'cell argument'"]],
    locals: [
      ["plain_local", "3"],
      ["inner", new RegExp(`^<function outer\\.<locals>\\.inner at ${ADDRESS}>$`)],
      ["captured", "'closure value'"],
    ],
  },
  inner: {
    args: [["inner_arg", "'in'"]],
    locals: [
      ["inner_local", "'cell argumentclosure value'"],
      ["captured", "'closure value'"],
      ["cell_arg", "'cell argument'"],
    ],
  },
  signature: {
    args: [
      ["pos_a", "1"],
      ["pos_b", "2"],
      ["pos_c", "3"],
      ["kw_only", "'k'"],
      ["kw_default", "'kw'"],
      ["args", "(4, 5)"],
      ["kwargs", "{'extra': 6}"],
    ],
    locals: [["result", "3"]],
  },
  scalars: {
    args: [],
    locals: [
      ["nothing", "None"],
      ["yes", "True"],
      ["no", "False"],
      ["zero", "0"],
      ["small", "42"],
      ["negative", "-7"],
      ["digit_edge", "1073741824"],
      ["big", "18446744073709551621"],
      ["big_negative", "-10000000000000000000000000000000000000000"],
      ["huge", new RegExp(`^<int of 20001 bits at ${ADDRESS}>$`)],
      ["my_int", "5"],
      ["one", "1.0"],
      ["tenth", "0.1"],
      ["third", "0.3333333333333333"],
      ["negative_float", "-2.5"],
      ["e16", "1e+16"],
      ["e15", "1000000000000000.0"],
      ["e_small", "1e-05"],
      ["e_tiny", "1.5e-300"],
      ["e22", "1e+22"],
      ["infinity", "inf"],
      ["minus_infinity", "-inf"],
      ["not_a_number", "nan"],
      ["negative_zero", "-0.0"],
      ["empty", "''"],
      ["ascii_text", "'hello world'"],
      ["latin1", "'café'"],
      ["ucs2", "'関数'"],
      ["ucs4", "'𠮷野 😀'"],
      ["quotes", `"it's"`],
      ["double_quotes", `'say "hi"'`],
      ["both_quotes", `'it\\'s "both"'`],
      ["escapes", "'tab\\tnewline\\nreturn\\rnul\\x00del\\x7f\\\\'"],
      ["invisible", "'zero\\u200bwidth\\xa0nbsp'"],
      ["lone_surrogate", "'\\ud800'"],
      ["long_text", `'${"x".repeat(200)}'...(+800 chars)`],
      ["no_bytes", "b''"],
      ["some_bytes", "b'abc'"],
      ["binary", `b"\\x00\\xff'\\n"`],
      ["long_bytes", `b'${"y".repeat(200)}'...(+100 bytes)`],
      ["instance", new RegExp(`^<__main__\\.Plain object at ${ADDRESS}>$`)],
      ["shown", new RegExp(`^<__main__\\.Shown object at ${ADDRESS}>$`)],
      ["klass", "<class '__main__.Plain'>"],
      ["builtin_class", "<class 'int'>"],
      ["function", new RegExp(`^<function scalars at ${ADDRESS}>$`)],
    ],
  },
  containers: {
    args: [],
    locals: [
      ["empty_list", "[]"],
      ["empty_tuple", "()"],
      ["one_tuple", "(1,)"],
      ["pair", "(1, 'two')"],
      ["nested", "[1, (2, 3), {'four': [5, {6}]}, frozenset({7})]"],
      ["long_list", `[${[...Array(20).keys()].join(", ")}, ...(+10 more)]`],
      ["recursive", "[1, 2, [...]]"],
      ["deep", "[[[[[[...]]]]]]"],
      ["empty_dict", "{}"],
      ["mixed", "{1: 2, 'three': 3.5, (4, 5): [6], None: True}"],
      ["deleted", "{1: 1, 2: 4, 3: 9, 4: 16, 6: 36, 7: 49, 8: 64, 9: 81, 0: 'again'}"],
      ["split", "{'x': 1, 'y': 'barbaridad'}"],
      [
        "big_dict",
        `{${[...Array(20).keys()].map((i) => `${i}: ${-i}`).join(", ")}, ...(+9980 more)}`,
      ],
      ["self_dict", "{'me': {...}}"],
      ["empty_set", "set()"],
      ["small_set", "{1, 2, 3}"],
      ["empty_frozenset", "frozenset()"],
      ["small_frozenset", "frozenset({5})"],
      ["my_list", "[1, 2]"],
      ["my_set", "MySet({1})"],
      ["empty_my_set", "MySet()"],
    ],
  },
};

/** Values pystack cuts or shows differently from Python's repr on purpose (see the README). */
const NOT_PYTHON = new Set([
  "main.thread",
  "scalars.huge",
  "scalars.long_text",
  "scalars.long_bytes",
  "scalars.shown",
  "containers.long_list",
  "containers.deep",
  "containers.big_dict",
]);

/**
 * Assert the main thread's frames of `fixtures/locals.py`: each frame of the
 * fixture has exactly the expected arguments and locals, in order, with the
 * expected values, which also equal Python's own repr (`reprs`) unless cut.
 */
export function checkLocalsFixture(
  threads: LocalsThread[],
  scriptPath: string,
  reprs: Reprs,
  markers?: ExpectedStacks,
): void {
  const main = threads.find((t) => t.pythonName === "MainThread");
  assert.ok(main, "a thread named MainThread");
  const own = main.frames.filter((f) => f.file === scriptPath);
  assert.deepEqual(
    own.map((f) => f.func),
    ["<module>", "main", "outer", "inner", "signature", "scalars", "containers"],
    "the fixture's frames",
  );
  if (markers) {
    own.forEach((frame, i) => {
      const want = markers.get("main")?.[i];
      assert.ok(want && want.func === frame.func, `marker main:${i} is ${frame.func}`);
      assert.ok(want.lines.includes(frame.line), `${frame.func} is at line ${want.lines}`);
    });
  }
  assert.deepEqual([own[0]!.args, own[0]!.locals], [[], []], "<module> has no fast locals");
  for (const frame of own.slice(1)) {
    const expected = LOCALS_FIXTURE[frame.func]!;
    for (const part of ["args", "locals"] as const) {
      assert.deepEqual(
        frame[part].map(([name]) => name),
        expected[part].map(([name]) => name),
        `${part} of ${frame.func}`,
      );
      expected[part].forEach(([name, want], i) => {
        const got = frame[part][i]![1];
        const python = reprs[frame.func]?.[name];
        const where = `${frame.func}.${name}`;
        if (want === PYTHON) {
          assert.equal(got, python, where);
        } else if (want instanceof RegExp) {
          assert.match(got, want, where);
        } else {
          assert.equal(got, want, where);
        }
        if (!NOT_PYTHON.has(where)) assert.equal(got, python, `${where} is Python's repr`);
      });
    }
  }
}

/**
 * Assert the two workers of `fixtures/locals.py`: their `worker` frame holds
 * `number` and `local_number`, and the headers name them as expected: "short"
 * only when there is no OS name (a core), the long name always.
 */
export function checkLocalsWorkers(threads: LocalsThread[], scriptPath: string): void {
  for (const [name, number] of [["short", 1], ["locals-worker-with-a-long-name", 2]] as const) {
    const thread = threads.find((t) =>
      t.frames.some((f) =>
        f.args[0]?.[1] === String(number) && f.func === "worker" && f.file === scriptPath
      )
    );
    assert.ok(thread, `the thread of worker(${number})`);
    if (thread.osName === undefined) {
      assert.equal(thread.pythonName, name, `the Python name of ${name}`);
    } else {
      assert.equal(thread.osName, name.slice(0, 15), `the OS name of ${name}`);
      assert.equal(thread.pythonName, name === "short" ? undefined : name, `the name of ${name}`);
    }
    const worker = thread.frames.find((f) => f.func === "worker")!;
    assert.deepEqual(worker.args, [["number", String(number)]]);
    assert.deepEqual(worker.locals, [["local_number", String(number * 10)]]);
  }
}
