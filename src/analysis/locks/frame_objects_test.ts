import assert from "node:assert/strict";
import { FakeMemory } from "../../memory/fake_memory.ts";
import { selectRuntime } from "../../cpython/runtime.ts";
import type { PyFrame } from "../../model.ts";
import { FrameObjects } from "./frame_objects.ts";

const HEAP = 0x10000n;
const TYPES = 0x20000n;
const FRAME = 0x30000n;
const CODE = 0x40000n;

/** A fake target: type objects named `names`, each with `basicsize`, at TYPES + 0x1000 * i. */
function target(names: [string, number][]): { mem: FakeMemory; type: (name: string) => bigint } {
  const mem = new FakeMemory();
  mem.map(HEAP, 0x1000);
  mem.map(FRAME, 0x200);
  mem.map(CODE, 0x200);
  const types = new Map<string, bigint>();
  names.forEach(([name, basicsize], i) => {
    const at = TYPES + BigInt(i) * 0x1000n;
    mem.map(at, 0x400);
    // tp_name points at the name just after the type object (3.12, 3.14: tp_name @24,
    // tp_basicsize @32).
    mem.writeU64(at + 24n, at + 0x300n);
    mem.writeU64(at + 32n, BigInt(basicsize));
    mem.write(at + 0x300n, new TextEncoder().encode(name + "\0"));
    types.set(name, at);
  });
  return { mem, type: (name) => types.get(name)! };
}

function frame(): PyFrame {
  return {
    file: "/app/a.py",
    function: "take_a",
    isEntry: true,
    frameAddress: FRAME,
    codeAddress: CODE,
    location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
  };
}

Deno.test("FrameObjects finds a 3.12 Lock and the with block its bound __exit__ marks", () => {
  const rt = selectRuntime({ major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 });
  const { mem, type } = target([["_thread.lock", 40], ["builtin_function_or_method", 56]]);
  const lock = HEAP + 0x100n;
  mem.writeU64(lock, 1n);
  mem.writeU64(lock + 8n, type("_thread.lock"));
  mem.writeU64(lock + 16n, 0x9000n); // lock_lock: the sem_t waiters sleep on
  mem.write(lock + 32n, new Uint8Array([1])); // locked
  const exit = HEAP + 0x200n;
  mem.writeU64(exit, 1n);
  mem.writeU64(exit + 8n, type("builtin_function_or_method"));
  mem.writeU64(exit + 16n, HEAP + 0x300n); // m_ml
  mem.writeU64(exit + 24n, lock); // m_self
  mem.writeU64(HEAP + 0x300n, HEAP + 0x380n); // ml_name
  mem.write(HEAP + 0x380n, new TextEncoder().encode("__exit__\0"));
  // One local (unbound) and a value stack of two: [lock.__exit__, True-ish garbage].
  mem.writeI32(CODE + 72n, 1); // co_nlocalsplus
  mem.writeI32(CODE + 64n, 2); // co_stacksize
  mem.writeU64(FRAME + 72n + 8n, exit);
  mem.writeU64(FRAME + 72n + 16n, 0x7n); // not an object: skipped
  const objects = new FrameObjects(mem, rt);
  const seen = objects.scan([frame()]);
  assert.deepEqual([...seen.locks], [lock]);
  assert.deepEqual([...seen.withBlocks], [lock]);
  assert.deepEqual(objects.lockAt(lock), {
    address: lock,
    kind: "lock",
    sem: 0x9000n,
    mutex: lock + 16n,
    locked: true,
  });
});

Deno.test("FrameObjects reads a 3.13.1+ Lock's PyMutex and a 3.14 RLock's owner and level", () => {
  const rt = selectRuntime({ major: 3, minor: 14, micro: 0, releaseLevel: "final", serial: 0 });
  const { mem, type } = target([["_thread.lock", 24], ["_thread.RLock", 48]]);
  const lock = HEAP + 0x100n;
  mem.writeU64(lock + 8n, type("_thread.lock"));
  mem.write(lock + 16n, new Uint8Array([1])); // PyMutex: locked bit
  const rlock = HEAP + 0x200n;
  mem.writeU64(rlock + 8n, type("_thread.RLock"));
  mem.writeU64(rlock + 24n, 0x7f0000001000n); // thread
  mem.writeU64(rlock + 32n, 1n); // level: held twice
  const objects = new FrameObjects(mem, rt);
  assert.deepEqual(objects.lockAt(lock), {
    address: lock,
    kind: "lock",
    mutex: lock + 16n,
    locked: true,
  });
  assert.deepEqual(objects.lockAt(rlock), {
    address: rlock,
    kind: "rlock",
    mutex: rlock + 16n,
    owner: 0x7f0000001000n,
    count: 2,
    locked: true,
  });
});

