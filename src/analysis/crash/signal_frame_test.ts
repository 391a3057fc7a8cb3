import assert from "node:assert/strict";
import { isDivision, isFault, type SignalFrame, signalFrameIn } from "./signal_frame.ts";
import type { MapEntry } from "../../elf/maps.ts";

const map = (start: bigint, end: bigint, perms: string, path = ""): MapEntry => ({
  start,
  end,
  perms,
  offset: 0n,
  device: "00:00",
  inode: 0,
  path,
});
const STACK = 0x7f0000000000n;
const LIBC = 0x7f1000000000n;
const MAPS = [
  map(STACK, STACK + 0x10000n, "rw-p"),
  map(LIBC, LIBC + 0x100000n, "r-xp", "/lib/x86_64-linux-gnu/libc.so.6"),
];

/** The frame `stackWithFrame` writes, as `signalFrameIn` must read it. */
const PAGE_FAULT_AT_0: SignalFrame = {
  frameAddress: STACK + 72n,
  pc: LIBC + 0x76ad8n,
  sp: STACK + 0x2000n,
  trap: 14,
  error: 4,
  faultAddress: 0n,
};

/**
 * Stack bytes read at STACK holding the handler's frames, then, at `at`, a signal frame as the
 * kernel writes it for a page fault at `pc` reading address 0 (the values of the SIGSEGV core
 * made by faulthandler that this decoder was written against).
 */
function stackWithFrame(at: number, edit: (view: DataView) => void = () => {}): Uint8Array {
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  const put = (offset: number, value: bigint) => view.setBigUint64(at + offset, value, true);
  // Return addresses of the handler's own frames (not a frame: no selectors).
  view.setBigUint64(8, LIBC + 0x4afb2n, true);
  put(0, LIBC + 0x4b050n); // __restore_rt
  put(8, 7n); // uc_flags
  put(48 + 120, STACK + 0x2000n); // rsp
  put(48 + 128, LIBC + 0x76ad8n); // rip: in strlen
  put(48 + 136, 0x10283n); // eflags
  put(48 + 144, 0x002b000000000033n); // cs 0x33, ss 0x2b
  put(48 + 152, 4n); // err: a user-mode read
  put(48 + 160, 14n); // trapno: page fault
  put(48 + 176, 0n); // cr2: address 0
  put(48 + 184, STACK + BigInt(at + 448 + 64)); // fpstate, above the frame
  edit(view);
  return bytes;
}

Deno.test("signalFrameIn finds the page fault a handler caught: pc, cr2, trap", () => {
  const frame = signalFrameIn(stackWithFrame(72), STACK, MAPS, [12, 13, 14]);
  assert.deepEqual(frame, PAGE_FAULT_AT_0);
});

Deno.test("signalFrameIn gives no fault address for other traps (a divide error)", () => {
  const bytes = stackWithFrame(96, (v) => v.setBigUint64(96 + 48 + 160, 0n, true));
  const frame = signalFrameIn(bytes, STACK, MAPS, [0, 4, 16, 19]);
  assert.equal(frame?.trap, 0);
  assert.equal(frame?.faultAddress, undefined);
  assert.equal(frame?.pc, LIBC + 0x76ad8n);
});

Deno.test("signalFrameIn accepts an unset ss (kernels before 4.6 saved none)", () => {
  const bytes = stackWithFrame(72, (v) => v.setBigUint64(72 + 48 + 144, 0x33n, true));
  assert.equal(signalFrameIn(bytes, STACK, MAPS, [14])?.frameAddress, STACK + 72n);
});

Deno.test("signalFrameIn rejects a frame whose trap does not raise the signal", () => {
  // A page fault's frame does not explain a SIGILL (#UD, #GP).
  assert.equal(signalFrameIn(stackWithFrame(72), STACK, MAPS, [6, 13]), undefined);
});

