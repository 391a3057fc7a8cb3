/**
 * Every optional part, loaded up front: for the library's synchronous API,
 * which cannot wait for `import()`.
 *
 * @module
 */

import type { Parts } from "./parts.ts";
import * as native from "./native_part.ts";
import * as locals from "../walk/locals.ts";
import * as locks from "./locks_part.ts";
import * as tasks from "../analysis/tasks/read_tasks.ts";
import * as greenlets from "./greenlets_part.ts";

/** All the parts. */
export const ALL_PARTS: Parts = { native, locals, locks, tasks, greenlets };