Deno.test("FrameObjects skips unreadable frames and objects without throwing", () => {
  const rt = selectRuntime({ major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 });
  const { mem } = target([]);
  mem.writeI32(CODE + 72n, 2);
  mem.writeI32(CODE + 64n, 1);
  mem.writeU64(FRAME + 72n, 0xdead0000n); // points nowhere
  const objects = new FrameObjects(mem, rt);
  assert.deepEqual(objects.scan([frame()]).locks.size, 0);
  assert.equal(objects.lockAt(0xdead0000n), undefined);
  assert.deepEqual(objects.scan([{ ...frame(), frameAddress: 0x999000n }]).locks.size, 0);
});

/**
 * Two locked Locks (3.10 to 3.12 layout), `held` and `stale`, and a bound `__exit__` of each, at
 * HEAP + 0x200 and HEAP + 0x400.
 */
function twoLockedLocks() {
  const { mem, type } = target([["_thread.lock", 40], ["builtin_function_or_method", 56]]);
  const exitOf = (lock: bigint, exit: bigint) => {
    mem.writeU64(lock + 8n, type("_thread.lock"));
    mem.write(lock + 32n, new Uint8Array([1]));
    mem.writeU64(exit + 8n, type("builtin_function_or_method"));
    mem.writeU64(exit + 16n, HEAP + 0x700n); // m_ml
    mem.writeU64(exit + 24n, lock); // m_self
  };
  mem.writeU64(HEAP + 0x700n, HEAP + 0x780n);
  mem.write(HEAP + 0x780n, new TextEncoder().encode("__exit__\0"));
  const held = HEAP + 0x100n;
  const stale = HEAP + 0x300n;
  exitOf(held, HEAP + 0x200n);
  exitOf(stale, HEAP + 0x400n);
  return { mem, held, stale };
}

Deno.test("FrameObjects, live: only the value stack a 3.12 frame's running instruction keeps", () => {
  const rt = selectRuntime({ major: 3, minor: 12, micro: 1, releaseLevel: "final", serial: 0 });
  const { mem, held, stale } = twoLockedLocks();
  // One local; a value stack of 4 whose slot 0 is the `with` block's `__exit__` and slot 2 a
  // pointer left there by an earlier push.
  mem.writeI32(CODE + 72n, 1); // co_nlocalsplus
  mem.writeI32(CODE + 64n, 4); // co_stacksize
  mem.writeU64(FRAME + 72n + 8n, HEAP + 0x200n);
  mem.writeU64(FRAME + 72n + 24n, HEAP + 0x400n);
  // The exception table: code units 0 to 8 protected at depth 1 (handler at 20, lasti).
  const table = HEAP + 0x800n;
  mem.writeU64(table + 16n, 4n); // ob_size
  mem.write(table + 32n, new Uint8Array([0x80, 0x08, 0x14, 0x03]));
  mem.writeU64(CODE + 40n, table); // co_exceptiontable
  const at = (unit: number) => mem.writeU64(FRAME + 56n, CODE + 192n + BigInt(unit * 2));

  at(3); // prev_instr inside the `with` body
  const objects = new FrameObjects(mem, rt);
  assert.deepEqual([...objects.scan([frame()], "live").withBlocks], [held]);
  assert.deepEqual([...objects.scan([frame()]).withBlocks], [held, stale]);
  at(10); // past the body: no `with` block runs, and no stack slot is known in use
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()], "live").withBlocks], []);
  mem.writeU64(CODE + 40n, 0xdead0000n); // an unreadable table: the same
  at(3);
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()], "live").withBlocks], []);
});

Deno.test("FrameObjects, live: a 3.10 frame's value stack up to its innermost block's level", () => {
  const rt = selectRuntime({ major: 3, minor: 10, micro: 13, releaseLevel: "final", serial: 0 });
  const { mem, held, stale } = twoLockedLocks();
  // PyFrameObject (3.10): ob_size @16, f_valuestack @64, f_iblock @104, f_blockstack @112,
  // f_localsplus @352. One local, then a value stack of 4: slot 0 a `with` block's
  // `__exit__`, slot 2 a pointer left there by an earlier push.
  const localsplus = FRAME + 352n;
  mem.writeU64(FRAME + 16n, 5n);
  mem.writeU64(FRAME + 64n, localsplus + 8n);
  mem.writeU64(localsplus + 8n, HEAP + 0x200n);
  mem.writeU64(localsplus + 24n, HEAP + 0x400n);
  mem.writeI32(FRAME + 104n, 1); // f_iblock
  mem.writeI32(FRAME + 112n + 8n, 1); // f_blockstack[0].b_level: the `with` block's
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()], "live").withBlocks], [held]);
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()]).withBlocks], [held, stale]);
  mem.writeI32(FRAME + 104n, 0); // no block: the locals only
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()], "live").withBlocks], []);
  mem.writeI32(FRAME + 104n, 1);
  mem.writeU64(FRAME + 64n, 0n); // no value stack pointer: nothing known in use
  assert.deepEqual([...new FrameObjects(mem, rt).scan([frame()], "live").withBlocks], []);
});
