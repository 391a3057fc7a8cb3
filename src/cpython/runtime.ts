/**
 * The one place where CPython versions are told apart.
 *
 * `selectRuntime` turns a version and its layout into a record of strategies;
 * the walkers read those strategies and never compare version numbers.
 *
 * @module
 */

import type { Layout, StructLayout } from "./layout.ts";
import type { PythonVersion } from "./version.ts";
import { LAYOUTS } from "./layouts/all.ts";
import { DEBUG_OFFSETS_LAYOUTS } from "./layouts/debug_offsets.ts";
import { UnsupportedVersionError } from "../errors.ts";
import type { TaskLayout } from "../analysis/tasks/task_layout.ts";
import { TASK_LAYOUTS } from "../analysis/tasks/task_layouts.ts";

/** How a thread state leads to its newest frame. */
export type FrameChain =
  /** `tstate->frame` is a `PyFrameObject*` (<= 3.10). */
  | "frame_object"
  /** `tstate->cframe->current_frame` is a `_PyInterpreterFrame*` (3.11, 3.12). */
  | "cframe"
  /** `tstate->current_frame` is a `_PyInterpreterFrame*` (3.13+). */
  | "current_frame";

/** Which line-number table a code object carries. */
export type LineTableKind = "lnotab" | "linetable310" | "location";

/** How the thread holding the GIL is found. */
export type GilRule =
  /** `_PyThreadState_Current` symbol holds the tstate (2.7, 3.6). */
  | "tstate_current_symbol"
  /** `_PyRuntime.gilstate.tstate_current` (3.7 to 3.11). */
  | "runtime_tstate_current"
  /** `interp->ceval.gil`: `locked` and `last_holder` (3.12+). */
  | "gil_struct";

/**
 * What a thread's status tells: whether it holds the GIL (GIL builds), or, in a free-threaded
 * build, whether its thread state is attached, detached or suspended (`tstate->state`, 3.13+);
 * the GIL, if the target turned it back on, is read as well.
 */
export type ThreadStatusRule = "gil" | "attachment";

/** Where the "collecting" flag of the garbage collector lives. */
export type GcRule = "static_symbol" | "runtime" | "interp";

/** What a code object's `co_name` and `co_filename` are. */
export type NameStorage =
  /** 3.x `str` (PEP 393 unicode). */
  | "unicode"
  /** 2.7 `str`: a `PyStringObject` of bytes (the layout's `bytes` struct), read as UTF-8. */
  | "py2_str";

/** How `--locals` finds a frame's variables and reads objects (see `src/cpython/values.ts`). */
export interface ValueRules {
  /**
   * Where a frame's variable names are: `co_varnames`, `co_cellvars`, `co_freevars`, laid out in
   * that order in `f_localsplus`, an argument captured by a closure moved into its cell (<= 3.10);
   * or `co_localsplusnames` with `co_localspluskinds`, cells made in place (3.11+).
   */
  readonly localsNames: "varnames" | "localsplus";
  /**
   * Dict keys: `dk_size` and 24-byte entries (<= 3.10); `dk_log2_size`, and 16-byte entries in
   * str-keyed tables (3.11+); no keys object, but `ma_mask` and a `ma_table` of 24-byte
   * entries in hash order (2.7).
   */
  readonly dictKeys: "dk_size" | "log2_size" | "ma_table";
  /**
   * Order of a split table's values: the keys' order (<= 3.10); order bytes just before the
   * values (3.11, 3.12); after `values[capacity]` (3.13).
   */
  readonly splitOrder: "keys" | "before_values" | "after_values";
  /**
   * Where an instance's attributes live: `tp_dictoffset` (<= 3.10); a dict pointer 3 words and a
   * values pointer 4 words before the object (3.11); one tagged dict-or-values word 3 words before
   * (3.12); a dict pointer 3 words before, or values inline after the object (3.13).
   */
  readonly instanceDict: "dictoffset" | "managed_3_11" | "managed_3_12" | "managed_3_13";
  /**
   * Bytes before an object where its managed `__dict__` pointer (3.11+) is: 24 after the
   * garbage collector's 2-word header (GIL builds), 8 in a free-threaded build, which has none.
   */
  readonly managedDictBefore: 24 | 8;
  /**
   * How a live object's reference count is told: `ob_refcnt` > 0 (GIL builds), or split into
   * the owning thread's `ob_ref_local` and the atomic `ob_ref_shared` (free-threaded builds).
   */
  readonly refcount: "ob_refcnt" | "split";
  /**
   * 2.7's objects (absent for 3.x; see `py2_objects.ts`, `py2_repr.ts`): `str` is a
   * `PyStringObject` of bytes, `unicode` holds `Py_UNICODE` units of `unicodeWidth` bytes, `int`
   * is a C `long` beside `long`, sets and types print as `set([…])` and `<type '…'>`, and
   * `Thread.name` is stored as `_Thread__name`.
   */
  readonly py2?: { readonly unicodeWidth: 2 | 4 };
}

