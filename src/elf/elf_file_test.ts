import assert from "node:assert/strict";
import {
  bytesSource,
  ElfFile,
  ElfFormatError,
  fileSource,
  parseElfHeader,
  parseNotes,
} from "./elf_file.ts";
import { dataView, fromHex, toHex } from "../bytes.ts";

const PYENV_ROOT = Deno.env.get("PYENV_ROOT") ?? `${Deno.env.get("HOME")}/.pyenv`;
const LIBPYTHON = `${PYENV_ROOT}/versions/3.11.7/lib/libpython3.11.so.1.0`;
const SYSTEM_PYTHON = "/usr/bin/python3.11";

// ---- readelf, run at test time for the expected values

function readelf(...args: string[]): string {
  const out = new Deno.Command("readelf", { args, stdout: "piped", stderr: "piped" }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

interface ReadelfSymbol {
  table: string;
  value: bigint;
  bind: string;
  ndx: string;
  name: string;
}

function readelfSymbols(...args: string[]): ReadelfSymbol[] {
  const out: ReadelfSymbol[] = [];
  let table = "";
  for (const line of readelf(...args).split("\n")) {
    const t = /^Symbol table '([^']+)'/.exec(line);
    if (t) table = t[1]!;
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ table, value: BigInt("0x" + m[1]), bind: m[2]!, ndx: m[3]!, name: m[4]! });
  }
  return out;
}

interface ReadelfSection {
  index: number;
  name: string;
  addr: bigint;
  offset: number;
  size: number;
  entsize: number;
}

function readelfSections(path: string): { count: number; sections: ReadelfSection[] } {
  const text = readelf("-SW", path);
  const count = Number(/There are (\d+) section headers/.exec(text)![1]);
  const sections: ReadelfSection[] = [];
  const re =
    /^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/;
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (!m) continue;
    sections.push({
      index: Number(m[1]),
      name: m[2]!,
      addr: BigInt("0x" + m[3]),
      offset: parseInt(m[4]!, 16),
      size: parseInt(m[5]!, 16),
      entsize: parseInt(m[6]!, 16),
    });
  }
  return { count, sections };
}

function readelfBuildId(path: string): string {
  return /Build ID: ([0-9a-f]+)/.exec(readelf("-n", path))![1]!;
}

function readelfLoads(path: string): { vaddr: bigint; align: bigint }[] {
  return readelf("-lW", path).split("\n").flatMap((line) => {
    const p = line.trim().split(/\s+/);
    return p[0] === "LOAD" ? [{ vaddr: BigInt(p[2]!), align: BigInt(p.at(-1)!) }] : [];
  });
}

/** What findSymbols() should return for `name`: .symtab first, globals first, defined only. */
function expectedSymbol(symbols: ReadelfSymbol[], name: string): bigint | undefined {
  for (const table of [".symtab", ".dynsym"]) {
    const defined = symbols.filter((s) =>
      s.table === table && s.ndx !== "UND" && s.name.replace(/@.*/, "") === name
    );
    const pick = defined.find((s) => s.bind !== "LOCAL") ?? defined[0];
    if (pick) return pick.value;
  }
  return undefined;
}

// ---- real files

Deno.test("ElfFile.findSymbols() finds _PyRuntime and Py_Version in libpython3.11", () => {
  const symbols = readelfSymbols("-sW", LIBPYTHON);
  using source = fileSource(LIBPYTHON);
  const elf = new ElfFile(source);
  const names = ["_PyRuntime", "Py_Version", "PyEval_EvalFrameDefault", "malloc", "no_such_name"];
  const found = elf.findSymbols(names);
  for (const name of names) assert.equal(found.get(name), expectedSymbol(symbols, name), name);
  assert.ok(found.has("_PyRuntime") && found.has("Py_Version"));
  assert.ok(!found.has("malloc"), "undefined (imported) symbols are not found");
});

Deno.test("ElfFile.findSymbols() finds local symbols that only .symtab has", () => {
  const symbols = readelfSymbols("-sW", LIBPYTHON);
  const counts = new Map<string, number>();
  for (const s of symbols) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  const locals = symbols.filter((s) =>
    s.table === ".symtab" && s.bind === "LOCAL" && /^\d+$/.test(s.ndx) &&
    counts.get(s.name) === 1 &&
    /^[A-Za-z_]\w+$/.test(s.name)
  ).slice(0, 50);
  assert.equal(locals.length, 50);
  using source = fileSource(LIBPYTHON);
  const found = new ElfFile(source).findSymbols(locals.map((s) => s.name));
  for (const s of locals) assert.equal(found.get(s.name), s.value, s.name);
});

