/**
 * One elfutils session (a `Dwfl`) over a live process or a core: which
 * objects are mapped where, and the raw program counters of each thread.
 *
 * Live processes: the session is built (modules reported, unwind tables
 * loaded) before pystack pauses the target; {@linkcode NativeSession.unwind}
 * runs while the threads are held by pystack's own tracer (libdwfl is told
 * they are already ptrace-stopped and never attaches or detaches itself).
 *
 * @module
 */

import {
  cString,
  DWARF_CB,
  dwflError,
  DwflHandle,
  ELF_C_READ_MMAP,
  elfError,
  ElfHandle,
  FIND_ELF_CALLBACK,
  FRAME_CALLBACK,
  type Libdw,
  MODULE_CALLBACK,
  O_RDONLY_CLOEXEC,
  openLibdw,
  openLibelf,
  OwnedFd,
  SIZEOF,
  THREAD_CALLBACK,
  toCString,
} from "../../ffi/libdw.ts";
import { openLibcFiles, strerror } from "../../ffi/libc.ts";
import { NativeUnavailableError, PystackError } from "../errors.ts";
import { type FindDebuginfo, inflatingFindDebuginfo } from "./find_debuginfo.ts";
import { DebugImages } from "./debug_images.ts";
import { moduleInfo } from "./module_info.ts";
import { type MapEntry, parseMaps } from "../elf/maps.ts";
import { liveRelocate } from "./live_files.ts";

/** One physical frame as the unwinder saw it. */
export interface RawFrame {
  /** The program counter (innermost frame) or the return address. */
  pc: bigint;
  /** An activation (signal frame or the innermost frame): `pc` is exact, not a return address. */
  activation: boolean;
}

/** A thread's physical frames, innermost first, and why the walk ended early (if it did). */
export interface RawStack {
  tid: number;
  frames: RawFrame[];
  /** Set when no frame at all could be read. */
  error?: string;
  /** Set when the walk stopped at {@linkcode MAX_NATIVE_FRAMES}: the outermost frames are missing. */
  capped?: true;
}

/** Most frames unwound per thread (elfutils' eu-stack default is 256). */
export const MAX_NATIVE_FRAMES = 2048;

/** x86-64 DWARF register number of the stack pointer. */
const DWARF_REG_RSP = 7;

/** Where a core's mapped files are on this machine. */
export type Relocate = (recordedPath: string) => string | undefined;

/** Options of {@linkcode NativeSession.forCore}. */
export interface CoreSessionOptions {
  /** The core file (uncompressed). */
  core: string;
  /** The executable that produced it, on this machine. */
  executable: string;
  /** Where a file the core maps is on this machine, when it moved. */
  relocate?: Relocate;
  /** Debug images made ahead (the session takes them over). */
  images?: DebugImages;
}

/**
 * Opens libdw, or throws {@linkcode NativeUnavailableError}.
 * `_PYSTACK_LIBDW=PATH` loads another file (a testing aid: a missing one).
 */