/** With a native mode: which native functions run Python frames, and which collect garbage. */
export interface NativeRules {
  /**
   * The evaluation loop (a clone suffix such as `.cold` may follow). One call of it runs the
   * Python frames from an entry frame (`isEntry`, see `entryRule`) up to the next one.
   */
  readonly evalFunctions: readonly string[];
  /** Prefixes of evaluation-loop functions (3.14+ tail-calling interpreter: `_TAIL_CALL_*`). */
  readonly evalPrefixes: readonly string[];
  /** The collector's main function: the thread with it on its native stack is collecting. */
  readonly gcFunctions: readonly string[];
  /** Functions named `…vectorcall…` are call plumbing, hidden between Python frames (3.8+). */
  readonly hideVectorcall: boolean;
  /**
   * The exported evaluation-loop function whose body a stripped build may keep in an unnamed
   * part it jumps to (GCC's `.cold` partition: Debian's 3.13+ builds). Frames libdw cannot
   * name there are named `<function>.cold` when exactly one such part is found
   * (`src/native/eval_body.ts`).
   */
  readonly splitEvalFunction: string;
}

/** Where a thread's exceptions are, and how they link (see `src/cpython/exceptions.ts`). */
export interface ExceptionRules {
  /**
   * The exception being handled: `exc_type`/`exc_value`/`exc_traceback` of the thread state
   * (2.7, 3.6: one, a generator's swapped in while it runs); or the chain of `_PyErr_StackItem`s
   * from `exc_info` through `previous_item`, the innermost handler first (3.7+; generators and
   * coroutines link theirs in while they run; 3.11+ items hold only `exc_value`).
   */
  readonly handled: "thread_state" | "stack_items";
  /** In flight: `curexc_type`/`curexc_value`/`curexc_traceback` (<= 3.11), `current_exception`. */
  readonly raising: "curexc" | "current_exception";
  /**
   * A traceback's `tb_frame` is a `PyFrameObject` holding its code (<= 3.10), or one pointing at
   * its `_PyInterpreterFrame` (`f_frame`, 3.11+). `tb_lineno` is -1 until Python asks (3.12+):
   * then the line comes from `tb_lasti` (in bytes) and the line table.
   */
  readonly tracebackFrame: "frame_object" | "interpreter_frame";
  /** Exceptions have `__cause__`, `__context__` and `__traceback__` (3.x), or none (2.7). */
  readonly chained: boolean;
  /** 2.7 names its builtin exceptions `exceptions.ValueError`: shown without this prefix. */
  readonly builtinPrefix?: string;
}

/** With `--locks`: how lock objects and frame value stacks are read (`src/analysis/locks/`). */
export interface LockRules {
  /**
   * How many slots of a frame's `localsplus` hold values (locals, then the value stack): the
   * frame object's `ob_size` (<= 3.10), `co_nlocalsplus` plus `co_stacksize`, the top not being
   * saved across calls (3.11 to 3.13), or up to `stackpointer`, saved around calls (3.14+).
   */
  readonly frameSlots: "ob_size" | "nlocalsplus" | "stackpointer";
  /**
   * `_thread.RLock`'s count after its owner: `rlock_count` (<= 3.13), or the recursive mutex's
   * `level`, one less than the count (3.14+).
   */
  readonly rlockCount: "count" | "level";
  /** How a `with` block keeps a C lock's exit: a bound `__exit__` (<= 3.13), or `LOAD_SPECIAL`'s
   * unbound `__exit__` descriptor followed by the lock (3.14+). */
  readonly withExit: "bound_method" | "descriptor";
}

