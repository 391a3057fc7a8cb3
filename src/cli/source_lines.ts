/**
 * Source lines as the target sees its files (`/proc/PID/root/...`), cached per file.
 *
 * @module
 */

/** Largest source file read. */
const MAX_SOURCE = 16 * 1024 * 1024;

/** Returns a `sourceLine(file, line)` function reading files through `resolve(file)`. */
export function sourceReader(
  resolve: (file: string) => string | undefined,
): (file: string, line: number) => string | undefined {
  const cache = new Map<string, string[] | null>();
  return (file, line) => {
    let lines = cache.get(file);
    if (lines === undefined) {
      lines = null;
      const path = file.startsWith("<") ? undefined : resolve(file);
      if (path !== undefined) {
        try {
          const info = Deno.statSync(path);
          if (info.isFile && info.size <= MAX_SOURCE) {
            lines = new TextDecoder().decode(Deno.readFileSync(path)).split(/\r?\n/);
          }
        } catch {
          // Not there: no source line.
        }
      }
      cache.set(file, lines);
    }
    return lines?.[line - 1];
  };
}

/**
 * Where `pystack core` reads the source of `file`: on this machine (a core has no mount
 * namespace to look into), and only for an absolute path. A relative `co_filename`
 * (Python 2.7 and 3.6 to 3.8 keep the script's path as given: `rel.py`) was relative to
 * the process's working directory, which a core does not record: read from pystack's own,
 * it would show a line of an unrelated file as the code.
 */
export function coreSourcePath(file: string): string | undefined {
  return file.startsWith("/") ? file : undefined;
}
