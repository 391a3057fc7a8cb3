/**
 * PyStack's text format, from the model. Pure: source lines come from a
 * caller-supplied function; colour is an option.
 *
 * @module
 */

import type { PyFrame, PyThread, StackReport } from "../model.ts";
import type { NativeMode } from "../native/merge.ts";
import { gilActivity } from "../native/classify.ts";
import { nativeStackLines } from "./native_text.ts";
import { greenletLines, greenletsAfter } from "./greenlet_text.ts";

/** Options of {@linkcode renderText}. */
export interface TextOptions {
  /** ANSI colours (only for terminals). */
  color: boolean;
  /** The text of line `line` (1-based) of `file`, or undefined when unavailable. */
  sourceLine?: (file: string, line: number) => string | undefined;
  /** With a native mode: native frames merged with the Python frames (`(C)` lines). */
  native?: NativeMode;
}

const ESC = "\x1b[";
const paint = (code: number, text: string, on: boolean) =>
  on ? `${ESC}${code}m${text}${ESC}0m` : text;
const green = (t: string, on: boolean) => paint(32, t, on);
const yellow = (t: string, on: boolean) => paint(33, t, on);
const blue = (t: string, on: boolean) => paint(34, t, on);

/** The status tags of a thread, e.g. `[Has the GIL,Garbage collecting]`. */
export function threadStatus(thread: PyThread): string {
  const parts: string[] = [];
  if (thread.tid === 0) parts.push("Thread terminated");
  const gilNative = thread.holdsGil || thread.native === undefined
    ? undefined
    : gilActivity(thread.native);
  if (thread.holdsGil) parts.push("Has the GIL");
  else if (gilNative !== undefined) parts.push(gilNative);
  if (thread.gcCollecting) parts.push("Garbage collecting");
  return `[${parts.join(",")}]`;
}

/**
 * The header line of a thread block. With `--locals`, the Python thread name
 * follows the OS name, double-quoted (JSON escapes), when the two differ:
 * `Traceback for thread 7 (python3) "MainThread" [] (most recent call last):`.
 */
export function threadHeader(thread: PyThread): string {
  const name = thread.name === undefined ? " " : ` (${thread.name}) `;
  const python = thread.pythonName === undefined || thread.pythonName === thread.name
    ? ""
    : `${JSON.stringify(thread.pythonName)} `;
  return `Traceback for thread ${thread.tid}${name}${python}${
    threadStatus(thread)
  } (most recent call last):`;
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
  lines.push(...variableLines(frame));
  return lines;
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
export function threadLines(thread: PyThread, options: TextOptions): string[] {
  const lines: string[] = [];
  if (options.native !== undefined) {
    lines.push(threadHeader(thread));
    lines.push(...nativeStackLines(thread, options.native, {
      color: options.color,
      pythonLines: (frame) => frameLines(frame, options),
    }));
  } else if (thread.frames.length === 0) {
    lines.push(`The frame stack for thread ${thread.tid} is empty`);
  } else {
    lines.push(threadHeader(thread));
    for (const frame of thread.frames) lines.push(...frameLines(frame, options));
  }
  if (thread.partial !== undefined) {
    lines.push(`    (!) Stack may be incomplete: ${thread.partial}`);
  }
  return lines;
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
  const lines: string[] = [];
  const greenlets = (thread: PyThread | undefined) => {
    for (const g of greenletsAfter(report.greenlets, report.threads, thread)) {
      if (lines.length > 0) lines.push("");
      lines.push(...greenletLines(g, (frame) => frameLines(frame, options)));
    }
  };
  report.threads.forEach((thread, i) => {
    if (i > 0) lines.push("");
    lines.push(...threadLines(thread, options));
    greenlets(thread);
  });
  greenlets(undefined);
  return lines;
}
