/**
 * PyStack's text format, from the model. Pure: source lines come from a
 * caller-supplied function; colour is an option.
 *
 * @module
 */

import { lockSummaryLines, threadLockLines } from "./locks_text.ts";
import type { InterpreterInfo, InterpreterPart, PyFrame, PyThread, StackReport } from "../model.ts";
import type { NativeMode } from "../native/merge.ts";
import { gilActivity } from "../native/classify.ts";
import { nativeStackLines } from "./native_text.ts";
import { greenletLines, greenletsAfter } from "./greenlet_text.ts";
import { exceptionLines } from "./exception_text.ts";
import { taskTreeLines } from "./tasks_text.ts";
import { appendLines } from "./append_lines.ts";

/** Options of {@linkcode renderText}. */
export interface TextOptions {
  /** ANSI colours (only for terminals). */
  color: boolean;
  /** The text of line `line` (1-based) of `file`, or undefined when unavailable. */
  sourceLine?: (file: string, line: number) => string | undefined;
  /** With a native mode: native frames merged with the Python frames (`(C)` lines). */
  native?: NativeMode;
  /**
   * The process runs several interpreters: each thread's header is followed by one
   * `In the main interpreter [STATUS]` / `In interpreter N [STATUS]` line before the frames of
   * each interpreter, and the status moves there (PyStack's format). {@linkcode renderText}
   * sets it when the threads belong to more than one interpreter.
   */
  interpreterSections?: boolean;
  /**
   * Interpreters being finalized or still being created, by id: their lines say so
   * ({@linkcode renderText} takes them from the report).
   */
  interpreterStates?: ReadonlyMap<number, NonNullable<InterpreterInfo["state"]>>;
}

/** How an interpreter's state is said after its line. */
const STATE_TEXT = { finalizing: "being finalized", initializing: "still being created" } as const;

const ESC = "\x1b[";
const paint = (code: number, text: string, on: boolean) =>
  on ? `${ESC}${code}m${text}${ESC}0m` : text;
const green = (t: string, on: boolean) => paint(32, t, on);
const yellow = (t: string, on: boolean) => paint(33, t, on);
const blue = (t: string, on: boolean) => paint(34, t, on);

/** The status tags of a thread, e.g. `[Has the GIL,Garbage collecting]`. */
export function threadStatus(
  thread: Pick<
    PyThread,
    "tid" | "holdsGil" | "gcCollecting" | "native" | "threadState" | "crashed" | "starting"
  >,
): string {
  const parts: string[] = [];
  if (thread.crashed !== undefined) parts.push(`Crashed: ${thread.crashed}`);
  if (thread.starting) parts.push("Thread starting: not running yet");
  else if (thread.tid === 0) parts.push("Thread terminated");
  const gilNative = thread.holdsGil || thread.native === undefined
    ? undefined
    : gilActivity(thread.native);
  if (thread.holdsGil) parts.push("Has the GIL");
  else if (gilNative !== undefined) parts.push(gilNative);
  // Free-threaded builds: the thread states that matter (a detached one shows nothing).
  if (thread.threadState === "attached" && !thread.holdsGil) parts.push("Attached");
  if (thread.threadState === "suspended") parts.push("Suspended");
  if (thread.gcCollecting) parts.push("Garbage collecting");
  return `[${parts.join(",")}]`;
}

/** The parts of `thread`, one per interpreter it runs code of, outermost first. */
export function interpreterParts(thread: PyThread): InterpreterPart[] {
  return thread.interpreters ?? [{
    interpreterId: thread.interpreterId,
    threadStateAddress: thread.threadStateAddress,
    holdsGil: thread.holdsGil,
    gcCollecting: thread.gcCollecting,
    frameCount: thread.frames.length,
    ...(thread.threadState === undefined ? {} : { threadState: thread.threadState }),
  }];
}

/**
 * `  In the main interpreter [STATUS]`, `  In interpreter N [STATUS]`, or for a
 * thread without Python (`--native-all`) `  Not currently attached to any interpreter []`.
 * The GIL activity read from native frames belongs to the innermost part.
 */
export function interpreterLine(
  thread: PyThread,
  part: InterpreterPart,
  innermost: boolean,
  state?: NonNullable<InterpreterInfo["state"]>,
): string {
  const status = threadStatus({
    tid: thread.tid,
    holdsGil: part.holdsGil,
    gcCollecting: part.gcCollecting,
    ...(part.threadState === undefined ? {} : { threadState: part.threadState }),
    ...(innermost && thread.native !== undefined ? { native: thread.native } : {}),
    ...(innermost && thread.crashed !== undefined ? { crashed: thread.crashed } : {}),
  });
  const where = part.interpreterId < 0
    ? "Not currently attached to any interpreter"
    : part.interpreterId === 0
    ? "In the main interpreter"
    : `In interpreter ${part.interpreterId}`;
  return `  ${where} ${status}${state === undefined ? "" : ` (${STATE_TEXT[state]})`}`;
}

