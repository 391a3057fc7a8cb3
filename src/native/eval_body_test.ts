import assert from "node:assert/strict";
import { EvalBodyNamer, type EvalBodySearch, findEvalBody } from "./eval_body.ts";
import { bytesSource, ElfFile, fileSource } from "../elf/elf_file.ts";
import type { NativeFrame } from "../model.ts";
import { registerTest, type Skip } from "../../tests/_harness.ts";
import { isFile } from "../fs_checks.ts";

const SID = decodeURIComponent(new URL("../../.cache/pythons/", import.meta.url).pathname);
const SID_PYTHONS = ["3.13", "3.14", "3.15"].map((v) => `${SID}${v}-sid/usr/bin/python${v}`);
const SID_314 = SID_PYTHONS[1]!;
const LIBPYTHON_312 = `${
  Deno.env.get("PYENV_ROOT") ?? `${Deno.env.get("HOME")}/.pyenv`
}/versions/3.12.1/lib/libpython3.12.so.1.0`;

/** Why a test that reads `path` cannot run, if it is not there. */
function needs(path: string): Skip | undefined {
  if (isFile(path)) return undefined;
  if (!path.startsWith(SID)) return { reason: `${path} not found`, missing: true };
  // Missing unless scripts/get_pythons.ts recorded that Debian's mirror could not be reached.
  const unreachable = isFile(`${SID}unavailable.json`);
  return { reason: `${path} not found: run scripts/get_pythons.ts`, missing: !unreachable };
}

function run(command: string, args: string[]): string {
  const out = new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).outputSync();
  assert.ok(out.success, `${command} ${args.join(" ")}`);
  return new TextDecoder().decode(out.stdout);
}

/** Targets of the direct jumps (not calls) objdump finds in `[start, end)`. */
function objdumpJumps(path: string, start: bigint, end: bigint): bigint[] {
  const text = run("objdump", [
    "-d",
    "--no-show-raw-insn",
    `--start-address=0x${start.toString(16)}`,
    `--stop-address=0x${end.toString(16)}`,
    path,
  ]);
  return [...text.matchAll(/^\s*[0-9a-f]+:\t(?:\S+\s+)*?(j\w+)\s+([0-9a-f]+)(?: <|$)/gm)]
    .map((m) => BigInt(`0x${m[2]}`));
}

function search(path: string, exported = "_PyEval_EvalFrameDefault"): EvalBodySearch {
  using source = fileSource(path);
  return findEvalBody(new ElfFile(source), exported);
}

for (const path of SID_PYTHONS) {
  const version = /python(\d\.\d+)$/.exec(path)![1];
  registerTest(
    `findEvalBody() finds the unnamed part of Debian sid's ${version} evaluation loop`,
    needs(path),
    () => {
      const found = search(path);
      assert.ok("body" in found, "reason" in found ? found.reason : "");
      const { body } = found;
      assert.equal(body.name, "_PyEval_EvalFrameDefault.cold");
      // Checked against binutils: an FDE of its own, no symbol in it, and jumps both ways.
      const frames = run("readelf", ["--debug-dump=frames", path]);
      const fde = ` pc=${body.start.toString(16).padStart(16, "0")}..${
        body.end.toString(16).padStart(16, "0")
      }`;
      assert.ok(frames.includes(fde), `readelf lists an FDE${fde}`);
      const symbols = run("readelf", ["-sW", "--dyn-syms", path]).split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f[3] === "FUNC" && /^[0-9a-f]{16}$/.test(f[1] ?? ""));
      assert.ok(
        !symbols.some((f) => {
          const value = BigInt(`0x${f[1]}`);
          return body.start <= value && value < body.end;
        }),
        "no symbol inside the part",
      );
      const fn = symbols.find((f) => f[7] === "_PyEval_EvalFrameDefault")!;
      const fnStart = BigInt(`0x${fn[1]}`);
      const fnEnd = fnStart + BigInt(fn[2]!);
      assert.ok(body.end - body.start > 16n * (fnEnd - fnStart), "the loop is the big part");
      assert.ok(
        objdumpJumps(path, fnStart, fnEnd).some((t) => body.start <= t && t < body.end),
        "the exported code jumps into the part",
      );
      assert.ok(
        objdumpJumps(path, body.start, body.end).some((t) => fnStart < t && t < fnEnd),
        "the part jumps back into the exported code",
      );
    },
  );
}

registerTest(
  "findEvalBody() names nothing where the loop is whole (pyenv's libpython3.12)",
  needs(LIBPYTHON_312),
  () => {
    assert.deepEqual(search(LIBPYTHON_312), {
      reason: "0 unnamed parts of _PyEval_EvalFrameDefault found " +
        "(0 unnamed functions it jumps to), not 1",
    });
  },
);

