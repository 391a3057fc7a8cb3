/**
 * Checks the fixtures themselves, without pystack: every fixture runs under
 * `fixtures/_dump_stacks.py` on every interpreter (2.7 included), and the
 * stacks CPython reports through `sys._current_frames()` must match the
 * `# @frame` markers and `_fixture_specs.ts`. A failure here is a fixture
 * bug, or an interpreter that attributes lines differently.
 *
 * @module
 */
import { checkStacks } from "./_check_stacks.ts";
import { FIXTURES } from "./_fixture_specs.ts";
import {
  dumpFixtureStacks,
  expectedFrames,
  FIXTURES_DIR,
  parseTraceback,
  registerTest,
  requireAll,
} from "./_harness.ts";
import { findPythons } from "./_pythons.ts";

const pythons = await findPythons();

for (const fixture of FIXTURES) {
  registerTest(`fixture markers fixture=${fixture.key}`, undefined, async (t) => {
    const frames = await expectedFrames(fixture.file);
    // Steps without sanitizers may run concurrently: one per interpreter.
    await Promise.all(pythons.map((python) => {
      const name = `python=${python.id}`;
      const skip = python.unavailable ?? python.missing ??
        (fixture.python3Only && python.version[0] < 3 ? "fixture needs Python 3" : undefined);
      if (skip && !(python.missing && requireAll())) {
        console.error(`skipped: fixture markers fixture=${fixture.key} ${name}: ${skip}`);
        return t.step({ name: `${name} (skipped: ${skip})`, ignore: true, fn() {} });
      }
      return t.step({
        name,
        sanitizeOps: false,
        sanitizeResources: false,
        sanitizeExit: false,
        async fn() {
          if (python.missing) throw new Error(`Cannot run: ${python.missing}`);
          const dump = await dumpFixtureStacks(python, fixture.file);
          try {
            checkStacks(parseTraceback(dump.text), {
              pid: dump.pid,
              scriptPath: FIXTURES_DIR + fixture.file,
              threads: fixture.threads(python.version),
              frames,
              checkStatus: false,
              // Python 2's sys._current_frames() is an unordered dict.
              checkOrder: python.version[0] >= 3,
              // The main thread starts in _dump_stacks.py and runpy.
              checkMainBefore: false,
            });
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            throw new Error(`${message}\n--- dump ---\n${dump.text}`, { cause: error });
          }
        },
      });
    }));
  });
}
