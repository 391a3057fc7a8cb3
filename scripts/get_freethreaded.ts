/**
 * Unpacks the free-threaded CPython builds of `../shared/pythons/` (beside the repository)
 * into `.cache/pythons/`, so that the tests run a real free-threaded interpreter:
 * `cpython-3.13t-x86_64-linux-gnu.tar.xz` becomes `.cache/pythons/3.13t/` (its
 * `bin/python3.13t` finds its libpython through a relative RUNPATH).
 *
 * Idempotent: a folder whose `pystack-tarball.sha256` names the tarball's digest and whose
 * interpreter is there is left alone; otherwise it is unpacked again (into a temporary folder
 * first, renamed into place once whole). Exits 1 when a tarball is missing or cannot be
 * unpacked: the tests of that interpreter then report it missing (and fail with
 * `PYSTACK_TEST_REQUIRE_ALL=1`).
 *
 * Usage: `deno run -A scripts/get_freethreaded.ts` (`PYSTACK_SHARED_PYTHONS=DIR` reads the
 * tarballs from DIR instead)
 *
 * @module
 */

import $ from "dax";

const REPO = $.path(new URL("../", import.meta.url));
/** Where the tarballs are: `../shared/pythons/` beside the repository. */
const SHARED = $.path(
  Deno.env.get("PYSTACK_SHARED_PYTHONS") ?? REPO.join("../shared/pythons").toString(),
);
const CACHE = REPO.join(".cache/pythons");
const MARKER = "pystack-tarball.sha256";

/** Each build: its tarball, the folder it unpacks to (its top folder) and its interpreter. */
const BUILDS = [
  {
    tarball: "cpython-3.13t-x86_64-linux-gnu.tar.xz",
    folder: "3.13t",
    interpreter: "bin/python3.13t",
  },
] as const;

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function unpack(build: typeof BUILDS[number]): Promise<boolean> {
  const tarball = SHARED.join(build.tarball);
  if (!tarball.existsSync()) {
    $.logError("Missing", `${tarball}: its tests will report ${build.folder} missing`);
    return false;
  }
  const digest = await sha256(tarball.toString());
  const dest = CACHE.join(build.folder);
  const marker = dest.join(MARKER);
  if (
    dest.join(build.interpreter).existsSync() && marker.existsSync() &&
    marker.readTextSync().trim() === digest
  ) {
    $.logStep("Ready", `${dest} (already unpacked)`);
    return true;
  }
  await CACHE.mkdir({ recursive: true });
  const tmp = $.path(await Deno.makeTempDir({ dir: CACHE.toString(), prefix: ".unpack-" }));
  try {
    const tar = await $`tar -xJf ${tarball} -C ${tmp}`.noThrow().stderr("piped");
    const top = tmp.join(build.folder);
    if (tar.code !== 0 || !top.join(build.interpreter).existsSync()) {
      $.logError(
        "Failed",
        `${tarball}: ${tar.stderr.trim() || `no ${build.folder}/${build.interpreter}`}`,
      );
      return false;
    }
    top.join(MARKER).writeTextSync(`${digest}\n`);
    if (dest.existsSync()) await dest.remove({ recursive: true });
    await top.rename(dest);
  } finally {
    await tmp.remove({ recursive: true });
  }
  $.logStep("Unpacked", `${build.tarball} into ${dest}`);
  return true;
}

if (import.meta.main) {
  let ok = true;
  for (const build of BUILDS) ok = (await unpack(build)) && ok;
  Deno.exit(ok ? 0 : 1);
}
