/**
 * What each fixture's threads must look like: order, status, and the
 * function names of the standard-library frames around the fixture's own
 * frames (those come from the `# @frame` markers).
 *
 * The standard-library frames were taken from `fixtures/_dump_stacks.py` runs
 * on every interpreter under test; `tests/fixtures_test.ts` keeps them honest.
 *
 * @module
 */

/** Major and minor version. */
export type Version = readonly [number, number];

/** One thread of a fixture. */
export interface ThreadSpec {
  /** The marker stack name: `main`, or the threading name, which fixtures also make the OS name. */
  stack: string;
  /** Functions of the frames outside the fixture before its first frame, oldest first. */
  before: string[];
  /** Functions of the frames outside the fixture after its last frame. */
  after: string[];
  /** Accepted values of the header's status list (usually exactly one). */
  status: string[][];
}

/** A fixture and its expected threads. */
export interface FixtureSpec {
  /** Used in test names: `fixture=<key>`. */
  key: string;
  /** File name inside `fixtures/`. */
  file: string;
  /** Set when the fixture cannot run on Python 2. */
  python3Only?: boolean;
  /** Newest thread first, main thread last. */
  threads(version: Version): ThreadSpec[];
  /**
   * What cannot be asserted for this version, one short phrase each; the
   * tests put it in their names and logs.
   */
  relaxed?(version: Version): string[];
}

const NOTHING: string[] = [];
const NO_STATUS = [NOTHING];
const HAS_GIL = [["Has the GIL"]];

/** `threading.Thread`'s frames above the target function. */
function bootstrap(version: Version): string[] {
  return version[0] === 2
    ? ["__bootstrap", "__bootstrap_inner", "run"]
    : ["_bootstrap", "_bootstrap_inner", "run"];
}

/** `Event.wait()` without timeout: Event.wait, then Condition.wait. */
const EVENT_WAIT = ["wait", "wait"];

/** `Thread.join()` without timeout. */
function join(version: Version): string[] {
  if (version[0] === 2) return ["join", "wait"];
  if (atLeast(version, [3, 13])) return ["join"];
  return ["join", "_wait_for_tstate_lock"];
}

function atLeast(version: Version, than: Version): boolean {
  return version[0] > than[0] || (version[0] === than[0] && version[1] >= than[1]);
}

function main(after: string[] = NOTHING, status = NO_STATUS): ThreadSpec {
  return { stack: "main", before: NOTHING, after, status };
}

function worker(
  stack: string,
  version: Version,
  after: string[] = NOTHING,
  status = NO_STATUS,
): ThreadSpec {
  return { stack, before: bootstrap(version), after, status };
}

/**
 * The fixture as a build shows it: a free-threaded build has no GIL, and the thread that
 * would hold it shows `Attached` instead (its thread state is attached; README, "Free-threaded
 * builds").
 */
export function forBuild(fixture: FixtureSpec, build: { freeThreaded?: boolean }): FixtureSpec {
  if (build.freeThreaded !== true) return fixture;
  const attached = (status: string[]) => status.map((s) => s === "Has the GIL" ? "Attached" : s);
  return {
    ...fixture,
    threads: (v) =>
      fixture.threads(v).map((spec) => ({ ...spec, status: spec.status.map(attached) })),
  };
}

/** Every fixture of the `remote` matrix. */
export const FIXTURES: FixtureSpec[] = [
  {
    key: "single_thread",
    file: "single_thread.py",
    threads: () => [main()],
  },
  {
    key: "named_threads",
    file: "named_threads.py",
    threads: (v) => [
      worker("worker-3", v, EVENT_WAIT),
      worker("worker-2", v, EVENT_WAIT),
      worker("worker-1", v, EVENT_WAIT),
      main(join(v)),
    ],
  },
  {
    key: "gil_holder",
    file: "gil_holder.py",
    threads: (v) => [
      worker("sleeper", v),
      worker("busy", v, NOTHING, HAS_GIL),
      main(),
    ],
  },
  {
    key: "gc_collecting",
    file: "gc_collecting.py",
    threads: (v) => [
      worker("sleeper", v),
      // 3.6 keeps the flag in a C static of gcmodule.c: pystack reads it through the
      // `collecting` symbol, which every 3.6 under test has in its .symtab.
      main(NOTHING, [["Has the GIL", "Garbage collecting"]]),
    ],
  },
  {
    key: "deep_recursion",
    file: "deep_recursion.py",
    threads: () => [main()],
  },
  {
    key: "non_ascii",
    file: "ünïcødé_名前.py",
    python3Only: true,
    threads: () => [main()],
  },
  {
    key: "exec_code",
    file: "exec_code.py",
    threads: () => [main()],
  },
  {
    key: "demo",
    file: "demo.py",
    threads: (v) => [
      worker("waiter", v, EVENT_WAIT),
      worker("transfer-b", v),
      worker("transfer-a", v),
      main(join(v)),
    ],
  },
];
