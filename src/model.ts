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
  /** Thread states found in it (when `--timeout` ran out, some may not have been read). */
  threadStates: number;
  /** Why it could not be read whole (corrupt thread list, unreadable state). */
  problem?: string;
  /**
   * `finalizing`: being torn down (`Py_EndInterpreter`, or the runtime's finalization);
   * `initializing`: not fully created yet. Unset for a live interpreter (or when unknown).
   */
  state?: "finalizing" | "initializing";
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

/** One exception object as pystack shows it (`src/cpython/exceptions.ts`). */
export interface ExceptionValue {
  /** Its type's `tp_name` (`ValueError`; a class's own name). */
  type: string;
  /**
   * What `str(exc)` gives: set for builtin exception types whose arguments are builtin values
   * (cut as `--locals` cuts strings); unset for any other, shown by its address.
   */
  message?: string;
  address: bigint;
  /** Where it was raised: the innermost entry of its traceback, when it has one. */
  raisedAt?: { file: string; line: number; function: string };
  /** Set when the object cannot be read or is not an exception: what is wrong. */
  invalid?: string;
}

/** An exception linked to the one before it in a {@linkcode ThreadException}'s chain. */
export interface ChainedException extends ExceptionValue {
  /**
   * `cause`: the previous one's `__cause__` (`raise … from`); `context`: its `__context__`;
   * `outer`: the exception an enclosing handler of the thread is handling (one of a caller of a
   * running generator or coroutine, whose exception states CPython links).
   */
  relation: "cause" | "context" | "outer";
}

/** The exception a thread is handling (in an `except` or `finally` block) or raising. */
export interface ThreadException extends ExceptionValue {
  /**
   * `raising`: in flight (`current_exception`, `curexc_*`); `handling`: being handled;
   * `uncaught`: no handler caught it (`sys.last_exc`: see {@linkcode CoreDetails.lastException});
   * `reported`: the same, in a core of a process that did not crash: the last exception reported
   * to `sys.excepthook` (a REPL-like host sets it for an error it handled, and runs on).
   */
  state: "handling" | "raising" | "uncaught" | "reported";
  /** The exceptions linked to it, innermost first: at most 5. */
  chain: ChainedException[];
  /** More exceptions were linked than the chain shows. */
  chainTruncated?: boolean;
}

/** One thread that has a Python thread state. */
export interface PyThread {
  /** OS thread id; 0 when the thread has finished but was not joined, or is `starting`. */
  tid: number;
  /**
   * The thread state of a thread being started: created by the thread that starts it, not run
   * by an OS thread of its own yet (3.12+: neither bound to an OS thread nor unbound from one;
   * before: no frames, and the `thread_id` of its creator). Its `tid` is 0.
   */
  starting?: true;
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
  /** With a native mode: why the native stack may be incomplete (its unwinding stopped early). */
  nativePartial?: string;
  /** The greenlet the thread runs, when the target runs greenlet (its frames are the thread's). */
  greenlet?: GreenletInfo;
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
  /** With `--locks`: what the thread is blocked on, and who holds it (`src/analysis/locks/`). */
  waitingFor?: LockWait;
  /** With `--locks`: what the thread holds (the GIL, RLocks, locks it is inside `with` of). */
  holds?: LockHeld[];
  /** With `--locks`: the system call the thread is stopped in, from its registers. */
  syscall?: ThreadSyscall;
  /** The exception the thread is handling or raising, when there is one. */
  exception?: ThreadException;
  /** In a core of a crash: the fatal signal this thread received (`SIGSEGV`). */
  crashed?: string;
}

/** How a core's fatal signal came about (see {@linkcode CrashDetails.origin}). */
export type CrashOrigin = "fault" | "self" | "process";

/** Where a core's process crashed (`src/analysis/crash/`). */
export interface CrashDetails {
  /** The thread that received the fatal signal. */
  tid: number;
  signal: string;
  /**
   * How the signal came: `fault`, from the kernel for the instruction at `address`; `self`,
   * raised by this thread (`raise()`, `abort()`, `pthread_kill()` of itself); `process`, sent by
   * the process but not by this thread (another of its threads: `pthread_kill`, `kill`).
   */
  origin: CrashOrigin;
  /**
   * Its instruction pointer: the faulting instruction, or the one that raised the signal; with
   * origin `process`, where the thread was when the signal arrived.
   */
  address: bigint;
  /** Base name of the file mapped there, and `address` as that file numbers it. */
  library?: string;
  libraryOffset?: bigint;
  /** The function holding `address`, from the file's ELF symbol tables; unset when none does. */
  symbol?: string;
  symbolOffset?: bigint;
  /** The thread's innermost Python frame. */
  calledFrom?: { function: string; file: string; line: number };
  /**
   * For a SIGABRT the thread raised: functions of `abort()`, `assert()` and `Py_FatalError()`
   * whose return addresses are on its stack, innermost first: inferred from a scan of the
   * stack's words.
   */
  abortPath?: string[];
  /**
   * The fault a signal handler caught before it raised the signal again (origin `self`, for
   * SIGSEGV, SIGBUS, SIGFPE, SIGILL: Python's `faulthandler` does so): read from the signal
   * frame the kernel left on the thread's stack.
   */
  handled?: HandledFault;
}

