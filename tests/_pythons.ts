/**
 * The CPython interpreters the integration tests run against.
 *
 * Every interpreter we expect is listed, present or not: a missing one carries
 * a `missing` reason so that its tests are still registered and reported as
 * skipped (see `registerTest` in `_harness.ts`), never silently dropped.
 *
 * @module
 */

/** One interpreter under test. */
export interface Python {
  /** Readable id used in test names: `3.11-pyenv`, `3.11-debian`, `2.7-pyenv`. */
  id: string;
  /** Major and minor version. */
  version: readonly [number, number];
  /** The real binary (never a pyenv shim). */
  path: string;
  /** Set when the binary is not there: the reason its tests are skipped. */
  missing?: string;
}

/** pyenv versions we install, oldest first; another patch release of the same minor also counts. */
const PYENV_VERSIONS = [
  "2.7.18",
  "3.6.15",
  "3.7.16",
  "3.8.18",
  "3.9.18",
  "3.10.13",
  "3.11.7",
  "3.12.1",
  "3.13.0",
];

/** Debian's statically linked, stripped interpreter. */
const DEBIAN_PYTHON = { id: "3.11-debian", version: [3, 11] as const, path: "/usr/bin/python3.11" };

let cached: Promise<Python[]> | undefined;

/**
 * All interpreters under test, oldest pyenv build first, Debian's last.
 * The pyenv root is `$PYENV_ROOT`, else the output of `pyenv root`, else `/root/.pyenv`.
 */
export function findPythons(): Promise<Python[]> {
  cached ??= discover();
  return cached;
}

async function discover(): Promise<Python[]> {
  const root = await pyenvRoot();
  const installed = listDir(`${root}/versions`);
  const pythons = PYENV_VERSIONS.map((wanted) => {
    const [major, minor] = wanted.split(".").map(Number) as [number, number];
    const dir = pickVersionDir(installed, wanted, major, minor);
    const path = `${root}/versions/${dir}/bin/python${major}.${minor}`;
    return withPresence({ id: `${major}.${minor}-pyenv`, version: [major, minor], path });
  });
  pythons.push(withPresence({ ...DEBIAN_PYTHON }));
  return pythons;
}

/** The wanted patch release if installed, else the newest installed `major.minor.N`. */
function pickVersionDir(installed: string[], wanted: string, major: number, minor: number): string {
  if (installed.includes(wanted)) return wanted;
  const pattern = new RegExp(`^${major}\\.${minor}\\.(\\d+)$`);
  const candidates = installed
    .map((name) => ({ name, patch: Number(pattern.exec(name)?.[1] ?? NaN) }))
    .filter((candidate) => !Number.isNaN(candidate.patch))
    .sort((a, b) => b.patch - a.patch);
  return candidates[0]?.name ?? wanted;
}

function withPresence(python: Python): Python {
  try {
    if (Deno.statSync(python.path).isFile) return python;
  } catch {
    // reported below
  }
  return { ...python, missing: `${python.path} not found` };
}

async function pyenvRoot(): Promise<string> {
  const fromEnv = Deno.env.get("PYENV_ROOT");
  if (fromEnv) return fromEnv;
  try {
    const output = await new Deno.Command("pyenv", { args: ["root"], stderr: "null" }).output();
    const root = new TextDecoder().decode(output.stdout).trim();
    if (output.success && root) return root;
  } catch {
    // pyenv is not installed
  }
  return "/root/.pyenv";
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((entry) => entry.name);
  } catch {
    return [];
  }
}
