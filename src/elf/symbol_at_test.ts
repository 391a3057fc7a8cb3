import assert from "node:assert/strict";
import { ElfFile, fileSource } from "./elf_file.ts";
import { symbolAt } from "./symbol_at.ts";

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";

Deno.test("symbolAt() names the function holding an address, with the offset into it", () => {
  using source = fileSource(LIBC);
  const elf = new ElfFile(source);
  const found = elf.findSymbols(["abort", "raise"]);
  const abort = found.get("abort")!;
  assert.deepEqual(symbolAt(elf, abort), { name: "abort", offset: 0n });
  assert.deepEqual(symbolAt(elf, abort + 17n), { name: "abort", offset: 17n });
  // An alias at the same address (raise and gsignal) may name it.
  const raise = symbolAt(elf, found.get("raise")! + 1n)!;
  assert.equal(raise.offset, 1n);
  assert.equal(elf.findSymbols([raise.name]).get(raise.name), found.get("raise"));
});

Deno.test("symbolAt() gives undefined outside every function, not the nearest symbol", () => {
  using source = fileSource(LIBC);
  const elf = new ElfFile(source);
  assert.equal(symbolAt(elf, 0n), undefined);
  assert.equal(symbolAt(elf, 0xffff_ffff_0000n), undefined);
});