Deno.test("signalFrameIn rejects frames of the wrong shape", () => {
  const cases: [string, number, bigint][] = [
    ["kernel code selector", 48 + 144, 0x0000000000000010n],
    ["fpstate below the frame", 48 + 184, STACK + 64n],
    ["fpstate far above the frame", 48 + 184, STACK + 0x9000n],
    ["pc outside executable code", 48 + 128, STACK + 0x100n],
    ["return address outside executable code", 0, 0x1234n],
    ["stack pointer outside writable memory", 48 + 120, LIBC + 8n],
  ];
  for (const [what, offset, value] of cases) {
    const bytes = stackWithFrame(72, (v) => v.setBigUint64(72 + offset, value, true));
    assert.equal(signalFrameIn(bytes, STACK, MAPS, [14]), undefined, what);
  }
});

Deno.test("signalFrameIn takes the innermost of two frames, and none past the bytes", () => {
  const bytes = stackWithFrame(1024);
  const inner = stackWithFrame(72);
  bytes.set(inner.subarray(72, 72 + 440), 72);
  new DataView(bytes.buffer).setBigUint64(72 + 48 + 184, STACK + 72n + 512n, true);
  assert.equal(signalFrameIn(bytes, STACK, MAPS, [14])?.frameAddress, STACK + 72n);
  // A frame cut by the end of what was read is not taken.
  assert.equal(
    signalFrameIn(stackWithFrame(72).subarray(0, 72 + 400), STACK, MAPS, [14]),
    undefined,
  );
});

/** `mov (%rdi),%eax` after other code: no `syscall` before it. */
const LOAD = new Uint8Array([0x48, 0x89, 0x8b, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

Deno.test("isFault keeps a page fault at an address no mapping allows", () => {
  assert.equal(isFault(PAGE_FAULT_AT_0, LOAD, MAPS, 11), true);
  // Unreadable code does not refuse it: the address is evidence enough.
  assert.equal(isFault(PAGE_FAULT_AT_0, undefined, MAPS, 11), true);
  // A write into read-only code: a fault too.
  const write = { ...PAGE_FAULT_AT_0, error: 6, faultAddress: LIBC + 0x10n };
  assert.equal(isFault(write, LOAD, MAPS, 11), true);
});

Deno.test("isFault refuses a frame of a signal sent: kill, raise (the thread's last trap, stale)", () => {
  // Returned from `syscall` (0f 05): the signal came with the system call's return.
  const afterSyscall = new Uint8Array([0x0f, 0x05, 0x48, 0x3d, 0, 0xf0, 0xff, 0xff]);
  assert.equal(isFault(PAGE_FAULT_AT_0, afterSyscall, MAPS, 11), false);
  // A page fault the kernel served: a read of readable memory.
  const served = { ...PAGE_FAULT_AT_0, faultAddress: STACK + 0x100n };
  assert.equal(isFault(served, LOAD, MAPS, 11), false);
  // Trap 0 (a thread that never trapped) for a SIGFPE where no division stands.
  const divide = { ...PAGE_FAULT_AT_0, trap: 0, error: 0 };
  delete (divide as Partial<SignalFrame>).faultAddress;
  assert.equal(isFault(divide, LOAD, MAPS, 8), false);
  assert.equal(isFault(divide, undefined, MAPS, 8), false, "no division seen: not kept");
  // The same frame at an `idiv %ecx` (f7 f9): kept.
  assert.equal(isFault(divide, new Uint8Array([0x48, 0x89, 0xf7, 0xf9]), MAPS, 8), true);
});

Deno.test("isDivision reads div and idiv after prefixes, and nothing else", () => {
  assert.equal(isDivision(new Uint8Array([0xf7, 0xf9])), true); // idiv %ecx
  assert.equal(isDivision(new Uint8Array([0x48, 0xf7, 0x75, 0xf8])), true); // div -8(%rbp)
  assert.equal(isDivision(new Uint8Array([0x66, 0x41, 0xf7, 0xf0])), true); // div %r8w
  assert.equal(isDivision(new Uint8Array([0xf6, 0xf1])), true); // div %cl
  assert.equal(isDivision(new Uint8Array([0xf7, 0xd8])), false); // neg %eax
  assert.equal(isDivision(new Uint8Array([0xf7, 0xe1])), false); // mul %ecx
  assert.equal(isDivision(new Uint8Array([0x89, 0xc8])), false); // mov %ecx,%eax
  assert.equal(isDivision(new Uint8Array([0x48])), false);
});
