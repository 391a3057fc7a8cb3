/**
 * `--json`: the model as one JSON document, described by
 * `schema/pystack-report.schema.json`, and errors as `{ "error": … }`.
 *
 * The fields the schema names are rendered deliberately (names, `null` for
 * "unknown", `bigint` addresses as `"0x…"` strings). Any other field of the
 * model (one added after this renderer was written) is rendered generically
 * under its own name, with the same conversions, so new model data shows up
 * without a change here; the schema allows such extra fields and consumers
 * must ignore the ones they do not know. `schemaVersion` changes only when a
 * promised field changes meaning or disappears.
 *
 * @module
 */

import type {
  CoreDetails,
  GreenletStack,
  NativeFrame,
  PyFrame,
  PyThread,
  StackReport,
  Variable,
} from "../model.ts";
import {
  InterruptedError,
  NoInterpreterStateError,
  NotPythonError,
  PermissionDeniedError,
  ProcessNotFoundError,
  PystackError,
  TargetExitedError,
  TimedOutError,
  UnsupportedVersionError,
  UsageError,
} from "../errors.ts";
import {
  CoreEmptyError,
  CoreFileError,
  CoreIsDirectoryError,
  CoreNotesError,
  CoreNotFoundError,
  CoreNotRegularFileError,
  CoreUnreadableError,
  NotCoreError,
  NotElfError,
  WrongArchitectureError,
} from "../core/core_errors.ts";
import { VERSION } from "../version.ts";
import { tasksJson } from "./tasks_json.ts";

/** The version of the document's shape; bumped when a promised field changes or goes. */
export const SCHEMA_VERSION = 1;

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The top level of a `--json` report. */
export interface JsonReport {
  schemaVersion: number;
  tool: { name: "pystack"; version: string };
  target: JsonTarget;
  /** In the order the text output prints them: newest first, the main thread last. */
  threads: JsonThread[];
  warnings: string[];
  [extra: string]: Json;
}

/** What was inspected. */
export interface JsonTarget {
  kind: "process" | "core";
  pid: number;
  pythonVersion: string;
  executable: string | null;
  foundBy: string;
  nonBlocking: boolean;
  /** Only for cores. */
  core?: { [key: string]: Json };
  [extra: string]: Json;
}

/** One thread. */
export interface JsonThread {
  tid: number;
  name: string | null;
  threadStateAddress: string;
  interpreterId: number;
  holdsGil: boolean | null;
  /** Free-threaded builds only: attached, detached, suspended or unknown. */
  threadState?: "attached" | "detached" | "suspended" | "unknown";
  gcCollecting: boolean | null;
  /** The thread finished but was not joined (tid 0). */
  terminated: boolean;
  /** The thread is being started (see `PyThread.starting`); absent otherwise. */
  starting?: true;
  /** Why the stack may be incomplete, or null. */
  partial: string | null;
  /** Oldest first. */
  frames: JsonFrame[];
  [extra: string]: Json;
}

/** One Python frame. */
export interface JsonFrame {
  file: string;
  function: string;
  line: number | null;
  endLine: number | null;
  column: number | null;
  endColumn: number | null;
  isEntry: boolean;
  frameAddress: string;
  codeAddress: string;
  [extra: string]: Json;
}

/** `{ "error": … }`: what `--json` prints when pystack fails. */
export interface JsonErrorDocument {
  schemaVersion: number;
  tool: { name: "pystack"; version: string };
  error: { code: string; message: string; hint: string | null; exitCode: number };
}

/** Options of {@linkcode renderJson}. */
export interface JsonOptions {
  /** Spaces of indentation; 0 prints the document on one line (default 2). */
  indent?: number;
}

/** `0x…` for an address. */
function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * Any model value as JSON: bigint as `"0x…"`, `undefined` members dropped,
 * non-finite numbers as null, functions and symbols dropped.
 */
