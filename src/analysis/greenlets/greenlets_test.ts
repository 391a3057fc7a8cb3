/**
 * `readGreenlets()` over fake 3.11 memory laid out as greenlet 2.0.2 builds
 * its objects: which greenlets are shown, with which thread, and what a
 * garbage saved frame pointer gives.
 */
import assert from "node:assert/strict";
import { FakeMemory } from "../../memory/fake_memory.ts";
import { selectRuntime } from "../../cpython/runtime.ts";
import type { MapEntry } from "../../elf/maps.ts";
import { greenletModuleMapped, prescanGreenlets, readGreenlets } from "./greenlets.ts";

const rt = selectRuntime({ major: 3, minor: 11, micro: 2, releaseLevel: "final", serial: 0 });

const INTERP = 0x100000n; // struct _gc_runtime_state at +648 (gc_collecting 848 - collecting 200)
const GC = INTERP + 648n;
const TYPES = 0x200000n; // greenlet.greenlet at +0, frame at +0x200, names at +0x400
const OBJECTS = 0x300000n; // one 0x100-byte slot per object: PyGC_Head, then the object
const IMPLS = 0x400000n; // one 0x200-byte implementation object per greenlet
const STACK = 0x7ff000000000n; // the thread's stack mapping
const GARBAGE = 0xdead0000beef0n;
const TID = 4242;

/** Slots: 0 main greenlet (running), 1 suspended, 2 garbage frame, 3 finished; 4 frame object. */
const object = (slot: number) => OBJECTS + BigInt(slot) * 0x100n + 16n;
const impl = (slot: number) => IMPLS + BigInt(slot) * 0x200n;
const THREAD_STATE = IMPLS + 0x1000n;
const INTERP_FRAME = IMPLS + 0x1100n;

/** Word indexes of greenlet's implementation objects (`pimpl`). */
interface ImplLayout {
  /** `_self` of every greenlet, and of a main greenlet only (3.x: `MainGreenlet::_self`). */
  self: bigint;
  mainSelf?: bigint;
  /** `_main_greenlet` of a user greenlet, `_thread_state` of a main one. */
  main: bigint;
  threadState: bigint;
  stackStart: bigint;
  top: bigint;
}

/** greenlet 2.0.2 on 3.11 (Debian 12): `_self` in the subclass, after the base. */
const G2: ImplLayout = { self: 20n, main: 21n, threadState: 21n, stackStart: 6n, top: 12n };
/** greenlet 3.3.2 on 3.14 (Debian sid): `_self` first in the base, again in `MainGreenlet`. */
const G3: ImplLayout = {
  self: 1n,
  mainSelf: 22n,
  main: 22n,
  threadState: 23n,
  stackStart: 7n,
  top: 13n,
};

/**
 * The fake target, its greenlets on the GC list at `GC + list` (24: the youngest, 72: the
 * oldest), laid out as `layout` says.
 */
function fakeTarget(list = 24n, layout = G2): FakeMemory {
  const word = (slot: number, index: bigint) => impl(slot) + index * 8n;
  const mem = new FakeMemory();
  mem.map(INTERP, 0x1000);
  mem.map(TYPES, 0x1000);
  mem.map(OBJECTS, 0x1000);
  mem.map(IMPLS, 0x2000);
  const text = new TextEncoder();
  mem.write(TYPES + 0x400n, text.encode("greenlet.greenlet\0"));
  mem.write(TYPES + 0x420n, text.encode("frame\0"));
  mem.writeU64(TYPES + 24n, TYPES + 0x400n); // tp_name
  mem.writeU64(TYPES + 0x200n + 24n, TYPES + 0x420n);
  // One list holds the four greenlets; the other list heads are empty.
  const slots = [0, 1, 2, 3];
  const node = (i: number) => i < 0 || i >= slots.length ? GC + list : object(i) - 16n;
  mem.writeU64(GC + list, node(0));
  mem.writeU64(GC + list + 8n, node(slots.length - 1));
  for (const i of slots) {
    mem.writeU64(node(i), node(i + 1));
    mem.writeU64(node(i) + 8n, node(i - 1));
    mem.writeU64(object(i) + 8n, TYPES); // ob_type
    mem.writeU64(object(i) + 32n, impl(i)); // pimpl
    mem.writeU64(word(i, layout.self), object(i));
    if (i === 0) {
      if (layout.mainSelf !== undefined) mem.writeU64(word(i, layout.mainSelf), object(i));
      mem.writeU64(word(i, layout.threadState), THREAD_STATE);
    } else {
      mem.writeU64(word(i, layout.main), object(0));
    }
    mem.writeU64(word(i, layout.stackStart), STACK + 0x800n); // an address in the stack
  }
  for (const empty of [24n, 48n, 72n].filter((h) => h !== list)) {
    mem.writeU64(GC + empty, GC + empty);
    mem.writeU64(GC + empty + 8n, GC + empty);
  }
  mem.writeU64(word(0, layout.stackStart + 1n), 0xffff_ffff_ffff_ffffn); // main's stack_stop
  mem.writeU64(THREAD_STATE, object(0)); // main_greenlet
  mem.writeU64(THREAD_STATE + 8n, object(0)); // current_greenlet: main runs
  // Slot 1: _top_frame is a frame object whose f_frame points back at it; its code is unreadable.
  mem.writeU64(word(1, layout.top), object(4));
  mem.writeU64(object(4) + 8n, TYPES + 0x200n);
  mem.writeU64(object(4) + 24n, INTERP_FRAME); // f_frame
  mem.writeU64(INTERP_FRAME + 40n, object(4)); // frame_obj
  mem.writeU64(INTERP_FRAME + 32n, GARBAGE); // f_code
  mem.writeU64(word(2, layout.top), GARBAGE);
  // The running main greenlet keeps a stale frame: it is not shown.
  mem.writeU64(word(0, layout.top), object(4));
  return mem;
}

