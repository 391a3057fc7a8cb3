import assert from "node:assert/strict";
import { NamespaceTids, parseNsPid } from "./namespace_tids.ts";

// The head of a real /proc/PID/task/TID/status of a thread in a container (kernel 6.18).
const CONTAINER_STATUS = [
  "Name:\tworker-2",
  "Umask:\t0022",
  "State:\tS (sleeping)",
  "Tgid:\t22156",
  "Ngid:\t0",
  "Pid:\t22179",
  "PPid:\t22155",
  "TracerPid:\t0",
  "NStgid:\t22156\t1",
  "NSpid:\t22179\t23",
  "NSpgid:\t22155\t0",
  "NSsid:\t14130\t0",
  "",
].join("\n");

Deno.test("parseNsPid() reads every namespace's id, outermost first", () => {
  assert.deepEqual(parseNsPid(CONTAINER_STATUS), [22179, 23]);
  assert.deepEqual(parseNsPid("Pid:\t7\nNSpid:\t7\n"), [7]);
  assert.deepEqual(parseNsPid("NSpid:\t90 12 3\n"), [90, 12, 3]);
});

Deno.test("parseNsPid() is undefined without a well-formed NSpid line", () => {
  assert.equal(parseNsPid("Name:\tpython3\nPid:\t7\n"), undefined); // kernel < 4.1
  assert.equal(parseNsPid("NSpid:\t\n"), undefined);
  assert.equal(parseNsPid("NSpid:\t12\tx\n"), undefined);
  assert.equal(parseNsPid("NSpid:\t12\t-3\n"), undefined);
  assert.equal(parseNsPid("NSpid:\t12\t0\n"), undefined);
  assert.equal(parseNsPid(`NSpid:\t${"5\t".repeat(40)}5\n`), undefined);
  // NStgid is another line: it must not be taken for NSpid.
  assert.equal(parseNsPid("NStgid:\t22156\t1\n"), undefined);
});

Deno.test("NamespaceTids translates both ways and knows when ids differ", () => {
  const ids = new NamespaceTids([[22156, 1], [22178, 22], [22179, 23]]);
  assert.equal(ids.nested, true);
  assert.equal(ids.toHost(23), 22179);
  assert.equal(ids.toInner(22156), 1);
  assert.equal(ids.toHost(22179), undefined);
  assert.equal(ids.toInner(23), undefined);
  assert.deepEqual([...ids.innerTids()].sort((a, b) => a - b), [1, 22, 23]);
  const same = new NamespaceTids([[500, 500], [501, 501]]);
  assert.equal(same.nested, false);
  assert.equal(same.toHost(501), 501);
});

Deno.test("NamespaceTids.read() of pystack's own threads: same ids, or its own namespace's", () => {
  const tids = [...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name));
  const ids = NamespaceTids.read(Deno.pid, tids);
  const own = parseNsPid(Deno.readTextFileSync("/proc/self/status"))!;
  for (const tid of tids) {
    let status: string;
    try {
      status = Deno.readTextFileSync(`/proc/self/task/${tid}/status`);
    } catch {
      continue; // a thread of the test runner that ended meanwhile
    }
    assert.equal(ids.toInner(tid), parseNsPid(status)!.at(-1));
  }
  assert.equal(ids.nested, own.length > 1);
  // A thread that is gone keeps its id.
  const gone = NamespaceTids.read(Deno.pid, [999_999_999]);
  assert.equal(gone.toHost(999_999_999), 999_999_999);
});
