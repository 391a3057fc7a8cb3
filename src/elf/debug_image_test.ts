import assert from "node:assert/strict";
import { deflateSync, inflateSync } from "node:zlib";
import { planDebugImage, UNREAD_SECTIONS, writeDebugImage } from "./debug_image.ts";
import { bytesSource, ElfFile } from "./elf_file.ts";

const SHF_COMPRESSED = 0x800n;
const SHT_PROGBITS = 1;
const SHT_NOBITS = 8;
const SHT_NOTE = 7;

interface Section {
  name: string;
  type: number;
  flags?: bigint;
  data: Uint8Array;
  align?: number;
}

/** A compressed section's contents: `Elf64_Chdr` (zlib) + the zlib stream of `data`. */
function compressed(data: Uint8Array, align = 1): Uint8Array {
  const stream = deflateSync(data);
  const out = new Uint8Array(24 + stream.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1, true); // ELFCOMPRESS_ZLIB
  view.setBigUint64(8, BigInt(data.length), true);
  view.setBigUint64(16, BigInt(align), true);
  out.set(stream, 24);
  return out;
}

/** A 64-bit little-endian ET_DYN file with one PT_NOTE segment over the first note section. */
function elf(sections: Section[]): Uint8Array {
  const names = [0];
  let strtab = "\0";
  for (const s of [...sections, { name: ".shstrtab" }]) {
    names.push(strtab.length);
    strtab += `${s.name}\0`;
  }
  const all: Section[] = [
    ...sections,
    { name: ".shstrtab", type: 3, data: new TextEncoder().encode(strtab) },
  ];
  const phoff = 64;
  let at = phoff + 56;
  const offsets: number[] = [];
  for (const s of all) {
    at = Math.ceil(at / (s.align ?? 1)) * (s.align ?? 1);
    offsets.push(at);
    if (s.type !== SHT_NOBITS) at += s.data.length;
  }
  const shoff = Math.ceil(at / 8) * 8;
  const count = all.length + 1;
  const out = new Uint8Array(shoff + count * 64);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  view.setUint16(0x10, 3, true); // ET_DYN
  view.setUint16(0x12, 62, true); // x86-64
  view.setUint32(0x14, 1, true);
  view.setBigUint64(0x20, BigInt(phoff), true);
  view.setBigUint64(0x28, BigInt(shoff), true);
  view.setUint16(0x34, 64, true);
  view.setUint16(0x36, 56, true);
  view.setUint16(0x38, 1, true);
  view.setUint16(0x3a, 64, true);
  view.setUint16(0x3c, count, true);
  view.setUint16(0x3e, count - 1, true);
  const note = all.findIndex((s) => s.type === SHT_NOTE);
  view.setUint32(phoff, 4, true); // PT_NOTE
  view.setBigUint64(phoff + 8, BigInt(note < 0 ? 0 : offsets[note]!), true);
  view.setBigUint64(phoff + 32, BigInt(note < 0 ? 0 : all[note]!.data.length), true);
  view.setBigUint64(phoff + 48, 4n, true);
  all.forEach((s, i) => {
    if (s.type !== SHT_NOBITS) out.set(s.data, offsets[i]!);
    const h = shoff + (i + 1) * 64;
    view.setUint32(h, names[i + 1]!, true);
    view.setUint32(h + 4, s.type, true);
    view.setBigUint64(h + 8, s.flags ?? 0n, true);
    view.setBigUint64(h + 24, BigInt(offsets[i]!), true);
    view.setBigUint64(h + 32, BigInt(s.data.length), true);
    view.setBigUint64(h + 48, BigInt(s.align ?? 1), true);
  });
  return out;
}

function buildIdNote(id: number[]): Uint8Array {
  const out = new Uint8Array(16 + id.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4, true);
  view.setUint32(4, id.length, true);
  view.setUint32(8, 3, true); // NT_GNU_BUILD_ID
  out.set(new TextEncoder().encode("GNU\0"), 12);
  out.set(id, 16);
  return out;
}

/** `length` bytes that compress well but not to nothing. */
function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * seed + (i >> 7)) & 0xff);
}

/** The image of `file`, its inflated sections decompressed with node:zlib. */
function image(file: Uint8Array): Uint8Array {
  const plan = planDebugImage(file);
  assert.ok(plan !== undefined, "a plan");
  const out = new Uint8Array(plan.size);
  writeDebugImage(file, plan, out);
  for (const s of plan.sections) {
    if (s.action !== "inflate") continue;
    const data = inflateSync(file.subarray(s.from, s.from + s.fromSize));
    assert.equal(data.length, s.size);
    out.set(data, s.to);
  }
  return out;
}

