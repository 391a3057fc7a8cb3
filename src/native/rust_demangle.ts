/**
 * Rust symbol demangling, both schemes, in the form rustc-demangle prints
 * with `{:#}` (no hash, no crate disambiguators, no const types):
 *
 * - legacy: `_ZN` + length-prefixed path elements + `17h<16 hex digits>E`,
 *   with `$LT$`-style escapes and `..` for `::`;
 * - v0 (RFC 2603): `_R` + a path grammar with generics, impls, closures,
 *   types, consts, back-references and Punycode identifiers.
 *
 * @module
 */

/** Most nesting levels of a v0 symbol (rustc-demangle uses 500). */
const MAX_DEPTH = 500;
/** Longest output produced; longer symbols are left as they are. */
const MAX_OUTPUT = 100_000;

/**
 * The demangled form of a Rust symbol, or undefined when `symbol` is not a
 * Rust symbol (or is malformed). A suffix such as `.llvm.1234` is dropped,
 * other suffixes (`.cold`, `.constprop.0`) are kept.
 *
 * @example
 * ```ts
 * demangleRust("_ZN3std2rt10lang_start17h0123456789abcdefE"); // "std::rt::lang_start"
 * demangleRust("_RNvCs1234_7mycrate3foo"); // "mycrate::foo"
 * ```
 */
export function demangleRust(symbol: string): string | undefined {
  if (symbol.startsWith("_R")) return demangleV0(symbol.slice(2));
  if (isLegacyRust(symbol)) return demangleLegacy(symbol);
  return undefined;
}

/** Whether `symbol` is a legacy Rust symbol: `_ZN…17h<hash>E`, optionally with a `.suffix`. */
export function isLegacyRust(symbol: string): boolean {
  const parsed = parseLegacyElements(symbol);
  return parsed !== undefined && /^h[0-9a-f]{16}$/.test(parsed.elements.at(-1) ?? "") &&
    SUFFIX.test(parsed.suffix);
}

/** What may follow a symbol: `.llvm.1234`, `.cold`, `.constprop.0`, `@@VERSION`. */
const SUFFIX = /^(?:[.@][\w.@$]*)?$/;

/** The path elements of a legacy symbol (hash included), and what follows the closing `E`. */
function parseLegacyElements(symbol: string): { elements: string[]; suffix: string } | undefined {
  if (!symbol.startsWith("_ZN")) return undefined;
  const elements: string[] = [];
  let i = 3;
  for (;;) {
    if (symbol[i] === "E") break;
    let len = 0;
    const start = i;
    while (i < symbol.length && symbol[i]! >= "0" && symbol[i]! <= "9") {
      len = len * 10 + Number(symbol[i]);
      i++;
      if (len > symbol.length) return undefined;
    }
    if (i === start || len === 0 || i + len > symbol.length) return undefined;
    elements.push(symbol.slice(i, i + len));
    i += len;
  }
  for (const e of elements) {
    for (let k = 0; k < e.length; k++) if (e.charCodeAt(k) > 0x7f) return undefined;
  }
  return { elements, suffix: symbol.slice(i + 1) };
}

const LEGACY_ESCAPES: Record<string, string> = {
  SP: "@",
  BP: "*",
  RF: "&",
  LT: "<",
  GT: ">",
  LP: "(",
  RP: ")",
  C: ",",
};

function demangleLegacy(symbol: string): string | undefined {
  const parsed = parseLegacyElements(symbol);
  if (parsed === undefined) return undefined;
  const parts = parsed.elements.slice(0, -1).map(unescapeLegacy);
  if (parts.some((p) => p === undefined)) return undefined;
  return parts.join("::") + keptSuffix(parsed.suffix);
}

