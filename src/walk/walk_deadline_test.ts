/**
 * `walkInterpreters()` with a `--timeout` deadline, over crafted memory: the
 * walk stops at the check where the time is up, keeps what it read, and
 * counts the thread states found but not read.
 */
import assert from "node:assert/strict";
import { walkInterpreters } from "./interpreters.ts";
import { Deadline, timedOutOf } from "../deadline.ts";
import { fakeInterpreters } from "./_fake_interpreters.ts";

/** `interpreters` interpreters of `threads` thread states each: the walker's context. */
const memoryFor = (interpreters: number, threads: number) =>
  fakeInterpreters(interpreters, threads).ctx;

/** A deadline whose clock moves one millisecond per check: the `n`th check (1-based) is late. */
function lateAtCheck(n: number): { deadline: Deadline; checks: string[] } {
  let clock = 0;
  const checks: string[] = [];
  const deadline = new Deadline(n / 1000, {
    now: () => clock,
    startMs: 0,
    beforeCheck: (stage) => {
      checks.push(stage);
      clock++;
    },
  });
  return { deadline, checks };
}

Deno.test("walkInterpreters() without a deadline reads every thread state", () => {
  const walk = walkInterpreters(memoryFor(2, 3));
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101, 102, 103, 104, 105]);
  assert.equal(walk.unread, undefined);
  assert.equal(walk.interpretersSkipped, undefined);
});

Deno.test("walkInterpreters() stops at the thread where the deadline passes", () => {
  // Checks: interpreter 1, its threads 100, 101, 102 (late: not read).
  const { deadline, checks } = lateAtCheck(4);
  const walk = walkInterpreters({ ...memoryFor(2, 3), deadline });
  assert.deepEqual(checks, ["interpreters", "threads", "threads", "threads"]);
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101]);
  assert.equal(walk.unread, 1, "the third thread state was found, not read");
  assert.equal(walk.interpretersSkipped, true, "the main interpreter was not read");
  assert.deepEqual(walk.interpreters.map((i) => [i.id, i.threadStates]), [[1, 3]]);
  assert.equal(walk.newest.length, 2, "parallel arrays stay parallel");
  assert.equal(walk.anchors.length, 2);
  assert.equal(deadline.stage, "threads");
  assert.deepEqual(timedOutOf(deadline, walk), {
    seconds: 0.004,
    stage: "threads",
    threadsShown: 2,
    threadsFound: 3,
    interpretersSkipped: true,
  });
});

Deno.test("walkInterpreters() stops before an interpreter when the deadline passes there", () => {
  // Checks: interpreter 1, threads 100-102, interpreter 0 (late).
  const { deadline } = lateAtCheck(5);
  const walk = walkInterpreters({ ...memoryFor(2, 3), deadline });
  assert.deepEqual(walk.threads.map((t) => t.tid), [100, 101, 102]);
  assert.equal(walk.unread, undefined);
  assert.equal(walk.interpretersSkipped, true);
  assert.equal(deadline.stage, "interpreters");
});
