/**
 * The `--json` twin of a text run: run the same command with `--json`, check
 * that the document validates against the schema and shows the same threads
 * and frames as the text output, and (for live processes) that it meets the
 * fixture's expectations on its own.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkStacks, type StackExpectations } from "./_check_stacks.ts";
import { assertValidReport } from "./_json_schema.ts";
import {
  describeRun,
  parseTraceback,
  type PystackResult,
  runPystack,
  type Traceback,
  type TracebackThread,
} from "./_harness.ts";
import { parseCoreOutput } from "./_cores.ts";

/** What `checkJsonRun` compares. */
export interface JsonRunOptions {
  /** Environment of the run (as for the text run). */
  env?: Record<string, string>;
  /**
   * The target does not change between the two runs (a core): everything must
   * be equal, lines and statuses included. Otherwise (a live process, whose
   * running thread may have moved) the newest frame's line and the statuses
   * are not compared with the text run; `expect` checks them instead.
   */
  exact?: boolean;
  /** The fixture's expectations, checked on the JSON as on the text. */
  expect?: StackExpectations;
  /** Require an empty stderr (default true). */
  quietStderr?: boolean;
  /** The run passed `--no-block`: `target.nonBlocking` must say so (default false). */
  nonBlocking?: boolean;
}

/** The marker `--no-block` puts on the thread that held the GIL (it ran while it was read). */
export const RUNNING_MARKER =
  "    (!) Stack may be incomplete: the thread was running Python code " +
  "while it was read (--no-block); its frames may come from different moments";

/**
 * Assert that every thread holding the GIL carries the `--no-block` marker, and return
 * `traceback` without it, so that they can be checked as in a blocking run; the marker
 * anywhere else is left in place (and fails `checkStacks`).
 */
export function withoutRunningMarker(traceback: Traceback): Traceback {
  for (const thread of traceback) {
    if (thread.status.includes("Has the GIL") || thread.status.includes("Attached")) {
      assert.ok(
        thread.extra.includes(RUNNING_MARKER),
        `--no-block marks thread ${thread.tid}, which holds the GIL (or is attached)`,
      );
      thread.extra = thread.extra.filter((line) => line !== RUNNING_MARKER);
    }
  }
  return traceback;
}

/** A `--json` document, as far as the tests read it. */
export interface JsonDoc {
  target: { kind: string; pid: number; nonBlocking: boolean; core?: Record<string, unknown> };
  threads: JsonThread[];
  warnings: string[];
}

interface JsonThread {
  tid: number;
  name: string | null;
  holdsGil: boolean | null;
  threadState?: "attached" | "detached" | "suspended" | "unknown";
  gcCollecting: boolean | null;
  terminated: boolean;
  partial: string | null;
  frames: { file: string; function: string; line: number | null }[];
}

/**
 * Run `args` again with `--json` and compare it with `text`, the result of the
 * text run. Throws an assertion error that shows both runs.
 */
export async function checkJsonRun(
  args: string[],
  text: PystackResult,
  options: JsonRunOptions = {},
): Promise<JsonDoc> {
  const result = await runPystack([...args, "--json"], { env: options.env ?? {} });
  try {
    assert.equal(result.code, text.code, "--json exits like the text run");
    if (options.quietStderr ?? true) assert.equal(result.stderr, "", "nothing on stderr");
    const doc = JSON.parse(result.stdout) as JsonDoc;
    assertValidReport(doc);
    assert.equal(doc.target.nonBlocking, options.nonBlocking ?? false, "target.nonBlocking");
    const fromJson = jsonTraceback(doc);
    compareThreads(parseTraceback(text.stdout), fromJson, options.exact ?? false);
    if (options.expect) {
      const threads = options.nonBlocking ? withoutRunningMarker(fromJson) : fromJson;
      checkStacks(threads, { ...options.expect, checkSource: false });
    }
    return doc;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `--json: ${message}\n\n${describeRun(result)}\n\n--- the text run ---\n${describeRun(text)}`,
      { cause: error },
    );
  }
}

