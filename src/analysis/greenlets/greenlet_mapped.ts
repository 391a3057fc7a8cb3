/**
 * Whether a process uses greenlet, from its mappings alone.
 *
 * @module
 */

import type { MapEntry } from "../../elf/maps.ts";

/** Whether greenlet's extension module (`_greenlet….so`) is mapped. */
export function greenletModuleMapped(maps: readonly MapEntry[]): boolean {
  return maps.some((m) => /(^|\/)_greenlet(\.[^/]*)?\.so$/.test(m.path));
}
