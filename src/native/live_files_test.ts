import assert from "node:assert/strict";
import { parseMaps } from "../elf/maps.ts";
import { liveRelocate } from "./live_files.ts";
import { mapFilesPath, MappedFiles } from "../process/mapped_files.ts";

const MAPS = parseMaps([
  "55d0c3a00000-55d0c3a01000 r--p 00000000 fe:00 1234 /opt/python/bin/python3.12",
  "7f00ebc00000-7f00ebd00000 r--p 00000000 fe:00 2345 /opt/python/lib/libpython3.12.so.1.0",
  "7f00ebd00000-7f00ec000000 r-xp 00100000 fe:00 2345 /opt/python/lib/libpython3.12.so.1.0",
  "7f00ec100000-7f00ec101000 r-xp 00001000 fe:00 3456 /tmp/ext.so (deleted)",
  "7f00ec0ff000-7f00ec100000 r--p 00000000 fe:00 3456 /tmp/ext.so (deleted)",
  "",
].join("\n"));

Deno.test("mapFilesPath() names the mapping of the file's start", () => {
  assert.equal(
    mapFilesPath(42, MAPS, "/opt/python/lib/libpython3.12.so.1.0"),
    "/proc/42/map_files/7f00ebc00000-7f00ebd00000",
  );
  assert.equal(
    mapFilesPath(42, MAPS, "/tmp/ext.so"),
    "/proc/42/map_files/7f00ec0ff000-7f00ec100000",
  );
  assert.equal(mapFilesPath(42, MAPS, "/usr/lib/libc.so.6"), undefined);
});

Deno.test("liveRelocate() opens a process's files through its root", () => {
  const relocate = liveRelocate(Deno.pid);
  const exe = Deno.execPath();
  assert.equal(relocate(exe), `/proc/${Deno.pid}/root${exe}`);
  assert.equal(relocate("[vdso]"), undefined);
  assert.equal(relocate("/no/such/file.so"), undefined);
});

Deno.test("MappedFiles knows a deleted file's mappings and prefers the mapped file", () => {
  const files = new MappedFiles(42, MAPS, "/opt/python/bin/python3.12");
  assert.equal(files.deleted("/tmp/ext.so"), true);
  assert.equal(files.deleted("/opt/python/lib/libpython3.12.so.1.0"), false);
  // Neither /proc/42/map_files nor /proc/42/root here: nothing to open, nothing guessed.
  assert.equal(files.locate("/tmp/ext.so"), undefined);
  assert.equal(files.locate("[vdso]"), undefined);
  assert.deepEqual(files.warnings, []);
});
