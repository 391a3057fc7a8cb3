/**
 * `--subprocesses --json`: every process of the tree with its report,
 * described by `schema/pystack-processes.schema.json`.
 *
 * @module
 */

import type { TreeOutcome } from "../analysis/process_tree.ts";
import { groupThreads } from "../analysis/group_threads.ts";
import { type Json, SCHEMA_VERSION, toJsonReport } from "./json.ts";
import { VERSION } from "../version.ts";

/** The tree as a plain JSON value; `group` adds `groups` across processes. */
export function toTreeJson(
  root: number,
  outcomes: readonly TreeOutcome[],
  options: { group?: boolean; truncated?: boolean } = {},
): { [key: string]: Json } {
  const doc: { [key: string]: Json } = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: "pystack", version: VERSION },
    kind: "processes",
    root,
    truncated: options.truncated ?? false,
    processes: outcomes.map((o) => ({
      pid: o.pid,
      nsPid: o.nsPid ?? null,
      parent: o.parent ?? null,
      depth: o.depth,
      commandLine: o.commandLine,
      status: o.status,
      reason: o.reason ?? null,
      report: o.report === undefined ? null : toJsonReport(o.report),
    })),
  };
  if (options.group) {
    const threads = outcomes.flatMap((o) =>
      (o.report?.threads ?? []).map((t) => ({ ...t, pid: o.pid }))
    );
    doc.groups = groupThreads(threads).map((g) => ({
      count: g.length,
      threads: g.map((t) => ({ pid: t.pid, tid: t.tid })),
    }));
  }
  return doc;
}
