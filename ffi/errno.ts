/**
 * errno values pystack reacts to, and a typed error carrying one.
 *
 * @module
 */

import { strerror } from "./libc.ts";

/** Linux errno numbers used by callers. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ECHILD: 10,
  EAGAIN: 11,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EINVAL: 22,
  ENOSYS: 38,
} as const;

/** A failed system call: its name and errno. */
export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  constructor(syscall: string, code: number) {
    super(`${syscall} failed: ${strerror(code)}`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = code;
  }
}
