/**
 * What pystack found, as plain data. Renderers turn it into text or JSON.
 *
 * @module
 */

/** Where in its source a frame is executing. Columns are 0-based UTF-8 byte offsets. */
export interface Location {
  line: number;
  endLine: number;
  /** -1 when the interpreter records no column (before 3.11, or no-column entries). */
  column: number;
  endColumn: number;
}

/** An argument or local variable of a frame, its value rendered like Python's `repr`. */
export interface Variable {
  name: string;
  value: string;
  /** Arguments come first, in signature order; then locals in the code object's order. */
  argument: boolean;
}

/** One native (C, C++, Rust) frame, from libdw. */
export interface NativeFrame {
  /** Program counter (for the innermost frame) or return address. */
  address: bigint;
  /** Demangled symbol, or undefined when unknown (printed `???`). */
  symbol?: string;
  /** The object file (module) the address falls in. */
  library?: string;
  /** Source file and line from DWARF, when known. */
  file?: string;
  line?: number;
  /** A call that the compiler inlined into its caller. */
  inlined: boolean;
  /** `address` as the object file numbers it (minus the load bias), when the object is known. */
  objectAddress?: bigint;
  /**
   * `eval`: a call of the interpreter's evaluation loop, which runs Python frames;
   * `plumbing`: interpreter call machinery, hidden when stacks are merged. Unset otherwise.
   */
  role?: "eval" | "plumbing";
}

/** One Python frame. */
export interface PyFrame {
  file: string;
  function: string;
  location: Location;
  /** The first frame run by a new call of the C evaluation loop. */
  isEntry: boolean;
  frameAddress: bigint;
  codeAddress: bigint;
  /** With `--locals`: arguments then locals. */
  variables?: Variable[];
}

/**
 * The part of one OS thread's stack run by one interpreter. A thread that ran
 * code of several interpreters (a subinterpreter entered from it, nested or
 * not) has one part per interpreter, outermost first.
 */
export interface InterpreterPart {
  interpreterId: number;
  threadStateAddress: bigint;
  holdsGil: boolean | undefined;
  gcCollecting: boolean | undefined;
  /** How many of the thread's frames this part ran: the next ones after the previous parts'. */
  frameCount: number;
  /** Free-threaded builds: this thread state's state (see `PyThread.threadState`). */
  threadState?: PyThread["threadState"];
  /** Why this part's stack may be incomplete. */
  partial?: string;
}

/** One interpreter of the process, as found in the runtime's list. */
export interface InterpreterInfo {
  id: number;
  address: bigint;
  /** Thread states read from it. */
  threadStates: number;
  /** Why it could not be read whole (corrupt thread list, unreadable state). */
  problem?: string;
}

/**
 * One line of a thread's native and Python frames merged into one stack: an
 * index into the thread's `frames` or `native`, or the marker that the two
 * could not be lined up (both then follow in full, Python first).
 */
export type MergedEntry =
  | { kind: "python"; index: number }
  | { kind: "native"; index: number }
  | { kind: "unmerged" };

/** One thread that has a Python thread state. */
export interface PyThread {
  /** OS thread id; 0 when the thread has finished but was not joined. */
  tid: number;
  /**
   * The thread's id in the target's own PID namespace (a container), when it
   * differs from `tid` (the id in pystack's namespace, the host's).
   */
  nsTid?: number;
  /** The kernel's thread name (`comm`). */
  name?: string;
  /** `threading.Thread.name`, when the thread has one (`--locals`). */
  pythonName?: string;
  threadStateAddress: bigint;
  interpreterId: number;
  /** Frames, oldest first. */
  frames: PyFrame[];
  /** undefined when it could not be determined. */
  holdsGil: boolean | undefined;
  /**
   * Free-threaded builds only (no GIL to hold): what the thread state records, `attached` (may
   * run Python code now), `detached` (released it: blocked, sleeping, in C code), `suspended`
   * (paused by a stop-the-world pause, e.g. of the garbage collector), or `unknown`.
   */
  threadState?: "attached" | "detached" | "suspended" | "unknown";
  gcCollecting: boolean | undefined;
  /** Why the stack may be incomplete (corrupt memory, limits, target running). */
  partial?: string;
  /** With a native mode: the native frames, outermost first. */
  native?: NativeFrame[];
  /**
   * With a native mode: the stack as it is shown, oldest first (see `src/native/merge.ts`):
   * evaluation-loop calls replaced by the Python frames they run, call plumbing left out;
   * with `--native-last`, only the native frames after the last Python frame.
   */
  merged?: MergedEntry[];
  /**
   * Set when the thread ran code of more than one interpreter: its parts, outermost first
   * (`frames` holds all of their frames, oldest first; `interpreterId`, `threadStateAddress`
   * are the outermost part's).
   */
  interpreters?: InterpreterPart[];
}

