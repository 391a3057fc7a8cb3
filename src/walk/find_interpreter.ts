/**
 * Finding the `PyInterpreterState` of a target: an ordered list of strategies,
 * each candidate validated before use.
 *
 * @module
 */

import { rethrowFatal } from "../errors.ts";
import { type MemoryReader, MemoryReadError } from "../memory/memory_reader.ts";
import type { MapEntry } from "../elf/maps.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import { readStruct } from "../cpython/struct_view.ts";
import { TypeFlags, TypeNames } from "../cpython/objects.ts";
import type { PythonObjects } from "./object_files.ts";
import { sectionAddress, writableMaps } from "./object_files.ts";

/** Ways to find the interpreter, in the order they are tried. */
export const METHODS = ["debug_offsets", "elf_section", "symbols", "bss", "anon", "heap"] as const;
/** One way to find the interpreter. */
export type Method = typeof METHODS[number];

/** What each method is called in messages. */
export const METHOD_NAMES: Record<Method, string> = {
  debug_offsets: "debug offsets",
  elf_section: "ELF section",
  symbols: "symbols",
  bss: "scanning writable data",
  anon: "scanning anonymous maps",
  heap: "scanning the heap",
};

/** The methods used unless `--exhaustive`. */
export const DEFAULT_METHODS: readonly Method[] = [
  "debug_offsets",
  "elf_section",
  "symbols",
  "bss",
];

/** Where the interpreter is, and how it was found. */
export interface InterpreterLocation {
  interp: bigint;
  /** `_PyRuntime`, when known (needed for the GIL holder on 3.7 to 3.11). */
  runtime: bigint | undefined;
  method: Method;
}

/** Inputs of {@linkcode findInterpreter}. */
export interface FindContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  objects: PythonObjects;
  maps: readonly MapEntry[];
  symbols: Map<string, bigint>;
  /** Start of `_Py_DebugOffsets`, when the version came from it. */
  debugOffsets: bigint | undefined;
  methods: readonly Method[];
  log: (message: string) => void;
}

/** Most candidate words checked by one scan. */
const MAX_SCAN_BYTES = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** Tries each allowed method in order; undefined when none finds a valid interpreter. */
export function findInterpreter(ctx: FindContext): InterpreterLocation | undefined {
  const validator = new InterpreterValidator(ctx.mem, ctx.rt);
  for (const method of METHODS) {
    if (!ctx.methods.includes(method)) continue;
    try {
      const found = tryMethod(method, ctx, validator);
      if (found !== undefined) return found;
      ctx.log(`interpreter not found by ${METHOD_NAMES[method]}`);
    } catch (e) {
      rethrowFatal(e);
      ctx.log(`interpreter search by ${METHOD_NAMES[method]} failed: ${(e as Error).message}`);
    }
  }
  return undefined;
}

function fromRuntime(
  ctx: FindContext,
  validator: InterpreterValidator,
  runtime: bigint | undefined,
  method: Method,
): InterpreterLocation | undefined {
  const layout = ctx.rt.layout.structs.runtime;
  if (runtime === undefined || layout === undefined) return undefined;
  const interp = readStruct(ctx.mem, runtime, layout).ptr("interpreters_head");
  return validator.isValid(interp, { named: true }) ? { interp, runtime, method } : undefined;
}

function tryMethod(
  method: Method,
  ctx: FindContext,
  validator: InterpreterValidator,
): InterpreterLocation | undefined {
  const main = ctx.objects.main;
  switch (method) {
    case "debug_offsets":
      return fromRuntime(ctx, validator, ctx.debugOffsets, method);
    case "elf_section":
      return main === undefined
        ? undefined
        : fromRuntime(ctx, validator, sectionAddress(main, ".PyRuntime"), method);
    case "symbols": {
      const viaRuntime = fromRuntime(ctx, validator, ctx.symbols.get("_PyRuntime"), method);
      if (viaRuntime !== undefined) return viaRuntime;
      const head = ctx.symbols.get("interp_head");
      if (head === undefined) return undefined;
      const interp = new DataView(ctx.mem.read(head, 8).buffer).getBigUint64(0, true);
      return validator.isValid(interp, { named: true })
        ? { interp, runtime: undefined, method }
        : undefined;
    }
    case "bss": {
      const regions = main === undefined ? [] : writableMaps(main);
      const exe = ctx.objects.executable;
      if (exe !== undefined && exe !== main) regions.push(...writableMaps(exe));
      return scan(ctx, validator, regions, method);
    }
    case "anon":
      return scan(
        ctx,
        validator,
        ctx.maps.filter((m) => m.path === "" && m.perms.startsWith("rw")),
        method,
      );
    case "heap":
      return scan(ctx, validator, ctx.maps.filter((m) => m.path === "[heap]"), method);
  }
}

