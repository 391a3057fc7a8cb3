/**
 * A bounded LRU cache of fixed-size pages read from byte sources (core files,
 * libraries). The stack walker makes many small reads; each page is read from
 * disk once while it stays cached.
 *
 * @module
 */

import type { ByteSource } from "../elf/elf_file.ts";
import { canReadInto } from "./file_reader.ts";

interface Page {
  bytes: Uint8Array;
  /** Allocated by the cache (so it may be refilled), not a view a source returned. */
  owned: boolean;
}

/** Options for {@linkcode PageCache}. */
export interface PageCacheOptions {
  /** Bytes per page (64 KiB). */
  pageSize?: number;
  /** Pages kept at most (256, so 16 MiB with the default page size). */
  maxPages?: number;
}

/**
 * Pages of several sources, least recently used dropped first. A dropped
 * page's buffer is refilled for the next page when the source can read into
 * a buffer ({@linkcode canReadInto}), so steady random reads allocate nothing
 * but the small copies they return.
 */
export class PageCache {
  readonly pageSize: number;
  readonly maxPages: number;
  #pages = new Map<string, Page>();
  #ids = new Map<ByteSource, number>();
  /** Pages read from a source (for tests and benchmarks). */
  misses = 0;

  constructor(options: PageCacheOptions = {}) {
    this.pageSize = options.pageSize ?? 64 * 1024;
    this.maxPages = options.maxPages ?? 256;
  }

  /**
   * Reads `length` bytes at `offset` of `source` through the cache. The range
   * must lie inside the source (the source throws otherwise).
   */
  read(source: ByteSource, offset: number, length: number): Uint8Array {
    if (length > this.pageSize * 4) return source.read(offset, length);
    const first = Math.floor(offset / this.pageSize);
    const last = Math.floor((offset + length - 1) / this.pageSize);
    if (first === last) {
      const page = this.#page(source, first);
      const at = offset - first * this.pageSize;
      if (at + length > page.length) return source.read(offset, length);
      return page.slice(at, at + length);
    }
    const out = new Uint8Array(length);
    for (let p = first, pos = 0; p <= last; p++) {
      const page = this.#page(source, p);
      const at = p === first ? offset - first * this.pageSize : 0;
      const n = Math.min(length - pos, page.length - at);
      if (n <= 0) return source.read(offset, length);
      out.set(page.subarray(at, at + n), pos);
      pos += n;
    }
    return out;
  }

  /** Drops every cached page. */
  clear(): void {
    this.#pages.clear();
  }

  #page(source: ByteSource, index: number): Uint8Array {
    let id = this.#ids.get(source);
    if (id === undefined) this.#ids.set(source, id = this.#ids.size);
    const key = `${id}:${index}`;
    const hit = this.#pages.get(key);
    if (hit) {
      this.#pages.delete(key);
      this.#pages.set(key, hit);
      return hit.bytes;
    }
    const start = index * this.pageSize;
    const length = Math.max(0, Math.min(this.pageSize, source.size - start));
    let spare: Page | undefined;
    if (this.#pages.size >= this.maxPages) {
      const [oldest, page] = this.#pages.entries().next().value!;
      this.#pages.delete(oldest);
      spare = page;
    }
    let page: Page;
    if (canReadInto(source)) {
      const bytes = spare?.owned && spare.bytes.length === length
        ? spare.bytes
        : new Uint8Array(length);
      source.readInto(start, bytes);
      page = { bytes, owned: true };
    } else {
      page = { bytes: source.read(start, length), owned: false };
    }
    this.misses++;
    this.#pages.set(key, page);
    return page.bytes;
  }
}