/** How `--tasks` finds asyncio's tasks and reads them (3.8+; see `src/analysis/tasks/`). */
export interface TaskRules {
  /**
   * Where pending tasks are registered: `asyncio.tasks._all_tasks`, a WeakSet (3.8 to 3.11);
   * `_scheduled_tasks` (a WeakSet) and `_eager_tasks` (a set) (3.12, 3.13); per-thread lists
   * described by the `AsyncioDebug` section (3.14+).
   */
  readonly registry: "all_tasks" | "scheduled_and_eager" | "thread_lists";
  /** `_asyncio`'s private structs (3.8 to 3.13; 3.14+ from `AsyncioDebug`). */
  readonly layout?: TaskLayout;
  /**
   * Where a suspended coroutine keeps what it awaits, the top of its value stack:
   * `f_stacktop[-1]` (<= 3.9), `f_valuestack[f_stackdepth - 1]` (3.10),
   * `localsplus[stacktop - 1]` (3.11 to 3.13), `stackpointer[-1]`, a tagged reference (3.14+;
   * 3.15 leaves a null reference above it, then it is `stackpointer[-2]`).
   */
  readonly awaitee: "stack_top" | "value_stack" | "stacktop_index" | "stackpointer";
  /** `gi_frame_state` of a running coroutine (3.11+; 3.15 renumbered the states). */
  readonly executingState?: number;
  /**
   * A thread's running loop: `tstate->dict["__asyncio_running_event_loop__"]`, a holder
   * (<= 3.11) or the loop (3.12); `_PyThreadStateImpl.asyncio_running_loop`, the first field
   * after the `PyThreadState` it starts with (3.13: at the thread state's size, which the
   * target's `_Py_DebugOffsets` give; it grew in a patch release); from `AsyncioDebug` (3.14+).
   */
  readonly runningLoop: "dict_holder" | "dict_loop" | "after_thread_state" | "asyncio_debug";
  /**
   * Who awaits a task: rebuilt from the done-callbacks of what it is awaited through
   * (<= 3.13), or stored in the task (`task_awaited_by`, 3.14+).
   */
  readonly awaitedBy: "callbacks" | "stored";
}

