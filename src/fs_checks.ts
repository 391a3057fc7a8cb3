/**
 * Whether a path exists, or is a regular file (following links), without
 * throwing.
 *
 * @module
 */

/** Whether `path` exists (following links). */
export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a regular file (following links). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
