/**
 * Fetches Debian unstable's (sid's) CPython 3.13, 3.14 and 3.15 into
 * `.cache/pythons/`, without installing anything system-wide, so the tests can
 * run real distribution builds (static libpython, stripped) that this machine's
 * Debian release does not ship.
 *
 * - The mirror is the one this machine's apt sources name for its own release.
 *   A private sources list for `sid`, with its own state and cache directories
 *   under `.cache/pythons/apt/`, is used for `apt-get update` and
 *   `apt-get download`.
 * - Per minor version, `pythonX.Y-minimal`, `libpythonX.Y-minimal`,
 *   `libpythonX.Y-stdlib` and unstable's C libraries (`LIBS`) are unpacked with
 *   `dpkg -x` into `.cache/pythons/X.Y-sid/`, plus the headers of
 *   `libpythonX.Y-dev` (only `usr/include`; `scripts/gen_layouts.ts` reads them).
 * - `patchelf` points the interpreter at the unpacked loader and libraries, so it
 *   runs as itself from its own prefix. `bin/pythonX.Y-via-loader` runs it through
 *   the loader instead (`ld-linux-x86-64.so.2 --library-path …`), so that
 *   `/proc/PID/exe` is the loader.
 * - Each finished folder has a `pystack-python.json` manifest; a folder whose
 *   manifest is there and whose interpreter still runs is not fetched again.
 *   When the mirror cannot be reached, `.cache/pythons/unavailable.json` records
 *   why, the tests report those interpreters as skipped with that reason, and
 *   this script exits 1. Any other failure (no mirror configured, a package
 *   missing from sid, an interpreter that does not run once unpacked) removes
 *   that file and exits 2: the interpreters are then missing, and their tests
 *   fail under `PYSTACK_TEST_REQUIRE_ALL=1`.
 *
 * Usage: `deno run -A scripts/get_pythons.ts [--force] [--no-headers]`
 *
 * `PYSTACK_SID_MIRROR=URL` uses another Debian mirror; `_PYSTACK_PYTHONS_CACHE=DIR`
 * puts everything in DIR instead (for this script's own tests).
 *
 * @module
 */

import $ from "dax";

/** Minor versions fetched from sid. */
export const SID_MINORS = ["3.13", "3.14", "3.15"] as const;

/** Unstable's libraries the interpreters need (glibc 2.38+ and what the packages depend on). */
const LIBS = ["libc6", "zlib1g", "libexpat1", "libffi8", "libzstd1", "libgcc-s1"];

const REPO = $.path(new URL("../", import.meta.url));
/** Where everything goes (git-ignored). */
export const CACHE = $.path(Deno.env.get("_PYSTACK_PYTHONS_CACHE") ?? REPO.join(".cache/pythons"));
const APT = CACHE.join("apt");
const DEBS = APT.join("debs");
/** Written when the download failed; read by `tests/_pythons.ts`. */
export const UNAVAILABLE_FILE = CACHE.join("unavailable.json");
/** The manifest of a finished interpreter folder. */
export const MANIFEST_NAME = "pystack-python.json";
const LIB_DIR = "usr/lib/x86_64-linux-gnu";
const LOADER = `${LIB_DIR}/ld-linux-x86-64.so.2`;
/** How long apt may take for one step (dax then ends it with exit code 124). */
const APT_TIMEOUT = "2m";
const TIMED_OUT = 124;

/** What `pystack-python.json` holds (paths relative to the folder). */
export interface SidManifest {
  /** "3.14" */
  minor: string;
  /** What the interpreter reports: "3.14.10". */
  release: string;
  /** Debian package versions, `name=version`. */
  packages: string[];
  /** The interpreter, patched to use the unpacked loader and libraries. */
  python: string;
  /** A script that runs the interpreter through the loader (`/proc/PID/exe` is the loader). */
  viaLoader: string;
  loader: string;
  libraryPath: string;
  /** `usr/include/pythonX.Y` when the headers were unpacked. */
  include?: string;
}

class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FetchError";
  }
}

/** What apt says when the mirror cannot be reached (as opposed to answering wrongly). */
const UNREACHABLE =
  /Could not connect|Connection refused|Connection timed out|Temporary failure resolving|Could not resolve|No route to host|Network is unreachable|no answer in /;

