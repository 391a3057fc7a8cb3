/**
 * What pystack found, as plain data. Renderers turn it into text or JSON.
 *
 * @module
 */

/** Where in its source a frame is executing. Columns are 0-based UTF-8 byte offsets. */
export interface Location {
  line: number;
  endLine: number;
  /** -1 when the interpreter records no column (before 3.11, or no-column entries). */
  column: number;
  endColumn: number;
}

/** One Python frame. */
export interface PyFrame {
  file: string;
  function: string;
  location: Location;
  /** The first frame run by a new call of the C evaluation loop. */
  isEntry: boolean;
  frameAddress: bigint;
  codeAddress: bigint;
}

/** One thread that has a Python thread state. */
export interface PyThread {
  /** OS thread id; 0 when the thread has finished but was not joined. */
  tid: number;
  /** The kernel's thread name (`comm`). */
  name?: string;
  threadStateAddress: bigint;
  interpreterId: number;
  /** Frames, oldest first. */
  frames: PyFrame[];
  /** undefined when it could not be determined. */
  holdsGil: boolean | undefined;
  gcCollecting: boolean | undefined;
  /** Why the stack may be incomplete (corrupt memory, limits, target running). */
  partial?: string;
}

/** The result of inspecting one process or core. */
export interface StackReport {
  pid: number;
  pythonVersion: string;
  executable?: string;
  /** How the interpreter state was found. */
  foundBy: string;
  /** True when the threads were read without pausing the target. */
  nonBlocking: boolean;
  threads: PyThread[];
  warnings: string[];
}
