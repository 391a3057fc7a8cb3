/**
 * From a target's mappings to a readable interpreter: symbols, version,
 * layout and the interpreter state's address. Shared by live processes and cores.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { MapEntry } from "../elf/maps.ts";
import { formatVersion, type PythonRuntime } from "../cpython/runtime.ts";
import { NoInterpreterStateError, NotPythonError } from "../errors.ts";
import { type PythonObjects, sectionAddress, symbolAddresses } from "./object_files.ts";
import { detectVersion } from "./detect_version.ts";
import { findInterpreter, type Method, METHOD_NAMES } from "./find_interpreter.ts";
import { runtimeForTarget } from "./debug_offsets.ts";
import { PY2_UNICODE_SYMBOLS, py2UnicodeWidth } from "../cpython/py2_objects.ts";

/** Symbols looked up in the interpreter's object file, all in one pass. */
const SYMBOLS = [
  "_PyRuntime",
  "Py_Version",
  "interp_head",
  "_PyThreadState_Current",
  "collecting",
  // 3.6: the GIL's static condition variable and mutex; 2.7: its lock (`--locks`; `.symtab`).
  "gil_cond",
  "gil_mutex",
  "interpreter_lock",
  // 2.7: the width of `Py_UNICODE`, for `unicode` values (see py2UnicodeWidth).
  ...Object.keys(PY2_UNICODE_SYMBOLS),
];

/** Inputs of {@linkcode locatePython}. */
export interface LocateContext {
  mem: MemoryReader;
  objects: PythonObjects;
  maps: readonly MapEntry[];
  methods: readonly Method[];
  log: (message: string) => void;
  /** For messages: what is inspected, e.g. "process 123 (python3)" or "core ./core.123". */
  subject: string;
  /** What to tell the user when it is not Python. */
  notPythonHint?: string;
}

/** A target's interpreter, ready to walk. */
export interface PythonLocation {
  rt: PythonRuntime;
  interp: bigint;
  runtime: bigint | undefined;
  symbols: Map<string, bigint>;
  versionText: string;
  foundBy: string;
  warnings: string[];
}

/** Finds version, layout and interpreter state; throws a user-facing error when it cannot. */
export function locatePython(ctx: LocateContext): PythonLocation {
  const { mem, objects, log } = ctx;
  const main = objects.main!;
  const symbols = symbolAddresses(main, SYMBOLS);
  const runtimeCandidate = symbols.get("_PyRuntime") ?? sectionAddress(main, ".PyRuntime");
  const detected = detectVersion(mem, objects, symbols, runtimeCandidate);
  if (detected === undefined) {
    throw new NotPythonError(
      `Cannot inspect ${ctx.subject}: it is not a Python process ` +
        `(no CPython version found in ${main.path})`,
      ctx.notPythonHint ?? "pass the PID of a CPython interpreter",
    );
  }
  const flavour = detected.freeThreaded === true ? ", free-threaded" : "";
  log(`Python ${formatVersion(detected.version)}${flavour} (from ${detected.source})`);
  const unicodeWidth = py2UnicodeWidth(symbols);
  if (unicodeWidth !== undefined) detected.py2UnicodeWidth = unicodeWidth;
  const applied = runtimeForTarget(mem, detected);
  const rt = applied.rt;
  for (const note of applied.notes) log(note);
  const warnings: string[] = [...applied.warnings];
  const found = findInterpreter({
    mem,
    rt,
    objects,
    maps: ctx.maps,
    symbols,
    debugOffsets: detected.debugOffsets,
    methods: ctx.methods,
    log,
  });
  if (found === undefined) {
    throw new NoInterpreterStateError(
      `Cannot inspect ${ctx.subject}: no Python interpreter state found ` +
        `in Python ${formatVersion(detected.version)} (tried ${
          ctx.methods.map((m) => METHOD_NAMES[m]).join(", ")
        })`,
      "the interpreter may be starting up or shutting down; retry, or use --exhaustive",
    );
  }
  log(`interpreter found by ${METHOD_NAMES[found.method]} at 0x${found.interp.toString(16)}`);
  return {
    rt,
    interp: found.interp,
    runtime: found.runtime ?? symbols.get("_PyRuntime") ?? runtimeCandidate,
    symbols,
    versionText: formatVersion(detected.version),
    foundBy: METHOD_NAMES[found.method],
    warnings,
  };
}
