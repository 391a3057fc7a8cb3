/**
 * Generates `src/cpython/layouts/v*.ts` and `all.ts` from the headers of every
 * CPython installed under `$(pyenv root)/versions/`.
 *
 * For each version it writes a C probe that applies `offsetof`/`sizeof` (plus
 * GCC's `__builtin_classify_type` and a signedness test, to derive each
 * field's kind) to every candidate C member listed in `STRUCTS` below,
 * compiles it with `cc`, and drops the probe lines that do not compile: a
 * candidate exists in a version exactly when its probe compiles. The first
 * existing candidate (within its version range, if it has one) names the
 * field. Versions that are not installed keep their committed file.
 *
 * Free-threaded layouts (`v3_13t.ts`): from a free-threaded build unpacked under
 * `.cache/pythons/X.Yt/` (`scripts/get_freethreaded.ts`), else, for 3.13+, from the GIL build's
 * headers compiled with `-DPy_GIL_DISABLED=1` (what a free-threaded `pyconfig.h` adds).
 * `_PYSTACK_GEN_NO_FREE_THREADED_BUILDS=1` ignores the builds, to compare the two ways.
 *
 * Usage: `deno task gen-layouts [--verbose]` (`--verbose` lists, per version,
 * the canonical fields that have no candidate there).
 *
 * @module
 */

import $ from "dax";
import type { FieldKind, StructName } from "../src/cpython/layout.ts";

// ---------------------------------------------------------------------------
// Data: what to probe.
// ---------------------------------------------------------------------------

/** A range of minor versions; an absent bound is open. */
interface Range {
  /** First minor version ("3.11") in the range. */
  readonly since?: string;
  /** Last minor version ("3.12") in the range. */
  readonly until?: string;
}

/** A C spelling (type name or member expression), limited to a range of minor versions. */
interface Candidate extends Range {
  readonly c: string;
}

type CandidateSpec = string | Candidate;

interface FieldSpec {
  /** Canonical field name. */
  readonly name: string;
  /** C member expressions, tried in order. */
  readonly members: readonly CandidateSpec[];
  /** C type to apply the member to instead of the struct's own type. */
  readonly in?: string;
  /**
   * Kind to use when the C member is itself a struct or union (atomic
   * wrappers such as `_Py_atomic_address`, bit-field blocks, unions of arrays).
   */
  readonly aggregateKind?: FieldKind;
}

interface StructSpec {
  readonly name: StructName;
  /** C type names, tried in order. */
  readonly types: readonly CandidateSpec[];
  readonly fields: readonly FieldSpec[];
  /** Also take every member of this C struct, flattened with dotted names, from the headers. */
  readonly allMembersOf?: string;
}

/** Shorthand for a field whose only C spelling is `members`. */
function f(name: string, ...members: CandidateSpec[]): FieldSpec {
  return { name, members: members.length > 0 ? members : [name] };
}

