/**
 * The block printed before a core's stacks: which executable was used, what
 * the core says about the process, and why it ended.
 *
 * @module
 */

import type { CoreDetails } from "../model.ts";

const SIGSTOP = 19;

/** The line saying how the process ended. */
export function failureLine(core: CoreDetails): string {
  const s = core.signal;
  if (s === undefined) {
    return "The core file seems to have been generated on demand (the process did not crash)";
  }
  if (s.faultAddress !== undefined) {
    const what = s.name === "SIGSEGV" ? "a segmentation fault" : s.name;
    const where = s.faultMapping === undefined ? "" : ` (in ${s.faultMapping})`;
    return `The process died due to ${what} accessing address: 0x${
      s.faultAddress.toString(16)
    }${where}`;
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
  return lines;
}
