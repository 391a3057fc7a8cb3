import assert from "node:assert/strict";
import { parseTaskStat, parseVoluntarySwitches, readTaskCounters } from "./task_counters.ts";

Deno.test("parseTaskStat() counts fields from the last parenthesis of the name", () => {
  const line = "7 (we ird) (x) R 3 7 7 0 -1 4194304 1 0 0 0 250 31 0 0 20 0 4 0 99 0 0\n";
  assert.deepEqual(parseTaskStat(line), { state: "R", ppid: 3, cpuTicks: 281 });
});

Deno.test("parseTaskStat() rejects truncated and malformed lines", () => {
  assert.equal(parseTaskStat("7 (x"), undefined);
  assert.equal(parseTaskStat("7 (x) S 1 2"), undefined);
  assert.equal(parseTaskStat("7 (x) ?? 1 7 7 0 -1 0 0 0 0 0 1 1"), undefined);
  assert.equal(parseTaskStat("7 (x) S 1 7 7 0 -1 0 0 0 0 0 -1 1"), undefined);
});

Deno.test("parseVoluntarySwitches() reads only the voluntary count", () => {
  const status = "Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t99\n";
  assert.equal(parseVoluntarySwitches(status), 12);
  assert.equal(parseVoluntarySwitches("Name:\tx\n"), undefined);
});

Deno.test("readTaskCounters() reads this process's main thread", () => {
  const counters = readTaskCounters(Deno.pid, Deno.pid);
  assert.ok(counters !== undefined);
  assert.match(counters.state, /^[RS]$/);
  assert.ok(counters.voluntarySwitches >= 0 && counters.cpuTicks >= 0);
  assert.equal(readTaskCounters(Deno.pid, 0x3fffffff), undefined);
});