export function jsonValue(value: unknown): Json | undefined {
  switch (typeof value) {
    case "bigint":
      return hex(value);
    case "number":
      return Number.isFinite(value) ? value : null;
    case "string":
    case "boolean":
      return value;
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((item) => jsonValue(item) ?? null);
  if (value instanceof Map) return jsonValue(Object.fromEntries(value));
  if (value instanceof Set) return jsonValue([...value]);
  const out: { [key: string]: Json } = {};
  for (const [key, item] of Object.entries(value as object)) {
    const converted = jsonValue(item);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

/** `known`, then every member of `source` not in `consumed` nor in `known`, converted generically. */
function withExtras<T extends object>(known: T, source: object, consumed: readonly string[]): T {
  const out = known as Record<string, unknown>;
  for (const [key, item] of Object.entries(source)) {
    if (consumed.includes(key) || key in out) continue;
    const converted = jsonValue(item);
    if (converted !== undefined) out[key] = converted;
  }
  return known;
}

/** A location value: the model's negative "not recorded" as null. */
function position(value: number): number | null {
  return value < 0 ? null : value;
}

function variableJson(variable: Variable): Json {
  return withExtras(
    { name: variable.name, value: variable.value, argument: variable.argument },
    variable,
    [],
  );
}

/** One Python frame as JSON. */
export function frameJson(frame: PyFrame): JsonFrame {
  const loc = frame.location;
  const out: JsonFrame = {
    file: frame.file,
    function: frame.function,
    line: position(loc.line),
    endLine: position(loc.endLine),
    column: position(loc.column),
    endColumn: position(loc.endColumn),
    isEntry: frame.isEntry,
    frameAddress: hex(frame.frameAddress),
    codeAddress: hex(frame.codeAddress),
  };
  if (frame.variables !== undefined) out.variables = frame.variables.map(variableJson);
  return withExtras(out, frame, ["location", "variables"]);
}

/** One native frame as JSON. */
export function nativeJson(frame: NativeFrame): Json {
  return withExtras(
    {
      address: hex(frame.address),
      symbol: frame.symbol ?? null,
      library: frame.library ?? null,
      file: frame.file ?? null,
      line: frame.line ?? null,
      inlined: frame.inlined,
    },
    frame,
    [],
  );
}

function threadJson(thread: PyThread): JsonThread {
  const out: JsonThread = {
    tid: thread.tid,
    name: thread.name ?? null,
    threadStateAddress: hex(thread.threadStateAddress),
    interpreterId: thread.interpreterId,
    holdsGil: thread.holdsGil ?? null,
    ...(thread.threadState === undefined ? {} : { threadState: thread.threadState }),
    gcCollecting: thread.gcCollecting ?? null,
    terminated: thread.tid === 0 && thread.starting === undefined,
    partial: thread.partial ?? null,
    frames: thread.frames.map(frameJson),
  };
  if (thread.pythonName !== undefined) out.pythonName = thread.pythonName;
  if (thread.starting) out.starting = true;
  if (thread.native !== undefined) out.native = thread.native.map(nativeJson);
  return withExtras(out, thread, ["frames", "native"]);
}

function greenletJson(stack: GreenletStack): Json {
  return withExtras(
    {
      address: hex(stack.address),
      typeName: stack.typeName,
      role: stack.role ?? null,
      tid: stack.tid,
      partial: stack.partial ?? null,
      frames: stack.frames.map(frameJson),
    },
    stack,
    [],
  );
}

function coreJson(core: CoreDetails): { [key: string]: Json } {
  const signal = core.signal;
  return withExtras(
    {
      path: core.path,
      executable: core.executable,
      executableSource: core.executableSource,
      process: core.process === undefined ? null : jsonValue(core.process) ?? null,
      signal: signal === undefined ? null : withExtras(
        {
          number: signal.number,
          name: signal.name,
          code: signal.code,
          senderPid: signal.senderPid ?? null,
          senderUid: signal.senderUid ?? null,
          faultAddress: signal.faultAddress === undefined ? null : hex(signal.faultAddress),
          faultMapping: signal.faultMapping ?? null,
        },
        signal,
        [],
      ),
      truncated: core.truncated,
      compression: core.compression ?? null,
      missingFiles: [...core.missingFiles],
    },
    core,
    [],
  );
}

/**
 * The report as a plain JSON value (what {@linkcode renderJson} prints).
 *
 * @example Addresses become hex strings; unknown values become null
 * ```ts
 * import { toJsonReport } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * const doc = toJsonReport({
 *   pid: 42,
 *   pythonVersion: "3.12.1",
 *   foundBy: "symbols",
 *   nonBlocking: false,
 *   warnings: [],
 *   threads: [{
 *     tid: 42,
 *     threadStateAddress: 0x7f00n,
 *     interpreterId: 0,
 *     holdsGil: true,
 *     gcCollecting: undefined,
 *     frames: [{
 *       file: "/app/main.py",
 *       function: "<module>",
 *       location: { line: 3, endLine: 3, column: -1, endColumn: -1 },
 *       isEntry: true,
 *       frameAddress: 0x1000n,
 *       codeAddress: 0x2000n,
 *     }],
 *   }],
 * });
 * assert.equal(doc.target.kind, "process");
 * assert.equal(doc.threads[0]!.threadStateAddress, "0x7f00");
 * assert.equal(doc.threads[0]!.gcCollecting, null);
 * assert.equal(doc.threads[0]!.frames[0]!.column, null);
 * ```
 */
export function toJsonReport(report: StackReport): JsonReport {
  const target: JsonTarget = {
    kind: report.core === undefined ? "process" : "core",
    pid: report.pid,
    pythonVersion: report.pythonVersion,
    executable: report.executable ?? null,
    foundBy: report.foundBy,
    nonBlocking: report.nonBlocking,
  };
  if (report.core !== undefined) target.core = coreJson(report.core);
  const doc: JsonReport = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: "pystack", version: VERSION },
    target,
    threads: report.threads.map(threadJson),
    warnings: [...report.warnings],
  };
  if (report.greenlets !== undefined) doc.greenlets = report.greenlets.map(greenletJson);
  if (report.tasks !== undefined) doc.tasks = tasksJson(report.tasks) as unknown as Json;
  return withExtras(doc, report, [
    "pid",
    "pythonVersion",
    "executable",
    "foundBy",
    "nonBlocking",
    "core",
  ]);
}

/**
 * The report as the lines of one JSON document (`pystack … --json`).
 *
 * @example Render a report and read it back
 * ```ts
 * import { renderJson, type StackReport } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * const report: StackReport = {
 *   pid: 7,
 *   pythonVersion: "3.11.7",
 *   foundBy: "symbols",
 *   nonBlocking: false,
 *   warnings: [],
 *   threads: [],
 * };
 * const doc = JSON.parse(renderJson(report).join("\n"));
 * assert.equal(doc.schemaVersion, 1);
 * assert.equal(doc.target.pid, 7);
 * assert.equal(renderJson(report, { indent: 0 }).length, 1);
 * ```
 */
export function renderJson(report: StackReport, options: JsonOptions = {}): string[] {
  return stringify(toJsonReport(report), options);
}

function stringify(value: unknown, options: JsonOptions): string[] {
  const indent = options.indent ?? 2;
  return JSON.stringify(value, null, indent > 0 ? indent : undefined).split("\n");
}

/** The `code` of each error class, as `--json` reports it. Stable: scripts match on these. */
export const ERROR_CODES: ReadonlyMap<abstract new (...args: never[]) => Error, string> = new Map<
  abstract new (...args: never[]) => Error,
  string
>([
  [PystackError, "failure"],
  [UsageError, "usage"],
  [ProcessNotFoundError, "process_not_found"],
  [PermissionDeniedError, "permission_denied"],
  [NotPythonError, "not_python"],
  [NoInterpreterStateError, "not_python"],
  [UnsupportedVersionError, "unsupported_version"],
  [TargetExitedError, "target_exited"],
  [InterruptedError, "interrupted"],
  [TimedOutError, "timed_out"],
  [CoreFileError, "bad_core"],
  [CoreNotFoundError, "core_not_found"],
  [CoreUnreadableError, "core_unreadable"],
  [CoreIsDirectoryError, "core_is_directory"],
  [CoreEmptyError, "core_empty"],
  [CoreNotRegularFileError, "core_not_regular_file"],
  [NotElfError, "core_not_elf"],
  [NotCoreError, "not_a_core"],
  [WrongArchitectureError, "wrong_architecture"],
  [CoreNotesError, "bad_core_notes"],
]);

/**
 * The stable code of an error: from {@linkcode ERROR_CODES} for the classes
 * listed there; for another {@linkcode PystackError} subclass, its class name
 * in snake case without `Error` (`LibdwMissingError` gives `libdw_missing`);
 * `internal_error` for anything else.
 *
 * @example
 * ```ts
 * import { errorCode, ProcessNotFoundError } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errorCode(new ProcessNotFoundError(99999999)), "process_not_found");
 * assert.equal(errorCode(new TypeError("bug")), "internal_error");
 * ```
 */
export function errorCode(error: unknown): string {
  if (!(error instanceof PystackError)) return "internal_error";
  const known = ERROR_CODES.get(error.constructor as abstract new (...args: never[]) => Error);
  if (known !== undefined) return known;
  const name = error.name.replace(/\d+$/, "").replace(/Error$/, "");
  const snake = name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  return snake === "" || snake === "pystack" ? "failure" : snake;
}

/**
 * What `--json` prints for a failure: `{ "error": { code, message, hint, exitCode } }`.
 *
 * @example
 * ```ts
 * import { toJsonError, UsageError } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * const doc = toJsonError(new UsageError("Missing the PID to inspect", "usage: pystack remote PID"));
 * assert.deepEqual(doc.error, {
 *   code: "usage",
 *   message: "Missing the PID to inspect",
 *   hint: "usage: pystack remote PID",
 *   exitCode: 2,
 * });
 * ```
 */
export function toJsonError(error: unknown): JsonErrorDocument {
  const isOurs = error instanceof PystackError;
  const message = error instanceof Error ? error.message : String(error);
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: "pystack", version: VERSION },
    error: {
      code: errorCode(error),
      message: isOurs ? message : `internal error: ${message.split("\n")[0]}`,
      hint: isOurs
        ? error.hint ?? null
        : "please report it with the output of 'pystack -vv' (PYSTACK_DEBUG=1 shows the trace)",
      exitCode: isOurs ? error.exitCode : 1,
    },
  };
}

/** {@linkcode toJsonError} as the lines of one JSON document. */
export function renderJsonError(error: unknown, options: JsonOptions = {}): string[] {
  return stringify(toJsonError(error), options);
}