/** Whether `message` says the mirror could not be reached: the only failure the tests may skip. */
export function isUnreachable(message: string): boolean {
  return UNREACHABLE.test(message);
}

function aptOptions(): string[] {
  return [
    `-o`,
    `Dir::State=${APT.join("state")}`,
    `-o`,
    `Dir::Cache=${APT.join("cache")}`,
    `-o`,
    `Dir::Etc::SourceList=${APT.join("sources.list")}`,
    `-o`,
    `Dir::Etc::SourceParts=/dev/null`,
    // An empty status file: the host's installed packages do not hide sid's candidates.
    `-o`,
    `Dir::State::status=${APT.join("status")}`,
    `-o`,
    `APT::Sandbox::User=root`,
    `-o`,
    `Acquire::Retries=2`,
    `-o`,
    `Acquire::http::Timeout=20`,
  ];
}

/** The Debian mirror and keyring this machine's apt sources use for its own release. */
export function findMirror(
  sources: readonly { name: string; text: string }[],
  codename: string,
): { uri: string; signedBy?: string } | undefined {
  for (const { name, text } of sources) {
    if (name.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (key: string) =>
          new RegExp(`^${key}:\\s*(.+)$`, "mi").exec(stanza)?.[1]?.trim();
        const suites = field("Suites")?.split(/\s+/) ?? [];
        const types = field("Types")?.split(/\s+/) ?? [];
        const uri = field("URIs")?.split(/\s+/)[0];
        if (uri && types.includes("deb") && suites.includes(codename)) {
          const signedBy = field("Signed-By");
          return signedBy?.startsWith("/") ? { uri, signedBy } : { uri };
        }
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s/.exec(line.trim() + " ");
        if (m === null || m[3] !== codename) continue;
        const signedBy = /signed-by=(\S+)/.exec(m[1] ?? "")?.[1];
        return signedBy ? { uri: m[2]!, signedBy } : { uri: m[2]! };
      }
    }
  }
  return undefined;
}

/** This machine's apt source files (`sources.list.d/*`, then `sources.list`), by name. */
export function readSources(): { name: string; text: string }[] {
  const files: { name: string; text: string }[] = [];
  const dir = $.path("/etc/apt/sources.list.d");
  if (dir.existsSync()) {
    for (const entry of [...dir.readDirSync()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile && /\.(list|sources)$/.test(entry.name)) {
        files.push({ name: entry.name, text: entry.path.readTextSync() });
      }
    }
  }
  const main = $.path("/etc/apt/sources.list");
  if (main.existsSync()) files.push({ name: "sources.list", text: main.readTextSync() });
  return files;
}