const STRUCTS: readonly StructSpec[] = [
  {
    name: "runtime",
    types: [{ c: "_PyRuntimeState", since: "3.7" }],
    fields: [
      { name: "finalizing", members: ["finalizing", "_finalizing"], aggregateKind: "ptr" },
      f("interpreters_head", "interpreters.head"),
      f("interpreters_main", "interpreters.main"),
      {
        name: "gilstate_tstate_current",
        members: [{ c: "gilstate.tstate_current", since: "3.7", until: "3.11" }],
        aggregateKind: "ptr",
      },
      f("gc_collecting", { c: "gc.collecting", since: "3.7", until: "3.8" }),
    ],
  },
  {
    name: "interp",
    types: ["PyInterpreterState"],
    fields: [
      f("next"),
      f("tstate_head", { c: "tstate_head", until: "3.10" }, { c: "threads.head", since: "3.11" }),
      f("id"),
      f("modules", { c: "modules", until: "3.11" }, { c: "imports.modules", since: "3.12" }),
      f("sysdict"),
      f("builtins"),
      f("gc_collecting", { c: "gc.collecting", since: "3.9" }),
      f("ceval_gil", { c: "ceval.gil", since: "3.12" }),
      // Py_EndInterpreter / finalization has begun (a flag; 3.12+ also the finalizing thread).
      f("finalizing", { c: "finalizing", since: "3.8" }),
      {
        name: "finalizing_tstate",
        members: [{ c: "_finalizing", since: "3.12" }],
        aggregateKind: "ptr",
      },
      // 0 until the interpreter is fully created (3.11+).
      f("initialized", { c: "_initialized", since: "3.11" }),
    ],
  },
  {
    name: "gil",
    types: [{ c: "struct _gil_runtime_state", since: "3.12" }],
    fields: [
      { name: "locked", members: ["locked"], aggregateKind: "i32" },
      { name: "last_holder", members: ["last_holder"], aggregateKind: "ptr" },
      // Free-threaded builds: whether the GIL was turned back on (3.13t+).
      { name: "enabled", members: ["enabled"], aggregateKind: "i32" },
    ],
  },
  {
    name: "gc",
    types: ["struct _gc_runtime_state"],
    fields: [f("collecting")],
  },
  {
    name: "thread",
    types: ["PyThreadState"],
    fields: [
      f("prev"),
      f("next"),
      f("interp"),
      f("frame", { c: "frame", until: "3.10" }),
      f("cframe", { c: "cframe", since: "3.11", until: "3.12" }),
      f("current_frame", { c: "current_frame", since: "3.13" }),
      f("thread_id"),
      f("native_thread_id"),
      // 3.12+: bit 1 "bound" (to an OS thread), bit 2 "unbound": a state neither bound nor
      // unbound is of a thread being started.
      { name: "status", members: [{ c: "_status", since: "3.12" }], aggregateKind: "u32" },
      // 3.14+: an int of its own (3.13 has a `_status.holds_gil` bit-field, which has no offset).
      f("holds_gil", { c: "holds_gil", since: "3.14" }),
      // 3.13+: _Py_THREAD_DETACHED 0, _Py_THREAD_ATTACHED 1, _Py_THREAD_SUSPENDED 2.
      f("state", { c: "state", since: "3.13" }),
      // The exception being handled: in the thread state (2.7, 3.6), or the top of the
      // `_PyErr_StackItem` chain `exc_info` points at (3.7+). In flight: `curexc_*` (<= 3.11),
      // `current_exception` (3.12+).
      f("exc_type", { c: "exc_type", until: "3.6" }),
      f("exc_value", { c: "exc_value", until: "3.6" }),
      f("exc_traceback", { c: "exc_traceback", until: "3.6" }),
      f("exc_info", { c: "exc_info", since: "3.7" }),
      f("curexc_type", { c: "curexc_type", until: "3.11" }),
      f("curexc_value", { c: "curexc_value", until: "3.11" }),
      f("curexc_traceback", { c: "curexc_traceback", until: "3.11" }),
      f("current_exception", { c: "current_exception", since: "3.12" }),
      // --tasks: the running event loop is kept in the thread's dict (up to 3.12).
      f("dict"),
    ],
  },
  {
    name: "cframe",
    types: [
      { c: "_PyCFrame", since: "3.11", until: "3.12" },
      { c: "CFrame", since: "3.11", until: "3.12" },
    ],
    fields: [f("current_frame"), f("previous")],
  },
  {
    name: "frame",
    types: [{ c: "PyFrameObject", until: "3.10" }, { c: "_PyInterpreterFrame", since: "3.11" }],
    fields: [
      f("back", "f_back", "previous"),
      // 3.14+: `f_executable`, `localsplus[]` and `f_funcobj` are tagged `_PyStackRef` unions.
      { name: "code", members: ["f_code", "f_executable"], aggregateKind: "ptr" },
      f("lasti", "f_lasti"),
      f("lineno", "f_lineno"),
      f(
        "instr",
        { c: "prev_instr", since: "3.11", until: "3.12" },
        { c: "instr_ptr", since: "3.13" },
      ),
      { name: "localsplus", members: ["f_localsplus", "localsplus"], aggregateKind: "ptr" },
      f("is_entry"),
      f("owner"),
      f("stacktop", "stacktop", "stackpointer"),
      // Free-threaded 3.14+: which copy of the bytecode the frame runs (`co_tlbc->entries[i]`).
      f("tlbc_index"),
      { name: "func", members: ["f_func", "f_funcobj"], aggregateKind: "ptr" },
      f("globals", "f_globals"),
      f("locals", "f_locals"),
      f("frame_obj"),
      // --tasks: the value stack of a suspended coroutine (<= 3.10; 3.11+ use `stacktop`).
      f("value_stack", "f_valuestack"),
      f("stack_top", "f_stacktop"),
      f("stack_depth", "f_stackdepth"),
      // --locks (<= 3.10): the block stack (`PyTryBlock {b_type, b_handler, b_level}`); the
      // innermost block's level bounds the value stack known to be in use.
      f("iblock", { c: "f_iblock", until: "3.10" }),
      { name: "blockstack", members: [{ c: "f_blockstack", until: "3.10" }], aggregateKind: "i32" },
    ],
  },
  {
    name: "code",
    types: ["PyCodeObject"],
    fields: [
      f("argcount", "co_argcount"),
      f("posonlyargcount", "co_posonlyargcount"),
      f("kwonlyargcount", "co_kwonlyargcount"),
      f("nlocals", "co_nlocals"),
      f("flags", "co_flags"),
      f("firstlineno", "co_firstlineno"),
      f("code", { c: "co_code", until: "3.10" }),
      f("varnames", "co_varnames"),
      f("cellvars", "co_cellvars"),
      f("freevars", { c: "co_freevars", until: "3.10" }),
      f("localsplusnames", "co_localsplusnames"),
      f("localspluskinds", "co_localspluskinds"),
      f("nlocalsplus", "co_nlocalsplus"),
      f("ncellvars", "co_ncellvars"),
      f("nfreevars", { c: "co_nfreevars", since: "3.11" }),
      f("filename", "co_filename"),
      f("name", "co_name"),
      f("qualname", "co_qualname"),
      f("linetable", { c: "co_lnotab", until: "3.9" }, { c: "co_linetable", since: "3.10" }),
      f("code_adaptive", { c: "co_code_adaptive", since: "3.11" }),
      // 3.11+: where each protected range (a `with` or `try` body) keeps its stack depth.
      f("exceptiontable", { c: "co_exceptiontable", since: "3.11" }),
      // Free-threaded 3.14+: the per-thread copies of the bytecode (`_PyCodeArray *`).
      f("tlbc", "co_tlbc"),
    ],
  },
  {
    name: "object",
    types: ["PyObject"],
    fields: [
      f("refcnt", "ob_refcnt"),
      f("type", "ob_type"),
      { name: "size", members: ["ob_size"], in: "PyVarObject" },
      // Free-threaded builds (3.13t+): owning thread, per-object lock, split reference counts.
      f("tid", "ob_tid"),
      { name: "mutex", members: ["ob_mutex"], aggregateKind: "u8" },
      f("gc_bits", "ob_gc_bits"),
      f("ref_local", "ob_ref_local"),
      f("ref_shared", "ob_ref_shared"),
    ],
  },
  {
    name: "type",
    types: ["PyTypeObject"],
    fields: [
      f("name", "tp_name"),
      f("basicsize", "tp_basicsize"),
      f("itemsize", "tp_itemsize"),
      f("flags", "tp_flags"),
      f("repr", "tp_repr"),
      f("dict", "tp_dict"),
      f("base", "tp_base"),
      f("dictoffset", "tp_dictoffset"),
    ],
  },
  {
    name: "unicode",
    types: ["PyASCIIObject"],
    fields: [
      f("length"),
      f("hash"),
      { name: "state", members: ["state"], aggregateKind: "u32" },
    ],
  },
  {
    name: "compact_unicode",
    types: ["PyCompactUnicodeObject"],
    fields: [f("utf8_length"), f("utf8")],
  },
  {
    name: "legacy_unicode",
    types: ["PyUnicodeObject"],
    fields: [f("data", "data.any"), f("length"), f("str")],
  },
  {
    name: "bytes",
    types: ["PyBytesObject", "PyStringObject"],
    fields: [f("size", "ob_base.ob_size", "ob_size"), f("sval", "ob_sval")],
  },
  {
    name: "tuple",
    types: ["PyTupleObject"],
    fields: [f("size", "ob_base.ob_size", "ob_size"), f("item", "ob_item")],
  },
  {
    name: "list",
    types: ["PyListObject"],
    fields: [f("size", "ob_base.ob_size", "ob_size"), f("item", "ob_item"), f("allocated")],
  },
  {
    name: "dict",
    types: ["PyDictObject"],
    fields: [
      f("used", "ma_used"),
      f("keys", "ma_keys"),
      f("values", "ma_values"),
      f("fill", "ma_fill"),
      f("mask", "ma_mask"),
      f("table", "ma_table"),
    ],
  },
  {
    name: "dictkeys",
    types: ["PyDictKeysObject"],
    fields: [
      f("size", { c: "dk_size", until: "3.10" }),
      f("log2_size", { c: "dk_log2_size", since: "3.11" }),
      f("log2_index_bytes", "dk_log2_index_bytes"),
      f("kind", "dk_kind"),
      f("usable", "dk_usable"),
      f("nentries", "dk_nentries"),
      { name: "indices", members: ["dk_indices"], aggregateKind: "u8" },
    ],
  },
  {
    name: "dictvalues",
    types: [{ c: "PyDictValues", since: "3.11" }],
    fields: [f("values"), f("capacity"), f("size"), f("embedded"), f("valid")],
  },
  { name: "float", types: ["PyFloatObject"], fields: [f("value", "ob_fval")] },
  {
    name: "long",
    types: ["PyLongObject"],
    fields: [
      f("size", { c: "ob_base.ob_size", until: "3.11" }, { c: "ob_size", until: "3.11" }),
      f("lv_tag", { c: "long_value.lv_tag", since: "3.12" }),
      f("digit", "ob_digit", "long_value.ob_digit"),
    ],
  },
  { name: "int", types: ["PyIntObject"], fields: [f("value", "ob_ival")] },
  {
    name: "set",
    types: ["PySetObject"],
    fields: [f("fill"), f("used"), f("mask"), f("table")],
  },
  // For --locals: cells (closure variables), modules (`threading`), instance attributes, functions.
  { name: "cell", types: ["PyCellObject"], fields: [f("ref", "ob_ref")] },
  { name: "module", types: ["PyModuleObject"], fields: [f("dict", "md_dict")] },
  // --tasks: a module's C state (`_asyncio`'s), apart (reading `module` reads up to its last field).
  { name: "module_state", types: ["PyModuleObject"], fields: [f("state", "md_state")] },
  {
    name: "heaptype",
    types: ["PyHeapTypeObject"],
    fields: [f("cached_keys", "ht_cached_keys"), f("qualname", "ht_qualname")],
  },
  {
    name: "function",
    types: ["PyFunctionObject"],
    fields: [f("name", "func_name"), f("qualname", "func_qualname")],
  },
  // --tasks: a function's closure cells, apart (reading `function` reads up to its last field).
  { name: "function_closure", types: ["PyFunctionObject"], fields: [f("closure", "func_closure")] },
  // For --tasks: coroutines and generators, weak references, bound methods, builtin functions.
  {
    name: "gen",
    types: ["PyGenObject"],
    fields: [
      f("frame", "gi_frame"),
      { name: "iframe", members: ["gi_iframe"], aggregateKind: "u8" },
      f("frame_state", "gi_frame_state"),
      f("name", "gi_name"),
      f("qualname", "gi_qualname"),
    ],
  },
  { name: "weakref", types: ["PyWeakReference"], fields: [f("object", "wr_object")] },
  {
    name: "method",
    types: ["PyMethodObject"],
    fields: [f("func", "im_func"), f("self", "im_self")],
  },
  {
    name: "cfunction",
    types: ["PyCFunctionObject"],
    fields: [f("ml", "m_ml"), f("self", "m_self")],
  },
  { name: "methoddef", types: ["PyMethodDef"], fields: [f("name", "ml_name")] },
  // For --tasks: a `__slots__` attribute (`TimerHandle._when`) through its member descriptor.
  { name: "memberdescr", types: ["PyMemberDescrObject"], fields: [f("member", "d_member")] },
  { name: "memberdef", types: ["PyMemberDef"], fields: [f("type"), f("offset")] },
  // 2.7's old-style classes and their instances, for --locals.
  {
    name: "classobj",
    types: [{ c: "PyClassObject", until: "2.7" }],
    fields: [f("dict", "cl_dict"), f("name", "cl_name")],
  },
  {
    name: "instance",
    types: [{ c: "PyInstanceObject", until: "2.7" }],
    fields: [f("class", "in_class")],
  },
  // The exception a thread handles, its chain and where it was raised.
  {
    name: "err_stackitem",
    types: [{ c: "_PyErr_StackItem", since: "3.7" }],
    fields: [
      f("exc_type", { c: "exc_type", until: "3.10" }),
      f("exc_value"),
      f("exc_traceback", { c: "exc_traceback", until: "3.10" }),
      f("previous_item"),
    ],
  },
  {
    name: "exception",
    types: ["PyBaseExceptionObject"],
    fields: [
      f("dict"),
      f("args"),
      f("traceback"),
      f("context"),
      f("cause"),
      f("suppress_context"),
    ],
  },
  {
    name: "oserror",
    types: ["PyOSErrorObject", { c: "PyEnvironmentErrorObject", until: "2.7" }],
    fields: [f("errno", "myerrno"), f("strerror"), f("filename"), f("filename2")],
  },
  {
    name: "traceback",
    types: ["PyTracebackObject"],
    fields: [
      f("next", "tb_next"),
      f("frame", "tb_frame"),
      f("lasti", "tb_lasti"),
      f("lineno", "tb_lineno"),
    ],
  },
  {
    // 3.11+: the frame object a traceback holds points at its `_PyInterpreterFrame`.
    name: "frame_object",
    types: [{ c: "PyFrameObject", since: "3.11" }],
    fields: [f("frame", "f_frame"), f("lineno", "f_lineno")],
  },
  {
    name: "debug_offsets",
    types: ["_Py_DebugOffsets"],
    fields: [],
    allMembersOf: "_Py_DebugOffsets",
  },
];

