/**
 * The shape of `_asyncio`'s private structs, which no CPython header declares (see
 * `task_layouts.ts`, generated from DWARF, for 3.8 to 3.13; 3.14+ describe their tasks in their
 * `AsyncioDebug` section).
 *
 * @module
 */

/** Offsets (bytes) in `_asyncio`'s objects of one minor version. */
export interface TaskLayout {
  /** The CPython release whose build gave the offsets. */
  readonly source: string;
  /** `TaskObj`. */
  readonly task: {
    readonly size: number;
    readonly loop: number;
    readonly callback0: number;
    readonly callbacks: number;
    readonly state: number;
    readonly fut_waiter: number;
    readonly coro: number;
    readonly name: number;
  };
  /** `FutureObj` (a Task starts with the same fields). */
  readonly future: {
    readonly size: number;
    readonly callback0: number;
    readonly callbacks: number;
    readonly state: number;
  };
  /** `futureiterobject.future`: what `await fut` iterates. */
  readonly futureIterFuture: number;
  /** `TaskWakeupMethWrapper.ww_task` (3.8, 3.9; a builtin method from 3.10). */
  readonly wakeupWrapperTask?: number;
  /** `_PyThreadStateImpl.asyncio_running_loop` (3.13). */
  readonly threadRunningLoop?: number;
  /** `partialobject.args` (`functools.partial`, built into libpython). */
  readonly partialArgs?: number;
}
