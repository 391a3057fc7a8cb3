import assert from "node:assert/strict";
import type { LockWait, PyThread } from "../../model.ts";
import { summarizeLocks, summaryLines } from "./deadlocks.ts";

type T = Pick<PyThread, "tid" | "name" | "waitingFor" | "holds" | "syscall">;

function waits(
  tid: number,
  holder: number | undefined,
  confidence: LockWait["confidence"],
  name?: string,
): T {
  const w: LockWait = { kind: "lock", resource: `L${tid}`, evidence: "e" };
  if (holder !== undefined) w.holder = holder;
  if (confidence !== undefined) w.confidence = confidence;
  return { tid, waitingFor: w, ...(name === undefined ? {} : { name }) };
}

Deno.test("summarizeLocks() finds a two-thread cycle once, with its weakest confidence", () => {
  const threads = [
    waits(7, 9, "recorded", "a"),
    waits(9, 7, "inferred", "b"),
    waits(3, 7, "recorded"),
  ];
  const s = summarizeLocks(threads);
  assert.equal(s.deadlocks.length, 1);
  assert.deepEqual(s.deadlocks[0]!.threads, [7, 9]);
  assert.equal(s.deadlocks[0]!.confidence, "inferred");
  assert.deepEqual(summaryLines(s, threads), [
    "Deadlock: thread 7 (a) waits for L7 held by thread 9 (b); thread 9 (b) waits for L9 held by thread 7 (a) [inferred]",
  ]);
});

Deno.test("summarizeLocks() finds a thread waiting for itself (a one-worker pool)", () => {
  const s = summarizeLocks([waits(5, 5, "inferred")]);
  assert.deepEqual(s.deadlocks.map((d) => d.threads), [[5]]);
});

Deno.test("summarizeLocks() claims no deadlock for waits without owners", () => {
  const threads = [
    waits(1, undefined, undefined),
    waits(2, undefined, undefined),
    waits(3, 1, "recorded"),
  ];
  const s = summarizeLocks(threads);
  assert.deepEqual(s.deadlocks, []);
  assert.deepEqual(summaryLines(s, threads), [
    "Warning: thread 3 waits for L3, held by thread 1, which waits for L1",
    "No deadlock found",
  ]);
});

Deno.test("summarizeLocks() names a chain ending in a thread blocked in I/O", () => {
  const reader: T = {
    tid: 4,
    name: "reader",
    syscall: { number: 45, name: "recvfrom", text: "recvfrom(fd 7 → TCP 1.2.3.4:1 → 1.2.3.4:2)" },
  };
  const s = summarizeLocks([waits(3, 4, "inferred"), reader]);
  assert.deepEqual(s.findings, [
    "thread 3 waits for L3, held by thread 4 (reader), which is blocked in " +
    "recvfrom(fd 7 → TCP 1.2.3.4:1 → 1.2.3.4:2)",
  ]);
  assert.deepEqual(s.deadlocks, []);
});

Deno.test("summarizeLocks() warns about the GIL held across a blocking call", () => {
  const holder: T = {
    tid: 1,
    holds: [{ kind: "gil", resource: "the GIL", confidence: "recorded" }],
    syscall: { number: 202, name: "futex", text: "futex(0x10)" },
    waitingFor: {
      kind: "pthread_mutex",
      resource: "pthread mutex 0x10",
      holder: 2,
      confidence: "recorded",
      evidence: "m",
    },
  };
  const waiter: T = {
    tid: 2,
    waitingFor: {
      kind: "gil",
      resource: "the GIL",
      holder: 1,
      confidence: "recorded",
      evidence: "g",
    },
  };
  const s = summarizeLocks([holder, waiter]);
  assert.deepEqual(s.findings, [
    "thread 1 holds the GIL while blocked in native code (futex(0x10)); 1 thread waits for the GIL",
  ]);
  assert.equal(s.deadlocks[0]!.confidence, "recorded");
});

Deno.test("keepStable() keeps the waits two snapshots agree on", async () => {
  const { keepStable } = await import("./attach_locks.ts");
  const w = (holder: number): LockWait => ({
    kind: "lock",
    resource: "L",
    holder,
    confidence: "inferred",
    evidence: "e",
  });
  const first = new Map([[1, { waitingFor: w(2), holds: [] }], [2, {
    waitingFor: w(1),
    holds: [],
  }]]);
  const second = new Map([[1, { waitingFor: w(2), holds: [] }], [2, {
    waitingFor: w(3),
    holds: [],
  }]]);
  assert.deepEqual(keepStable(first, second), [2]);
  assert.deepEqual([...first].map(([tid, t]) => [tid, t.waitingFor?.holder]), [[1, 2], [
    2,
    undefined,
  ]]);
});