/** Everything version-dependent, chosen once. */
export interface PythonRuntime {
  readonly version: PythonVersion;
  readonly layout: Layout;
  readonly frameChain: FrameChain;
  readonly lineTable: LineTableKind;
  /** Frame owner values that mark C-stack shim frames (3.12+), skipped in output. */
  readonly shimOwners: readonly number[];
  /** 3.11 marks entry frames with `is_entry`; 3.12+ by the shim before them; older: every frame. */
  readonly entryRule: "every" | "is_entry" | "after_shim";
  /** 3.13+ frames point at any object (`f_executable`): check that it is a code object. */
  readonly checkExecutable: boolean;
  readonly gilRule: GilRule;
  readonly threadStatus: ThreadStatusRule;
  readonly gcRule: GcRule;
  /**
   * What orders the parts of one OS thread that runs several interpreters (outermost first):
   * the C-stack address of the newest evaluation loop's shim frame (3.12+), or of the `_PyCFrame`
   * that `tstate->cframe` points at (3.11); before 3.11 nothing in a thread state points into the
   * C stack, and the parts are ordered by interpreter id (the main interpreter first).
   */
  readonly stackAnchor: "shim_frame" | "cframe" | "none";
  /**
   * `sizeof(PyGC_Head)`, before every object the collector tracks: 32 (<= 3.7, a union with a
   * `long double`), 16 (3.8+); 0 in free-threaded builds, whose collector keeps no lists.
   */
  readonly gcHeadSize: 0 | 16 | 32;
  /** <= 3.10: the OS thread id must be read from glibc's `struct pthread`. */
  readonly tidFromPthread: boolean;
  /** How int objects store their size and sign. */
  readonly longRule: "ob_size" | "lv_tag";
  /** With a native mode: how native frames pair with Python frames. */
  readonly native: NativeRules;
  /** How code objects store their names and file names. */
  readonly nameStorage: NameStorage;
  /** `co_lnotab` line deltas are signed bytes (3.6+), not unsigned (2.7). */
  readonly lnotabSignedDeltas: boolean;
  /** How `--locals` reads variables and objects. */
  readonly values?: ValueRules;
  /**
   * Where a frame's `instr_ptr` points: into the code object's `co_code_adaptive` (`shared`), or,
   * in a free-threaded 3.14+, into this thread's copy of it, `co_tlbc->entries[tlbc_index]`.
   */
  readonly bytecode: "shared" | "per_thread";
  /**
   * ANDed with `f_executable` and each `localsplus[i]`: from 3.14 they are `_PyStackRef`s whose
   * low 2 bits are tags (`~3n`); before, plain pointers (`~0n`, every bit kept).
   */
  readonly stackRefMask: bigint;
  /**
   * `PyASCIIObject.state`: `interned:2, kind:3, compact:1, ascii:1` bit-fields (every GIL build),
   * or a whole `interned` byte before `kind:3, compact:1, ascii:1` (free-threaded 3.14+).
   */
  readonly unicodeState: "bitfield" | "interned_byte";
  /**
   * The layout of the target's own `_Py_DebugOffsets` (3.13+), chosen by the version it declares,
   * and the release whose headers gave it.
   */
  readonly debugOffsets?: { readonly release: string; readonly layout: StructLayout };
  /** Set when the target is newer than every version this pystack knows: what it is read as. */
  readonly newerThanKnown?: string;
  /** Where the exceptions a thread handles or raises are. */
  readonly exceptions?: ExceptionRules;
  /** With `--locks`: how lock objects and value stacks are read. */
  readonly locks?: LockRules;
  /** `--tasks` (3.8+ GIL builds). */
  readonly tasks?: TaskRules;
}

/** How the target told its version, for {@linkcode selectRuntime}. */
export interface SelectOptions {
  /**
   * The version comes from the target's `_Py_DebugOffsets`: a newer minor version than
   * any known is then read with the newest layout and its own offsets, instead of refused.
   */
  selfDescribed?: boolean;
  /** `_Py_DebugOffsets.free_threaded` is set. */
  freeThreaded?: boolean;
  /** 2.7: bytes per `Py_UNICODE` of the target's build (4, the Linux default, when unknown). */
  py2UnicodeWidth?: 2 | 4;
}

/** Oldest and newest minor versions this pystack reads. */
export const SUPPORTED = { python2: [2, 7], oldest: [3, 6], newest: [3, 15] } as const;

/** Python 2.7: threads, frames, the GIL and GC found as in 3.6; Py2 strings and lnotab. */
const PY2_RULES = {
  frameChain: "frame_object",
  lineTable: "lnotab",
  shimOwners: [],
  entryRule: "every",
  checkExecutable: false,
  gilRule: "tstate_current_symbol",
  threadStatus: "gil",
  gcRule: "static_symbol",
  stackAnchor: "none",
  gcHeadSize: 32,
  tidFromPthread: true,
  longRule: "ob_size",
  native: {
    evalFunctions: ["PyEval_EvalFrameEx"],
    evalPrefixes: [],
    gcFunctions: ["collect"],
    hideVectorcall: false,
    splitEvalFunction: "PyEval_EvalFrameEx",
  },
  nameStorage: "py2_str",
  lnotabSignedDeltas: false,
  stackRefMask: ~0n,
  bytecode: "shared",
  unicodeState: "bitfield",
} as const satisfies Omit<PythonRuntime, "version" | "layout">;

