#!/usr/bin/env -S deno run -A
/**
 * Builds `dist/pystack`: one executable (`deno compile`) with every permission
 * baked in (`--allow-all`: pystack calls ptrace through FFI, which no narrower
 * set of Deno permissions could contain). It needs no network and reads
 * nothing from the source tree at run time.
 *
 * `deno compile` appends the program to Deno's runtime base, `denort`, which
 * it downloads from Deno's release site unless `DENORT_BIN` names a local
 * copy (unzipped from `denort-x86_64-unknown-linux-gnu.zip` of the same Deno
 * release, 2.9.6 here). Without either, this script stops with one line
 * saying so and exit code 3 (`.ci/run` then counts the compiled run as
 * skipped). Checks the result with `--version`.
 *
 * Usage: `deno task compile` (or `DENORT_BIN=/path/to/denort deno task compile`)
 *
 * @module
 */

import $ from "dax";
import { VERSION } from "../src/version.ts";

/** Exit code when the runtime base cannot be had (not a build failure). */
const NO_RUNTIME_BASE = 3;

const ROOT = $.path(import.meta.dirname!).parent()!;
const OUT = ROOT.join("dist", "pystack");
const denortBin = Deno.env.get("DENORT_BIN");
const denoVersion = Deno.version.deno;

function stop(message: string, code: number): never {
  console.error(`compile: ${message}`);
  Deno.exit(code);
}

if (denortBin !== undefined) {
  const info = await $.path(denortBin).stat();
  if (!info?.isFile || ((info.mode ?? 0) & 0o111) === 0) {
    stop(`DENORT_BIN=${denortBin} is not an executable file`, 1);
  }
}

await OUT.parentOrThrow().mkdir({ recursive: true });
// No config: deno.json's npm imports (dax, ajv) are for scripts and tests, not the executable.
const result = await $`deno compile --allow-all --no-check --no-config --no-lock --quiet
  --output ${OUT} ${ROOT.join("src", "main.ts")}`
  .cwd(ROOT).noThrow().stderr("piped").stdout("piped");
if (result.code !== 0) {
  if (denortBin === undefined && /base binary|denort/i.test(result.stderr)) {
    stop(
      `cannot get Deno's runtime base (denort ${denoVersion}, x86_64-unknown-linux-gnu): ` +
        "deno compile downloads it from Deno's release site, which cannot be reached here, and " +
        `no npm package ships it; set DENORT_BIN to a denort ${denoVersion} binary and run again`,
      NO_RUNTIME_BASE,
    );
  }
  console.error(result.stderr.trimEnd());
  stop(`deno compile failed (exit ${result.code})`, 1);
}

const check = await $`${OUT} --version`.cwd("/").noThrow().stdout("piped").stderr("piped");
if (check.code !== 0 || check.stdout.trim() !== VERSION) {
  await OUT.remove().catch(() => {});
  stop(
    `dist/pystack --version printed '${check.stdout.trim().split("\n")[0]}', not '${VERSION}'` +
      (denortBin === undefined ? "" : `: is DENORT_BIN=${denortBin} a denort ${denoVersion}?`),
    1,
  );
}
const size = (await OUT.stat())!.size;
console.error(`dist/pystack: ${(size / 1024 / 1024).toFixed(1)} MiB, pystack ${VERSION}`);
