/**
 * The direct branches of a piece of x86-64 machine code: an instruction
 * length decoder for the general-purpose, x87 and SSE instructions that
 * compilers emit (legacy prefixes, REX, the one-byte map, the `0F`, `0F 38`
 * and `0F 3A` maps), reporting each `jmp`, `jcc` and `call` with a relative
 * target. Anything else (VEX/EVEX, an opcode invalid in 64-bit mode, an
 * instruction cut at the end) ends the decoding with `undefined`: callers
 * then know nothing, never something wrong.
 *
 * @module
 */

/** One direct branch: where it is, where it goes, and what kind it is. */
export interface Branch {
  /** Address of the branch instruction. */
  at: bigint;
  /** Its target (the address after it plus its displacement). */
  target: bigint;
  /** `call` pushes a return address; `jmp` and `jcc` (conditional) do not. */
  kind: "call" | "jmp" | "jcc";
}

/** Legacy prefixes: operand size, address size, lock, rep, segments. */
const PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]);

/** One-byte opcodes invalid in 64-bit mode (and `C4`/`C5`/`62`: VEX and EVEX, not decoded). */
const INVALID_1 = new Set([
  0x06,
  0x07,
  0x0e,
  0x16,
  0x17,
  0x1e,
  0x1f,
  0x27,
  0x2f,
  0x37,
  0x3f,
  0x60,
  0x61,
  0x62,
  0x82,
  0x9a,
  0xc4,
  0xc5,
  0xce,
  0xd4,
  0xd5,
  0xd6,
  0xea,
]);

/** What follows a one-byte opcode (other than its ModRM): immediate size in bytes or a rule. */
type Immediate = 0 | 1 | 2 | 3 | "z" | "v" | "moffs" | "group3";

interface OpInfo {
  modrm: boolean;
  imm: Immediate;
}

function oneByte(op: number): OpInfo {
  if (op < 0x40) {
    // ALU rows: r/m,r r,r/m (ModRM); AL,imm8; eAX,imm32.
    const low = op & 7;
    if (low < 4) return { modrm: true, imm: 0 };
    return { modrm: false, imm: low === 4 ? 1 : "z" };
  }
  if (op < 0x60) return { modrm: false, imm: 0 }; // REX handled before; push/pop
  if (op === 0x63) return { modrm: true, imm: 0 }; // movsxd
  if (op === 0x68) return { modrm: false, imm: "z" };
  if (op === 0x69) return { modrm: true, imm: "z" };
  if (op === 0x6a) return { modrm: false, imm: 1 };
  if (op === 0x6b) return { modrm: true, imm: 1 };
  if (op < 0x70) return { modrm: false, imm: 0 }; // ins/outs
  if (op < 0x80) return { modrm: false, imm: 1 }; // jcc rel8
  if (op === 0x80 || op === 0x83) return { modrm: true, imm: 1 };
  if (op === 0x81) return { modrm: true, imm: "z" };
  if (op < 0x90) return { modrm: true, imm: 0 }; // test, xchg, mov, lea, pop r/m
  if (op < 0xa0) return { modrm: false, imm: 0 };
  if (op < 0xa4) return { modrm: false, imm: "moffs" };
  if (op === 0xa8) return { modrm: false, imm: 1 };
  if (op === 0xa9) return { modrm: false, imm: "z" };
  if (op < 0xb0) return { modrm: false, imm: 0 }; // string instructions
  if (op < 0xb8) return { modrm: false, imm: 1 };
  if (op < 0xc0) return { modrm: false, imm: "v" }; // mov r, imm32/imm64
  if (op === 0xc0 || op === 0xc1 || op === 0xc6) return { modrm: true, imm: 1 };
  if (op === 0xc2 || op === 0xca) return { modrm: false, imm: 2 };
  if (op === 0xc7) return { modrm: true, imm: "z" };
  if (op === 0xc8) return { modrm: false, imm: 3 };
  if (op === 0xcd) return { modrm: false, imm: 1 };
  if (op < 0xd0) return { modrm: false, imm: 0 };
  if (op < 0xd4) return { modrm: true, imm: 0 }; // shift groups
  if (op === 0xd7) return { modrm: false, imm: 0 };
  if (op < 0xe0) return { modrm: true, imm: 0 }; // x87
  if (op < 0xe8) return { modrm: false, imm: 1 }; // loop, jrcxz, in/out imm8
  if (op === 0xeb) return { modrm: false, imm: 1 };
  if (op < 0xf6) return { modrm: false, imm: 0 };
  if (op === 0xf6 || op === 0xf7) return { modrm: true, imm: "group3" };
  if (op < 0xfe) return { modrm: false, imm: 0 };
  return { modrm: true, imm: 0 }; // FE, FF groups
}

