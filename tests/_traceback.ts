/**
 * Parser for PyStack's text output (reference §2), colour off.
 *
 * @module
 */

/** One `(Python)` frame line, with the source line printed under it if any. */
export interface TracebackFrame {
  file: string;
  line: number;
  func: string;
  /** The text after the 8-space indent of the line that follows the frame. */
  source?: string;
}

/** One thread: a header line and its frames, or a "frame stack … is empty" line. */
export interface TracebackThread {
  tid: number;
  /** The OS thread name in parentheses, absent when the header has none. */
  name?: string;
  /** The comma-separated parts inside the brackets: `[]` gives `[]`. */
  status: string[];
  /** Oldest first, as printed. */
  frames: TracebackFrame[];
  /** True for `The frame stack for thread TID is empty`. */
  empty: boolean;
  /** Lines of this thread the parser does not know (native frames, locals, interpreter lines). */
  extra: string[];
}

/** The threads in printed order, plus the lines printed before the first thread. */
export type Traceback = TracebackThread[] & { preamble: string[] };

const HEADER =
  /^Traceback for thread (\d+)(?: \((.*)\))?(?: \[([^\]]*)\])? \(most recent call last\):$/;
const EMPTY = /^The frame stack for thread (\d+) is empty$/;
const FRAME = /^ {4}\(Python\) File "(.*)", line (\d+), in (.*)$/;
const SOURCE_INDENT = " ".repeat(8);

/**
 * Parse `pystack remote`/`core` output. Never throws: lines it does not know
 * are kept in the `extra` list of the thread they appear in, or in `preamble`
 * before the first thread.
 *
 * @example
 * ```ts
 * const [thread] = parseTraceback(
 *   'Traceback for thread 7 (python3.12) [Has the GIL] (most recent call last):\n' +
 *     '    (Python) File "/x.py", line 3, in f\n' +
 *     "        f()\n",
 * );
 * // thread.frames[0] is { file: "/x.py", line: 3, func: "f", source: "f()" }
 * ```
 */
export function parseTraceback(text: string): Traceback {
  const threads = Object.assign([] as TracebackThread[], { preamble: [] as string[] });
  let current: TracebackThread | undefined;
  let lastFrame: TracebackFrame | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const frameBefore = lastFrame;
    lastFrame = undefined;
    if (line === "") continue; // the separator between threads
    const header = HEADER.exec(line);
    if (header) {
      current = {
        tid: Number(header[1]),
        ...(header[2] !== undefined ? { name: header[2] } : {}),
        status: header[3] ? header[3].split(",") : [],
        frames: [],
        empty: false,
        extra: [],
      };
      threads.push(current);
      continue;
    }
    const empty = EMPTY.exec(line);
    if (empty) {
      current = { tid: Number(empty[1]), status: [], frames: [], empty: true, extra: [] };
      threads.push(current);
      continue;
    }
    if (!current) {
      threads.preamble.push(line);
      continue;
    }
    const frame = FRAME.exec(line);
    if (frame) {
      lastFrame = { file: frame[1]!, line: Number(frame[2]), func: frame[3]! };
      current.frames.push(lastFrame);
    } else if (frameBefore && line.startsWith(SOURCE_INDENT)) {
      frameBefore.source = line.slice(SOURCE_INDENT.length);
    } else {
      current.extra.push(line);
    }
  }
  return threads;
}
