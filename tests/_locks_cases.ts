/**
 * The scenarios of `fixtures/locks.py` and what `--locks --json` must say
 * about each: the exact threads (told by a function on their stack, which a
 * core keeps too), the kind of what each waits for, its holder, the
 * confidence, and the deadlocks.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Python } from "./_pythons.ts";
import type { Skip } from "./_harness.ts";

/** One thread of the JSON report, as far as `--locks` is concerned. */
export interface LockThread {
  tid: number;
  /** The OS thread name (live only). */
  name?: string | null;
  frames: { function: string; file: string }[];
  waitingFor?: {
    kind: string;
    resource: string;
    holder?: number;
    confidence?: string;
    evidence: string;
  };
  holds?: { kind: string; resource: string; count?: number; confidence: string }[];
  syscall?: { number: number; name: string; text: string };
}

/** The JSON report, as far as `--locks` is concerned. */
export interface LockDoc {
  threads: LockThread[];
  warnings: string[];
  locks?: {
    deadlocks: { threads: number[]; confidence: string; edges: unknown[] }[];
    findings: string[];
    /** Snapshots compared: 2 live (blocking), 1 from a core or with `--no-block`. */
    snapshots: number;
  };
}

/** The thread with `fn` on its stack (exactly one). */
export function threadWith(doc: LockDoc, fn: string): LockThread {
  const found = doc.threads.filter((t) => t.frames.some((f) => f.function === fn));
  assert.equal(found.length, 1, `exactly one thread runs ${fn}()`);
  return found[0]!;
}

/** The main thread: the one whose oldest frame is the script's `<module>`. */
export function mainThread(doc: LockDoc): LockThread {
  const found = doc.threads.filter((t) =>
    t.frames[0]?.function === "<module>" && t.frames[0]?.file.endsWith("locks.py")
  );
  assert.equal(found.length, 1, "one main thread");
  return found[0]!;
}

/** The deadlocks as sorted thread-id lists, and their confidence. */
export function deadlocks(doc: LockDoc): [number[], string][] {
  assert.ok(doc.locks !== undefined, "the report has a locks summary");
  return doc.locks.deadlocks.map((d) => [[...d.threads].sort((a, b) => a - b), d.confidence]);
}

function pair(a: number, b: number): number[] {
  return [a, b].sort((x, y) => x - y);
}

function waits(
  t: LockThread,
  kind: string,
  holder: number | undefined,
  confidence: string | undefined,
  resource?: RegExp,
): void {
  const w = t.waitingFor;
  assert.ok(w !== undefined, `thread ${t.tid} waits for something`);
  assert.equal(w.kind, kind, `thread ${t.tid}: ${JSON.stringify(w)}`);
  assert.equal(w.holder, holder, `thread ${t.tid} holder: ${JSON.stringify(w)}`);
  assert.equal(w.confidence, confidence, `thread ${t.tid} confidence: ${JSON.stringify(w)}`);
  if (resource !== undefined) assert.match(w.resource, resource);
}

/**
 * The main thread holds the GIL while blocked on the mutex the other thread
 * (`hold_mutex`) holds while it waits for the GIL: a recorded cycle.
 */
