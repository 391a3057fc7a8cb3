import assert from "node:assert/strict";
import type { NativeFrame } from "../../model.ts";
import { runningGreenletNative, sliceRunningGreenlets } from "./native_slice.ts";
import { mergedOrder } from "../../native/merge.ts";

const frame = (symbol?: string): NativeFrame =>
  symbol === undefined ? { address: 1n, inlined: false } : { address: 1n, symbol, inlined: false };

const INNER = "greenlet::UserGreenlet::inner_bootstrap(greenlet::Greenlet*, _object*)";

Deno.test("runningGreenletNative() keeps the frames from the newest bootstrap on", () => {
  const stack = [
    frame("_start"),
    frame(INNER),
    frame("PyObject_Call"),
    frame(INNER),
    frame("ev_run"),
  ];
  assert.deepEqual(runningGreenletNative(stack), stack.slice(3));
});

Deno.test("runningGreenletNative() keeps everything without a named bootstrap", () => {
  const stack = [frame("_start"), frame(), frame("ev_run")];
  assert.deepEqual(runningGreenletNative(stack), stack);
  assert.deepEqual(runningGreenletNative([frame(INNER), frame("x")]), [frame(INNER), frame("x")]);
  assert.deepEqual(runningGreenletNative([]), []);
});

Deno.test("sliceRunningGreenlets() orders a cut stack again with its Python frames", () => {
  const thread = {
    tid: 7,
    threadStateAddress: 1n,
    interpreterId: 0,
    frames: [],
    holdsGil: false,
    gcCollecting: false,
    native: [frame("_start"), frame(INNER), frame("ev_run")],
    merged: [],
  };
  sliceRunningGreenlets([thread], "python");
  assert.deepEqual(thread.native.map((f) => f.symbol), [INNER, "ev_run"]);
  assert.deepEqual(thread.merged, mergedOrder(thread, "python"));
  assert.equal(thread.merged.length, 2);
});
