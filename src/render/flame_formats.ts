/**
 * `pystack watch --format collapsed|speedscope`: the samples as input for
 * flame graph tools (Brendan Gregg's collapsed stacks) and as a speedscope
 * file (https://www.speedscope.app, `file-format-schema.json`).
 *
 * @module
 */

import type { NativeFrame, PyFrame } from "../model.ts";
import type { WatchSummary } from "../analysis/watch/watch_model.ts";
import { mergeStacks, type NativeMode } from "../native/merge.ts";
import { nativeFrameLine } from "./native_text.ts";
import { VERSION } from "../version.ts";

/** One frame's name in a picture. */
interface FrameName {
  name: string;
  file?: string;
  line?: number;
}

function pythonName(frame: PyFrame): FrameName {
  return {
    name: `${frame.function} (${frame.file}:${frame.location.line})`,
    file: frame.file,
    line: frame.location.line,
  };
}

function nativeName(frame: NativeFrame): FrameName {
  const where = nativeFrameLine(frame).replace(/^.* in /, "");
  return {
    name: where,
    ...(frame.file === undefined ? {} : { file: frame.file }),
    ...(frame.line === undefined ? {} : { line: frame.line }),
  };
}

/** The frames of a stack, oldest first, named; native ones merged in with a native mode. */
function stackNames(
  stack: { frames: PyFrame[]; native?: NativeFrame[] },
  native: NativeMode | undefined,
): FrameName[] {
  if (native === undefined || stack.native === undefined) return stack.frames.map(pythonName);
  return mergeStacks(stack, native).flatMap((entry) =>
    entry.kind === "python"
      ? [pythonName(entry.frame)]
      : entry.kind === "native"
      ? [nativeName(entry.frame)]
      : []
  );
}

/** `thread TID (NAME)`, after `process PID;` when several processes were watched. */
function threadLabel(summary: WatchSummary, tid: number, name: string | undefined, many: boolean) {
  const thread = `thread ${tid}${name === undefined ? "" : ` (${name})`}`;
  return many ? `process ${summary.pid};${thread}` : thread;
}

/** Every (thread, stack, count), the thread's root first. */
function weightedStacks(
  summaries: readonly WatchSummary[],
  native: NativeMode | undefined,
): { thread: string; frames: FrameName[]; count: number }[] {
  const many = summaries.length > 1;
  return summaries.flatMap((summary) =>
    summary.threads.flatMap((t) =>
      t.stacks.map((s) => ({
        thread: threadLabel(summary, t.tid, t.name, many),
        frames: stackNames(s, native),
        count: s.count,
      }))
    )
  );
}

/**
 * Collapsed stacks: one line per distinct stack of each thread,
 * `thread TID (NAME);outermost;…;innermost COUNT` (after `process PID;` when
 * there are several processes). Semicolons inside names become colons, so
 * that every line splits into its frames.
 */
export function renderCollapsed(
  summaries: readonly WatchSummary[],
  options: { native?: NativeMode } = {},
): string[] {
  const clean = (s: string) => s.replaceAll(";", ":").replaceAll("\n", " ");
  return weightedStacks(summaries, options.native).map(({ thread, frames, count }) =>
    [thread, ...frames.map((f) => clean(f.name))].map((s) => s.replaceAll("\n", " ")).join(";") +
    ` ${count}`
  );
}

/**
 * A speedscope file: one sampled profile per thread, weights in samples,
 * frames shared between profiles.
 */
export function renderSpeedscope(
  summaries: readonly WatchSummary[],
  options: { native?: NativeMode } = {},
): string[] {
  const many = summaries.length > 1;
  const frames: FrameName[] = [];
  const index = new Map<string, number>();
  const frameIndex = (f: FrameName): number => {
    const key = `${f.name}\u0000${f.file ?? ""}\u0000${f.line ?? ""}`;
    let i = index.get(key);
    if (i === undefined) {
      i = frames.length;
      frames.push(f);
      index.set(key, i);
    }
    return i;
  };
  const profiles = summaries.flatMap((summary) =>
    summary.threads.map((t) => {
      const samples: number[][] = [];
      const weights: number[] = [];
      for (const s of t.stacks) {
        samples.push(stackNames(s, options.native).map(frameIndex));
        weights.push(s.count);
      }
      const total = weights.reduce((a, b) => a + b, 0);
      return {
        type: "sampled",
        name: threadLabel(summary, t.tid, t.name, many).replace(";", " "),
        unit: "none",
        startValue: 0,
        endValue: total,
        samples,
        weights,
      };
    })
  );
  const doc = {
    $schema: "https://www.speedscope.app/file-format-schema.json",
    name: `pystack watch ${summaries.map((s) => s.pid).join(" ")}`,
    exporter: `pystack ${VERSION}`,
    activeProfileIndex: 0,
    shared: { frames },
    profiles,
  };
  return [JSON.stringify(doc)];
}
