import assert from "node:assert/strict";
import { combineInterpreters } from "./combine_interpreters.ts";
import type { PyFrame, PyThread } from "../model.ts";

function frame(fn: string): PyFrame {
  return {
    file: "f.py",
    function: fn,
    location: { line: 1, endLine: 1, column: -1, endColumn: -1 },
    isEntry: true,
    frameAddress: 1n,
    codeAddress: 2n,
  };
}

function state(tid: number, interpreterId: number, fns: string[], extra: Partial<PyThread> = {}) {
  const thread: PyThread = {
    tid,
    threadStateAddress: BigInt(0x1000 * (interpreterId + 1) + tid),
    interpreterId,
    frames: fns.map(frame),
    holdsGil: false,
    gcCollecting: false,
    ...extra,
  };
  return thread;
}

Deno.test("combineInterpreters() orders the parts of a thread by stack anchor, outermost first", () => {
  // Walked newest interpreter first: B (5), A (4), then the main interpreter.
  const threads = [
    state(7, 5, ["b"]),
    state(8, 1, ["w"]),
    state(7, 4, ["a"], { holdsGil: true, partial: "cut" }),
    state(8, 0, ["wmain"]),
    state(7, 0, ["main"]),
  ];
  const out = combineInterpreters(threads, [0x7000n, 0x9100n, 0x8000n, 0x9200n, 0x9000n]);
  assert.deepEqual(out.map((t) => t.tid), [8, 7], "in the order of their last thread state");
  const main = out[1]!;
  assert.deepEqual(main.frames.map((f) => f.function), ["main", "a", "b"]);
  assert.deepEqual(
    main.interpreters!.map((p) => [p.interpreterId, p.frameCount, p.holdsGil, p.partial]),
    [[0, 1, false, undefined], [4, 1, true, "cut"], [5, 1, false, undefined]],
  );
  assert.equal(main.holdsGil, true);
  assert.equal(main.interpreterId, 0);
  assert.equal(main.threadStateAddress, threads[4]!.threadStateAddress);
  assert.equal(main.partial, "in interpreter 4: cut");
});

Deno.test("combineInterpreters() without anchors: parts with frames first, by interpreter id", () => {
  const out = combineInterpreters(
    [state(7, 2, []), state(7, 3, ["c"]), state(7, 1, ["b"]), state(7, 0, ["a"])],
    [0n, 0n, 0n, 0n],
  );
  assert.deepEqual(out[0]!.interpreters!.map((p) => p.interpreterId), [0, 1, 3, 2]);
  assert.deepEqual(out[0]!.frames.map((f) => f.function), ["a", "b", "c"]);
});

Deno.test("combineInterpreters() keeps terminated threads (tid 0) apart and single states as they are", () => {
  const threads = [state(0, 1, ["x"]), state(0, 0, ["y"]), state(9, 0, ["z"])];
  const out = combineInterpreters(threads, [1n, 2n, 3n]);
  assert.equal(out.length, 3);
  assert.strictEqual(out[2], threads[2]);
  assert.equal(out[0]!.interpreters, undefined);
});

Deno.test("combineInterpreters() says undefined when a GIL state is unknown and none holds it", () => {
  const out = combineInterpreters(
    [state(7, 1, ["b"], { holdsGil: undefined }), state(7, 0, ["a"])],
    [1n, 2n],
  );
  assert.equal(out[0]!.holdsGil, undefined);
});