function unescapeLegacy(element: string): string | undefined {
  let rest = element.startsWith("_$") ? element.slice(1) : element;
  let out = "";
  while (rest.length > 0) {
    if (rest.startsWith("..")) {
      out += "::";
      rest = rest.slice(2);
    } else if (rest[0] === "$") {
      const end = rest.indexOf("$", 1);
      if (end < 0) return out + rest;
      const code = rest.slice(1, end);
      const known = LEGACY_ESCAPES[code];
      if (known !== undefined) {
        out += known;
      } else if (/^u[0-9a-f]{1,6}$/.test(code)) {
        const point = parseInt(code.slice(1), 16);
        if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return out + rest;
        out += String.fromCodePoint(point);
      } else {
        return out + rest;
      }
      rest = rest.slice(end + 1);
    } else {
      const next = rest.search(/[$.]/);
      const stop = next < 0 ? rest.length : next === 0 ? 1 : next;
      out += rest.slice(0, stop);
      rest = rest.slice(stop);
    }
  }
  return out;
}

/** Suffixes kept after the name: everything but LLVM's ThinLTO `.llvm.<hash>`. */
function keptSuffix(suffix: string): string {
  const llvm = suffix.indexOf(".llvm.");
  return llvm >= 0 ? suffix.slice(0, llvm) : suffix;
}

// ---- v0 ------------------------------------------------------------------------------------

class Invalid extends Error {}

const BASIC_TYPES: Record<string, string> = {
  a: "i8",
  b: "bool",
  c: "char",
  d: "f64",
  e: "str",
  f: "f32",
  h: "u8",
  i: "isize",
  j: "usize",
  l: "i32",
  m: "u32",
  n: "i128",
  o: "u128",
  p: "_",
  s: "i16",
  t: "u16",
  u: "()",
  v: "...",
  x: "i64",
  y: "u64",
  z: "!",
};

interface Ident {
  ascii: string;
  punycode: string;
}

function demangleV0(inner: string): string | undefined {
  if (!/^[A-Z]/.test(inner)) {
    // An optional encoding version (decimal) may precede the path.
    const version = /^\d+/.exec(inner);
    if (version === null) return undefined;
    inner = inner.slice(version[0].length);
    if (!/^[A-Z]/.test(inner)) return undefined;
  }
  for (let i = 0; i < inner.length; i++) if (inner.charCodeAt(i) > 0x7f) return undefined;
  try {
    const printer = new V0Printer(inner);
    printer.path(true);
    let end = printer.pos;
    // An instantiating crate may follow (paths start with an upper-case letter); not printed.
    if (/^[A-Z]/.test(inner.slice(end))) {
      const skip = new V0Printer(inner, end);
      skip.path(false);
      end = skip.pos;
    }
    const suffix = inner.slice(end);
    if (!SUFFIX.test(suffix)) return undefined;
    return printer.out + keptSuffix(suffix);
  } catch (e) {
    if (e instanceof Invalid) return undefined;
    throw e;
  }
}

/** A recursive-descent printer over the mangled text (positions are relative to after `_R`). */
class V0Printer {
  readonly sym: string;
  pos: number;
  out = "";
  #depth: number;
  #boundLifetimes = 0;
  constructor(sym: string, pos = 0, depth = 0, boundLifetimes = 0) {
    this.sym = sym;
    this.pos = pos;
    this.#depth = depth;
    this.#boundLifetimes = boundLifetimes;
  }

