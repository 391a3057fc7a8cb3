import assert from "node:assert/strict";
import { type Branch, directBranches } from "./x86_branches.ts";
import { ElfFile, fileSource } from "../elf/elf_file.ts";
import { registerTest } from "../../tests/_harness.ts";
import { isFile } from "../fs_checks.ts";

const hex = (text: string) =>
  new Uint8Array(text.trim().split(/\s+/).map((byte) => parseInt(byte, 16)));

Deno.test("directBranches() steps over prefixes, REX, ModRM, SIB, displacements and immediates", () => {
  const code = hex(`
    f3 0f 1e fa
    55
    48 89 e5
    48 81 ec d0 02 00 00
    48 8b 84 24 50 03 00 00
    8b 05 10 00 00 00
    66 c7 40 48 01 00
    48 b8 88 77 66 55 44 33 22 11
    f6 c2 01
    f7 c1 00 00 01 00
    f7 d8
    66 0f 3a 0f c1 08
    66 0f 6f 05 00 01 00 00
    0f 1f 84 00 00 00 00 00
    c3`);
  assert.deepEqual(directBranches(code, 0x400000n), []);
});

Deno.test("directBranches() reports jmp, jcc and call with their targets", () => {
  const code = hex(`
    e8 fb ff ff ff
    0f 84 f6 ff ff ff
    74 00
    e9 00 10 00 00
    eb fe
    ff d0
    ff 60 30`);
  const expected: Branch[] = [
    { at: 0x1000n, target: 0x1000n, kind: "call" },
    { at: 0x1005n, target: 0x1001n, kind: "jcc" },
    { at: 0x100bn, target: 0x100dn, kind: "jcc" },
    { at: 0x100dn, target: 0x2012n, kind: "jmp" },
    { at: 0x1012n, target: 0x1012n, kind: "jmp" },
  ];
  assert.deepEqual(directBranches(code, 0x1000n), expected);
});

Deno.test("directBranches() knows nothing rather than something wrong", () => {
  const cases: [string, string][] = [
    ["a call cut short", "e8 00 00"],
    ["a ModRM cut short", "48 8b"],
    ["an opcode invalid in 64-bit mode", "90 06"],
    ["VEX", "c5 f8 77"],
    ["3DNow!", "0f 0f c1 9e"],
    ["a REX before a prefix", "48 66 90"],
    ["more than 15 bytes", "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90"],
  ];
  for (const [what, bytes] of cases) {
    assert.equal(directBranches(hex(bytes), 0n), undefined, what);
  }
});

const SID_PYTHON = decodeURIComponent(
  new URL("../../.cache/pythons/3.14-sid/usr/bin/python3.14", import.meta.url).pathname,
);

function objdumpAvailable(): boolean {
  try {
    return new Deno.Command("objdump", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** The direct branches objdump finds in `[start, start + size)` of `path`. */
function objdumpBranches(path: string, start: bigint, size: number): Branch[] {
  const output = new Deno.Command("objdump", {
    args: [
      "-d",
      "--no-show-raw-insn",
      `--start-address=0x${start.toString(16)}`,
      `--stop-address=0x${(start + BigInt(size)).toString(16)}`,
      path,
    ],
    stdout: "piped",
  }).outputSync();
  const branches: Branch[] = [];
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    const m =
      /^\s*([0-9a-f]+):\t(?:(?:bnd|notrack|data16|cs|ds|rex\S*)\s+)*(\S+)\s+([0-9a-f]+)(?:\s+<.*>)?$/
        .exec(line);
    if (m === null) continue;
    const mnemonic = m[2]!;
    const kind = mnemonic === "call"
      ? "call"
      : mnemonic === "jmp"
      ? "jmp"
      : /^(j|loop)/.test(mnemonic)
      ? "jcc"
      : undefined;
    if (kind !== undefined) {
      branches.push({ at: BigInt(`0x${m[1]}`), target: BigInt(`0x${m[3]}`), kind });
    }
  }
  return branches;
}

const OBJDUMP_TEST =
  "directBranches() agrees with objdump on Debian sid's _PyEval_EvalFrameDefault";

registerTest(
  OBJDUMP_TEST,
  !isFile(SID_PYTHON)
    ? {
      reason: `${SID_PYTHON} not found: run scripts/get_pythons.ts`,

      missing: !isFile(SID_PYTHON.replace(/3\.14-sid\/.*$/, "unavailable.json")),
    }
    : !objdumpAvailable()
    ? { reason: "objdump (binutils) not found", missing: true }
    : undefined,
  () => {
    using source = fileSource(SID_PYTHON);
    const elf = new ElfFile(source);
    const symbols = new TextDecoder().decode(
      new Deno.Command("readelf", { args: ["-sW", "--dyn-syms", SID_PYTHON], stdout: "piped" })
        .outputSync().stdout,
    );
    const row = symbols.split("\n").map((l) => l.trim().split(/\s+/)).find((f) =>
      f[7] === "_PyEval_EvalFrameDefault"
    );
    assert.ok(row, "readelf lists _PyEval_EvalFrameDefault");
    const start = BigInt(`0x${row[1]}`);
    const size = Number(row[2]);
    const text = elf.section(".text")!;
    const bytes = elf.readSection(text).subarray(
      Number(start - text.addr),
      Number(start - text.addr) + size,
    );
    const branches = directBranches(bytes, start);
    assert.ok(branches !== undefined, "decoded to its last byte");
    assert.ok(branches.length > 20);
    assert.deepEqual(branches, objdumpBranches(SID_PYTHON, start, size));
  },
);
