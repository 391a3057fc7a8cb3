/**
 * Assertions on a parsed traceback against a fixture's expectations.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename, isAbsolute } from "node:path";
import type { ExpectedFrame, ExpectedStacks } from "./_markers.ts";
import type { Traceback, TracebackFrame, TracebackThread } from "./_traceback.ts";
import type { ThreadSpec } from "./_fixture_specs.ts";
import { type OsThread, REPO_ROOT } from "./_harness.ts";

/** What `checkStacks` compares the traceback with. */
export interface StackExpectations {
  /** The fixture's pid: the main thread's TID. */
  pid: number;
  /** Absolute path of the fixture script: the `file` of its frames. */
  scriptPath: string;
  /** Newest first, main last. */
  threads: ThreadSpec[];
  /** From the fixture's markers. */
  frames: ExpectedStacks;
  /**
   * The fixture's threads as `/proc` showed them right after the run: the
   * output must list exactly these TIDs with these names. Omit for output
   * that does not come from pystack (the `_dump_stacks.py` check).
   */
  osThreads?: Map<number, OsThread>;
  /** Assert the header status lists (default true). */
  checkStatus?: boolean;
  /** Assert the thread order (default true). */
  checkOrder?: boolean;
  /** Assert the frames below the main thread's first fixture frame (default true). */
  checkMainBefore?: boolean;
  /** Assert the source lines under the frames (default true; `--json` has none). */
  checkSource?: boolean;
}

/**
 * Assert that `traceback` shows exactly the fixture's threads, in order, with
 * their names, statuses, frames and source lines.
 */
export function checkStacks(traceback: Traceback, expect: StackExpectations): void {
  assert.deepEqual(traceback.preamble, [], "no output before the first thread");
  for (const thread of traceback) {
    assert.deepEqual(thread.extra, [], `no unknown lines in thread ${thread.tid}`);
    assert.equal(thread.empty, false, `thread ${thread.tid} has frames`);
  }
  const stackOf = (thread: TracebackThread) =>
    thread.tid === expect.pid ? "main" : thread.name ?? `<unnamed ${thread.tid}>`;
  const found = traceback.map(stackOf);
  const wanted = expect.threads.map((spec) => spec.stack);
  assert.deepEqual(
    [...found].sort(),
    [...wanted].sort(),
    `threads (main = the thread whose TID is the pid ${expect.pid}, others by OS name):\n` +
      summarize(traceback),
  );
  if (expect.checkOrder ?? true) {
    assert.deepEqual(found, wanted, "thread order: newest first, main thread last");
  }
  if (expect.osThreads) checkOsThreads(traceback, expect.osThreads);
  for (const spec of expect.threads) {
    const thread = traceback[found.indexOf(spec.stack)]!;
    if (expect.checkStatus ?? true) {
      assert.ok(
        spec.status.some((status) => sameList(status, thread.status)),
        `status of ${spec.stack}: got [${thread.status}], want one of ` +
          spec.status.map((status) => `[${status}]`).join(" "),
      );
    }
    const expected = expect.frames.get(spec.stack);
    assert.ok(expected, `the fixture has markers for stack ${spec.stack}`);
    const checkBefore = spec.stack !== "main" || (expect.checkMainBefore ?? true);
    checkFrames(thread, expected, {
      scriptPath: expect.scriptPath,
      ...(checkBefore ? { before: spec.before } : {}),
      after: spec.after,
    });
    if (expect.checkSource ?? true) checkSourceLines(thread);
  }
}

function checkOsThreads(traceback: Traceback, osThreads: Map<number, OsThread>): void {
  assert.deepEqual(
    traceback.map((thread) => thread.tid).sort((a, b) => a - b),
    [...osThreads.keys()].sort((a, b) => a - b),
    "the TIDs printed are the process's threads (/proc/PID/task)",
  );
  for (const thread of traceback) {
    assert.equal(
      thread.name,
      osThreads.get(thread.tid)?.name,
      `thread ${thread.tid}: the header shows /proc/PID/task/TID/comm`,
    );
  }
}

/** Which frames of a thread must match the markers, and what surrounds them. */
export interface FrameExpectations {
  /** Absolute path the fixture's own frames must show. */
  scriptPath: string;
  /** Functions of the frames before the first fixture frame; omitted: not checked. */
  before?: string[];
  /** Functions of the frames after the last fixture frame; omitted: not checked. */
  after?: string[];
}