/** A fault a signal handler caught (see {@linkcode CrashDetails.handled}). */
export interface HandledFault {
  /** The faulting instruction. */
  address: bigint;
  /** The x86-64 trap number (14: page fault). */
  trap: number;
  /** The address accessed, for a page fault. */
  faultAddress?: bigint;
  /** Base name of the file mapped at `address`, and `address` as that file numbers it. */
  library?: string;
  libraryOffset?: bigint;
  /** The function holding `address`, from the file's ELF symbol tables. */
  symbol?: string;
  symbolOffset?: bigint;
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
  /** Set when the process crashed (a fault, or a signal it sent itself: `abort()`). */
  crash?: CrashDetails;
  /**
   * The last exception no handler caught, kept in `sys` (`lastExceptionKey`: `sys.last_exc`, or
   * `sys.last_value` before 3.12) when the interpreter printed it: what ended the program when it
   * crashed after that; without a crash (state `reported`), only the last error reported to
   * `sys.excepthook` (a REPL-like host sets it for an error it handled, and runs on).
   */
  lastException?: ThreadException;
  lastExceptionKey?: string;
  truncated: boolean;
  compression?: string;
  /** Files the core maps that were not found on this machine. */
  missingFiles: string[];
}

/** A greenlet (greenlet, gevent): which object, of which type. */
export interface GreenletInfo {
  /** The greenlet object. */
  address: bigint;
  /** Its type's `tp_name`: `greenlet.greenlet`, `gevent._gevent_cgreenlet.Greenlet`, `Hub`… */
  typeName: string;
  /** `main`: the main greenlet of its thread; `hub`: gevent's hub. */
  role?: "main" | "hub";
  /** The Python function it was spawned with (a gevent `Greenlet`'s `_run`), when known. */
  spawnFunction?: string;
}

/**
 * A suspended greenlet (greenlet, gevent): its own saved chain of Python frames,
 * which no thread runs until it is switched to again.
 */
export interface GreenletStack extends GreenletInfo {
  /** The OS thread whose stack it runs on; 0 when it could not be told. */
  tid: number;
  /** Frames, oldest first. */
  frames: PyFrame[];
  /** Why the frames may be incomplete (or missing). */
  partial?: string;
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
  /** Suspended greenlets, when the target runs greenlet (after their threads in the output). */
  greenlets?: GreenletStack[];
  /** Present for cores. */
  core?: CoreDetails;
  /** With `--tasks`: the pending asyncio tasks. */
  tasks?: AsyncTask[];
  /** With `--locks`: the deadlocks and findings over all threads. */
  locks?: LockSummary;
  /** With `--timeout`, when the time ran out: what is missing (the report is partial). */
  timedOut?: TimedOut;
}

/** A run cut by `--timeout` (`StackReport.timedOut`). */
export interface TimedOut {
  /** The bound, in seconds. */
  seconds: number;
  /** What was being read when the time ran out: `threads`, `locals`, `native frames`, … */
  stage: string;
  /** Threads in the report. */
  threadsShown: number;
  /** Thread states found in the interpreters read (a lower bound when `interpretersSkipped`). */
  threadsFound: number;
  /** Whether interpreters were left unread (their threads are not counted in `threadsFound`). */
  interpretersSkipped: boolean;
}

/** With `--locks`: a resource a thread is blocked on. */
export interface LockWait {
  /** What kind of resource (see the README's `--locks` section). */
  kind:
    | "gil"
    | "gil_handover"
    | "lock"
    | "rlock"
    | "pthread_mutex"
    | "pthread_join"
    | "thread_join"
    | "import_lock"
    | "future"
    | "condition"
    | "futex";
  /** The resource as printed: `the GIL`, `threading.Lock 0x7f… (lock_x)`. */
  resource: string;
  address?: bigint;
  /** The thread holding it; absent when nothing owns it or the owner is unknown. */
  holder?: number;
  /**
   * `recorded`: the owner is written in the target's memory (an RLock's owner, a mutex's
   * `__owner`, the GIL's holder); `inferred`: deduced from the threads' frames. Set with `holder`.
   */
  confidence?: "recorded" | "inferred";
  /** How the wait and its holder were found, or why the holder is unknown. */
  evidence: string;
}

/** With `--locks`: a resource a thread holds. */
export interface LockHeld {
  kind: "gil" | "lock" | "rlock";
  resource: string;
  address?: bigint;
  /** An RLock's recursion count. */
  count?: number;
  confidence: "recorded" | "inferred";
}

/** With `--locks`: the system call a thread is stopped in (`orig_rax` and its arguments). */
export interface ThreadSyscall {
  number: number;
  name: string;
  /** As printed: `futex(0x7f…)`, `recvfrom(fd 12 → TCP 127.0.0.1:5432 ESTABLISHED)`. */
  text: string;
}

/** One edge of a deadlock: `waiter` waits for `resource`, held by `holder`. */
export interface DeadlockEdge {
  waiter: number;
  resource: string;
  holder: number;
  confidence: "recorded" | "inferred";
  evidence: string;
}

/** A cycle of threads each waiting for a resource the next holds. */
export interface Deadlock {
  threads: number[];
  edges: DeadlockEdge[];
  /** The weakest edge's confidence. */
  confidence: "recorded" | "inferred";
}

/** With `--locks`: what was found over all threads. */
export interface LockSummary {
  deadlocks: Deadlock[];
  /** Other findings: the GIL held across a blocking call, chains ending in a blocked thread. */
  findings: string[];
  /** Live: how many snapshots were compared (edges kept are those seen in every one). */
  snapshots: number;
}
