import assert from "node:assert/strict";
import { ASYNCIO_DEBUG_SIZE, decodeAsyncioDebug } from "./asyncio_debug.ts";
import { TASK_LAYOUTS } from "./task_layouts.ts";
import { LAYOUTS } from "../../cpython/layouts/all.ts";

/** Debian sid's 3.14.10 `.AsyncioDebug` section (readelf), as 13 words. */
const DEBIAN_3_14 = [168, 136, 96, 108, 109, 128, 152, 225864, 10880, 936, 864, 872, 880];

function bytesOf(words: number[]): Uint8Array {
  return new Uint8Array(new BigUint64Array(words.map(BigInt)).buffer);
}

Deno.test("decodeAsyncioDebug() reads every offset of a real section", () => {
  const debug = decodeAsyncioDebug(bytesOf(DEBIAN_3_14));
  assert.deepEqual(debug, {
    task: {
      size: 168,
      name: 136,
      awaitedBy: 96,
      isTask: 108,
      awaitedByIsSet: 109,
      coro: 128,
      node: 152,
    },
    interp: { size: 225864, tasksHead: 10880 },
    thread: { size: 936, runningLoop: 864, runningTask: 872, tasksHead: 880 },
  });
});

Deno.test("decodeAsyncioDebug() rejects what is not a section", () => {
  assert.equal(decodeAsyncioDebug(new Uint8Array(ASYNCIO_DEBUG_SIZE - 8)), "too short");
  assert.equal(typeof decodeAsyncioDebug(new Uint8Array(ASYNCIO_DEBUG_SIZE)), "string");
  const outside = [...DEBIAN_3_14];
  outside[5] = 168; // task_coro at the task's end
  assert.equal(decodeAsyncioDebug(bytesOf(outside)), "a task field outside the task");
  const thread = [...DEBIAN_3_14];
  thread[12] = 936;
  assert.equal(decodeAsyncioDebug(bytesOf(thread)), "a thread field outside the thread state");
  const huge = [...DEBIAN_3_14];
  huge[0] = 2 ** 33;
  assert.equal(decodeAsyncioDebug(bytesOf(huge)), "an offset is out of range");
});

Deno.test("3.13's running loop is the first field after PyThreadState (the rule's premise)", () => {
  // Generated from DWARF (`_PyThreadStateImpl.asyncio_running_loop`) and from the headers
  // (`sizeof(PyThreadState)`) of the same 3.13.0 build.
  assert.equal(TASK_LAYOUTS["3.13"]!.threadRunningLoop, LAYOUTS["3.13"]!.structs.thread!.size);
});
