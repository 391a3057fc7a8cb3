/**
 * Python objects of a target rendered as Python's `repr` would show them,
 * bounded (see {@linkcode VALUE_LIMITS}) and tolerant of corrupt memory.
 *
 * - `None`, `bool`, `int` of any size up to 4300 digits (Python's own limit
 *   for `repr`; bigger ones show their size in bits), `float`, `str`,
 *   `bytes`, `tuple`, `list`, `dict`, `set`, `frozenset`, `NotImplemented`,
 *   `Ellipsis`, and subclasses of these that keep the builtin `__repr__`;
 * - classes (`<class 'mod.Name'>`), functions (`<function qualname at 0x…>`),
 *   code objects and cells as Python shows them;
 * - everything else as `object.__repr__` does: `<mod.Name object at 0x…>`.
 *
 * Limits: containers show their first {@linkcode ValueLimits.items} items then
 * `...(+N more)`; containers nested deeper than `depth` and containers that
 * contain themselves show as `[...]`, `(...)`, `{...}`, `set(...)`; strings
 * show their first `string` characters then `...(+N chars)` after the closing
 * quote (bytes: `...(+N bytes)`); one value stops adding items once it has
 * read `objects` objects or produced about `chars` characters.
 *
 * A value whose header or type cannot be read, or does not look like a
 * Python object, shows as `<invalid object at 0x…>`; one whose type is known
 * but whose contents are implausible (negative or absurd size, unreadable
 * items, no terminating NUL) as `<invalid TYPE object at 0x…>`.
 *
 * @module
 */

import type { MemoryReader } from "../memory/memory_reader.ts";
import type { PythonRuntime } from "./runtime.ts";
import type { StructLayout } from "./layout.ts";
import { MissingFieldError, readStruct } from "./struct_view.ts";
import { hasReferences, InvalidObjectError, readBytes, readCString, TypeNames } from "./objects.ts";
import { decodeLongDigits, decodeLvTag, decodeObSize, LONG_SHIFT } from "./long.ts";
import { unicodeState } from "./unicode.ts";
import { DictReader, valueRules } from "./dicts.ts";
import { codePoints, formatFloat, printable, reprBytes, reprStr } from "./repr_format.ts";
import { rethrowFatal } from "../errors.ts";
import { py2SetKeys, readPy2Int, readPy2Str, readPy2UnicodeUnits } from "./py2_objects.ts";
import { reprPy2Set, reprPy2Str, reprPy2Type, reprPy2Unicode } from "./py2_repr.ts";

/** How much of one value is shown. */
export interface ValueLimits {
  /** Containers nested deeper than this show as `[...]`. */
  depth: number;
  /** Items shown per container. */
  items: number;
  /** Characters shown per `str` (bytes per `bytes`). */
  string: number;
  /** A value stops adding container items once it is about this long. */
  chars: number;
  /** A value stops adding container items once it has read this many objects. */
  objects: number;
}

/** The limits pystack uses (documented in the README). */
export const VALUE_LIMITS: Readonly<ValueLimits> = {
  depth: 5,
  items: 20,
  string: 200,
  chars: 2000,
  objects: 1000,
};

/** Longest `int` shown in full, in decimal digits (`sys.get_int_max_str_digits()`'s default). */
export const MAX_INT_DIGITS = 4300;
/** 30-bit digits that can hold at most {@linkcode MAX_INT_DIGITS} decimal digits, and a bit more. */
const MAX_INT_WORDS = Math.ceil((MAX_INT_DIGITS * Math.log2(10)) / LONG_SHIFT) + 1;

const HEAPTYPE = 1n << 9n;
const READY = 1n << 12n;

type Kind =
  | "none"
  | "bool"
  | "int"
  /** 2.7's `long` (its `int` is a C long). */
  | "long"
  | "float"
  | "str"
  | "bytes"
  | "tuple"
  | "list"
  | "dict"
  | "set"
  | "frozenset"
  | "type"
  | "function"
  | "code"
  | "cell"
  /** 2.7's old-style classes and their instances. */
  | "classobj"
  | "instance"
  | "notimplemented"
  | "ellipsis"
  | "other";

