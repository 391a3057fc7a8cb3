/**
 * The layout of a separate debug file (`/usr/lib/debug/.build-id/…`) with
 * its compressed DWARF sections stored uncompressed: same sections, same
 * section numbers, same contents once decompressed. libdw decompresses
 * every compressed `.debug_*` section as soon as it opens a file (elfutils
 * 0.188), the location lists and macros too, which pystack never reads;
 * handing it this image instead lets pystack decompress only what it reads,
 * with a faster decompressor. Pure: plans and writes headers over bytes.
 *
 * @module
 */

import { parseElfHeader } from "./elf_file.ts";

/** One section's bytes in the image. */
export interface ImageSection {
  /** The section's index (unchanged in the image). */
  index: number;
  name: string;
  /** `copy`: `size` bytes at `from`; `inflate`: a zlib stream of `fromSize` bytes at `from`. */
  action: "copy" | "inflate";
  from: number;
  fromSize: number;
  /** Where its bytes go in the image, and how many there are. */
  to: number;
  size: number;
}

/** What {@linkcode planDebugImage} decided. */
export interface DebugImagePlan {
  /** The image's size in bytes. */
  size: number;
  /** Where the program and section header tables go. */
  phoff: number;
  shoff: number;
  /** Sections with bytes, in file order; a `NOBITS` or dropped section has none. */
  sections: ImageSection[];
  /** New `sh_offset`/`sh_size`/`sh_flags`/`sh_addralign`/`sh_type` per section index. */
  headers: SectionPatch[];
  /** Names of the compressed sections left out (libdw sees them as `SHT_NOBITS`). */
  dropped: string[];
  /** Bytes of compressed data that will be inflated. */
  inflatedFrom: number;
}

/** The fields of one section header that change in the image. */
export interface SectionPatch {
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  addralign: bigint;
}

/**
 * Compressed sections pystack never reads, left out of the image: variable
 * locations and macros (libdw would otherwise decompress them on open; for
 * Debian's python3.11 `.debug_loclists` is a quarter of the DWARF).
 */
export const UNREAD_SECTIONS: ReadonlySet<string> = new Set([
  ".debug_loc",
  ".debug_loclists",
  ".debug_macro",
  ".debug_macinfo",
]);

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const CHDR_SIZE = 24;
const ET_EXEC = 2;
const ET_DYN = 3;
const SHT_NOBITS = 8;
const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;
const SHN_XINDEX = 0xffff;
/** Larger images are not built (libdw decompresses such files itself). */
const MAX_IMAGE = 2 ** 31;

interface RawSection {
  name: number;
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  addralign: bigint;
}

function alignUp(value: number, align: bigint): number {
  const a = align > 1n && align <= 4096n ? Number(align) : 1;
  return Math.ceil(value / a) * a;
}

function cName(bytes: Uint8Array, start: number, end: number): string | undefined {
  let i = start;
  while (i < end && bytes[i] !== 0) i++;
  return i < end ? new TextDecoder().decode(bytes.subarray(start, i)) : undefined;
}

/**
 * Plans the uncompressed image of the ELF file `bytes`.
 *
 * @param bytes the whole file
 * @returns the plan, or undefined when there is nothing to gain or the file is
 * not one this handles: not a 64-bit little-endian `EXEC`/`DYN` file, no zlib
 * section to inflate, a section compressed otherwise, extended section
 * numbering, or out-of-bounds headers (libdw then reads the file itself)
 *
 * @example A file that is not ELF has no plan
 * ```ts
 * import { planDebugImage } from "./debug_image.ts";
 * import assert from "node:assert/strict";
 * assert.equal(planDebugImage(new Uint8Array(64)), undefined);
 * ```
 */
