/**
 * `_Py_AsyncioModuleDebugOffsets` (3.14+): how `_asyncio` describes its tasks to outside
 * readers, the `AsyncioDebug` section of the object that holds `_asyncio` (its own `.so`, or
 * the executable when the module is built in). The module's state keeps a pointer to it
 * (`asyncio_state.debug_offsets`), so it is found from memory alone, in processes and cores.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { rethrowFatal } from "../../errors.ts";

/** Size of the section: 13 `uint64_t`. */
export const ASYNCIO_DEBUG_SIZE = 104;
/** Words of the module state searched for the pointer to it. */
const STATE_WORDS = 64;

/** The offsets `AsyncioDebug` gives (bytes). */
export interface AsyncioDebug {
  task: {
    size: number;
    name: number;
    awaitedBy: number;
    isTask: number;
    awaitedByIsSet: number;
    coro: number;
    node: number;
  };
  interp: { size: number; tasksHead: number };
  thread: { size: number; runningLoop: number; runningTask: number; tasksHead: number };
}

/**
 * Decodes the 104 bytes of an `AsyncioDebug` section, or returns why they are not one
 * (every offset must fall inside its struct, the sizes must be plausible).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeAsyncioDebug } from "./asyncio_debug.ts";
 * // Debian's 3.14.10
 * const words = [168, 136, 96, 108, 109, 128, 152, 225864, 10880, 936, 864, 872, 880];
 * const bytes = new Uint8Array(new BigUint64Array(words.map(BigInt)).buffer);
 * const debug = decodeAsyncioDebug(bytes);
 * assert.ok(typeof debug !== "string");
 * assert.equal(debug.task.coro, 128);
 * assert.equal(debug.thread.tasksHead, 880);
 * ```
 */
export function decodeAsyncioDebug(bytes: Uint8Array): AsyncioDebug | string {
  if (bytes.length < ASYNCIO_DEBUG_SIZE) return "too short";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = Array.from({ length: 13 }, (_, i) => view.getBigUint64(i * 8, true));
  if (w.some((x) => x > 1n << 32n)) return "an offset is out of range";
  const n = w.map(Number) as number[];
  const [taskSize, name, awaitedBy, isTask, isSet, coro, node] = n.slice(0, 7) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [interpSize, interpHead, threadSize, loop, running, threadHead] = n.slice(7) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (taskSize < 64 || taskSize > 4096) return `a task of ${taskSize} bytes`;
  if ([name, awaitedBy, coro, node].some((o) => o < 16 || o % 8 !== 0 || o + 8 > taskSize)) {
    return "a task field outside the task";
  }
  if ([isTask, isSet].some((o) => o < 16 || o >= taskSize)) return "a task flag outside the task";
  if (interpSize < 1024 || interpHead % 8 !== 0 || interpHead + 16 > interpSize) {
    return "the interpreter's task list outside the interpreter";
  }
  if (
    threadSize < 64 || threadSize > 1 << 20 ||
    [loop, running, threadHead].some((o) => o % 8 !== 0 || o + 8 > threadSize)
  ) {
    return "a thread field outside the thread state";
  }
  return {
    task: { size: taskSize, name, awaitedBy, isTask, awaitedByIsSet: isSet, coro, node },
    interp: { size: interpSize, tasksHead: interpHead },
    thread: { size: threadSize, runningLoop: loop, runningTask: running, tasksHead: threadHead },
  };
}

/**
 * The `AsyncioDebug` of the `_asyncio` module at `module` (`sys.modules["_asyncio"]`): the first
 * word of its state that points at a valid one. A string says why none was found.
 */
export function findAsyncioDebug(
  mem: MemoryReader,
  rt: PythonRuntime,
  module: bigint | undefined,
): AsyncioDebug | string {
  if (module === undefined) return "the _asyncio module is not loaded";
  const layout = rt.layout.structs.module_state;
  if (layout === undefined) return "no module layout";
  const state = readStruct(mem, module, layout).ptr("state");
  if (state === 0n) return "the _asyncio module has no state";
  const bytes = mem.read(state, STATE_WORDS * 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = STATE_WORDS - 1; i >= 0; i--) {
    const p = view.getBigUint64(i * 8, true);
    if (p === 0n || p % 8n !== 0n) continue;
    try {
      const debug = decodeAsyncioDebug(mem.read(p, ASYNCIO_DEBUG_SIZE));
      if (typeof debug !== "string") return debug;
    } catch (e) {
      rethrowFatal(e);
    }
  }
  return "the _asyncio module's state points at no valid AsyncioDebug section";
}