/** Static (non-heap) types by `tp_name`. */
const BUILTINS: Readonly<Record<string, Kind>> = {
  NoneType: "none",
  bool: "bool",
  int: "int",
  float: "float",
  str: "str",
  bytes: "bytes",
  tuple: "tuple",
  list: "list",
  dict: "dict",
  set: "set",
  frozenset: "frozenset",
  type: "type",
  function: "function",
  code: "code",
  cell: "cell",
  NotImplementedType: "notimplemented",
  ellipsis: "ellipsis",
};

/** 2.7's static types: its `str` holds bytes, `unicode` is text, `long` is beside `int`. */
const PY2_BUILTINS: Readonly<Record<string, Kind>> = {
  ...BUILTINS,
  str: "bytes",
  unicode: "str",
  long: "long",
  classobj: "classobj",
  instance: "instance",
};

/** Builtins whose `repr` a subclass keeps unless it defines `__repr__`. */
const INHERITED: ReadonlySet<Kind> = new Set<Kind>([
  "int",
  "long",
  "float",
  "str",
  "bytes",
  "tuple",
  "list",
  "dict",
  "set",
  "frozenset",
  "type",
]);

/** Builtins whose `str()` this renderer gives (their `repr`, or a `str`'s text). */
const STR_KNOWN: ReadonlySet<Kind> = new Set<Kind>([
  "none",
  "bool",
  "int",
  "long",
  "float",
  "str",
  "bytes",
  "tuple",
  "list",
  "dict",
  "set",
  "frozenset",
  "notimplemented",
  "ellipsis",
]);

const CONTAINERS: ReadonlySet<Kind> = new Set<Kind>([
  "tuple",
  "list",
  "dict",
  "set",
  "frozenset",
]);

interface TypeInfo {
  address: bigint;
  /** `tp_name`, made printable. */
  name: string;
  kind: Kind;
  /** The type is the builtin itself (not a subclass). */
  exact: boolean;
  heap: boolean;
  /** `module.qualname` as `repr` shows it, computed on first use. */
  qualified?: string;
}

/** State of rendering one value. */
interface Budget {
  objects: number;
  chars: number;
  /** Containers being rendered (a container inside itself shows as `[...]`). */
  active: Set<bigint>;
}

function hex(address: bigint): string {
  return `0x${address.toString(16)}`;
}

