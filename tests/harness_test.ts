/**
 * Unit tests of the harness on hand-written text: the traceback parser, the
 * marker reader and the stack assertions. No process, no CLI.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkFrames, checkStacks } from "./_check_stacks.ts";
import { FIXTURES } from "./_fixture_specs.ts";
import {
  expectedFrames,
  FIXTURES_DIR,
  parseFrameMarkers,
  parseTraceback,
  procState,
  threadSnapshot,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";

const SAMPLE = [
  "Traceback for thread 4243 (worker-1) [] (most recent call last):",
  '    (Python) File "/usr/lib/python3.11/threading.py", line 995, in _bootstrap',
  "        self._bootstrap_inner()",
  '    (Python) File "/work/x.py", line 12, in worker',
  "        never_set.wait()  # trailing comment",
  "",
  "Traceback for thread 4242 (python3.11) [Has the GIL,Garbage collecting] (most recent call last):",
  '    (Python) File "<generated>", line 4, in generated_sleeper',
  '    (Python) File "/work/x.py", line 30, in <module>',
  "        ",
  '    (C) File "???", line 0, in _start (/usr/bin/python3.11)',
  "",
  "The frame stack for thread 4244 is empty",
  "",
  "Traceback for thread 4245 [] (most recent call last):",
  '    (Python) File "/a, line 3, in b.py", line 7, in f',
  "",
].join("\n");

Deno.test("parseTraceback() reads headers, frames, source lines and empty stacks", () => {
  const threads = parseTraceback(SAMPLE);
  assert.deepEqual(threads.preamble, []);
  assert.deepEqual([...threads], [
    {
      tid: 4243,
      name: "worker-1",
      status: [],
      empty: false,
      extra: [],
      frames: [
        {
          file: "/usr/lib/python3.11/threading.py",
          line: 995,
          func: "_bootstrap",
          source: "self._bootstrap_inner()",
        },
        {
          file: "/work/x.py",
          line: 12,
          func: "worker",
          source: "never_set.wait()  # trailing comment",
        },
      ],
    },
    {
      tid: 4242,
      name: "python3.11",
      status: ["Has the GIL", "Garbage collecting"],
      empty: false,
      extra: ['    (C) File "???", line 0, in _start (/usr/bin/python3.11)'],
      frames: [
        { file: "<generated>", line: 4, func: "generated_sleeper" },
        { file: "/work/x.py", line: 30, func: "<module>", source: "" },
      ],
    },
    { tid: 4244, status: [], frames: [], empty: true, extra: [] },
    {
      tid: 4245,
      status: [],
      empty: false,
      extra: [],
      frames: [{ file: "/a, line 3, in b.py", line: 7, func: "f" }],
    },
  ]);
});

Deno.test("parseTraceback() keeps names with parentheses and unknown lines", () => {
  const threads = parseTraceback(
    [
      "Using executable found in the core file: /usr/bin/python3",
      "Traceback for thread 9 (a (b) c) [Thread terminated] (most recent call last):",
      "      Arguments:",
      "        x: 1",
      "Traceback for thread 10 (n) (most recent call last):",
      "  In the main interpreter []",
    ].join("\n"),
  );
  assert.deepEqual(threads.preamble, ["Using executable found in the core file: /usr/bin/python3"]);
  assert.equal(threads[0]?.name, "a (b) c");
  assert.deepEqual(threads[0]?.status, ["Thread terminated"]);
  assert.deepEqual(threads[0]?.extra, ["      Arguments:", "        x: 1"]);
  assert.equal(threads[1]?.name, "n");
  assert.deepEqual(threads[1]?.extra, ["  In the main interpreter []"]);
});

Deno.test("parseTraceback() of empty output is no threads", () => {
  const threads = parseTraceback("");
  assert.equal(threads.length, 0);
  assert.deepEqual(threads.preamble, []);
});

const MARKED = [
  "def f():",
  "    g()  # @frame main:1 f",
  "def g():",
  "    while True:  # @frame main:2 g",
  "        n += 1  # @frame main:2 g",
  "def h(n):",
  "    h(n - 1)  # @frame worker-1:1-3 h",
  "    sleep()  # @frame worker-1:4 h @frame main:3 h",
  '    "sleep()",  # @frame worker-1:5 gen file=<gen> line=2',
  "f()  # @frame main:0 <module>",
  "h(4)  # @frame worker-1:0 <module>",
].join("\n");

Deno.test("parseFrameMarkers() orders frames by position and merges alternatives", () => {
  const stacks = parseFrameMarkers(MARKED, "x.py");
  assert.deepEqual(stacks.get("main"), [
    { func: "<module>", file: "x.py", lines: [10] },
    { func: "f", file: "x.py", lines: [2] },
    { func: "g", file: "x.py", lines: [4, 5] },
    { func: "h", file: "x.py", lines: [8] },
  ]);
  assert.deepEqual(stacks.get("worker-1"), [
    { func: "<module>", file: "x.py", lines: [11] },
    { func: "h", file: "x.py", lines: [7] },
    { func: "h", file: "x.py", lines: [7] },
    { func: "h", file: "x.py", lines: [7] },
    { func: "h", file: "x.py", lines: [8] },
    { func: "gen", file: "<gen>", lines: [2] },
  ]);
});

Deno.test("parseFrameMarkers() rejects gaps, conflicts and malformed markers", () => {
  assert.throws(() => parseFrameMarkers("a  # @frame main:1 f", "x.py"), /has no frame 0/);
  assert.throws(
    () => parseFrameMarkers("a  # @frame main:0 f\nb  # @frame main:0 g", "x.py"),
    /already f/,
  );
  assert.throws(() => parseFrameMarkers("a  # @frame main f", "x.py"), /Bad marker/);
  assert.throws(() => parseFrameMarkers("a  # @frame main:0", "x.py"), /Bad marker/);
  assert.throws(() => parseFrameMarkers("a  # @frame main:0 f colour=red", "x.py"), /unknown/);
  assert.throws(() => parseFrameMarkers("a  # @frame main:3-1 f", "x.py"), /empty range/);
});

Deno.test("expectedFrames() reads every fixture of the matrix", async () => {
  for (const fixture of FIXTURES) {
    const stacks = await expectedFrames(fixture.file);
    const wanted = fixture.threads([3, 12]).map((thread) => thread.stack).sort();
    assert.deepEqual([...stacks.keys()].sort(), wanted, fixture.file);
  }
  const single = await expectedFrames("single_thread.py");
  assert.deepEqual(single.get("main")?.map((frame) => frame.func), [
    "<module>",
    "first_func",
    "second_func",
    "third_func",
  ]);
  const deep = await expectedFrames("deep_recursion.py");
  assert.equal(deep.get("main")?.length, 501);
  const generated = await expectedFrames("exec_code.py");
  assert.deepEqual(generated.get("main")?.[2], {
    func: "generated_sleeper",
    file: "<generated>",
    lines: [4],
  });
  const unicode = await expectedFrames("ünïcødé_名前.py");
  assert.deepEqual(unicode.get("main")?.map((frame) => frame.func), [
    "<module>",
    "café",
    "関数",
    "𠮷野",
  ]);
});

const SCRIPT = `${FIXTURES_DIR}single_thread.py`;
const EXPECTED_SINGLE = [
  { func: "<module>", file: "single_thread.py", lines: [25] },
  { func: "first_func", file: "single_thread.py", lines: [11] },
  { func: "second_func", file: "single_thread.py", lines: [15] },
  { func: "third_func", file: "single_thread.py", lines: [21] },
];

function singleThreadOutput(options: { pid?: number; lines?: number[]; status?: string } = {}) {
  const lines = options.lines ?? [25, 11, 15, 21];
  const funcs = ["<module>", "first_func", "second_func", "third_func"];
  const source = Deno.readTextFileSync(SCRIPT).split("\n");
  return [
    `Traceback for thread ${options.pid ?? 77} (python3.12) [${
      options.status ?? ""
    }] (most recent call last):`,
    ...funcs.flatMap((func, i) => [
      `    (Python) File "${SCRIPT}", line ${lines[i]}, in ${func}`,
      `        ${source[lines[i]! - 1]!.trim()}`,
    ]),
    "",
  ].join("\n");
}

Deno.test("checkStacks() accepts the expected single_thread output", () => {
  checkStacks(parseTraceback(singleThreadOutput()), {
    pid: 77,
    scriptPath: SCRIPT,
    threads: [{ stack: "main", before: [], after: [], status: [[]] }],
    frames: new Map([["main", EXPECTED_SINGLE]]),
    osThreads: new Map([[77, { name: "python3.12", state: "S", tracerPid: 0 }]]),
  });
});

Deno.test("checkStacks() rejects a wrong line, status, source or thread", () => {
  const expect = {
    pid: 77,
    scriptPath: SCRIPT,
    threads: [{ stack: "main", before: [], after: [], status: [[]] }],
    frames: new Map([["main", EXPECTED_SINGLE]]),
  };
  const check = (text: string) => () => checkStacks(parseTraceback(text), expect);
  assert.throws(check(singleThreadOutput({ lines: [25, 11, 15, 20] })), /fixture frame 3/);
  assert.throws(check(singleThreadOutput({ status: "Has the GIL" })), /status of main/);
  assert.throws(check(singleThreadOutput({ pid: 78 })), /threads \(main = /);
  assert.throws(check(singleThreadOutput().replace("first_func(sys", "first_func (sys")), /source/);
  assert.throws(check(singleThreadOutput() + "    (C) native frame\n"), /unknown lines/);
});

Deno.test("checkFrames() allows standard-library frames only around the fixture's", () => {
  const at = (func: string, file: string, line: number) => ({ func, file, line });
  const thread = (frames: ReturnType<typeof at>[]) => ({
    tid: 1,
    status: [],
    empty: false,
    extra: [],
    frames,
  });
  const expected = [
    { func: "worker", file: "t.py", lines: [5] },
    { func: "inner", file: "t.py", lines: [9, 10] },
  ];
  const options = { scriptPath: "/f/t.py", before: ["_bootstrap", "run"], after: ["wait"] };
  const good = [
    at("_bootstrap", "/lib/threading.py", 1),
    at("run", "/lib/threading.py", 2),
    at("worker", "/f/t.py", 5),
    at("inner", "/f/t.py", 10),
    at("wait", "/lib/threading.py", 3),
  ];
  checkFrames(thread(good), expected, options);
  const between = [...good.slice(0, 3), at("x", "/lib/y.py", 1), ...good.slice(3)];
  assert.throws(() => checkFrames(thread(between), expected, options), /between/);
  assert.throws(() => checkFrames(thread(good.slice(1)), expected, options), /before/);
  assert.throws(() => checkFrames(thread(good.slice(0, 4)), expected, options), /after/);
  const elsewhere = good.map((frame) =>
    frame.func === "worker" ? at("worker", "/g/t.py", 5) : frame
  );
  assert.throws(() => checkFrames(thread(elsewhere), expected, options), /full path/);
  checkFrames(thread(good.slice(1, 4)), expected, { scriptPath: "/f/t.py" });
});

Deno.test("procState() and threadSnapshot() read this process", () => {
  assert.match(procState(Deno.pid), /^[RS]$/);
  const self = threadSnapshot(Deno.pid).get(Deno.pid);
  assert.ok(self);
  assert.equal(self.tracerPid, 0);
});

Deno.test("findPythons() lists every interpreter under test, present or not", async () => {
  const pythons = await findPythons();
  assert.deepEqual(pythons.map((python) => python.id), [
    "2.7-pyenv",
    "3.6-pyenv",
    "3.7-pyenv",
    "3.8-pyenv",
    "3.9-pyenv",
    "3.10-pyenv",
    "3.11-pyenv",
    "3.12-pyenv",
    "3.13-pyenv",
    "3.11-debian",
    "3.13-sid",
    "3.14-sid",
    "3.14-sid-loader",
    "3.15-sid",
    "3.13t",
  ]);
  for (const python of pythons) {
    const binary = python.interpreter ?? python.path;
    const suffix = python.id.endsWith("t") ? "t" : "";
    assert.ok(binary.endsWith(`/python${python.version.join(".")}${suffix}`), binary);
    assert.ok(!python.path.includes("/shims/"), python.path);
  }
});
