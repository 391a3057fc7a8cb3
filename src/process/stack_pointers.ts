/**
 * Threads' stack pointers of a live process, from `/proc/PID/task/TID/syscall`
 * (readable while the thread is stopped or blocked: `NR args… SP PC`, or `-1 SP PC`).
 *
 * @module
 */

/**
 * The stack pointer in a line of `/proc/PID/task/TID/syscall`; undefined for
 * `running` or anything else.
 *
 * @example
 * ```ts
 * import { parseSyscallStackPointer } from "./stack_pointers.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   parseSyscallStackPointer("230 0x1 0x1 0x7ffd 0x0 0x0 0x0 0x7ffd37c96b08 0x7fb2cae9a503\n"),
 *   0x7ffd37c96b08n,
 * );
 * assert.equal(parseSyscallStackPointer("-1 0x7ffc10 0x401000"), 0x7ffc10n);
 * assert.equal(parseSyscallStackPointer("running"), undefined);
 * ```
 */
export function parseSyscallStackPointer(line: string): bigint | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 9 && parts.length !== 3) return undefined;
  const sp = parts[parts.length - 2]!;
  return /^0x[0-9a-f]+$/i.test(sp) ? BigInt(sp) : undefined;
}

/** The stack pointer of each of `tids` of `pid` that the kernel tells. */
export function liveStackPointers(pid: number, tids: readonly number[]): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const tid of tids) {
    try {
      const sp = parseSyscallStackPointer(
        Deno.readTextFileSync(`/proc/${pid}/task/${tid}/syscall`),
      );
      if (sp !== undefined) out.set(tid, sp);
    } catch {
      // gone, or not readable: its greenlets show thread 0
    }
  }
  return out;
}
