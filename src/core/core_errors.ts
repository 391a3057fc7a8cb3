/**
 * Why a core file cannot be opened. Each class says what failed and why, and
 * carries a `hint` (what to do) for the CLI.
 *
 * @module
 */

import { ExitCode, PystackError } from "../errors.ts";

/** Base of every error about the core file itself. */
export class CoreFileError extends PystackError {
  override readonly exitCode: number = ExitCode.badCore;
  readonly path: string;
  constructor(path: string, message: string, hint?: string) {
    super(message, hint);
    this.path = path;
  }
}

/** The core path does not exist. */
export class CoreNotFoundError extends CoreFileError {
  override readonly exitCode: number = ExitCode.usage;
  constructor(path: string) {
    super(
      path,
      `Cannot open core ${path}: No such file or directory`,
      "check the path; cores are written to the crashed process's working directory " +
        "(see /proc/sys/kernel/core_pattern) or kept by systemd-coredump " +
        "('coredumpctl dump PID -o FILE' extracts one)",
    );
  }
}

/** The hint of a core that may not be read. */
export const CORE_PERMISSION_HINT =
  "check its permissions; cores are usually readable only by their owner or root";

/**
 * The core exists but cannot be read (permissions, I/O error, corrupt compressed data); `hint`
 * fits the cause ({@linkcode CORE_PERMISSION_HINT} only for a refused permission).
 */
export class CoreUnreadableError extends CoreFileError {
  constructor(path: string, reason: string, hint?: string) {
    super(path, `Cannot read core ${path}: ${reason}`, hint);
  }
}

/** The core path is neither a regular file nor a directory (a device, a pipe, a socket). */
export class CoreNotRegularFileError extends CoreFileError {
  constructor(path: string, kind: string) {
    super(
      path,
      `Cannot read core ${path}: it is not a regular file (${kind})`,
      "pass the core file itself; save a core read from a pipe or device to a file first",
    );
  }
}

/** The core path is a directory. */
export class CoreIsDirectoryError extends CoreFileError {
  constructor(path: string) {
    super(path, `Cannot read core ${path}: it is a directory`, "pass the core file itself");
  }
}

/** The core file is empty. */
export class CoreEmptyError extends CoreFileError {
  constructor(path: string) {
    super(
      path,
      `Cannot read core ${path}: the file is empty`,
      "the dump was probably interrupted or limited to 0 bytes ('ulimit -c'); make a new core",
    );
  }
}

/** The file is not an ELF file at all (text, script, unknown compression…). */
export class NotElfError extends CoreFileError {
  constructor(path: string, detail = "it does not start with the ELF magic") {
    super(
      path,
      `Cannot read core ${path}: not an ELF file: ${detail}`,
      "pass a core dump (made by the kernel, gcore or systemd-coredump); " +
        "gzip, zstd and lz4 compressed cores are read directly",
    );
  }
}

/** The file is ELF but not a core (an executable, a library, an object file). */
export class NotCoreError extends CoreFileError {
  constructor(path: string, elfType: number) {
    super(
      path,
      `Cannot read core ${path}: it is an ELF ${elfTypeName(elfType)}, not a core dump`,
      "pass the core as the first argument and the executable as the second: " +
        "pystack core CORE [EXECUTABLE]",
    );
  }
}

/** The core is of a machine other than x86-64. */
export class WrongArchitectureError extends CoreFileError {
  constructor(path: string, detail: string) {
    super(
      path,
      `Cannot read core ${path}: ${detail}; only x86-64 (64-bit little-endian) cores are supported`,
      "analyse the core on a machine of its own architecture",
    );
  }
}

/** The program headers or notes cannot be read (mostly: the core is cut short). */
export class CoreNotesError extends CoreFileError {
  constructor(path: string, reason: string) {
    super(
      path,
      `Cannot read the notes of core ${path}: ${reason}`,
      "the core is probably truncated (disk full, 'ulimit -c' too small, or the dump was " +
        "interrupted); without its notes (threads, mappings) it cannot be analysed, " +
        "make a new core",
    );
  }
}

function elfTypeName(type: number): string {
  switch (type) {
    case 1:
      return "relocatable object";
    case 2:
      return "executable";
    case 3:
      return "shared object or position-independent executable";
    default:
      return `file of type ${type}`;
  }
}