Deno.test("ElfFile.findSymbols() prefers .symtab, then globals (patched libpython3.11)", () => {
  const copy = Deno.readFileSync(LIBPYTHON);
  const elf = () => new ElfFile(bytesSource(copy));
  const sections = elf().sectionHeaders();
  /** Byte offsets in `copy` of the entries of `table` named `name`. */
  const entries = (tableName: string, name: string) => {
    const table = sections.find((s) => s.name === tableName)!;
    const strtab = sections[table.link]!;
    const want = new TextEncoder().encode(name + "\0");
    const out: number[] = [];
    for (let at = table.offset; at < table.offset + table.size; at += 24) {
      const n = strtab.offset + dataView(copy).getUint32(at, true);
      if (want.every((b, i) => copy[n + i] === b)) out.push(at);
    }
    return out;
  };
  const v = dataView(copy);
  const [inSymtab] = entries(".symtab", "_PyRuntime");
  const [inDynsym] = entries(".dynsym", "_PyRuntime");
  const real = v.getBigUint64(inSymtab! + 8, true);

  v.setBigUint64(inDynsym! + 8, 0x1234n, true);
  assert.equal(elf().findSymbols(["_PyRuntime"]).get("_PyRuntime"), real, ".symtab first");

  // Make the first local symbol of .symtab a second, local "_PyRuntime" (locals come first).
  const firstLocal = sections.find((s) => s.name === ".symtab")!.offset + 24;
  assert.equal(copy[firstLocal + 4]! >> 4, 0, "STB_LOCAL");
  v.setUint32(firstLocal, v.getUint32(inSymtab!, true), true);
  v.setUint16(firstLocal + 6, 1, true);
  v.setBigUint64(firstLocal + 8, 0x5678n, true);
  assert.equal(elf().findSymbols(["_PyRuntime"]).get("_PyRuntime"), real, "global over local");

  v.setUint16(inSymtab! + 6, 0, true); // the global one becomes undefined: the local one wins
  assert.equal(elf().findSymbols(["_PyRuntime"]).get("_PyRuntime"), 0x5678n);
  v.setUint16(firstLocal + 6, 0, true); // none defined in .symtab: .dynsym's value
  assert.equal(elf().findSymbols(["_PyRuntime"]).get("_PyRuntime"), 0x1234n);
});

