/**
 * CPython 3.13+ describes its own layout in `_Py_DebugOffsets` at the start of
 * `_PyRuntime`. This reads it, validates it, and lays it over the generated
 * table (which it overrides where they disagree, e.g. in a later patch release).
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { Field, Layout, StructLayout, StructName } from "../cpython/layout.ts";
import { formatVersion, type PythonRuntime, selectRuntime, SUPPORTED } from "../cpython/runtime.ts";
import { fieldWidth, readStruct } from "../cpython/struct_view.ts";
import { rethrowFatal } from "../errors.ts";
import type { DetectedVersion } from "./detect_version.ts";

/** `_Py_DebugOffsets` member → the canonical struct and field it gives the offset of. */
export const FIELD_MAP: ReadonlyArray<readonly [string, StructName, string]> = [
  ["runtime_state.finalizing", "runtime", "finalizing"],
  ["runtime_state.interpreters_head", "runtime", "interpreters_head"],
  ["interpreter_state.id", "interp", "id"],
  ["interpreter_state.next", "interp", "next"],
  ["interpreter_state.threads_head", "interp", "tstate_head"],
  ["interpreter_state.imports_modules", "interp", "modules"],
  ["interpreter_state.sysdict", "interp", "sysdict"],
  ["interpreter_state.builtins", "interp", "builtins"],
  ["interpreter_state.ceval_gil", "interp", "ceval_gil"],
  ["thread_state.prev", "thread", "prev"],
  ["thread_state.next", "thread", "next"],
  ["thread_state.interp", "thread", "interp"],
  ["thread_state.current_frame", "thread", "current_frame"],
  ["thread_state.thread_id", "thread", "thread_id"],
  ["thread_state.native_thread_id", "thread", "native_thread_id"],
  ["thread_state.holds_gil", "thread", "holds_gil"],
  ["interpreter_frame.previous", "frame", "back"],
  ["interpreter_frame.executable", "frame", "code"],
  ["interpreter_frame.instr_ptr", "frame", "instr"],
  ["interpreter_frame.localsplus", "frame", "localsplus"],
  ["interpreter_frame.owner", "frame", "owner"],
  ["interpreter_frame.tlbc_index", "frame", "tlbc_index"],
  ["code_object.filename", "code", "filename"],
  ["code_object.name", "code", "name"],
  ["code_object.qualname", "code", "qualname"],
  ["code_object.linetable", "code", "linetable"],
  ["code_object.firstlineno", "code", "firstlineno"],
  ["code_object.argcount", "code", "argcount"],
  ["code_object.localsplusnames", "code", "localsplusnames"],
  ["code_object.localspluskinds", "code", "localspluskinds"],
  ["code_object.co_code_adaptive", "code", "code_adaptive"],
  ["code_object.co_tlbc", "code", "tlbc"],
  ["pyobject.ob_type", "object", "type"],
  ["type_object.tp_name", "type", "name"],
  ["type_object.tp_repr", "type", "repr"],
  ["type_object.tp_flags", "type", "flags"],
  ["tuple_object.ob_item", "tuple", "item"],
  ["tuple_object.ob_size", "tuple", "size"],
  ["list_object.ob_item", "list", "item"],
  ["list_object.ob_size", "list", "size"],
  ["dict_object.ma_keys", "dict", "keys"],
  ["dict_object.ma_values", "dict", "values"],
  ["float_object.ob_fval", "float", "value"],
  ["long_object.lv_tag", "long", "lv_tag"],
  ["long_object.ob_digit", "long", "digit"],
  ["bytes_object.ob_size", "bytes", "size"],
  ["bytes_object.ob_sval", "bytes", "sval"],
  ["unicode_object.state", "unicode", "state"],
  ["unicode_object.length", "unicode", "length"],
  // 3.15+: where the exceptions a thread raises and handles are.
  ["thread_state.current_exception", "thread", "current_exception"],
  ["err_stackitem.exc_value", "err_stackitem", "exc_value"],
];

