/**
 * Finding the files a core names (executable, libraries) on this machine:
 * at their recorded path, or by file name in a search path, or under a root
 * directory (an unpacked container image): at the recorded path inside it,
 * else anywhere by file name (indexed once, bounded depth). Symbolic links
 * under the root resolve as in a chroot: an absolute target starts at the
 * root, `..` stops there; followed at most 40 in a path, directories once.
 *
 * @module
 */

import { isFile } from "../fs_checks.ts";

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
   * of the same name in the search path (in order), then `path` inside the
   * root, then files of the same name under the root (sorted), then `path`
   * itself. A `" (deleted)"` suffix is ignored.
   */
  candidates(path: string): string[] {
    const clean = path.endsWith(" (deleted)") ? path.slice(0, -" (deleted)".length) : path;
    const name = clean.slice(clean.lastIndexOf("/") + 1);
    const out: string[] = [];
    for (const dir of this.#searchPath) {
      const file = `${dir.replace(/\/+$/, "")}/${name}`;
      if (isFile(file)) out.push(file);
    }
    if (this.#root !== undefined) {
      const inRoot = resolveInRoot(this.#root, clean);
      if (inRoot !== undefined && isFile(inRoot)) out.push(inRoot);
      out.push(...(this.#rootIndex().get(name) ?? []));
    }
    if (isFile(clean)) out.push(clean);
    return [...new Set(out)];
  }

  #rootIndex(): Map<string, string[]> {
    if (this.#index) return this.#index;
    const root = this.#root!.replace(/\/+$/, "") || "/";
    const index = new Map<string, string[]>();
    const walked = new Set<string>();
    let count = 0;
    // `dir` is a real directory on this machine, `inRoot` the same as the image names it.
    const walk = (dir: string, inRoot: string, depth: number) => {
      let real: string;
      try {
        real = Deno.realPathSync(dir);
      } catch {
        return;
      }
      if (walked.has(real)) return; // a directory reached again through a link
      walked.add(real);
      let entries;
      try {
        entries = [...Deno.readDirSync(dir)].sort((a, b) => (a.name < b.name ? -1 : 1));
      } catch {
        return;
      }
      for (const entry of entries) {
        if (count >= this.#maxFiles) return;
        let path = `${dir}/${entry.name}`;
        const pathInRoot = `${inRoot}/${entry.name}`;
        if (entry.isSymlink) {
          const target = resolveInRoot(root, pathInRoot);
          if (target === undefined) continue;
          path = target;
        }
        const kind = entry.isSymlink ? kindOf(path) : entry.isDirectory ? "dir" : "file";
        if (kind === "dir") {
          if (depth < this.#maxDepth) walk(path, pathInRoot, depth + 1);
        } else if (kind === "file" && (entry.isFile || entry.isSymlink)) {
          count++;
          const list = index.get(entry.name);
          if (list) list.push(path);
          else index.set(entry.name, [path]);
        }
      }
    };
    walk(root, "", 0);
    this.#index = index;
    return index;
  }
}

/** Most symbolic links followed while resolving one path (Linux's own limit). */
const MAX_LINKS = 40;

/**
 * Where `path`, a path inside the image at `root`, is on this machine, its
 * symbolic links resolved as in a chroot at `root`: an absolute target
 * starts again at `root`, `..` never leaves it. Undefined when a component
 * does not exist or more than 40 links are met (a loop).
 *
 * @example An image whose `/opt/python` links to a layer
 * ```ts
 * import { resolveInRoot } from "./library_locator.ts";
 * import assert from "node:assert/strict";
 *
 * const root = Deno.makeTempDirSync();
 * Deno.mkdirSync(`${root}/layers/py/bin`, { recursive: true });
 * Deno.mkdirSync(`${root}/opt`);
 * Deno.writeTextFileSync(`${root}/layers/py/bin/python3`, "");
 * Deno.symlinkSync("/layers/py", `${root}/opt/python`);
 * assert.equal(resolveInRoot(root, "/opt/python/bin/python3"), `${root}/layers/py/bin/python3`);
 * Deno.removeSync(root, { recursive: true });
 * ```
 */
export function resolveInRoot(root: string, path: string): string | undefined {
  const base = root.replace(/\/+$/, "");
  const done: string[] = [];
  const todo = path.split("/").reverse();
  let links = 0;
  while (todo.length > 0) {
    const part = todo.pop()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const here = `${base}/${[...done, part].join("/")}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(here);
    } catch {
      return undefined;
    }
    if (!info.isSymlink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) return undefined;
    let target: string;
    try {
      target = Deno.readLinkSync(here);
    } catch {
      return undefined;
    }
    if (target.startsWith("/")) done.length = 0;
    todo.push(...target.split("/").reverse());
  }
  return `${base}/${done.join("/")}`;
}

function kindOf(path: string): "dir" | "file" | undefined {
  try {
    const info = Deno.statSync(path);
    return info.isDirectory ? "dir" : info.isFile ? "file" : undefined;
  } catch {
    return undefined;
  }
}
