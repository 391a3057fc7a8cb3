import assert from "node:assert/strict";
import { narrowSymbolTable } from "./symbol_subset.ts";

const STT_FUNC = 2;
const STT_SECTION = 3;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const TEXT = 1; // the section index symbols are defined in

interface TestSymbol {
  name: string;
  value: number;
  size: number;
  bind?: number;
  type?: number;
  shndx?: number;
}

/**
 * A 64-bit little-endian ET_DYN ELF image holding a `.symtab` (locals first,
 * then globals), its `.strtab` and `.shstrtab`.
 */
function elfWith(symbols: readonly TestSymbol[]): Uint8Array {
  const locals = symbols.filter((s) => (s.bind ?? STB_GLOBAL) === STB_LOCAL);
  const globals = symbols.filter((s) => (s.bind ?? STB_GLOBAL) !== STB_LOCAL);
  const ordered = [...locals, ...globals];
  let strtab = "\0";
  const nameAt = ordered.map((s) => {
    const at = strtab.length;
    strtab += `${s.name}\0`;
    return at;
  });
  const shstrtab = "\0.symtab\0.strtab\0.shstrtab\0";
  const symtabSize = (ordered.length + 1) * 24;
  const symtabAt = 64;
  const strtabAt = symtabAt + symtabSize;
  const shstrAt = strtabAt + strtab.length;
  const shoff = Math.ceil((shstrAt + shstrtab.length) / 8) * 8;
  const bytes = new Uint8Array(shoff + 4 * 64);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 3, true); // ET_DYN
  v.setUint16(18, 62, true); // EM_X86_64
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, 4, true);
  v.setUint16(62, 3, true);
  ordered.forEach((s, i) => {
    const at = symtabAt + (i + 1) * 24;
    v.setUint32(at, nameAt[i]!, true);
    bytes[at + 4] = ((s.bind ?? STB_GLOBAL) << 4) | (s.type ?? STT_FUNC);
    v.setUint16(at + 6, s.shndx ?? TEXT, true);
    v.setBigUint64(at + 8, BigInt(s.value), true);
    v.setBigUint64(at + 16, BigInt(s.size), true);
  });
  bytes.set(new TextEncoder().encode(strtab), strtabAt);
  bytes.set(new TextEncoder().encode(shstrtab), shstrAt);
  const section = (i: number, f: { name: number; type: number; offset: number; size: number }) => {
    const at = shoff + i * 64;
    v.setUint32(at, f.name, true);
    v.setUint32(at + 4, f.type, true);
    v.setBigUint64(at + 24, BigInt(f.offset), true);
    v.setBigUint64(at + 32, BigInt(f.size), true);
    return at;
  };
  const sym = section(1, { name: 1, type: 2, offset: symtabAt, size: symtabSize });
  v.setUint32(sym + 40, 2, true); // sh_link: .strtab
  v.setUint32(sym + 44, locals.length + 1, true); // sh_info: first global
  v.setBigUint64(sym + 56, 24n, true);
  section(2, { name: 9, type: 3, offset: strtabAt, size: strtab.length });
  section(3, { name: 17, type: 3, offset: shstrAt, size: shstrtab.length });
  return bytes;
}

/** The names left in the image's `.symtab`, in order, and its `sh_info`. */
function tableOf(image: Uint8Array): { names: string[]; firstGlobal: number } {
  const v = new DataView(image.buffer, image.byteOffset);
  const shoff = Number(v.getBigUint64(40, true));
  let sym = shoff;
  while (v.getUint32(sym + 4, true) !== 2) sym += 64; // SHT_SYMTAB
  const offset = Number(v.getBigUint64(sym + 24, true));
  const size = Number(v.getBigUint64(sym + 32, true));
  const strAt = Number(v.getBigUint64(shoff + v.getUint32(sym + 40, true) * 64 + 24, true));
  const names: string[] = [];
  for (let i = 1; i < size / 24; i++) {
    let at = strAt + v.getUint32(offset + i * 24, true);
    let name = "";
    while (image[at] !== 0) name += String.fromCharCode(image[at++]!);
    names.push(name);
  }
  return { names, firstGlobal: v.getUint32(sym + 44, true) };
}