const MAPS: MapEntry[] = [{
  start: STACK,
  end: STACK + 0x1000n,
  perms: "rw-p",
  offset: 0n,
  device: "00:00",
  inode: 0,
  path: "",
}];

function context(mem: FakeMemory, log: string[] = []) {
  return {
    mem,
    rt,
    interp: INTERP,
    runtime: undefined,
    maps: MAPS,
    stackPointers: new Map([[TID, STACK + 0x100n]]),
    log: (line: string) => log.push(line.replace(/ in [\d.]+ ms$/, "")),
  };
}

function read(mem: FakeMemory) {
  return readGreenlets(context(mem));
}

/** Address and frame count of each greenlet read. */
const summary = (walk: ReturnType<typeof read>) =>
  walk.greenlets.map((g) => [g.address, g.frames.length]);

Deno.test("readGreenlets() shows suspended greenlets only, a garbage frame pointer marked", () => {
  const walk = read(fakeTarget());
  assert.deepEqual(walk.warnings, []);
  assert.deepEqual(
    walk.greenlets.map((g) => ({ ...g, frames: g.frames.map((f) => f.function) })),
    [
      {
        address: object(1),
        typeName: "greenlet.greenlet",
        tid: TID,
        frames: ["???"],
        // The fake frame's code object is not there: said.
        partial: "1 of 1 frames' code objects are unreadable (shown as ???)",
      },
      {
        address: object(2),
        typeName: "greenlet.greenlet",
        tid: TID,
        frames: [],
        partial: "saved frame pointer 0xdead0000beef0 does not lead to a frame",
      },
    ],
  );
});

Deno.test("readGreenlets() says so when no greenlet's thread stack is known", () => {
  const mem = fakeTarget();
  const walk = readGreenlets({
    mem,
    rt,
    interp: INTERP,
    runtime: undefined,
    maps: MAPS,
    stackPointers: new Map(),
  });
  assert.deepEqual(walk.greenlets.map((g) => g.tid), [0, 0]);
  assert.deepEqual(walk.warnings, [
    "the thread of some greenlets could not be told (shown as thread 0)",
  ]);
});

Deno.test("readGreenlets() ends at a broken GC list with a warning, never throws", () => {
  const mem = fakeTarget();
  mem.writeU64(object(1) - 16n, GARBAGE); // the second node's next pointer
  const walk = read(mem);
  assert.deepEqual(walk.warnings, ["greenlets may be missing: GC list broken at 0x300100"]);
  assert.deepEqual(walk.greenlets.map((g) => g.address), [object(1)]);
});

Deno.test("greenletModuleMapped() looks for greenlet's extension only", () => {
  const map = (path: string): MapEntry => ({ ...MAPS[0]!, path });
  assert.ok(greenletModuleMapped([
    map("/usr/lib/python3/dist-packages/greenlet/_greenlet.cpython-311-x86_64-linux-gnu.so"),
  ]));
  assert.ok(!greenletModuleMapped([map("/usr/lib/libgreenlet_helper.so"), map("")]));
});

Deno.test("readGreenlets() with a prescan walks only the youngest list when the others ended", () => {
  const mem = fakeTarget(72n);
  const prescan = prescanGreenlets(context(mem));
  assert.ok(prescan?.complete);
  assert.deepEqual([...prescan.objects.keys()], [object(0), object(1), object(2), object(3)]);
  const log: string[] = [];
  const walk = readGreenlets(context(mem, log), prescan);
  assert.deepEqual(summary(walk), [[object(1), 1], [object(2), 0]]);
  assert.deepEqual(log, [
    "greenlets: 4 found among 0 objects on the youngest of 3 GC lists (the others as scanned " +
    "before the pause)",
  ]);
});

