/**
 * The block printed before a core's stacks: which executable was used, what
 * the core says about the process, and why it ended.
 *
 * @module
 */

import type { CoreDetails, CrashDetails, HandledFault } from "../model.ts";
import { exceptionLines, exceptionText } from "./exception_text.ts";

const SIGSTOP = 19;

/** How the header names a fault, and what its address is (the data, or the instruction). */
const FAULTS: Readonly<Record<string, readonly [string, string]>> = {
  SIGSEGV: ["a segmentation fault", "accessing address"],
  SIGBUS: ["a bus error (SIGBUS)", "accessing address"],
  SIGFPE: ["an arithmetic error (SIGFPE)", "at address"],
  SIGILL: ["an illegal instruction (SIGILL)", "at address"],
};

/** ` in strlen (libc.so.6+0x1a2b3), called from string_at (FILE:LINE)`: where it crashed. */
export function crashSiteText(
  crash: Pick<
    CrashDetails,
    "address" | "library" | "libraryOffset" | "symbol" | "symbolOffset" | "calledFrom"
  >,
): string {
  const hex = (n: bigint) => `0x${n.toString(16)}`;
  const symbol = crash.symbol === undefined
    ? "???"
    : crash.symbolOffset === undefined || crash.symbolOffset === 0n
    ? crash.symbol
    : `${crash.symbol}+${hex(crash.symbolOffset)}`;
  const library = crash.library === undefined
    ? hex(crash.address)
    : crash.libraryOffset === undefined
    ? crash.library
    : `${crash.library}+${hex(crash.libraryOffset)}`;
  const from = crash.calledFrom === undefined
    ? ""
    : `, called from ${crash.calledFrom.function} (${crash.calledFrom.file}:${crash.calledFrom.line})`;
  return ` in ${symbol} (${library})${from}`;
}

/** What the return addresses on an aborting thread's stack suggest; "" when nothing. */
function abortCause(path: readonly string[]): string {
  const fatal = path.find((f) => f.includes("FatalError"));
  const cause = fatal !== undefined
    ? fatal === "Py_FatalError" ? "Py_FatalError()" : `Py_FatalError() (${fatal})`
    : path.includes("__assert_fail")
    ? "a failed C assert()"
    : path.includes("abort")
    ? "abort()"
    : undefined;
  return cause === undefined ? "" : ` by ${cause}, inferred from return addresses on its stack,`;
}

/** The call a signal was sent with, by its `si_code` (SI_USER, SI_QUEUE, SI_TKILL). */
const SENDING_CODES: ReadonlyMap<number, string> = new Map([
  [0, "kill"],
  [-1, "sigqueue"],
  [-6, "tgkill, as pthread_kill does"],
]);

/** ` (tgkill, as pthread_kill does)`: the call a signal was sent with, when known. */
function sendingCall(code: number | undefined): string {
  const call = code === undefined ? undefined : SENDING_CODES.get(code);
  return call === undefined ? "" : ` (${call})`;
}

/** The line saying how the process ended. */
export function failureLine(core: CoreDetails): string {
  const line = signalLine(core);
  const crash = core.crash;
  if (crash === undefined) return line;
  if (core.signal?.faultAddress !== undefined) return line + crashSiteText(crash);
  if (crash.handled !== undefined) return handledFaultLine(crash, crash.handled);
  if (crash.origin === "process") {
    // Not raised where the thread was: another thread sent it (si_pid is the process's).
    return `The process died due to signal ${crash.signal}, sent by the process itself` +
      `${sendingCall(core.signal?.code)} to thread ${crash.tid}; when it arrived, that thread ` +
      `was${crashSiteText(crash)}`;
  }
  return `The process died due to signal ${crash.signal}, which it raised itself` +
    `${abortCause(crash.abortPath ?? [])}${crashSiteText(crash)}`;
}

/**
 * The fault a signal handler caught, then the signal it raised again: ` in strlen (libc.so.6+…),
 * called from …; a signal handler caught it and raised SIGSEGV again in …`. Python's
 * `faulthandler` does so; it is not named: its last call, `raise()`, is a tail call that leaves
 * no return address in it.
 */
function handledFaultLine(crash: CrashDetails, fault: HandledFault): string {
  const [what, verb] = FAULTS[crash.signal] ?? [crash.signal, "accessing address"];
  // The address accessed (a page fault), or the instruction's, as the kernel gives for these.
  const at = fault.faultAddress ??
    (crash.signal === "SIGFPE" || crash.signal === "SIGILL" ? fault.address : undefined);
  const address = at === undefined ? "" : ` ${verb}: 0x${at.toString(16)}`;
  const site = crashSiteText(
    crash.calledFrom === undefined ? fault : { ...fault, calledFrom: crash.calledFrom },
  );
  const { calledFrom: _, ...raised } = crash;
  return `The process died due to ${what}${address}${site}; a signal handler caught it and raised ` +
    `${crash.signal} again${crashSiteText(raised)}: the fault was ` +
    "read from the signal frame on the thread's stack";
}

function signalLine(core: CoreDetails): string {
  const s = core.signal;
  if (s === undefined) {
    return "The core file seems to have been generated on demand (the process did not crash)";
  }
  if (s.faultAddress !== undefined) {
    const [what, verb] = FAULTS[s.name] ?? [s.name, "accessing address"];
    const where = s.faultMapping === undefined ? "" : ` (in ${s.faultMapping})`;
    return `The process died due to ${what} ${verb}: 0x${s.faultAddress.toString(16)}${where}`;
  }
  if (s.number === SIGSTOP && s.senderPid === undefined) {
    return "The core was taken from a running process (e.g. by gcore): the process did not crash";
  }
  const sender = s.senderPid === undefined || s.senderPid === 0
    ? ""
    : ` sent by pid ${s.senderPid}`;
  return `The process died due to receiving signal ${s.name}${sender}`;
}

/** The lines before the stacks. */
export function coreHeaderLines(core: CoreDetails): string[] {
  const lines = [
    core.executableSource.startsWith("found")
      ? `Using executable found in the core file: ${core.executable}`
      : `Using executable: ${core.executable}`,
    "",
    "Core file information:",
  ];
  const p = core.process;
  if (p !== undefined) {
    lines.push(
      `state: ${p.state} zombie: ${p.zombie ? "True" : "False"} niceness: ${p.nice}`,
      `pid: ${p.pid} ppid: ${p.ppid} sid: ${p.sid}`,
      `uid: ${p.uid} gid: ${p.gid} pgrp: ${p.pgrp}`,
      `executable: ${p.fname} arguments: ${p.psargs}`,
    );
  } else {
    lines.push("(the core has no process information note)");
  }
  lines.push("", failureLine(core), "");
  if (core.lastException !== undefined) {
    const [, ...chain] = exceptionLines({ exception: core.lastException });
    const key = core.lastExceptionKey ?? "sys.last_exc";
    // Without a crash the process ran on: not what ended it, only the last error reported.
    const title = core.lastException.state === "reported"
      ? `Last exception reported to sys.excepthook (${key})`
      : `Uncaught exception (${key})`;
    lines.push(
      `${title}: ${exceptionText(core.lastException)}`,
      ...chain.map((l) => l.slice(4)),
      "",
    );
  }
  return lines;
}
