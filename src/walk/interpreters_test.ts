/**
 * `walkInterpreters()` over crafted memory: every interpreter of the list,
 * and bad lists (a loop, a corrupt thread list, more interpreters than the
 * bound) end with partial results and a marker, never a hang or a throw.
 */
import assert from "node:assert/strict";
import { MAX_INTERPRETERS, walkInterpreters } from "./interpreters.ts";
import { noThreadStates } from "../read_python.ts";
import { fakeInterpreters as memoryFor, INTERP, off, THREAD } from "./_fake_interpreters.ts";

Deno.test("walkInterpreters() reads every interpreter of the runtime's list, newest first", () => {
  const { ctx } = memoryFor(3);
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.interpreters.map((i) => [i.id, i.threadStates]), [[2, 1], [1, 1], [0, 1]]);
  assert.deepEqual(walk.threads.map((t) => [t.tid, t.interpreterId]), [[100, 2], [101, 1], [
    102,
    0,
  ]]);
  assert.deepEqual(walk.warnings, []);
  assert.equal(walk.anchors.length, 3);
});

Deno.test("walkInterpreters() stops at a loop in the interpreter list and says so", () => {
  const { ctx, mem, interp } = memoryFor(3);
  mem.writeU64(interp(2) + off(INTERP, "next"), interp(0)); // the main one links back to the head
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.interpreters.map((i) => i.id), [2, 1, 0]);
  assert.ok(walk.warnings.some((w) => w.startsWith("the interpreter list loops back to 0x")));
});

Deno.test("walkInterpreters() keeps the other interpreters when one's thread list is corrupt", () => {
  const { ctx, mem, interp } = memoryFor(3);
  mem.writeU64(interp(1) + off(INTERP, "tstate_head"), 0xdead_0000n); // unmapped
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.threads.map((t) => t.interpreterId), [2, 0]);
  assert.equal(walk.interpreters[1]!.threadStates, 0);
  assert.match(walk.interpreters[1]!.problem!, /unreadable/);
  assert.ok(walk.warnings.some((w) => w.startsWith("interpreter 1: thread state at 0xdead0000")));
});

Deno.test("walkInterpreters() skips an unreadable interpreter at the end of a list", () => {
  const { ctx, mem, interp } = memoryFor(2);
  mem.writeU64(interp(1) + off(INTERP, "next"), 0xbad_0000n);
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.threads.map((t) => t.interpreterId), [1, 0]);
  assert.deepEqual(walk.interpreters.at(-1), {
    id: -1,
    address: 0xbad_0000n,
    threadStates: 0,
    problem: "unreadable",
  });
});

Deno.test("walkInterpreters() stops after MAX_INTERPRETERS of 10,000 interpreters", () => {
  const { ctx } = memoryFor(10_000);
  const walk = walkInterpreters(ctx);
  assert.equal(walk.interpreters.length, MAX_INTERPRETERS + 1); // and the one found, at the end
  assert.ok(walk.warnings.includes(`stopped after ${MAX_INTERPRETERS} interpreters`));
  assert.ok(
    walk.warnings.some((w) => w.startsWith("the interpreter list does not reach")),
    "the interpreter found (the main one) is still read",
  );
  assert.equal(walk.threads.at(-1)!.interpreterId, 0);
});

Deno.test("walkInterpreters() reads the interpreter found when the runtime is unknown", () => {
  const { ctx } = memoryFor(2);
  const walk = walkInterpreters({ ...ctx, runtime: undefined });
  assert.deepEqual(walk.interpreters.map((i) => i.id), [0]);
});

Deno.test("walkInterpreters() marks a thread being started (3.12: not bound yet) as starting", () => {
  const { ctx, mem, thread } = memoryFor(1, 3);
  // The second state was made by `_thread.start_new_thread`: no OS thread of its own yet.
  mem.writeI32(thread(0, 1) + off(THREAD, "status"), 0b1);
  mem.writeU64(thread(0, 1) + off(THREAD, "native_thread_id"), 0n);
  // The third ran and ended (unbound): finished, not starting.
  mem.writeI32(thread(0, 2) + off(THREAD, "status"), 0b111);
  mem.writeU64(thread(0, 2) + off(THREAD, "native_thread_id"), 0n);
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.threads.map((t) => [t.tid, t.starting]), [
    [100, undefined],
    [0, true],
    [0, undefined],
  ]);
});

Deno.test("noThreadStates() says why a walk shows no thread: an interpreter still being created", () => {
  const { ctx, mem, interp } = memoryFor(1);
  mem.writeU64(interp(0) + off(INTERP, "tstate_head"), 0n);
  mem.writeI32(interp(0) + off(INTERP, "initialized"), 0);
  const walk = walkInterpreters(ctx);
  assert.deepEqual(walk.threads, []);
  assert.deepEqual([noThreadStates(walk)], [
    "no Python thread state to show: the interpreter is still being created (the process is " +
    "starting, or has just exec'd)",
  ]);
  // Created: no thread state, and no reason known.
  mem.writeI32(interp(0) + off(INTERP, "initialized"), 1);
  assert.deepEqual([noThreadStates(walkInterpreters(ctx))], ["no Python thread state to show"]);
});