/**
 * Headers to include, each only if present (`__has_include`). Python.h comes
 * first; the rest reach the public-but-not-included and internal headers.
 */
const HEADERS: readonly string[] = [
  "frameobject.h",
  "code.h",
  "longintrepr.h",
  "setobject.h",
  // PyMemberDef (in Python.h's descrobject.h from 3.12)
  "structmember.h",
  // 3.7
  "internal/pystate.h",
  "internal/mem.h",
  // 3.8+
  "internal/pycore_pystate.h",
  "internal/pycore_runtime.h",
  "internal/pycore_interp.h",
  "internal/pycore_frame.h",
  "internal/pycore_code.h",
  "internal/pycore_dict.h",
  "internal/pycore_gc.h",
  "internal/pycore_gil.h",
  "internal/pycore_long.h",
  "internal/pycore_tstate.h",
  "internal/pycore_debug_offsets.h",
  // 3.10+
  "internal/pycore_moduleobject.h",
];

/** C definitions CPython does not install, copied from its sources. */
const SUPPLEMENTS: readonly (Range & {
  /** The C type it completes, named in the generated file. */
  readonly type: string;
  readonly origin: string;
  readonly c: string;
})[] = [
  {
    // 2.7 to 3.9 define the module object in the .c file only (3.10 moved it to pycore_moduleobject.h).
    until: "3.9",
    type: "PyModuleObject",
    origin: "CPython's Objects/moduleobject.c",
    c: `typedef struct { PyObject_HEAD PyObject *md_dict; } PyModuleObject;`,
  },
  {
    // 3.6: indices are a union of arrays.
    since: "3.6",
    until: "3.6",
    type: "PyDictKeysObject",
    origin: "CPython's Objects/dict-common.h",
    c: `struct _dictkeysobject {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    Py_ssize_t (*dk_lookup)(PyDictObject *, PyObject *, Py_hash_t, PyObject ***, Py_ssize_t *);
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    union { int8_t as_1[8]; int16_t as_2[4]; int32_t as_4[2]; int64_t as_8[1]; } dk_indices;
};`,
  },
  {
    // 3.7 to 3.10 (3.11 moved it to the installed pycore_dict.h).
    since: "3.7",
    until: "3.10",
    type: "PyDictKeysObject",
    origin: "CPython's Objects/dict-common.h",
    c: `struct _dictkeysobject {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    Py_ssize_t (*dk_lookup)(PyDictObject *, PyObject *, Py_hash_t, PyObject **);
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
};`,
  },
];

