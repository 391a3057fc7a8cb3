/**
 * The text lines of the exception a thread handles or raises, printed under
 * its header: `    Handling ValueError: bad input 42 (at app.py:88)`, then its
 * chain, innermost first: `      caused by …` (`__cause__`) or
 * `      while handling …` (`__context__`, or an enclosing handler's exception).
 *
 * @module
 */

import type { ExceptionValue, PyThread } from "../model.ts";
import { printable } from "../cpython/repr_format.ts";

/**
 * `ValueError: bad input 42 (at FILE:LINE)`; `ValueError` for an empty message (as Python prints
 * it); `AppError object at 0x…` when the message is not read; the marker when it is invalid.
 */
export function exceptionText(exception: ExceptionValue): string {
  const where = exception.raisedAt === undefined
    ? ""
    : ` (at ${exception.raisedAt.file}:${exception.raisedAt.line})`;
  if (exception.invalid !== undefined) return `${exception.invalid}${where}`;
  const what = exception.message === undefined
    ? `${exception.type} object at 0x${exception.address.toString(16)}`
    : exception.message === ""
    ? exception.type
    : `${exception.type}: ${printable(exception.message)}`;
  return `${what}${where}`;
}

/** The lines for `thread.exception`; none when the thread handles nothing. */
export function exceptionLines(thread: Pick<PyThread, "exception">): string[] {
  const exception = thread.exception;
  if (exception === undefined) return [];
  const state = {
    raising: "Raising",
    handling: "Handling",
    uncaught: "Uncaught",
    reported: "Last reported",
  }[exception.state];
  const lines = [`    ${state} ${exceptionText(exception)}`];
  for (const link of exception.chain) {
    const relation = link.relation === "cause" ? "caused by" : "while handling";
    lines.push(`      ${relation} ${exceptionText(link)}`);
  }
  if (exception.chainTruncated) lines.push("      ... (more linked exceptions not shown)");
  return lines;
}
