/**
 * The parts of an inspection that a run may not need, loaded with `import()`
 * only when it asks for them: every module loaded costs each run start-up
 * time (parsing and compiling), and a Python-only `pystack remote` needs none
 * of these. The library's synchronous `inspectProcess` passes them all
 * (`all_parts.ts`).
 *
 * @module
 */

import type { MapEntry } from "../elf/maps.ts";
import { greenletModuleMapped } from "../analysis/greenlets/greenlet_mapped.ts";

/** The optional parts; a part not loaded is absent. */
export interface Parts {
  native?: typeof import("./native_part.ts");
  locals?: typeof import("../walk/locals.ts");
  locks?: typeof import("./locks_part.ts");
  tasks?: typeof import("../analysis/tasks/read_tasks.ts");
  greenlets?: typeof import("./greenlets_part.ts");
}

/** What a run asks for. */
export interface PartsWanted {
  native?: unknown;
  locals?: boolean;
  locks?: boolean;
  tasks?: boolean;
}

/**
 * Loads the parts `wanted` asks for, and the greenlet part when greenlet's
 * extension module is among `maps`.
 */
export async function loadParts(
  wanted: PartsWanted,
  maps: readonly MapEntry[],
): Promise<Parts> {
  const [native, locals, locks, tasks, greenlets] = await Promise.all([
    wanted.native === undefined ? undefined : import("./native_part.ts"),
    wanted.locals ? import("../walk/locals.ts") : undefined,
    wanted.locks ? import("./locks_part.ts") : undefined,
    wanted.tasks ? import("../analysis/tasks/read_tasks.ts") : undefined,
    greenletModuleMapped(maps) ? import("./greenlets_part.ts") : undefined,
  ]);
  return {
    ...(native === undefined ? {} : { native }),
    ...(locals === undefined ? {} : { locals }),
    ...(locks === undefined ? {} : { locks }),
    ...(tasks === undefined ? {} : { tasks }),
    ...(greenlets === undefined ? {} : { greenlets }),
  };
}

/**
 * The part `name` of `parts`; an internal error when it was not loaded
 * (the caller asked for something {@linkcode loadParts} was not told of).
 */
export function part<K extends keyof Parts>(parts: Parts, name: K): NonNullable<Parts[K]> {
  const found = parts[name];
  if (found === undefined) throw new Error(`the ${name} part was not loaded`);
  return found;
}
