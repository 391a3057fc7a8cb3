/**
 * What a core says about the process it came from, as the report's
 * {@linkcode CoreDetails}: its process and signal notes, the executable used,
 * and the files it maps that were not found.
 *
 * @module
 */

import type { CoreDetails } from "../model.ts";
import type { CoreFile } from "./core_file.ts";
import type { CoreMap } from "../memory/core_memory.ts";
import { signalName } from "../signals.ts";

/** What {@linkcode coreDetails} reads besides the core. */
export interface CoreDetailsInput {
  path: string;
  core: CoreFile;
  maps: readonly CoreMap[];
  /** The executable found on this machine, if any; else the path used and why it is missing. */
  executable: string;
  /** Given on the command line, or found in the core (and how). */
  executableSource: string;
  missingFiles: readonly string[];
}

/** The core block of a report (without the crash and last-exception analyses). */
export function coreDetails(input: CoreDetailsInput): CoreDetails {
  const { core } = input;
  const details: CoreDetails = {
    path: input.path,
    executable: input.executable,
    executableSource: input.executableSource,
    truncated: core.truncated,
    missingFiles: [...input.missingFiles],
  };
  if (core.compression !== undefined) details.compression = core.compression;
  const ps = core.psinfo;
  if (ps !== undefined) {
    details.process = {
      state: ps.state,
      zombie: ps.zombie,
      nice: ps.nice,
      pid: ps.pid,
      ppid: ps.ppid,
      sid: ps.sid,
      uid: ps.uid,
      gid: ps.gid,
      pgrp: ps.pgrp,
      fname: ps.fname,
      psargs: ps.psargs,
    };
  }
  const signal = signalDetails(core, input.maps);
  if (signal !== undefined) details.signal = signal;
  return details;
}

/** `NT_SIGINFO`: the signal, its sender or fault address, and the file mapped there. */
function signalDetails(
  core: CoreFile,
  maps: readonly CoreMap[],
): CoreDetails["signal"] | undefined {
  const si = core.siginfo;
  if (si === undefined || si.signo === 0) return undefined;
  const signal: NonNullable<CoreDetails["signal"]> = {
    number: si.signo,
    name: signalName(si.signo),
    code: si.code,
  };
  if (si.senderPid !== undefined) signal.senderPid = si.senderPid;
  if (si.senderUid !== undefined) signal.senderUid = si.senderUid;
  if (si.faultAddress !== undefined) {
    signal.faultAddress = si.faultAddress;
    const fault = si.faultAddress;
    const m = maps.find((e) => e.start <= fault && fault < e.end && e.path !== "");
    if (m !== undefined) signal.faultMapping = m.recordedPath ?? m.path;
  }
  return signal;
}
