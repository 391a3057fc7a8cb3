import assert from "node:assert/strict";
import { type Column, type Figure, renderTable } from "./bench_table.ts";

const ok = () => undefined;

Deno.test("renderTable() puts medians in cells and says why the others are empty", () => {
  const table: Column[] = [
    {
      name: "pystack (source)",
      cells: {
        floor: { cmd: ["deno"], check: ok },
        remote: { cmd: ["pystack", "remote"], check: ok },
        core: { note: "gcore failed: no" },
      },
    },
    { name: "pystack (executable)", cells: { version: { note: "not built" } } },
    { name: "py-spy `dump`", cells: { remote: { cmd: ["py-spy"], check: ok } } },
  ];
  const figures = new Map<string, Figure>([
    ["pystack (source)\0floor", { medianMs: 15.4, minMs: 14.2, maxMs: 17.9, runs: 7 }],
    ["pystack (source)\0remote", { medianMs: 61.5, minMs: 60, maxMs: 69, runs: 7 }],
    ["py-spy `dump`\0remote", { problem: "exit 1: Error: failed to get python version" }],
  ]);
  const lines = renderTable(table, figures, { runs: 7, coreProblem: "gcore failed: no" });
  assert.deepEqual(lines.slice(0, 9), [
    "| command (4 threads x 30 frames, Debian python3.11) | pystack (source) | py-spy `dump` |",
    "|---|---|---|",
    "| `deno run` of an empty file (the floor) | 15 ms (14-18) |  |",
    "| `--version` |  |  |",
    "| `remote` | 62 ms (60-69) | fails (see notes) |",
    "| `core` | n/a |  |",
    "| `remote --native` |  |  |",
    "| `core --native` |  |  |",
    "",
  ]);
  assert.match(lines[9]!, /^Medians of 7 runs after one warm-up/);
  assert.deepEqual(lines.slice(10), [
    "- pystack (executable): not measured: not built",
    "- py-spy `dump`, `remote`: no figure: exit 1: Error: failed to get python version",
    "- core rows: gcore failed: no",
  ]);
});

Deno.test("renderTable() says how pystack's native rows compare with Bloomberg PyStack's", () => {
  const timed = (name: string): Column => ({
    name,
    cells: {
      "remote-native": { cmd: [name], check: ok },
      "core-native": { cmd: [name], check: ok },
    },
  });
  const figure = (medianMs: number): Figure => ({ medianMs, minMs: 1, maxMs: 1, runs: 1 });
  const lines = renderTable(
    [timed("pystack (source)"), timed("pystack (bundle)"), timed("Bloomberg PyStack")],
    new Map([
      ["pystack (source)\0remote-native", figure(150)],
      ["pystack (source)\0core-native", figure(150)],
      ["pystack (bundle)\0remote-native", figure(100)],
      ["pystack (bundle)\0core-native", figure(140)],
      ["Bloomberg PyStack\0remote-native", figure(500)],
      ["Bloomberg PyStack\0core-native", figure(300)],
    ]),
    { runs: 1 },
  );
  assert.deepEqual(lines.filter((l) => l.includes("Bloomberg PyStack =")), [
    "`remote --native`: pystack (bundle) / Bloomberg PyStack = 0.20 (goal <= 0.4: met)",
    "`core --native`: pystack (bundle) / Bloomberg PyStack = 0.47 (goal <= 0.4: MISSED)",
  ]);
});