/** What a core file says about the process it came from. */
export interface CoreDetails {
  path: string;
  /** The executable used, and how it was chosen. */
  executable: string;
  executableSource: string;
  /** From `NT_PRPSINFO`. */
  process?: {
    state: string;
    zombie: boolean;
    nice: number;
    pid: number;
    ppid: number;
    sid: number;
    uid: number;
    gid: number;
    pgrp: number;
    fname: string;
    psargs: string;
  };
  /** From `NT_SIGINFO` (or the crashing thread's status). */
  signal?: {
    number: number;
    name: string;
    code: number;
    senderPid?: number;
    senderUid?: number;
    faultAddress?: bigint;
    /** The file mapped at the fault address, if any. */
    faultMapping?: string;
  };
  truncated: boolean;
  compression?: string;
  /** Files the core maps that were not found on this machine. */
  missingFiles: string[];
}

/** One coroutine of a task's chain (`--tasks`). */
export interface TaskFrame {
  /** The coroutine's qualified name (`gi_qualname`). */
  function: string;
  file: string;
  line: number;
}

/** What a task's innermost coroutine waits on (`--tasks`). */
export interface TaskAwaiting {
  /** The awaited object's type (`_asyncio.Future`, `_asyncio.Task`, `_GatheringFuture`, …). */
  type: string;
  address: bigint;
  /** `asyncio.sleep`: when it ends, in the loop's time (`loop.time()`, monotonic seconds). */
  sleepUntil?: number;
  /** The asyncio primitive waited on (`asyncio.Event`, `asyncio.Lock`, `asyncio.Queue`, …). */
  on?: { what: string; address: bigint };
}

/** One pending asyncio task (`--tasks`). */
export interface AsyncTask {
  /** The task object's address. */
  id: bigint;
  name: string;
  state: "pending" | "cancelled" | "finished" | "unknown";
  /** OS thread id of the thread running its event loop; undefined when none is known. */
  thread?: number;
  /** The task its thread is running right now. */
  current: boolean;
  /** Its coroutines, outermost first. */
  coroutineStack: TaskFrame[];
  /** Ids of the tasks awaiting it. */
  awaitedBy: bigint[];
  awaiting?: TaskAwaiting;
  /** Why what is shown of it may be incomplete (corrupt memory, limits). */
  partial?: string;
  /** The subinterpreter whose asyncio it belongs to (absent: the main interpreter). */
  interpreterId?: number;
}

/** The result of inspecting one process or core. */
export interface StackReport {
  pid: number;
  pythonVersion: string;
  executable?: string;
  /** How the interpreter state was found. */
  foundBy: string;
  /** True when the threads were read without pausing the target. */
  nonBlocking: boolean;
  threads: PyThread[];
  /** Every interpreter found, newest first as the runtime lists them (the main one last). */
  interpreters?: InterpreterInfo[];
  warnings: string[];
  /** Present for cores. */
  core?: CoreDetails;
  /** With `--tasks`: the pending asyncio tasks. */
  tasks?: AsyncTask[];
}