/** `<invalid object at 0x…>`: the text for an object that cannot be read. */
export function invalidObject(address: bigint): string {
  return `<invalid object at ${hex(address)}>`;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** A plausible `tp_name`: 1 to 255 characters, no control characters. */
function plausibleTypeName(name: string): boolean {
  // deno-lint-ignore no-control-regex
  return name.length > 0 && name.length < 256 && !/[\x00-\x1f\x7f\ufffd]/.test(name);
}

/** Renders objects of one target; caches what it learns about types. */
export class ValueRenderer {
  readonly #mem: MemoryReader;
  readonly #rt: PythonRuntime;
  readonly #limits: ValueLimits;
  readonly #types: TypeNames;
  readonly #dicts: DictReader;
  readonly #typeCache = new Map<bigint, TypeInfo | InvalidObjectError>();
  /** 2.7's objects (see `ValueRules.py2`), undefined for 3.x. */
  readonly #py2: { readonly unicodeWidth: 2 | 4 } | undefined;
  readonly #builtins: Readonly<Record<string, Kind>>;

  constructor(mem: MemoryReader, rt: PythonRuntime, limits: ValueLimits = VALUE_LIMITS) {
    this.#mem = mem;
    this.#rt = rt;
    this.#py2 = rt.values?.py2;
    this.#builtins = this.#py2 === undefined ? BUILTINS : PY2_BUILTINS;
    this.#limits = limits;
    this.#types = new TypeNames(mem, rt);
    this.#dicts = new DictReader(mem, rt);
  }

  /** The `repr`-like text of the object at `address`. Never throws for bad memory. */
  repr(address: bigint): string {
    return this.#render(address, 0, { objects: 0, chars: 0, active: new Set() });
  }

  /** The type name of the object at `address` (`tp_name`), or undefined when unreadable. */
  typeName(address: bigint): string | undefined {
    try {
      return this.#typeOfObject(address).name;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** The value of the `int` at `address`; undefined when it is not a readable int. */
  intValue(address: bigint): bigint | undefined {
    try {
      const kind = this.#typeOfObject(address).kind;
      if (kind !== "int" && kind !== "long") return undefined;
      const text = this.#readInt(address, kind);
      return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /**
   * The text of the `str` at `address`, cut to `limit` characters (then ending
   * in `…`), or undefined when it is not a readable str.
   */
  strValue(address: bigint, limit = 256): string | undefined {
    try {
      const kind = this.#typeOfObject(address).kind;
      // 2.7: names are `str` objects of bytes.
      if (this.#py2 !== undefined && kind === "bytes") {
        return readPy2Str(this.#mem, this.#rt, address, limit);
      }
      if (kind !== "str") return undefined;
      const { points, length } = this.#strData(address, limit);
      let text = "";
      for (const cp of points) text += String.fromCodePoint(Math.min(cp, 0x10ffff));
      return length > points.length ? text + "…" : text;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /**
   * Whether `str()` of the object at `address` is known without running code: an object of a
   * builtin type (not a subclass) that this renderer reads (`str`, `int`, `tuple`, …).
   */
  isBuiltinValue(address: bigint): boolean {
    try {
      const t = this.#typeOfObject(address);
      return t.exact && STR_KNOWN.has(t.kind);
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  }

  /**
   * What `str()` gives for the builtin value at `address` (see {@linkcode isBuiltinValue}): a
   * `str` (2.7: `str` or `unicode`) as its text, its first `string` characters then
   * `...(+N chars)`; anything else as {@linkcode repr}. Undefined when it is not such a value.
   */
  strText(address: bigint): string | undefined {
    if (!this.isBuiltinValue(address)) return undefined;
    try {
      const kind = this.#typeOfObject(address).kind;
      const limit = this.#limits.string;
      if (this.#py2 !== undefined && kind === "bytes") {
        const size = readStruct(this.#mem, address, this.#struct("bytes")).int("size");
        const text = new TextDecoder().decode(readBytes(this.#mem, this.#rt, address, limit));
        return size > limit ? `${text}...(+${size - limit} bytes)` : text;
      }
      if (kind !== "str") return this.repr(address);
      const { points, length } = this.#strData(address, limit);
      let text = "";
      for (const cp of points) text += String.fromCodePoint(Math.min(cp, 0x10ffff));
      return length > points.length ? `${text}...(+${length - points.length} chars)` : text;
    } catch (e) {
      rethrowFatal(e);
      return undefined;
    }
  }

  /** Whether the object at `address` is a `cell` (a closure variable's box). */
  isCell(address: bigint): boolean {
    try {
      return this.#typeOfObject(address).kind === "cell";
    } catch (e) {
      rethrowFatal(e);
      return false;
    }
  }

  /** The content of the cell at `address` (`ob_ref`; 0n when empty). */
  cellContents(address: bigint): bigint {
    return readStruct(this.#mem, address, this.#struct("cell")).ptr("ref");
  }

  #struct(
    name:
      | "object"
      | "type"
      | "unicode"
      | "bytes"
      | "tuple"
      | "list"
      | "float"
      | "long"
      | "set"
      | "cell"
      | "function"
      | "code"
      | "heaptype"
      | "compact_unicode"
      | "legacy_unicode"
      | "classobj"
      | "instance",
  ): StructLayout {
    const s = this.#rt.layout.structs[name];
    if (s === undefined) throw new MissingFieldError(name);
    return s;
  }

  #word(address: bigint): bigint {
    return new DataView(this.#mem.read(address, 8).buffer).getBigUint64(0, true);
  }

  #typeOfObject(address: bigint): TypeInfo {
    if (address === 0n || (address & 7n) !== 0n) {
      throw new InvalidObjectError(address, "not an object address");
    }
    const head = readStruct(this.#mem, address, this.#struct("object"));
    if (!hasReferences(head, valueRules(this.#rt).refcount)) {
      throw new InvalidObjectError(address, "reference count");
    }
    return this.#typeInfo(head.ptr("type"));
  }

  #typeInfo(address: bigint): TypeInfo {
    const cached = this.#typeCache.get(address);
    if (cached instanceof InvalidObjectError) throw cached;
    if (cached !== undefined) return cached;
    try {
      const info = this.#readType(address);
      this.#typeCache.set(address, info);
      return info;
    } catch (e) {
      rethrowFatal(e);
      const error = e instanceof InvalidObjectError ? e : new InvalidObjectError(address, "type");
      this.#typeCache.set(address, error);
      throw error;
    }
  }

  #readType(address: bigint): TypeInfo {
    if (address === 0n || (address & 7n) !== 0n) throw new InvalidObjectError(address, "type");
    const layout = this.#struct("type");
    const t = readStruct(this.#mem, address, layout);
    const flags = t.ptr("flags");
    const name = readCString(this.#mem, t.ptr("name"));
    if ((flags & READY) === 0n || !plausibleTypeName(name)) {
      throw new InvalidObjectError(address, "not a type");
    }
    const heap = (flags & HEAPTYPE) !== 0n;
    const builtin = heap ? undefined : this.#builtins[name];
    if (builtin !== undefined) return { address, name, kind: builtin, exact: true, heap };
    // A subclass renders like the first static type among its bases when it keeps its repr.
    let kind: Kind = "other";
    const repr = t.ptr("repr");
    let base = t.ptr("base");
    for (let i = 0; i < 64 && base !== 0n; i++) {
      const b = readStruct(this.#mem, base, layout);
      if ((b.ptr("flags") & HEAPTYPE) === 0n) {
        const baseKind = this.#builtins[readCString(this.#mem, b.ptr("name"))];
        if (baseKind !== undefined && INHERITED.has(baseKind) && b.ptr("repr") === repr) {
          kind = baseKind;
        }
        break;
      }
      base = b.ptr("base");
    }
    return { address, name: printable(name), kind, exact: false, heap };
  }

  /** `module.qualname` of a type, as `object.__repr__` and `type.__repr__` show it. */
  #qualified(t: TypeInfo): string {
    if (t.qualified !== undefined) return t.qualified;
    let qualified = t.name;
    if (t.heap) {
      try {
        const heap = readStruct(this.#mem, t.address, this.#struct("heaptype"));
        const qualname = heap.has("qualname")
          ? this.#shortStr(heap.ptr("qualname")) ?? t.name
          : t.name;
        const dict = readStruct(this.#mem, t.address, this.#struct("type")).ptr("dict");
        const module = dict === 0n
          ? undefined
          : this.#dicts.lookup(dict, "__module__", this.#types);
        const moduleName = module === undefined ? undefined : this.#shortStr(module);
        qualified = moduleName === undefined ||
            moduleName === (this.#py2 === undefined ? "builtins" : "__builtin__")
          ? qualname
          : `${moduleName}.${qualname}`;
      } catch (e) {
        rethrowFatal(e);
      }
    }
    t.qualified = printable(qualified);
    return t.qualified;
  }

  /** A short `str` (a name) as text, or undefined when it is not a readable str. */
  #shortStr(address: bigint): string | undefined {
    return this.strValue(address, 256);
  }

  #render(address: bigint, depth: number, budget: Budget): string {
    budget.objects++;
    let type: TypeInfo;
    try {
      type = this.#typeOfObject(address);
    } catch (e) {
      rethrowFatal(e);
      budget.chars += 30;
      return invalidObject(address);
    }
    let text: string;
    try {
      text = this.#renderKind(address, type, depth, budget);
    } catch (e) {
      rethrowFatal(e);
      text = `<invalid ${type.name} object at ${hex(address)}>`;
    }
    if (!CONTAINERS.has(type.kind)) budget.chars += text.length;
    return text;
  }

  #renderKind(address: bigint, type: TypeInfo, depth: number, budget: Budget): string {
    switch (type.kind) {
      case "none":
        return "None";
      case "notimplemented":
        return "NotImplemented";
      case "ellipsis":
        return "Ellipsis";
      case "bool":
        return this.#readInt(address) === "0" ? "False" : "True";
      case "int":
        return this.#readInt(address);
      case "long": {
        const text = this.#readInt(address, "long");
        return text.startsWith("<") ? text : `${text}L`;
      }
      case "float":
        return formatFloat(readStruct(this.#mem, address, this.#struct("float")).f64("value"));
      case "str":
        return this.#readStr(address);
      case "bytes":
        return this.#readBytes(address);
      case "tuple":
      case "list":
      case "dict":
      case "set":
      case "frozenset":
        return this.#container(address, type, depth, budget);
      case "type": {
        const t = this.#typeInfo(address);
        return this.#py2 === undefined
          ? `<class '${this.#qualified(t)}'>`
          : reprPy2Type(this.#qualified(t), t.heap);
      }
      case "function":
        return this.#function(address);
      case "code":
        return this.#code(address);
      case "cell": {
        const ref = this.cellContents(address);
        if (ref === 0n) return `<cell at ${hex(address)}: empty>`;
        const inner = this.typeName(ref) ?? "invalid";
        return `<cell at ${hex(address)}: ${inner} object at ${hex(ref)}>`;
      }
      case "classobj":
        return `<class ${this.#oldStyleName(address)} at ${hex(address)}>`;
      case "instance": {
        const klass = readStruct(this.#mem, address, this.#struct("instance")).ptr("class");
        return `<${this.#oldStyleName(klass)} instance at ${hex(address)}>`;
      }
      case "other":
        return `<${this.#qualified(type)} object at ${hex(address)}>`;
    }
  }

  /**
   * Decimal text of an int (or bool), or `<int of N bits at 0x…>` beyond 4300 digits
   * (`<long …>` for a 2.7 `long`).
   */
  #readInt(address: bigint, kind: "int" | "long" = "int"): string {
    // 2.7: `int` (and `bool`) hold a C long; only `long` has digits.
    if (this.#py2 !== undefined && kind === "int") {
      return readPy2Int(this.#mem, this.#rt, address).toString();
    }
    const l = readStruct(this.#mem, address, this.#struct("long"));
    const header = this.#rt.longRule === "lv_tag"
      ? decodeLvTag(l.ptr("lv_tag"))
      : decodeObSize(l.ptr("size"));
    if (header.ndigits === 0) return "0";
    const digits = l.addressOf("digit");
    const top = new DataView(this.#mem.read(digits + BigInt((header.ndigits - 1) * 4), 4).buffer)
      .getUint32(0, true);
    if (top === 0 || top >= 2 ** LONG_SHIFT) {
      throw new InvalidObjectError(address, "int digits");
    }
    const bits = (header.ndigits - 1) * LONG_SHIFT + (32 - Math.clz32(top));
    const tooBig = `<${kind} of ${bits} bits at ${hex(address)}>`;
    if (header.ndigits > MAX_INT_WORDS) return tooBig;
    const bytes = this.#mem.read(digits, header.ndigits * 4);
    const text = decodeLongDigits(bytes, header.ndigits, header.negative).toString();
    return text.length - (header.negative ? 1 : 0) > MAX_INT_DIGITS ? tooBig : text;
  }

  #readStr(address: bigint): string {
    const { points, length } = this.#strData(address, this.#limits.string);
    const text = this.#py2 === undefined
      ? reprStr(points)
      : reprPy2Unicode(points, this.#py2.unicodeWidth === 2);
    return points.length < length ? `${text}...(+${length - points.length} chars)` : text;
  }

  /** The first `limit` code points of a str and its length; throws when it is implausible. */
  #strData(address: bigint, limit: number): { points: Uint32Array; length: number } {
    if (this.#py2 !== undefined) {
      const { units, length } = readPy2UnicodeUnits(
        this.#mem,
        this.#rt,
        address,
        this.#py2.unicodeWidth,
        limit,
      );
      return { points: units, length };
    }
    const layout = this.#struct("unicode");
    const head = readStruct(this.#mem, address, layout);
    const length = head.int("length");
    const st = unicodeState(head.int("state"), this.#rt.unicodeState);
    const kind = st.kind;
    if (length < 0 || (kind !== 1 && kind !== 2 && kind !== 4) || (st.ascii && kind !== 1)) {
      throw new InvalidObjectError(address, "str header");
    }
    let data: bigint;
    if (st.compact) {
      data = address + BigInt(st.ascii ? layout.size : this.#struct("compact_unicode").size);
    } else {
      data = readStruct(this.#mem, address, this.#struct("legacy_unicode")).ptr("data");
    }
    // Every str ends with a NUL character: an absurd length finds none (or unmapped memory).
    const end = this.#mem.read(data + BigInt(length * kind), kind);
    if (end.some((b) => b !== 0)) throw new InvalidObjectError(address, "str without its NUL");
    const shown = Math.min(length, limit);
    return { points: codePoints(this.#mem.read(data, shown * kind), kind), length };
  }

  #readBytes(address: bigint): string {
    const head = readStruct(this.#mem, address, this.#struct("bytes"));
    const size = head.int("size");
    if (size < 0) throw new InvalidObjectError(address, "bytes size");
    const data = head.addressOf("sval");
    if (this.#mem.read(data + BigInt(size), 1)[0] !== 0) {
      throw new InvalidObjectError(address, "bytes without its NUL");
    }
    const shown = Math.min(size, this.#limits.string);
    const bytes = shown === 0 ? new Uint8Array(0) : this.#mem.read(data, shown);
    const text = this.#py2 === undefined ? reprBytes(bytes) : reprPy2Str(bytes);
    return shown < size ? `${text}...(+${size - shown} bytes)` : text;
  }

  /** `MODULE.NAME` of a 2.7 old-style class (`?` for a module that is not a str). */
  #oldStyleName(address: bigint): string {
    const c = readStruct(this.#mem, address, this.#struct("classobj"));
    const name = this.#shortStr(c.ptr("name")) ?? "?";
    const dict = c.ptr("dict");
    const module = dict === 0n ? undefined : this.#dicts.lookup(dict, "__module__", this.#types);
    const moduleName = module === undefined ? undefined : this.#shortStr(module);
    return printable(`${moduleName ?? "?"}.${name}`);
  }

  #function(address: bigint): string {
    const f = readStruct(this.#mem, address, this.#struct("function"));
    const name = (f.has("qualname") ? this.#shortStr(f.ptr("qualname")) : undefined) ??
      this.#shortStr(f.ptr("name")) ?? "?";
    return `<function ${printable(name)} at ${hex(address)}>`;
  }

  #code(address: bigint): string {
    const co = readStruct(this.#mem, address, this.#struct("code"));
    const name = this.#shortStr(co.ptr("name")) ?? "?";
    const file = this.#shortStr(co.ptr("filename")) ?? "?";
    return `<code object ${printable(name)} at ${hex(address)}, file "${printable(file)}", ` +
      `line ${co.int("firstlineno")}>`;
  }

  #container(address: bigint, type: TypeInfo, depth: number, budget: Budget): string {
    const [open, close] = this.#brackets(type);
    if (depth >= this.#limits.depth || budget.active.has(address)) {
      // As Python shows a container inside itself: [...], (...), {...}, set(...).
      return type.kind === "set" || type.kind === "frozenset"
        ? `${type.name}(...)`
        : `${open}...${close}`;
    }
    budget.active.add(address);
    try {
      switch (type.kind) {
        case "tuple": {
          const items = this.#sequence(address, "tuple", depth, budget);
          return items.length === 1 && !items[0]!.startsWith("...(")
            ? `(${items[0]},)`
            : `(${items.join(", ")})`;
        }
        case "list":
          return `[${this.#sequence(address, "list", depth, budget).join(", ")}]`;
        case "dict":
          return `{${this.#dict(address, depth, budget).join(", ")}}`;
        default: {
          const items = this.#set(address, depth, budget);
          if (this.#py2 !== undefined) return reprPy2Set(type.name, items);
          if (items.length === 0) {
            return `${type.exact && type.kind === "set" ? "set" : type.name}()`;
          }
          return `${open}${items.join(", ")}${close}`;
        }
      }
    } finally {
      budget.active.delete(address);
    }
  }

  #brackets(type: TypeInfo): [string, string] {
    switch (type.kind) {
      case "tuple":
        return ["(", ")"];
      case "list":
        return ["[", "]"];
      case "dict":
        return ["{", "}"];
      default:
        return type.exact && type.kind === "set" ? ["{", "}"] : [`${type.name}({`, "})"];
    }
  }

  /** Whether a container may add another item. */
  #room(shown: number, budget: Budget): boolean {
    return shown < this.#limits.items && budget.objects < this.#limits.objects &&
      budget.chars < this.#limits.chars;
  }

  #more(parts: string[], total: number): string[] {
    if (parts.length < total) parts.push(`...(+${total - parts.length} more)`);
    return parts;
  }

  #sequence(address: bigint, kind: "tuple" | "list", depth: number, budget: Budget): string[] {
    const s = readStruct(this.#mem, address, this.#struct(kind));
    const size = s.int("size");
    let items: bigint;
    if (kind === "tuple") {
      items = s.addressOf("item");
    } else {
      items = s.ptr("item");
      if (size > s.int("allocated") || (size > 0 && items === 0n)) {
        throw new InvalidObjectError(address, "list size");
      }
    }
    if (size < 0) throw new InvalidObjectError(address, `size ${size}`);
    if (size === 0) return [];
    this.#mem.read(items + BigInt((size - 1) * 8), 8); // the last item must be there
    const n = Math.min(size, this.#limits.items);
    const view = new DataView(this.#mem.read(items, n * 8).buffer);
    const parts: string[] = [];
    for (let i = 0; i < n && this.#room(parts.length, budget); i++) {
      parts.push(this.#render(view.getBigUint64(i * 8, true), depth + 1, budget));
    }
    return this.#more(parts, size);
  }

  #dict(address: bigint, depth: number, budget: Budget): string[] {
    const { items, length } = this.#dicts.items(address, this.#limits.items);
    const parts: string[] = [];
    for (const [key, value] of items) {
      if (!this.#room(parts.length, budget)) break;
      const k = this.#render(key, depth + 1, budget);
      parts.push(`${k}: ${this.#render(value, depth + 1, budget)}`);
    }
    return this.#more(parts, length);
  }

  #set(address: bigint, depth: number, budget: Budget): string[] {
    if (this.#py2 !== undefined) {
      const { keys, length } = py2SetKeys(this.#mem, this.#rt, address, this.#limits.items);
      return this.#setItems(keys, length, depth, budget);
    }
    const s = readStruct(this.#mem, address, this.#struct("set"));
    const used = s.int("used");
    const fill = s.int("fill");
    const slots = s.int("mask") + 1;
    const table = s.ptr("table");
    if (used < 0 || fill < used || !isPowerOfTwo(slots) || fill > slots || table === 0n) {
      throw new InvalidObjectError(address, "set header");
    }
    if (used === 0) return [];
    this.#mem.read(table + BigInt((slots - 1) * 16), 16); // the last slot must be there
    const keys: bigint[] = [];
    const chunk = 256;
    for (let first = 0; first < slots && keys.length < this.#limits.items; first += chunk) {
      const n = Math.min(chunk, slots - first);
      const view = new DataView(this.#mem.read(table + BigInt(first * 16), n * 16).buffer);
      for (let i = 0; i < n && keys.length < this.#limits.items; i++) {
        const key = view.getBigUint64(i * 16, true);
        const hash = view.getBigInt64(i * 16 + 8, true);
        // Empty slots have no key; deleted ones hold the dummy key with hash -1.
        if (key !== 0n && hash !== -1n) keys.push(key);
      }
    }
    return this.#setItems(keys, used, depth, budget);
  }

  #setItems(keys: bigint[], length: number, depth: number, budget: Budget): string[] {
    const parts: string[] = [];
    for (const key of keys) {
      if (!this.#room(parts.length, budget)) break;
      parts.push(this.#render(key, depth + 1, budget));
    }
    return this.#more(parts, length);
  }
}
