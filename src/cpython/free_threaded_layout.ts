/**
 * A free-threaded layout for a minor version that has no generated one (3.14t, 3.15t): its GIL
 * build's layout, moved the way the generated 3.13 and 3.13t layouts differ. The target's own
 * `_Py_DebugOffsets` is then laid over it (`src/walk/debug_offsets.ts`), so only what those do
 * not give stays inferred: mostly what `--locals` reads.
 *
 * @module
 */

import type { Field, Layout, StructLayout, StructName } from "./layout.ts";

/** The same minor version built twice, with and without the GIL (3.13 and 3.13t). */
export interface FlavourPair {
  readonly gil: Layout;
  readonly freeThreaded: Layout;
}

/** Structs whose free-threaded form is taken whole from the pair (the object header). */
const TAKEN_WHOLE: ReadonlySet<StructName> = new Set(["object"]);

/**
 * How each struct moved between the two builds of `pair`: its size and, when every field they
 * share moved by the same amount, that amount. A struct whose fields moved unevenly (the
 * interpreter state) has no field shift: its fields are left to the target's debug offsets.
 */
export function structShifts(
  pair: FlavourPair,
): Map<StructName, { size: number; fields?: number }> {
  const shifts = new Map<StructName, { size: number; fields?: number }>();
  for (const [name, gil] of Object.entries(pair.gil.structs) as [StructName, StructLayout][]) {
    const ft = pair.freeThreaded.structs[name];
    if (ft === undefined) continue;
    const deltas = new Set<number>();
    for (const [field, f] of Object.entries(gil.fields)) {
      const moved = ft.fields[field];
      if (moved !== undefined) deltas.add(moved.offset - f.offset);
    }
    const [only] = deltas;
    shifts.set(
      name,
      deltas.size === 1 && only !== undefined
        ? { size: ft.size - gil.size, fields: only }
        : { size: ft.size - gil.size },
    );
  }
  return shifts;
}

/**
 * The free-threaded layout inferred for `gil`'s minor version: the object header of `pair`'s
 * free-threaded build; every other struct moved as it moved in `pair` (fields the free-threaded
 * build adds there, like the GIL's `enabled`, added at their place in it). Its `version` gets a
 * `t` and its `source` says it was inferred.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LAYOUTS } from "./layouts/all.ts";
 * import { inferFreeThreadedLayout } from "./free_threaded_layout.ts";
 * const pair = { gil: LAYOUTS["3.13"]!, freeThreaded: LAYOUTS["3.13t"]! };
 * const layout = inferFreeThreadedLayout(LAYOUTS["3.14"]!, pair);
 * assert.equal(layout.version, "3.14t");
 * assert.equal(layout.structs.object?.fields["type"]?.offset, 24); // after ob_tid, …, ob_ref_shared
 * ```
 */
export function inferFreeThreadedLayout(gil: Layout, pair: FlavourPair): Layout {
  const shifts = structShifts(pair);
  const structs: Partial<Record<StructName, StructLayout>> = {};
  for (const [name, s] of Object.entries(gil.structs) as [StructName, StructLayout][]) {
    const model = pair.freeThreaded.structs[name];
    const shift = shifts.get(name);
    if (TAKEN_WHOLE.has(name) && model !== undefined) {
      structs[name] = model;
      continue;
    }
    if (shift === undefined || name === "debug_offsets") {
      structs[name] = s;
      continue;
    }
    const fields: Record<string, Field> = {};
    for (const [field, f] of Object.entries(s.fields)) {
      fields[field] = { offset: f.offset + (shift.fields ?? 0), kind: f.kind };
    }
    if (shift.fields !== undefined && model !== undefined) {
      const before = pair.gil.structs[name]?.fields ?? {};
      for (const [field, f] of Object.entries(model.fields)) {
        if (fields[field] === undefined && before[field] === undefined) fields[field] = f;
      }
    }
    structs[name] = { size: s.size + shift.size, fields };
  }
  return {
    version: `${gil.version}t`,
    source: `${gil.source} moved as ${pair.gil.source} to ${pair.freeThreaded.source}t (inferred)`,
    structs,
  };
}
