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
import { coreHeaderLines } from "../src/render/core_header.ts";
import type { CoreDetails } from "../src/model.ts";

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
}

/** A `--json` document, as far as the tests read it. */
export interface JsonDoc {
  target: { kind: string; pid: number; core?: Record<string, unknown> };
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
    const fromJson = jsonTraceback(doc);
    compareThreads(parseTraceback(text.stdout), fromJson, options.exact ?? false);
    if (options.expect) checkStacks(fromJson, { ...options.expect, checkSource: false });
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

/**
 * `checkJsonRun` for `pystack core`: everything equal to the text run, and
 * the core block of the document printed as the text header gives the text
 * output's header (executable, process information, how it ended).
 */
export async function checkCoreJson(args: string[], text: PystackResult): Promise<JsonDoc> {
  const doc = await checkJsonRun(args, text, { exact: true });
  try {
    assert.equal(doc.target.kind, "core", "target.kind");
    const core = doc.target.core;
    assert.ok(core, "target.core");
    const details = coreDetailsOf(core);
    const header = coreHeaderLines(details).filter((line) => line !== ""); // as parsed
    const preamble = parseTraceback(text.stdout).preamble;
    assert.deepEqual(preamble.slice(0, header.length), header, "the core header, from the JSON");
    if (details.process) assert.equal(doc.target.pid, details.process.pid, "target.pid");
    return doc;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`--json: ${message}\n\n--- the text run ---\n${describeRun(text)}`, {
      cause: error,
    });
  }
}

/** The model's `CoreDetails` back from the document (null as absent, hex as bigint). */
function coreDetailsOf(core: Record<string, unknown>): CoreDetails {
  const absent = (value: unknown) => value === null ? undefined : value;
  const signal = core.signal as Record<string, unknown> | null;
  const details = {
    ...core,
    process: absent(core.process),
    compression: absent(core.compression),
    signal: signal === null ? undefined : {
      ...signal,
      senderPid: absent(signal.senderPid),
      senderUid: absent(signal.senderUid),
      faultAddress: signal.faultAddress === null
        ? undefined
        : BigInt(signal.faultAddress as string),
      faultMapping: absent(signal.faultMapping),
    },
  };
  return details as unknown as CoreDetails;
}
