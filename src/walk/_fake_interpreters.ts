/**
 * Crafted memory for walker tests: a 3.12 runtime whose interpreter list
 * holds `interpreters` interpreters (newest first, the main one, id 0, last),
 * each with a list of `threads` thread states of native ids 100, 101, ….
 *
 * @module
 */

import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "../cpython/runtime.ts";

export const rt = selectRuntime({
  major: 3,
  minor: 12,
  micro: 1,
  releaseLevel: "final",
  serial: 0,
});
export const INTERP = rt.layout.structs.interp!;
export const THREAD = rt.layout.structs.thread!;
const RUNTIME = rt.layout.structs.runtime!;

/** The offset of `field` in `layout`. */
export const off = (layout: typeof INTERP, field: string) => BigInt(layout.fields[field]!.offset);

/**
 * The memory, the walker's context (`ctx`), and the addresses of
 * interpreter `i` and of its `j`th thread state (to corrupt them).
 */
export function fakeInterpreters(interpreters: number, threads = 1) {
  const mem = new FakeMemory();
  const runtime = 0x1000n;
  mem.map(runtime, RUNTIME.size);
  const interpBase = 0x10_0000_0000n;
  const interpSize = BigInt(Math.ceil(INTERP.size / 4096) * 4096);
  const threadBase = 0x20_0000_0000n;
  const threadSize = BigInt(Math.ceil(THREAD.size / 64) * 64);
  const interp = (i: number) => interpBase + BigInt(i) * interpSize;
  const thread = (i: number, j = 0) => threadBase + BigInt(i * threads + j) * threadSize;
  mem.map(interpBase, Number(interpSize) * interpreters);
  mem.map(threadBase, Number(threadSize) * interpreters * threads);
  for (let i = 0; i < interpreters; i++) {
    mem.writeU64(interp(i) + off(INTERP, "next"), i + 1 < interpreters ? interp(i + 1) : 0n);
    mem.writeU64(interp(i) + off(INTERP, "id"), BigInt(interpreters - 1 - i));
    mem.writeU64(interp(i) + off(INTERP, "tstate_head"), thread(i));
    for (let j = 0; j < threads; j++) {
      const t = thread(i, j);
      mem.writeU64(t + off(THREAD, "next"), j + 1 < threads ? thread(i, j + 1) : 0n);
      mem.writeU64(t + off(THREAD, "interp"), interp(i));
      mem.writeU64(t + off(THREAD, "native_thread_id"), BigInt(100 + i * threads + j));
      mem.writeI32(t + off(THREAD, "status"), 0b11); // initialized, bound to its OS thread
    }
  }
  mem.writeU64(runtime + off(RUNTIME, "interpreters_head"), interp(0));
  const ctx = {
    mem,
    rt,
    interp: interp(interpreters - 1),
    runtime,
    symbols: new Map<string, bigint>(),
    tids: new Set<number>(),
  };
  return { mem, ctx, interp, thread };
}