/** Whether the threads of `threads` belong to more than one interpreter. */
export function hasSeveralInterpreters(threads: readonly PyThread[]): boolean {
  const ids = new Set<number>();
  for (const t of threads) {
    for (const p of interpreterParts(t)) if (p.interpreterId >= 0) ids.add(p.interpreterId);
  }
  return ids.size > 1;
}

/**
 * The header line of a thread block. With `--locals`, the Python thread name
 * follows the OS name, double-quoted (JSON escapes), when the two differ:
 * `Traceback for thread 7 (python3) "MainThread" [] (most recent call last):`.
 */
export function threadHeader(thread: PyThread, withStatus = true): string {
  const name = thread.name === undefined ? " " : ` (${thread.name}) `;
  const python = thread.pythonName === undefined || thread.pythonName === thread.name
    ? ""
    : `${JSON.stringify(thread.pythonName)} `;
  const status = withStatus ? `${threadStatus(thread)} ` : "";
  return `Traceback for thread ${thread.tid}${name}${python}${status}(most recent call last):`;
}

/** `--locals` lines of a frame: `Arguments:` then `Locals:`, one `name: value` each. */
export function variableLines(frame: PyFrame): string[] {
  const lines: string[] = [];
  for (const [title, argument] of [["Arguments:", true], ["Locals:", false]] as const) {
    const group = (frame.variables ?? []).filter((v) => v.argument === argument);
    if (group.length === 0) continue;
    lines.push(`      ${title}`);
    for (const v of group) lines.push(`        ${v.name}: ${v.value}`);
  }
  return lines;
}

/** Lines for one Python frame: the location line and, when available, its source. */
export function frameLines(frame: PyFrame, options: TextOptions): string[] {
  const { color } = options;
  const loc = frame.location;
  const lines = [
    `    ${green("(Python)", color)} File "${frame.file}", line ${loc.line}, in ${
      yellow(frame.function, color)
    }`,
  ];
  const source = loc.line > 0 ? options.sourceLine?.(frame.file, loc.line) : undefined;
  if (source !== undefined) lines.push(`        ${highlight(source, frame, color).trim()}`);
  return appendLines(lines, variableLines(frame));
}

/** Colours the running expression's column range (UTF-8 byte offsets) in `line`. */
function highlight(line: string, frame: PyFrame, color: boolean): string {
  const { column, endColumn, endLine, line: start } = frame.location;
  if (!color || column < 0) return line;
  const bytes = new TextEncoder().encode(line);
  const end = endLine !== start || endColumn < 0 ? bytes.length : Math.min(endColumn, bytes.length);
  if (column >= end) return line;
  const dec = new TextDecoder();
  return dec.decode(bytes.subarray(0, column)) +
    blue(dec.decode(bytes.subarray(column, end)), true) +
    dec.decode(bytes.subarray(end));
}

/** Lines for one thread. */
export function threadLines(
  thread: PyThread,
  options: TextOptions,
  threads: readonly PyThread[] = [thread],
): string[] {
  const [header, ...body] = threadBodyLines(thread, options);
  if (header === undefined) return [];
  // `--locks`: what the thread waits for and holds, under its header.
  return appendLines(appendLines([header], threadLockLines(thread, threads)), body);
}

function threadBodyLines(thread: PyThread, options: TextOptions): string[] {
  if (options.interpreterSections) return sectionedThreadLines(thread, options);
  const lines: string[] = [];
  if (options.native !== undefined) {
    lines.push(threadHeader(thread), ...exceptionLines(thread));
    appendLines(
      lines,
      nativeStackLines(thread, options.native, {
        color: options.color,
        pythonLines: (frame) => frameLines(frame, options),
      }),
    );
  } else if (thread.frames.length === 0) {
    lines.push(
      thread.starting
        ? "The frame stack for thread 0 is empty: the thread is starting, not running yet"
        : `The frame stack for thread ${thread.tid} is empty`,
      ...exceptionLines(thread),
    );
  } else {
    lines.push(threadHeader(thread), ...exceptionLines(thread));
    for (const frame of thread.frames) appendLines(lines, frameLines(frame, options));
  }
  return appendLines(lines, partialLines(thread, options));
}

