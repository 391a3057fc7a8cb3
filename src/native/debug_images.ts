/**
 * Decompressed images of separate debug files, made ahead of libdw's
 * asking, by build id, on worker threads (`debug_inflate.ts`). pystack
 * prepares the files it expects to need (the interpreter's and libc's) as
 * soon as it knows them (for a live process, they inflate only once the
 * target runs again), and the other objects' with frames after unwinding;
 * the `find_debuginfo` callback (`find_debuginfo.ts`) then hands libdwfl
 * the image instead of the compressed file.
 *
 * An image whose sections are still being inflated may be handed over while
 * {@linkcode DebugImages.partial} is set: libdwfl then reads only its headers
 * and symbol table (written first), and the symboliser waits for
 * {@linkcode DebugImages.ready} before it asks for anything in DWARF.
 *
 * @module
 */

import { openLibcFiles } from "../../ffi/libc.ts";
import { toCString } from "../../ffi/libdw.ts";
import { DebugImage, type InflateJob, type InflateStats } from "./debug_inflate.ts";

/** Where elfutils' default path (`:.debug:/usr/lib/debug`) looks by build id. */
const BUILD_ID_ROOT = "/usr/lib/debug/.build-id/";
const O_RDONLY_CLOEXEC = 0o2000000;

/** The debug file of `buildId` (hex) where elfutils looks first, resolved as elfutils records it. */
export function debugFileByBuildId(buildId: string): string | undefined {
  if (!/^[0-9a-f]{6,128}$/.test(buildId)) return undefined;
  try {
    return Deno.realPathSync(`${BUILD_ID_ROOT}${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`);
  } catch {
    return undefined;
  }
}

interface Entry {
  path: string;
  image: DebugImage;
  /** Its sections not started yet ({@linkcode DebugImages.start}), and those started. */
  pending: InflateJob[];
  started: Promise<boolean>[];
  /** Whether every section inflated, once known. */
  ok: boolean | undefined;
  taken: boolean;
  disposed: boolean;
  /** Requests before this one. */
  order: number;
}

/** A section to inflate, started, waiting for a worker thread. */
interface Queued {
  entry: Entry;
  job: InflateJob;
  resolve: (ok: boolean) => void;
}

/**
 * Whether `a` inflates before `b`: the image requested first (the
 * interpreter's, whose frames are symbolised first) before the others, for it
 * is complete only once all its sections are; then the largest section first.
 */
function before(a: Queued, b: Queued): boolean {
  if (a.entry.order !== b.entry.order) return a.entry.order < b.entry.order;
  return a.job.outSize > b.job.outSize;
}

/** Sections inflated at once: one per core (2 when the count is unknown). */
const MAX_WORKERS = Math.max(1, navigator.hardwareConcurrency || 2);

/**
 * How many sections inflate at once: `all`, one per core, while this thread
 * waits for them; `spare`, all cores but this thread's, while it works (none
 * on one core: then nothing competes with it).
 */
export type Workers = "all" | "spare";

function workerCount(workers: Workers | number): number {
  if (typeof workers === "number") return Math.min(workers, MAX_WORKERS);
  return workers === "all" ? MAX_WORKERS : MAX_WORKERS - 1;
}

/** Images being made or made, by build id. */
export class DebugImages implements Disposable {
  readonly stats: InflateStats = {
    files: 0,
    compressedBytes: 0,
    inflatedBytes: 0,
    ms: 0,
    decompressor: "zlib",
    dropped: [],
  };
  /** Whether {@linkcode take} may hand over an image still being inflated. */
  partial = false;
  readonly #entries = new Map<string, Entry>();
  #firstStart: number | undefined;
  #lastEnd = 0;
  /** Jobs started but not running yet. */
  readonly #queue: Queued[] = [];
  #running = 0;
  /** Jobs allowed to run at once, raised by {@linkcode start}. */
  #workers = 0;

