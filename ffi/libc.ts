/**
 * libc symbols pystack calls: a declarative table and a lazy opener. No logic.
 *
 * @module
 */

/**
 * The libc functions every live inspection calls (tracing and reading the
 * target), with their C prototypes. Bound apart from the others: Deno compiles
 * a call stub per bound function, paid at start-up.
 */
export const LIBC_SYMBOLS = {
  /** long ptrace(enum __ptrace_request request, pid_t pid, void *addr, void *data) — variadic in glibc; 4 fixed args work */
  ptrace: { parameters: ["i32", "i32", "u64", "u64"], result: "i64" },
  /** pid_t waitpid(pid_t pid, int *wstatus, int options) */
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long liovcnt, const struct iovec *remote, unsigned long riovcnt, unsigned long flags) */
  process_vm_readv: {
    parameters: ["i32", "buffer", "u64", "buffer", "u64", "u64"],
    result: "i64",
  },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libc. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let libc: Libc | undefined;

/**
 * The libc functions for files and memory handed to or taken from libdw and
 * libstdc++ (native frames), and `strerror` (error messages).
 */
export const LIBC_FILE_SYMBOLS = {
  /** int *__errno_location(void) — in both tables: errno is read through the one already open */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum) */
  strerror: { parameters: ["i32"], result: "pointer" },
  /** int open(const char *pathname, int flags) — variadic; no mode needed for O_RDONLY */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** void free(void *ptr) — for memory libdw and libstdc++ allocate for the caller */
  free: { parameters: ["pointer"], result: "void" },
  /** char *strdup(const char *s) — for strings libdw takes ownership of (and frees) */
  strdup: { parameters: ["buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libc file functions. */
export type LibcFiles = Deno.DynamicLibrary<typeof LIBC_FILE_SYMBOLS>["symbols"];

let libcFiles: LibcFiles | undefined;

/** Opens the libc file functions on first use. */
export function openLibcFiles(): LibcFiles {
  libcFiles ??= Deno.dlopen("libc.so.6", LIBC_FILE_SYMBOLS).symbols;
  return libcFiles;
}

/** Opens libc on first use (never at import time). */
export function openLibc(): Libc {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libc;
}

/**
 * The calling thread's errno, read right after a failed call (through a table
 * already open: opening one could change errno).
 */
export function errno(): number {
  const ptr = (libc ?? libcFiles ?? openLibc()).__errno_location();
  return ptr === null ? 0 : new Deno.UnsafePointerView(ptr).getInt32();
}

/** strerror(code) as a string. */
export function strerror(code: number): string {
  const ptr = openLibcFiles().strerror(code);
  return ptr === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * The libc functions for building files in memory (native frames only:
 * decompressed debug information handed to libdw), opened apart so that
 * plain `pystack remote` does not bind them.
 */
export const LIBC_MEMORY_SYMBOLS = {
  /** int memfd_create(const char *name, unsigned int flags) — glibc >= 2.27 */
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  /** int ftruncate(int fd, off_t length) */
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  /** off_t lseek(int fd, off_t offset, int whence) */
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) — MAP_FAILED is (void *)-1 */
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  /** int munmap(void *addr, size_t length) */
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `MFD_CLOEXEC`, `PROT_*`, `MAP_*`, `SEEK_END`. */
export const MEM = {
  MFD_CLOEXEC: 1,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  SEEK_END: 2,
} as const;

/** The opened libc memory functions. */
export type LibcMemory = Deno.DynamicLibrary<typeof LIBC_MEMORY_SYMBOLS>["symbols"];

let libcMemory: LibcMemory | undefined;

/** Opens the libc memory functions on first use. */
export function openLibcMemory(): LibcMemory {
  libcMemory ??= Deno.dlopen("libc.so.6", LIBC_MEMORY_SYMBOLS).symbols;
  return libcMemory;
}