Deno.test("planDebugImage() inflates DWARF, drops location lists and copies the rest", () => {
  const info = pattern(5000, 7);
  const line = pattern(3000, 13);
  const loclists = pattern(4000, 3);
  const note = buildIdNote([1, 2, 3, 4, 5, 6, 7, 8]);
  const file = elf([
    { name: ".note.gnu.build-id", type: SHT_NOTE, data: note, align: 4 },
    { name: ".bss", type: SHT_NOBITS, data: new Uint8Array(64) },
    {
      name: ".debug_info",
      type: SHT_PROGBITS,
      flags: SHF_COMPRESSED,
      data: compressed(info),
      align: 8,
    },
    { name: ".debug_line", type: SHT_PROGBITS, flags: SHF_COMPRESSED, data: compressed(line) },
    {
      name: ".debug_loclists",
      type: SHT_PROGBITS,
      flags: SHF_COMPRESSED,
      data: compressed(loclists),
    },
    { name: ".debug_str", type: SHT_PROGBITS, data: new TextEncoder().encode("main\0") },
  ]);
  const plan = planDebugImage(file)!;
  assert.deepEqual(plan.dropped, [".debug_loclists"]);
  assert.deepEqual(
    plan.sections.map((s) => `${s.name}:${s.action}:${s.size}`),
    [
      ".note.gnu.build-id:copy:24",
      ".debug_info:inflate:5000",
      ".debug_line:inflate:3000",
      ".debug_str:copy:5",
      ".shstrtab:copy:86",
    ],
  );

  const out = new ElfFile(bytesSource(image(file)));
  const sections = new Map(out.sectionHeaders().map((s) => [s.name, s]));
  assert.equal(out.buildId(), "0102030405060708", "the build id (segment and section) is kept");
  const dwarf = sections.get(".debug_info")!;
  assert.equal(dwarf.flags & SHF_COMPRESSED, 0n, "no longer compressed");
  assert.deepEqual(out.readSection(dwarf), info);
  assert.deepEqual(out.readSection(sections.get(".debug_line")!), line);
  assert.deepEqual(
    new TextDecoder().decode(out.readSection(sections.get(".debug_str")!)),
    "main\0",
  );
  const dropped = sections.get(".debug_loclists")!;
  assert.equal(dropped.type, SHT_NOBITS, "libdw ignores it");
  assert.equal(dropped.size, 0);
  assert.equal(sections.get(".bss")!.type, SHT_NOBITS);
  assert.equal(sections.get(".bss")!.size, 64);
  assert.equal(dwarf.offset % 8, 0, "the section's alignment is kept");
});

Deno.test("planDebugImage() declines what libdw should read itself", () => {
  const plain = elf([
    { name: ".debug_info", type: SHT_PROGBITS, data: pattern(100, 5) },
  ]);
  assert.equal(planDebugImage(plain), undefined, "nothing compressed: nothing to gain");

  const zstd = compressed(pattern(100, 5));
  new DataView(zstd.buffer).setUint32(0, 2, true); // ELFCOMPRESS_ZSTD
  const other = elf([
    { name: ".debug_info", type: SHT_PROGBITS, flags: SHF_COMPRESSED, data: zstd },
  ]);
  assert.equal(planDebugImage(other), undefined, "another compression");

  const onlyUnread = elf([
    {
      name: ".debug_loclists",
      type: SHT_PROGBITS,
      flags: SHF_COMPRESSED,
      data: compressed(pattern(100, 5)),
    },
  ]);
  assert.equal(planDebugImage(onlyUnread), undefined, "nothing pystack reads is compressed");

  const relocatable = elf([
    {
      name: ".debug_info",
      type: SHT_PROGBITS,
      flags: SHF_COMPRESSED,
      data: compressed(pattern(100, 5)),
    },
  ]);
  new DataView(relocatable.buffer).setUint16(0x10, 1, true); // ET_REL
  assert.equal(planDebugImage(relocatable), undefined, "relocatable objects");

  const truncated = elf([
    {
      name: ".debug_info",
      type: SHT_PROGBITS,
      flags: SHF_COMPRESSED,
      data: compressed(pattern(100, 5)),
    },
  ]);
  assert.equal(planDebugImage(truncated.subarray(0, truncated.length - 10)), undefined);
  assert.equal(planDebugImage(new TextEncoder().encode("not an ELF file")), undefined);
});

Deno.test("UNREAD_SECTIONS are the ones pystack never asks libdw about", () => {
  for (const name of [".debug_info", ".debug_line", ".debug_str", ".debug_rnglists"]) {
    assert.ok(!UNREAD_SECTIONS.has(name), name);
  }
});