/**
 * Visits every aligned 64-bit word of `regions` (read in 1 MiB chunks, at most
 * {@linkcode MAX_SCAN_BYTES} in all) until `visit` returns a result.
 */
function scanWords<T>(
  mem: MemoryReader,
  regions: readonly MapEntry[],
  visit: (value: bigint, address: bigint) => T | undefined,
): T | undefined {
  let budget = MAX_SCAN_BYTES;
  for (const region of regions) {
    for (let at = region.start; at < region.end && budget > 0; at += BigInt(CHUNK)) {
      const size = Number(region.end - at < BigInt(CHUNK) ? region.end - at : BigInt(CHUNK));
      budget -= size;
      let bytes: Uint8Array;
      try {
        bytes = mem.read(at, size);
      } catch (e) {
        rethrowFatal(e);
        continue;
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let off = 0; off + 8 <= size; off += 8) {
        const found = visit(view.getBigUint64(off, true), at + BigInt(off));
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

/** Scans `regions` word by word for a pointer to a valid interpreter state. */
function scan(
  ctx: FindContext,
  validator: InterpreterValidator,
  regions: readonly MapEntry[],
  method: Method,
): InterpreterLocation | undefined {
  const writable = ctx.maps.filter((m) => m.perms.startsWith("rw"));
  const inWritable = (p: bigint) => writable.some((m) => p >= m.start && p < m.end);
  const seen = new Set<bigint>();
  return scanWords(ctx.mem, regions, (p) => {
    if (p === 0n || (p & 7n) !== 0n || seen.has(p)) return undefined;
    seen.add(p);
    if (!inWritable(p) || !validator.isValid(p)) return undefined;
    return { interp: p, runtime: findRuntimeNear(ctx, regions, p), method };
  });
}

/**
 * With the interpreter found by a scan, `_PyRuntime` is the struct whose
 * `interpreters.head` and `interpreters.main` both point at it (3.7+).
 */
function findRuntimeNear(
  ctx: FindContext,
  regions: readonly MapEntry[],
  interp: bigint,
): bigint | undefined {
  const layout = ctx.rt.layout.structs.runtime;
  const head = layout?.fields["interpreters_head"];
  if (layout === undefined || head === undefined || !layout.fields["interpreters_main"]) {
    return undefined;
  }
  return scanWords(ctx.mem, regions, (value, address) => {
    if (value !== interp) return undefined;
    const runtime = address - BigInt(head.offset);
    try {
      if (readStruct(ctx.mem, runtime, layout).ptr("interpreters_main") === interp) return runtime;
    } catch (e) {
      rethrowFatal(e);
    }
    return undefined;
  });
}

/** Checks that an address holds a live interpreter state (see the README's notes). */
export class InterpreterValidator {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #types: TypeNames;
  constructor(mem: MemoryReader, rt: PythonRuntime) {
    this.#mem = mem;
    this.#rt = rt;
    this.#types = new TypeNames(mem, rt);
  }

  /**
   * True when `address` is a `PyInterpreterState` whose first thread points back at it, and
   * two of its `modules`, `sysdict` and `builtins` are `dict`s (the third may be unset, or a
   * subclass).
   *
   * `named`: the address was not found by a scan but named by the interpreter itself (its debug
   * offsets, its `.PyRuntime` section, a symbol). Then a dict that cannot be read (a core cut
   * short before it, while the threads and their frames are there) counts for one: the
   * thread's pointer back is the test. One that can be read must still be a dict.
   */
  isValid(address: bigint, { named = false }: { named?: boolean } = {}): boolean {
    const { interp, thread } = this.#rt.layout.structs;
    if (address === 0n || (address & 7n) !== 0n || interp === undefined || thread === undefined) {
      return false;
    }
    try {
      const is = readStruct(this.#mem, address, interp);
      const tstate = is.ptr("tstate_head");
      if (tstate === 0n || (tstate & 7n) !== 0n) return false;
      if (readStruct(this.#mem, tstate, thread).ptr("interp") !== address) return false;
      // The tp_flags bit alone is not enough: glibc's arena header (its bins point at each
      // other, and an arena's addresses have bit 29 set) passes it from a scan of anonymous maps.
      let dicts = 0;
      for (const name of ["modules", "sysdict", "builtins"]) {
        const obj = is.ptr(name);
        if (obj === 0n) continue;
        let type: ReturnType<TypeNames["ofObject"]>;
        try {
          type = this.#types.ofObject(obj);
        } catch (e) {
          if (!named || !(e instanceof MemoryReadError)) throw e;
          dicts++; // unreadable: not a reason to refuse an interpreter named by the runtime
          continue;
        }
        if ((type.flags & TypeFlags.DICT_SUBCLASS) === 0n) return false;
        if (type.name === "dict") dicts++;
      }
      return dicts >= 2;
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  }
}
