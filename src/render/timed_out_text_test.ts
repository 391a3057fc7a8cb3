import assert from "node:assert/strict";
import { timedOutLine, timedOutText } from "./timed_out_text.ts";
import { formatSeconds } from "../deadline.ts";

Deno.test("timedOutLine() says how many threads were shown, cut while reading threads", () => {
  assert.equal(
    timedOutLine({
      seconds: 0.5,
      stage: "threads",
      threadsShown: 0,
      threadsFound: 200,
      interpretersSkipped: false,
    }),
    "(!) Timed out after 0.5 s (--timeout) while reading threads: 0 of 200 threads shown",
  );
});

Deno.test("timedOutLine() says 'at least' when interpreters were skipped", () => {
  assert.equal(
    timedOutLine({
      seconds: 3,
      stage: "interpreters",
      threadsShown: 4,
      threadsFound: 4,
      interpretersSkipped: true,
    }),
    "(!) Timed out after 3.0 s (--timeout) while reading interpreters: 4 of at least 4 threads " +
      "shown",
  );
});

Deno.test("timedOutText() names the step cut after every thread was read", () => {
  assert.equal(
    timedOutText({
      seconds: 1,
      stage: "locals",
      threadsShown: 4,
      threadsFound: 4,
      interpretersSkipped: false,
    }),
    "Timed out after 1.0 s (--timeout) while reading locals: 4 of 4 threads shown; locals and " +
      "what comes after it are incomplete",
  );
});

Deno.test("formatSeconds() keeps one decimal at least", () => {
  assert.deepEqual([1, 10, 0.5, 1.25].map(formatSeconds), ["1.0", "10.0", "0.5", "1.25"]);
});