/** This machine's Debian release (`VERSION_CODENAME` of `/etc/os-release`). */
export function codename(): string | undefined {
  try {
    const text = Deno.readTextFileSync("/etc/os-release");
    return /^VERSION_CODENAME=(\S+)$/m.exec(text)?.[1]?.replace(/"/g, "");
  } catch {
    return undefined;
  }
}

/** The manifest of `minor`'s folder if it is complete and its interpreter runs. */
export async function readyManifest(minor: string): Promise<SidManifest | undefined> {
  const dir = CACHE.join(`${minor}-sid`);
  const file = dir.join(MANIFEST_NAME);
  if (!file.existsSync()) return undefined;
  try {
    const manifest = JSON.parse(file.readTextSync()) as SidManifest;
    const ok = await $`${dir.join(manifest.python)} -S -c ${"import sys; print(sys.prefix)"}`
      .quiet().noThrow().timeout("30s");
    return ok.code === 0 && ok.stdout.trim() === dir.join("usr").toString() ? manifest : undefined;
  } catch {
    return undefined;
  }
}

async function ensurePatchelf(): Promise<void> {
  if (await $.commandExists("patchelf")) return;
  $.logStep("Installing", "patchelf (apt-get install)");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let r = await $`apt-get install -y -qq patchelf`.env(env).quiet().noThrow().timeout(APT_TIMEOUT);
  if (r.code !== 0) {
    await $`apt-get update -qq`.quiet().noThrow().timeout(APT_TIMEOUT);
    r = await $`apt-get install -y -qq patchelf`.env(env).quiet().noThrow().timeout(APT_TIMEOUT);
  }
  if (r.code !== 0 || !(await $.commandExists("patchelf"))) {
    throw new FetchError(
      `Cannot install patchelf: apt-get install exited with ${r.code}: ${lastLine(r.stderr)}`,
    );
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim() !== "").pop() ?? "";
}

async function aptUpdate(): Promise<void> {
  const override = Deno.env.get("PYSTACK_SID_MIRROR");
  const mirror = override ? { uri: override } : findMirror(readSources(), codename() ?? "");
  if (mirror === undefined) {
    throw new FetchError(
      `Cannot find a Debian mirror: no apt source in /etc/apt names this release (${
        codename() ?? "unknown"
      })`,
    );
  }
  for (const d of ["state/lists/partial", "cache/archives/partial"]) {
    await APT.join(d).mkdir({ recursive: true });
  }
  await DEBS.mkdir({ recursive: true });
  APT.join("status").writeTextSync("");
  const signed = mirror.signedBy ? ` [signed-by=${mirror.signedBy}]` : "";
  APT.join("sources.list").writeTextSync(`deb${signed} ${mirror.uri} sid main\n`);
  $.logStep("Updating", `apt lists of sid from ${mirror.uri}`);
  const r = await $`apt-get ${aptOptions()} -q update`.quiet().noThrow().timeout(APT_TIMEOUT);
  const output = r.stderr + "\n" + r.stdout;
  const failed = /^(?:W|E): (Failed to fetch .*)$/m.exec(output)?.[1] ??
    /^E: (.*)$/m.exec(output)?.[1];
  if (r.code !== 0 || failed !== undefined) {
    throw new FetchError(
      `Cannot download Debian sid's package lists from ${mirror.uri}: ${
        failed?.replace(/\s+/g, " ") ??
          (r.code === TIMED_OUT ? `no answer in ${APT_TIMEOUT}` : `apt-get exited with ${r.code}`)
      }`,
    );
  }
}

/** Sid's candidate version of each of `pkgs` (absent when sid has none), in one apt-cache run. */
async function candidates(pkgs: readonly string[]): Promise<Map<string, string>> {
  const r = await $`apt-cache ${aptOptions()} policy ${pkgs}`.quiet().noThrow();
  const out = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^(\S+):\n(?:[ \t]+.*\n)*?[ \t]+Candidate:\s*(\S+)/gm)) {
    if (m[2] !== "(none)") out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * Downloads each `[package, version]` into DEBS unless it is there already (one
 * apt-get run for the names, one for the missing files); returns each .deb path by package.
 */
async function downloadAll(wanted: readonly [string, string][]): Promise<Map<string, string>> {
  const specs = wanted.map(([p, v]) => `${p}=${v}`);
  const r = await $`apt-get ${aptOptions()} download --print-uris ${specs}`.quiet().noThrow();
  if (r.code !== 0) {
    throw new FetchError(`Cannot find the packages in sid: ${lastLine(r.stderr)}`);
  }
  const paths = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^'[^']+'\s+(([^_\s]+)_\S+\.deb)\s/gm)) {
    paths.set(m[2]!, DEBS.join(m[1]!).toString());
  }
  const missing = wanted.filter(([p]) => !$.path(paths.get(p) ?? "/nonexistent").existsSync());
  if (missing.length > 0) {
    const got = await $`apt-get ${aptOptions()} -q download ${missing.map(([p, v]) => `${p}=${v}`)}`
      .cwd(DEBS).quiet().noThrow().timeout(APT_TIMEOUT);
    for (const [p, v] of missing) {
      if (!$.path(paths.get(p) ?? "/nonexistent").existsSync()) {
        throw new FetchError(
          `Cannot download ${p} ${v} from sid: ${
            got.code === TIMED_OUT
              ? `no answer in ${APT_TIMEOUT}`
              : lastLine(got.stderr) || `exit ${got.code}`
          }`,
        );
      }
    }
  }
  return paths;
}

