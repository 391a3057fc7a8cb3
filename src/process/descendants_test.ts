import assert from "node:assert/strict";
import { commandLine, descendantsOf, readParents } from "./descendants.ts";

Deno.test("descendantsOf() walks children of children depth first, by pid", () => {
  const parents = new Map([[5, 1], [9, 5], [7, 5], [8, 7], [6, 9], [30, 2]]);
  const { processes, truncated } = descendantsOf(5, parents);
  assert.deepEqual(
    processes.map((p) => [p.pid, p.depth, p.parent]),
    [[5, 0, undefined], [7, 1, 5], [8, 2, 7], [9, 1, 5], [6, 2, 9]],
  );
  assert.equal(truncated, false);
});

Deno.test("descendantsOf() stops at its limits and says so", () => {
  const chain = new Map(Array.from({ length: 100 }, (_, i) => [i + 2, i + 1] as const));
  const deep = descendantsOf(1, chain, { maxDepth: 3 });
  assert.deepEqual(deep.processes.map((p) => p.pid), [1, 2, 3, 4]);
  assert.equal(deep.truncated, true);
  const wide = descendantsOf(1, new Map(Array.from({ length: 50 }, (_, i) => [i + 2, 1])), {
    maxCount: 10,
  });
  assert.equal(wide.processes.length, 10);
  assert.equal(wide.truncated, true);
});

Deno.test("descendantsOf() survives loops in the parent links", () => {
  const { processes } = descendantsOf(1, new Map([[1, 2], [2, 1]]));
  assert.deepEqual(processes.map((p) => p.pid), [1, 2]);
});

Deno.test("readParents() and commandLine() see this process", () => {
  const parents = readParents();
  assert.ok(parents.has(Deno.pid));
  assert.equal(parents.get(Deno.pid), Deno.ppid);
  assert.match(commandLine(Deno.pid)!, /deno/);
  assert.equal(commandLine(0x3fffffff), undefined);
});
