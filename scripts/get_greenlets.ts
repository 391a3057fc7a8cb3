/**
 * Fetches Debian unstable's (sid's) `python3-greenlet` (greenlet 3.x) and
 * `python3-gevent`, and sid's `libstdc++6` they need, into
 * `.cache/greenlets-sid/` (`$PYSTACK_GREENLETS_CACHE` instead when set),
 * without installing anything: the greenlet tests run them with sid's
 * Pythons (`scripts/get_pythons.ts`) whose versions they are built for.
 *
 * - A private apt state under the folder (sid's lists, from the mirror this
 *   machine's apt sources name) serves `apt-get download`; the packages are
 *   unpacked with `dpkg -x` into `root/`.
 * - `pystack-greenlets.json` records the versions and paths; a folder that has
 *   it is not fetched again (`--force` fetches anyway).
 * - When the mirror cannot be reached, `unavailable.json` says why (the tests
 *   then report themselves skipped with that reason) and the script exits 1;
 *   any other failure exits 2 (CI fails, and the tests fail as missing).
 *
 * Usage: `deno run -A scripts/get_greenlets.ts [--force]`
 *
 * @module
 */

import $ from "dax";
import { codename, findMirror, isUnreachable, readSources } from "./get_pythons.ts";

const REPO = $.path(new URL("../", import.meta.url));
/** Where everything goes (git-ignored). */
export const GREENLETS_CACHE = $.path(
  Deno.env.get("PYSTACK_GREENLETS_CACHE") ?? REPO.join(".cache/greenlets-sid"),
);
/** The manifest of a finished folder. */
export const GREENLETS_MANIFEST = "pystack-greenlets.json";
/** Written when the download failed; read by `tests/_greenlet_sid.ts`. */
export const GREENLETS_UNAVAILABLE = "unavailable.json";

/** What `pystack-greenlets.json` holds (paths relative to the folder). */
export interface GreenletsManifest {
  /** Package versions: `python3-greenlet`, `python3-gevent`, `libstdc++6`. */
  packages: Record<string, string>;
  /** The `dist-packages` folder holding `greenlet/` and `gevent/`. */
  sitePackages: string;
  /** The folder of sid's `libstdc++.so.6`. */
  libraryPath: string;
}

const PACKAGES = ["python3-greenlet", "python3-gevent", "libstdc++6"];
const APT_TIMEOUT = "2m";

async function fetchAll(): Promise<GreenletsManifest> {
  const apt = GREENLETS_CACHE.join("apt");
  const debs = GREENLETS_CACHE.join("debs");
  const root = GREENLETS_CACHE.join("root");
  const mirror = Deno.env.get("PYSTACK_SID_MIRROR")
    ? { uri: Deno.env.get("PYSTACK_SID_MIRROR")! }
    : findMirror(readSources(), codename() ?? "");
  if (mirror === undefined) throw new Error("no apt source in /etc/apt names this release");
  for (const d of ["state/lists/partial", "cache/archives/partial"]) {
    await apt.join(d).mkdir({ recursive: true });
  }
  await debs.mkdir({ recursive: true });
  apt.join("status").writeTextSync("");
  const signed = mirror.signedBy ? ` [signed-by=${mirror.signedBy}]` : "";
  apt.join("sources.list").writeTextSync(`deb${signed} ${mirror.uri} sid main\n`);
  const options = [
    "-o",
    `Dir::State=${apt.join("state")}`,
    "-o",
    `Dir::Cache=${apt.join("cache")}`,
    "-o",
    `Dir::Etc::SourceList=${apt.join("sources.list")}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::status=${apt.join("status")}`,
    "-o",
    "APT::Sandbox::User=root",
    "-o",
    "Acquire::Retries=2",
    "-o",
    "Acquire::http::Timeout=20",
  ];
  $.logStep("Updating", `apt lists of sid from ${mirror.uri}`);
  const update = await $`apt-get ${options} -q update`.quiet().noThrow().timeout(APT_TIMEOUT);
  if (update.code !== 0 || /^(W|E): Failed to fetch/m.test(update.stderr + update.stdout)) {
    throw new Error(`cannot download sid's package lists from ${mirror.uri}`);
  }
  $.logStep("Downloading", PACKAGES.join(", "));
  const got = await $`apt-get ${options} -q download ${PACKAGES}`.cwd(debs).quiet().noThrow()
    .timeout(APT_TIMEOUT);
  if (got.code !== 0) throw new Error(`apt-get download exited with ${got.code}`);
  const packages: Record<string, string> = {};
  await root.mkdir({ recursive: true });
  for (const entry of debs.readDirSync()) {
    const m = /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(entry.name);
    if (m === null || !PACKAGES.includes(m[1]!)) continue;
    await $`dpkg -x ${debs.join(entry.name)} ${root}`;
    packages[m[1]!] = decodeURIComponent(m[2]!);
  }
  const missing = PACKAGES.filter((p) => packages[p] === undefined);
  if (missing.length > 0) throw new Error(`not downloaded: ${missing.join(", ")}`);
  return {
    packages,
    sitePackages: "root/usr/lib/python3/dist-packages",
    libraryPath: "root/usr/lib/x86_64-linux-gnu",
  };
}

async function main(args: string[]): Promise<number> {
  const manifest = GREENLETS_CACHE.join(GREENLETS_MANIFEST);
  if (!args.includes("--force") && manifest.existsSync()) {
    $.logLight(`  cached: ${GREENLETS_CACHE}`);
    return 0;
  }
  await GREENLETS_CACHE.mkdir({ recursive: true });
  try {
    const fetched = await fetchAll();
    manifest.writeTextSync(JSON.stringify(fetched, null, 2) + "\n");
    await GREENLETS_CACHE.join(GREENLETS_UNAVAILABLE).remove().catch(() => {});
    $.logStep("Done", `${Object.entries(fetched.packages).map((e) => e.join(" ")).join(", ")}`);
    return 0;
  } catch (e) {
    const message = (e as Error).message;
    const reason = `Debian sid's greenlet and gevent could not be fetched: ${message}`;
    if (isUnreachable(message)) {
      // Only an unreachable mirror may skip their tests (see scripts/get_pythons.ts).
      GREENLETS_CACHE.join(GREENLETS_UNAVAILABLE).writeTextSync(JSON.stringify({ reason }) + "\n");
      $.logError("Failed", `${reason} (the mirror cannot be reached: their tests skip)`);
      return 1;
    }
    await GREENLETS_CACHE.join(GREENLETS_UNAVAILABLE).remove().catch(() => {});
    $.logError("Failed", `${reason} (a setup error: their tests fail)`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