const REPO = new URL("../", import.meta.url);
const OUT_DIR = new URL("src/cpython/layouts/", REPO);

// ---------------------------------------------------------------------------
// Versions.
// ---------------------------------------------------------------------------

/** [major, minor] of "3.11", "3.11.7" or a free-threaded "3.13t". */
function minorOf(version: string): [number, number] {
  const [major, minor] = version.split(".").map((n) => parseInt(n, 10));
  return [major ?? 0, minor ?? 0];
}

/** Orders by minor version; a free-threaded "3.13t" comes after "3.13". */
function compareMinor(a: string, b: string): number {
  const [am, an] = minorOf(a);
  const [bm, bn] = minorOf(b);
  return am - bm || an - bn || Number(a.endsWith("t")) - Number(b.endsWith("t"));
}

function inRange(r: string | Range, minor: string): boolean {
  if (typeof r === "string") return true;
  return (r.since === undefined || compareMinor(minor, r.since) >= 0) &&
    (r.until === undefined || compareMinor(minor, r.until) <= 0);
}

function spelling(c: CandidateSpec): string {
  return typeof c === "string" ? c : c.c;
}

/** "3.11" -> "v3_11", "3.13t" -> "v3_13t" */
function identOf(minor: string): string {
  return `v${minor.replace(".", "_")}`;
}

interface Install {
  readonly release: string; // "3.11.7"
  readonly minor: string; // "3.11"
  readonly include: string;
  /** More `-I` directories (Debian's multiarch `pyconfig.h` lives under `usr/include`). */
  readonly extraIncludes?: readonly string[];
  /** Macros defined on the probe's command line (`Py_GIL_DISABLED=1` over a GIL build's headers). */
  readonly defines?: readonly string[];
  /** Where it comes from, for messages: "pyenv", "Debian sid". */
  readonly origin?: string;
  /** A free-threaded build (`Py_GIL_DISABLED`): its layout is keyed "3.13t". */
  readonly freeThreaded?: boolean;
}

/** The key of an install's layout: "3.13", or "3.13t" for a free-threaded build. */
function layoutKey(install: Install): string {
  return install.freeThreaded === true ? `${install.minor}t` : install.minor;
}

async function pyenvRoot(): Promise<string | undefined> {
  try {
    const out = await $`pyenv root`.quiet().noThrow().stdout("piped");
    if (out.code === 0 && out.stdout.trim() !== "") return out.stdout.trim();
  } catch {
    // pyenv not on PATH
  }
  const env = Deno.env.get("PYENV_ROOT") ?? `${Deno.env.get("HOME") ?? ""}/.pyenv`;
  return $.path(env).existsSync() ? env : undefined;
}

/** Installed releases, newest patch per minor; everything else goes to `skipped`. */
async function findInstalls(root: string, skipped: string[]): Promise<Install[]> {
  const versions = $.path(root).join("versions");
  if (!versions.existsSync()) {
    skipped.push(`${versions}: no such directory`);
    return [];
  }
  const best = new Map<string, Install>();
  for await (const entry of versions.readDir()) {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(entry.name);
    if (m === null) {
      skipped.push(`${entry.name}: not a plain CPython release (free-threaded, PyPy, alias, …)`);
      continue;
    }
    const minor = `${m[1]}.${m[2]}`;
    const includeRoot = entry.path.join("include");
    const include = includeRoot.existsSync()
      ? [...includeRoot.readDirSync()].find((d) => d.name.startsWith(`python${minor}`))
      : undefined;
    if (include === undefined) {
      skipped.push(`${entry.name}: no include/python${minor}*/ directory`);
      continue;
    }
    const install = { release: entry.name, minor, include: include.path.toString() };
    const prev = best.get(minor);
    if (prev === undefined || Number(prev.release.split(".")[2]) < Number(m[3])) {
      if (prev !== undefined) {
        skipped.push(`${prev.release}: older patch release than ${entry.name}`);
      }
      best.set(minor, install);
    } else {
      skipped.push(`${entry.name}: older patch release than ${prev.release}`);
    }
  }
  return [...best.values()].sort((a, b) => compareMinor(a.minor, b.minor));
}

/** Debian sid's interpreters that `scripts/get_pythons.ts` unpacked with their headers. */
const SID_CACHE = new URL(".cache/pythons/", REPO);

/** Headers of Debian sid's Pythons under `.cache/pythons/X.Y-sid/` (see `get_pythons.ts`). */
function findSidInstalls(skipped: string[]): Install[] {
  const cache = $.path(SID_CACHE);
  if (!cache.existsSync()) {
    skipped.push(`${cache}: no such directory (run scripts/get_pythons.ts for 3.13-3.15 from sid)`);
    return [];
  }
  const installs: Install[] = [];
  for (const entry of cache.readDirSync()) {
    const manifest = entry.path.join("pystack-python.json");
    if (!/^\d+\.\d+-sid$/.test(entry.name) || !manifest.existsSync()) continue;
    const m = JSON.parse(manifest.readTextSync()) as
      & { minor: string; release: string }
      & { include?: string };
    if (m.include === undefined) {
      skipped.push(`${entry.name}: fetched without headers (--no-headers)`);
      continue;
    }
    installs.push({
      release: m.release,
      minor: m.minor,
      include: entry.path.join(m.include).toString(),
      extraIncludes: [entry.path.join("usr/include").toString()],
      origin: "Debian sid",
    });
  }
  return installs.sort((a, b) => compareMinor(a.minor, b.minor));
}

/**
 * Free-threaded builds unpacked under `.cache/pythons/X.Yt/` (the relocatable tarballs of
 * `../shared/pythons/`, see `scripts/get_freethreaded.ts`), recognised by `Py_GIL_DISABLED`
 * in their `pyconfig.h`.
 */