Deno.test("readGreenlets() with a prescan drops a greenlet freed since", () => {
  const mem = fakeTarget(72n);
  const prescan = prescanGreenlets(context(mem));
  // Slot 2 leaves the list (its neighbours 1 and 3 link to each other) and its links are cleared.
  mem.writeU64(object(1) - 16n, object(3) - 16n);
  mem.writeU64(object(3) - 16n + 8n, object(1) - 16n);
  mem.writeU64(object(2) - 16n, 0n);
  mem.writeU64(object(2) - 16n + 8n, 0n);
  assert.deepEqual(summary(readGreenlets(context(mem), prescan)), [[object(1), 1]]);
});

Deno.test("readGreenlets() with a prescan walks every list again when an older one grew", () => {
  const mem = fakeTarget(72n);
  const prescan = prescanGreenlets(context(mem));
  // A collection moved the young list (one more greenlet: slot 5, suspended like slot 1) to
  // the end of the old one.
  mem.writeU64(object(5) + 8n, TYPES);
  mem.writeU64(object(5) + 32n, impl(5));
  mem.writeU64(impl(5) + 20n * 8n, object(5));
  mem.writeU64(impl(5) + 21n * 8n, object(0));
  mem.writeU64(impl(5) + 12n * 8n, object(4));
  mem.writeU64(object(3) - 16n, object(5) - 16n);
  mem.writeU64(object(5) - 16n, GC + 72n);
  mem.writeU64(object(5) - 16n + 8n, object(3) - 16n);
  mem.writeU64(GC + 80n, object(5) - 16n);
  const log: string[] = [];
  const walk = readGreenlets(context(mem, log), prescan);
  assert.deepEqual(summary(walk), [[object(1), 1], [object(2), 0], [object(5), 1]]);
  assert.deepEqual(log, ["greenlets: 5 found among 5 objects on 3 GC lists"]);
});

Deno.test("readGreenlets() counts a greenlet whose implementation is unreadable", () => {
  const mem = fakeTarget();
  mem.writeU64(object(3) + 32n, GARBAGE); // pimpl
  const walk = read(mem);
  assert.deepEqual(walk.warnings, [
    "1 greenlet(s) not shown: their implementation is not readable",
  ]);
  assert.deepEqual(summary(walk), [[object(1), 1], [object(2), 0]]);
});

Deno.test("readGreenlets() shows nothing when no greenlet holds a frame object", () => {
  const mem = fakeTarget();
  mem.writeU64(impl(1) + 12n * 8n, GARBAGE);
  const log: string[] = [];
  const walk = readGreenlets(context(mem, log));
  assert.deepEqual(walk.greenlets, []);
  assert.equal(walk.running.get(TID)?.role, "main");
  assert.ok(
    log.includes("greenlets: none holds a saved frame (not started, finished, or unreadable)"),
  );
});

Deno.test("readGreenlets() reads greenlet 3.x's layout the same way", () => {
  const walk = read(fakeTarget(24n, G3));
  assert.deepEqual(walk.warnings, []);
  assert.deepEqual(summary(walk), [[object(1), 1], [object(2), 0]]);
  assert.deepEqual(walk.greenlets.map((g) => g.tid), [TID, TID]);
  assert.equal(walk.running.get(TID)?.address, object(0));
});

Deno.test("readGreenlets() takes no stack slot that points at a main greenlet for its state", () => {
  const mem = fakeTarget();
  // The main greenlet's saved stack address holds its own address (a local variable there),
  // then no greenlet: not its ThreadState, which comes later.
  mem.map(STACK, 0x1000);
  mem.writeU64(STACK + 0x800n, object(0));
  const walk = read(mem);
  assert.equal(walk.running.get(TID)?.address, object(0));
  assert.deepEqual(summary(walk), [[object(1), 1], [object(2), 0]]);
});

Deno.test("readGreenlets() says free-threaded builds keep no lists to search", () => {
  const ft = selectRuntime({ major: 3, minor: 13, micro: 0, releaseLevel: "final", serial: 0 }, {
    freeThreaded: true,
  });
  const walk = readGreenlets({ ...context(fakeTarget()), rt: ft });
  assert.deepEqual(walk.greenlets, []);
  assert.deepEqual(walk.warnings, [
    "greenlets are not looked for in free-threaded builds (no GC lists)",
  ]);
});