/** `0F xx`: whether it has a ModRM byte and how many immediate bytes follow. */
function twoByte(op: number): { modrm: boolean; imm: number } | undefined {
  if (op === 0x38) return undefined; // three-byte maps: decoded by the caller
  if (op === 0x3a) return undefined;
  if ([0x04, 0x0a, 0x0c, 0x0f, 0x24, 0x25, 0x26, 0x27, 0x36, 0x39].includes(op)) return undefined;
  if (op >= 0x3b && op <= 0x3f) return undefined;
  if (
    [0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x77, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa].includes(
      op,
    )
  ) {
    return { modrm: false, imm: 0 };
  }
  if (op >= 0x30 && op <= 0x37) return { modrm: false, imm: 0 }; // wrmsr … getsec
  if (op >= 0x80 && op <= 0x8f) return { modrm: false, imm: 4 }; // jcc rel32
  if (op >= 0xc8 && op <= 0xcf) return { modrm: false, imm: 0 }; // bswap
  if (op >= 0x70 && op <= 0x73) return { modrm: true, imm: 1 }; // pshuf*, shift groups
  if ([0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6].includes(op)) return { modrm: true, imm: 1 };
  return { modrm: true, imm: 0 };
}

/** `oneByte` and `twoByte` for every opcode, and which bytes are prefixes, computed once. */
const ONE_BYTE: readonly OpInfo[] = Array.from({ length: 256 }, (_, op) => oneByte(op));
const TWO_BYTE: readonly ({ modrm: boolean; imm: number } | undefined)[] = Array.from(
  { length: 256 },
  (_, op) => twoByte(op),
);
const IS_PREFIX: readonly boolean[] = Array.from({ length: 256 }, (_, b) => PREFIXES.has(b));
const IS_INVALID: readonly boolean[] = Array.from({ length: 256 }, (_, b) => INVALID_1.has(b));

/** Direct branch opcodes of the one-byte map: displacement size and kind. */
const SHORT_BRANCHES: readonly ({ size: 1 | 4; kind: Branch["kind"] } | undefined)[] = Array
  .from({ length: 256 }, (_, op) => {
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3)) {
      return { size: 1, kind: "jcc" }; // jcc rel8, loop*, jrcxz
    }
    if (op === 0xeb) return { size: 1, kind: "jmp" };
    if (op === 0xe9) return { size: 4, kind: "jmp" };
    if (op === 0xe8) return { size: 4, kind: "call" };
    return undefined;
  });

/** What decoding one instruction leaves besides its length. */
interface Decoded {
  /** The `reg` field of its ModRM byte. */
  reg: number;
  /** Set when it is a direct branch. */
  branch: { size: 1 | 4; kind: Branch["kind"] } | undefined;
}

/**
 * Bytes of the ModRM byte at `at` and what it implies (SIB, displacement), or -1 when the code
 * ends first. Its `reg` field is left in `out.reg`.
 */
function modrmLength(code: Uint8Array, at: number, out: Decoded): number {
  if (at >= code.length) return -1;
  const modrm = code[at]!;
  const mod = modrm >> 6;
  const rm = modrm & 7;
  out.reg = (modrm >> 3) & 7;
  if (mod === 3) return 1;
  let length = 1;
  if (rm === 4) {
    if (at + 1 >= code.length) return -1;
    length++;
    if (mod === 0 && (code[at + 1]! & 7) === 5) length += 4;
  }
  if (mod === 0 && rm === 5) length += 4; // RIP-relative
  else if (mod === 1) length += 1;
  else if (mod === 2) length += 4;
  return length;
}

