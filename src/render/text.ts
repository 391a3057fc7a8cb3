/**
 * PyStack's text format, from the model. Pure: source lines come from a
 * caller-supplied function; colour is an option.
 *
 * @module
 */

import type { PyFrame, PyThread, StackReport } from "../model.ts";

/** Options of {@linkcode renderText}. */
export interface TextOptions {
  /** ANSI colours (only for terminals). */
  color: boolean;
  /** The text of line `line` (1-based) of `file`, or undefined when unavailable. */
  sourceLine?: (file: string, line: number) => string | undefined;
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
  if (thread.holdsGil) parts.push("Has the GIL");
  if (thread.gcCollecting) parts.push("Garbage collecting");
  return `[${parts.join(",")}]`;
}

/** The header line of a thread block. */
export function threadHeader(thread: PyThread): string {
  const name = thread.name === undefined ? " " : ` (${thread.name}) `;
  return `Traceback for thread ${thread.tid}${name}${
    threadStatus(thread)
  } (most recent call last):`;
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
  if (thread.frames.length === 0) {
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

/** The whole report: threads in order, separated by blank lines. */
export function renderText(report: StackReport, options: TextOptions): string[] {
  const lines: string[] = [];
  report.threads.forEach((thread, i) => {
    if (i > 0) lines.push("");
    lines.push(...threadLines(thread, options));
  });
  return lines;
}
