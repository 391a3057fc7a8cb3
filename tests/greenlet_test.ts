/**
 * Suspended greenlets, live and from kernel cores, on Debian's python3.11 with
 * Debian's python3-greenlet and python3-gevent: every suspended greenlet's
 * frames (functions, files, lines from the fixtures' `# @frame` markers), its
 * thread, type and role, in `--json` (validated against the schema) and in
 * the text output (one block per greenlet after its thread's block); its
 * variables with `--locals`; and a greenlet whose saved frame pointer is
 * garbage.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import {
  expectedFrames,
  type ExpectedStacks,
  type PystackResult,
  registerTest,
  runPystack,
  type Skip,
  startFixture,
} from "./_harness.ts";
import { findPythons, type Python } from "./_pythons.ts";
import { type CoreMaker, fixtureCore, makerSkip } from "./_cores.ts";
import { greenletBuildSkip, greenletFor } from "./_greenlet_build.ts";
import { sidGreenlet } from "./_greenlet_sid.ts";
import { withRun } from "./_remote_cases.ts";
import { nativeSkip } from "./_native_cases.ts";
import { assertValidReport } from "./_json_schema.ts";

const DIST_PACKAGES = "/usr/lib/python3/dist-packages";

const pythons = await findPythons();
const python = pythons.find((p) => p.id === "3.11-debian");

/** Why the greenlet tests cannot run with `python`: missing interpreter or package. */
function greenletSkip(python: Python | undefined, module: string, apt: string): Skip | undefined {
  if (python === undefined) return { reason: "no 3.11-debian interpreter listed", missing: true };
  if (python.unavailable !== undefined) return { reason: python.unavailable };
  if (python.missing !== undefined) return { reason: python.missing, missing: true };
  const probe = new Deno.Command(python.path, {
    args: ["-S", "-c", `import sys; sys.path.append("${DIST_PACKAGES}"); import ${module}`],
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return probe.success
    ? undefined
    : { reason: `${module} is not importable (apt-get install ${apt})`, missing: true };
}

interface JsonFrame {
  file: string;
  function: string;
  line: number;
  variables?: { name: string; value: string; argument: boolean }[];
}

interface JsonGreenlet {
  address: string;
  typeName: string;
  role: "main" | "hub" | null;
  spawnFunction?: string;
  tid: number;
  partial: string | null;
  frames: JsonFrame[];
}

interface JsonDoc {
  threads: {
    tid: number;
    frames: JsonFrame[];
    greenlet?: { address: string; typeName: string; role?: string };
  }[];
  greenlets?: JsonGreenlet[];
  warnings: string[];
}

/** `function file:line` of each frame, oldest first. */
function described(frames: readonly JsonFrame[]): string[] {
  return frames.map((f) => `${f.function} ${basename(f.file)}:${f.line}`);
}

/**
 * `expected` (the markers of one stack) as {@linkcode described} lines, with
 * `outside` (frames of other files, as `function file:line`) inserted at their
 * positions: `[index, line]` puts `line` before the marker frame `index`. Where a marker
 * frame has alternative lines (a fixture's modes), `alternative` picks one.
 */
function expectedLines(
  markers: ExpectedStacks,
  stack: string,
  outside: [number, string][] = [],
  alternative = 0,
): string[] {
  const frames = markers.get(stack);
  assert.ok(frames, `the fixture has a stack ${stack}`);
  const lines = frames.map((f) => {
    const line = f.lines.length === 1 ? f.lines[0] : f.lines[alternative];
    assert.ok(line !== undefined, `${stack}: alternative ${alternative} of ${f.func}`);
    return `${f.func} ${f.file}:${line}`;
  });
  for (const [index, line] of [...outside].sort((a, b) => b[0] - a[0])) {
    lines.splice(index, 0, line);
  }
  return lines;
}

/** Runs pystack with `args` and `--json`; checks the exit code and the schema. */
async function jsonRun(args: string[]): Promise<{ doc: JsonDoc; result: PystackResult }> {
  const result = await runPystack([...args, "--json"]);
  try {
    assert.equal(result.code, 0, "exit code");
    const doc = JSON.parse(result.stdout);
    assertValidReport(doc);
    return { doc: doc as JsonDoc, result };
  } catch (error) {
    throw withRun(error, result);
  }
}

/** The greenlet whose oldest frame runs `func`. */
function byFirstFunction(greenlets: readonly JsonGreenlet[], func: string): JsonGreenlet {
  const found = greenlets.filter((g) => g.frames[0]?.function === func);
  assert.equal(found.length, 1, `one greenlet starts in ${func}`);
  return found[0]!;
}

/**
 * The text output: the thread's block, then one block per greenlet in the
 * JSON's order, each headed `Greenlet ADDRESS (suspended) in thread TID, WHAT`
 * and listing the same frames.
 */
function checkText(text: string, doc: JsonDoc): void {
  const blocks = text.trimEnd().split("\n\n").map((b) => b.split("\n"));
  const frameLines = (block: string[]) =>
    block.filter((l) => l.startsWith("    (Python) File ")).map((l) => {
      const m = /File "(.*)", line (\d+), in (.*)$/.exec(l)!;
      return `${m[3]} ${basename(m[1]!)}:${m[2]}`;
    });
  const greenlets = doc.greenlets ?? [];
  assert.equal(blocks.length, doc.threads.length + greenlets.length, "blocks");
  let next = 0;
  for (const thread of doc.threads) {
    const block = blocks[next++]!;
    assert.match(block[0]!, new RegExp(`^Traceback for thread ${thread.tid} `));
    assert.deepEqual(frameLines(block), described(thread.frames));
    for (const g of greenlets.filter((g) => g.tid === thread.tid)) {
      const block = blocks[next++]!;
      const what = g.role === "main"
        ? "the main greenlet"
        : g.role === "hub"
        ? "gevent's hub"
        : g.spawnFunction === undefined
        ? g.typeName
        : `${g.typeName} spawned for ${g.spawnFunction}`;
      assert.equal(
        block[0],
        `Greenlet ${g.address} (suspended) in thread ${g.tid} (inferred), ${what} (most recent call last):`,
      );
      assert.deepEqual(frameLines(block), described(g.frames), `frames of greenlet ${g.address}`);
      if (g.partial !== null) {
        assert.equal(block.at(-1), `    (!) Stack may be incomplete: ${g.partial}`);
      }
    }
  }
  assert.equal(next, blocks.length, "every greenlet follows its thread");
}

/** The frames of `frames` in `scriptPath` (a worker thread starts in threading.py). */
function fixtureOnly(frames: readonly JsonFrame[], scriptPath: string): JsonFrame[] {
  return frames.filter((f) => basename(f.file) === basename(scriptPath));
}

// ---- greenlet_switch.py: three plain greenlets ---------------------------------------------

/**
 * The greenlets of `greenlet_switch.py`: alpha, beta, gamma on the main thread (`pid`), delta
 * on the thread g-worker (the process's other thread), each with the frames of its markers.
 */
function checkSwitch(doc: JsonDoc, pid: number, markers: ExpectedStacks): void {
  assert.equal(doc.threads.length, 2, "two threads");
  const main = doc.threads.find((t) => t.tid === pid);
  const worker = doc.threads.find((t) => t.tid !== pid);
  assert.ok(main && worker);
  assert.deepEqual(described(main.frames), expectedLines(markers, "main"));
  assert.deepEqual(
    described(fixtureOnly(worker.frames, "greenlet_switch.py")),
    expectedLines(markers, "g-worker"),
  );
  for (const thread of [main, worker]) {
    assert.equal(thread.greenlet?.typeName, "greenlet.greenlet", "each thread runs…");
    assert.equal(thread.greenlet?.role, "main", "…its main greenlet");
  }
  assert.notEqual(main.greenlet?.address, worker.greenlet?.address);
  const greenlets = doc.greenlets ?? [];
  assert.equal(greenlets.length, 4, "four suspended greenlets (each thread runs its main one)");
  for (const stack of ["alpha", "beta", "gamma", "delta"]) {
    const g = byFirstFunction(greenlets, stack);
    assert.deepEqual(described(g.frames), expectedLines(markers, stack), `greenlet ${stack}`);
    assert.equal(g.tid, stack === "delta" ? worker.tid : pid, `the thread of ${stack}`);
    assert.equal(g.typeName, "greenlet.greenlet");
    assert.equal(g.role, null);
    assert.equal(g.spawnFunction, undefined, "a plain greenlet keeps its run in C++");
    assert.equal(g.partial, null);
  }
  assert.deepEqual(doc.warnings, []);
}

const switchSkip = greenletSkip(python, "greenlet", "python3-greenlet");

registerTest("greenlet remote fixture=greenlet_switch python=3.11-debian", switchSkip, async () => {
  const markers = await expectedFrames("greenlet_switch.py");
  await using fixture = await startFixture(python!, "greenlet_switch.py");
  const { doc } = await jsonRun(["remote", String(fixture.pid)]);
  checkSwitch(doc, fixture.pid, markers);
  const text = await runPystack(["remote", String(fixture.pid)]);
  try {
    assert.equal(text.code, 0);
    checkText(text.stdout, doc);
  } catch (error) {
    throw withRun(error, text);
  }
});

registerTest(
  "greenlet core fixture=greenlet_switch python=3.11-debian maker=kernel-abrt",
  switchSkip ?? makerSkip("kernel-abrt"),
  async () => {
    await using core = await fixtureCore(python!, "greenlet_switch.py", "kernel-abrt");
    const { doc } = await jsonRun(["core", core.path]);
    checkSwitch(doc, core.pid, core.frames);
    const text = await runPystack(["core", core.path]);
    try {
      assert.equal(text.code, 0);
      checkText(text.stdout.slice(text.stdout.indexOf("Traceback for thread")), doc);
    } catch (error) {
      throw withRun(error, text);
    }
  },
);

registerTest("greenlet remote --locals python=3.11-debian", switchSkip, async () => {
  await using fixture = await startFixture(python!, "greenlet_switch.py");
  const { doc } = await jsonRun(["remote", String(fixture.pid), "--locals"]);
  const beta = byFirstFunction(doc.greenlets ?? [], "beta");
  assert.deepEqual(beta.frames.map((f) => f.variables), [
    [],
    [
      { name: "count", value: "3", argument: true },
      { name: "token", value: "'beta-token'", argument: false },
    ],
  ]);
});

registerTest(
  "greenlet remote saved frame pointer is garbage python=3.11-debian",
  switchSkip,
  async () => {
    const markers = await expectedFrames("greenlet_switch.py");
    await using fixture = await startFixture(python!, "greenlet_switch.py", { args: ["corrupt"] });
    const { doc, result } = await jsonRun(["remote", String(fixture.pid)]);
    try {
      const greenlets = doc.greenlets ?? [];
      assert.equal(greenlets.length, 4);
      for (const stack of ["alpha", "gamma", "delta"]) {
        const g = byFirstFunction(greenlets, stack);
        assert.deepEqual(described(g.frames), expectedLines(markers, stack));
        assert.equal(g.partial, null);
      }
      const broken = greenlets.filter((g) => g.frames.length === 0);
      assert.equal(broken.length, 1, "beta shows no frame");
      assert.equal(
        broken[0]!.partial,
        "saved frame pointer 0xdead0000beef0 does not lead to a frame",
      );
      assert.equal(broken[0]!.tid, fixture.pid);
      assert.equal(result.stderr, "");
    } catch (error) {
      throw withRun(error, result);
    }
    const text = await runPystack(["remote", String(fixture.pid)]);
    assert.equal(text.code, 0);
    checkText(text.stdout, doc);
  },
);

// The same with greenlet built from Debian's sources for every other interpreter it supports:
// frame objects (3.7 to 3.10) and interpreter frames (3.11), GC heads of 32 and 16 bytes.
for (const other of pythons.filter((p) => p !== python)) {
  const skip = greenletBuildSkip(other);
  registerTest(`greenlet remote fixture=greenlet_switch python=${other.id}`, skip, async () => {
    const env = { PYSTACK_GREENLET_DIR: await greenletFor(other) };
    const markers = await expectedFrames("greenlet_switch.py");
    await using fixture = await startFixture(other, "greenlet_switch.py", { env });
    const { doc } = await jsonRun(["remote", String(fixture.pid)]);
    checkSwitch(doc, fixture.pid, markers);
  });
  const maker: CoreMaker = other.gcoreSkip === undefined ? "gcore" : "kernel-abrt";
  registerTest(
    `greenlet core fixture=greenlet_switch python=${other.id} maker=${maker}`,
    skip ?? makerSkip(maker),
    async () => {
      const env = { PYSTACK_GREENLET_DIR: await greenletFor(other) };
      await using core = await fixtureCore(other, "greenlet_switch.py", maker, { env });
      const { doc } = await jsonRun(["core", core.path]);
      checkSwitch(doc, core.pid, core.frames);
    },
  );
}

// greenlet 3.x: Debian sid's python3-greenlet with sid's Pythons it is built for (3.14, 3.15).
for (const sid of pythons.filter((p) => p.id.endsWith("-sid") || p.id.includes("-sid-"))) {
  const found = sidGreenlet(sid);
  const skip = "reason" in found ? found : undefined;
  registerTest(
    `greenlet remote fixture=greenlet_switch python=${sid.id} greenlet=3`,
    skip,
    async () => {
      const { env } = found as Exclude<typeof found, Skip>;
      const markers = await expectedFrames("greenlet_switch.py");
      await using fixture = await startFixture(sid, "greenlet_switch.py", { env });
      const { doc } = await jsonRun(["remote", String(fixture.pid)]);
      checkSwitch(doc, fixture.pid, markers);
    },
  );
  registerTest(
    `greenlet core fixture=greenlet_switch python=${sid.id} greenlet=3 maker=kernel-abrt`,
    skip ?? makerSkip("kernel-abrt"),
    async () => {
      const { env } = found as Exclude<typeof found, Skip>;
      await using core = await fixtureCore(sid, "greenlet_switch.py", "kernel-abrt", { env });
      const { doc } = await jsonRun(["core", core.path]);
      checkSwitch(doc, core.pid, core.frames);
    },
  );
}

// ---- gevent_server.py: a StreamServer, a client, a sleeper, a waiter -----------------------

const HUB = ["hub.py", "/gevent/hub.py"] as const;

/**
 * The gevent greenlets that are suspended in both modes of `gevent_server.py`
 * (gevent 22.10's own frames between the fixture's: `recv` in `_socketcommon.py`, `sleep` in
 * `hub.py`, and the server's `_handle_and_close_when_done`).
 */
function checkGeventWorkers(doc: JsonDoc, pid: number, markers: ExpectedStacks): void {
  const greenlets = doc.greenlets ?? [];
  const spawned = greenlets.filter((g) => g.role === null);
  assert.equal(spawned.length, 4, "handler, client, sleeper, waiter");
  const recv = "recv _socketcommon.py:663";
  const cases: [string, string, [number, string][]][] = [
    ["handler", "_handle_and_close_when_done", [
      [0, "_handle_and_close_when_done baseserver.py:34"],
      [2, recv],
    ]],
    ["client", "client", [[2, recv]]],
    ["sleeper", "sleeper", [[1, `sleep ${HUB[0]}:166`]]],
    ["waiter", "waiter", []],
  ];
  for (const [stack, first, outside] of cases) {
    const g = byFirstFunction(spawned, first);
    assert.deepEqual(described(g.frames), expectedLines(markers, stack, outside), stack);
    assert.equal(g.typeName, "gevent._gevent_cgreenlet.Greenlet");
    assert.equal(g.spawnFunction, first, "spawned for the function its frames start in");
    assert.equal(g.tid, pid);
    assert.equal(g.partial, null);
  }
  assert.deepEqual(doc.threads.map((t) => t.tid), [pid], "one thread");
}

const geventSkip = greenletSkip(python, "gevent", "python3-gevent");

/** `gevent_server.py`: the hub runs the loop; main waits in gevent.sleep, suspended. */
function checkGeventHubRuns(doc: JsonDoc, pid: number, markers: ExpectedStacks): void {
  checkGeventWorkers(doc, pid, markers);
  const thread = doc.threads[0]!;
  assert.deepEqual(described(thread.frames), [`run ${HUB[0]}:647`], "the hub runs");
  assert.equal(thread.greenlet?.typeName, "Hub");
  assert.equal(thread.greenlet?.role, "hub");
  assert.ok(thread.frames[0]!.file.endsWith(HUB[1]));
  const main = (doc.greenlets ?? []).filter((g) => g.role === "main");
  assert.equal(main.length, 1, "the main greenlet is suspended");
  assert.equal(main[0]!.typeName, "greenlet.greenlet");
  assert.equal(main[0]!.tid, pid);
  // main waits in gevent.sleep, the second of the two `main:1` lines.
  assert.deepEqual(
    described(main[0]!.frames),
    expectedLines(markers, "main", [[2, `sleep ${HUB[0]}:166`]], 1),
  );
  assert.equal((doc.greenlets ?? []).length, 5, "no other greenlet (the hub runs)");
}

registerTest("greenlet remote fixture=gevent_server python=3.11-debian", geventSkip, async () => {
  const markers = await expectedFrames("gevent_server.py");
  await using fixture = await startFixture(python!, "gevent_server.py");
  const { doc } = await jsonRun(["remote", String(fixture.pid)]);
  checkGeventHubRuns(doc, fixture.pid, markers);
  const text = await runPystack(["remote", String(fixture.pid)]);
  try {
    assert.equal(text.code, 0);
    checkText(text.stdout, doc);
  } catch (error) {
    throw withRun(error, text);
  }
});

registerTest(
  "greenlet remote fixture=gevent_server mode=blocked python=3.11-debian",
  geventSkip,
  async () => {
    const markers = await expectedFrames("gevent_server.py");
    await using fixture = await startFixture(python!, "gevent_server.py", { args: ["blocked"] });
    const { doc } = await jsonRun(["remote", String(fixture.pid)]);
    checkGeventWorkers(doc, fixture.pid, markers);
    // main blocks the loop in time.sleep: it runs, and the hub is suspended.
    assert.deepEqual(described(doc.threads[0]!.frames), expectedLines(markers, "main", [], 0));
    assert.equal(doc.threads[0]!.greenlet?.role, "main", "main runs");
    const hub = (doc.greenlets ?? []).filter((g) => g.role === "hub");
    assert.equal(hub.length, 1, "the hub is suspended");
    assert.equal(hub[0]!.typeName, "Hub");
    assert.deepEqual(described(hub[0]!.frames), [`run ${HUB[0]}:647`]);
    assert.equal((doc.greenlets ?? []).length, 5, "no other greenlet (main runs)");
    const text = await runPystack(["remote", String(fixture.pid)]);
    assert.equal(text.code, 0);
    checkText(text.stdout, doc);
  },
);

registerTest(
  "greenlet core fixture=gevent_server python=3.11-debian maker=kernel-abrt",
  geventSkip ?? makerSkip("kernel-abrt"),
  async () => {
    await using core = await fixtureCore(python!, "gevent_server.py", "kernel-abrt");
    const { doc } = await jsonRun(["core", core.path]);
    checkGeventHubRuns(doc, core.pid, core.frames);
  },
);

/**
 * `--native` text of `gevent_server.py` (the hub runs): the hub's native stack starts where
 * greenlet started it (the main greenlet's C frames, below on the same C stack, are not the
 * hub's), so it merges; the suspended greenlets follow.
 */
function checkGeventNative(text: string): void {
  const [thread, ...greenlets] = text.trimEnd().split("\n\n").map((b) => b.split("\n"));
  const calls = thread!.slice(1).filter((l) => !l.startsWith("        "));
  assert.match(calls[0]!, /^ {4}\(C\) File .*, in greenlet::UserGreenlet::inner_bootstrap\(/);
  assert.match(calls[1]!, /^ {4}\(Python\) File ".*\/gevent\/hub\.py", line 647, in run$/);
  assert.match(calls.at(-1)!, /, in epoll_wait \(/);
  assert.equal(calls.filter((l) => l.includes("(Python)")).length, 1);
  assert.equal(greenlets.length, 5, "the suspended greenlets follow");
  assert.ok(greenlets.every((g) => g[0]!.startsWith("Greenlet 0x")));
}

registerTest(
  "greenlet remote --native fixture=gevent_server python=3.11-debian",
  geventSkip ?? (python === undefined ? undefined : nativeSkip(python, "live")),
  async () => {
    await using fixture = await startFixture(python!, "gevent_server.py");
    const result = await runPystack(["remote", String(fixture.pid), "--native"]);
    try {
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      checkGeventNative(result.stdout);
    } catch (error) {
      throw withRun(error, result);
    }
  },
);

registerTest(
  "greenlet core --native fixture=gevent_server python=3.11-debian maker=kernel-abrt",
  geventSkip ?? (python === undefined ? undefined : nativeSkip(python, "core")) ??
    makerSkip("kernel-abrt"),
  async () => {
    await using core = await fixtureCore(python!, "gevent_server.py", "kernel-abrt");
    const result = await runPystack(["core", core.path, "--native"]);
    try {
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      checkGeventNative(result.stdout.slice(result.stdout.indexOf("Traceback for thread")));
    } catch (error) {
      throw withRun(error, result);
    }
  },
);