/** Chooses the layout and strategies for `version`. Throws for versions we cannot read. */
export function selectRuntime(version: PythonVersion, options: SelectOptions = {}): PythonRuntime {
  const newest = SUPPORTED.newest[1];
  const newer = options.selfDescribed === true && version.major === SUPPORTED.newest[0] &&
    version.minor > newest;
  const readAs = newer ? { ...version, minor: newest } : version;
  const key = `${readAs.major}.${readAs.minor}`;
  // A free-threaded build has its own table ("3.13t"; "3.14t" and later from their headers
  // compiled with Py_GIL_DISABLED=1, see `scripts/gen_layouts.ts`).
  const layout = LAYOUTS[options.freeThreaded === true ? `${key}t` : key];
  const python2 = version.major === SUPPORTED.python2[0] && version.minor === SUPPORTED.python2[1];
  const supported = python2 || readAs.major === 3 && readAs.minor >= SUPPORTED.oldest[1] &&
      readAs.minor <= SUPPORTED.newest[1];
  if (!supported || layout === undefined) {
    throw new UnsupportedVersionError(
      `Cannot read this process: it runs Python ${formatVersion(version)}, ` +
        `and pystack reads Python 2.7 and 3.6 to 3.${newest}`,
      "use a pystack release that supports this version",
    );
  }
  if (python2) {
    const values: ValueRules = {
      localsNames: "varnames",
      dictKeys: "ma_table",
      splitOrder: "keys",
      instanceDict: "dictoffset",
      managedDictBefore: 24,
      refcount: "ob_refcnt",
      py2: { unicodeWidth: options.py2UnicodeWidth ?? 4 },
    };
    const exceptions: ExceptionRules = {
      handled: "thread_state",
      raising: "curexc",
      tracebackFrame: "frame_object",
      chained: false,
      builtinPrefix: "exceptions.",
    };

    const locks: LockRules = {
      frameSlots: "ob_size",
      rlockCount: "count",
      withExit: "bound_method",
    };
    return { version, layout, ...PY2_RULES, values, exceptions, locks };
  }
  const m = readAs.minor;
  const freeThreaded = options.freeThreaded === true;
  const debugOffsets = debugOffsetsLayout(version);
  const taskLayout = TASK_LAYOUTS[freeThreaded ? `${key}t` : key];
  // Free-threaded builds: 3.13t (its `_asyncio` read from its DWARF); 3.14t+ not yet (no build
  // to test them on).
  const tasks: TaskRules | undefined = m < 8 || freeThreaded && m !== 13 ? undefined : {
    registry: m <= 11 ? "all_tasks" : m <= 13 ? "scheduled_and_eager" : "thread_lists",
    ...(taskLayout === undefined ? {} : { layout: taskLayout }),
    awaitee: m <= 9
      ? "stack_top"
      : m === 10
      ? "value_stack"
      : m <= 13
      ? "stacktop_index"
      : "stackpointer",
    // FRAME_EXECUTING: 0 from 3.11 to 3.14, 4 from 3.15.
    ...(m >= 11 ? { executingState: m >= 15 ? 4 : 0 } : {}),
    runningLoop: m <= 11
      ? "dict_holder"
      : m === 12
      ? "dict_loop"
      : m === 13
      ? "after_thread_state"
      : "asyncio_debug",
    awaitedBy: m <= 13 ? "callbacks" : "stored",
  };
  return {
    ...(tasks === undefined ? {} : { tasks }),
    version,
    layout,
    ...(debugOffsets === undefined ? {} : { debugOffsets }),
    ...(newer ? { newerThanKnown: `${readAs.major}.${readAs.minor}` } : {}),
    frameChain: m <= 10 ? "frame_object" : m <= 12 ? "cframe" : "current_frame",
    lineTable: m <= 9 ? "lnotab" : m === 10 ? "linetable310" : "location",
    // 3.12, 3.13: FRAME_OWNED_BY_CSTACK = 3. 3.14: FRAME_OWNED_BY_INTERPRETER = 3 (entry and
    // base frames), FRAME_OWNED_BY_CSTACK = 4; 3.15 keeps only the former.
    shimOwners: m >= 14 ? [3, 4] : m >= 12 ? [3] : [],
    entryRule: m <= 10 ? "every" : m === 11 ? "is_entry" : "after_shim",
    checkExecutable: m >= 13,
    gilRule: m <= 6 ? "tstate_current_symbol" : m <= 11 ? "runtime_tstate_current" : "gil_struct",
    threadStatus: freeThreaded ? "attachment" : "gil",
    gcRule: m <= 6 ? "static_symbol" : m <= 8 ? "runtime" : "interp",
    stackAnchor: m <= 10 ? "none" : m === 11 ? "cframe" : "shim_frame",
    gcHeadSize: freeThreaded ? 0 : m <= 7 ? 32 : 16,
    tidFromPthread: m <= 10,
    longRule: m <= 11 ? "ob_size" : "lv_tag",
    native: {
      evalFunctions: ["_PyEval_EvalFrameDefault"],
      evalPrefixes: m >= 14 ? ["_TAIL_CALL_"] : [],
      gcFunctions: m <= 9 ? ["collect"] : ["gc_collect_main"],
      hideVectorcall: m >= 8,
      splitEvalFunction: "_PyEval_EvalFrameDefault",
    },
    nameStorage: "unicode",
    lnotabSignedDeltas: true,
    stackRefMask: m >= 14 ? ~3n : ~0n,
    bytecode: m >= 14 && freeThreaded ? "per_thread" : "shared",
    unicodeState: m >= 14 && freeThreaded ? "interned_byte" : "bitfield",
    exceptions: {
      handled: m <= 6 ? "thread_state" : "stack_items",
      raising: m <= 11 ? "curexc" : "current_exception",
      tracebackFrame: m <= 10 ? "frame_object" : "interpreter_frame",
      chained: true,
    },
    values: {
      localsNames: m <= 10 ? "varnames" : "localsplus",
      dictKeys: m <= 10 ? "dk_size" : "log2_size",
      splitOrder: m <= 10 ? "keys" : m <= 12 ? "before_values" : "after_values",
      instanceDict: m <= 10
        ? "dictoffset"
        : m === 11
        ? "managed_3_11"
        : m === 12
        ? "managed_3_12"
        : "managed_3_13",
      managedDictBefore: freeThreaded ? 8 : 24,
      refcount: freeThreaded ? "split" : "ob_refcnt",
    },
    locks: {
      frameSlots: m <= 10 ? "ob_size" : m <= 13 ? "nlocalsplus" : "stackpointer",
      rlockCount: m <= 13 ? "count" : "level",
      withExit: m <= 13 ? "bound_method" : "descriptor",
    },
  };
}

