/**
 * Exception objects and tracebacks of a target: type, `str(exc)` for builtin
 * exceptions, `__cause__`/`__context__`, and where an exception was raised
 * (the innermost entry of its traceback). Bounded and tolerant of corrupt
 * memory: what cannot be read is marked, never thrown.
 *
 * `str(exc)` is computed only where it needs no code of the target: for an
 * exception whose type is builtin (not a class of the program) and whose
 * arguments are builtin values (see `ValueRenderer.isBuiltinValue`). It
 * follows `BaseException.__str__` (no argument: empty; one: `str` of it;
 * several: the tuple's `repr`), `KeyError` (one argument: its `repr`) and
 * `OSError` (`[Errno N] strerror`, then `: 'filename'` and ` -> 'filename2'`).
 * Builtin exceptions with another `__str__` (`SyntaxError`, the `Unicode…Error`s)
 * show their address, as programs' own exceptions do.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { ExceptionValue } from "../model.ts";
import type { PythonRuntime } from "./runtime.ts";
import type { StructLayout, StructName } from "./layout.ts";
import { readStruct, type StructView } from "./struct_view.ts";
import { hasReferences, TypeFlags, type TypeInfo, TypeNames } from "./objects.ts";
import { ValueRenderer } from "./values.ts";
import { printable } from "./repr_format.ts";
import { rethrowFatal } from "../errors.ts";
import { CodeReader } from "../walk/code_objects.ts";

/** Most traceback entries followed to the innermost one. */
export const MAX_TRACEBACK = 10_000;
/** Most bases followed up from a type. */
const MAX_BASES = 64;
const HEAPTYPE = 1n << 9n;
const READY = 1n << 12n;

/** Builtin exceptions whose `__str__` is not `BaseException`'s, `KeyError`'s or `OSError`'s. */
const OWN_STR: ReadonlySet<string> = new Set([
  "SyntaxError",
  "UnicodeEncodeError",
  "UnicodeDecodeError",
  "UnicodeTranslateError",
  "BaseExceptionGroup",
  "ExceptionGroup",
]);

/** The fields of one exception object that link it to others. */
export interface ExceptionLinks {
  /** `__cause__`, 0n for none. */
  cause: bigint;
  /** `__context__`, 0n for none. */
  context: bigint;
  /** `__suppress_context__` (set by `raise … from`). */
  suppressContext: boolean;
}

function hex(address: bigint): string {
  return `0x${address.toString(16)}`;
}

/** Reads exception objects of one target; caches what it learns about types. */
export class ExceptionReader {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #values: ValueRenderer;
  readonly #codes: CodeReader;
  /** Types as shown (2.7's `exceptions.` prefix dropped), undefined for what is not a type. */
  readonly #shown = new Map<bigint, TypeInfo | undefined>();
  readonly #typeNames: TypeNames;

  constructor(
    mem: MemoryReader,
    rt: PythonRuntime,
    options: { values?: ValueRenderer; codes?: CodeReader } = {},
  ) {
    this.#mem = mem;
    this.#rt = rt;
    this.#values = options.values ?? new ValueRenderer(mem, rt);
    this.#codes = options.codes ?? new CodeReader(mem, rt);
    this.#typeNames = new TypeNames(mem, rt);
  }

  /** Whether `address` is `None` (or NULL): no exception. */
  isNone(address: bigint): boolean {
    return address === 0n || this.#values.typeName(address) === "NoneType";
  }

