/**
 * The GNU build id of an ELF file mapped in a process, read from the process's
 * memory (its first page, which the kernel dumps for every ELF mapping): ELF
 * header, program headers, then the `PT_NOTE` segments.
 *
 * @module
 */

import { parseNotes } from "../elf/elf_file.ts";
import { NT_GNU_BUILD_ID } from "../elf/core_notes.ts";

const PT_LOAD = 1;
const PT_NOTE = 4;

/** Reads memory, or returns `undefined` when the bytes are not available. */
export type MaybeRead = (address: bigint, length: number) => Uint8Array | undefined;

/**
 * Returns the build id (lower-case hex) of the ELF image mapped at `base`
 * (where its file offset 0 is mapped), or `undefined` when the bytes are not
 * there or hold no ELF image with a build id.
 *
 * @example Nothing readable
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildIdInMemory } from "./memory_build_id.ts";
 * assert.equal(buildIdInMemory(() => undefined, 0x1000n), undefined);
 * ```
 */
export function buildIdInMemory(read: MaybeRead, base: bigint): string | undefined {
  const header = read(base, 64);
  if (!header || header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c) return undefined;
  if (header[3] !== 0x46 || header[4] !== 2 || header[5] !== 1) return undefined;
  const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const phoff = dv.getBigUint64(32, true);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phentsize < 56 || phnum === 0 || phnum > 256 || phoff > 0x10000n) return undefined;
  const table = read(base + phoff, phentsize * phnum);
  if (!table) return undefined;
  const pv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const headers = Array.from({ length: phnum }, (_, i) => {
    const at = i * phentsize;
    return {
      type: pv.getUint32(at, true),
      offset: pv.getBigUint64(at + 8, true),
      vaddr: pv.getBigUint64(at + 16, true),
      filesz: pv.getBigUint64(at + 32, true),
      align: pv.getBigUint64(at + 48, true),
    };
  });
  const first = headers.find((h) => h.type === PT_LOAD && h.offset === 0n);
  if (!first) return undefined;
  const bias = base - first.vaddr;
  for (const note of headers.filter((h) => h.type === PT_NOTE && h.filesz <= 0x10000n)) {
    const bytes = read(bias + note.vaddr, Number(note.filesz));
    if (!bytes) continue;
    try {
      const id = parseNotes(bytes, note.align === 8n ? 8 : 4).find((n) =>
        n.name === "GNU" && n.type === NT_GNU_BUILD_ID
      );
      if (id) return [...id.desc].map((b) => b.toString(16).padStart(2, "0")).join("");
    } catch {
      // a malformed note segment: try the next one
    }
  }
  return undefined;
}
