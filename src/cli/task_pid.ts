/**
 * A thread id given where pystack expects a process id: the command runs on the process,
 * and says so on stderr.
 *
 * @module
 */

import { processOfTask } from "../process/tasks.ts";
import { printError } from "./output.ts";

/** `command` on the process its `pid` belongs to (itself for a process). */
export function onProcessOf<C extends { pid: number }>(command: C): C {
  const { pid, told } = processOfTask(command.pid);
  if (told === undefined) return command;
  printError(`pystack: warning: ${told}`);
  return { ...command, pid };
}
