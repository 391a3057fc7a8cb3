/**
 * Before 3.11 a thread state records only its `pthread_t` (the address of
 * glibc's `struct pthread`); the OS thread id is a field inside it whose
 * offset depends on the glibc build. It is found once per target.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import { rethrowFatal } from "../errors.ts";

/** Offsets of `tid` in `struct pthread` of known x86-64 glibc builds. */
const KNOWN_OFFSETS = [0x2d0, 0xd0];
/** How far into `struct pthread` a scan looks. */
const SCAN_BYTES = 1024;

function i32At(mem: MemoryReader, address: bigint): number | undefined {
  try {
    return new DataView(mem.read(address, 4).buffer).getInt32(0, true);
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

/**
 * Finds the offset of `tid` in `struct pthread`: the offset at which every
 * thread's value is one of the process's thread ids (and one of them is the
 * pid, for the main thread). Undefined when no offset fits.
 */
export function findTidOffset(
  mem: MemoryReader,
  pthreads: readonly bigint[],
  tids: ReadonlySet<number>,
): number | undefined {
  const fits = (offset: number) => {
    const values = pthreads.map((p) => i32At(mem, p + BigInt(offset)));
    return values.some((v) => v !== undefined && v !== 0) &&
      values.every((v) => v !== undefined && (v === 0 || tids.has(v)));
  };
  for (const offset of KNOWN_OFFSETS) if (fits(offset)) return offset;
  for (let offset = 0; offset < SCAN_BYTES; offset += 4) {
    if (!KNOWN_OFFSETS.includes(offset) && fits(offset)) return offset;
  }
  return undefined;
}

/** The OS thread id stored at `pthread + offset` (0 when unreadable). */
export function tidAt(mem: MemoryReader, pthread: bigint, offset: number): number {
  return i32At(mem, pthread + BigInt(offset)) ?? 0;
}