  /**
   * The exception at `address` as the model shows it. For an exception not yet normalized
   * (2.7, or one in flight before 3.12: `value` is its argument, `hints.type` its class), the
   * type comes from the hint; `hints.traceback` gives the location when the object has none.
   */
  describe(address: bigint, hints: { type?: bigint; traceback?: bigint } = {}): ExceptionValue {
    const type = this.#objectType(address);
    if (type?.name === "instance" && this.#rt.values?.py2 !== undefined) {
      // 2.7 raises instances of old-style classes too: `<mod.Name instance at 0x…>`.
      const name = /^<(.+) instance at 0x[0-9a-f]+>$/.exec(this.#values.repr(address))?.[1];
      if (name !== undefined) {
        const out: ExceptionValue = { type: name.slice(name.lastIndexOf(".") + 1), address };
        this.#locate(out, hints.traceback ?? 0n);
        return out;
      }
    }
    if (type === undefined || !this.#isException(type.flags)) {
      const hinted = hints.type === undefined || hints.type === 0n
        ? undefined
        : this.#typeAt(hints.type);
      if (type === undefined && address !== 0n && hinted !== undefined) {
        // The thread state names its type, but the object itself is unreadable.
        return {
          type: hinted.name,
          address,
          invalid: `<invalid ${hinted.name} object at ${hex(address)}>`,
        };
      }
      if (hinted === undefined || !this.#isException(hinted.flags)) {
        return {
          type: "<invalid>",
          address,
          invalid: type === undefined
            ? `<invalid object at ${hex(address)}>`
            : `<invalid exception: a ${type.name} object at ${hex(address)}>`,
        };
      }
      // Not normalized: the value is the argument (or None, or a tuple of them).
      const out: ExceptionValue = { type: hinted.name, address };
      if ((hinted.flags & HEAPTYPE) === 0n && !OWN_STR.has(hinted.name)) {
        const message = this.isNone(address) ? "" : this.#values.strText(address);
        if (message !== undefined) out.message = message;
      }
      this.#locate(out, hints.traceback ?? 0n);
      return out;
    }
    const out: ExceptionValue = { type: type.name, address };
    let fields: StructView | undefined;
    try {
      fields = readStruct(this.#mem, address, this.#struct("exception"));
    } catch (e) {
      rethrowFatal(e);
      out.invalid = `<invalid ${type.name} object at ${hex(address)}>`;
      return out;
    }
    const message = this.#message(address, type, fields);
    if (message !== undefined) out.message = message;
    const traceback = fields.has("traceback") ? fields.ptr("traceback") : 0n;
    this.#locate(out, traceback !== 0n ? traceback : hints.traceback ?? 0n);
    return out;
  }

  /** `__cause__`, `__context__` and `__suppress_context__`; none for 2.7 or unreadable objects. */
  links(address: bigint): ExceptionLinks {
    const none = { cause: 0n, context: 0n, suppressContext: false };
    if (this.#rt.exceptions?.chained !== true) return none;
    const type = this.#objectType(address);
    if (type === undefined || !this.#isException(type.flags)) return none;
    try {
      const f = readStruct(this.#mem, address, this.#struct("exception"));
      const cause = f.ptr("cause");
      const context = f.ptr("context");
      return {
        cause: this.isNone(cause) ? 0n : cause,
        context: this.isNone(context) ? 0n : context,
        suppressContext: f.int("suppress_context") !== 0,
      };
    } catch (e) {
      rethrowFatal(e);
      return none;
    }
  }

  /** `str(exc)`, or undefined when it would need the target's code. */
  #message(
    address: bigint,
    type: TypeInfo,
    fields: StructView,
  ): string | undefined {
    if ((type.flags & HEAPTYPE) !== 0n || OWN_STR.has(type.name)) return undefined;
    const osError = this.#rt.exceptions?.builtinPrefix === undefined
      ? "OSError"
      : "EnvironmentError";
    if (this.#derivesFrom(type, osError)) {
      const os = this.#osErrorText(address);
      if (os !== null) return os;
    }
    const args = this.#args(fields.ptr("args"));
    if (args === undefined) return undefined;
    if (args.length === 0) return "";
    if (args.length === 1) {
      const only = args[0]!;
      if (!this.#values.isBuiltinValue(only)) return undefined;
      return type.name === "KeyError" ? this.#values.repr(only) : this.#values.strText(only);
    }
    if (!args.every((a) => this.#values.isBuiltinValue(a))) return undefined;
    return this.#values.repr(fields.ptr("args"));
  }

  /** The items of the `args` tuple, or undefined when it is not a readable tuple. */
  #args(tuple: bigint): bigint[] | undefined {
    try {
      if (this.#values.typeName(tuple) !== "tuple") return undefined;
      const t = readStruct(this.#mem, tuple, this.#struct("tuple"));
      const size = t.int("size");
      if (size < 0 || size > 1024) return undefined;
      const items: bigint[] = [];
      const data = new DataView(this.#mem.read(t.addressOf("item"), size * 8).buffer);
      for (let i = 0; i < size; i++) items.push(data.getBigUint64(i * 8, true));
      return items;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /**
   * `OSError.__str__` when `errno` and `strerror` are set; null when they are not (then
   * `BaseException.__str__` applies); undefined when they are not builtin values.
   */
  #osErrorText(address: bigint): string | null | undefined {
    try {
      const os = readStruct(this.#mem, address, this.#struct("oserror"));
      const errno = os.ptr("errno");
      const strerror = os.ptr("strerror");
      if (this.isNone(errno) || this.isNone(strerror)) return null;
      const number = this.#values.strText(errno);
      const text = this.#values.strText(strerror);
      if (number === undefined || text === undefined) return undefined;
      const head = `[Errno ${number}] ${text}`;
      const filename = os.ptr("filename");
      if (this.isNone(filename)) return head;
      if (!this.#values.isBuiltinValue(filename)) return undefined;
      const first = `${head}: ${this.#values.repr(filename)}`;
      const filename2 = os.has("filename2") ? os.ptr("filename2") : 0n;
      if (this.isNone(filename2)) return first;
      if (!this.#values.isBuiltinValue(filename2)) return undefined;
      return `${first} -> ${this.#values.repr(filename2)}`;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** Sets `raisedAt` from the innermost entry of the traceback at `traceback`. */
  #locate(out: ExceptionValue, traceback: bigint): void {
    if (this.isNone(traceback)) return;
    try {
      const layout = this.#struct("traceback");
      const seen = new Set<bigint>();
      let tb = readStruct(this.#mem, traceback, layout);
      for (let i = 0; i < MAX_TRACEBACK; i++) {
        seen.add(tb.address);
        const next = tb.ptr("next");
        if (next === 0n || seen.has(next) || this.isNone(next)) break;
        tb = readStruct(this.#mem, next, layout);
      }
      const code = this.#codeOfFrame(tb.ptr("frame"));
      const info = this.#codes.read(code);
      let line = tb.int("lineno");
      if (line < 0) {
        const lasti = tb.int("lasti");
        line = this.#rt.lineTable === "location"
          ? this.#codes.locate(info, { instr: info.codeStart + BigInt(lasti) }).line
          : this.#codes.locate(info, { lasti }).line;
      }
      out.raisedAt = { file: info.file, line, function: info.name };
    } catch (e) {
      rethrowFatal(e);
      // No location: an unreadable traceback or frame.
    }
  }

  /** The code object of the frame object at `frame`. */
  #codeOfFrame(frame: bigint): bigint {
    if (this.#rt.exceptions?.tracebackFrame === "interpreter_frame") {
      const inner = readStruct(this.#mem, frame, this.#struct("frame_object")).ptr("frame");
      const code = readStruct(this.#mem, inner, this.#struct("frame")).ptr("code");
      return code & this.#rt.stackRefMask;
    }
    return readStruct(this.#mem, frame, this.#struct("frame")).ptr("code");
  }

  /** The type of the object at `address`, undefined when it cannot be read. */
  #objectType(address: bigint): TypeInfo | undefined {
    if (address === 0n || (address & 7n) !== 0n) return undefined;
    try {
      const head = readStruct(this.#mem, address, this.#struct("object"));
      if (!hasReferences(head, this.#rt.values?.refcount ?? "ob_refcnt")) return undefined;
      return this.#typeAt(head.ptr("type"));
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** Name, flags and base of the type at `address`; undefined when it is not a type. */
  #typeAt(address: bigint): TypeInfo | undefined {
    if (this.#shown.has(address)) return this.#shown.get(address);
    let info: TypeInfo | undefined;
    try {
      if (address !== 0n && (address & 7n) === 0n) {
        const t = this.#typeNames.of(address);
        if ((t.flags & READY) !== 0n && t.name.length > 0) {
          const prefix = this.#rt.exceptions?.builtinPrefix;
          const shown = prefix !== undefined && t.name.startsWith(prefix) &&
              (t.flags & HEAPTYPE) === 0n
            ? t.name.slice(prefix.length)
            : t.name;
          info = { ...t, name: printable(shown) };
        }
      }
    } catch (e) {
      rethrowFatal(e);
    }
    this.#shown.set(address, info);
    return info;
  }

  /** Whether `type` is the builtin exception `name` or derives from it. */
  #derivesFrom(type: TypeInfo, name: string): boolean {
    let t: typeof type | undefined = type;
    for (let i = 0; i < MAX_BASES && t !== undefined; i++) {
      if (t.name === name && (t.flags & HEAPTYPE) === 0n) return true;
      t = t.base === 0n ? undefined : this.#typeAt(t.base);
    }
    return false;
  }

  /** The flags of `BaseException` and of every class deriving from it. */
  #isException(flags: bigint): boolean {
    return (flags & TypeFlags.BASE_EXC_SUBCLASS) !== 0n;
  }

  #struct(name: StructName): StructLayout {
    const s = this.#rt.layout.structs[name];
    if (s === undefined) throw new TypeError(`Layout has no ${name}`);
    return s;
  }
}
