/**
 * A task's coroutine chain (`--tasks`): from its coroutine, each suspended coroutine's frame and
 * the object at the top of its value stack (what it awaits), down to a future; and when an
 * `asyncio.sleep` at the end of it wakes up.
 *
 * @module
 */

import { typeOf } from "../../cpython/objects.ts";
import type { AsyncTask, PyFrame, TaskFrame } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { rethrowFatal } from "../../errors.ts";
import { walkFrames } from "../../walk/frames.ts";
import { hex, type TaskObjects } from "./task_objects.ts";

/** Most coroutines followed in one task's chain. */
export const MAX_CHAIN = 1024;

/** Follows the coroutine chain from `coro`: frames outermost first, then what it awaits. */
export function readChain(o: TaskObjects, task: AsyncTask, coro: bigint): void {
  const genLayout = o.rt.layout.structs.gen!;
  const seen = new Set<bigint>();
  let obj = coro;
  let last: PyFrame | undefined;
  let lastName = "";
  while (obj !== 0n) {
    if (seen.has(obj) || seen.size >= MAX_CHAIN) {
      task.partial = `its coroutine chain loops back to ${hex(obj)}`;
      return;
    }
    seen.add(obj);
    const type = o.typeName(obj);
    if (type === "_asyncio.FutureIter") {
      const future = o.word(obj + BigInt(futureIterOffset(o)));
      task.awaiting = { type: o.typeName(future), address: future };
      const until = last === undefined ? undefined : sleepDeadline(o, last);
      if (until !== undefined) task.awaiting.sleepUntil = until;
      const on = last === undefined ? undefined : primitive(o, lastName, last);
      if (on !== undefined) task.awaiting.on = on;
      return;
    }
    if (type !== "coroutine" && type !== "generator") {
      task.awaiting = { type, address: obj };
      return;
    }
    const gen = readStruct(o.mem, obj, genLayout);
    const frame = gen.has("iframe") ? gen.addressOf("iframe") : gen.ptr("frame");
    if (frame === 0n) return; // finished
    const name = o.qualname(gen.ptr("qualname"));
    const walked = walkFrames(
      { mem: o.mem, rt: o.rt, codes: o.codes, types: o.types },
      frame,
    ).frames;
    // A suspended coroutine's frame links to nothing; a running one to its caller's.
    const own = walked.at(-1);
    last = own;
    lastName = name;
    task.coroutineStack.push(
      {
        function: name,
        file: own?.file ?? "???",
        line: own?.location.line ?? 0,
      } satisfies TaskFrame,
    );
    const running = o.rules.executingState !== undefined
      ? gen.int("frame_state") === o.rules.executingState
      : walked.length > 1 || task.current;
    if (running) return; // its awaitee is not on its stack: it is running
    obj = awaitee(o, frame);
  }
}

/** asyncio's primitives, by the qualified name of the coroutine a task waits in. */
const PRIMITIVES: Readonly<Record<string, string>> = {
  "Event.wait": "asyncio.Event",
  "Lock.acquire": "asyncio.Lock",
  "Condition.wait": "asyncio.Condition",
  "Semaphore.acquire": "asyncio.Semaphore",
  "Barrier.wait": "asyncio.Barrier",
  "Barrier._block": "asyncio.Barrier",
  "Barrier._wait": "asyncio.Barrier",
  "Queue.get": "asyncio.Queue",
  "Queue.put": "asyncio.Queue",
  "Queue.join": "asyncio.Queue",
  "StreamReader._wait_for_data": "asyncio.StreamReader",
};

/**
 * The asyncio primitive a task waits on, when its innermost coroutine is one of its methods (in
 * asyncio's own `locks.py`, `queues.py`, `streams.py`): which one (the method's `self`).
 */
function primitive(
  o: TaskObjects,
  qualname: string,
  frame: PyFrame,
): { what: string; address: bigint } | undefined {
  const what = PRIMITIVES[qualname];
  if (what === undefined || !/[/\\]asyncio[/\\](locks|queues|streams)\.py$/.test(frame.file)) {
    return undefined;
  }
  try {
    const self = o.variables.local(frame, "self");
    return self === undefined ? undefined : { what, address: self };
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

function sleepDeadline(o: TaskObjects, frame: PyFrame): number | undefined {
  if (frame.function !== "sleep" || !/[/\\]asyncio[/\\]tasks\.py$/.test(frame.file)) {
    return undefined;
  }
  try {
    const structs = o.rt.layout.structs;
    const handle = o.variables.local(frame, "h");
    if (handle === undefined || o.typeName(handle) !== "TimerHandle") return undefined;
    const type = typeOf(o.mem, o.rt, handle);
    let offset = o.whenOffsets.get(type);
    if (offset === undefined) {
      offset = 0;
      const descriptor = o.attributeOrClass(handle, "_when");
      if (descriptor !== undefined && o.typeName(descriptor) === "member_descriptor") {
        const member = readStruct(o.mem, descriptor, structs.memberdescr!).ptr("member");
        const found = readStruct(o.mem, member, structs.memberdef!).int("offset");
        if (found >= 16 && found <= 4096 && found % 8 === 0) offset = found;
      }
      o.whenOffsets.set(type, offset);
    }
    if (offset === 0) return undefined;
    const when = o.word(handle + BigInt(offset));
    if (o.typeName(when) !== "float") return undefined;
    return readStruct(o.mem, when, structs.float!).f64("value");
  } catch (e) {
    rethrowFatal(e);
    return undefined;
  }
}

function futureIterOffset(o: TaskObjects): number {
  // `futureiterobject {PyObject_HEAD; FutureObj *future; }` in every version.
  return o.rules.layout?.futureIterFuture ?? 16;
}

/** The top of a suspended frame's value stack: what it awaits (0n when nothing). */
function awaitee(o: TaskObjects, frame: bigint): bigint {
  const f = readStruct(o.mem, frame, o.rt.layout.structs.frame!);
  switch (o.rules.awaitee) {
    case "stack_top": {
      const top = f.ptr("stack_top");
      return top === 0n ? 0n : o.word(top - 8n);
    }
    case "value_stack": {
      const depth = f.int("stack_depth");
      return depth <= 0 || depth > 1 << 20
        ? 0n
        : o.word(f.ptr("value_stack") + BigInt((depth - 1) * 8));
    }
    case "stacktop_index": {
      const top = f.int("stacktop");
      return top <= 0 || top > 1 << 20
        ? 0n
        : o.word(f.addressOf("localsplus") + BigInt((top - 1) * 8));
    }
    case "stackpointer": {
      const sp = f.ptr("stacktop");
      if (sp <= f.addressOf("localsplus")) return 0n;
      let ref = o.word(sp - 8n);
      // 3.15 (seen on 3.15.2) suspends with a null reference above the awaited object.
      if ((ref & ~3n) === 0n && sp - 8n > f.addressOf("localsplus")) ref = o.word(sp - 16n);
      // A tagged int (low bits 3) is not an object.
      return (ref & 3n) === 3n ? 0n : ref & ~3n;
    }
  }
}