export function planDebugImage(bytes: Uint8Array): DebugImagePlan | undefined {
  let header;
  try {
    header = parseElfHeader(bytes);
  } catch {
    return undefined;
  }
  if (header.type !== ET_EXEC && header.type !== ET_DYN) return undefined;
  const { shoff, shnum, phoff, phnum } = header;
  if (
    shnum === 0 || header.shstrndx === SHN_XINDEX || header.shstrndx >= shnum ||
    header.shentsize !== SHDR_SIZE || (phnum > 0 && header.phentsize !== PHDR_SIZE) ||
    phnum === 0xffff || shoff + shnum * SHDR_SIZE > bytes.length ||
    phoff + phnum * PHDR_SIZE > bytes.length
  ) {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw: RawSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    const offset = view.getBigUint64(at + 24, true);
    const size = view.getBigUint64(at + 32, true);
    const type = view.getUint32(at + 4, true);
    if (type !== SHT_NOBITS && i > 0 && offset + size > BigInt(bytes.length)) return undefined;
    raw.push({
      name: view.getUint32(at, true),
      type,
      flags: view.getBigUint64(at + 8, true),
      offset: Number(offset),
      size: Number(size),
      addralign: view.getBigUint64(at + 48, true),
    });
  }
  const strtab = raw[header.shstrndx]!;
  const nameOf = (s: RawSection) =>
    cName(bytes, strtab.offset + s.name, strtab.offset + strtab.size) ?? "";

  let at = EHDR_SIZE;
  const newPhoff = phnum > 0 ? at : 0;
  at += phnum * PHDR_SIZE;
  const sections: ImageSection[] = [];
  const headers: SectionPatch[] = [];
  const dropped: string[] = [];
  let inflatedFrom = 0;
  for (let i = 0; i < shnum; i++) {
    const s = raw[i]!;
    const patch: SectionPatch = {
      type: s.type,
      flags: s.flags,
      offset: s.offset,
      size: s.size,
      addralign: s.addralign,
    };
    headers.push(patch);
    if (i === 0) continue;
    if (s.type === SHT_NOBITS) {
      patch.offset = at;
      continue;
    }
    const name = nameOf(s);
    if ((s.flags & SHF_COMPRESSED) === 0n) {
      at = alignUp(at, s.addralign);
      sections.push({
        index: i,
        name,
        action: "copy",
        from: s.offset,
        fromSize: s.size,
        to: at,
        size: s.size,
      });
      patch.offset = at;
      at += s.size;
      continue;
    }
    if (s.size < CHDR_SIZE) return undefined;
    if (view.getUint32(s.offset, true) !== ELFCOMPRESS_ZLIB) return undefined;
    const size = Number(view.getBigUint64(s.offset + 8, true));
    const addralign = view.getBigUint64(s.offset + 16, true);
    patch.flags = s.flags & ~SHF_COMPRESSED;
    patch.addralign = addralign;
    if (UNREAD_SECTIONS.has(name)) {
      dropped.push(name);
      patch.type = SHT_NOBITS;
      patch.offset = at;
      patch.size = 0;
      continue;
    }
    at = alignUp(at, addralign);
    sections.push({
      index: i,
      name,
      action: "inflate",
      from: s.offset + CHDR_SIZE,
      fromSize: s.size - CHDR_SIZE,
      to: at,
      size,
    });
    inflatedFrom += s.size - CHDR_SIZE;
    patch.offset = at;
    patch.size = size;
    at += size;
    if (at > MAX_IMAGE) return undefined;
  }
  if (inflatedFrom === 0) return undefined;
  const newShoff = alignUp(at, 8n);
  const size = newShoff + shnum * SHDR_SIZE;
  if (size > MAX_IMAGE) return undefined;
  return {
    size,
    phoff: newPhoff,
    shoff: newShoff,
    sections,
    headers,
    dropped,
    inflatedFrom,
  };
}

/**
 * Writes the image of `bytes` planned by {@linkcode planDebugImage} into
 * `out` (`plan.size` bytes, zero-filled): the ELF header, program headers,
 * section headers and every copied section. The `inflate` sections are left
 * for the caller to decompress into place.
 *
 * @example The image of a file, its sections inflated with node:zlib
 * ```ts
 * import { planDebugImage, writeDebugImage } from "./debug_image.ts";
 * import { inflateSync } from "node:zlib";
 * import assert from "node:assert/strict";
 *
 * function image(file: Uint8Array): Uint8Array | undefined {
 *   const plan = planDebugImage(file);
 *   if (plan === undefined) return undefined;
 *   const out = new Uint8Array(plan.size);
 *   writeDebugImage(file, plan, out);
 *   for (const s of plan.sections) {
 *     if (s.action !== "inflate") continue;
 *     out.set(inflateSync(file.subarray(s.from, s.from + s.fromSize)), s.to);
 *   }
 *   return out;
 * }
 * assert.equal(image(Deno.readFileSync("/bin/sh")), undefined); // nothing compressed in it
 * ```
 */
export function writeDebugImage(bytes: Uint8Array, plan: DebugImagePlan, out: Uint8Array): void {
  const inView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const header = parseElfHeader(bytes);
  out.set(bytes.subarray(0, EHDR_SIZE), 0);
  outView.setBigUint64(0x20, BigInt(plan.phoff), true);
  outView.setBigUint64(0x28, BigInt(plan.shoff), true);
  // Program headers: a segment that starts where a section started moves with it.
  const moved = new Map<number, number>();
  for (const s of plan.sections) if (s.fromSize > 0) moved.set(s.from, s.to);
  for (let i = 0; i < plan.headers.length; i++) {
    const original = inView.getBigUint64(header.shoff + i * SHDR_SIZE + 24, true);
    const patch = plan.headers[i]!;
    if (!moved.has(Number(original)) && patch.type !== SHT_NOBITS) {
      moved.set(Number(original), patch.offset);
    }
  }
  for (let i = 0; i < header.phnum; i++) {
    const from = header.phoff + i * PHDR_SIZE;
    const to = plan.phoff + i * PHDR_SIZE;
    out.set(bytes.subarray(from, from + PHDR_SIZE), to);
    const offset = Number(inView.getBigUint64(from + 8, true));
    const now = moved.get(offset);
    if (now !== undefined) outView.setBigUint64(to + 8, BigInt(now), true);
  }
  for (let i = 0; i < plan.headers.length; i++) {
    const from = header.shoff + i * SHDR_SIZE;
    const to = plan.shoff + i * SHDR_SIZE;
    out.set(bytes.subarray(from, from + SHDR_SIZE), to);
    if (i === 0) continue;
    const patch = plan.headers[i]!;
    outView.setUint32(to + 4, patch.type, true);
    outView.setBigUint64(to + 8, patch.flags, true);
    outView.setBigUint64(to + 24, BigInt(patch.offset), true);
    outView.setBigUint64(to + 32, BigInt(patch.size), true);
    outView.setBigUint64(to + 48, patch.addralign, true);
  }
  for (const s of plan.sections) {
    if (s.action === "copy") out.set(bytes.subarray(s.from, s.from + s.size), s.to);
  }
}
