import assert from "node:assert/strict";
import { FakeMemory } from "../memory/fake_memory.ts";
import { NamespaceTids } from "../process/namespace_tids.ts";
import { resolveThreadIds } from "./thread_ids.ts";

/** glibc ≥ 2.34's offset of `tid` in `struct pthread`. */
const TID_OFFSET = 0x2d0;
const PTHREADS = [0x7f0000010000n, 0x7f0000020000n, 0x7f0000030000n];

/** Three `struct pthread`s whose `tid` fields hold `tids` (ids in the target's namespace). */
function pthreadMemory(tids: readonly number[]): FakeMemory {
  const mem = new FakeMemory();
  PTHREADS.forEach((p, i) => {
    mem.map(p, 0x1000);
    mem.writeI32(p + BigInt(TID_OFFSET), tids[i]!);
  });
  return mem;
}

const CONTAINER = new NamespaceTids([[30141, 1], [30142, 10], [30143, 11]]);

Deno.test("resolveThreadIds() translates native_thread_id (3.11+) to the host's id", () => {
  const warnings: string[] = [];
  const ids = resolveThreadIds(
    new FakeMemory(),
    { tids: new Set([30141, 30142, 30143]), namespace: CONTAINER },
    [{ pthread: PTHREADS[0]!, nativeThreadId: 11 }, {
      pthread: PTHREADS[1]!,
      nativeThreadId: 1,
    }, { pthread: PTHREADS[2]!, nativeThreadId: 0 }],
    warnings,
  );
  assert.deepEqual(ids, [{ tid: 30143, nsTid: 11 }, { tid: 30141, nsTid: 1 }, { tid: 0 }]);
  assert.deepEqual(warnings, []);
});

Deno.test("resolveThreadIds() before 3.11 finds struct pthread's tid among the namespace's ids", () => {
  const warnings: string[] = [];
  const ids = resolveThreadIds(
    pthreadMemory([10, 1, 0]),
    { tids: new Set([30141, 30142, 30143]), namespace: CONTAINER },
    PTHREADS.map((pthread) => ({ pthread })),
    warnings,
  );
  // The third thread finished (glibc cleared its tid): 0, "Thread terminated".
  assert.deepEqual(ids, [{ tid: 30142, nsTid: 10 }, { tid: 30141, nsTid: 1 }, { tid: 0 }]);
  assert.deepEqual(warnings, []);
});

Deno.test("resolveThreadIds() takes registers (fs_base = pthread_t) first", () => {
  const warnings: string[] = [];
  // The memory holds nothing: only the registers can tell.
  const mem = new FakeMemory();
  const ids = resolveThreadIds(
    mem,
    {
      tids: new Set([30141, 30142, 30143]),
      namespace: CONTAINER,
      byPthread: new Map([[PTHREADS[0]!, 30143], [PTHREADS[1]!, 30141]]),
    },
    PTHREADS.slice(0, 2).map((pthread) => ({ pthread })),
    warnings,
  );
  assert.deepEqual(ids, [{ tid: 30143, nsTid: 11 }, { tid: 30141, nsTid: 1 }]);
  assert.deepEqual(warnings, []);
});

Deno.test("resolveThreadIds() of a gcore core of a container: registers' ids, native_thread_id as nsTid", () => {
  const ids = resolveThreadIds(
    new FakeMemory(),
    { tids: new Set([30141, 30142]), byPthread: new Map([[PTHREADS[0]!, 30142]]) },
    [{ pthread: PTHREADS[0]!, nativeThreadId: 10 }, {
      pthread: PTHREADS[1]!,
      nativeThreadId: 30141,
    }],
    [],
  );
  assert.deepEqual(ids, [{ tid: 30142, nsTid: 10 }, { tid: 30141 }]);
});

Deno.test("resolveThreadIds() in pystack's own namespace keeps today's ids", () => {
  const warnings: string[] = [];
  const ids = resolveThreadIds(
    pthreadMemory([700, 702, 701]),
    { tids: new Set([700, 701, 702]) },
    PTHREADS.map((pthread) => ({ pthread })),
    warnings,
  );
  assert.deepEqual(ids, [{ tid: 700 }, { tid: 702 }, { tid: 701 }]);
  assert.deepEqual(warnings, []);
});

Deno.test("resolveThreadIds() says so when struct pthread holds no known id", () => {
  const warnings: string[] = [];
  const ids = resolveThreadIds(
    pthreadMemory([10, 1, 11]),
    { tids: new Set([30141, 30142, 30143]) }, // no namespace map: container ids fit nothing
    PTHREADS.map((pthread) => ({ pthread })),
    warnings,
  );
  assert.deepEqual(ids, [{ tid: 0 }, { tid: 0 }, { tid: 0 }]);
  assert.deepEqual(warnings, ["could not find thread ids in glibc's struct pthread; showing 0"]);
});

Deno.test("resolveThreadIds() of a container: an id no thread has is a finished thread", () => {
  const ids = resolveThreadIds(
    new FakeMemory(),
    { tids: new Set([30141, 30142, 30143]), namespace: CONTAINER },
    [{ pthread: PTHREADS[0]!, nativeThreadId: 12 }, { pthread: PTHREADS[1]!, nativeThreadId: 10 }],
    [],
  );
  // 12 is no thread of the process now: never shown as if it were the host's thread 12.
  assert.deepEqual(ids, [{ tid: 0, nsTid: 12 }, { tid: 30142, nsTid: 10 }]);
});
