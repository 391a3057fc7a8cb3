/**
 * The one place where CPython versions are told apart.
 *
 * `selectRuntime` turns a version and its layout into a record of strategies;
 * the walkers read those strategies and never compare version numbers.
 *
 * @module
 */

import type { Layout } from "./layout.ts";
import type { PythonVersion } from "./version.ts";
import { LAYOUTS } from "./layouts/all.ts";
import { UnsupportedVersionError } from "../errors.ts";

/** How a thread state leads to its newest frame. */
export type FrameChain =
  /** `tstate->frame` is a `PyFrameObject*` (<= 3.10). */
  | "frame_object"
  /** `tstate->cframe->current_frame` is a `_PyInterpreterFrame*` (3.11, 3.12). */
  | "cframe"
  /** `tstate->current_frame` is a `_PyInterpreterFrame*` (3.13+). */
  | "current_frame";

/** Which line-number table a code object carries. */
export type LineTableKind = "lnotab" | "linetable310" | "location";

/** How the thread holding the GIL is found. */
export type GilRule =
  /** `_PyThreadState_Current` symbol holds the tstate (2.7, 3.6). */
  | "tstate_current_symbol"
  /** `_PyRuntime.gilstate.tstate_current` (3.7 to 3.11). */
  | "runtime_tstate_current"
  /** `interp->ceval.gil`: `locked` and `last_holder` (3.12+). */
  | "gil_struct";

/** Where the "collecting" flag of the garbage collector lives. */
export type GcRule = "static_symbol" | "runtime" | "interp";

/** Everything version-dependent, chosen once. */
export interface PythonRuntime {
  readonly version: PythonVersion;
  readonly layout: Layout;
  readonly frameChain: FrameChain;
  readonly lineTable: LineTableKind;
  /** Frame owner values that mark C-stack shim frames (3.12+), skipped in output. */
  readonly shimOwners: readonly number[];
  /** 3.11 marks entry frames with `is_entry`; 3.12+ by the shim before them; older: every frame. */
  readonly entryRule: "every" | "is_entry" | "after_shim";
  /** 3.13+ frames point at any object (`f_executable`): check that it is a code object. */
  readonly checkExecutable: boolean;
  readonly gilRule: GilRule;
  readonly gcRule: GcRule;
  /** <= 3.10: the OS thread id must be read from glibc's `struct pthread`. */
  readonly tidFromPthread: boolean;
  /** How int objects store their size and sign. */
  readonly longRule: "ob_size" | "lv_tag";
}

/** Oldest and newest minor versions this pystack reads. */
export const SUPPORTED = { oldest: [3, 6], newest: [3, 13] } as const;

/** Chooses the layout and strategies for `version`. Throws for versions we cannot read. */
export function selectRuntime(version: PythonVersion): PythonRuntime {
  const key = `${version.major}.${version.minor}`;
  const layout = LAYOUTS[key];
  const supported = version.major === 3 && version.minor >= SUPPORTED.oldest[1] &&
    version.minor <= SUPPORTED.newest[1];
  if (!supported || layout === undefined) {
    throw new UnsupportedVersionError(
      `Cannot read this process: it runs Python ${formatVersion(version)}, ` +
        `and pystack reads Python 3.6 to 3.13`,
      "use a pystack release that supports this version",
    );
  }
  const m = version.minor;
  return {
    version,
    layout,
    frameChain: m <= 10 ? "frame_object" : m <= 12 ? "cframe" : "current_frame",
    lineTable: m <= 9 ? "lnotab" : m === 10 ? "linetable310" : "location",
    shimOwners: m >= 12 ? [3] : [],
    entryRule: m <= 10 ? "every" : m === 11 ? "is_entry" : "after_shim",
    checkExecutable: m >= 13,
    gilRule: m <= 6 ? "tstate_current_symbol" : m <= 11 ? "runtime_tstate_current" : "gil_struct",
    gcRule: m <= 6 ? "static_symbol" : m <= 8 ? "runtime" : "interp",
    tidFromPthread: m <= 10,
    longRule: m <= 11 ? "ob_size" : "lv_tag",
  };
}

const LEVEL_SUFFIX = { alpha: "a", beta: "b", candidate: "rc", final: "" } as const;

/** "3.11.7", "3.13.0rc1"; "3.11" when the micro version is unknown (-1). */
export function formatVersion(v: PythonVersion): string {
  if (v.micro < 0) return `${v.major}.${v.minor}`;
  const suffix = v.releaseLevel === "final" ? "" : `${LEVEL_SUFFIX[v.releaseLevel]}${v.serial}`;
  return `${v.major}.${v.minor}.${v.micro}${suffix}`;
}