Deno.test("narrowSymbolTable() keeps only the sized symbols that contain the addresses", () => {
  const image = elfWith([
    { name: "local_a", value: 0x1000, size: 0x100, bind: STB_LOCAL },
    { name: "local_b", value: 0x1100, size: 0x100, bind: STB_LOCAL },
    { name: "global_c", value: 0x1200, size: 0x100 },
    { name: "weak_c", value: 0x1200, size: 0x80, bind: STB_WEAK },
    { name: "global_d", value: 0x1300, size: 0x100 },
    { name: "label_e", value: 0x1380, size: 0 },
  ]);
  assert.deepEqual(narrowSymbolTable(image, [0x1150n, 0x1210n]), { before: 7, after: 4 });
  assert.deepEqual(tableOf(image), {
    names: ["local_b", "global_c", "weak_c"],
    firstGlobal: 2,
  });
});

Deno.test("narrowSymbolTable() keeps every eligible symbol below an address no symbol contains", () => {
  const image = elfWith([
    { name: "local_a", value: 0x1000, size: 0x100, bind: STB_LOCAL },
    { name: "section", value: 0x1000, size: 0, bind: STB_LOCAL, type: STT_SECTION },
    { name: "global_b", value: 0x1100, size: 0x100 },
    { name: "label_c", value: 0x1300, size: 0 },
    { name: "global_d", value: 0x2000, size: 0x100 },
    { name: "undefined", value: 0, size: 0, shndx: 0 },
  ]);
  // 0x1310 is in no sized symbol: label_c may name it, if it lies above every symbol below.
  assert.ok(narrowSymbolTable(image, [0x1310n, 0x2010n]) !== undefined);
  assert.deepEqual(tableOf(image), {
    names: ["local_a", "global_b", "label_c", "global_d"],
    firstGlobal: 2,
  });
});

Deno.test("narrowSymbolTable() keeps everything below an address a global label sits at", () => {
  const image = elfWith([
    { name: "local_a", value: 0x1000, size: 0x100, bind: STB_LOCAL },
    { name: "local_b", value: 0x1100, size: 0x100, bind: STB_LOCAL },
    { name: "label_c", value: 0x1180, size: 0 },
    { name: "global_d", value: 0x3000, size: 0x100 },
  ]);
  // libdwfl does not look at the locals for 0x1180 (label_c is there): local_b must not win.
  narrowSymbolTable(image, [0x1180n]);
  assert.deepEqual(tableOf(image).names, ["local_a", "local_b", "label_c"]);
});

Deno.test("narrowSymbolTable() leaves images it cannot read alone", () => {
  assert.equal(narrowSymbolTable(new Uint8Array(64), [0x1000n]), undefined);
  const image = elfWith([{ name: "f", value: 0x1000, size: 0x10 }]);
  const copy = image.slice();
  assert.equal(narrowSymbolTable(image, []), undefined);
  assert.equal(narrowSymbolTable(image, [-1n]), undefined);
  assert.deepEqual(image, copy);
});

Deno.test("narrowSymbolTable() cuts Debian's python3.11 symbol table to a few symbols", () => {
  const path = "/usr/lib/debug/.build-id/c5/61f3aa7232f2bd6ac6d56bd475f1c154a00486.debug";
  let file: Uint8Array;
  try {
    file = Deno.readFileSync(path);
  } catch {
    return; // python3.11-dbg of that build is not installed
  }
  const before = tableOf(file.slice()).names;
  const image = file.slice();
  // Return addresses (less one) of a thread of fixtures/bench_threads.py under that build.
  const narrowed = narrowSymbolTable(image, [0x4f9f1an, 0x5028a9n, 0x60a916n]);
  assert.ok(narrowed !== undefined);
  assert.equal(narrowed.before, before.length + 1);
  // The three functions that contain them, and nothing else.
  assert.deepEqual(tableOf(image).names, [
    "_PyEval_EvalFrameDefault",
    "PyEval_EvalCode",
    "Py_BytesMain",
  ]);
  assert.equal(narrowed.after, 4);
});
