/**
 * elfutils (libdw, which contains libdwfl, and libelf) symbols pystack calls
 * for native stacks: declarative tables, lazy openers, the callback shapes,
 * and classes that own the handles. No logic.
 *
 * Structures passed by pointer (x86-64 / LP64):
 * - `Dwfl_Callbacks`: 4 pointers (`find_elf`, `find_debuginfo`,
 *   `section_address`, `char **debuginfo_path`), 32 bytes; libdwfl keeps the
 *   pointer, so the memory must live as long as the `Dwfl`.
 * - `Dwarf_Die`: `{ void *addr; Dwarf_CU *cu; Dwarf_Abbrev *abbrev; long padding; }`, 32 bytes.
 * - `Dwarf_Attribute`: `{ unsigned code, form; unsigned char *valp; Dwarf_CU *cu; }`, 24 bytes.
 * - `GElf_Sym`: `{ u32 st_name; u8 st_info, st_other; u16 st_shndx; u64 st_value, st_size; }`, 24 bytes.
 *
 * @module
 */

import { openLibcFiles } from "./libc.ts";

/** The libdw/libdwfl functions we bind, with their C prototypes. */
export const LIBDW_SYMBOLS = {
  /** Dwfl *dwfl_begin(const Dwfl_Callbacks *callbacks) */
  dwfl_begin: { parameters: ["pointer"], result: "pointer" },
  /** void dwfl_end(Dwfl *dwfl) */
  dwfl_end: { parameters: ["pointer"], result: "void" },
  /** int dwfl_errno(void) */
  dwfl_errno: { parameters: [], result: "i32" },
  /** const char *dwfl_errmsg(int err) — err -1: the last error */
  dwfl_errmsg: { parameters: ["i32"], result: "pointer" },
  /** void dwfl_report_begin(Dwfl *dwfl) — modules not reported again before dwfl_report_end are removed */
  dwfl_report_begin: { parameters: ["pointer"], result: "void" },
  /** Dwfl_Module *dwfl_report_module(Dwfl *dwfl, const char *name, Dwarf_Addr start, Dwarf_Addr end) */
  dwfl_report_module: { parameters: ["pointer", "buffer", "u64", "u64"], result: "pointer" },
  /** void dwfl_report_begin_add(Dwfl *dwfl) */
  dwfl_report_begin_add: { parameters: ["pointer"], result: "void" },
  /** int dwfl_report_end(Dwfl *dwfl, int (*removed)(...), void *arg) */
  dwfl_report_end: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  /** int dwfl_linux_proc_report(Dwfl *dwfl, pid_t pid) */
  dwfl_linux_proc_report: { parameters: ["pointer", "i32"], result: "i32" },
  /** int dwfl_linux_proc_attach(Dwfl *dwfl, pid_t pid, bool assume_ptrace_stopped) */
  dwfl_linux_proc_attach: { parameters: ["pointer", "i32", "bool"], result: "i32" },
  /** int dwfl_core_file_report(Dwfl *dwfl, Elf *elf, const char *executable) */
  dwfl_core_file_report: { parameters: ["pointer", "pointer", "buffer"], result: "i32" },
  /** int dwfl_core_file_attach(Dwfl *dwfl, Elf *elf) — returns the core's pid */
  dwfl_core_file_attach: { parameters: ["pointer", "pointer"], result: "i32" },
  /** int dwfl_getthread_frames(Dwfl *dwfl, pid_t tid, int (*callback)(Dwfl_Frame *, void *), void *arg) */
  dwfl_getthread_frames: {
    parameters: ["pointer", "i32", "function", "pointer"],
    result: "i32",
  },
  /** int dwfl_getthreads(Dwfl *dwfl, int (*callback)(Dwfl_Thread *, void *), void *arg) */
  dwfl_getthreads: { parameters: ["pointer", "function", "pointer"], result: "i32" },
  /** pid_t dwfl_thread_tid(Dwfl_Thread *thread) */
  dwfl_thread_tid: { parameters: ["pointer"], result: "i32" },
  /** int dwfl_thread_getframes(Dwfl_Thread *thread, int (*callback)(Dwfl_Frame *, void *), void *arg) */
  dwfl_thread_getframes: { parameters: ["pointer", "function", "pointer"], result: "i32" },
  /** bool dwfl_frame_pc(Dwfl_Frame *state, Dwarf_Addr *pc, bool *isactivation) */
  dwfl_frame_pc: { parameters: ["pointer", "buffer", "buffer"], result: "bool" },
  /** int dwfl_frame_reg(Dwfl_Frame *state, unsigned regno, Dwarf_Word *val) — elfutils >= 0.188 */
  dwfl_frame_reg: { parameters: ["pointer", "u32", "buffer"], result: "i32", optional: true },
  /** ptrdiff_t dwfl_getmodules(Dwfl *dwfl, int (*callback)(Dwfl_Module *, void **, const char *, Dwarf_Addr, void *), void *arg, ptrdiff_t offset) */
  dwfl_getmodules: { parameters: ["pointer", "function", "pointer", "i64"], result: "i64" },
  /** Dwfl_Module *dwfl_addrmodule(Dwfl *dwfl, Dwarf_Addr address) */
  dwfl_addrmodule: { parameters: ["pointer", "u64"], result: "pointer" },
  /** const char *dwfl_module_info(Dwfl_Module *mod, void ***userdata, Dwarf_Addr *start, Dwarf_Addr *end, Dwarf_Addr *dwbias, Dwarf_Addr *symbias, const char **mainfile, const char **debugfile) */
  dwfl_module_info: {
    parameters: [
      "pointer",
      "pointer",
      "buffer",
      "buffer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
    ],
    result: "pointer",
  },
  /** const char *dwfl_module_addrinfo(Dwfl_Module *mod, GElf_Addr address, GElf_Off *offset, GElf_Sym *sym, GElf_Word *shndxp, Elf **elfp, Dwarf_Addr *bias) */
  dwfl_module_addrinfo: {
    parameters: ["pointer", "u64", "buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "pointer",
  },
  /** Dwarf_Die *dwfl_module_addrdie(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias) */
  dwfl_module_addrdie: { parameters: ["pointer", "u64", "buffer"], result: "pointer" },
  /** Elf *dwfl_module_getelf(Dwfl_Module *mod, GElf_Addr *bias) */
  dwfl_module_getelf: { parameters: ["pointer", "buffer"], result: "pointer" },
  /** int dwfl_module_build_id(Dwfl_Module *mod, const unsigned char **bits, GElf_Addr *vaddr) — the length, 0 without one, -1 on error */
  dwfl_module_build_id: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** Dwarf_CFI *dwfl_module_eh_cfi(Dwfl_Module *mod, Dwarf_Addr *bias) */
  dwfl_module_eh_cfi: { parameters: ["pointer", "buffer"], result: "pointer" },
  /** Dwarf_Line *dwarf_getsrc_die(Dwarf_Die *cudie, Dwarf_Addr addr) */
  dwarf_getsrc_die: { parameters: ["pointer", "u64"], result: "pointer" },
  /** const char *dwarf_linesrc(Dwarf_Line *line, Dwarf_Word *mtime, Dwarf_Word *length) */
  dwarf_linesrc: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  /** int dwarf_lineno(Dwarf_Line *line, int *linep) */
  dwarf_lineno: { parameters: ["pointer", "buffer"], result: "i32" },
  /** int dwarf_getscopes(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die **scopes) — *scopes is malloc'd */
  dwarf_getscopes: { parameters: ["pointer", "u64", "buffer"], result: "i32" },
  /** int dwarf_getscopes_die(Dwarf_Die *die, Dwarf_Die **scopes) — *scopes is malloc'd */
  dwarf_getscopes_die: { parameters: ["pointer", "buffer"], result: "i32" },
  /** int dwarf_tag(Dwarf_Die *die) */
  dwarf_tag: { parameters: ["pointer"], result: "i32" },
  /** Dwarf_Attribute *dwarf_attr_integrate(Dwarf_Die *die, unsigned int search_name, Dwarf_Attribute *result) */
  dwarf_attr_integrate: { parameters: ["pointer", "u32", "buffer"], result: "pointer" },
  /** const char *dwarf_formstring(Dwarf_Attribute *attrp) */
  dwarf_formstring: { parameters: ["buffer"], result: "pointer" },
  /** int dwarf_formudata(Dwarf_Attribute *attr, Dwarf_Word *return_uval) */
  dwarf_formudata: { parameters: ["buffer", "buffer"], result: "i32" },
  /** const char *dwarf_diename(Dwarf_Die *die) */
  dwarf_diename: { parameters: ["pointer"], result: "pointer" },
  /** Dwarf_Die *dwarf_diecu(Dwarf_Die *die, Dwarf_Die *result, uint8_t *address_sizep, uint8_t *offset_sizep) */
  dwarf_diecu: { parameters: ["pointer", "buffer", "pointer", "pointer"], result: "pointer" },
  /** int dwarf_getsrcfiles(Dwarf_Die *cudie, Dwarf_Files **files, size_t *nfiles) */
  dwarf_getsrcfiles: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** const char *dwarf_filesrc(Dwarf_Files *file, size_t idx, Dwarf_Word *mtime, Dwarf_Word *length) */
  dwarf_filesrc: { parameters: ["pointer", "u64", "pointer", "pointer"], result: "pointer" },
  /** int dwfl_build_id_find_elf(...) — a standard Dwfl_Callbacks.find_elf (its address) */
  dwfl_build_id_find_elf: { type: "pointer" },
  /** int dwfl_linux_proc_find_elf(...) — a standard Dwfl_Callbacks.find_elf (its address) */
  dwfl_linux_proc_find_elf: { type: "pointer" },
  /** int dwfl_standard_find_debuginfo(...) — the standard Dwfl_Callbacks.find_debuginfo (its address) */
  dwfl_standard_find_debuginfo: { type: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libelf functions we bind. */
export const LIBELF_SYMBOLS = {
  /** unsigned int elf_version(unsigned int version) — must be called before elf_begin */
  elf_version: { parameters: ["u32"], result: "u32" },
  /** Elf *elf_begin(int fildes, Elf_Cmd cmd, Elf *ref) */
  elf_begin: { parameters: ["i32", "i32", "pointer"], result: "pointer" },
  /** int elf_end(Elf *elf) */
  elf_end: { parameters: ["pointer"], result: "i32" },
  /** int elf_errno(void) */
  elf_errno: { parameters: [], result: "i32" },
  /** const char *elf_errmsg(int error) */
  elf_errmsg: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `int (*)(Dwfl_Frame *state, void *arg)`: returns DWARF_CB_OK (0) or DWARF_CB_ABORT (1). */
export const FRAME_CALLBACK = { parameters: ["pointer", "pointer"], result: "i32" } as const;
/** `int (*)(Dwfl_Thread *thread, void *arg)`. */
export const THREAD_CALLBACK = { parameters: ["pointer", "pointer"], result: "i32" } as const;
/** `int (*)(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)`. */
export const MODULE_CALLBACK = {
  parameters: ["pointer", "pointer", "pointer", "u64", "pointer"],
  result: "i32",
} as const;
/** `Dwfl_Callbacks.find_elf`: `int (*)(Dwfl_Module *, void **userdata, const char *modname, Dwarf_Addr base, char **file_name, Elf **elfp)`. */
export const FIND_ELF_CALLBACK = {
  parameters: ["pointer", "pointer", "pointer", "u64", "pointer", "pointer"],
  result: "i32",
} as const;

/** `Dwfl_Callbacks.find_debuginfo`: `int (*)(Dwfl_Module *, void **userdata, const char *modname, Dwarf_Addr base, const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc, char **debuginfo_file_name)`. */
export const FIND_DEBUGINFO_CALLBACK = {
  parameters: ["pointer", "pointer", "pointer", "u64", "pointer", "pointer", "u32", "pointer"],
  result: "i32",
} as const;

/** `DWARF_CB_OK`, `DWARF_CB_ABORT`. */
export const DWARF_CB = { ok: 0, abort: 1 } as const;
/** `Elf_Cmd` values. */
export const ELF_C_READ_MMAP = 8;
/** `EV_CURRENT`. */
export const EV_CURRENT = 1;
/** `O_RDONLY | O_CLOEXEC`. */
export const O_RDONLY_CLOEXEC = 0o2000000;
/** DWARF tags and attributes read. */
export const DW = {
  TAG_inlined_subroutine: 0x1d,
  TAG_subprogram: 0x2e,
  AT_name: 0x03,
  AT_call_file: 0x58,
  AT_call_line: 0x59,
  AT_linkage_name: 0x6e,
  AT_MIPS_linkage_name: 0x2007,
} as const;
/** Sizes of the structures above. */
export const SIZEOF = { callbacks: 32, die: 32, attribute: 24, sym: 24 } as const;

/** The opened libdw. */
export type Libdw = Deno.DynamicLibrary<typeof LIBDW_SYMBOLS>["symbols"];
/** The opened libelf. */
export type Libelf = Deno.DynamicLibrary<typeof LIBELF_SYMBOLS>["symbols"];

let libdw: Libdw | undefined;
let libelf: Libelf | undefined;

/** Opens libdw (`libdw.so.1`, or `path`) on first use; throws when it is not installed. */
export function openLibdw(path = "libdw.so.1"): Libdw {
  libdw ??= Deno.dlopen(path, LIBDW_SYMBOLS).symbols;
  return libdw;
}

/** Opens libelf (`libelf.so.1`) on first use and sets its version; throws when it is missing. */
export function openLibelf(): Libelf {
  if (libelf === undefined) {
    const opened = Deno.dlopen("libelf.so.1", LIBELF_SYMBOLS).symbols;
    opened.elf_version(EV_CURRENT);
    libelf = opened;
  }
  return libelf;
}

/** A C string at `ptr`, or undefined for NULL. */
export function cString(ptr: Deno.PointerValue): string | undefined {
  return ptr === null ? undefined : Deno.UnsafePointerView.getCString(ptr);
}

/** `s` as a NUL-terminated buffer. */
export function toCString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The text of the last libdwfl error. */
export function dwflError(): string {
  const dw = openLibdw();
  return cString(dw.dwfl_errmsg(-1)) ?? `libdwfl error ${dw.dwfl_errno()}`;
}

/** The text of the last libelf error. */
export function elfError(): string {
  const elf = openLibelf();
  return cString(elf.elf_errmsg(-1)) ?? `libelf error ${elf.elf_errno()}`;
}

/** A file descriptor, closed on dispose. */
export class OwnedFd implements Disposable {
  readonly fd: number;
  #closed = false;
  constructor(fd: number) {
    this.fd = fd;
  }
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    openLibcFiles().close(this.fd);
  }
}

/** An `Elf*` from `elf_begin`, released with `elf_end` on dispose. */
export class ElfHandle implements Disposable {
  readonly pointer: Deno.PointerObject;
  #ended = false;
  constructor(pointer: Deno.PointerObject) {
    this.pointer = pointer;
  }
  [Symbol.dispose](): void {
    if (this.#ended) return;
    this.#ended = true;
    openLibelf().elf_end(this.pointer);
  }
}

/**
 * A `Dwfl*` from `dwfl_begin`, released with `dwfl_end` on dispose. Keeps
 * the `Dwfl_Callbacks` memory (and whatever else the session must outlive)
 * reachable while the session lives.
 */
export class DwflHandle implements Disposable {
  readonly pointer: Deno.PointerObject;
  readonly #keepAlive: unknown[];
  #ended = false;
  constructor(pointer: Deno.PointerObject, keepAlive: unknown[]) {
    this.pointer = pointer;
    this.#keepAlive = keepAlive;
  }
  /** Whether `dwfl_end` ran. */
  get ended(): boolean {
    return this.#ended;
  }
  [Symbol.dispose](): void {
    if (this.#ended) return;
    this.#ended = true;
    openLibdw().dwfl_end(this.pointer);
    this.#keepAlive.length = 0;
  }
}
