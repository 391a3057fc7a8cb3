/**
 * `--timeout`: the moment after which long work stops. Loops over target
 * memory ask {@linkcode Deadline.passed} at each step (an interpreter, a
 * thread, a stage); once it says yes they stop, and the caller reports what
 * was read (`StackReport.timedOut`).
 *
 * @module
 */

import type { TimedOut } from "./model.ts";
import type { InterpretersWalk } from "./walk/interpreters.ts";

/** Options of {@linkcode Deadline}. */
export interface DeadlineOptions {
  /** The clock, in milliseconds (default `performance.now`). */
  now?: () => number;
  /** When the bound starts, by the clock (default: now; the CLI gives 0, its own start). */
  startMs?: number;
  /**
   * Called before each check with its stage (a testing aid: the CLI's
   * `_PYSTACK_TEST_SLOW_AFTER_THREADS` and `_PYSTACK_TEST_SLOW_STAGE`).
   */
  beforeCheck?: (stage: string) => void;
  /** Called once by {@linkcode Deadline.readingDone} (the CLI stops its backstop there). */
  onReadingDone?: () => void;
}

/**
 * A bound on time: `seconds` after `startMs` (by default, from its creation).
 *
 * @example Stops once, and remembers where
 * ```ts
 * import { Deadline } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * let clock = 0;
 * const deadline = new Deadline(1.5, { now: () => clock });
 * assert.equal(deadline.passed("threads"), false);
 * clock = 1500;
 * assert.equal(deadline.passed("locals"), true);
 * assert.equal(deadline.passed("native frames"), true);
 * assert.equal(deadline.stage, "locals");
 * ```
 */
export class Deadline {
  /** The bound, in seconds. */
  readonly seconds: number;
  readonly #endMs: number;
  readonly #now: () => number;
  readonly #beforeCheck: ((stage: string) => void) | undefined;
  #onReadingDone: (() => void) | undefined;
  #stage: string | undefined;

  constructor(seconds: number, options: DeadlineOptions = {}) {
    if (!(seconds > 0) || !Number.isFinite(seconds)) {
      throw new RangeError(`Cannot set a deadline of ${seconds} s: expected a positive number`);
    }
    this.seconds = seconds;
    this.#now = options.now ?? (() => performance.now());
    this.#endMs = (options.startMs ?? this.#now()) + seconds * 1000;
    this.#beforeCheck = options.beforeCheck;
    this.#onReadingDone = options.onReadingDone;
  }

  /**
   * Says that the reading is over and only the output is left: the bound no
   * longer applies to it (a slow reader of the output is not a stuck read).
   */
  readingDone(): void {
    const done = this.#onReadingDone;
    this.#onReadingDone = undefined;
    done?.();
  }

  /**
   * Whether the time is up. The first `stage` seen after it (what was being read) is kept
   * in {@linkcode stage}; every later check says yes without waiting.
   */
  passed(stage: string): boolean {
    if (this.#stage !== undefined) return true;
    this.#beforeCheck?.(stage);
    if (this.#now() < this.#endMs) return false;
    this.#stage = stage;
    return true;
  }

  /** What was being read when the time ran out; undefined while it has not. */
  get stage(): string | undefined {
    return this.#stage;
  }

  /** Milliseconds left (0 once past), by the clock. */
  remainingMs(): number {
    return Math.max(0, this.#endMs - this.#now());
  }
}

/**
 * What a report says of a run cut by `deadline` (undefined when the time did not run out):
 * the walk's threads are shown, and it found `unread` more.
 */
export function timedOutOf(
  deadline: Deadline | undefined,
  walk: Pick<InterpretersWalk, "threads" | "unread" | "interpretersSkipped">,
): TimedOut | undefined {
  if (deadline?.stage === undefined) return undefined;
  const shown = walk.threads.length;
  return {
    seconds: deadline.seconds,
    stage: deadline.stage,
    threadsShown: shown,
    threadsFound: shown + (walk.unread ?? 0),
    interpretersSkipped: walk.interpretersSkipped === true,
  };
}

/**
 * Seconds with at least one decimal, as `--timeout` messages show them: `1.0`, `0.5`, `2.25`.
 *
 * @example
 * ```ts
 * import { formatSeconds } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatSeconds(1), "1.0");
 * assert.equal(formatSeconds(0.25), "0.25");
 * ```
 */
export function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds);
}
