/**
 * The Python version of a target, from the three places pystack looks (§4.1):
 * a `PY_VERSION_HEX` value (`Py_Version`, debug offsets), the text that
 * `Py_GetVersion()` leaves in libpython's memory, and file names.
 *
 * @module
 */

import { latin1 } from "../bytes.ts";

/** `sys.version_info`'s release levels. */
export type ReleaseLevel = "alpha" | "beta" | "candidate" | "final";

/** A CPython release, as `sys.version_info` gives it. */
export interface PythonVersion {
  major: number;
  minor: number;
  micro: number;
  releaseLevel: ReleaseLevel;
  serial: number;
}

const LEVEL_BY_NIBBLE: Readonly<Record<number, ReleaseLevel>> = {
  0xa: "alpha",
  0xb: "beta",
  0xc: "candidate",
  0xf: "final",
};

/**
 * Decodes a `PY_VERSION_HEX` (`0xMMmmuuLS`: major, minor, micro, release-level
 * nibble, serial), as stored in `Py_Version` (3.11+) or the debug offsets
 * (3.13+) and as `sys.hexversion` shows it.
 *
 * @param hex the value; a 64-bit read of `Py_Version` may be passed as is
 * @returns the version, or `undefined` when the value is not plausible: not in
 * 0…0xFFFFFFFF, major not 2 or 3, a release-level nibble other than
 * 0xA/0xB/0xC/0xF, or a final release with a non-zero serial
 *
 * @example 3.11.7 and 3.13.0rc1
 * ```ts
 * import { parseVersionHex } from "./version.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseVersionHex(0x030b07f0n), {
 *   major: 3, minor: 11, micro: 7, releaseLevel: "final", serial: 0,
 * });
 * assert.equal(parseVersionHex(0x030d00c1)?.releaseLevel, "candidate");
 * assert.equal(parseVersionHex(0x030b07f1), undefined); // final with serial 1
 * ```
 */
export function parseVersionHex(hex: bigint | number): PythonVersion | undefined {
  const big = typeof hex === "bigint" ? hex : Number.isSafeInteger(hex) ? BigInt(hex) : -1n;
  if (big < 0n || big > 0xffffffffn) return undefined;
  const v = Number(big);
  const major = (v >>> 24) & 0xff;
  const releaseLevel = LEVEL_BY_NIBBLE[(v >>> 4) & 0xf];
  const serial = v & 0xf;
  if ((major !== 2 && major !== 3) || releaseLevel === undefined) return undefined;
  if (releaseLevel === "final" && serial !== 0) return undefined;
  return { major, minor: (v >>> 16) & 0xff, micro: (v >>> 8) & 0xff, releaseLevel, serial };
}

/**
 * `Py_GetVersion()`'s text: `"%.80s (%.80s) %.80s"` of PY_VERSION,
 * `Py_GetBuildInfo()` (`"<git id>, <__DATE__>, <__TIME__>"`) and the compiler,
 * e.g. `3.11.7 (main, Jan 29 2024, 12:00:00) [GCC 12.2.0]`. The build info must
 * end in a date like `__DATE__` ("Jan  9 2024", or "xx/xx/xx" when unknown)
 * and an optional time, so other "X.Y.Z (" text does not match.
 */
const VERSION_STRING = new RegExp(
  String.raw`(?<![0-9.])([23])\.(\d{1,2})\.(\d{1,2})(?:(a|b|rc|c)(\d{1,2}))?\+?` +
    String.raw`(?: (?:experimental )?free-threading build)? ` +
    String.raw`\([^()\x00-\x1f\x7f-\xff]{0,64}?, ` +
    String.raw`(?:[A-Z][a-z]{2} [ \d]\d \d{4}|xx/xx/xx)(?:, [\dx]{1,2}:[\dx]{2}:[\dx]{2})?\)`,
  "g",
);

const LEVEL_BY_SUFFIX: Readonly<Record<string, ReleaseLevel>> = {
  a: "alpha",
  b: "beta",
  c: "candidate",
  rc: "candidate",
};

/**
 * Finds the `Py_GetVersion()` string inside a memory blob (pystack's BSS scan,
 * §4.1 item 3) and parses its version. The first well-formed match wins.
 *
 * @param bytes any bytes, e.g. libpython's `.bss` read from the target
 * @returns the version, or `undefined` if no such string is present
 *
 * @example
 * ```ts
 * import { findVersionString } from "./version.ts";
 * import assert from "node:assert/strict";
 * const blob = new TextEncoder().encode(
 *   "\0\0zlib 2.0.1 (see docs)\x003.11.7 (main, Jan 29 2024, 12:00:00) [GCC 12.2.0]\0",
 * );
 * assert.deepEqual(findVersionString(blob), {
 *   major: 3, minor: 11, micro: 7, releaseLevel: "final", serial: 0,
 * });
 * ```
 */
export function findVersionString(bytes: Uint8Array): PythonVersion | undefined {
  for (const m of latin1(bytes).matchAll(VERSION_STRING)) {
    const [, major, minor, micro, suffix, serial] = m;
    const releaseLevel = suffix === undefined ? "final" : LEVEL_BY_SUFFIX[suffix];
    if (releaseLevel === undefined) continue;
    return {
      major: Number(major),
      minor: Number(minor),
      micro: Number(micro),
      releaseLevel,
      serial: serial === undefined ? 0 : Number(serial),
    };
  }
  return undefined;
}

const FILE_NAME = /^(?:lib)?python([23])\.(\d{1,2})(?!\d)/i;

/**
 * The major and minor version in the name of a Python executable or libpython
 * (pystack's last resort, §4.1 item 4). Only the last path component is read.
 *
 * @param name a file name or path
 * @returns `{ major, minor }`, or `undefined` when the name carries no version
 *
 * @example
 * ```ts
 * import { versionFromFileName } from "./version.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(versionFromFileName("/usr/lib/libpython3.11.so.1.0"), { major: 3, minor: 11 });
 * assert.deepEqual(versionFromFileName("python3.6m"), { major: 3, minor: 6 });
 * assert.equal(versionFromFileName("/usr/bin/python3"), undefined);
 * ```
 */
export function versionFromFileName(
  name: string,
): { major: number; minor: number } | undefined {
  const m = FILE_NAME.exec(name.slice(name.lastIndexOf("/") + 1));
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) };
}
