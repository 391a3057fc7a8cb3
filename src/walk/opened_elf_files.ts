/**
 * The object files an inspection opens (the interpreter's, libc…), closed
 * together when it ends.
 *
 * @module
 */

import { ElfFile, fileSource } from "../elf/elf_file.ts";
import type { ElfOpener } from "./object_files.ts";

/** Opens ELF files by path and closes them all on dispose. */
export class OpenedElfFiles implements Disposable {
  readonly #opened: Disposable[] = [];
  readonly #pathOf: (path: string) => string;

  /** `pathOf` turns a mapped path into the one to open (a container's, for a live process). */
  constructor(pathOf: (path: string) => string = (path) => path) {
    this.#pathOf = pathOf;
  }

  /** The ELF file at `path`, or undefined when it cannot be opened. */
  readonly open: ElfOpener = (path) => {
    try {
      const source = fileSource(this.#pathOf(path));
      this.#opened.push(source);
      return new ElfFile(source);
    } catch {
      return undefined;
    }
  };

  /** {@linkcode open} when there is a path. */
  openMaybe(path: string | undefined): ElfFile | undefined {
    return path === undefined ? undefined : this.open(path);
  }

  [Symbol.dispose](): void {
    for (const d of this.#opened.splice(0)) d[Symbol.dispose]();
  }
}
