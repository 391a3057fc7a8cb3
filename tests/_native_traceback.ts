/**
 * Reading the output of a native mode: `parseTraceback` plus, per thread,
 * the `(C)` lines and the order of Python and native frames.
 *
 * @module
 */
import {
  parseTraceback,
  type Traceback,
  type TracebackFrame,
  type TracebackThread,
} from "./_traceback.ts";

/** One `(C)` line: `    (C) File "FILE", line N, in FUNC (LIBRARY)`. */
export interface TracebackNative {
  file: string;
  line: number;
  /** The symbol, without the ` (inlined)` suffix. */
  func: string;
  library: string;
  inlined: boolean;
}

/** A thread of a native mode's output. */
export interface NativeThread extends TracebackThread {
  /** Python and native frames in printed order, oldest first. */
  stack: (TracebackFrame | TracebackNative)[];
}

const NATIVE = /^ {4}\(C\) File "(.*)", line (\d+), in (.*) \(([^()]*)\)$/;
const HEADER = /^(Traceback for thread |The frame stack for thread )/;

/** Whether `entry` is a native frame. */
export function isNative(entry: TracebackFrame | TracebackNative): entry is TracebackNative {
  return "library" in entry;
}

/**
 * Parse native-mode output: the threads of `parseTraceback`, with the `(C)`
 * lines taken out of `extra` and every frame in `stack`, in printed order.
 */
export function parseNativeTraceback(text: string): NativeThread[] & Pick<Traceback, "preamble"> {
  const parsed = parseTraceback(text);
  const blocks: string[][] = [];
  for (const line of text.split("\n")) {
    if (HEADER.test(line)) blocks.push([]);
    blocks.at(-1)?.push(line);
  }
  const threads = parsed.map((thread, i): NativeThread => {
    const pythonFrames = [...thread.frames];
    const stack: NativeThread["stack"] = [];
    for (const line of blocks[i] ?? []) {
      const native = NATIVE.exec(line);
      if (native) {
        const func = native[3]!;
        const inlined = func.endsWith(" (inlined)");
        stack.push({
          file: native[1]!,
          line: Number(native[2]),
          func: inlined ? func.slice(0, -" (inlined)".length) : func,
          library: native[4]!,
          inlined,
        });
      } else if (line.startsWith("    (Python) File ")) {
        const frame = pythonFrames.shift();
        if (frame) stack.push(frame);
      }
    }
    return { ...thread, extra: thread.extra.filter((l) => !NATIVE.test(l)), stack };
  });
  return Object.assign(threads, { preamble: parsed.preamble });
}