function findFreeThreadedInstalls(skipped: string[]): Install[] {
  const cache = $.path(SID_CACHE);
  if (!cache.existsSync()) return [];
  const installs: Install[] = [];
  for (const entry of cache.readDirSync()) {
    const m = /^(\d+\.\d+)t$/.exec(entry.name);
    if (m === null) continue;
    const include = entry.path.join("include", `python${m[1]}t`);
    const patchlevel = include.join("patchlevel.h");
    const pyconfig = include.join("pyconfig.h");
    if (!patchlevel.existsSync() || !pyconfig.existsSync()) {
      skipped.push(`${entry.name}: no include/python${m[1]}t/ headers`);
      continue;
    }
    if (!/^#define Py_GIL_DISABLED 1$/m.test(pyconfig.readTextSync())) {
      skipped.push(`${entry.name}: pyconfig.h does not define Py_GIL_DISABLED`);
      continue;
    }
    const release = /#define PY_VERSION\s+"(\d+\.\d+\.\d+)/.exec(patchlevel.readTextSync())?.[1];
    if (release === undefined) {
      skipped.push(`${entry.name}: no PY_VERSION in patchlevel.h`);
      continue;
    }
    installs.push({
      release,
      minor: m[1]!,
      include: include.toString(),
      origin: "free-threaded build",
      freeThreaded: true,
    });
  }
  return installs;
}

/** Oldest minor version whose free-threaded layout may be probed from its GIL build's headers. */
const DEFINED_FREE_THREADED_SINCE = "3.13";

/**
 * For a minor version (3.13+) with headers but no free-threaded build here (3.14, 3.15): its GIL
 * build's headers probed with `Py_GIL_DISABLED=1`, as a free-threaded build compiles them (the
 * headers are the same; its `pyconfig.h` only adds that macro).
 */
function definedFreeThreaded(gil: readonly Install[], builds: readonly Install[]): Install[] {
  return gil.filter((i) =>
    i.freeThreaded !== true && compareMinor(i.minor, DEFINED_FREE_THREADED_SINCE) >= 0 &&
    !builds.some((b) => b.minor === i.minor)
  ).map((i) => ({
    ...i,
    freeThreaded: true,
    defines: ["Py_GIL_DISABLED=1"],
    origin: `${i.origin ?? "pyenv"} headers with Py_GIL_DISABLED=1`,
  }));
}

// ---------------------------------------------------------------------------
// Reading a struct's members from the headers (for `allMembersOf`).
// ---------------------------------------------------------------------------

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ")
    .replace(/^\s*#[^\n]*$/gm, " ");
}

/** Dotted member paths of a struct body, in declaration order. */
function memberPaths(body: string): string[] {
  const paths: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === "{") depth++;
    else if (ch === "}") depth--;
    else if (ch === ";" && depth === 0) {
      paths.push(...declPaths(body.slice(start, i).trim()));
      start = i + 1;
    }
  }
  return paths;
}

function declPaths(declaration: string): string[] {
  // Trailing attribute macros (`char cookie[8] _Py_NONSTRING;` in 3.13.1+) are not names.
  const decl = declaration.replace(/(\s+(_Py_[A-Z][A-Z_]*|__attribute__\s*\(\(.*\)\)))+$/, "");
  if (decl === "") return [];
  const open = decl.indexOf("{");
  if (open >= 0) {
    const close = decl.lastIndexOf("}");
    const inner = memberPaths(decl.slice(open + 1, close));
    const name = /(\w+)\s*(\[[^\]]*\]\s*)*$/.exec(decl.slice(close + 1))?.[1];
    return name === undefined ? inner : inner.map((p) => `${name}.${p}`);
  }
  const name = /(\w+)\s*(\[[^\]]*\]\s*)*$/.exec(decl.replace(/:\s*\w+\s*$/, ""))?.[1];
  return name === undefined ? [] : [name];
}

/** Every `.h` file under `dir`, depth first. */
async function* headerFiles(dir: ReturnType<typeof $.path>): AsyncGenerator<string> {
  for await (const entry of dir.readDir()) {
    if (entry.isDirectory) yield* headerFiles(entry.path);
    else if (entry.isFile && entry.name.endsWith(".h")) yield entry.path.toString();
  }
}

/** Members of `typedef struct NAME {...} NAME;` found anywhere under `include`. */
async function membersFromHeaders(include: string, typedef: string): Promise<string[]> {
  const head = new RegExp(`typedef\\s+struct\\s+${typedef}\\s*\\{`);
  for await (const file of headerFiles($.path(include))) {
    const text = stripComments(await Deno.readTextFile(file));
    const m = head.exec(text);
    if (m === null) continue;
    let depth = 1;
    let i = m.index + m[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") depth--;
    }
    return memberPaths(text.slice(m.index + m[0].length, i - 1));
  }
  return [];
}

// ---------------------------------------------------------------------------
// The C probe.
// ---------------------------------------------------------------------------

/** What one probe line measures about a type or a member. */
type FactKind =
  | "sizeof" // sizeof(T)
  | "off" // offsetof(T, m)
  | "size" // sizeof(m): fails for flexible arrays
  | "cls" // __builtin_classify_type(m): 1 int, 5 pointer (or decayed array), 8 real, 12 struct, 13 union
  | "signed" // (typeof(m))-1 < 0: fails for aggregates
  | "array" // 1 for arrays, 0 for pointers: fails for everything else
  | "esize" // sizeof(m[0])
  | "ecls" // __builtin_classify_type(m[0])
  | "esigned"; // element signedness

const MEMBER_FACTS: readonly FactKind[] = [
  "off",
  "size",
  "cls",
  "signed",
  "array",
  "esize",
  "ecls",
  "esigned",
];

interface Fact {
  readonly type: string;
  readonly member: string | undefined;
  readonly kind: FactKind;
  readonly expr: string;
}

function factExpr(type: string, member: string | undefined, kind: FactKind): string {
  if (member === undefined) return `sizeof(${type})`;
  const m = `(((${type} *)0)->${member})`;
  const e = `(${m}[0])`;
  switch (kind) {
    case "off":
      return `__builtin_offsetof(${type}, ${member})`;
    case "size":
      return `sizeof(${m})`;
    case "cls":
      return `__builtin_classify_type(${m})`;
    case "signed":
      return `((__typeof__(${m}))-1 < (__typeof__(${m}))0)`;
    case "array":
      return `!__builtin_types_compatible_p(__typeof__(${m}), __typeof__(&${e}))`;
    case "esize":
      return `sizeof(${e})`;
    case "ecls":
      return `__builtin_classify_type(${e})`;
    case "esigned":
      return `((__typeof__(${e}))-1 < (__typeof__(${e}))0)`;
    case "sizeof":
      return `sizeof(${type})`;
  }
}

