/**
 * libc symbols pystack calls: a declarative table and a lazy opener. No logic.
 *
 * @module
 */

/** The libc functions we bind, with their C prototypes. */
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
  /** char *strerror(int errnum) */
  strerror: { parameters: ["i32"], result: "pointer" },
  /** uid_t geteuid(void) */
  geteuid: { parameters: [], result: "u32" },
  /** int open(const char *pathname, int flags) — variadic; no mode needed for O_RDONLY */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** void free(void *ptr) — for memory libdw and libstdc++ allocate for the caller */
  free: { parameters: ["pointer"], result: "void" },
  /** char *strdup(const char *s) — for strings libdw takes ownership of (and frees) */
  strdup: { parameters: ["buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libc. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let libc: Libc | undefined;

/** Opens libc on first use (never at import time). */
export function openLibc(): Libc {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libc;
}

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  const ptr = openLibc().__errno_location();
  return ptr === null ? 0 : new Deno.UnsafePointerView(ptr).getInt32();
}

/** strerror(code) as a string. */
export function strerror(code: number): string {
  const ptr = openLibc().strerror(code);
  return ptr === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(ptr);
}
