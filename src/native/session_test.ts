import assert from "node:assert/strict";
import { parseMaps } from "../elf/maps.ts";
import { fileStartFixes } from "./session.ts";

const FFI = "/usr/lib/x86_64-linux-gnu/libffi.so.8.5.0";
const LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6";

// Debian sid's libffi 3.5: its static trampolines (file offset 0xd000) mapped below the library.
const MAPS = parseMaps(
  [
    `7f62a98a0000-7f62a98a1000 r-xp 0000d000 fe:00 5321800    ${FFI}`,
    `7f62a98a1000-7f62a98a2000 rw-p 00000000 00:00 0`,
    `7f62a98a2000-7f62a98a4000 r--p 00000000 fe:00 5321800    ${FFI}`,
    `7f62a98a4000-7f62a98b1000 r-xp 00002000 fe:00 5321800    ${FFI}`,
    `7f62a98b4000-7f62a98b5000 rw-p 00012000 fe:00 5321800    ${FFI}`,
    `7f62a9a00000-7f62a9a28000 r--p 00000000 fe:00 5321700    ${LIBC}`,
    `7f62a9a28000-7f62a9bb0000 r-xp 00028000 fe:00 5321700    ${LIBC}`,
    `7ffd5e1f0000-7ffd5e1f2000 r-xp 00000000 00:00 0          [vdso]`,
  ].join("\n"),
);

Deno.test("fileStartFixes: a module that starts below its file's header starts at the header", () => {
  const fixes = fileStartFixes([
    { name: FFI, start: 0x7f62a98a0000n, end: 0x7f62a98b5000n },
    { name: LIBC, start: 0x7f62a9a00000n, end: 0x7f62a9bb0000n },
    { name: "[vdso: 42]", start: 0x7ffd5e1f0000n, end: 0x7ffd5e1f2000n },
  ], MAPS);
  assert.deepEqual([...fixes], [[0, 0x7f62a98a2000n]]);
});

Deno.test("fileStartFixes: modules without their file's header in range are left alone", () => {
  const fixes = fileStartFixes([
    // The trampoline page alone (not next to the library): no offset-0 mapping in its range.
    { name: FFI, start: 0x7f62a98a0000n, end: 0x7f62a98a1000n },
    { name: FFI, start: 0x7f62a98a2000n, end: 0x7f62a98b5000n },
    { name: "/not/mapped.so", start: 0x1000n, end: 0x2000n },
  ], MAPS);
  assert.deepEqual([...fixes], []);
});