function factKey(type: string, member: string | undefined, kind: FactKind): string {
  return `${type}\u0000${member ?? ""}\u0000${kind}`;
}

/** The probe's C source; fact `i` is on line `firstFactLine + i`. */
function probeSource(
  install: Install,
  facts: readonly Fact[],
): { source: string; firstFactLine: number } {
  const prelude = [
    `/* Generated by scripts/gen_layouts.ts for CPython ${install.release}. */`,
    "#define Py_BUILD_CORE 1",
    "#define Py_BUILD_CORE_BUILTIN 1",
    "#include <Python.h>",
    ...HEADERS.flatMap((h) => [`#if __has_include("${h}")`, `#include "${h}"`, "#endif"]),
    "#include <stdio.h>",
    "#include <stdint.h>",
    ...SUPPLEMENTS.filter((s) => inRange(s, install.minor)).map((s) => s.c),
  ].join("\n").split("\n");
  const lines = [...prelude];
  // One self-contained function per line, so a compile error names exactly one fact.
  facts.forEach((fact, i) => {
    lines.push(
      `static void p${i}(void) { printf("${i} %lld\\n", (long long)(${fact.expr})); }`,
    );
  });
  lines.push(`int main(void) {`);
  for (let i = 0; i < facts.length; i += 16) {
    const calls = [];
    for (let j = i; j < Math.min(i + 16, facts.length); j++) calls.push(`p${j}();`);
    lines.push(`  ${calls.join(" ")}`);
  }
  lines.push("  return 0;", "}", "");
  return { source: lines.join("\n"), firstFactLine: prelude.length + 1 };
}

/**
 * Compiles and runs the probe, dropping facts that fail to compile until the
 * rest does. Returns the value of every surviving fact by key.
 */
async function runProbe(
  install: Install,
  facts: readonly Fact[],
  dir: string,
): Promise<Map<string, number>> {
  let alive = [...facts];
  const src = $.path(dir).join("probe.c");
  const exe = $.path(dir).join("probe");
  for (let round = 1;; round++) {
    const { source, firstFactLine } = probeSource(install, alive);
    await src.writeText(source);
    const includes = [install.include, ...(install.extraIncludes ?? [])].map((d) => `-I${d}`);
    const defines = (install.defines ?? []).map((d) => `-D${d}`);
    const cc = await $`cc -w -O0 -fmax-errors=0 ${defines} ${includes} ${src} -o ${exe}`
      .noThrow().quiet().stderr("piped");
    if (cc.code === 0) break;
    const bad = new Set<number>();
    const stray: string[] = [];
    for (const line of cc.stderr.split("\n")) {
      const m = /^(.*?):(\d+):\d+: (?:fatal )?error: (.*)$/.exec(line);
      if (m === null) continue;
      const i = m[1] === src.toString() ? Number(m[2]) - firstFactLine : -1;
      if (i < 0 || i >= alive.length) stray.push(line);
      else bad.add(i);
    }
    if (stray.length > 0 || bad.size === 0 || round > 10) {
      throw new Error(
        `Cannot compile the probe for CPython ${install.release}: ${
          stray[0] ?? cc.stderr.trim().split("\n")[0] ?? `cc exited with ${cc.code}`
        }`,
      );
    }
    alive = alive.filter((_, i) => !bad.has(i));
  }
  const out = await $`${exe}`.quiet().text();
  const values = new Map<string, number>();
  for (const line of out.split("\n")) {
    const [id, value] = line.split(" ");
    const fact = alive[Number(id)];
    if (fact !== undefined && value !== undefined) {
      values.set(factKey(fact.type, fact.member, fact.kind), Number(value));
    }
  }
  return values;
}

// ---------------------------------------------------------------------------
// From facts to a layout.
// ---------------------------------------------------------------------------

const CLASS_INTEGER = new Set([1, 2, 3, 4]); // integer, char, enum, boolean
const CLASS_POINTER = 5;
const CLASS_REAL = 8;
const CLASS_AGGREGATE = new Set([12, 13]); // struct, union

function scalarKind(cls: number, size: number, signed: number | undefined): FieldKind | undefined {
  if (cls === CLASS_POINTER) return "ptr";
  if (cls === CLASS_REAL) return size === 8 ? "f64" : undefined;
  if (!CLASS_INTEGER.has(cls) || signed === undefined) return undefined;
  const bits = size * 8;
  if (![8, 16, 32, 64].includes(bits)) return undefined;
  return `${signed ? "i" : "u"}${bits}` as FieldKind;
}

/**
 * The kind of a member from its facts. Arrays (flexible or not) take their
 * element's kind, and byte arrays read as "u8".
 */
function kindOf(
  get: (kind: FactKind) => number | undefined,
  aggregateKind: FieldKind | undefined,
): FieldKind | undefined {
  const cls = get("cls");
  if (cls === undefined) return undefined;
  if (get("array") === 1) {
    const ecls = get("ecls");
    const esize = get("esize");
    if (ecls === undefined || esize === undefined) return undefined;
    if (CLASS_INTEGER.has(ecls) && esize === 1) return "u8";
    if (CLASS_AGGREGATE.has(ecls)) return aggregateKind;
    return scalarKind(ecls, esize, get("esigned"));
  }
  if (CLASS_AGGREGATE.has(cls)) return aggregateKind;
  const size = get("size");
  return size === undefined ? undefined : scalarKind(cls, size, get("signed"));
}

interface GenField {
  readonly name: string;
  readonly c: string;
  readonly offset: number;
  readonly kind: FieldKind;
}

interface GenStruct {
  readonly name: StructName;
  readonly c: string;
  readonly size: number;
  readonly fields: GenField[];
  /** Whether each field is named after its C member (no `// c` comments needed). */
  readonly named: boolean;
}

interface Generated {
  readonly install: Install;
  readonly structs: GenStruct[];
  readonly missing: string[];
  readonly problems: string[];
}

interface ResolvedSpec {
  readonly spec: StructSpec;
  readonly types: string[];
  readonly fields: { spec: FieldSpec; members: string[] }[];
}

async function resolveSpecs(install: Install): Promise<ResolvedSpec[]> {
  const resolved: ResolvedSpec[] = [];
  for (const spec of STRUCTS) {
    const fields = spec.fields.map((fs) => ({
      spec: fs,
      members: fs.members.filter((c) => inRange(c, install.minor)).map(spelling),
    }));
    if (spec.allMembersOf !== undefined) {
      for (const path of await membersFromHeaders(install.include, spec.allMembersOf)) {
        fields.push({ spec: { name: path, members: [path] }, members: [path] });
      }
    }
    resolved.push({
      spec,
      types: spec.types.filter((c) => inRange(c, install.minor)).map(spelling),
      fields,
    });
  }
  return resolved;
}

