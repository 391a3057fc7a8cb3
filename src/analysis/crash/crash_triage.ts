/**
 * Crash triage of a core: find the thread that received the fatal signal and
 * where it was (see `crash_site.ts`), mark that thread `crashed` and print it
 * first. A core that is not of a crash (gcore, `kill` from another process)
 * is left as it is.
 *
 * @module
 */

import type { CrashDetails, HandledFault, PyThread } from "../../model.ts";
import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { MapEntry } from "../../elf/maps.ts";
import type { ElfNote } from "../../elf/elf_file.ts";
import type { Siginfo } from "../../elf/core_notes.ts";
import type { CoreThread } from "../../core/core_file.ts";
import type { ElfOpener } from "../../walk/object_files.ts";
import { signalName } from "../../signals.ts";
import { findSignalFrame, isFaultSignal } from "./signal_frame.ts";
import {
  abortFunctionsOnStack,
  AddressLocator,
  isCrash,
  signalledThreadIndex,
  signalOrigin,
} from "./crash_site.ts";

const SIGABRT = 6;

/** What {@linkcode findCrash} reads: the core's notes and memory, and its mapped files. */
export interface CrashContext {
  pid: number;
  notes: readonly ElfNote[];
  threads: readonly CoreThread[];
  siginfo: Siginfo | undefined;
  maps: readonly MapEntry[];
  open: ElfOpener;
  mem: MemoryReader;
}

/** Where the process crashed; undefined when the core is not of a crash. */
export function findCrash(ctx: CrashContext): CrashDetails | undefined {
  if (!isCrash(ctx.siginfo, ctx.pid)) return undefined;
  const thread = ctx.threads[signalledThreadIndex(ctx.notes)];
  if (thread === undefined || ctx.siginfo === undefined) return undefined;
  const locator = new AddressLocator(ctx.maps, ctx.open);
  const address = thread.registers.rip;
  const location = locator.locate(address);
  const crash: CrashDetails = {
    tid: thread.tid,
    signal: signalName(ctx.siginfo.signo),
    origin: signalOrigin(ctx.siginfo, thread.registers.origRax, location.symbol),
    address,
    ...location,
  };
  // How the thread came to raise SIGABRT: not asked of a thread another one signalled.
  if (ctx.siginfo.signo === SIGABRT && crash.origin === "self") {
    crash.abortPath = abortFunctionsOnStack(ctx.mem, thread.registers.rsp, ctx.maps, locator);
  }
  // A fault signal the thread raised itself: a handler caught the fault and raised it again.
  if (crash.origin === "self" && isFaultSignal(ctx.siginfo.signo)) {
    const handled = handledFault(ctx, thread.registers.rsp, ctx.siginfo.signo, locator);
    if (handled !== undefined) crash.handled = handled;
  }
  return crash;
}

/** The fault the signal frame above `sp` records, and where it was. */
function handledFault(
  ctx: CrashContext,
  sp: bigint,
  signal: number,
  locator: AddressLocator,
): HandledFault | undefined {
  const frame = findSignalFrame(ctx.mem, sp, ctx.maps, signal);
  if (frame === undefined) return undefined;
  const out: HandledFault = { address: frame.pc, trap: frame.trap, ...locator.locate(frame.pc) };
  if (frame.faultAddress !== undefined) out.faultAddress = frame.faultAddress;
  return out;
}

/**
 * Marks the crashed thread (`crashed`), sets `crash.calledFrom` from its innermost Python frame,
 * and returns the threads with it first (the others keep their order).
 */
export function crashedFirst(threads: PyThread[], crash: CrashDetails): PyThread[] {
  const index = threads.findIndex((t) => t.tid === crash.tid);
  if (index < 0) return threads;
  const thread = threads[index]!;
  thread.crashed = crash.signal;
  const top = thread.frames.at(-1);
  if (top !== undefined) {
    crash.calledFrom = { function: top.function, file: top.file, line: top.location.line };
  }
  return [thread, ...threads.slice(0, index), ...threads.slice(index + 1)];
}