/**
 * The layout of `_Py_DebugOffsets` a target of `version` declares: the one from the newest
 * known release of its minor version not newer than it (the oldest of that minor version
 * for an older patch release), or, for a minor version newer than all known, the newest
 * known. Undefined before 3.13.
 */
export function debugOffsetsLayout(
  version: PythonVersion,
): { release: string; layout: StructLayout } | undefined {
  // By key: each layout is built only when picked (see `lazyRecord`).
  const known = Object.keys(DEBUG_OFFSETS_LAYOUTS).map((release) => {
    const [major, minor, micro] = release.split(".").map(Number) as [number, number, number];
    return { release, major, minor, micro };
  }).sort((a, b) => a.major - b.major || a.minor - b.minor || a.micro - b.micro);
  const sameMinor = known.filter((k) => k.major === version.major && k.minor === version.minor);
  const pick = sameMinor.length > 0
    ? sameMinor.filter((k) => k.micro <= version.micro).pop() ?? sameMinor[0]
    : known.filter((k) => k.major === version.major && k.minor < version.minor).pop();
  if (pick === undefined || pick !== known.at(-1) && sameMinor.length === 0) return undefined;
  return { release: pick.release, layout: DEBUG_OFFSETS_LAYOUTS[pick.release]! };
}

const LEVEL_SUFFIX = { alpha: "a", beta: "b", candidate: "rc", final: "" } as const;

/** "3.11.7", "3.13.0rc1"; "3.11" when the micro version is unknown (-1). */
export function formatVersion(v: PythonVersion): string {
  if (v.micro < 0) return `${v.major}.${v.minor}`;
  const suffix = v.releaseLevel === "final" ? "" : `${LEVEL_SUFFIX[v.releaseLevel]}${v.serial}`;
  return `${v.major}.${v.minor}.${v.micro}${suffix}`;
}