/** `path`'s bytes, with the `.dynsym` entry of `name` and the section table at hand. */
function patchable(path: string) {
  const bytes = Deno.readFileSync(path);
  const elf = new ElfFile(bytesSource(bytes));
  const dynsym = elf.section(".dynsym")!;
  const strtab = elf.readSection(elf.sectionHeaders()[dynsym.link]!);
  const view = new DataView(bytes.buffer);
  const symbol = (name: string) => {
    const wanted = new TextEncoder().encode(`${name}\0`);
    for (let o = dynsym.offset; o < dynsym.offset + dynsym.size; o += 24) {
      const at = view.getUint32(o, true);
      if (wanted.every((b, i) => strtab[at + i] === b)) {
        return { entry: o, value: view.getBigUint64(o + 8, true) };
      }
    }
    throw new Error(`no ${name}`);
  };
  const fileOffset = (address: bigint) => {
    const text = elf.section(".text")!;
    return text.offset + Number(address - text.addr);
  };
  return { bytes, view, symbol, fileOffset };
}

registerTest(
  "findEvalBody() names nothing when a symbol lies in the part",
  needs(SID_314),
  () => {
    const found = search(SID_314);
    assert.ok("body" in found);
    const { bytes, view, symbol } = patchable(SID_314);
    view.setBigUint64(symbol("PyEval_EvalFrame").entry + 8, found.body.start + 0x100n, true);
    const patched = findEvalBody(new ElfFile(bytesSource(bytes)), "_PyEval_EvalFrameDefault");
    assert.ok("reason" in patched);
    assert.match(patched.reason, /^0 unnamed parts/);
  },
);

registerTest(
  "findEvalBody() names nothing when the exported code cannot be decoded",
  needs(SID_314),
  () => {
    const { bytes, symbol, fileOffset } = patchable(SID_314);
    bytes[fileOffset(symbol("_PyEval_EvalFrameDefault").value) + 4] = 0x06; // after endbr64
    const elf = new ElfFile(bytesSource(bytes));
    assert.deepEqual(findEvalBody(elf, "_PyEval_EvalFrameDefault"), {
      reason: "the code of _PyEval_EvalFrameDefault cannot be decoded",
    });
    assert.deepEqual(findEvalBody(elf, "no_such_function"), {
      reason: "no_such_function is not a function of the object",
    });
  },
);

const BODY: EvalBodySearch = {
  body: { start: 0x1000n, end: 0x2000n, function: "loop", name: "loop.cold" },
};

function frame(address: bigint, symbol?: string): NativeFrame {
  return { address, library: "python", inlined: false, ...(symbol ? { symbol } : {}) };
}

Deno.test("EvalBodyNamer.name() names the unnamed frames in the body, at run-time addresses", () => {
  let searches = 0;
  const namer = new EvalBodyNamer(() => {
    searches++;
    return BODY;
  }, { bias: 0x400000n, contains: (a) => a >= 0x400000n && a < 0x500000n });
  const named = [frame(0x401000n, "named")];
  assert.equal(namer.name(named, 0x401000n), named, "a named frame stays");
  const inlined = [frame(0x401000n), frame(0x401000n, "outer")];
  assert.equal(namer.name(inlined, 0x401000n), inlined, "several frames (inline calls) stay");
  const elsewhere = [frame(0x600000n)];
  assert.equal(namer.name(elsewhere, 0x600000n), elsewhere, "another object");
  assert.equal(searches, 0, "no search for frames it cannot name");
  assert.equal(namer.used, false);
  const outside = [frame(0x402000n)];
  assert.equal(namer.name(outside, 0x402000n), outside, "just past the body");
  assert.equal(namer.used, false);
  const inside = [frame(0x401fffn)];
  assert.deepEqual(namer.name(inside, 0x401fffn), [frame(0x401fffn, "loop.cold")]);
  assert.equal(inside[0]!.symbol, undefined, "the symbolizer's frame is not changed");
  assert.equal(namer.used, true);
  namer.name([frame(0x401800n)], 0x401800n);
  assert.equal(searches, 1, "searched once");
  assert.deepEqual(namer.search, BODY);
});

Deno.test("EvalBodyNamer.name() names nothing without a body", () => {
  const namer = new EvalBodyNamer(() => ({ reason: "none" }), { bias: 0n, contains: () => true });
  const frames = [frame(0x1500n)];
  assert.equal(namer.name(frames, 0x1500n), frames);
  assert.equal(namer.used, false);
});