function checkGilHolderBlocked(doc: LockDoc): void {
  const main = mainThread(doc);
  const holder = threadWith(doc, "hold_mutex");
  waits(main, "pthread_mutex", holder.tid, "recorded", /^pthread mutex 0x[0-9a-f]+$/);
  assert.equal(main.waitingFor!.evidence, "owner recorded in the mutex");
  assert.deepEqual(main.holds?.map((h) => [h.kind, h.resource]), [["gil", "the GIL"]]);
  // A snapshot can catch the GIL waiter between two of its 5 ms waits: in user code (no
  // system call), waking the GIL's mutex (`futex(…, FUTEX_WAKE)`), or, live, waiting
  // elsewhere in one of the two snapshots (a warning says its waits changed). Its wait is
  // then not shown, and no cycle is claimed; in a wait, everything is.
  const syscall = holder.syscall?.text;
  const changed = doc.warnings.some((w) =>
    w.startsWith("--locks: the waits of threads ") &&
    w.includes(`${holder.tid}`) && w.includes("changed between the two snapshots")
  );
  if (changed || syscall === undefined || /^futex\(0x[0-9a-f]+, FUTEX_/.test(syscall)) {
    assert.equal(holder.waitingFor, undefined, `between waits (${syscall ?? "no call"})`);
    assert.deepEqual(deadlocks(doc), []);
    return;
  }
  waits(holder, "gil", main.tid, "recorded", /^the GIL$/);
  assert.deepEqual(deadlocks(doc), [[pair(main.tid, holder.tid), "recorded"]]);
  assert.equal(doc.locks!.findings.length, 1);
  assert.match(
    doc.locks!.findings[0]!,
    new RegExp(
      `^thread ${main.tid}(?: \\(.*\\))? holds the GIL while blocked in native code ` +
        `\\(futex\\(0x[0-9a-f]+\\)\\); 1 thread waits for the GIL$`,
    ),
  );
}

/** One scenario: its name, when it cannot run, and its checks. */
export interface LockScenario {
  name: string;
  /** Milliseconds to wait after `ready` (the GIL case needs its holder to want the GIL back). */
  settleMs: number;
  skip(python: Python): Skip | undefined;
  check(doc: LockDoc, python: Python): void;
  /** Its third argument is `fixtures/native/locks_mutex.cpp` built as a shared library. */
  cppLibrary?: boolean;
  /** The check with `--no-block`, when it differs. */
  checkNoBlock?(doc: LockDoc, python: Python): void;
  /**
   * Whether a live run caught everything the scenario can show, where `check` also accepts
   * less (a waiter caught between two waits): the live test then runs pystack again, a few
   * times, until one run does, so that the whole finding is checked every time.
   */
  caughtAll?(doc: LockDoc): boolean;
}

/** The GIL scenarios caught all: the holder's wait for the GIL is shown. */
function gilWaitShown(doc: LockDoc): boolean {
  return threadWith(doc, "hold_mutex").waitingFor !== undefined;
}

/** Skips the scenario on Python 2.7, saying why (`reason`). */
const python3 = (reason: string) => (python: Python): Skip | undefined =>
  python.version[0] < 3 ? { reason } : undefined;
const PY2_IMPORT =
  "2.7 has one global import lock, no per-module lock for two imports to deadlock on";
const PY2_FUTURES = "concurrent.futures is not in Python 2.7's standard library";

/** Every scenario of `fixtures/locks.py` but `io` (checked apart: it names descriptors). */
export const SCENARIOS: LockScenario[] = [
  {
    name: "with_locks",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const a = threadWith(doc, "take_a");
      const b = threadWith(doc, "take_b");
      waits(a, "lock", b.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+ \(LOCK_Y\)$/);
      waits(b, "lock", a.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+ \(LOCK_X\)$/);
      assert.match(a.waitingFor!.evidence, /^inferred: inside its 'with LOCK_Y:' block/);
      assert.deepEqual(a.holds?.map((h) => [h.kind, h.confidence]), [["lock", "inferred"]]);
      assert.deepEqual(deadlocks(doc), [[pair(a.tid, b.tid), "inferred"]]);
    },
  },
  {
    name: "rlocks",
    settleMs: 100,
    skip: () => undefined,
    check(doc, python) {
      const a = threadWith(doc, "take_a");
      const b = threadWith(doc, "take_b");
      // 2.7's threading.RLock is the Python `_RLock`.
      const type = python.version[0] < 3 ? "threading\\._RLock" : "threading\\.RLock";
      waits(a, "rlock", b.tid, "recorded", new RegExp(`^${type} 0x[0-9a-f]+ \\(RLOCK_Y\\)$`));
      waits(b, "rlock", a.tid, "recorded", new RegExp(`^${type} 0x[0-9a-f]+ \\(RLOCK_X\\)$`));
      assert.deepEqual(a.holds?.map((h) => [h.kind, h.count, h.confidence]), [
        ["rlock", 1, "recorded"],
      ]);
      assert.deepEqual(deadlocks(doc), [[pair(a.tid, b.tid), "recorded"]]);
    },
  },
  {
    name: "acquire",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const [a, b] = doc.threads.filter((t) => t.frames.some((f) => f.function === "take"));
      assert.ok(a !== undefined && b !== undefined, "two threads run take()");
      waits(a, "lock", b.tid, "inferred");
      waits(b, "lock", a.tid, "inferred");
      assert.match(a.waitingFor!.evidence, /the only other thread whose frames refer to the lock/);
      assert.deepEqual(deadlocks(doc), [[pair(a.tid, b.tid), "inferred"]]);
    },
  },
  {
    name: "join",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const main = mainThread(doc);
      const worker = threadWith(doc, "wait_for_lock");
      waits(main, "thread_join", worker.tid, "recorded", /^Thread\.join\(\) of 'worker'$/);
      waits(worker, "lock", main.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+$/);
      assert.deepEqual(deadlocks(doc), [[pair(main.tid, worker.tid), "inferred"]]);
    },
  },
  {
    name: "gil_mutex",
    settleMs: 600,
    checkNoBlock(doc) {
      // Without a pause, the GIL waiter may be caught between two 5 ms waits (or runnable but
      // not running, on a busy machine): its wait is then not shown, and no cycle is claimed.
      const main = mainThread(doc);
      const holder = threadWith(doc, "hold_mutex");
      waits(main, "pthread_mutex", holder.tid, "recorded", /^pthread mutex 0x[0-9a-f]+$/);
      if (holder.waitingFor === undefined) {
        assert.deepEqual(deadlocks(doc), []);
        return;
      }
      waits(holder, "gil", main.tid, "recorded", /^the GIL$/);
      assert.deepEqual(deadlocks(doc), [[pair(main.tid, holder.tid), "recorded"]]);
    },
    skip: (python) =>
      python.freeThreaded ? { reason: "a free-threaded build has no GIL to hold" } : undefined,
    check: checkGilHolderBlocked,
    caughtAll: gilWaitShown,
  },
  {
    name: "cpp_mutex",
    cppLibrary: true,
    settleMs: 600,
    skip: (python) =>
      python.freeThreaded ? { reason: "a free-threaded build has no GIL to hold" } : undefined,
    check: checkGilHolderBlocked,
    caughtAll: gilWaitShown,
  },
  {
    name: "pthread_join",
    settleMs: 100,
    skip: () => undefined,
    check(doc, python) {
      const main = mainThread(doc);
      const joined = main.waitingFor?.holder;
      assert.ok(joined !== undefined, JSON.stringify(main.waitingFor));
      // The joined thread never ran Python: it is no thread of the report.
      assert.ok(!doc.threads.some((t) => t.tid === joined));
      // glibc up to 2.36 here waits on the joined thread's tid field (recorded); Debian sid's
      // glibc 2.43, which the sid builds and 3.13t use, on a join-state word beside it.
      const exact = main.waitingFor?.confidence === "recorded";
      assert.deepEqual(main.waitingFor, {
        kind: "pthread_join",
        resource: `pthread_join() of thread ${joined}`,
        holder: joined,
        confidence: exact ? "recorded" : "inferred",
        evidence: exact
          ? `its futex is the thread id field of thread ${joined}'s struct pthread`
          : `inferred: its futex lies in thread ${joined}'s struct pthread`,
      });
      // A free-threaded build has no GIL to hold.
      assert.equal(main.holds?.[0]?.kind, python.freeThreaded ? undefined : "gil");
      assert.deepEqual(deadlocks(doc), []);
    },
  },
  {
    name: "import",
    settleMs: 100,
    skip: python3(PY2_IMPORT),
    check(doc) {
      const a = threadWith(doc, "import_a");
      const b = threadWith(doc, "import_b");
      waits(a, "lock", b.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+ \(USER_LOCK\)$/);
      waits(b, "import_lock", a.tid, "recorded", /^the import lock of module 'locks_modx'$/);
      assert.deepEqual(deadlocks(doc), [[pair(a.tid, b.tid), "inferred"]]);
    },
  },
  {
    name: "pool",
    settleMs: 100,
    skip: python3(PY2_FUTURES),
    check(doc) {
      const worker = threadWith(doc, "outer");
      waits(
        worker,
        "future",
        worker.tid,
        "inferred",
        /^concurrent\.futures\.Future 0x[0-9a-f]+ \(queued: every worker of the pool is busy\)$/,
      );
      assert.deepEqual(deadlocks(doc), [[[worker.tid], "inferred"]]);
    },
  },
  {
    name: "future",
    settleMs: 100,
    skip: python3(PY2_FUTURES),
    check(doc) {
      const main = mainThread(doc);
      const worker = threadWith(doc, "task");
      waits(main, "future", worker.tid, "recorded", /^concurrent\.futures\.Future 0x[0-9a-f]+$/);
      assert.equal(
        main.waitingFor!.evidence,
        "the worker running it (its _WorkItem names this future)",
      );
      waits(worker, "lock", main.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+$/);
      assert.deepEqual(deadlocks(doc), [[pair(main.tid, worker.tid), "inferred"]]);
    },
  },
  {
    name: "no_deadlock",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const expected: [string, string][] = [
        ["consume", "queue.Queue.get() (waiting for an item)"],
        ["wait_condition", "Condition.wait() (waiting for notify())"],
      ];
      for (const [fn, resource] of expected) {
        const t = threadWith(doc, fn);
        waits(t, "condition", undefined, undefined);
        assert.equal(t.waitingFor!.resource, resource);
      }
      const event = doc.threads.find((t) =>
        t.frames.at(-2)?.function === "wait" && t.frames.at(-1)?.function === "wait"
      );
      assert.equal(event?.waitingFor?.resource, "Event.wait()");
      for (const t of doc.threads) assert.equal(t.waitingFor?.holder, undefined);
      assert.deepEqual(deadlocks(doc), []);
      assert.deepEqual(doc.locks!.findings, []);
    },
  },
  {
    name: "condition_released",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      // cond is inside `with lock:` but waits in Condition.wait(), which let go of the lock:
      // it holds nothing, and the lock's holder (main) shows it nowhere, so it is unknown.
      const cond = threadWith(doc, "cond_wait");
      waits(cond, "condition", undefined, undefined);
      assert.equal(cond.waitingFor!.resource, "Condition.wait() (waiting for notify())");
      assert.deepEqual(cond.holds ?? [], []);
      // The same with a timeout (2.7 polls: a sleep, not a futex wait, between tries).
      assert.deepEqual(threadWith(doc, "cond_wait_timed").holds ?? [], []);
      const taker = threadWith(doc, "take_lock");
      waits(taker, "lock", undefined, undefined, /^threading\.Lock 0x[0-9a-f]+$/);
      assert.match(taker.waitingFor!.evidence, /^owner unknown: /);
      assert.deepEqual(deadlocks(doc), []);
    },
  },
  {
    name: "self_deadlock",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const selfish = threadWith(doc, "take_twice");
      waits(
        selfish,
        "lock",
        selfish.tid,
        "inferred",
        /^threading\.Lock 0x[0-9a-f]+ \(SELF_LOCK\)$/,
      );
      assert.equal(
        selfish.waitingFor!.evidence,
        "inferred: it is inside its own 'with SELF_LOCK:' block, and a Lock is not re-entrant: " +
          "it waits for itself",
      );
      // The waiter's own `with OTHER_LOCK:` is the one it is entering: no hold, no cycle.
      const waiter = threadWith(doc, "wait_other");
      waits(waiter, "lock", undefined, undefined, /^threading\.Lock 0x[0-9a-f]+ \(OTHER_LOCK\)$/);
      assert.match(waiter.waitingFor!.evidence, /^owner unknown: /);
      assert.deepEqual(deadlocks(doc), [[[selfish.tid], "inferred"]]);
      // A held RLock is named by its global, as a waited-for one is.
      const main = mainThread(doc);
      assert.deepEqual(main.holds?.map((h) => [h.kind, h.count, h.confidence]), [
        ["rlock", 1, "recorded"],
      ]);
      assert.match(main.holds![0]!.resource, /^threading\._?RLock 0x[0-9a-f]+ \(HELD_RLOCK\)$/);
    },
  },
  {
    name: "stale_slot",
    settleMs: 100,
    skip: () => undefined,
    check(doc) {
      const b = threadWith(doc, "hold_l2");
      const a = threadWith(doc, "want_l2");
      // a waits for l2, inside b's `with l2:` block (b holds it).
      waits(a, "lock", b.tid, "inferred", /^threading\.Lock 0x[0-9a-f]+ \(STALE_L2\)$/);
      const l2 = a.waitingFor!.resource;
      assert.deepEqual(b.holds?.map((h) => [h.kind, h.resource, h.confidence]), [
        ["lock", l2, "inferred"],
      ]);
      // b waits for l1, which main holds without a frame showing it: unknown, never a.
      waits(b, "lock", undefined, undefined, /^threading\.Lock 0x[0-9a-f]+ \(STALE_L1\)$/);
      assert.notEqual(b.waitingFor!.resource, l2);
      assert.match(b.waitingFor!.evidence, /^owner unknown: /);
      assert.deepEqual(
        (a.holds ?? []).map((h) => h.resource),
        [],
        "a never touched a lock it could hold",
      );
      assert.deepEqual(deadlocks(doc), []);
    },
  },
];
