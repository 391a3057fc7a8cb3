/**
 * `walkInterpreters()` with a `--timeout` deadline, over crafted memory: the
 * walk stops at the check where the time is up, keeps what it read, and
 * counts the thread states found but not read.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { selectRuntime } from "../cpython/runtime.ts";
import { walkInterpreters } from "./interpreters.ts";
import { Deadline, timedOutOf } from "../deadline.ts";

const rt = selectRuntime({ major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 });
const INTERP = rt.layout.structs.interp!;
const THREAD = rt.layout.structs.thread!;
const RUNTIME = rt.layout.structs.runtime!;
const off = (layout: typeof INTERP, field: string) => BigInt(layout.fields[field]!.offset);

/** `interpreters` interpreters (newest first, the main one last) of `threads` thread states each. */
function memoryFor(interpreters: number, threads: number) {
  const mem = new FakeMemory();
  const runtime = 0x1000n;
  mem.map(runtime, RUNTIME.size);
  const interpBase = 0x10_0000_0000n;
  const interpSize = BigInt(Math.ceil(INTERP.size / 4096) * 4096);
  const threadBase = 0x20_0000_0000n;
  const threadSize = BigInt(Math.ceil(THREAD.size / 64) * 64);
  const interp = (i: number) => interpBase + BigInt(i) * interpSize;
  const thread = (i: number, j: number) => threadBase + BigInt(i * threads + j) * threadSize;
  mem.map(interpBase, Number(interpSize) * interpreters);
  mem.map(threadBase, Number(threadSize) * interpreters * threads);
  for (let i = 0; i < interpreters; i++) {
    mem.writeU64(interp(i) + off(INTERP, "next"), i + 1 < interpreters ? interp(i + 1) : 0n);
    mem.writeU64(interp(i) + off(INTERP, "id"), BigInt(interpreters - 1 - i));
    mem.writeU64(interp(i) + off(INTERP, "tstate_head"), thread(i, 0));
    for (let j = 0; j < threads; j++) {
      const t = thread(i, j);
      mem.writeU64(t + off(THREAD, "next"), j + 1 < threads ? thread(i, j + 1) : 0n);
      mem.writeU64(t + off(THREAD, "interp"), interp(i));
      mem.writeU64(t + off(THREAD, "native_thread_id"), BigInt(100 + i * threads + j));
    }
  }
  mem.writeU64(runtime + off(RUNTIME, "interpreters_head"), interp(0));
  return {
    mem,
    rt,
    interp: interp(interpreters - 1),
    runtime,
    symbols: new Map<string, bigint>(),
    tids: new Set<number>(),
  };
}

/** A deadline whose clock moves one millisecond per check: the `n`th check (1-based) is late. */
function lateAtCheck(n: number): { deadline: Deadline; checks: string[] } {
  let clock = 0;
  const checks: string[] = [];
  const deadline = new Deadline(n / 1000, {
    now: () => clock,
    startMs: 0,
    beforeCheck: (stage) => {
      checks.push(stage);
      clock++;
    },
  });
  return { deadline, checks };
}

Deno.test("walkInterpreters() without a deadline reads every thread state", () => {
  const walk = walkInterpreters(memoryFor(2, 3));
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101, 102, 103, 104, 105]);
  assert.equal(walk.unread, undefined);
  assert.equal(walk.interpretersSkipped, undefined);
});

Deno.test("walkInterpreters() stops at the thread where the deadline passes", () => {
  // Checks: interpreter 1, its threads 100, 101, 102 (late: not read).
  const { deadline, checks } = lateAtCheck(4);
  const walk = walkInterpreters({ ...memoryFor(2, 3), deadline });
  assert.deepEqual(checks, ["interpreters", "threads", "threads", "threads"]);
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101]);
  assert.equal(walk.unread, 1, "the third thread state was found, not read");
  assert.equal(walk.interpretersSkipped, true, "the main interpreter was not read");
  assert.deepEqual(walk.interpreters.map((i) => [i.id, i.threadStates]), [[1, 3]]);
  assert.equal(walk.newest.length, 2, "parallel arrays stay parallel");
  assert.equal(walk.anchors.length, 2);
  assert.equal(deadline.stage, "threads");
  assert.deepEqual(timedOutOf(deadline, walk, walk.threads.length), {
    seconds: 0.004,
    stage: "threads",
    threadsShown: 2,
    threadsFound: 3,
    interpretersSkipped: true,
  });
});

Deno.test("walkInterpreters() stops before an interpreter when the deadline passes there", () => {
  // Checks: interpreter 1, threads 100-102, interpreter 0 (late).
  const { deadline } = lateAtCheck(5);
  const walk = walkInterpreters({ ...memoryFor(2, 3), deadline });
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101, 102]);
  assert.equal(walk.unread, undefined);
  assert.equal(walk.interpretersSkipped, true);
  assert.equal(deadline.stage, "interpreters");
});