/** The `(!)` lines of a thread whose Python stack, or native stack (when shown), may be cut. */
function partialLines(thread: PyThread, options: TextOptions): string[] {
  const lines: string[] = [];
  if (thread.partial !== undefined) {
    lines.push(`    (!) Stack may be incomplete: ${thread.partial}`);
  }
  if (options.native !== undefined && thread.nativePartial !== undefined) {
    lines.push(`    (!) Native stack may be incomplete: ${thread.nativePartial}`);
  }
  return lines;
}

/**
 * Lines for one thread of a process with several interpreters: the header
 * without status, then each interpreter's line before the first of its frames
 * (in a merged native stack, before the evaluation-loop call that runs them:
 * the native frames between two parts belong to the outer one).
 */
function sectionedThreadLines(thread: PyThread, options: TextOptions): string[] {
  const parts = interpreterParts(thread);
  const lines = [threadHeader(thread, false), ...exceptionLines(thread)];
  // The part each frame starts, by the frame's index.
  const starts = new Map<PyFrame, number>();
  let index = 0;
  parts.forEach((part, i) => {
    const first = thread.frames[index];
    if (i > 0 && part.frameCount > 0 && first !== undefined) starts.set(first, i);
    index += part.frameCount;
  });
  const shown = new Set<number>([0]);
  const line = (i: number) =>
    interpreterLine(
      thread,
      parts[i]!,
      i === parts.length - 1,
      options.interpreterStates?.get(parts[i]!.interpreterId),
    );
  lines.push(line(0));
  const pythonLines = (frame: PyFrame): string[] => {
    const i = starts.get(frame);
    if (i === undefined || shown.has(i)) return frameLines(frame, options);
    shown.add(i);
    return [line(i), ...frameLines(frame, options)];
  };
  if (options.native !== undefined) {
    appendLines(
      lines,
      nativeStackLines(thread, options.native, { color: options.color, pythonLines }),
    );
  } else {
    for (const frame of thread.frames) appendLines(lines, pythonLines(frame));
  }
  // Parts without frames (a thread state that runs nothing) come last.
  parts.forEach((_, i) => {
    if (!shown.has(i)) lines.push(line(i));
  });
  return appendLines(lines, partialLines(thread, options));
}

/**
 * The whole report: threads in order, separated by blank lines.
 *
 * @example PyStack's format
 * ```ts
 * import { renderText, type StackReport } from "@pystack/pystack";
 * import assert from "node:assert/strict";
 *
 * const report: StackReport = {
 *   pid: 7,
 *   pythonVersion: "3.12.1",
 *   foundBy: "symbols",
 *   nonBlocking: false,
 *   warnings: [],
 *   threads: [{
 *     tid: 7,
 *     name: "python3",
 *     threadStateAddress: 0x10n,
 *     interpreterId: 0,
 *     holdsGil: true,
 *     gcCollecting: false,
 *     frames: [{
 *       file: "/app/main.py",
 *       function: "<module>",
 *       location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
 *       isEntry: true,
 *       frameAddress: 0x20n,
 *       codeAddress: 0x30n,
 *     }],
 *   }],
 * };
 * assert.deepEqual(renderText(report, { color: false }), [
 *   "Traceback for thread 7 (python3) [Has the GIL] (most recent call last):",
 *   '    (Python) File "/app/main.py", line 1, in <module>',
 * ]);
 * ```
 */
export function renderText(report: StackReport, options: TextOptions): string[] {
  if (options.interpreterSections === undefined && hasSeveralInterpreters(report.threads)) {
    options = { ...options, interpreterSections: true };
  }
  const states = (report.interpreters ?? []).filter((i) => i.state !== undefined);
  if (options.interpreterStates === undefined && states.length > 0) {
    options = { ...options, interpreterStates: new Map(states.map((i) => [i.id, i.state!])) };
  }
  const lines: string[] = [];
  const greenlets = (thread: PyThread | undefined) => {
    for (const g of greenletsAfter(report.greenlets, report.threads, thread)) {
      if (lines.length > 0) lines.push("");
      appendLines(lines, greenletLines(g, (frame) => frameLines(frame, options)));
    }
  };
  report.threads.forEach((thread, i) => {
    if (i > 0) lines.push("");
    appendLines(lines, threadLines(thread, options, report.threads));
    greenlets(thread);
  });
  greenlets(undefined);
  appendLines(lines, lockSummaryLines(report));
  if (report.tasks !== undefined) appendLines(lines, taskTreeLines(report.tasks));
  return lines;
}
