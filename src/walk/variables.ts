/**
 * The arguments and local variables of Python frames (`--locals`): names from
 * the code object, values from the frame's fast locals, rendered by
 * {@linkcode ValueRenderer}.
 *
 * Arguments come first, in signature order (positional-only, positional,
 * keyword-only, `*args`, `**kwargs`: the order of the names in the code
 * object), then the other locals in the code object's order, cell and free
 * variables last; a cell is read through to its content. Unbound variables
 * are left out.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "../cpython/runtime.ts";
import type { PyFrame, PyThread, Variable } from "../model.ts";
import { MissingFieldError, readStruct } from "../cpython/struct_view.ts";
import { InvalidObjectError, readBytes } from "../cpython/objects.ts";
import { valueRules } from "../cpython/dicts.ts";
import { printable } from "../cpython/repr_format.ts";
import { invalidObject, ValueRenderer } from "../cpython/values.ts";
import { rethrowFatal } from "../errors.ts";

/** Most variables read from one frame (a code object claiming more is not read). */
export const MAX_VARIABLES = 65_536;

/** `co_flags` bits. */
const CO_VARARGS = 0x04;
const CO_VARKEYWORDS = 0x08;
/** `co_localspluskinds` bits (3.11+). */
const CO_FAST_CELL = 0x40;
const CO_FAST_FREE = 0x80;

/** One fast-locals slot of a code object. */
interface Slot {
  name: string;
  index: number;
  argument: boolean;
  /** The slot holds a cell (read through it when it is one). */
  cell: boolean;
  /** <= 3.10: an argument captured by a closure lives in this cell slot instead. */
  cellIndex?: number;
}

interface CodeSlots {
  slots: Slot[];
  /** How many slots to read. */
  count: number;
}

