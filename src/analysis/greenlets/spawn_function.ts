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
    const layout = this.#rt.layout.structs.function;
    if (this.#dicts === undefined || layout === undefined) return undefined;
    try {
      const run = this.#dicts.attribute(greenlet, "_run", this.#types);
      if (run === undefined || this.#types.ofObject(run).name !== "function") return undefined;
      const f = readStruct(this.#mem, run, layout);
      const name = f.has("qualname") ? f.ptr("qualname") : f.ptr("name");
      return readUnicode(this.#mem, this.#rt, name);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }
}
