import assert from "node:assert/strict";
import { debugFileByBuildId, DebugImages } from "./debug_images.ts";
import { ElfFile, fileSource } from "../elf/elf_file.ts";
import { registerTest, type Skip } from "../../tests/_harness.ts";

/** The build ids of Debian's python3.11 and of libc, when their debug files are installed. */
function buildIds(): string[] | undefined {
  const ids: string[] = [];
  for (const path of ["/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libc.so.6"]) {
    try {
      using source = fileSource(path);
      const id = new ElfFile(source).buildId();
      if (id === undefined || debugFileByBuildId(id) === undefined) return undefined;
      ids.push(id);
    } catch {
      return undefined;
    }
  }
  return ids;
}

const ids = buildIds();
const skip: Skip | undefined = ids === undefined
  ? {
    reason: "needs Debian's python3.11 and libc with their debug files (python3.11-dbg, libc6-dbg)",
    missing: true,
  }
  : undefined;

/** Images of python3.11's and libc's debug files, in that order, inflating on one worker thread. */
function requested(): DebugImages {
  const images = new DebugImages();
  for (const id of ids!) assert.ok(images.request(id));
  images.start(1);
  return images;
}

registerTest(
  "DebugImages on one worker: the image requested first is complete first",
  skip,
  async () => {
    using images = requested();
    const [python, libc] = ids!;
    const order: string[] = [];
    await Promise.all([
      images.ready(libc!).then((ok) => order.push(`libc ${ok}`)),
      images.ready(python!).then((ok) => order.push(`python ${ok}`)),
    ]);
    // Requested second, libc's sections ran only after all of python's.
    assert.deepEqual(order, ["python true", "libc true"]);
  },
);

registerTest(
  "DebugImages: disposing leaves queued sections unrun, and settled() still resolves",
  skip,
  async () => {
    const images = requested();
    images[Symbol.dispose]();
    await images.settled();
    // Only the section running when disposed was inflated.
    assert.equal(await images.ready(ids![1]!), false);
  },
);
