/**
 * `readInSnapshot()` on a real process (`sleep`), with walks that read pages
 * of its stack mapping: a page the first copy lacks is copied in a second
 * pause; a walk that always lacks one gives up after `MAX_SNAPSHOTS` pauses;
 * an error of a walk over a whole copy is the caller's; the pages of an
 * earlier call are copied without a walk over the running target.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_SNAPSHOTS, readInSnapshot } from "../src/process/paused_snapshot.ts";
import { ProcessMemory } from "../src/memory/process_memory.ts";
import { parseMaps } from "../src/elf/maps.ts";
import { procState, sleep, tracerPid } from "./_harness.ts";

/** A sleeping child and the first pages of its stack mapping. */
async function sleeper(): Promise<{ child: Deno.ChildProcess; pages: bigint[] } & AsyncDisposable> {
  const child = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
    .spawn();
  let stack;
  for (let i = 0; i < 100 && stack === undefined; i++) {
    stack = parseMaps(Deno.readTextFileSync(`/proc/${child.pid}/maps`))
      .find((m) => m.path === "[stack]");
    if (stack === undefined) await sleep(10);
  }
  assert.ok(stack, "sleep has a stack mapping");
  const pages = [0, 1, 2, 3].map((i) => stack.start + BigInt(i * 4096));
  return {
    child,
    pages,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/** The first byte of each page of `pages` read through `mem`. */
function firstBytes(mem: { read(a: bigint, n: number): Uint8Array }, pages: bigint[]) {
  return pages.map((p) => mem.read(p, 1)[0]!);
}

Deno.test("readInSnapshot() copies in a second pause a page the first copy lacked", async () => {
  await using target = await sleeper();
  using mem = new ProcessMemory(target.child.pid);
  const [a, b] = target.pages;
  const result = readInSnapshot(target.child.pid, mem, {
    running: () => "running",
    paused: (tracer) => {
      assert.deepEqual(tracer.tids, [target.child.pid]);
      assert.equal(procState(target.child.pid), "t", "stopped while paused");
      return "paused";
    },
    // Over the running target the walk reads page a only; over a copy, a and b.
    walk: (reader, context) => firstBytes(reader, context === "running" ? [a!] : [a!, b!]),
  });
  assert.equal(result.pausesMs.length, 2, "a second pause for page b");
  assert.deepEqual(result.result?.context, "paused");
  assert.deepEqual(result.result?.value, firstBytes(mem, [a!, b!]));
  assert.deepEqual([...result.plan].sort(byValue), [a!, b!]);
  assert.equal(result.pages, 2);
  assert.equal(result.reads, 1, "both pages in one read");
  assert.equal(tracerPid(target.child.pid), 0, "not traced after");
  assert.notEqual(procState(target.child.pid), "t", "and running");
});

Deno.test("readInSnapshot() gives up after MAX_SNAPSHOTS copies that each lack a page", async () => {
  await using target = await sleeper();
  using mem = new ProcessMemory(target.child.pid);
  let round = 0;
  const result = readInSnapshot(target.child.pid, mem, {
    running: () => 0,
    paused: () => ++round,
    // Each copy's walk wants one page more than the copies had.
    walk: (reader, n) => firstBytes(reader, target.pages.slice(0, n + 1)),
  });
  assert.equal(result.result, undefined);
  assert.equal(result.pausesMs.length, MAX_SNAPSHOTS);
  assert.equal(result.plan.size, MAX_SNAPSHOTS + 1, "the pages learnt, for the caller's pause");
  assert.equal(tracerPid(target.child.pid), 0, "not traced after");
});

Deno.test("readInSnapshot() throws what a walk over a whole copy throws, once", async () => {
  await using target = await sleeper();
  using mem = new ProcessMemory(target.child.pid);
  let walks = 0;
  assert.throws(
    () =>
      readInSnapshot(target.child.pid, mem, {
        running: () => undefined,
        paused: () => undefined,
        walk: (reader) => {
          walks++;
          firstBytes(reader, [target.pages[0]!]);
          throw new TypeError("Layout has no frame");
        },
      }),
    TypeError,
  );
  assert.equal(walks, 2, "the walk over the running target, then over one copy");
  assert.equal(tracerPid(target.child.pid), 0, "not traced after");
});

Deno.test("readInSnapshot() with the pages of an earlier call copies them without a first walk", async () => {
  await using target = await sleeper();
  using mem = new ProcessMemory(target.child.pid);
  const [a, b, c] = target.pages;
  const contexts: string[] = [];
  const result = readInSnapshot(target.child.pid, mem, {
    running: () => "running",
    paused: () => "paused",
    walk: (reader, context) => {
      contexts.push(context);
      return firstBytes(reader, [a!, c!]);
    },
  }, new Set([a!, b!]));
  assert.deepEqual(contexts, ["paused", "paused"], "no walk over the running target");
  assert.equal(result.pausesMs.length, 2, "a second pause for page c, which the pages lacked");
  assert.deepEqual(result.result?.value, firstBytes(mem, [a!, c!]));
  assert.deepEqual([...result.plan].sort(byValue), [a!, c!], "next time: the pages this walk read");
});

/** Ascending order of bigints (`sort()` alone compares their decimal strings). */
function byValue(x: bigint, y: bigint): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
