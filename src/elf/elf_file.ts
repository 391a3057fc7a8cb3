/**
 * A reader of 64-bit little-endian ELF files (executables, shared libraries,
 * core files) over a {@linkcode ByteSource}, which reads only the parts it is
 * asked for: a 23 MB libpython is never loaded whole.
 *
 * Every count and size read from the file is checked against the size of the
 * source before anything is allocated, so a corrupt or truncated file throws
 * {@linkcode ElfFormatError} rather than allocating or looping without end.
 *
 * @module
 */

import { dataView, toHex, u16, u32, u64 } from "../bytes.ts";

/** The bytes are not a well-formed ELF64 little-endian file, or are cut short. */
export class ElfFormatError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "ElfFormatError";
  }
}

/** Random access to the bytes of a file or buffer. */
export interface ByteSource {
  /** Total number of bytes. */
  readonly size: number;
  /**
   * `length` bytes at `offset`. Throws {@linkcode ElfFormatError} when the
   * range is not inside `0…size`. The result may share memory with the source:
   * do not modify it.
   */
  read(offset: number, length: number): Uint8Array;
}

function checkRange(offset: number, length: number, size: number): void {
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
    offset + length > size
  ) {
    throw new ElfFormatError(
      `Cannot read ${length} bytes at offset ${offset}: the source has ${size} bytes`,
    );
  }
}

/**
 * A source over a file, read with `seek` + `read` at each call. Dispose of it
 * (with `using`) to close the file.
 *
 * @param path the file to open for reading
 * @returns the source, which owns the open file
 * @throws {Deno.errors.NotFound} and the other errors of `Deno.openSync`
 *
 * @example
 * ```ts
 * import { fileSource } from "./elf_file.ts";
 * import assert from "node:assert/strict";
 * using source = fileSource("/bin/sh");
 * assert.deepEqual(source.read(0, 4), new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * ```
 */
