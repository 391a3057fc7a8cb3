/**
 * `pystack watch --json`: the summary as one JSON document, described by
 * `schema/pystack-watch.schema.json`.
 *
 * @module
 */

import type { StackShare, WatchedThread, WatchSummary } from "../analysis/watch/watch_model.ts";
import { STUCK_RULE } from "../analysis/watch/watch_model.ts";
import { frameJson, type Json, nativeJson, SCHEMA_VERSION } from "./json.ts";
import { VERSION } from "../version.ts";
import { groupBy } from "../analysis/group_threads.ts";
import { watchGroupKey } from "./watch_text.ts";

/** The summary as a plain JSON value; `group` adds `groups` (see `renderWatchText`). */
export function toWatchJson(
  summary: WatchSummary,
  options: { group?: boolean } = {},
): { [key: string]: Json } {
  const doc: { [key: string]: Json } = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: "pystack", version: VERSION },
    kind: "watch",
    target: { kind: "process", pid: summary.pid, pythonVersion: summary.pythonVersion },
    watch: {
      samples: summary.samples,
      durationMs: round(summary.durationMs),
      intervalMs: summary.intervalMs,
      pausedMs: round(summary.pausedMs),
      nonBlocking: !summary.blocking,
      endedEarly: summary.endedEarly ?? null,
      ...(summary.failedSamples === undefined
        ? {}
        : { failedSamples: { ...summary.failedSamples } }),
      stuckRule: STUCK_RULE,
    },
    threads: summary.threads.map(threadJson),
  };
  if (options.group) {
    doc.groups = groupBy(summary.threads, watchGroupKey).map((g) => ({
      count: g.length,
      tids: g.map((t) => t.tid),
    }));
  }
  return doc;
}

/** {@linkcode toWatchJson}, printed with 2 spaces of indentation. */
export function renderWatchJson(
  summary: WatchSummary,
  options: { group?: boolean } = {},
): string[] {
  return JSON.stringify(toWatchJson(summary, options), null, 2).split("\n");
}

function threadJson(thread: WatchedThread): Json {
  return {
    tid: thread.tid,
    name: thread.name ?? null,
    stuck: thread.verdict === "stuck",
    verdict: thread.verdict,
    reason: thread.reason,
    cpuPercent: thread.cpuPercent ?? null,
    state: thread.state ?? null,
    wakeups: thread.wakeups ?? null,
    samples: thread.samples,
    stacks: thread.stacks.map(stackJson),
  };
}

function stackJson(stack: StackShare): Json {
  const out: { [key: string]: Json } = {
    count: stack.count,
    share: Math.round(stack.share * 10000) / 10000,
    frames: stack.frames.map(frameJson),
  };
  if (stack.native !== undefined) out.native = stack.native.map(nativeJson);
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
