import assert from "node:assert/strict";
import { parseSyscallStackPointer } from "./stack_pointers.ts";

Deno.test("parseSyscallStackPointer() reads the SP of a thread blocked in a syscall", () => {
  assert.equal(
    parseSyscallStackPointer(
      "230 0x1 0x1 0x7ffd37c96b20 0x0 0x0 0x0 0x7ffd37c96b08 0x7fb2cae9a503",
    ),
    0x7ffd37c96b08n,
  );
});

Deno.test("parseSyscallStackPointer() reads the SP of a thread stopped outside a syscall", () => {
  assert.equal(parseSyscallStackPointer("-1 0x7ffc10 0x401000\n"), 0x7ffc10n);
});

Deno.test("parseSyscallStackPointer() gives undefined for a running thread or junk", () => {
  assert.equal(parseSyscallStackPointer("running\n"), undefined);
  assert.equal(parseSyscallStackPointer(""), undefined);
  assert.equal(parseSyscallStackPointer("1 2 3"), undefined);
});
