/**
 * Debian sid's greenlet 3.x (`scripts/get_greenlets.ts`) for sid's Pythons: the
 * folder holding `greenlet/`, and the environment a fixture needs to import it
 * (sid's libstdc++, which the module is linked against).
 *
 * @module
 */
import type { Skip } from "./_harness.ts";
import type { Python } from "./_pythons.ts";
import {
  GREENLETS_CACHE,
  GREENLETS_MANIFEST,
  GREENLETS_UNAVAILABLE,
  type GreenletsManifest,
} from "../scripts/get_greenlets.ts";

/** sid's greenlet for `python`: the `PYSTACK_GREENLET_DIR` and environment of its fixtures. */
export interface SidGreenlet {
  version: string;
  env: Record<string, string>;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

/**
 * sid's greenlet for `python` (a sid interpreter it is built for), or why the
 * tests cannot run it.
 */
export function sidGreenlet(python: Python): SidGreenlet | Skip {
  if (python.unavailable) return { reason: python.unavailable };
  if (python.missing) return { reason: python.missing, missing: true };
  if (python.interpreter !== undefined) {
    return { reason: "the same build as the interpreter it loads, tested directly" };
  }
  const dir = `${GREENLETS_CACHE}/`;
  const unavailable = readJson<{ reason: string }>(dir + GREENLETS_UNAVAILABLE);
  if (unavailable !== undefined) return { reason: unavailable.reason };
  const manifest = readJson<GreenletsManifest>(dir + GREENLETS_MANIFEST);
  if (manifest === undefined) {
    return { reason: "run scripts/get_greenlets.ts (sid's greenlet 3.x)", missing: true };
  }
  const site = dir + manifest.sitePackages;
  const [major, minor] = python.version;
  const module = `${site}/greenlet/_greenlet.cpython-${major}${minor}-x86_64-linux-gnu.so`;
  try {
    Deno.statSync(module);
  } catch {
    return { reason: `sid's python3-greenlet is not built for ${major}.${minor}` };
  }
  // sid's libstdc++ only (it holds nothing else): the core tests start the fixture through
  // bash, which must not load sid's libc.
  return {
    version: manifest.packages["python3-greenlet"] ?? "?",
    env: { PYSTACK_GREENLET_DIR: site, LD_LIBRARY_PATH: dir + manifest.libraryPath },
  };
}