/** Reads frame variables of one target; caches what it learns per code object. */
export class VariableReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #values: ValueRenderer;
  readonly #codes = new Map<bigint, CodeSlots | undefined>();

  constructor(mem: MemoryReader, rt: PythonRuntime, values = new ValueRenderer(mem, rt)) {
    this.#mem = mem;
    this.#rt = rt;
    this.#values = values;
  }

  /** Adds `variables` to every frame of `threads`. */
  addTo(threads: PyThread[]): void {
    for (const thread of threads) {
      for (const frame of thread.frames) {
        const variables = this.read(frame);
        if (variables !== undefined) frame.variables = variables;
      }
    }
  }

  /** The variables of `frame`; undefined when its code object cannot be read. */
  read(frame: PyFrame): Variable[] | undefined {
    const code = this.#slots(frame.codeAddress);
    if (code === undefined) return undefined;
    if (code.count === 0) return [];
    const layout = this.#rt.layout.structs.frame;
    const field = layout?.fields.localsplus;
    if (field === undefined) throw new MissingFieldError("localsplus");
    let view: DataView;
    try {
      const bytes = this.#mem.read(frame.frameAddress + BigInt(field.offset), code.count * 8);
      view = new DataView(bytes.buffer);
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
    // From 3.14 the slots are tagged `_PyStackRef`s: the mask clears the tag bits.
    const mask = this.#rt.stackRefMask;
    const slot = (index: number) => view.getBigUint64(index * 8, true) & mask;
    const variables: Variable[] = [];
    for (const s of code.slots) {
      let address = slot(s.index);
      let cell = s.cell;
      if (address === 0n && s.cellIndex !== undefined) {
        address = slot(s.cellIndex);
        cell = true;
      }
      const value = this.#value(address, cell);
      if (value !== undefined) variables.push({ name: s.name, value, argument: s.argument });
    }
    return variables;
  }

  /**
   * The object a plain (non-cell) local variable `name` of `frame` holds, or undefined when
   * the frame has no such variable or it is unbound (`--tasks`: a sleep's timer handle).
   */
  local(frame: Pick<PyFrame, "frameAddress" | "codeAddress">, name: string): bigint | undefined {
    const s = this.#slots(frame.codeAddress)?.slots.find((slot) => slot.name === name);
    const offset = this.#rt.layout.structs.frame?.fields.localsplus?.offset;
    if (s === undefined || s.cell || offset === undefined) return undefined;
    const address = frame.frameAddress + BigInt(offset + s.index * 8);
    const value = new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true) &
      this.#rt.stackRefMask;
    return value === 0n ? undefined : value;
  }

  /** The rendered value of a slot, undefined when unbound. */
  #value(address: bigint, cell: boolean): string | undefined {
    if (address === 0n) return undefined;
    if (cell && this.#values.isCell(address)) {
      try {
        const content = this.#values.cellContents(address);
        return content === 0n ? undefined : this.#values.repr(content);
      } catch (e) {
        rethrowFatal(e);
        return invalidObject(address);
      }
    }
    return this.#values.repr(address);
  }

  #slots(address: bigint): CodeSlots | undefined {
    if (this.#codes.has(address)) return this.#codes.get(address);
    let slots: CodeSlots | undefined;
    try {
      slots = this.#readSlots(address);
    } catch (e) {
      rethrowFatal(e);
      slots = undefined;
    }
    this.#codes.set(address, slots);
    return slots;
  }

  #readSlots(address: bigint): CodeSlots {
    const layout = this.#rt.layout.structs.code;
    if (layout === undefined) throw new MissingFieldError("code");
    const co = readStruct(this.#mem, address, layout);
    const flags = co.int("flags");
    // 2.7 has no keyword-only arguments.
    const keywordOnly = co.has("kwonlyargcount") ? co.int("kwonlyargcount") : 0;
    const argumentCount = co.int("argcount") + keywordOnly +
      ((flags & CO_VARARGS) !== 0 ? 1 : 0) + ((flags & CO_VARKEYWORDS) !== 0 ? 1 : 0);
    if (valueRules(this.#rt).localsNames === "localsplus") {
      const names = this.#names(co.ptr("localsplusnames"));
      const kinds = readBytes(this.#mem, this.#rt, co.ptr("localspluskinds"), MAX_VARIABLES);
      if (kinds.length !== names.length) {
        throw new InvalidObjectError(address, "co_localspluskinds does not match the names");
      }
      const slots = names.map((name, index): Slot => ({
        name,
        index,
        argument: index < argumentCount,
        cell: (kinds[index]! & (CO_FAST_CELL | CO_FAST_FREE)) !== 0,
      }));
      return { slots, count: names.length };
    }
    // <= 3.10: f_localsplus holds co_varnames, then co_cellvars, then co_freevars.
    const varnames = this.#names(co.ptr("varnames"));
    const cellvars = this.#names(co.ptr("cellvars"));
    const freevars = this.#names(co.ptr("freevars"));
    const count = varnames.length + cellvars.length + freevars.length;
    if (count > MAX_VARIABLES) throw new InvalidObjectError(address, "too many variables");
    const slots: Slot[] = varnames.map((name, index) => ({
      name,
      index,
      argument: index < argumentCount,
      cell: false,
    }));
    cellvars.forEach((name, i) => {
      const index = varnames.length + i;
      // An argument captured by a closure: CPython moved its value into this cell.
      const argument = slots.find((s) => s.argument && s.name === name);
      if (argument !== undefined) argument.cellIndex = index;
      else slots.push({ name, index, argument: false, cell: true });
    });
    freevars.forEach((name, i) => {
      slots.push({
        name,
        index: varnames.length + cellvars.length + i,
        argument: false,
        cell: true,
      });
    });
    return { slots, count };
  }

  /** The names in the tuple at `address`. */
  #names(address: bigint): string[] {
    const layout = this.#rt.layout.structs.tuple;
    if (layout === undefined) throw new MissingFieldError("tuple");
    const t = readStruct(this.#mem, address, layout);
    const size = t.int("size");
    if (size < 0 || size > MAX_VARIABLES) throw new InvalidObjectError(address, "names tuple");
    if (size === 0) return [];
    const view = new DataView(this.#mem.read(t.addressOf("item"), size * 8).buffer);
    const names: string[] = [];
    for (let i = 0; i < size; i++) {
      const name = this.#values.strValue(view.getBigUint64(i * 8, true));
      if (name === undefined) throw new InvalidObjectError(address, `name ${i} is not a str`);
      names.push(printable(name));
    }
    return names;
  }
}
