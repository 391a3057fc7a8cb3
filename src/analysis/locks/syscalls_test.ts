import assert from "node:assert/strict";
import { X86_64_REGISTER_NAMES, type X86_64Registers } from "../../elf/core_notes.ts";
import { describeSyscall, futexWaitOf, syscallOf } from "./syscalls.ts";

function regs(values: Partial<X86_64Registers>): X86_64Registers {
  const r = Object.fromEntries(X86_64_REGISTER_NAMES.map((n) => [n, 0n])) as X86_64Registers;
  return Object.assign(r, values);
}

Deno.test("syscallOf() says no call when orig_rax is -1", () => {
  assert.equal(syscallOf(regs({ origRax: 0xffffffffffffffffn })), undefined);
});

Deno.test("syscallOf() names calls and their descriptor", () => {
  const call = syscallOf(regs({ origRax: 45n, rdi: 12n }))!;
  assert.deepEqual([call.name, call.fd], ["recvfrom", 12]);
  assert.equal(
    describeSyscall(call, "TCP 127.0.0.1:1 → 127.0.0.1:2 ESTABLISHED"),
    "recvfrom(fd 12 → TCP 127.0.0.1:1 → 127.0.0.1:2 ESTABLISHED)",
  );
  assert.equal(
    describeSyscall(syscallOf(regs({ origRax: 0n, rdi: 0n }))!, "pipe"),
    "read(fd 0 → pipe)",
  );
  assert.equal(describeSyscall(syscallOf(regs({ origRax: 230n }))!), "clock_nanosleep");
  assert.equal(
    describeSyscall(syscallOf(regs({ origRax: 61n, rdi: 0xffffffffn }))!),
    "wait4(any child)",
  );
  assert.equal(syscallOf(regs({ origRax: 777n }))!.name, "syscall 777");
});

Deno.test("futexWaitOf() reads waits, also after restart_syscall, and ignores wakes", () => {
  // The 3.12 GIL waiter of the reference notes: FUTEX_WAIT_BITSET|PRIVATE on __g_signals[1].
  assert.deepEqual(
    futexWaitOf(regs({ origRax: 202n, rdi: 0x7f78e4256204n, rsi: 0x89n, rdx: 0n })),
    {
      address: 0x7f78e4256204n,
      op: 9,
      expected: 0,
    },
  );
  assert.equal(futexWaitOf(regs({ origRax: 219n, rdi: 0x1000n, rsi: 0x80n, rdx: 2n }))?.op, 0);
  assert.equal(futexWaitOf(regs({ origRax: 202n, rdi: 0x1000n, rsi: 0x81n })), undefined); // WAKE
  assert.equal(futexWaitOf(regs({ origRax: 0n, rdi: 0x1000n })), undefined);
});

Deno.test("describeSyscall() names a futex call that does not wait", () => {
  const futex = (rsi: bigint) =>
    describeSyscall(syscallOf(regs({ origRax: 202n, rdi: 0xbb88f8n, rsi }))!);
  assert.equal(futex(0x80n), "futex(0xbb88f8)"); // FUTEX_WAIT_PRIVATE
  assert.equal(futex(0x189n), "futex(0xbb88f8)"); // FUTEX_WAIT_BITSET|PRIVATE|CLOCK_REALTIME
  assert.equal(futex(0x81n), "futex(0xbb88f8, FUTEX_WAKE)"); // FUTEX_WAKE_PRIVATE
  assert.equal(futex(0x85n), "futex(0xbb88f8, FUTEX_WAKE_OP)");
  assert.equal(futex(0x8fn), "futex(0xbb88f8, op 15)");
  // After an interrupted wait the argument registers are the futex's: shown as the wait.
  assert.equal(
    describeSyscall(syscallOf(regs({ origRax: 219n, rdi: 0xbb88f8n, rsi: 0x81n }))!),
    "restart_syscall(0xbb88f8)",
  );
});