/** Each debug-offsets group and the struct whose declared size it gives. */
export const SIZE_MAP: ReadonlyArray<readonly [string, StructName]> = [
  ["runtime_state", "runtime"],
  ["interpreter_state", "interp"],
  ["thread_state", "thread"],
  ["interpreter_frame", "frame"],
  ["code_object", "code"],
  ["pyobject", "object"],
  ["type_object", "type"],
  ["tuple_object", "tuple"],
  ["list_object", "list"],
  ["dict_object", "dict"],
  ["float_object", "float"],
  ["long_object", "long"],
  ["bytes_object", "bytes"],
];

/** Largest struct size believed. */
const MAX_STRUCT = 1 << 20;

/** The runtime with the target's own offsets applied, plus what was noticed. */
export interface AppliedOffsets {
  rt: PythonRuntime;
  /** Verbose-only notes (differences from the generated table). */
  notes: string[];
  /** Problems worth showing (offsets rejected). */
  warnings: string[];
}

/**
 * Pure part: given the decoded `_Py_DebugOffsets` values by name, returns the
 * layout with them applied, or the reasons they were rejected.
 */
export function layoutFromDebugOffsets(
  base: Layout,
  values: ReadonlyMap<string, number>,
): { layout: Layout; notes: string[] } | { rejected: string } {
  const structs: Partial<Record<StructName, { size: number; fields: Record<string, Field> }>> = {};
  for (const [name, s] of Object.entries(base.structs) as [StructName, StructLayout][]) {
    structs[name] = { size: s.size, fields: { ...s.fields } };
  }
  const notes: string[] = [];
  for (const [group, struct] of SIZE_MAP) {
    const size = values.get(`${group}.size`);
    if (size === undefined || size <= 0 || size > MAX_STRUCT) {
      return { rejected: `${group}.size is ${size}` };
    }
    const s = structs[struct];
    if (s !== undefined) s.size = size;
  }
  for (const [debugName, struct, field] of FIELD_MAP) {
    const offset = values.get(debugName);
    const s = structs[struct];
    const existing = s?.fields[field];
    if (offset === undefined || s === undefined || existing === undefined) continue;
    if (offset + fieldWidth(existing.kind) > s.size && !isTrailingArray(field)) {
      return { rejected: `${debugName} (${offset}) lies outside its struct (${s.size} bytes)` };
    }
    if (offset !== existing.offset) {
      notes.push(`debug offsets: ${struct}.${field} is ${offset}, table says ${existing.offset}`);
      s.fields[field] = { offset, kind: existing.kind };
    }
  }
  const gilBase = values.get("interpreter_state.gil_runtime_state");
  const gil = structs.gil;
  if (gilBase !== undefined && gil !== undefined) {
    // (`gil_runtime_state_enabled` is relative to the GIL, and 0 in every build: not read.)
    for (const [name, field] of [["locked", "locked"], ["holder", "last_holder"]] as const) {
      const abs = values.get(`interpreter_state.gil_runtime_state_${name}`);
      const existing = gil.fields[field];
      if (abs === undefined || existing === undefined) continue;
      const offset = abs - gilBase;
      if (offset < 0 || offset + fieldWidth(existing.kind) > gil.size) {
        return { rejected: `interpreter_state.gil_runtime_state_${name} is outside the GIL` };
      }
      if (offset !== existing.offset) {
        notes.push(`debug offsets: gil.${field} is ${offset}, table says ${existing.offset}`);
        gil.fields[field] = { offset, kind: existing.kind };
      }
    }
  }
  const gcBase = values.get("interpreter_state.gc");
  const collecting = values.get("gc.collecting");
  const interp = structs.interp;
  const gcField = interp?.fields["gc_collecting"];
  if (gcBase !== undefined && collecting !== undefined && interp && gcField) {
    if (gcBase + collecting + fieldWidth(gcField.kind) > interp.size) {
      return { rejected: `gc.collecting (${gcBase} + ${collecting}) is outside the interpreter` };
    }
    if (gcBase + collecting !== gcField.offset) {
      notes.push(`debug offsets: interp.gc_collecting is ${gcBase + collecting}`);
      interp.fields["gc_collecting"] = { offset: gcBase + collecting, kind: gcField.kind };
    }
  }
  const asciiSize = values.get("unicode_object.asciiobject_size");
  if (asciiSize !== undefined && structs.unicode !== undefined) {
    if (!plausibleHeader(asciiSize)) return { rejected: `asciiobject_size is ${asciiSize}` };
    structs.unicode.size = asciiSize;
  }
  const compactSize = values.get("unicode_object.compactunicodeobject_size");
  if (compactSize !== undefined && structs.compact_unicode !== undefined) {
    if (!plausibleHeader(compactSize)) {
      return { rejected: `compactunicodeobject_size is ${compactSize}` };
    }
    structs.compact_unicode.size = compactSize;
  }
  return { layout: { ...base, structs }, notes };
}