  /**
   * Prepares the image of the debug file of `buildId` (hex), when there is
   * one by build id with compressed DWARF: its headers and other sections are
   * written, its DWARF sections inflate once {@linkcode start}ed (after every
   * request: the worker threads would slow the writing down). Returns whether
   * there is an image.
   */
  request(buildId: string): boolean {
    if (this.#entries.has(buildId)) return true;
    if (Deno.env.get("_PYSTACK_NO_DEBUG_IMAGES")) return false; // testing aid (find_debuginfo.ts)
    const path = debugFileByBuildId(buildId);
    if (path === undefined) return false;
    const libc = openLibcFiles();
    const fd = libc.open(toCString(path), O_RDONLY_CLOEXEC);
    if (fd < 0) return false;
    let image: DebugImage | undefined;
    try {
      image = DebugImage.prepare(fd, { buildId, stats: this.stats });
    } catch {
      image = undefined;
    } finally {
      libc.close(fd);
    }
    if (image === undefined) return false;
    this.#entries.set(buildId, {
      path,
      image,
      pending: [...image.jobs],
      started: [],
      ok: undefined,
      taken: false,
      disposed: false,
      order: this.#entries.size,
    });
    return true;
  }

  /**
   * Starts inflating the requested images' sections on worker threads, in
   * the order of {@linkcode before}, on {@linkcode Workers} threads (or on a
   * number of them, for tests). A later call may raise the count, and
   * {@linkcode setWorkers} may lower it.
   */
  start(workers: Workers | number = "all"): void {
    this.#workers = Math.max(this.#workers, workerCount(workers));
    this.#queuePending();
  }

  /** Queues the sections not started yet. */
  #queuePending(): void {
    const jobs = [...this.#entries.values()].filter((entry) => !entry.disposed)
      .flatMap((entry) => entry.pending.map((job) => ({ entry, job })));
    if (jobs.length === 0 && this.#queue.length === 0) return;
    this.#firstStart ??= performance.now();
    for (const { entry, job } of jobs) {
      entry.pending.splice(entry.pending.indexOf(job), 1);
      entry.started.push(
        new Promise<boolean>((resolve) => {
          this.#queue.push({ entry, job, resolve });
        }),
      );
    }
    this.#pump();
  }

  /**
   * Sets how many sections inflate at once (at least one: this thread is
   * about to wait for them). Running jobs go on.
   */
  setWorkers(workers: Workers): void {
    this.#workers = Math.max(1, workerCount(workers));
    this.#pump();
  }

  /**
   * Runs queued jobs in the order of {@linkcode before} while fewer than the
   * workers allowed run (never more than cores: more threads would only slow
   * the section waited for, and this thread, down).
   */
  #pump(): void {
    while (this.#running < this.#workers && this.#queue.length > 0) {
      let at = 0;
      this.#queue.forEach((q, i) => {
        if (before(q, this.#queue[at]!)) at = i;
      });
      const { entry, job, resolve } = this.#queue.splice(at, 1)[0]!;
      this.#running++;
      entry.image.inflate(job).then((ok) => {
        this.#running--;
        resolve(ok);
        this.#pump();
      });
    }
  }

  /** Whether an image of `buildId` was requested and has not failed. */
  has(buildId: string): boolean {
    const entry = this.#entries.get(buildId);
    return entry !== undefined && entry.ok !== false;
  }

  /**
   * Resolves to whether the image of `buildId` is complete (every section
   * inflated); false when it failed or was never requested.
   */
  async ready(buildId: string): Promise<boolean> {
    const entry = this.#entries.get(buildId);
    if (entry === undefined) return false;
    if (entry.pending.length > 0) {
      this.#workers = Math.max(this.#workers, 1);
      this.#queuePending();
    }
    if (entry.ok === undefined) {
      const results = await Promise.all(entry.started);
      if (entry.ok === undefined) {
        entry.ok = results.every((ok) => ok);
        // Written: only libdwfl's own mapping of the memfd is needed now.
        if (!entry.disposed) entry.image.unmap();
        this.#lastEnd = Math.max(this.#lastEnd, performance.now());
        this.stats.ms = this.#lastEnd - (this.#firstStart ?? this.#lastEnd);
      }
    }
    return entry.ok;
  }

  /** Resolves once no worker thread inflates anything any more. */
  async settled(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map((entry) => Promise.allSettled(entry.started)),
    );
  }

  /**
   * The image of `buildId` for libdwfl (which then owns its memfd): when it
   * is complete, or while {@linkcode partial} is set; each image once.
   */
  take(buildId: string): { fd: number; path: string } | undefined {
    const entry = this.#entries.get(buildId);
    if (entry === undefined || entry.taken || entry.ok === false) return undefined;
    if (entry.ok !== true && !this.partial) return undefined;
    entry.taken = true;
    return { fd: entry.image.handOver(), path: entry.path };
  }

  /**
   * Whether DWARF may be read from the image of `buildId` once taken:
   * false while its sections are inflating or after one failed.
   */
  usable(buildId: string): boolean {
    const entry = this.#entries.get(buildId);
    return entry === undefined || !entry.taken || entry.ok === true;
  }

  /** Unmaps the images (each once its started sections are inflated) and closes those not taken. */
  [Symbol.dispose](): void {
    for (const entry of this.#entries.values()) {
      if (entry.disposed) continue;
      entry.disposed = true;
      // Never unmap memory a worker thread is writing into.
      const image = entry.image;
      if (entry.started.length === 0) image[Symbol.dispose]();
      else Promise.allSettled(entry.started).then(() => image[Symbol.dispose]());
    }
    // Jobs not running yet never will.
    for (const q of this.#queue.splice(0)) q.resolve(false);
  }
}