function libdw(): Libdw {
  try {
    const path = Deno.env.get("_PYSTACK_LIBDW");
    const dw = path ? openLibdw(path) : openLibdw();
    openLibelf();
    return dw;
  } catch (e) {
    throw new NativeUnavailableError(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
}

/** An elfutils session over one process or core. */
export class NativeSession implements Disposable {
  readonly dwfl: DwflHandle;
  /** Owned by the session for cores: the core's fd and `Elf*`. */
  readonly #owned: Disposable[];
  readonly #findElf: Deno.UnsafeCallback<typeof FIND_ELF_CALLBACK>;
  readonly #findDebuginfo: FindDebuginfo;
  /** The debug files handed to libdw decompressed (`debug_images.ts`); the session owns them. */
  readonly images: DebugImages;
  #frames: RawFrame[] = [];
  #leftToExit = false;
  #lastSp: bigint | undefined;
  #capped = false;
  #frameBuf = {
    pc: new BigUint64Array(1),
    activation: new Uint8Array(1),
    sp: new BigUint64Array(1),
  };
  readonly #frameCallback: Deno.UnsafeCallback<typeof FRAME_CALLBACK>;

  private constructor(
    begun: Begun,
    owned: Disposable[],
  ) {
    this.dwfl = begun.dwfl;
    this.#findElf = begun.findElf;
    this.#findDebuginfo = begun.findDebuginfo;
    this.images = begun.images;
    this.#owned = owned;
    this.#frameCallback = new Deno.UnsafeCallback(FRAME_CALLBACK, (state) => this.#onFrame(state));
  }

  /**
   * A session over the live process `pid`: its modules reported, ready to
   * {@linkcode unwind}. It takes `images` (made ahead) over.
   */
  static forProcess(pid: number, images = new DebugImages()): NativeSession {
    let dw, begun;
    try {
      dw = libdw();
      // Files as the process sees them: a container's, not the host's at the same path.
      begun = begin(dw, liveRelocate(pid), images);
    } catch (e) {
      images[Symbol.dispose]();
      throw e;
    }
    const { dwfl } = begun;
    const session = new NativeSession(begun, [images]);
    try {
      const reported = dw.dwfl_linux_proc_report(dwfl.pointer, pid);
      if (reported !== 0) {
        // A positive value is an errno (the maps file could not be read).
        throw new PystackError(
          `Cannot read the native mappings of process ${pid}: ${
            reported > 0 ? strerror(reported) : dwflError()
          }`,
          "check that the process still runs and that pystack may read /proc/PID/maps",
        );
      }
      dw.dwfl_report_end(dwfl.pointer, null, null);
      reportFromFileStarts(dw, dwfl.pointer, pid);
      const rc = dw.dwfl_linux_proc_attach(dwfl.pointer, pid, true);
      if (rc !== 0) {
        throw new PystackError(
          `Cannot prepare native unwinding of process ${pid}: ${
            rc > 0 ? strerror(rc) : dwflError()
          }`,
          "run without --native, --native-all or --native-last",
        );
      }
      return session;
    } catch (e) {
      session[Symbol.dispose]();
      throw e;
    }
  }

  /** A session over a core file, with modules relocated where `options.relocate` says. */
  static forCore(options: CoreSessionOptions): NativeSession {
    const images = options.images ?? new DebugImages();
    const owned: Disposable[] = [images];
    let dw;
    try {
      dw = libdw();
    } catch (e) {
      images[Symbol.dispose]();
      throw e;
    }
    const elf = openLibelf();
    const libc = openLibcFiles();
    const fd = libc.open(toCString(options.core), O_RDONLY_CLOEXEC);
    if (fd < 0) {
      images[Symbol.dispose]();
      throw new PystackError(
        `Cannot open core ${options.core} for native unwinding`,
        "check that the file is readable",
      );
    }
    owned.push(new OwnedFd(fd));
    const elfPtr = elf.elf_begin(fd, ELF_C_READ_MMAP, null);
    if (elfPtr === null) {
      for (const d of owned.reverse()) d[Symbol.dispose]();
      throw new PystackError(
        `Cannot read core ${options.core} with libelf: ${elfError()}`,
        "run without --native, --native-all or --native-last",
      );
    }
    // Disposed in reverse: the Elf before its fd.
    owned.push(new ElfHandle(elfPtr));
    let begun;
    try {
      begun = begin(dw, options.relocate, images);
    } catch (e) {
      for (const d of owned.reverse()) d[Symbol.dispose]();
      throw e;
    }
    const { dwfl } = begun;
    const session = new NativeSession(begun, owned);
    try {
      if (dw.dwfl_core_file_report(dwfl.pointer, elfPtr, toCString(options.executable)) < 0) {
        throw new PystackError(
          `Cannot read the mappings of core ${options.core} with libdwfl: ${dwflError()}`,
          "run without --native, --native-all or --native-last",
        );
      }
      dw.dwfl_report_end(dwfl.pointer, null, null);
      if (dw.dwfl_core_file_attach(dwfl.pointer, elfPtr) < 0) {
        throw new PystackError(
          `Cannot read the threads of core ${options.core} with libdwfl: ${dwflError()}`,
          "run without --native, --native-all or --native-last",
        );
      }
      return session;
    } catch (e) {
      session[Symbol.dispose]();
      throw e;
    }
  }

  /**
   * Loads every module's unwind table (`.eh_frame`) now, so that unwinding
   * while the target is paused does not open files.
   */
  prepare(): void {
    const dw = openLibdw();
    const bias = new BigUint64Array(1);
    const callback = new Deno.UnsafeCallback(MODULE_CALLBACK, (mod) => {
      dw.dwfl_module_eh_cfi(mod, new Uint8Array(bias.buffer));
      return DWARF_CB.ok;
    });
    try {
      dw.dwfl_getmodules(this.dwfl.pointer, callback.pointer, null, 0n);
    } finally {
      callback.close();
    }
  }

  /** Unwinds the live thread `tid` (which must be ptrace-stopped). */
  unwind(tid: number): RawStack {
    const dw = openLibdw();
    this.#frames = [];
    this.#lastSp = undefined;
    const rc = dw.dwfl_getthread_frames(this.dwfl.pointer, tid, this.#frameCallback.pointer, null);
    return this.#result(tid, rc);
  }

  /** Unwinds the threads of a core whose TIDs `wanted` accepts (every thread by default). */
  unwindCore(wanted: (tid: number) => boolean = () => true): RawStack[] {
    const dw = openLibdw();
    const stacks: RawStack[] = [];
    const threadCallback = new Deno.UnsafeCallback(THREAD_CALLBACK, (thread) => {
      const tid = dw.dwfl_thread_tid(thread);
      if (!wanted(tid)) return DWARF_CB.ok;
      this.#frames = [];
      this.#lastSp = undefined;
      const rc = dw.dwfl_thread_getframes(thread, this.#frameCallback.pointer, null);
      stacks.push(this.#result(tid, rc));
      return DWARF_CB.ok;
    });
    try {
      dw.dwfl_getthreads(this.dwfl.pointer, threadCallback.pointer, null);
    } finally {
      threadCallback.close();
    }
    return stacks;
  }

  #result(tid: number, rc: number): RawStack {
    const frames = this.#frames;
    const capped = this.#capped;
    this.#frames = [];
    this.#capped = false;
    // -1 after some frames is the normal end of a stack (no more CFI, or garbage).
    if (rc !== 0 && frames.length === 0) {
      return { tid, frames, error: dwflError() };
    }
    return capped ? { tid, frames, capped } : { tid, frames };
  }

  #onFrame(state: Deno.PointerValue): number {
    const dw = openLibdw();
    const b = this.#frameBuf;
    if (
      !dw.dwfl_frame_pc(state, new Uint8Array(b.pc.buffer), b.activation)
    ) {
      return DWARF_CB.abort;
    }
    const pc = b.pc[0]!;
    const activation = b.activation[0] !== 0;
    // A frame that repeats the previous one (same pc and stack pointer) loops forever.
    let sp: bigint | undefined;
    if (
      dw.dwfl_frame_reg !== null &&
      dw.dwfl_frame_reg(state, DWARF_REG_RSP, new Uint8Array(b.sp.buffer)) === 0
    ) {
      sp = b.sp[0]!;
    }
    const last = this.#frames.at(-1);
    if (
      last !== undefined && last.pc === pc && last.activation === activation &&
      sp !== undefined && sp === this.#lastSp
    ) {
      return DWARF_CB.abort;
    }
    this.#lastSp = sp;
    this.#frames.push({ pc, activation });
    if (this.#frames.length < MAX_NATIVE_FRAMES) return DWARF_CB.ok;
    this.#capped = true;
    return DWARF_CB.abort;
  }

  /**
   * Leaves what the session holds (libdw's tables, the decompressed debug
   * files, its descriptors) for the process's exit to free: disposing of it
   * then does nothing. For a caller that exits right after (pystack's CLI);
   * ending libdwfl's session costs several milliseconds. It never holds a
   * thread stopped: the tracer that stopped them has released them.
   */
  leaveToExit(): void {
    this.#leftToExit = true;
  }

  [Symbol.dispose](): void {
    if (this.dwfl.ended || this.#leftToExit) return;
    this.dwfl[Symbol.dispose]();
    this.#frameCallback.close();
    this.#findElf.close();
    this.#findDebuginfo[Symbol.dispose]();
    for (const d of this.#owned.reverse()) d[Symbol.dispose]();
  }
}

/** A module as libdwfl reported it: its name (a path for a file) and its address range. */
export interface ReportedModule {
  name: string;
  start: bigint;
  end: bigint;
}

/**
 * Where the modules of a live process whose start libdwfl got wrong really
 * start, by their index in `modules`.
 *
 * `dwfl_linux_proc_report` takes the lowest address of consecutive mappings of
 * a file for the start of its module, and libdwfl derives the module's bias from
 * that start. A file that also maps a part of itself below its ELF header (Debian
 * sid's libffi 3.5 maps its static trampolines, file offset 0xd000, just below
 * the library, with only anonymous memory between) so gets a wrong bias: every address in it is off, its unwind table
 * is misread. The true start is that of the file's mapping at offset 0 (the
 * first `PT_LOAD`, whose page-aligned `p_vaddr` libdwfl subtracts), the lowest
 * one within the module's range. Modules without such a mapping in their range
 * (`[vdso: PID]`, a file only partly mapped) are left alone.
 */
export function fileStartFixes(
  modules: readonly ReportedModule[],
  maps: readonly MapEntry[],
): Map<number, bigint> {
  const fixes = new Map<number, bigint>();
  modules.forEach((mod, i) => {
    if (!mod.name.startsWith("/")) return;
    let headerStart: bigint | undefined;
    for (const m of maps) {
      if (
        m.path === mod.name && m.offset === 0n && m.start >= mod.start && m.start < mod.end &&
        (headerStart === undefined || m.start < headerStart)
      ) {
        headerStart = m.start;
      }
    }
    if (headerStart !== undefined && headerStart !== mod.start) fixes.set(i, headerStart);
  });
  return fixes;
}

/**
 * After `dwfl_linux_proc_report` and `dwfl_report_end`: reports again, from
 * the mapping of the file's start, the modules whose start libdwfl took from a
 * lower mapping ({@linkcode fileStartFixes}), and every other module unchanged
 * (libdwfl keeps those as they are; the misplaced ones, never opened yet, are
 * dropped). Does nothing when every module is right or the maps cannot be read.
 */
function reportFromFileStarts(dw: Libdw, dwfl: Deno.PointerObject, pid: number): void {
  let maps: MapEntry[];
  try {
    maps = parseMaps(Deno.readTextFileSync(`/proc/${pid}/maps`));
  } catch {
    return;
  }
  const modules: ReportedModule[] = [];
  const callback = new Deno.UnsafeCallback(MODULE_CALLBACK, (mod) => {
    const { name, start, end } = moduleInfo(mod!);
    if (name !== undefined) modules.push({ name, start, end });
    return DWARF_CB.ok;
  });
  try {
    dw.dwfl_getmodules(dwfl, callback.pointer, null, 0n);
  } finally {
    callback.close();
  }
  const fixes = fileStartFixes(modules, maps);
  if (fixes.size === 0) return;
  dw.dwfl_report_begin(dwfl);
  modules.forEach((mod, i) => {
    const at = fixes.get(i) ?? mod.start;
    if (dw.dwfl_report_module(dwfl, toCString(mod.name), at, mod.end) === null) {
      dw.dwfl_report_end(dwfl, null, null);
      throw new PystackError(
        `Cannot report the native module ${mod.name} of process ${pid}: ${dwflError()}`,
        "run without --native, --native-all or --native-last",
      );
    }
  });
  dw.dwfl_report_end(dwfl, null, null);
}

/** A begun `Dwfl` and the callbacks to close after `dwfl_end`. */
interface Begun {
  dwfl: DwflHandle;
  findElf: Deno.UnsafeCallback<typeof FIND_ELF_CALLBACK>;
  findDebuginfo: FindDebuginfo;
  images: DebugImages;
}

/**
 * `dwfl_begin` with callbacks that find files by build id, then by path
 * (through `relocate` first, for cores whose files moved), and separate
 * debug files where elfutils looks for them, handed over decompressed. The
 * returned callbacks must be closed after `dwfl_end`.
 */
function begin(dw: Libdw, relocate: Relocate | undefined, images: DebugImages): Begun {
  type FindElf = Deno.PointerObject<typeof FIND_ELF_CALLBACK>;
  const byBuildId = new Deno.UnsafeFnPointer(
    dw.dwfl_build_id_find_elf as FindElf,
    FIND_ELF_CALLBACK,
  );
  const byPath = new Deno.UnsafeFnPointer(
    dw.dwfl_linux_proc_find_elf as FindElf,
    FIND_ELF_CALLBACK,
  );
  const libc = openLibcFiles();
  const findElf = new Deno.UnsafeCallback(
    FIND_ELF_CALLBACK,
    (mod, userdata, modname, base, fileName, elfp) => {
      const fd = byBuildId.call(mod, userdata, modname, base, fileName, elfp);
      if (fd >= 0 || (elfp !== null && readPointer(elfp) !== 0n)) return fd;
      const name = cString(modname);
      const moved = name === undefined || relocate === undefined ? undefined : relocate(name);
      if (moved !== undefined && moved !== name && fileName !== null) {
        const movedFd = libc.open(toCString(moved), O_RDONLY_CLOEXEC);
        if (movedFd >= 0) {
          // libdwfl owns (and frees) *file_name.
          writePointer(fileName, libc.strdup(toCString(moved)));
          return movedFd;
        }
      }
      return byPath.call(mod, userdata, modname, base, fileName, elfp);
    },
  );
  const findDebuginfo = inflatingFindDebuginfo(dw, images);
  const callbacks = new BigUint64Array(SIZEOF.callbacks / 8);
  const noPath = new BigUint64Array(1); // char *debuginfo_path = NULL: elfutils' default path
  callbacks[0] = pointerValue(findElf.pointer);
  callbacks[1] = pointerValue(findDebuginfo.callback.pointer);
  callbacks[2] = 0n;
  callbacks[3] = pointerValue(Deno.UnsafePointer.of(noPath));
  const pointer = dw.dwfl_begin(Deno.UnsafePointer.of(callbacks));
  if (pointer === null) {
    findElf.close();
    findDebuginfo[Symbol.dispose]();
    throw new PystackError(
      `Cannot start an elfutils session: ${dwflError()}`,
      "run without --native, --native-all or --native-last",
    );
  }
  return {
    dwfl: new DwflHandle(pointer, [callbacks, noPath, byBuildId, byPath]),
    findElf,
    findDebuginfo,
    images,
  };
}

function pointerValue(p: Deno.PointerValue): bigint {
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

function readPointer(at: Deno.PointerObject): bigint {
  return new Deno.UnsafePointerView(at).getBigUint64();
}

function writePointer(at: Deno.PointerObject, value: Deno.PointerValue): void {
  new BigUint64Array(Deno.UnsafePointerView.getArrayBuffer(at, 8))[0] = pointerValue(value);
}