/** A `str` header size: past `ob_type`, and small. */
function plausibleHeader(size: number): boolean {
  return Number.isInteger(size) && size >= 16 && size <= 4096;
}

function isTrailingArray(field: string): boolean {
  return ["localsplus", "code_adaptive", "item", "digit", "sval"].includes(field);
}

/** Reads the target's `_Py_DebugOffsets` at `address` and applies it to `rt`. */
export function applyDebugOffsets(
  mem: MemoryReader,
  address: bigint,
  rt: PythonRuntime,
): AppliedOffsets {
  const own = rt.debugOffsets?.layout;
  if (own === undefined) {
    return { rt, notes: [], warnings: [] };
  }
  try {
    const view = readStruct(mem, address, own);
    const values = new Map<string, number>();
    for (const name of Object.keys(own.fields)) {
      if (name !== "cookie") values.set(name, view.int(name));
    }
    const result = layoutFromDebugOffsets(rt.layout, values);
    if ("rejected" in result) {
      return {
        rt,
        notes: [],
        warnings: [`ignored the target's _Py_DebugOffsets: ${result.rejected}`],
      };
    }
    return { rt: { ...rt, layout: result.layout }, notes: result.notes, warnings: [] };
  } catch (e) {
    rethrowFatal(e);
    return {
      rt,
      notes: [],
      warnings: [`could not read _Py_DebugOffsets: ${(e as Error).message}`],
    };
  }
}

/**
 * The runtime for a detected version: chosen in `runtime.ts` (a version newer than
 * any known is read as the newest one when it described itself), with the target's
 * own `_Py_DebugOffsets` applied, plus one warning when the version is newer than known.
 */
export function runtimeForTarget(mem: MemoryReader, detected: DetectedVersion): AppliedOffsets {
  const selfDescribed = detected.debugOffsets !== undefined;
  const rt = selectRuntime(detected.version, {
    selfDescribed,
    freeThreaded: detected.freeThreaded === true,
    ...(detected.py2UnicodeWidth === undefined
      ? {}
      : { py2UnicodeWidth: detected.py2UnicodeWidth }),
  });
  const applied = detected.debugOffsets === undefined
    ? { rt, notes: [], warnings: [] }
    : applyDebugOffsets(mem, detected.debugOffsets, rt);
  if (rt.newerThanKnown !== undefined) {
    const [major, minor] = SUPPORTED.newest;
    applied.warnings.unshift(
      `Python ${formatVersion(detected.version)} is newer than this pystack knows ` +
        `(${major}.${minor} at most): reading it as ${rt.newerThanKnown} with the offsets ` +
        `it declares itself; some stacks may be missing or wrong`,
    );
  }
  if (rt.debugOffsets !== undefined) {
    applied.notes.unshift(`_Py_DebugOffsets read with the layout of ${rt.debugOffsets.release}`);
  }
  return applied;
}
