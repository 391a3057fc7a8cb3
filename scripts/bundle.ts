#!/usr/bin/env -S deno run -A
/**
 * Builds `dist/pystack.js`: the whole CLI as one JavaScript file (`deno
 * bundle`), runnable with `deno run -A dist/pystack.js` or directly (it starts
 * with a `deno run -A` shebang). It reads nothing from the source tree at run
 * time (the demo program is embedded). Checks the result with `--version`.
 *
 * Usage: `deno task bundle`
 *
 * @module
 */

import $ from "dax";
import { VERSION } from "../src/version.ts";

const ROOT = $.path(import.meta.dirname!).parent()!;
const OUT = ROOT.join("dist", "pystack.js");
const SHEBANG = "#!/usr/bin/env -S deno run --allow-all\n";

await OUT.parentOrThrow().mkdir({ recursive: true });
const tmp = ROOT.join("dist", `.pystack.js.${Deno.pid}`);
try {
  await $`deno bundle --quiet --platform deno --output ${tmp} ${ROOT.join("src", "main.ts")}`
    .cwd(ROOT);
  const code = await tmp.readText();
  await OUT.writeText(code.startsWith("#!") ? code : SHEBANG + code);
  await OUT.chmod(0o755);
} finally {
  await tmp.remove().catch(() => {});
}

// The bundle must run from anywhere: check it from a directory outside the tree.
const printed = (await $`deno run --allow-all ${OUT} --version`.cwd("/").text()).trim();
if (printed !== VERSION) {
  $.logError("bundle:", `dist/pystack.js --version printed '${printed}', not '${VERSION}'`);
  Deno.exit(1);
}
const size = (await OUT.stat())!.size;
console.error(`dist/pystack.js: ${(size / 1024).toFixed(0)} KiB, pystack ${printed}`);