/** The document's threads in the shape `parseTraceback` gives the text output. */
export function jsonTraceback(doc: JsonDoc): Traceback {
  const threads = doc.threads.map((thread): TracebackThread => {
    const status: string[] = [];
    if (thread.terminated) status.push("Thread terminated");
    if (thread.holdsGil) status.push("Has the GIL");
    if (thread.threadState === "attached" && !thread.holdsGil) status.push("Attached");
    if (thread.threadState === "suspended") status.push("Suspended");
    if (thread.gcCollecting) status.push("Garbage collecting");
    const out: TracebackThread = {
      tid: thread.tid,
      status,
      frames: thread.frames.map((frame) => ({
        file: frame.file,
        line: frame.line ?? -1,
        func: frame.function,
      })),
      empty: thread.frames.length === 0,
      extra: thread.partial === null ? [] : [`    (!) Stack may be incomplete: ${thread.partial}`],
    };
    if (thread.name !== null) out.name = thread.name;
    return out;
  });
  return Object.assign(threads, { preamble: [] as string[] });
}

function compareThreads(text: Traceback, json: Traceback, exact: boolean): void {
  assert.deepEqual(json.map((t) => t.tid), text.map((t) => t.tid), "thread ids, in order");
  text.forEach((want, index) => {
    const got = json[index]!;
    const where = `thread ${want.tid}`;
    assert.equal(got.name, want.name, `${where}: name`);
    assert.equal(got.empty, want.empty, `${where}: empty`);
    const shape = (t: TracebackThread) => t.frames.map((f) => `${f.func} ${f.file}`);
    assert.deepEqual(shape(got), shape(want), `${where}: frames (function, file)`);
    const lines = (t: TracebackThread) =>
      (exact ? t.frames : t.frames.slice(0, -1)).map((f) => f.line);
    assert.deepEqual(lines(got), lines(want), `${where}: lines`);
    if (exact) {
      assert.deepEqual(got.status, want.status, `${where}: status`);
      assert.deepEqual(got.extra, want.extra, `${where}: partial marker`);
    }
  });
}

/** What a core's `target.core` must say beyond its header (defaults: a plain, whole core). */
export interface CoreJsonExpectations {
  /** `gzip` or `zstd`; default null. */
  compression?: string | null;
  /** Default false. */
  truncated?: boolean;
  /** Default none. */
  missingFiles?: string[];
}

/**
 * `checkJsonRun` for `pystack core`: everything equal to the text run, and
 * the core block of the document says what the text header says, field by
 * field, as parsed from the text (never through pystack's own renderer).
 */
export async function checkCoreJson(
  args: string[],
  text: PystackResult,
  expect: CoreJsonExpectations = {},
): Promise<JsonDoc> {
  const doc = await checkJsonRun(args, text, { exact: true, quietStderr: text.stderr === "" });
  try {
    assert.equal(doc.target.kind, "core", "target.kind");
    const core = doc.target.core as Record<string, unknown> | undefined;
    assert.ok(core, "target.core");
    const { header } = parseCoreOutput(text.stdout);
    assert.equal(core.path, args[1], "core.path");
    assert.equal(core.executable, header.executable, "core.executable");
    assert.equal(
      /^found in the core\b/.test(String(core.executableSource)),
      header.foundInCore,
      `core.executableSource ${core.executableSource}`,
    );
    assert.deepEqual(core.process, {
      state: header.state,
      zombie: header.zombie === "True",
      nice: header.niceness,
      pid: header.pid,
      ppid: header.ppid,
      sid: header.sid,
      uid: header.uid,
      gid: header.gid,
      pgrp: header.pgrp,
      fname: header.fname,
      psargs: header.psargs,
    }, "core.process: the header's values");
    assert.equal(doc.target.pid, header.pid, "target.pid");
    const signal = core.signal as { name: string; senderPid: number | null } | null;
    const died = /^The process died due to receiving signal (\S+)(?: sent by pid (\d+))?/
      .exec(header.failure);
    if (died) {
      assert.equal(signal?.name, died[1], "core.signal.name: the header's signal");
      assert.equal(signal?.senderPid, died[2] === undefined ? null : Number(died[2]), "senderPid");
    } else if (/taken from a running process/.test(header.failure)) {
      assert.equal(signal?.name, "SIGSTOP", "gcore stops the process: core.signal.name");
      assert.equal(signal?.senderPid, null, "core.signal.senderPid");
    }
    assert.equal(core.compression, expect.compression ?? null, "core.compression");
    assert.equal(core.truncated, expect.truncated ?? false, "core.truncated");
    assert.deepEqual(core.missingFiles, expect.missingFiles ?? [], "core.missingFiles");
    return doc;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`--json: ${message}\n\n--- the text run ---\n${describeRun(text)}`, {
      cause: error,
    });
  }
}
