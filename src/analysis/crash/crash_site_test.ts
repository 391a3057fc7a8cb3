import assert from "node:assert/strict";
import { isCrash, signalledThreadIndex, signalOrigin } from "./crash_site.ts";
import { NT_PRSTATUS, NT_SIGINFO } from "../../elf/core_notes.ts";
import type { ElfNote } from "../../elf/elf_file.ts";

const note = (type: number, name = "CORE"): ElfNote => ({ name, type, desc: new Uint8Array() });

Deno.test("isCrash() is true for faults and self-sent fatal signals only", () => {
  assert.equal(isCrash({ signo: 11, errno: 0, code: 1, faultAddress: 0n }, 7), true);
  assert.equal(isCrash({ signo: 6, errno: 0, code: -6, senderPid: 7, senderUid: 0 }, 7), true);
  // kill -ABRT from another process, gcore's SIGSTOP, no signal: not crashes.
  assert.equal(isCrash({ signo: 6, errno: 0, code: 0, senderPid: 99, senderUid: 0 }, 7), false);
  assert.equal(isCrash({ signo: 19, errno: 0, code: 0, senderPid: 7 }, 7), false);
  assert.equal(isCrash({ signo: 0, errno: 0, code: 0 }, 7), false);
  assert.equal(isCrash(undefined, 7), false);
});

Deno.test("signalledThreadIndex() picks the thread whose status the NT_SIGINFO follows", () => {
  assert.equal(
    signalledThreadIndex([note(NT_PRSTATUS), note(2), note(NT_SIGINFO), note(NT_PRSTATUS)]),
    0,
  );
  assert.equal(
    signalledThreadIndex([note(NT_PRSTATUS), note(NT_PRSTATUS), note(NT_SIGINFO, "CORE")]),
    1,
  );
  assert.equal(signalledThreadIndex([note(NT_PRSTATUS), note(NT_SIGINFO, "LINUX")]), 0);
  assert.equal(signalledThreadIndex([]), 0);
});

Deno.test("signalOrigin() tells a fault, a self-raised signal and one another thread sent", () => {
  const segv = { signo: 11, errno: 0, code: 1, faultAddress: 0n };
  assert.equal(signalOrigin(segv, 0xffffffffffffffffn, "strlen"), "fault");
  const tkill = { signo: 11, errno: 0, code: -6, senderPid: 7, senderUid: 0 };
  // The thread's last system call was tgkill (234) or kill (62): it sent the signal.
  assert.equal(signalOrigin(tkill, 234n, "__pthread_kill_implementation"), "self");
  assert.equal(signalOrigin(tkill, 62n, undefined), "self");
  // glibc < 2.34's raise() restores the signal mask after tgkill: known by its function.
  assert.equal(signalOrigin(tkill, 14n, "raise"), "self");
  // Sleeping (clock_nanosleep), or running user code (orig_rax -1): another thread sent it.
  assert.equal(signalOrigin(tkill, 230n, "clock_nanosleep"), "process");
  assert.equal(signalOrigin(tkill, 0xffffffffffffffffn, undefined), "process");
});