  #write(s: string): void {
    this.out += s;
    if (this.out.length > MAX_OUTPUT) throw new Invalid();
  }

  #peek(): string | undefined {
    return this.sym[this.pos];
  }

  #eat(c: string): boolean {
    if (this.sym[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  #next(): string {
    const c = this.sym[this.pos];
    if (c === undefined) throw new Invalid();
    this.pos++;
    return c;
  }

  #enter(): void {
    if (++this.#depth > MAX_DEPTH) throw new Invalid();
  }

  #leave(): void {
    this.#depth--;
  }

  /** `{0-9a-zA-Z} "_"`: "_" is 0, otherwise the base-62 value plus 1. */
  #base62Big(): bigint {
    if (this.#eat("_")) return 0n;
    let x = 0n;
    while (!this.#eat("_")) {
      const c = this.#next();
      let d: number;
      if (c >= "0" && c <= "9") d = c.charCodeAt(0) - 48;
      else if (c >= "a" && c <= "z") d = c.charCodeAt(0) - 97 + 10;
      else if (c >= "A" && c <= "Z") d = c.charCodeAt(0) - 65 + 36;
      else throw new Invalid();
      x = x * 62n + BigInt(d);
      if (x > 0xffffffffffffffffn) throw new Invalid();
    }
    return x + 1n;
  }

  /** A base-62 number used as a position or count (must be a safe integer). */
  #base62(): number {
    const x = this.#base62Big();
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new Invalid();
    return Number(x);
  }

  #optBase62(tag: string): number {
    return this.#eat(tag) ? this.#base62() + 1 : 0;
  }

  /** `s<base62>`: crate hashes are large (64 bits). */
  #disambiguator(): bigint {
    return this.#eat("s") ? this.#base62Big() + 1n : 0n;
  }

  #ident(): Ident {
    const punycode = this.#eat("u");
    // A length starting with 0 is 0 (an empty identifier).
    const digits = /^(?:0|[1-9]\d*)/.exec(this.sym.slice(this.pos));
    if (digits === null) throw new Invalid();
    const len = Number(digits[0]);
    if (!Number.isSafeInteger(len)) throw new Invalid();
    this.pos += digits[0].length;
    this.#eat("_");
    if (this.pos + len > this.sym.length) throw new Invalid();
    const text = this.sym.slice(this.pos, this.pos + len);
    this.pos += len;
    if (!punycode) return { ascii: text, punycode: "" };
    const sep = text.lastIndexOf("_");
    const ident = sep < 0
      ? { ascii: "", punycode: text }
      : { ascii: text.slice(0, sep), punycode: text.slice(sep + 1) };
    if (ident.punycode === "") throw new Invalid();
    return ident;
  }

  #printIdent(ident: Ident): void {
    if (ident.punycode === "") {
      this.#write(ident.ascii);
      return;
    }
    const decoded = decodePunycode(ident.ascii, ident.punycode);
    this.#write(
      decoded ??
        `punycode{${ident.ascii === "" ? "" : `${ident.ascii}-`}${ident.punycode}}`,
    );
  }

  /** A printer continuing at the back-reference `B<base62>` (the `B` already eaten). */
  #backref(): V0Printer {
    const start = this.pos - 1;
    const target = this.#base62();
    if (target >= start) throw new Invalid();
    const p = new V0Printer(this.sym, target, this.#depth + 1, this.#boundLifetimes);
    if (this.#depth + 1 > MAX_DEPTH) throw new Invalid();
    return p;
  }

  #append(p: V0Printer): void {
    this.#write(p.out);
  }

  path(inValue: boolean): void {
    this.#enter();
    const tag = this.#next();
    switch (tag) {
      case "C": {
        this.#disambiguator();
        this.#printIdent(this.#ident());
        break;
      }
      case "N": {
        const ns = this.#next();
        if (!/[a-zA-Z]/.test(ns)) throw new Invalid();
        this.path(inValue);
        const dis = this.#disambiguator();
        const name = this.#ident();
        const named = name.ascii !== "" || name.punycode !== "";
        if (ns >= "A" && ns <= "Z") {
          this.#write("::{");
          this.#write(ns === "C" ? "closure" : ns === "S" ? "shim" : ns);
          if (named) {
            this.#write(":");
            this.#printIdent(name);
          }
          this.#write(`#${dis}}`);
        } else if (named) {
          this.#write("::");
          this.#printIdent(name);
        }
        break;
      }
      case "M":
      case "X":
      case "Y": {
        if (tag !== "Y") {
          // The impl's own path (where it is written) is not printed.
          this.#disambiguator();
          const skip = new V0Printer(this.sym, this.pos, this.#depth, this.#boundLifetimes);
          skip.path(false);
          this.pos = skip.pos;
        }
        this.#write("<");
        this.type();
        if (tag !== "M") {
          this.#write(" as ");
          this.path(false);
        }
        this.#write(">");
        break;
      }
      case "I": {
        this.path(inValue);
        if (inValue) this.#write("::");
        this.#write("<");
        this.#list(() => this.#genericArg(), ", ");
        this.#write(">");
        break;
      }
      case "B": {
        const p = this.#backref();
        p.path(inValue);
        this.#append(p);
        break;
      }
      default:
        throw new Invalid();
    }
    this.#leave();
  }

  #list(item: () => void, separator: string): number {
    let n = 0;
    while (!this.#eat("E")) {
      if (n > 0) this.#write(separator);
      item();
      n++;
    }
    return n;
  }

  #genericArg(): void {
    if (this.#eat("L")) this.#lifetime(this.#base62());
    else if (this.#eat("K")) this.#const();
    else this.type();
  }

  #lifetime(index: number): void {
    this.#write("'");
    if (index === 0) {
      this.#write("_");
      return;
    }
    const depth = this.#boundLifetimes - index;
    if (depth < 0) throw new Invalid();
    this.#write(depth < 26 ? String.fromCharCode(97 + depth) : `_${depth}`);
  }

  #binder(body: () => void): void {
    const bound = this.#optBase62("G");
    if (bound > 0) {
      this.#write("for<");
      for (let i = 0; i < bound; i++) {
        if (i > 0) this.#write(", ");
        this.#boundLifetimes++;
        this.#lifetime(1);
      }
      this.#write("> ");
    }
    body();
    this.#boundLifetimes -= bound;
  }

  type(): void {
    const tag = this.#next();
    const basic = BASIC_TYPES[tag];
    if (basic !== undefined) {
      this.#write(basic);
      return;
    }
    this.#enter();
    switch (tag) {
      case "R":
      case "Q": {
        this.#write("&");
        if (this.#eat("L")) {
          const lt = this.#base62();
          if (lt !== 0) {
            this.#lifetime(lt);
            this.#write(" ");
          }
        }
        if (tag === "Q") this.#write("mut ");
        this.type();
        break;
      }
      case "P":
      case "O":
        this.#write(tag === "P" ? "*const " : "*mut ");
        this.type();
        break;
      case "A":
      case "S":
        this.#write("[");
        this.type();
        if (tag === "A") {
          this.#write("; ");
          this.#const();
        }
        this.#write("]");
        break;
      case "T": {
        this.#write("(");
        const n = this.#list(() => this.type(), ", ");
        if (n === 1) this.#write(",");
        this.#write(")");
        break;
      }
      case "F":
        this.#binder(() => this.#fnSig());
        break;
      case "D": {
        this.#write("dyn ");
        this.#binder(() => {
          this.#list(() => this.#dynTrait(), " + ");
        });
        if (!this.#eat("L")) throw new Invalid();
        const lt = this.#base62();
        if (lt !== 0) {
          this.#write(" + ");
          this.#lifetime(lt);
        }
        break;
      }
      case "B": {
        const p = this.#backref();
        p.type();
        this.#append(p);
        break;
      }
      default:
        this.pos--;
        this.path(false);
    }
    this.#leave();
  }

  #fnSig(): void {
    const unsafe = this.#eat("U");
    let abi: string | undefined;
    if (this.#eat("K")) {
      if (this.#eat("C")) abi = "C";
      else {
        const id = this.#ident();
        if (id.ascii === "" || id.punycode !== "") throw new Invalid();
        abi = id.ascii.replaceAll("_", "-");
      }
    }
    if (unsafe) this.#write("unsafe ");
    if (abi !== undefined) this.#write(`extern "${abi}" `);
    this.#write("fn(");
    this.#list(() => this.type(), ", ");
    this.#write(")");
    if (!this.#eat("u")) {
      this.#write(" -> ");
      this.type();
    }
  }

  /** A trait of a `dyn` type, with its associated-type bindings inside its `<…>`. */
  #dynTrait(): void {
    let open = this.#pathMaybeOpenGenerics();
    while (this.#eat("p")) {
      this.#write(open ? ", " : "<");
      open = true;
      this.#printIdent(this.#ident());
      this.#write(" = ");
      this.type();
    }
    if (open) this.#write(">");
  }

  #pathMaybeOpenGenerics(): boolean {
    if (this.#eat("B")) {
      const p = this.#backref();
      const open = p.#pathMaybeOpenGenerics();
      this.#append(p);
      return open;
    }
    if (this.#eat("I")) {
      this.path(false);
      this.#write("<");
      this.#list(() => this.#genericArg(), ", ");
      return true;
    }
    this.path(false);
    return false;
  }

  #const(): void {
    if (this.#eat("B")) {
      const p = this.#backref();
      p.#const();
      this.#append(p);
      return;
    }
    const tag = this.#next();
    if (tag === "p") {
      this.#write("_");
      return;
    }
    if ("htmyoj".includes(tag)) this.#write(this.#uintText());
    else if ("aslxni".includes(tag)) {
      const negative = this.#eat("n");
      this.#write((negative ? "-" : "") + this.#uintText());
    } else if (tag === "b") {
      const hex = this.#hex();
      if (hex === "0") this.#write("false");
      else if (hex === "1") this.#write("true");
      else throw new Invalid();
    } else if (tag === "c") {
      const hex = this.#hex();
      if (hex.length > 8) throw new Invalid();
      const point = parseInt(hex, 16);
      if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) throw new Invalid();
      this.#write(charLiteral(point));
    } else {
      throw new Invalid();
    }
  }

  #hex(): string {
    const start = this.pos;
    for (;;) {
      const c = this.#next();
      if (c === "_") break;
      if (!/[0-9a-f]/.test(c)) throw new Invalid();
    }
    return this.sym.slice(start, this.pos - 1);
  }

  #uintText(): string {
    const hex = this.#hex();
    if (hex.length > 16) return `0x${hex}`;
    return hex === "" ? "0" : BigInt(`0x${hex}`).toString();
  }
}

