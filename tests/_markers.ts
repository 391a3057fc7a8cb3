/**
 * Expected frames, read from `# @frame` markers in the fixture sources.
 *
 * A marker is a trailing comment on the line a frame must report:
 *
 * ```python
 *     time.sleep(1000)  # @frame main:3 third_func
 *     recurse(n - 1)  # @frame main:1-499 recurse
 *     "        time.sleep(1000)",  # @frame main:2 generated_sleeper file=<generated> line=4
 * ```
 *
 * `main:3` names the stack (the thread: `main`, or the threading name of a
 * worker, which the fixtures also give the OS thread) and the frame's position
 * in it, counted from the oldest frame (0) among the frames of the fixture;
 * `1-499` repeats the same frame for positions 1 to 499. Then comes the
 * function name (`co_name`), then optional `file=` (default: the fixture's
 * file name) and `line=` (default: the marker's line). Several lines with the
 * same stack and position are alternatives: the frame may report any of them
 * (a busy loop). One line may carry several markers.
 *
 * @module
 */
import { basename } from "node:path";

/** What one frame of a stack must show. */
export interface ExpectedFrame {
  /** `co_name`. */
  func: string;
  /** Base name of `co_filename`. */
  file: string;
  /** The line numbers the frame may report, ascending. */
  lines: number[];
}

/** Expected frames per stack name, oldest first. */
export type ExpectedStacks = Map<string, ExpectedFrame[]>;

const POSITION = /^([^:\s]+):(\d+)(?:-(\d+))?$/;

/** The repository's `fixtures/` directory, with a trailing slash. */
export const FIXTURES_DIR = decodeURIComponent(new URL("../fixtures/", import.meta.url).pathname);

/**
 * Expected stacks of `fixtures/<fixtureName>` (e.g. `"single_thread.py"`).
 *
 * @example
 * ```ts
 * const stacks = await expectedFrames("single_thread.py");
 * stacks.get("main")![3]; // { func: "third_func", file: "single_thread.py", lines: [21] }
 * ```
 */
export async function expectedFrames(fixtureName: string): Promise<ExpectedStacks> {
  const source = await Deno.readTextFile(FIXTURES_DIR + fixtureName);
  return parseFrameMarkers(source, basename(fixtureName));
}

/**
 * Expected stacks from the markers in `source`, a file named `fileName`.
 * Throws on a malformed marker, a gap in a stack's positions, or alternatives
 * that disagree on the function or file.
 */
export function parseFrameMarkers(source: string, fileName: string): ExpectedStacks {
  const slots = new Map<string, Map<number, ExpectedFrame>>();
  source.split(/\r\n|\r|\n/).forEach((text, index) => {
    const at = text.indexOf("# @frame");
    if (at < 0) return;
    for (const chunk of text.slice(at + 1).split("@frame").slice(1)) {
      addMarker(slots, chunk.trim(), { fileName, line: index + 1 });
    }
  });
  const stacks: ExpectedStacks = new Map();
  for (const [stack, positions] of slots) {
    const frames: ExpectedFrame[] = [];
    for (let position = 0; position < positions.size; position++) {
      const frame = positions.get(position);
      if (!frame) throw new SyntaxError(`Stack ${stack} of ${fileName} has no frame ${position}`);
      frames.push({ ...frame, lines: [...frame.lines].sort((a, b) => a - b) });
    }
    stacks.set(stack, frames);
  }
  return stacks;
}

function addMarker(
  slots: Map<string, Map<number, ExpectedFrame>>,
  marker: string,
  where: { fileName: string; line: number },
): void {
  const fail = (why: string) =>
    new SyntaxError(`Bad marker "@frame ${marker}" at ${where.fileName}:${where.line}: ${why}`);
  const [position, func, ...options] = marker.split(/\s+/);
  const match = POSITION.exec(position ?? "");
  if (!match || !func) throw fail("expected STACK:INDEX[-LAST] FUNCTION [file=F] [line=N]");
  let file = where.fileName;
  let line = where.line;
  for (const option of options) {
    const [key, value] = option.split("=", 2);
    if (key === "file" && value) file = value;
    else if (key === "line" && /^\d+$/.test(value ?? "")) line = Number(value);
    else throw fail(`unknown option ${option}`);
  }
  const stack = match[1]!;
  const first = Number(match[2]);
  const last = match[3] === undefined ? first : Number(match[3]);
  if (last < first) throw fail("empty range");
  const positions = slots.get(stack) ?? new Map<number, ExpectedFrame>();
  slots.set(stack, positions);
  for (let index = first; index <= last; index++) {
    const known = positions.get(index);
    if (!known) {
      positions.set(index, { func, file, lines: [line] });
    } else if (known.func !== func || known.file !== file) {
      throw fail(`frame ${stack}:${index} was already ${known.func} in ${known.file}`);
    } else if (!known.lines.includes(line)) {
      known.lines.push(line);
    }
  }
}