Deno.test("ElfFile.findSymbols() scans libpython's tables quickly", () => {
  using source = fileSource(LIBPYTHON);
  const elf = new ElfFile(source);
  elf.sectionHeaders();
  const names = Array.from({ length: 200 }, (_, i) => `_Py_missing_symbol_${i}`);
  const start = performance.now();
  const found = elf.findSymbols([...names, "_PyRuntime"]);
  const elapsed = performance.now() - start;
  assert.equal(found.size, 1);
  assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms for ${names.length + 1} names`);
});

Deno.test("ElfFile.sectionHeaders() agrees with readelf -SW on libpython3.11", () => {
  const expected = readelfSections(LIBPYTHON);
  using source = fileSource(LIBPYTHON);
  const elf = new ElfFile(source);
  const sections = elf.sectionHeaders();
  assert.equal(sections.length, expected.count);
  assert.equal(expected.sections.length, expected.count - 1); // all but the null section
  for (const e of expected.sections) {
    const s = sections[e.index]!;
    assert.deepEqual(
      { name: s.name, addr: s.addr, offset: s.offset, size: s.size, entsize: s.entsize },
      { name: e.name, addr: e.addr, offset: e.offset, size: e.size, entsize: e.entsize },
    );
  }
  const runtime = elf.section(".PyRuntime");
  assert.ok(runtime);
  assert.equal(runtime.addr, elf.findSymbols(["_PyRuntime"]).get("_PyRuntime"));
  assert.equal(elf.readSection(runtime).length, runtime.size);
  assert.equal(elf.readSection(elf.section(".bss")!).length, 0, "NOBITS has no file bytes");
});

Deno.test("ElfFile reads build id, segments and load base of libpython3.11", () => {
  using source = fileSource(LIBPYTHON);
  const elf = new ElfFile(source);
  assert.equal(elf.buildId(), readelfBuildId(LIBPYTHON));
  const loads = readelfLoads(LIBPYTHON);
  assert.deepEqual(
    elf.programHeaders().filter((p) => p.type === 1).map((p) => p.vaddr),
    loads.map((l) => l.vaddr),
  );
  const lowest = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  assert.equal(elf.loadBase(), lowest.vaddr - lowest.vaddr % lowest.align);
  assert.equal(elf.header.type, 3); // ET_DYN
});

Deno.test("ElfFile reads the stripped /usr/bin/python3.11 through .dynsym", () => {
  using source = fileSource(SYSTEM_PYTHON);
  const elf = new ElfFile(source);
  assert.equal(elf.section(".symtab"), undefined);
  assert.ok(elf.section(".dynsym"));
  const symbols = readelfSymbols("--dyn-syms", "-W", SYSTEM_PYTHON);
  const names = ["_PyRuntime", "Py_Version", "Py_GetVersion"];
  const found = elf.findSymbols(names);
  for (const name of names) {
    assert.ok(found.has(name), name);
    assert.equal(found.get(name), expectedSymbol(symbols, name), name);
  }
  assert.equal(elf.buildId(), readelfBuildId(SYSTEM_PYTHON));
  const lowest = readelfLoads(SYSTEM_PYTHON).reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  assert.equal(elf.loadBase(), lowest.vaddr - lowest.vaddr % lowest.align);
  assert.equal(elf.header.type, 2); // ET_EXEC
});

Deno.test("ElfFile caches parsed headers", () => {
  using source = fileSource(LIBPYTHON);
  let reads = 0;
  const counting = {
    size: source.size,
    read: (o: number, l: number) => (reads++, source.read(o, l)),
  };
  const elf = new ElfFile(counting);
  const first = elf.sectionHeaders();
  const afterFirst = reads;
  assert.equal(elf.sectionHeaders(), first);
  assert.equal(elf.programHeaders(), elf.programHeaders());
  elf.section(".PyRuntime");
  assert.equal(reads, afterFirst + 1, "only the program headers were read again");
});

Deno.test("fileSource() reads at offsets, checks bounds and closes on dispose", () => {
  const whole = Deno.readFileSync(SYSTEM_PYTHON).subarray(0, 4096);
  const source = fileSource(SYSTEM_PYTHON);
  assert.equal(source.size, Deno.statSync(SYSTEM_PYTHON).size);
  assert.deepEqual(source.read(1000, 100), whole.subarray(1000, 1100));
  assert.deepEqual(source.read(source.size, 0), new Uint8Array(0));
  assert.throws(() => source.read(source.size - 1, 2), ElfFormatError);
  assert.throws(() => source.read(-1, 1), ElfFormatError);
  source[Symbol.dispose]();
  assert.throws(() => source.read(0, 1), Deno.errors.BadResource);
  source[Symbol.dispose](); // a second dispose is harmless
});

// ---- corrupt, truncated and non-ELF bytes

Deno.test("parseElfHeader() reads the real libpython3.11 header", () => {
  const h = parseElfHeader(fromHex(LIBPYTHON_311_EHDR));
  assert.deepEqual(h, {
    type: 3,
    machine: 62,
    entry: 0n,
    phoff: 64,
    shoff: 23090256,
    phentsize: 56,
    phnum: 9,
    shentsize: 64,
    shnum: 38,
    shstrndx: 37,
  });
});

Deno.test("parseElfHeader() rejects text, short input, 32-bit and big-endian files", () => {
  assert.throws(() => parseElfHeader(fromHex(TEXT_FILE_HEAD)), /not an ELF file/);
  assert.throws(() => parseElfHeader(fromHex(LIBPYTHON_311_EHDR).subarray(0, 10)), /need 64 bytes/);
  const elf32 = fromHex(LIBPYTHON_311_EHDR);
  elf32[4] = 1;
  assert.throws(() => parseElfHeader(elf32), /64-bit/);
  const bigEndian = fromHex(LIBPYTHON_311_EHDR);
  bigEndian[5] = 2;
  assert.throws(() => parseElfHeader(bigEndian), /little-endian/);
  for (const bad of [fromHex(TEXT_FILE_HEAD), elf32, bigEndian, new Uint8Array(10)]) {
    assert.throws(() => new ElfFile(bytesSource(bad)), (e) => e instanceof ElfFormatError);
  }
  assert.ok(new ElfFormatError("x") instanceof SyntaxError);
});

Deno.test("ElfFile throws ElfFormatError for tables past the end of the file", () => {
  const header = fromHex(LIBPYTHON_311_EHDR);
  const elf = new ElfFile(bytesSource(header)); // only the 64-byte header
  assert.throws(() => elf.sectionHeaders(), /section headers: 38 entries/);
  assert.throws(() => elf.programHeaders(), /program headers: 9 entries/);

  const huge = fromHex(LIBPYTHON_311_EHDR);
  dataView(huge).setUint16(60, 65535, true); // e_shnum
  dataView(huge).setBigUint64(40, 64n, true); // e_shoff: right after the header
  const padded = new Uint8Array(4096);
  padded.set(huge);
  assert.throws(() => new ElfFile(bytesSource(padded)).sectionHeaders(), ElfFormatError);

  const xnum = fromHex(LIBPYTHON_311_EHDR);
  dataView(xnum).setUint16(56, 0xffff, true); // e_phnum = PN_XNUM: count in section 0
  assert.throws(() => new ElfFile(bytesSource(xnum)).programHeaders(), /section header 0/);
});

Deno.test("ElfFile rejects a corrupt copy of libpython3.11", () => {
  const real = Deno.readFileSync(LIBPYTHON);
  const h = parseElfHeader(real);
  const patched = (patch: (v: DataView, shdr: (i: number) => number) => void) => {
    const copy = real.slice();
    patch(dataView(copy), (i) => h.shoff + 64 * i);
    return new ElfFile(bytesSource(copy));
  };
  const sections = new ElfFile(bytesSource(real)).sectionHeaders();
  const symtab = sections.findIndex((s) => s.name === ".symtab");
  assert.ok(symtab > 0);

  const truncated = new ElfFile(bytesSource(real.subarray(0, real.length >> 1)));
  assert.throws(() => truncated.sectionHeaders(), ElfFormatError);
  assert.throws(
    () => patched((v, at) => v.setBigUint64(at(symtab) + 32, 1n << 40n, true)).findSymbols(["x"]),
    ElfFormatError,
  );
  assert.throws(
    () => patched((v, at) => v.setBigUint64(at(symtab) + 56, 0n, true)).findSymbols(["x"]),
    /sh_entsize/,
  );
  assert.throws(
    () => patched((v, at) => v.setUint32(at(symtab) + 40, 9999, true)).findSymbols(["x"]),
    /sh_link/,
  );
  assert.throws(() => patched((v) => v.setUint16(62, 200, true)).sectionHeaders(), /e_shstrndx/);
  assert.throws(
    () => patched((v, at) => v.setUint32(at(1), 0x7fffffff, true)).sectionHeaders(),
    /section name/,
  );
  assert.throws(
    () => patched((v) => v.setBigUint64(40, 1n << 60n, true)).sectionHeaders(),
    ElfFormatError,
  );
});

Deno.test("ElfFile.loadBase() rounds the lowest PT_LOAD down to its alignment", () => {
  using source = fileSource(LIBPYTHON);
  const h = parseElfHeader(source.read(0, 64));
  const head = source.read(0, h.phoff + h.phnum * h.phentsize).slice();
  const v = dataView(head);
  const loads = [];
  for (let i = 0; i < h.phnum; i++) {
    if (v.getUint32(h.phoff + i * 56, true) === 1) loads.push(h.phoff + i * 56);
  }
  assert.ok(loads.length >= 2);
  v.setBigUint64(loads[0]! + 16, 0x7000123n, true); // p_vaddr, p_align stays 0x1000
  for (const [i, at] of loads.entries()) {
    if (i > 0) v.setBigUint64(at + 16, 0x9000000n + BigInt(i) * 0x100000n, true);
  }
  assert.equal(new ElfFile(bytesSource(head)).loadBase(), 0x7000000n);
  v.setBigUint64(loads[0]! + 48, 1n, true); // p_align 1: no rounding
  assert.equal(new ElfFile(bytesSource(head)).loadBase(), 0x7000123n);
});

Deno.test("ElfFile.loadBase() needs a PT_LOAD segment", () => {
  const header = fromHex(LIBPYTHON_311_EHDR);
  dataView(header).setUint16(56, 0, true); // no program headers
  assert.throws(() => new ElfFile(bytesSource(header)).loadBase(), /no PT_LOAD/);
});

// ---- notes

Deno.test("parseNotes() splits the real PT_NOTE segments of /usr/bin/python3.11", () => {
  const [property, ids] = PYTHON311_NOTE_SEGMENTS;
  assert.equal(property!.align, 8);
  const [gnuProperty] = parseNotes(fromHex(property!.bytes), 8);
  assert.equal(gnuProperty!.name, "GNU");
  assert.equal(gnuProperty!.type, 5); // NT_GNU_PROPERTY_TYPE_0
  assert.deepEqual(gnuProperty!.desc, fromHex(property!.bytes).subarray(16, 32));

  const notes = parseNotes(fromHex(ids!.bytes), 4);
  assert.deepEqual(notes.map((n) => [n.name, n.type, n.desc.length]), [["GNU", 3, 20], [
    "GNU",
    1,
    16,
  ]]);
  assert.equal(toHex(notes[0]!.desc), "571d98e01096d5c1c32420d229a6731a0a50d2a0");
});

Deno.test("parseNotes() pads to the alignment it is given", () => {
  // Two notes with a 5-byte name: the descriptor starts at 12 + 8 (align 4) or 24 (align 8).
  const note = (align: number) => {
    const descAt = Math.ceil((12 + 5) / align) * align;
    const size = Math.ceil((descAt + 4) / align) * align;
    const b = new Uint8Array(2 * size);
    for (const base of [0, size]) {
      const v = dataView(b.subarray(base));
      v.setUint32(0, 5, true);
      v.setUint32(4, 4, true);
      v.setUint32(8, 0x100 + base, true);
      b.set(new TextEncoder().encode("LINUX"), base + 12);
      b.set([1, 2, 3, 4], base + descAt);
    }
    return b;
  };
  for (const align of [4, 8] as const) {
    const notes = parseNotes(note(align), align);
    assert.equal(notes.length, 2);
    for (const n of notes) {
      assert.equal(n.name, "LINUX");
      assert.deepEqual(n.desc, new Uint8Array([1, 2, 3, 4]));
    }
  }
});

Deno.test("parseNotes() throws for notes that run past the end", () => {
  const ids = fromHex(PYTHON311_NOTE_SEGMENTS[1]!.bytes);
  assert.throws(() => parseNotes(ids.subarray(0, ids.length - 1)), ElfFormatError);
  const huge = ids.slice();
  dataView(huge).setUint32(4, 0xffffffff, true);
  assert.throws(() => parseNotes(huge), /past the end/);
  assert.deepEqual(parseNotes(ids.subarray(0, 11)), [], "fewer than 12 bytes: no note");
});

// <generated by=capture_decoder_cases.py section=elf>
// first 64 bytes of libpython3.11.so.1.0 (3.11.7)
// deno-fmt-ignore
const LIBPYTHON_311_EHDR: string = "7f454c4602010100000000000000000003003e000100000000000000000000004000000000000000505460010000000000000000400038000900400026002500";

// PT_NOTE segments of /usr/bin/python3.11 (readelf -lW)
// deno-fmt-ignore
const PYTHON311_NOTE_SEGMENTS: { align: 4 | 8; bytes: string }[] = [
  { align: 8, bytes: "040000001000000005000000474e5500028000c0040000000100000000000000" },
  { align: 4, bytes: "040000001400000003000000474e5500571d98e01096d5c1c32420d229a6731a0a50d2a0040000001000000001000000474e550000000000030000000200000000000000" },
];

// first 96 bytes of lib/pkgconfig/python-3.11.pc (a text file)
// deno-fmt-ignore
const TEXT_FILE_HEAD: string = "23205365653a206d616e20706b672d636f6e6669670a7072656669783d2f726f6f742f2e7079656e762f76657273696f6e732f332e31312e370a657865635f7072656669783d247b7072656669787d0a6c69626469723d2f726f6f742f2e7079";
// </generated>
