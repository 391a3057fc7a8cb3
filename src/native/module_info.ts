/**
 * A libdwfl module's name and address range (`dwfl_module_info`).
 *
 * @module
 */

import { cString, openLibdw } from "../../ffi/libdw.ts";

/** Name (undefined when libdw has none) and `[start, end)` of the module `mod`. */
export function moduleInfo(mod: Deno.PointerObject): {
  name: string | undefined;
  start: bigint;
  end: bigint;
} {
  const start = new BigUint64Array(1);
  const end = new BigUint64Array(1);
  const name = cString(
    openLibdw().dwfl_module_info(
      mod,
      null,
      new Uint8Array(start.buffer),
      new Uint8Array(end.buffer),
      null,
      null,
      null,
      null,
    ),
  );
  return { name, start: start[0]!, end: end[0]! };
}
