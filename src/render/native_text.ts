/**
 * Text lines of native frames, and of a thread's native and Python frames
 * merged into one stack (PyStack's format). Pure.
 *
 * @module
 */

import type { NativeFrame, PyFrame, PyThread } from "../model.ts";
import { mergeStacks, type NativeMode, UNMERGED } from "../native/merge.ts";
import { appendLines } from "./append_lines.ts";

const hex = (n: bigint) => `0x${n.toString(16)}`;

/**
 * `    (C) File "SOURCE", line N, in SYMBOL (LIBRARY)`: `???` and line 0 where
 * DWARF has no line, ` (inlined)` after an inlined call. A frame without a
 * symbol shows where it is: `LIBRARY+0xOFFSET` (the object's own address,
 * for `addr2line`), or the bare address outside any known object.
 */
export function nativeFrameLine(frame: NativeFrame, color = false): string {
  const file = frame.file ?? "???";
  const line = frame.line ?? 0;
  let symbol = frame.symbol ?? "???";
  if (frame.inlined) symbol += " (inlined)";
  let where: string;
  if (frame.symbol !== undefined) where = frame.library ?? "???";
  else if (frame.library !== undefined && frame.objectAddress !== undefined) {
    where = `${frame.library}+${hex(frame.objectAddress)}`;
  } else if (frame.library !== undefined) where = `${frame.library} at ${hex(frame.address)}`;
  else where = hex(frame.address);
  const tag = color ? "\x1b[33m(C)\x1b[0m" : "(C)";
  return `    ${tag} File "${file}", line ${line}, in ${symbol} (${where})`;
}

/**
 * The body of a thread's block in a native mode: its frames merged (or, when
 * they do not line up, the marker line and both stacks).
 */
export function nativeStackLines(
  thread: Pick<PyThread, "frames" | "native" | "merged">,
  mode: NativeMode,
  options: { color: boolean; pythonLines: (frame: PyFrame) => string[] },
): string[] {
  const lines: string[] = [];
  for (const entry of mergeStacks(thread, mode)) {
    if (entry.kind === "unmerged") lines.push(UNMERGED);
    else if (entry.kind === "python") appendLines(lines, options.pythonLines(entry.frame));
    else lines.push(nativeFrameLine(entry.frame, options.color));
  }
  return lines;
}