async function generate(install: Install): Promise<Generated> {
  const specs = await resolveSpecs(install);
  const facts = new Map<string, Fact>();
  const add = (type: string, member: string | undefined, kind: FactKind) => {
    const key = factKey(type, member, kind);
    if (!facts.has(key)) facts.set(key, { type, member, kind, expr: factExpr(type, member, kind) });
  };
  for (const { types, fields } of specs) {
    for (const type of types) {
      add(type, undefined, "sizeof");
      for (const { spec, members } of fields) {
        for (const member of members) {
          for (const kind of MEMBER_FACTS) add(spec.in ?? type, member, kind);
        }
      }
    }
  }
  const dir = await Deno.makeTempDir({ prefix: `gen_layouts_${layoutKey(install)}_` });
  let values: Map<string, number>;
  try {
    values = await runProbe(install, [...facts.values()], dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const structs: GenStruct[] = [];
  const missing: string[] = [];
  const problems: string[] = [];
  for (const { spec, types, fields } of specs) {
    const type = types.find((t) => values.has(factKey(t, undefined, "sizeof")));
    const size = type === undefined ? undefined : values.get(factKey(type, undefined, "sizeof"));
    if (type === undefined || size === undefined) {
      if (types.length > 0) missing.push(`${spec.name} (no ${types.join(" / ")})`);
      continue;
    }
    const out: GenField[] = [];
    for (const { spec: fs, members } of fields) {
      const on = fs.in ?? type;
      const member = members.find((m) => values.has(factKey(on, m, "off")));
      if (member === undefined) {
        if (members.length > 0) missing.push(`${spec.name}.${fs.name}`);
        continue;
      }
      const get = (kind: FactKind) => values.get(factKey(on, member, kind));
      const kind = kindOf(get, fs.aggregateKind);
      const offset = get("off");
      if (kind === undefined || offset === undefined) {
        problems.push(`${spec.name}.${fs.name}: cannot derive a kind for ${on}.${member}`);
        continue;
      }
      out.push({ name: fs.name, c: on === type ? member : `${on}.${member}`, offset, kind });
    }
    structs.push({
      name: spec.name,
      c: type,
      size,
      fields: out,
      named: spec.allMembersOf !== undefined,
    });
  }
  return { install, structs, missing, problems };
}

// ---------------------------------------------------------------------------
// Rendering.
// ---------------------------------------------------------------------------

function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

function renderLayout(g: Generated): string {
  const { release } = g.install;
  const minor = layoutKey(g.install);
  const flavour = g.install.freeThreaded === true ? ", free-threaded" : "";
  const defined = (g.install.defines ?? []).map((d) => ` -D${d}`).join("");
  const lines = [
    `// Generated by scripts/gen_layouts.ts from CPython ${release} headers${defined}. Do not edit.`,
    "",
    `import type { Layout } from "../layout.ts";`,
    "",
    `/**`,
    ` * CPython ${minor} memory layout (x86-64 Linux${flavour}), from the ${release} headers${defined}.`,
    " * Built when first asked for (`LAYOUTS` in `all.ts`): a run reads one version.",
    " */",
    `export function ${identOf(minor)}(): Layout {`,
    "  return {",
    `  version: "${minor}",`,
    `  source: "${release}",`,
    "  structs: {",
  ];
  for (const s of g.structs) {
    const supplement = SUPPLEMENTS.find((x) => x.type === s.c && inRange(x, minor));
    const from = supplement === undefined ? "" : ` (copied from ${supplement.origin})`;
    lines.push(`    // ${s.c}${from}`, `    ${key(s.name)}: {`, `      size: ${s.size},`);
    if (s.fields.length === 0) {
      lines.push("      fields: {},");
    } else {
      lines.push("      fields: {");
      for (const fld of s.fields) {
        const note = s.named || fld.c === fld.name ? "" : ` // ${fld.c}`;
        lines.push(
          `        ${key(fld.name)}: { offset: ${fld.offset}, kind: "${fld.kind}" },${note}`,
        );
      }
      lines.push("      },");
    }
    lines.push("    },");
  }
  lines.push("  },", "};", "}", "");
  return lines.join("\n");
}

function renderAll(minors: readonly string[]): string {
  return [
    "// Generated by scripts/gen_layouts.ts. Do not edit.",
    "",
    `import type { Layout } from "../layout.ts";`,
    `import { lazyRecord } from "../lazy_record.ts";`,
    ...minors.map((m) => `import { ${identOf(m)} } from "./${identOf(m)}.ts";`),
    "",
    "/**",
    ` * Every generated layout, keyed by minor version ("3.11"), each built when first read: a run`,
    " * reads one, and building them all cost every run about 2 ms of start-up.",
    " */",
    "export const LAYOUTS: Readonly<Record<string, Layout>> = lazyRecord({",
    ...minors.map((m) => `  "${m}": ${identOf(m)},`),
    "});",
    "",
  ].join("\n");
}

/** "3.13.18" -> "debug_offsets_3_13_18" */
function debugOffsetsIdent(release: string): string {
  return `debug_offsets_${release.replaceAll(".", "_")}`;
}

/**
 * `_Py_DebugOffsets` alone, for a release whose full layout is not written (its
 * minor version's layout comes from another release, e.g. sid's 3.13.18 beside pyenv's 3.13.0).
 */
function renderDebugOffsetsOnly(g: Generated): string | undefined {
  const s = g.structs.find((x) => x.name === "debug_offsets");
  if (s === undefined) return undefined;
  const { release, origin } = g.install;
  return [
    `// Generated by scripts/gen_layouts.ts from CPython ${release} headers${
      origin ? ` (${origin})` : ""
    }. Do not edit.`,
    "",
    `import type { StructLayout } from "../layout.ts";`,
    "",
    `/** \`_Py_DebugOffsets\` as the CPython ${release} headers declare it (x86-64 Linux). */`,
    `export const ${debugOffsetsIdent(release)}: StructLayout = {`,
    `  size: ${s.size},`,
    "  fields: {",
    ...s.fields.map((fld) =>
      `    ${key(fld.name)}: { offset: ${fld.offset}, kind: "${fld.kind}" },`
    ),
    "  },",
    "};",
    "",
  ].join("\n");
}

/**
 * The registry of `_Py_DebugOffsets` layouts by declaring release: every layout
 * file in `OUT_DIR` with a `debug_offsets` struct, and every `debug_offsets_*.ts`.
 */
async function renderDebugOffsetsRegistry(): Promise<string> {
  const entries: { release: string; ident: string; file: string; expr: string }[] = [];
  for await (const entry of $.path(OUT_DIR).readDir()) {
    const layout = /^(v\d+_\d+)\.ts$/.exec(entry.name);
    const only = /^(debug_offsets_(\d+)_(\d+)_(\d+))\.ts$/.exec(entry.name);
    const url = `${entry.path.toFileUrl().href}?t=${Date.now()}`;
    if (layout !== null) {
      const mod = await import(url);
      const l = mod[layout[1]!]() as { source: string; structs: Record<string, unknown> };
      if (l.structs["debug_offsets"] === undefined) continue;
      entries.push({
        release: l.source,
        ident: layout[1]!,
        file: entry.name,
        expr: `() => ${layout[1]}().structs.debug_offsets!`,
      });
    } else if (only !== null) {
      entries.push({
        release: `${only[2]}.${only[3]}.${only[4]}`,
        ident: only[1]!,
        file: entry.name,
        expr: `() => ${only[1]!}`,
      });
    }
  }
  const patch = (r: string) => Number(r.split(".")[2] ?? 0);
  entries.sort((a, b) => compareMinor(a.release, b.release) || patch(a.release) - patch(b.release));
  return [
    "// Generated by scripts/gen_layouts.ts. Do not edit.",
    "",
    `import type { StructLayout } from "../layout.ts";`,
    `import { lazyRecord } from "../lazy_record.ts";`,
    ...entries.map((e) => `import { ${e.ident} } from "./${e.file}";`),
    "",
    "/**",
    " * The layout of `_Py_DebugOffsets` itself, keyed by the CPython release whose",
    " * headers declare it. `src/cpython/runtime.ts` picks one by the version a target declares.",
    " * Each is built when first read.",
    " */",
    "export const DEBUG_OFFSETS_LAYOUTS: Readonly<Record<string, StructLayout>> = lazyRecord({",
    ...entries.map((e) => `  "${e.release}": ${e.expr},`),
    "});",
    "",
  ].join("\n");
}

/** Minor versions that have a layout file in `OUT_DIR`. */
async function committedMinors(): Promise<string[]> {
  const minors: string[] = [];
  const dir = $.path(OUT_DIR);
  if (!dir.existsSync()) return minors;
  for await (const entry of dir.readDir()) {
    const m = /^v(\d+)_(\d+)(t?)\.ts$/.exec(entry.name);
    if (m !== null) minors.push(`${m[1]}.${m[2]}${m[3]}`);
  }
  return minors.sort(compareMinor);
}

// ---------------------------------------------------------------------------
// Main.
// ---------------------------------------------------------------------------

async function main(args: string[]): Promise<number> {
  const verbose = args.includes("--verbose");
  const started = performance.now();
  const skipped: string[] = [];
  const root = await pyenvRoot();
  let installs: Install[] = [];
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    // The layouts describe x86-64 Linux, and the probe measures the host's ABI.
    skipped.push(`everything: host is ${Deno.build.os}/${Deno.build.arch}, not linux/x86_64`);
  } else if (root === undefined) {
    skipped.push("pyenv: not found (no `pyenv root`, no $PYENV_ROOT)");
  } else if (!(await $.commandExists("cc"))) {
    skipped.push("cc: not found on PATH");
  } else {
    installs = await findInstalls(root, skipped);
  }
  // Debian sid's builds: a minor without a pyenv install gets its whole layout from
  // them; every one of them gives its `_Py_DebugOffsets` layout.
  const offsetsOnly: Install[] = [];
  if (Deno.build.os === "linux" && Deno.build.arch === "x86_64" && await $.commandExists("cc")) {
    for (const sid of findSidInstalls(skipped)) {
      if (installs.some((i) => i.minor === sid.minor)) offsetsOnly.push(sid);
      else installs.push(sid);
    }
    const builds = Deno.env.get("_PYSTACK_GEN_NO_FREE_THREADED_BUILDS") === "1"
      ? []
      : findFreeThreadedInstalls(skipped);
    installs.push(...builds, ...definedFreeThreaded(installs, builds));
    installs.sort((a, b) => compareMinor(layoutKey(a), layoutKey(b)));
  }

  const results = await Promise.allSettled([...installs, ...offsetsOnly].map(generate));
  const written: string[] = [];
  const generated: string[] = [];
  let failed = 0;
  const outDir = $.path(OUT_DIR);
  await outDir.mkdir({ recursive: true });
  for (const [i, r] of results.entries()) {
    const install = [...installs, ...offsetsOnly][i]!;
    if (r.status === "rejected") {
      failed++;
      const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
      skipped.push(`${install.release}: ${reason}`);
      continue;
    }
    const g = r.value;
    if (i >= installs.length) {
      const text = renderDebugOffsetsOnly(g);
      if (text === undefined) continue;
      const only = outDir.join(`${debugOffsetsIdent(install.release)}.ts`);
      await only.writeText(text);
      written.push(only.toString());
      $.logStep(
        "Generated",
        `${only.basename()} from CPython ${install.release} (${install.origin})`,
      );
      continue;
    }
    const file = outDir.join(`${identOf(layoutKey(install))}.ts`);
    await file.writeText(renderLayout(g));
    written.push(file.toString());
    generated.push(layoutKey(install));
    const nFields = g.structs.reduce((n, s) => n + s.fields.length, 0);
    $.logStep(
      "Generated",
      `${file.basename()} from CPython ${install.release} (${g.structs.length} structs, ${nFields} fields)`,
    );
    for (const p of g.problems) $.logWarn("Warning", `${install.minor}: ${p}`);
    if (verbose && g.missing.length > 0) {
      $.logLight(`  absent in ${install.minor}: ${g.missing.join(", ")}`);
    }
  }

  const all = await committedMinors();
  for (const m of all) {
    if (!generated.includes(m)) {
      skipped.push(`${identOf(m)}.ts: no CPython ${m} generated here; kept the committed file`);
    }
  }
  const allFile = outDir.join("all.ts");
  await allFile.writeText(renderAll(all));
  written.push(allFile.toString());
  const registry = outDir.join("debug_offsets.ts");
  await registry.writeText(await renderDebugOffsetsRegistry());
  written.push(registry.toString());

  const fmt = await $`${Deno.execPath()} fmt --quiet ${written}`.cwd(REPO).noThrow();
  for (const s of skipped) $.logWarn("Skipped", s);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  $.logStep("Done", `${generated.length} generated, ${all.length} in all.ts, ${seconds}s`);
  return failed > 0 || fmt.code !== 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