/** The packages of one minor version, with sid's versions; throws when sid lacks one. */
function packagesOf(
  minor: string,
  versions: ReadonlyMap<string, string>,
  headers: boolean,
): [string, string][] {
  const pyVersion = versions.get(`python${minor}-minimal`);
  if (pyVersion === undefined) {
    throw new FetchError(`Cannot fetch Python ${minor}: sid has no python${minor}-minimal`);
  }
  const names = [`python${minor}-minimal`, `libpython${minor}-minimal`, `libpython${minor}-stdlib`];
  if (headers) names.push(`libpython${minor}-dev`);
  const packages: [string, string][] = names.map((n) => [n, pyVersion]);
  for (const lib of LIBS) {
    const v = versions.get(lib);
    if (v === undefined) throw new FetchError(`Cannot fetch Python ${minor}: sid has no ${lib}`);
    packages.push([lib, v]);
  }
  return packages;
}

/** Unpacks, patches and checks one minor version; returns its manifest. */
async function install(
  minor: string,
  packages: readonly [string, string][],
  debs: ReadonlyMap<string, string>,
): Promise<SidManifest> {
  const pyVersion = packages[0]![1];
  const devName = `libpython${minor}-dev`;
  const devDeb = packages.some(([p]) => p === devName) ? debs.get(devName) : undefined;
  const debFiles = packages.filter(([p]) => p !== devName).map(([p]) => debs.get(p)!);
  const final = CACHE.join(`${minor}-sid`);
  const work = CACHE.join(`${minor}-sid.tmp`);
  await work.remove({ recursive: true }).catch(() => {});
  await work.mkdir({ recursive: true });
  for (const deb of debFiles) await $`dpkg -x ${deb} ${work}`;
  if (devDeb !== undefined) {
    const dev = CACHE.join(`${minor}-sid.dev.tmp`);
    await dev.remove({ recursive: true }).catch(() => {});
    await $`dpkg -x ${devDeb} ${dev}`;
    for (
      const inc of [`usr/include/python${minor}`, `usr/include/x86_64-linux-gnu/python${minor}`]
    ) {
      if (!dev.join(inc).existsSync()) continue;
      await work.join(inc).parentOrThrow().mkdir({ recursive: true });
      await Deno.rename(dev.join(inc).toString(), work.join(inc).toString());
    }
    await dev.remove({ recursive: true });
  }
  // Paths are final ones: the folder is renamed into place before use.
  const python = `usr/bin/python${minor}`;
  const viaLoader = `bin/python${minor}-via-loader`;
  await $`patchelf --set-interpreter ${final.join(LOADER)} --force-rpath --set-rpath ${
    final.join(LIB_DIR)
  } ${work.join(python)}`;
  await work.join("bin").mkdir({ recursive: true });
  work.join(viaLoader).writeTextSync(
    [
      "#!/bin/sh",
      `# Runs python${minor} through its loader, so /proc/PID/exe is ld-linux-x86-64.so.2.`,
      `exec "${final.join(LOADER)}" --library-path "${final.join(LIB_DIR)}" "${
        final.join(python)
      }" "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  await final.remove({ recursive: true }).catch(() => {});
  await Deno.rename(work.toString(), final.toString());

  const probe = "import sys; print(sys.version.split()[0]); print(sys.prefix)";
  const release = pyVersion.replace(/^\d+:/, "").replace(/-[^-]*$/, "").replace(/\+.*$/, "");
  for (const exe of [python, viaLoader]) {
    const r = await $`${final.join(exe)} -S -c ${probe}`.quiet().noThrow().timeout("30s");
    const [ran, prefix] = r.stdout.trim().split("\n");
    if (r.code !== 0 || ran !== release || prefix !== final.join("usr").toString()) {
      throw new FetchError(
        `Cannot run the unpacked Python ${minor} (${exe}): ` +
          (r.code !== 0
            ? `exit ${r.code}: ${lastLine(r.stderr)}`
            : `it says ${ran} from ${prefix}, expected ${release} from ${final.join("usr")}`),
      );
    }
  }
  const manifest: SidManifest = {
    minor,
    release,
    packages: packages.filter(([p]) => p !== devName).map(([p, v]) => `${p}=${v}`),
    python,
    viaLoader,
    loader: LOADER,
    libraryPath: LIB_DIR,
    ...(devDeb !== undefined ? { include: `usr/include/python${minor}` } : {}),
  };
  final.join(MANIFEST_NAME).writeTextSync(JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

async function main(args: string[]): Promise<number> {
  const force = args.includes("--force");
  const headers = !args.includes("--no-headers");
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  await CACHE.mkdir({ recursive: true });
  const todo: string[] = [];
  for (const minor of SID_MINORS) {
    const ready = force ? undefined : await readyManifest(minor);
    const wantsHeaders = headers && ready !== undefined && ready.include === undefined;
    if (ready !== undefined && !wantsHeaders) {
      $.logLight(`  cached: Python ${ready.release} (sid) in ${CACHE.join(`${minor}-sid`)}`);
    } else {
      todo.push(minor);
    }
  }
  if (todo.length === 0) {
    await UNAVAILABLE_FILE.remove().catch(() => {});
    $.logStep("Done", `Debian sid's Pythons are cached (${seconds()}s)`);
    return 0;
  }
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return fail(`Cannot fetch Debian sid's Pythons: host is ${Deno.build.os}/${Deno.build.arch}`);
  }
  const problems: string[] = [];
  try {
    if (!(await $.commandExists("apt-get")) || !(await $.commandExists("dpkg"))) {
      throw new FetchError("Cannot fetch Debian sid's Pythons: apt-get and dpkg are needed");
    }
    await aptUpdate();
    await ensurePatchelf();
  } catch (e) {
    if (!(e instanceof FetchError)) throw e;
    return fail(e.message);
  }
  const plans: [string, [string, string][]][] = [];
  let debs = new Map<string, string>();
  try {
    const versions = await candidates([
      ...todo.flatMap((m) => [
        `python${m}-minimal`,
        `libpython${m}-minimal`,
        `libpython${m}-stdlib`,
        `libpython${m}-dev`,
      ]),
      ...LIBS,
    ]);
    for (const minor of todo) {
      try {
        plans.push([minor, packagesOf(minor, versions, headers)]);
      } catch (e) {
        if (!(e instanceof FetchError)) throw e;
        problems.push(e.message);
        $.logError("Failed", e.message);
      }
    }
    const all = new Map(plans.flatMap(([, packages]) => packages));
    $.logStep("Downloading", `${all.size} packages from sid (those not in ${DEBS} yet)`);
    debs = await downloadAll([...all]);
  } catch (e) {
    if (!(e instanceof FetchError)) throw e;
    return fail(e.message);
  }
  // The folders are independent: unpack them side by side.
  const installed = await Promise.allSettled(plans.map(([m, p]) => install(m, p, debs)));
  for (const [i, r] of installed.entries()) {
    const minor = plans[i]![0];
    if (r.status === "fulfilled") {
      $.logStep("Fetched", `Python ${r.value.release} (sid) into ${CACHE.join(`${minor}-sid`)}`);
    } else {
      const why = r.reason instanceof FetchError
        ? r.reason.message
        : `Cannot set up Python ${minor} from sid: ${(r.reason as Error).message ?? r.reason}`;
      problems.push(why);
      $.logError("Failed", why);
    }
  }
  if (problems.length > 0) return fail(problems.join("; "), problems.every(isUnreachable));
  await UNAVAILABLE_FILE.remove().catch(() => {});
  $.logStep("Done", `fetched ${todo.join(", ")} from sid in ${seconds()}s`);
  return 0;
}

/** Exit 1 and record why when the mirror could not be reached; exit 2 for any other failure. */
function fail(reason: string, unreachable = isUnreachable(reason)): number {
  if (unreachable) {
    UNAVAILABLE_FILE.writeTextSync(
      JSON.stringify({ reason, when: new Date().toISOString() }, null, 2) + "\n",
    );
    $.logError("Error", `${reason} (the mirror cannot be reached: the tests skip these Pythons)`);
    return 1;
  }
  try {
    UNAVAILABLE_FILE.removeSync();
  } catch {
    // not there
  }
  $.logError("Error", `${reason} (a setup error: the tests of these Pythons fail)`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
