/**
 * Finding the files a core names (executable, libraries) on this machine:
 * at their recorded path, or by file name in a search path, or anywhere under
 * a root directory (indexed once, bounded depth).
 *
 * @module
 */

/** Options for {@linkcode LibraryLocator}. */
export interface LibraryLocatorOptions {
  /** Directories searched in order for a file of the same name. */
  libSearchPath?: readonly string[];
  /** A directory searched recursively for a file of the same name. */
  libSearchRoot?: string;
  /** Directory levels below the root that are searched (16). */
  maxDepth?: number;
  /** Files indexed under the root at most (200 000). */
  maxFiles?: number;
}

/** Finds files by recorded path or by file name. */
export class LibraryLocator {
  readonly #searchPath: readonly string[];
  readonly #root: string | undefined;
  readonly #maxDepth: number;
  readonly #maxFiles: number;
  #index: Map<string, string[]> | undefined;

  constructor(options: LibraryLocatorOptions = {}) {
    this.#searchPath = options.libSearchPath ?? [];
    this.#root = options.libSearchRoot;
    this.#maxDepth = options.maxDepth ?? 16;
    this.#maxFiles = options.maxFiles ?? 200_000;
  }

  /** Whether a search path or root was given. */
  get searching(): boolean {
    return this.#searchPath.length > 0 || this.#root !== undefined;
  }

  /**
   * Every existing regular file that may stand for `path`, best first: files
   * of the same name in the search path (in order), then under the root
   * (sorted), then `path` itself. A `" (deleted)"` suffix is ignored.
   */
  candidates(path: string): string[] {
    const clean = path.endsWith(" (deleted)") ? path.slice(0, -" (deleted)".length) : path;
    const name = clean.slice(clean.lastIndexOf("/") + 1);
    const out: string[] = [];
    for (const dir of this.#searchPath) {
      const file = `${dir.replace(/\/+$/, "")}/${name}`;
      if (isFile(file)) out.push(file);
    }
    if (this.#root !== undefined) out.push(...(this.#rootIndex().get(name) ?? []));
    if (isFile(clean)) out.push(clean);
    return [...new Set(out)];
  }

  #rootIndex(): Map<string, string[]> {
    if (this.#index) return this.#index;
    const index = new Map<string, string[]>();
    let count = 0;
    const walk = (dir: string, depth: number) => {
      let entries;
      try {
        entries = [...Deno.readDirSync(dir)].sort((a, b) => (a.name < b.name ? -1 : 1));
      } catch {
        return;
      }
      for (const entry of entries) {
        if (count >= this.#maxFiles) return;
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) {
          if (depth < this.#maxDepth) walk(path, depth + 1);
        } else if (entry.isFile || (entry.isSymlink && isFile(path))) {
          count++;
          const list = index.get(entry.name);
          if (list) list.push(path);
          else index.set(entry.name, [path]);
        }
      }
    };
    walk(this.#root!.replace(/\/+$/, "") || "/", 0);
    this.#index = index;
    return index;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