/**
 * Assert the frames of `thread`: the frames whose file name is one of the
 * expected files are exactly `expected`, in order, with no other frame
 * between them; the frames before and after them have the given functions.
 */
export function checkFrames(
  thread: TracebackThread,
  expected: ExpectedFrame[],
  options: FrameExpectations,
): void {
  const files = new Set(expected.map((frame) => frame.file));
  const frames = thread.frames;
  const mine = frames.flatMap((frame, index) => files.has(basename(frame.file)) ? [index] : []);
  const where = `thread ${thread.tid} (${thread.name ?? "no name"})`;
  const actual = mine.map((index) => frames[index]!);
  assert.equal(
    actual.length,
    expected.length,
    `${where}: number of frames in ${[...files].join(", ")}\n` +
      `got:  ${describeFrames(actual)}\nwant: ${describeExpected(expected)}`,
  );
  expected.forEach((want, index) => {
    const got = actual[index]!;
    const label = `${where}, fixture frame ${index}: got ${describeFrame(got)}, ` +
      `want ${want.func} at ${want.file}:${want.lines.join("|")}`;
    assert.equal(got.func, want.func, label);
    assert.equal(basename(got.file), want.file, label);
    assert.ok(want.lines.includes(got.line), label);
    if (want.file === basename(options.scriptPath)) {
      assert.equal(got.file, options.scriptPath, `${label}: full path of the fixture`);
    }
  });
  const first = mine[0] ?? frames.length;
  const last = mine.at(-1) ?? frames.length - 1;
  const between = frames.slice(first, last + 1).filter((_, i) => !mine.includes(first + i));
  assert.deepEqual(between, [], `${where}: no other frame between the fixture's frames`);
  if (options.before) {
    assert.deepEqual(
      frames.slice(0, first).map((frame) => frame.func),
      options.before,
      `${where}: functions of the frames before the fixture's\n${describeFrames(frames)}`,
    );
  }
  if (options.after) {
    assert.deepEqual(
      frames.slice(last + 1).map((frame) => frame.func),
      options.after,
      `${where}: functions of the frames after the fixture's\n${describeFrames(frames)}`,
    );
  }
}

/**
 * Assert PyStack's source-line rule for every frame: when the file exists and
 * has that line, the line stripped is printed under the frame; else nothing.
 */
export function checkSourceLines(thread: TracebackThread): void {
  for (const frame of thread.frames) {
    const want = sourceLine(frame.file, frame.line);
    assert.equal(
      frame.source,
      want,
      `thread ${thread.tid}: source line under ${describeFrame(frame)}`,
    );
  }
}

const sourceCache = new Map<string, string[] | undefined>();

function sourceLine(file: string, line: number): string | undefined {
  const path = isAbsolute(file) ? file : REPO_ROOT + file;
  if (!sourceCache.has(path)) {
    let lines: string[] | undefined;
    try {
      lines = Deno.readTextFileSync(path).split(/\r\n|\r|\n/);
      if (lines.at(-1) === "") lines.pop();
    } catch {
      lines = undefined;
    }
    sourceCache.set(path, lines);
  }
  const lines = sourceCache.get(path);
  if (!lines || line < 1 || line > lines.length) return undefined;
  return lines[line - 1]!.trim();
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

function describeFrame(frame: TracebackFrame): string {
  return `${frame.func} at ${basename(frame.file)}:${frame.line}`;
}

function describeFrames(frames: TracebackFrame[]): string {
  return frames.length > 12
    ? `${frames.slice(0, 6).map(describeFrame).join(" > ")} > … (${frames.length} frames) > ` +
      frames.slice(-6).map(describeFrame).join(" > ")
    : frames.map(describeFrame).join(" > ");
}

function describeExpected(frames: ExpectedFrame[]): string {
  const all = frames.map((frame) => `${frame.func} at ${frame.file}:${frame.lines.join("|")}`);
  return all.length > 12
    ? `${all.slice(0, 6).join(" > ")} > … (${all.length} frames) > ${all.slice(-6).join(" > ")}`
    : all.join(" > ");
}

function summarize(traceback: Traceback): string {
  return traceback.map((thread) =>
    `  ${thread.tid} (${thread.name ?? "no name"}) [${thread.status}] ` +
    describeFrames(thread.frames)
  ).join("\n");
}
