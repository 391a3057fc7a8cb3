import assert from "node:assert/strict";
import { Deadline, timedOutOf } from "./deadline.ts";
import type { PyThread } from "./model.ts";

Deno.test("Deadline.passed() says no before the bound and yes from it on", () => {
  let clock = 100;
  const deadline = new Deadline(0.5, { now: () => clock });
  assert.equal(deadline.passed("threads"), false);
  clock = 599.9;
  assert.equal(deadline.passed("threads"), false);
  assert.equal(deadline.stage, undefined);
  assert.equal(deadline.remainingMs() > 0, true);
  clock = 600;
  assert.equal(deadline.passed("locals"), true);
  assert.equal(deadline.remainingMs(), 0);
});

Deno.test("Deadline.passed() keeps the first stage seen late, and stays passed", () => {
  let clock = 0;
  const deadline = new Deadline(1, { now: () => clock });
  clock = 2000;
  assert.equal(deadline.passed("threads"), true);
  clock = 0; // a clock going back does not undo it
  assert.equal(deadline.passed("native frames"), true);
  assert.equal(deadline.stage, "threads");
});

Deno.test("Deadline counts from startMs when given (the CLI: from its own start)", () => {
  let clock = 900;
  const fromStart = new Deadline(1, { now: () => clock, startMs: 0 });
  const fromNow = new Deadline(1, { now: () => clock });
  clock = 1000;
  assert.equal(fromStart.passed("threads"), true);
  assert.equal(fromNow.passed("threads"), false);
  assert.equal(fromNow.remainingMs(), 900);
});

Deno.test("Deadline calls beforeCheck with each stage, not once passed", () => {
  let clock = 0;
  const seen: string[] = [];
  const deadline = new Deadline(1, {
    now: () => clock,
    beforeCheck: (stage) => {
      seen.push(stage);
      clock += 600;
    },
  });
  assert.equal(deadline.passed("interpreters"), false);
  assert.equal(deadline.passed("threads"), true);
  assert.equal(deadline.passed("threads"), true);
  assert.deepEqual(seen, ["interpreters", "threads"]);
});

Deno.test("new Deadline() rejects a bound that is not a positive number", () => {
  for (const bad of [0, -1, NaN, Infinity]) {
    assert.throws(() => new Deadline(bad), RangeError, String(bad));
  }
});

Deno.test("timedOutOf() counts the threads shown and those found but not read", () => {
  const threads = (n: number) => Array.from({ length: n }, () => ({}) as PyThread);
  let clock = 0;
  const deadline = new Deadline(2, { now: () => clock });
  assert.equal(
    timedOutOf(deadline, { threads: threads(2), unread: 3 }),
    undefined,
    "not passed: nothing to say",
  );
  assert.equal(timedOutOf(undefined, { threads: threads(2) }), undefined, "no --timeout");
  clock = 5000;
  deadline.passed("threads");
  assert.deepEqual(timedOutOf(deadline, { threads: threads(2), unread: 3 }), {
    seconds: 2,
    stage: "threads",
    threadsShown: 2,
    threadsFound: 5,
    interpretersSkipped: false,
  });
  assert.deepEqual(timedOutOf(deadline, { threads: threads(4), interpretersSkipped: true }), {
    seconds: 2,
    stage: "threads",
    threadsShown: 4,
    threadsFound: 4,
    interpretersSkipped: true,
  });
});
