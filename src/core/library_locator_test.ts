import assert from "node:assert/strict";
import { LibraryLocator, resolveInRoot } from "./library_locator.ts";

/** A container image as a content-addressed store unpacks it: names are links to blobs. */
function makeImage(): string {
  const root = Deno.makeTempDirSync({ prefix: "pystack-image-" });
  for (const dir of ["store/blobs", "layers/py/bin", "layers/py/lib", "opt", "usr/lib"]) {
    Deno.mkdirSync(`${root}/${dir}`, { recursive: true });
  }
  Deno.writeTextFileSync(`${root}/store/blobs/sha256-aa`, "python");
  Deno.writeTextFileSync(`${root}/store/blobs/sha256-bb`, "libpython");
  // An absolute link: inside the image, not this machine's /store.
  Deno.symlinkSync("/store/blobs/sha256-aa", `${root}/layers/py/bin/python3.12`);
  // A relative link that climbs above the root: it stops at the root, like a chroot.
  Deno.symlinkSync("../../../../../../store/blobs/sha256-bb", `${root}/layers/py/lib/libpython.so`);
  Deno.symlinkSync("/layers/py", `${root}/opt/python`); // a linked directory
  Deno.symlinkSync("/", `${root}/usr/lib/loop`); // a loop back to the root
  Deno.symlinkSync("self", `${root}/usr/lib/self`); // a link to itself
  return root;
}

Deno.test("resolveInRoot() follows links as a chroot at the root would", () => {
  const root = makeImage();
  try {
    assert.equal(
      resolveInRoot(root, "/opt/python/bin/python3.12"),
      `${root}/store/blobs/sha256-aa`,
    );
    assert.equal(
      resolveInRoot(root, "/opt/python/lib/libpython.so"),
      `${root}/store/blobs/sha256-bb`,
    );
    assert.equal(resolveInRoot(root, "/usr/lib/loop/usr/lib/loop/opt"), `${root}/opt`);
    // `..` after a link leaves the directory linked to, as the kernel resolves it.
    assert.equal(resolveInRoot(root, "/../../opt/./python/.."), `${root}/layers`);
    assert.equal(resolveInRoot(root, "/usr/lib/self"), undefined); // 40 links, then given up
    assert.equal(resolveInRoot(root, "/opt/python/bin/python3.11"), undefined);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("LibraryLocator.candidates() finds files behind linked directories, once each", () => {
  const root = makeImage();
  try {
    const locator = new LibraryLocator({ libSearchRoot: root });
    // The recorded path inside the root first; the same file by name is not repeated.
    assert.deepEqual(locator.candidates("/opt/python/bin/python3.12"), [
      `${root}/store/blobs/sha256-aa`,
    ]);
    assert.deepEqual(locator.candidates("/usr/local/lib/libpython.so"), [
      `${root}/store/blobs/sha256-bb`,
    ]);
    assert.deepEqual(locator.candidates("/opt/python/bin/python3.11"), []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("LibraryLocator.candidates() under a root with a loop stays bounded", () => {
  const root = makeImage();
  try {
    // A deep chain of directories that each link back up: walked once, never looping.
    let dir = `${root}/deep`;
    for (let i = 0; i < 30; i++) {
      Deno.mkdirSync(dir, { recursive: true });
      Deno.symlinkSync("..", `${dir}/up`);
      dir += `/d${i}`;
    }
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(`${dir}/too-deep.so`, "x");
    const locator = new LibraryLocator({ libSearchRoot: root, maxDepth: 16 });
    assert.deepEqual(locator.candidates("/lib/too-deep.so"), []);
    assert.deepEqual(locator.candidates("/lib/libpython.so"), [`${root}/store/blobs/sha256-bb`]);
    const limited = new LibraryLocator({ libSearchRoot: root, maxFiles: 1 });
    assert.equal(limited.candidates("/x/libpython.so").length <= 1, true);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
