import assert from "node:assert/strict";
import { fdeRanges, hdrFinder, rangeAt } from "./eh_frame.ts";
import { ElfFile, ElfFormatError, fileSource } from "./elf_file.ts";

/** Builds `.eh_frame` bytes entry by entry (little-endian). */
class EhFrame {
  readonly bytes: number[] = [];

  #u32(at: number, value: number): void {
    const b = new Uint8Array(new Uint32Array([value >>> 0]).buffer);
    for (let i = 0; i < 4; i++) this.bytes[at + i] = b[i]!;
  }

  /** A CIE with augmentation `aug` and its data; returns its offset. */
  cie(aug: string, data: number[], version = 1): number {
    const at = this.bytes.length;
    const body = [0, 0, 0, 0, version, ...[...aug].map((c) => c.charCodeAt(0)), 0];
    if (version >= 4) body.push(8, 0);
    body.push(1, 0x78, 16); // code align 1, data align -8, return register 16
    if (aug.startsWith("z")) body.push(data.length, ...data);
    while ((body.length + 4) % 8 !== 0) body.push(0);
    this.bytes.push(0, 0, 0, 0, ...body);
    this.#u32(at, body.length);
    return at;
  }

  /** An FDE of `cie` whose pc_begin and pc_range are the given raw bytes. */
  fde(cie: number, pcBegin: number[], pcRange: number[], aug = true): number {
    const at = this.bytes.length;
    const body = [0, 0, 0, 0, ...pcBegin, ...pcRange];
    if (aug) body.push(0);
    while ((body.length + 4) % 8 !== 0) body.push(0);
    this.bytes.push(0, 0, 0, 0, ...body);
    this.#u32(at, body.length);
    this.#u32(at + 4, at + 4 - cie);
    return at;
  }

  /** pc_begin for a pcrel|sdata4 FDE at `fdeAt` of a section at `address`, pointing at `target`. */
  static pcrel4(address: number, fdeAt: number, target: number): number[] {
    return le(target - (address + fdeAt + 8), 4);
  }

  done(): Uint8Array {
    return new Uint8Array([...this.bytes, 0, 0, 0, 0]);
  }
}