/** A char constant as Rust's `{:?}` prints it: `'v'`, `'\n'`, `'∂'`. */
function charLiteral(point: number): string {
  const escapes: Record<number, string> = {
    0x09: "\\t",
    0x0a: "\\n",
    0x0d: "\\r",
    0x27: "\\'",
    0x5c: "\\\\",
    0x00: "\\0",
  };
  const escaped = escapes[point];
  if (escaped !== undefined) return `'${escaped}'`;
  if (point < 0x20 || point === 0x7f) return `'\\u{${point.toString(16)}}'`;
  return `'${String.fromCodePoint(point)}'`;
}

/** RFC 3492 Punycode with `ascii` as the basic code points; undefined when malformed. */
export function decodePunycode(ascii: string, encoded: string): string | undefined {
  const BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38;
  const out = [...ascii].map((c) => c.codePointAt(0)!);
  let damp = 700;
  let bias = 72;
  let i = 0;
  let n = 0x80;
  let pos = 0;
  if (encoded === "") return undefined;
  while (pos < encoded.length) {
    let delta = 0;
    let w = 1;
    for (let k = BASE;; k += BASE) {
      const c = encoded.charCodeAt(pos++);
      let d: number;
      if (c >= 97 && c <= 122) d = c - 97;
      else if (c >= 48 && c <= 57) d = c - 48 + 26;
      else return undefined;
      delta += d * w;
      const t = Math.min(Math.max(k - bias, TMIN), TMAX);
      if (!Number.isSafeInteger(delta)) return undefined;
      if (d < t) break;
      w *= BASE - t;
      if (pos >= encoded.length) return undefined;
    }
    const len = out.length + 1;
    i += delta;
    n += Math.floor(i / len);
    i %= len;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
    out.splice(i, 0, n);
    i++;
    // Bias adaptation.
    delta = Math.floor(delta / damp);
    damp = 2;
    delta += Math.floor(delta / len);
    let k = 0;
    while (delta > ((BASE - TMIN) * TMAX) / 2) {
      delta = Math.floor(delta / (BASE - TMIN));
      k += BASE;
    }
    bias = k + Math.floor(((BASE - TMIN + 1) * delta) / (delta + SKEW));
  }
  return String.fromCodePoint(...out);
}
