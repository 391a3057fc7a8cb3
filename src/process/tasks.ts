/**
 * What `/proc` says about a live process: its threads, names, executable.
 *
 * @module
 */

import { PermissionDeniedError, ProcessNotFoundError } from "../errors.ts";
import { printable } from "../cpython/repr_format.ts";
import { parseTaskStat } from "./task_counters.ts";

/** The thread ids of `pid`, from `/proc/PID/task`, in directory order. */
export function listTids(pid: number): number[] {
  const tids: number[] = [];
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
      const tid = Number(entry.name);
      if (Number.isInteger(tid) && tid > 0) tids.push(tid);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ProcessNotFoundError(pid);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new PermissionDeniedError(pid, `read /proc/${pid}/task`);
    }
    throw e;
  }
  return tids;
}

/**
 * The kernel's name of a thread (`comm`), non-printable characters escaped (`\x0a`), or
 * undefined when it cannot be read.
 */
export function threadName(pid: number, tid: number): string | undefined {
  try {
    // Any byte can be set (prctl): a newline or control character would break the output.
    const name = printable(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/comm`).trimEnd());
    return name === "" ? undefined : name;
  } catch {
    return undefined;
  }
}

/** The process state letter from `/proc/PID/stat` (R, S, D, T, t, Z, ...). */
export function processState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/**
 * Whether a thread has exited: gone from `/proc/PID/task`, or a zombie (`Z`, `X`) not yet
 * reaped. The kernel refuses to trace such a thread (EPERM, or ESRCH once it is gone). A
 * thread whose state cannot be read for another reason has not.
 */
export function taskExited(pid: number, tid: number): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
  } catch (e) {
    return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
  }
  const state = parseTaskStat(stat)?.state;
  return state === "Z" || state === "X";
}

/**
 * The process a thread id belongs to (`Tgid` in `/proc/TID/status`): the id itself for a
 * process (a thread group's leader), undefined when it cannot be read. `/proc/TID` of any
 * thread exists, though only leaders are listed in `/proc`: a thread id taken from
 * `top -H` or a log line would otherwise be read as a process of its own.
 */
export function threadGroupOf(tid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${tid}/status`);
    const match = /^Tgid:\s*(\d+)$/m.exec(status);
    const tgid = match === null ? NaN : Number(match[1]);
    return Number.isInteger(tgid) && tgid > 0 ? tgid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `pid` when it names a process; when it names one of a process's other threads, that
 * process, with the sentence that says so (for a warning or a note).
 */
export function processOfTask(pid: number): { pid: number; told?: string } {
  const tgid = threadGroupOf(pid);
  if (tgid === undefined || tgid === pid) return { pid };
  const name = threadName(tgid, pid);
  return {
    pid: tgid,
    told: `${pid} is a thread${name === undefined ? "" : ` (${name})`} of process ${tgid}, ` +
      `not a process: process ${tgid} is shown, all its threads`,
  };
}

/**
 * The thread through which the memory and files of `pid` are read: `pid` itself while its
 * main thread runs. A main thread that has exited (`pthread_exit`) stays a zombie while the
 * other threads run on, and has no mappings, executable or memory left: the first thread
 * still running is used instead (`/proc/TID/...` of any thread serves the whole process).
 * Undefined when every thread has exited (a zombie process) or the process is gone.
 */
export function liveTask(pid: number): number | undefined {
  if (!taskExited(pid, pid)) return pid;
  try {
    return listTids(pid).find((tid) => !taskExited(pid, tid));
  } catch {
    return undefined;
  }
}

/** The text of `/proc/PID/maps`. */
export function readMapsText(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/maps`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ProcessNotFoundError(pid);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new PermissionDeniedError(pid, `read /proc/${pid}/maps`);
    }
    throw e;
  }
}

/** The target's executable path as it sees it (`/proc/PID/exe`), if readable. */
export function executablePath(pid: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** A path in the target's mount namespace, opened from ours (`/proc/PID/root/...`). */
export function targetPath(pid: number, path: string): string {
  if (path.startsWith("/")) return `/proc/${pid}/root${path}`;
  return `/proc/${pid}/cwd/${path}`;
}