function le(value: number, size: 2 | 4 | 8): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(size * 8, BigInt(value));
  for (let i = 0; i < size; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

Deno.test("fdeRanges() reads PC-relative and absolute FDEs, sorted by start", () => {
  const section = 0x400;
  const f = new EhFrame();
  const zr = f.cie("zR", [0x1b]); // pcrel | sdata4
  const next = f.bytes.length;
  f.fde(zr, EhFrame.pcrel4(section, next, 0x3000), le(0x40, 4));
  const abs = f.cie("zR", [0x04], 4); // udata8, version 4 (address and segment sizes)
  f.fde(abs, le(0x1000, 8), le(0x20, 8));
  const plain = f.cie("", []); // no augmentation: absolute 8-byte pointers
  f.fde(plain, le(0x2000, 8), le(0x10, 8), false);
  const empty = f.bytes.length;
  f.fde(zr, EhFrame.pcrel4(section, empty, 0x5000), le(0, 4)); // pc_range 0: left out
  assert.deepEqual(fdeRanges(f.done(), BigInt(section)), [
    { start: 0x1000n, end: 0x1020n },
    { start: 0x2000n, end: 0x2010n },
    { start: 0x3000n, end: 0x3040n },
  ]);
});

Deno.test("fdeRanges() skips a personality and LSDA encoding before R", () => {
  const f = new EhFrame();
  // zPLR: personality encoding 0x9b (indirect pcrel sdata4) + 4 bytes, LSDA 0x1b, R 0x03 (udata4).
  const cie = f.cie("zPLR", [0x9b, 1, 2, 3, 4, 0x1b, 0x03]);
  f.fde(cie, le(0x7000, 4), le(0x30, 4), true);
  assert.deepEqual(fdeRanges(f.done(), 0n), [{ start: 0x7000n, end: 0x7030n }]);
});

Deno.test("fdeRanges() rejects what it cannot read", () => {
  const datarel = new EhFrame();
  datarel.fde(datarel.cie("zR", [0x3b]), le(0, 4), le(4, 4));
  assert.throws(() => fdeRanges(datarel.done(), 0n), ElfFormatError, "datarel pointers");

  const cut = new EhFrame();
  cut.fde(cut.cie("zR", [0x03]), le(0x10, 4), le(4, 4));
  const bytes = cut.done().slice(0, cut.bytes.length - 6);
  assert.throws(() => fdeRanges(bytes, 0n), ElfFormatError, "an entry past the end");

  const orphan = new EhFrame();
  orphan.fde(-1000, le(0x10, 4), le(4, 4));
  assert.throws(() => fdeRanges(orphan.done(), 0n), ElfFormatError, "an FDE without CIE");
});

Deno.test("rangeAt() finds the range holding an address", () => {
  const ranges = [
    { start: 0x10n, end: 0x20n },
    { start: 0x30n, end: 0x38n },
    { start: 0x38n, end: 0x40n },
  ];
  assert.equal(rangeAt(ranges, 0xfn), undefined);
  assert.deepEqual(rangeAt(ranges, 0x10n), ranges[0]);
  assert.deepEqual(rangeAt(ranges, 0x1fn), ranges[0]);
  assert.equal(rangeAt(ranges, 0x20n), undefined, "between two ranges");
  assert.deepEqual(rangeAt(ranges, 0x38n), ranges[2]);
  assert.equal(rangeAt(ranges, 0x40n), undefined);
  assert.equal(rangeAt([], 0n), undefined);
});

Deno.test("fdeRanges() agrees with readelf on /usr/bin/python3.11", () => {
  const path = "/usr/bin/python3.11";
  using source = fileSource(path);
  const elf = new ElfFile(source);
  const section = elf.section(".eh_frame")!;
  const ranges = fdeRanges(elf.readSection(section), section.addr);
  const dump = new TextDecoder().decode(
    new Deno.Command("readelf", { args: ["--debug-dump=frames", path], stdout: "piped" })
      .outputSync().stdout,
  );
  const expected = [...dump.matchAll(/ FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/g)]
    .map((m) => ({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
  assert.ok(expected.length > 1000);
  assert.deepEqual(ranges, expected);
});

Deno.test("hdrFinder() looks FDEs up through .eh_frame_hdr as rangeAt() finds them", () => {
  using source = fileSource("/usr/bin/python3.11");
  const elf = new ElfFile(source);
  const ehFrame = elf.section(".eh_frame")!;
  const hdr = elf.section(".eh_frame_hdr")!;
  const frames = { bytes: elf.readSection(ehFrame), address: ehFrame.addr };
  const find = hdrFinder({ bytes: elf.readSection(hdr), address: hdr.addr }, frames);
  assert.ok(find !== undefined, "a datarel|sdata4 table");
  const ranges = fdeRanges(frames.bytes, frames.address);
  const probes = ranges.flatMap((r) => [r.start - 1n, r.start, r.end - 1n, r.end]);
  for (const address of probes) assert.deepEqual(find(address), rangeAt(ranges, address));
});

Deno.test("hdrFinder() declines tables it does not read", () => {
  const frames = { bytes: new Uint8Array(4), address: 0n };
  const header = (table: number) => ({
    bytes: new Uint8Array([1, 0x1b, 0x03, table, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    address: 0n,
  });
  assert.ok(hdrFinder(header(0x3b), frames) !== undefined);
  assert.equal(hdrFinder(header(0xff), frames), undefined, "no table");
  assert.equal(hdrFinder(header(0x03), frames), undefined, "absolute udata4 entries");
  assert.equal(
    hdrFinder({ bytes: new Uint8Array([2, 0x1b, 0x03, 0x3b]), address: 0n }, frames),
    undefined,
    "version 2",
  );
});