export function fileSource(
  path: string,
): ByteSource & { readInto(offset: number, target: Uint8Array): void } & Disposable {
  const file = Deno.openSync(path, { read: true });
  let size: number;
  try {
    size = file.statSync().size;
  } catch (e) {
    file.close();
    throw e;
  }
  let closed = false;
  const readInto = (offset: number, target: Uint8Array) => {
    checkRange(offset, target.length, size);
    file.seekSync(offset, Deno.SeekMode.Start);
    for (let done = 0; done < target.length;) {
      const n = file.readSync(target.subarray(done));
      if (n === null || n === 0) {
        throw new ElfFormatError(
          `Cannot read ${target.length} bytes at offset ${offset} of ${path}: the file ended early`,
        );
      }
      done += n;
    }
  };
  return {
    size,
    readInto,
    read(offset: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      readInto(offset, out);
      return out;
    },
    [Symbol.dispose](): void {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/**
 * A source over bytes already in memory. `read` returns views, not copies.
 *
 * @param bytes the whole file
 * @returns the source
 *
 * @example
 * ```ts
 * import { bytesSource, ElfFormatError } from "./elf_file.ts";
 * import assert from "node:assert/strict";
 * const source = bytesSource(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(source.read(1, 2), new Uint8Array([2, 3]));
 * assert.throws(() => source.read(2, 2), ElfFormatError);
 * ```
 */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset: number, length: number): Uint8Array {
      checkRange(offset, length, bytes.length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * The ELF file header. Counts are the raw header fields: `phnum` 0xFFFF,
 * `shnum` 0 and `shstrndx` 0xFFFF mean "see section 0" (extended numbering),
 * which {@linkcode ElfFile} resolves.
 */
export interface ElfHeader {
  /** `e_type`: 2 EXEC, 3 DYN, 4 CORE. */
  type: number;
  /** `e_machine`: 62 for x86-64, 183 for AArch64. */
  machine: number;
  entry: bigint;
  phoff: number;
  shoff: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

/** One program header (segment). */
export interface ProgramHeader {
  /** `p_type`: 1 LOAD, 2 DYNAMIC, 4 NOTE, … */
  type: number;
  /** `p_flags`: 1 X, 2 W, 4 R. */
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

/** One section header, with its name resolved. */
export interface SectionHeader {
  name: string;
  /** `sh_type`: 1 PROGBITS, 2 SYMTAB, 7 NOTE, 8 NOBITS, 11 DYNSYM, … */
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

/** One note of a PT_NOTE segment or SHT_NOTE section. */
export interface ElfNote {
  /** The owner, without its terminating NUL ("GNU", "CORE", "LINUX"). */
  name: string;
  type: number;
  desc: Uint8Array;
}

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const PN_XNUM = 0xffff;
const SHN_XINDEX = 0xffff;
const PT_LOAD = 1;
const PT_NOTE = 4;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const STB_LOCAL = 0;
const NT_GNU_BUILD_ID = 3;

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfFormatError(`Cannot parse ELF: ${what} 0x${value.toString(16)} is too large`);
  }
  return Number(value);
}

/**
 * Parses and validates the 64-byte ELF header.
 *
 * @param bytes at least the first 64 bytes of the file
 * @returns the header fields
 * @throws {ElfFormatError} when there are fewer than 64 bytes, the magic is
 * wrong, or the file is not 64-bit little-endian
 *
 * @example A text file is not ELF
 * ```ts
 * import { ElfFormatError, parseElfHeader } from "./elf_file.ts";
 * import assert from "node:assert/strict";
 * const text = new TextEncoder().encode("#!/bin/sh\n".padEnd(64, "#"));
 * assert.throws(() => parseElfHeader(text), ElfFormatError);
 * ```
 */
export function parseElfHeader(bytes: Uint8Array): ElfHeader {
  if (bytes.length < EHDR_SIZE) {
    throw new ElfFormatError(
      `Cannot parse ELF header: need ${EHDR_SIZE} bytes, got ${bytes.length}`,
    );
  }
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfFormatError("Cannot parse ELF header: not an ELF file (bad magic)");
  }
  if (bytes[4] !== 2) {
    throw new ElfFormatError(
      `Cannot parse ELF header: only 64-bit ELF is supported, EI_CLASS is ${bytes[4]}`,
    );
  }
  if (bytes[5] !== 1) {
    throw new ElfFormatError(
      `Cannot parse ELF header: only little-endian ELF is supported, EI_DATA is ${bytes[5]}`,
    );
  }
  const v = dataView(bytes);
  return {
    type: u16(v, 16),
    machine: u16(v, 18),
    entry: u64(v, 24),
    phoff: safeNumber(u64(v, 32), "e_phoff"),
    shoff: safeNumber(u64(v, 40), "e_shoff"),
    phentsize: u16(v, 54),
    phnum: u16(v, 56),
    shentsize: u16(v, 58),
    shnum: u16(v, 60),
    shstrndx: u16(v, 62),
  };
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * Splits a note area into notes: each is `namesz`, `descsz`, `type` (u32),
 * then the name and the descriptor, each padded so the next part starts at a
 * multiple of `align` from the note's start (as binutils reads them). Fewer
 * than 12 bytes left at the end are ignored.
 *
 * @param bytes the contents of a PT_NOTE segment or SHT_NOTE section
 * @param align the segment's alignment: 4 (most notes) or 8 (`.note.gnu.property`)
 * @returns the notes; their `desc` are views into `bytes`
 * @throws {ElfFormatError} when a name or descriptor runs past the end
 *
 * @example A GNU build-id note
 * ```ts
 * import { parseNotes } from "./elf_file.ts";
 * import assert from "node:assert/strict";
 * const note = new Uint8Array([4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0, 0xab, 0xcd]);
 * const [n] = parseNotes(note);
 * assert.equal(n?.name, "GNU");
 * assert.equal(n?.type, 3);
 * assert.deepEqual(n?.desc, new Uint8Array([0xab, 0xcd]));
 * ```
 */
export function parseNotes(bytes: Uint8Array, align: 4 | 8 = 4): ElfNote[] {
  const v = dataView(bytes);
  const out: ElfNote[] = [];
  let off = 0;
  while (off + 12 <= bytes.length) {
    const namesz = u32(v, off);
    const descsz = u32(v, off + 4);
    const type = u32(v, off + 8);
    const descStart = off + alignUp(12 + namesz, align);
    if (off + 12 + namesz > bytes.length || descStart + descsz > bytes.length) {
      throw new ElfFormatError(
        `Cannot parse ELF note at offset ${off}: a ${namesz}-byte name and ${descsz}-byte ` +
          `descriptor past the end of the ${bytes.length}-byte note area`,
      );
    }
    let nameEnd = off + 12 + namesz;
    while (nameEnd > off + 12 && bytes[nameEnd - 1] === 0) nameEnd--;
    out.push({
      name: DECODER.decode(bytes.subarray(off + 12, nameEnd)),
      type,
      desc: bytes.subarray(descStart, descStart + descsz),
    });
    off = off + alignUp(descStart - off + descsz, align);
  }
  return out;
}

const DECODER = new TextDecoder();
const LATIN1 = new TextDecoder("latin1");

/** A NUL-terminated string at `offset` of a string table. */
function stringAt(table: Uint8Array, offset: number, what: string): string {
  const end = table.indexOf(0, offset);
  if (offset >= table.length || end < 0) {
    throw new ElfFormatError(
      `Cannot read ${what}: offset ${offset} is not a string of the ${table.length}-byte table`,
    );
  }
  return DECODER.decode(table.subarray(offset, end));
}

interface WantedName {
  name: string;
  global: bigint | undefined;
  local: bigint | undefined;
}

/**
 * An ELF64 little-endian file. Headers are parsed on first use and cached;
 * sections and symbol tables are read from the source at each call.
 *
 * @example Open a file and look for a symbol it does not define
 * ```ts
 * import { ElfFile, fileSource } from "./elf_file.ts";
 * import assert from "node:assert/strict";
 * using source = fileSource("/bin/sh");
 * const elf = new ElfFile(source);
 * assert.equal(elf.header.machine, 62); // x86-64
 * assert.equal(elf.findSymbols(["Py_Version"]).size, 0);
 * ```
 */
export class ElfFile {
  /** The file header, validated. */
  readonly header: ElfHeader;
  readonly #source: ByteSource;
  #programHeaders: ProgramHeader[] | undefined;
  #sectionHeaders: SectionHeader[] | undefined;

  /**
   * Reads and validates the file header.
   *
   * @param source the file's bytes; the ElfFile does not close it
   * @throws {ElfFormatError} as {@linkcode parseElfHeader} does
   */
  constructor(source: ByteSource) {
    this.#source = source;
    this.header = parseElfHeader(source.read(0, Math.min(EHDR_SIZE, source.size)));
  }

  /** Reads `count` entries of `entsize` bytes, after checking they fit in the source. */
  #readTable(offset: number, count: number, entsize: number, what: string): Uint8Array {
    if (offset > this.#source.size || count > (this.#source.size - offset) / entsize) {
      throw new ElfFormatError(
        `Cannot read ${what}: ${count} entries of ${entsize} bytes at offset ${offset} ` +
          `past the end of the ${this.#source.size}-byte file`,
      );
    }
    return this.#source.read(offset, count * entsize);
  }

  /** Section header 0, which holds the real counts under extended numbering. */
  #section0(): { size: bigint; link: number; info: number } {
    const v = dataView(this.#readTable(this.header.shoff, 1, SHDR_SIZE, "section header 0"));
    return { size: u64(v, 32), link: u32(v, 40), info: u32(v, 44) };
  }

  /**
   * The program headers (segments), resolving `PN_XNUM`.
   *
   * @returns the segments in file order
   * @throws {ElfFormatError} when the table does not fit in the file
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * assert.ok(new ElfFile(source).programHeaders().some((p) => p.type === 1)); // PT_LOAD
   * ```
   */
  programHeaders(): ProgramHeader[] {
    if (this.#programHeaders !== undefined) return this.#programHeaders;
    let count = this.header.phnum;
    if (count === PN_XNUM && this.header.shoff !== 0) count = this.#section0().info;
    if (count === 0) return this.#programHeaders = [];
    if (this.header.phentsize !== PHDR_SIZE) {
      throw new ElfFormatError(
        `Cannot read program headers: e_phentsize is ${this.header.phentsize}, not ${PHDR_SIZE}`,
      );
    }
    const v = dataView(this.#readTable(this.header.phoff, count, PHDR_SIZE, "program headers"));
    const out: ProgramHeader[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * PHDR_SIZE;
      out.push({
        type: u32(v, o),
        flags: u32(v, o + 4),
        offset: safeNumber(u64(v, o + 8), "p_offset"),
        vaddr: u64(v, o + 16),
        filesz: safeNumber(u64(v, o + 32), "p_filesz"),
        memsz: safeNumber(u64(v, o + 40), "p_memsz"),
        align: safeNumber(u64(v, o + 48), "p_align"),
      });
    }
    return this.#programHeaders = out;
  }

  /**
   * The section headers with their names, resolving extended section numbering.
   *
   * @returns the sections in index order (index 0 is the null section); empty
   * when the file has no section table (core files)
   * @throws {ElfFormatError} when the table or its string table does not fit in
   * the file, or a name offset is outside the string table
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * assert.ok(new ElfFile(source).sectionHeaders().some((s) => s.name === ".text"));
   * ```
   */
  sectionHeaders(): SectionHeader[] {
    if (this.#sectionHeaders !== undefined) return this.#sectionHeaders;
    const { shoff } = this.header;
    let count = this.header.shnum;
    let strndx = this.header.shstrndx;
    if (shoff === 0) return this.#sectionHeaders = [];
    if (count === 0 || strndx === SHN_XINDEX) {
      const s0 = this.#section0();
      if (count === 0) count = safeNumber(s0.size, "section count");
      if (strndx === SHN_XINDEX) strndx = s0.link;
    }
    if (count === 0) return this.#sectionHeaders = [];
    if (this.header.shentsize !== SHDR_SIZE) {
      throw new ElfFormatError(
        `Cannot read section headers: e_shentsize is ${this.header.shentsize}, not ${SHDR_SIZE}`,
      );
    }
    const v = dataView(this.#readTable(shoff, count, SHDR_SIZE, "section headers"));
    const raw: (SectionHeader & { nameOffset: number })[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * SHDR_SIZE;
      raw.push({
        name: "",
        nameOffset: u32(v, o),
        type: u32(v, o + 4),
        flags: u64(v, o + 8),
        addr: u64(v, o + 16),
        offset: safeNumber(u64(v, o + 24), "sh_offset"),
        size: safeNumber(u64(v, o + 32), "sh_size"),
        link: u32(v, o + 40),
        info: u32(v, o + 44),
        entsize: safeNumber(u64(v, o + 56), "sh_entsize"),
      });
    }
    if (strndx >= count) {
      throw new ElfFormatError(
        `Cannot read section names: e_shstrndx ${strndx} is not one of ${count} sections`,
      );
    }
    const names = strndx === 0 ? undefined : this.readSection(raw[strndx]!);
    this.#sectionHeaders = raw.map(({ nameOffset, ...s }) => ({
      ...s,
      name: names === undefined ? "" : stringAt(names, nameOffset, "a section name"),
    }));
    return this.#sectionHeaders;
  }

  /**
   * The first section called `name`.
   *
   * @param name e.g. `.PyRuntime`
   * @returns the section, or `undefined`
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * assert.equal(new ElfFile(source).section(".PyRuntime"), undefined);
   * ```
   */
  section(name: string): SectionHeader | undefined {
    return this.sectionHeaders().find((s) => s.name === name);
  }

  /**
   * The file bytes of a section. `SHT_NOBITS` sections (`.bss`) take no file
   * space: they give an empty array.
   *
   * @param s a section of this file
   * @returns `s.size` bytes (a fresh array for file sources)
   * @throws {ElfFormatError} when the section runs past the end of the file
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * const elf = new ElfFile(source);
   * const interp = new TextDecoder().decode(elf.readSection(elf.section(".interp")!));
   * assert.match(interp, /^\/lib.*ld-linux/);
   * ```
   */
  readSection(s: SectionHeader): Uint8Array {
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    return this.#source.read(s.offset, s.size);
  }

  /**
   * Values (`st_value`, not relocated) of the named symbols. `.symtab` is
   * searched first, then `.dynsym` for names still missing. Only defined
   * symbols count (`st_shndx` ≠ `SHN_UNDEF`); within one table a global or weak
   * definition wins over a local one, else the first match wins. Each table is
   * read once and scanned in one pass (names are found in the string table
   * first, then symbols by their name's offset), so pass all names in one call.
   *
   * @param names the symbol names to look up
   * @returns a map from each name found to its value
   * @throws {ElfFormatError} when a symbol table or its string table is malformed
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * const found = new ElfFile(source).findSymbols(["no such symbol"]);
   * assert.equal(found.size, 0);
   * ```
   */
  findSymbols(names: Iterable<string>): Map<string, bigint> {
    const result = new Map<string, bigint>();
    const unique = [...new Set(names)].filter((n) => n !== "");
    const sections = this.sectionHeaders();
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const wanted: WantedName[] = unique.filter((n) => !result.has(n)).map((name) => ({
        name,
        global: undefined,
        local: undefined,
      }));
      if (wanted.length === 0) break;
      for (const table of sections) {
        if (table.type === type) this.#scanSymbols(table, sections, wanted);
      }
      for (const w of wanted) {
        const value = w.global ?? w.local;
        if (value !== undefined) result.set(w.name, value);
      }
    }
    return result;
  }

  #scanSymbols(table: SectionHeader, sections: SectionHeader[], wanted: WantedName[]): void {
    if (table.entsize !== SYM_SIZE) {
      throw new ElfFormatError(
        `Cannot read symbols of ${table.name}: sh_entsize is ${table.entsize}, not ${SYM_SIZE}`,
      );
    }
    const strings = sections[table.link];
    if (strings === undefined) {
      throw new ElfFormatError(
        `Cannot read symbols of ${table.name}: sh_link ${table.link} is not a section`,
      );
    }
    // The string table as text, one character per byte (symbol names are ASCII), to find
    // where each wanted name is with native searches: a symbol is then matched by its name's
    // offset alone. Every occurrence counts, a name may also end a longer string
    // (linkers share tails), and any symbol may point there.
    const text = LATIN1.decode(this.readSection(strings));
    const byOffset = new Map<number, WantedName[]>();
    for (const w of wanted) {
      const needle = `${w.name}\0`;
      for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
        const list = byOffset.get(at);
        if (list === undefined) byOffset.set(at, [w]);
        else list.push(w);
      }
    }
    if (byOffset.size === 0) return;
    const syms = this.readSection(table);
    const view = dataView(syms);
    const count = Math.floor(syms.length / SYM_SIZE);
    for (let i = 0, o = 0; i < count; i++, o += SYM_SIZE) {
      const found = byOffset.get(view.getUint32(o, true));
      if (found === undefined || view.getUint16(o + 6, true) === 0) continue; // SHN_UNDEF
      const value = u64(view, o + 8);
      const local = syms[o + 4]! >> 4 === STB_LOCAL;
      for (const w of found) {
        if (local) w.local ??= value;
        else w.global ??= value;
      }
    }
  }

  /**
   * The GNU build ID (`NT_GNU_BUILD_ID`), from a PT_NOTE segment or else the
   * `.note.gnu.build-id` section.
   *
   * @returns lowercase hex, or `undefined` when the file has none
   * @throws {ElfFormatError} when a note area is malformed
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh");
   * assert.match(new ElfFile(source).buildId() ?? "", /^[0-9a-f]{40}$/);
   * ```
   */
  buildId(): string | undefined {
    for (const ph of this.programHeaders()) {
      if (ph.type !== PT_NOTE) continue;
      const notes = parseNotes(this.#source.read(ph.offset, ph.filesz), ph.align === 8 ? 8 : 4);
      const id = buildIdOf(notes);
      if (id !== undefined) return id;
    }
    const section = this.section(".note.gnu.build-id");
    return section === undefined ? undefined : buildIdOf(parseNotes(this.readSection(section)));
  }

  /**
   * The address the file expects to be loaded at: the lowest PT_LOAD
   * `p_vaddr`, rounded down to that segment's `p_align`. A mapping's start
   * minus this is the load bias.
   *
   * @returns the base address (0 for most shared libraries)
   * @throws {ElfFormatError} when the file has no PT_LOAD segment
   *
   * @example
   * ```ts
   * import { ElfFile, fileSource } from "./elf_file.ts";
   * import assert from "node:assert/strict";
   * using source = fileSource("/bin/sh"); // position-independent: linked at 0
   * assert.equal(new ElfFile(source).loadBase(), 0n);
   * ```
   */
  loadBase(): bigint {
    let lowest: ProgramHeader | undefined;
    for (const ph of this.programHeaders()) {
      if (ph.type === PT_LOAD && (lowest === undefined || ph.vaddr < lowest.vaddr)) lowest = ph;
    }
    if (lowest === undefined) throw new ElfFormatError("Cannot find load base: no PT_LOAD segment");
    const align = BigInt(lowest.align);
    return align > 1n ? lowest.vaddr - lowest.vaddr % align : lowest.vaddr;
  }
}

function buildIdOf(notes: ElfNote[]): string | undefined {
  const note = notes.find((n) => n.name === "GNU" && n.type === NT_GNU_BUILD_ID);
  return note === undefined ? undefined : toHex(note.desc);
}
