/**
 * The function a gevent `Greenlet` was spawned with: gevent keeps it as the
 * instance attribute `_run` (in the greenlet's `__dict__`) until it returns.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import { readUnicode, type TypeNames } from "../../cpython/objects.ts";
import { DictReader } from "../../cpython/dicts.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { rethrowFatal } from "../../errors.ts";

/** Reads the spawn function of greenlets, by their `_run` attribute. */
export class SpawnFunctions {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #types: TypeNames;
  readonly #dicts: DictReader | undefined;
  /** Qualified names by function object: greenlets are often spawned with the same function. */
  readonly #names = new Map<bigint, string | undefined>();

  constructor(mem: MemoryReader, rt: PythonRuntime, types: TypeNames) {
    this.#mem = mem;
    this.#rt = rt;
    this.#types = types;
    this.#dicts = rt.values === undefined ? undefined : new DictReader(mem, rt);
  }

  /**
   * The qualified name of the Python function in the `_run` attribute of the
   * greenlet at `greenlet`; undefined when there is none, or it is no
   * Python function (a builtin, a bound method), or memory is unreadable.
   */
  of(greenlet: bigint): string | undefined {
    const header = this.#rt.layout.structs.object?.size;
    if (this.#dicts === undefined || header === undefined) return undefined;
    try {
      // PyGreenlet: PyObject_HEAD, weakreflist, dict (greenlet.h, every release).
      const dict = this.#word(greenlet + BigInt(header) + 8n);
      if (dict === 0n) return undefined;
      const run = this.#dicts.lookup(dict, "_run", this.#types);
      if (run === undefined) return undefined;
      if (!this.#names.has(run)) this.#names.set(run, this.#functionName(run));
      return this.#names.get(run);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  #word(address: bigint): bigint {
    return new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  /** `__qualname__` of the function at `address`; undefined for any other object. */
  #functionName(address: bigint): string | undefined {
    const layout = this.#rt.layout.structs.function;
    if (layout === undefined || this.#types.ofObject(address).name !== "function") return undefined;
    const f = readStruct(this.#mem, address, layout);
    return readUnicode(this.#mem, this.#rt, f.has("qualname") ? f.ptr("qualname") : f.ptr("name"));
  }
}
