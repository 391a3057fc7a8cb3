/**
 * Waiting until a fixture that said `ready` has reached its blocking state,
 * instead of sleeping a fixed time: its threads (all but the ones that spin)
 * must sit in the same system call for three polls in a row.
 *
 * @module
 */

const POLL_MS = 10;
/** Consecutive polls in which a thread must be in the same system call. */
const POLLS = 3;
const TIMEOUT_MS = 15_000;

/**
 * How many threads of `fixtureSource` never block (`# @running N` in the file;
 * 0 without it): they spin in Python, so they hold the GIL or wait for it.
 */
export function runningThreads(fixtureSource: string): number {
  return Number(/# @running (\d+)\b/.exec(fixtureSource)?.[1] ?? 0);
}

/** Each thread in a system call, by TID: `/proc/PID/task/TID/syscall` (number, args, sp, pc). */
function blockedThreads(pid: number): { total: number; blocked: Map<number, string> } {
  const blocked = new Map<number, string>();
  let total = 0;
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    total++;
    try {
      const call = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/syscall`).trim();
      if (/^\d+ /.test(call)) blocked.set(Number(entry.name), call);
    } catch {
      // the thread is gone
    }
  }
  return { total, blocked };
}

/**
 * Resolve once every thread of `pid` but `running` of them has been in one and
 * the same system call (same number, arguments and stack) for three polls 10 ms
 * apart: the fixture's threads have reached the calls they block in (a thread
 * that waited for the GIL moves on within the 5 ms switch interval). Throws
 * after 15 s, or when `exited()` says the process is gone.
 */
export async function waitSettled(
  pid: number,
  running: number,
  exited: () => boolean,
): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  const history: Map<number, string>[] = [];
  let total = 0;
  for (;;) {
    if (exited()) throw new Error(`Process ${pid} exited before it settled`);
    let snapshot: { total: number; blocked: Map<number, string> };
    try {
      snapshot = blockedThreads(pid);
    } catch {
      throw new Error(`Process ${pid} exited before it settled`);
    }
    if (snapshot.total !== total) history.length = 0; // a thread came or went: start again
    total = snapshot.total;
    history.push(snapshot.blocked);
    if (history.length > POLLS) history.shift();
    if (history.length === POLLS) {
      const [first, ...rest] = history as [Map<number, string>, ...Map<number, string>[]];
      const still = [...first].filter(([tid, call]) => rest.every((h) => h.get(tid) === call));
      if (still.length >= total - running) return;
    }
    if (Date.now() > deadline) {
      const last = history.at(-1) ?? new Map();
      throw new Error(
        `Timed out after ${TIMEOUT_MS} ms waiting for process ${pid} to settle: ` +
          `${last.size} of ${total} threads in a system call (${running} may run)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
