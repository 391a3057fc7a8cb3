/**
 * The `Dwfl_Callbacks.find_debuginfo` pystack gives libdwfl: elfutils'
 * standard search, except that a separate debug file found by build id
 * (`/usr/lib/debug/.build-id/xx/….debug`, the first place elfutils looks with
 * its default path) is handed over decompressed: an image made ahead
 * (`debug_images.ts`), or made now (`debug_inflate.ts`).
 *
 * elfutils' own build-id lookup cannot be reused: it opens the file itself
 * and keeps that handle (its "backdoor" into the module), so whatever file
 * descriptor the callback returns would be ignored.
 *
 * @module
 */

import { FIND_DEBUGINFO_CALLBACK, type Libdw, toCString } from "../../ffi/libdw.ts";
import { openLibcFiles } from "../../ffi/libc.ts";
import { inflateDebugFile } from "./debug_inflate.ts";
import { debugFileByBuildId, type DebugImages } from "./debug_images.ts";

const O_RDONLY_CLOEXEC = 0o2000000;
/** `dwfl_module_info`'s `dwbias` before the module's debug file was looked for: `(Dwarf_Addr) -1`. */
const NO_DEBUG_YET = 2n ** 64n - 1n;

/** The callback; close it after `dwfl_end`. */
export interface FindDebuginfo extends Disposable {
  callback: Deno.UnsafeCallback<typeof FIND_DEBUGINFO_CALLBACK>;
}

/** A `find_debuginfo` callback for one `Dwfl`, taking images from `images` (see the module doc). */
export function inflatingFindDebuginfo(dw: Libdw, images: DebugImages): FindDebuginfo {
  const standard = new Deno.UnsafeFnPointer(
    dw.dwfl_standard_find_debuginfo as Deno.PointerObject<typeof FIND_DEBUGINFO_CALLBACK>,
    FIND_DEBUGINFO_CALLBACK,
  );
  // Testing aid: libdw reads (and decompresses) every debug file itself.
  const own = !Deno.env.get("_PYSTACK_NO_DEBUG_IMAGES");
  const callback = new Deno.UnsafeCallback(
    FIND_DEBUGINFO_CALLBACK,
    (mod, userdata, modname, base, fileName, debuglink, crc, debugFileName) => {
      if (own && mod !== null && debugFileName !== null) {
        try {
          const buildId = ownDebugLookup(dw, mod);
          const image = buildId === undefined ? undefined : imageFor(buildId, images);
          if (image !== undefined) {
            setDebugFileName(debugFileName, image.path);
            return image.fd;
          }
        } catch {
          // elfutils' own search below
        }
      }
      return standard.call(mod, userdata, modname, base, fileName, debuglink, crc, debugFileName);
    },
  );
  return {
    callback,
    [Symbol.dispose]() {
      callback.close();
    },
  };
}

/** The image of `buildId`'s debug file: made ahead, or made now on this thread. */
function imageFor(buildId: string, images: DebugImages): { fd: number; path: string } | undefined {
  const made = images.take(buildId);
  if (made !== undefined) return made;
  const path = debugFileByBuildId(buildId);
  if (path === undefined) return undefined;
  const libc = openLibcFiles();
  const fd = libc.open(toCString(path), O_RDONLY_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    const image = inflateDebugFile(fd, { buildId, stats: images.stats });
    return image === undefined ? undefined : { fd: image, path };
  } finally {
    libc.close(fd);
  }
}

/**
 * `mod`'s build id (hex) when libdwfl is looking for the module's own debug
 * file, as `dwfl_build_id_find_debuginfo` would by build id; undefined for
 * other lookups (the `.gnu_debugaltlink` file of a dwz-compressed debug file
 * comes here too, once the module's debug file is known) or without a build
 * id elfutils would search by (3 to 64 bytes).
 */
export function ownDebugLookup(dw: Libdw, mod: Deno.PointerObject): string | undefined {
  const dwbias = new BigUint64Array(1);
  const info = dw.dwfl_module_info(
    mod,
    null,
    new Uint8Array(8),
    new Uint8Array(8),
    Deno.UnsafePointer.of(dwbias),
    null,
    null,
    null,
  );
  if (info === null || dwbias[0] !== NO_DEBUG_YET) return undefined;
  return moduleBuildId(dw, mod);
}

/** Sets libdwfl's `*debuginfo_file_name` (it owns the string; an old one is freed, as elfutils does). */
function setDebugFileName(slot: Deno.PointerObject, path: string): void {
  const libc = openLibcFiles();
  const cell = new BigUint64Array(Deno.UnsafePointerView.getArrayBuffer(slot, 8));
  if (cell[0] !== 0n) libc.free(Deno.UnsafePointer.create(cell[0]!));
  cell[0] = BigInt(Deno.UnsafePointer.value(libc.strdup(toCString(path))));
}

/** The module's build id as hex, when it has one elfutils would search by (3 to 64 bytes). */
export function moduleBuildId(dw: Libdw, mod: Deno.PointerObject): string | undefined {
  const bits = new BigUint64Array(1);
  const n = dw.dwfl_module_build_id(mod, new Uint8Array(bits.buffer), new Uint8Array(8));
  if (n < 3 || n > 64 || bits[0] === 0n) return undefined;
  const bytes = new Uint8Array(
    Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(bits[0]!)!, n),
  );
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
