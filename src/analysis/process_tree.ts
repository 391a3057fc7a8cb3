/**
 * `--subprocesses`: a process and its descendants, each read on its own (and
 * paused only while it is read), the ones that do not run Python listed as
 * skipped and the ones that exit meanwhile noted.
 *
 * @module
 */

import type { StackReport } from "../model.ts";
import {
  NotPythonError,
  ProcessNotFoundError,
  PystackError,
  TargetExitedError,
  UnsupportedVersionError,
  ZOMBIE_REASON,
} from "../errors.ts";
import {
  commandLine,
  descendantsOf,
  namespacePid,
  readParents,
  type TreeProcess,
} from "../process/descendants.ts";
import { liveTask, processState } from "../process/tasks.ts";

/** What became of one process of the tree. */
export interface TreeOutcome<R = StackReport> extends TreeProcess {
  /** Its pid in its own PID namespace, when that differs. */
  nsPid?: number;
  /** The command line, or `?` when it could not be read. */
  commandLine: string;
  /** `read`: `report` holds its stacks; `skipped`: not Python (or not readable); `exited`. */
  status: "read" | "skipped" | "exited";
  /** Why it was skipped or when it exited. */
  reason?: string;
  report?: R;
}

/** The tree of `root`, every process read by `read`, in tree order. */
export async function inspectTree<R>(
  root: number,
  read: (pid: number) => Promise<R>,
): Promise<{ outcomes: TreeOutcome<R>[]; truncated: boolean }> {
  if (processState(root) === undefined) throw new ProcessNotFoundError(root);
  const { processes, truncated } = descendantsOf(root, readParents());
  const outcomes: TreeOutcome<R>[] = [];
  for (const p of processes) {
    const nsPid = namespacePid(p.pid);
    const outcome: TreeOutcome<R> = {
      ...p,
      ...(nsPid === undefined ? {} : { nsPid }),
      commandLine: commandLine(p.pid) ?? "?",
      status: "read",
    };
    try {
      outcome.report = await read(p.pid);
    } catch (e) {
      Object.assign(outcome, failure(e, p.pid));
    }
    outcomes.push(outcome);
  }
  if (!outcomes.some((o) => o.status === "read")) {
    const first = outcomes[0];
    if (first?.status === "exited") throw new TargetExitedError(root);
    throw new NotPythonError(
      `Cannot inspect process ${root} with --subprocesses: neither it nor any of its ` +
        `${outcomes.length - 1} descendants could be read as Python (${first?.reason ?? "?"})`,
      "pass the PID of a Python process or of one of its ancestors",
    );
  }
  return { outcomes, truncated };
}

function failure(
  e: unknown,
  pid: number,
): { status: "skipped" | "exited"; reason: string } {
  const state = processState(pid);
  // A main thread that ended leaves a zombie whose other threads may still run.
  if (state === "Z" && liveTask(pid) === undefined) {
    return { status: "exited", reason: ZOMBIE_REASON };
  }
  if (
    e instanceof TargetExitedError || e instanceof ProcessNotFoundError || state === undefined ||
    state === "X"
  ) {
    return { status: "exited", reason: "it exited while pystack was reading the tree" };
  }
  if (e instanceof NotPythonError) return { status: "skipped", reason: "not a Python process" };
  if (e instanceof UnsupportedVersionError || e instanceof PystackError) {
    return { status: "skipped", reason: e.message };
  }
  throw e;
}
