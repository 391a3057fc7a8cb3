#!/usr/bin/env -S deno run -A
/**
 * Builds `dist/pystack.js`: the CLI as JavaScript (`deno bundle
 * --code-splitting`), runnable with `deno run -A dist/pystack.js` or directly
 * (it starts with a `deno run -A` shebang). The entry holds the command line
 * parser; each command's modules, and each optional part of an inspection
 * (native frames, locals, locks, tasks, greenlets), are chunks beside it in
 * `dist/pystack-chunks/`, loaded only by the runs that need them: start-up is
 * paid per run, so `--version` compiles only the entry and a Python-only
 * `remote` only the walk. Minified, with names kept, and each module's
 * top-level functions compiled with it, so Deno's code cache holds them
 * (`eager_functions.ts`). Copy both to run it elsewhere. It reads nothing from the source tree at run time (the demo
 * program is embedded). Checks the result with `--version` from outside the
 * tree.
 *
 * Usage: `deno task bundle`
 *
 * @module
 */

import $ from "dax";
import { VERSION } from "../src/version.ts";
import { eagerFunctions } from "./eager_functions.ts";

const ROOT = $.path(import.meta.dirname!).parent()!;
const DIST = ROOT.join("dist");
const OUT = DIST.join("pystack.js");
const CHUNKS = "pystack-chunks";
const SHEBANG = "#!/usr/bin/env -S deno run --allow-all\n";

/**
 * Each `import("./x.js")` of a chunk written `import(["./x.js"][0])`: Deno reads
 * (and hashes, and looks up in its caches) every module a literal dynamic import
 * names before the program starts, so every run would load every chunk; with
 * the specifier computed, a run loads only the chunks it imports (about 2 to
 * 3 ms less for `remote`). The module resolved is the same.
 */
export function deferDynamicImports(code: string): string {
  return code.replace(
    /\bimport\(\s*"(\.\/[^"]+\.js)"\s*\)/g,
    (_, file: string) => `import(["${file}"][0])`,
  );
}

/**
 * The entry's relative imports (`from "./x.js"`, `import "./x.js"`,
 * `import("./x.js")`) pointed into `dir`.
 */
export function intoChunkDir(code: string, dir: string): string {
  return code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*\[?|\bimport\s+)"\.\/([^"/]+\.js)"/g,
    (_, lead: string, file: string) => `${lead}"./${dir}/${file}"`,
  );
}

if (import.meta.main) {
  await DIST.mkdir({ recursive: true });
  const tmp = DIST.join(`.bundle.${Deno.pid}`);
  try {
    // Minified (names kept: errors are named after their classes): a Python-only `remote`
    // or `core` reads, hashes and looks up about 0.5 MB less source (~2 ms per run).
    await $`deno bundle --quiet --platform deno --code-splitting --minify --keep-names --outdir ${tmp} ${
      ROOT.join("src", "main.ts")
    }`.cwd(ROOT);
    for (const chunk of tmp.readDirSync()) {
      if (chunk.isFile) {
        await chunk.path.writeText(
          eagerFunctions(deferDynamicImports(await chunk.path.readText())),
        );
      }
    }
    const entry = tmp.join("main.js");
    const built = await entry.readText();
    const body = built.startsWith("#!") ? built.slice(built.indexOf("\n") + 1) : built;
    const code = eagerFunctions(intoChunkDir(body, CHUNKS));
    await entry.remove();
    await DIST.join(CHUNKS).remove({ recursive: true }).catch(() => {});
    await tmp.rename(DIST.join(CHUNKS));
    await OUT.writeText(SHEBANG + code);
    await OUT.chmod(0o755);
  } finally {
    await tmp.remove({ recursive: true }).catch(() => {});
  }

  // The bundle must run from anywhere: check it from a directory outside the tree.
  const printed = (await $`deno run --allow-all ${OUT} --version`.cwd("/").text()).trim();
  if (printed !== VERSION) {
    $.logError("bundle:", `dist/pystack.js --version printed '${printed}', not '${VERSION}'`);
    Deno.exit(1);
  }
  let chunkBytes = 0;
  let chunkCount = 0;
  for (const chunk of DIST.join(CHUNKS).readDirSync()) {
    chunkBytes += chunk.path.statSync()!.size;
    chunkCount++;
  }
  const size = OUT.statSync()!.size;
  console.error(
    `dist/pystack.js: ${(size / 1024).toFixed(0)} KiB, and ${chunkCount} chunks in ` +
      `dist/${CHUNKS}/ (${(chunkBytes / 1024).toFixed(0)} KiB), pystack ${printed}`,
  );
}