/**
 * Decodes `code` (placed at `address`) from its first byte to its last,
 * instruction by instruction, and lists its direct branches.
 *
 * @param code the machine code of whole instructions (a function's bytes)
 * @param address where `code` starts in the address space its branches refer to
 * @returns the branches in address order, or `undefined` when an instruction cannot be
 * decoded or the last one does not end exactly at the end of `code`
 *
 * @example Decoding a jump and a call
 * ```ts
 * import { directBranches } from "./x86_branches.ts";
 * import assert from "node:assert/strict";
 * // push rbp; call +0; jmp -7 (back to the call); ret
 * const code = new Uint8Array([0x55, 0xe8, 0, 0, 0, 0, 0xeb, 0xf9, 0xc3]);
 * assert.deepEqual(directBranches(code, 0x1000n), [
 *   { at: 0x1001n, target: 0x1006n, kind: "call" },
 *   { at: 0x1006n, target: 0x1001n, kind: "jmp" },
 * ]);
 * assert.equal(directBranches(new Uint8Array([0xe8, 0]), 0x1000n), undefined);
 * ```
 */
export function directBranches(code: Uint8Array, address: bigint): Branch[] | undefined {
  const branches: Branch[] = [];
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const decoded: Decoded = { reg: 0, branch: undefined };
  let pc = 0;
  while (pc < code.length) {
    const length = instructionLength(code, pc, decoded);
    if (length < 0) return undefined;
    if (decoded.branch !== undefined) {
      const { size, kind } = decoded.branch;
      const at = pc + length - size;
      const displacement = size === 1 ? view.getInt8(at) : view.getInt32(at, true);
      branches.push({
        at: address + BigInt(pc),
        target: address + BigInt(pc + length + displacement),
        kind,
      });
    }
    pc += length;
  }
  return branches;
}

const JCC_REL32 = { size: 4, kind: "jcc" } as const;

/**
 * The length of the instruction at `start`, or -1 when it cannot be decoded or runs past the
 * end of `code`; a direct branch is left in `out.branch`.
 */
function instructionLength(code: Uint8Array, start: number, out: Decoded): number {
  out.branch = undefined;
  const n = code.length;
  let at = start;
  let operand16 = false;
  let addr32 = false;
  while (at < n && IS_PREFIX[code[at]!]) {
    if (code[at] === 0x66) operand16 = true;
    else if (code[at] === 0x67) addr32 = true;
    at++;
    if (at - start > 14) return -1;
  }
  let rexW = false;
  if (at < n && (code[at]! & 0xf0) === 0x40) {
    rexW = (code[at]! & 8) !== 0;
    at++;
  }
  if (at >= n) return -1;
  const op = code[at++]!;
  if (IS_PREFIX[op]) return -1; // a prefix after a REX
  let length: number;
  if (op === 0x0f) {
    if (at >= n) return -1;
    const op2 = code[at++]!;
    if (op2 >= 0x80 && op2 <= 0x8f) {
      out.branch = JCC_REL32;
      length = 4;
    } else {
      let info = TWO_BYTE[op2];
      if (op2 === 0x38 || op2 === 0x3a) {
        if (at >= n) return -1;
        at++; // the third opcode byte
        info = { modrm: true, imm: op2 === 0x3a ? 1 : 0 };
      }
      if (info === undefined) return -1;
      length = info.imm;
      if (info.modrm) {
        const m = modrmLength(code, at, out);
        if (m < 0) return -1;
        length += m;
      }
    }
  } else {
    if (IS_INVALID[op] || (op & 0xf0) === 0x40) return -1; // a REX must come last
    const branch = SHORT_BRANCHES[op];
    if (branch !== undefined) {
      out.branch = branch;
      length = branch.size;
    } else {
      const info = ONE_BYTE[op]!;
      length = 0;
      let reg = 0;
      if (info.modrm) {
        const m = modrmLength(code, at, out);
        if (m < 0) return -1;
        length += m;
        reg = out.reg;
      }
      const z = operand16 && !rexW ? 2 : 4;
      switch (info.imm) {
        case "z":
          length += z;
          break;
        case "v":
          length += rexW ? 8 : z;
          break;
        case "moffs":
          length += addr32 ? 4 : 8;
          break;
        case "group3":
          // test r/m, imm (reg 0 and 1); not/neg/mul/imul/div/idiv have none.
          if (reg <= 1) length += op === 0xf6 ? 1 : z;
          break;
        default:
          length += info.imm;
      }
    }
  }
  const total = at + length - start;
  return at + length <= n && total <= 15 ? total : -1;
}
