/**
 * Native frames (`--native`, `--native-all`, `--native-last`): everything an
 * inspection calls for them, as one module to load on demand.
 *
 * @module
 */

export {
  attachOptionsFor,
  debugImagesAhead,
  libcPath,
  logInflated,
  NativeStacks,
  NO_INTERPRETER_RULES,
  noInterpreterWarning,
} from "../native/native_stacks.ts";
export { attachCoreNative } from "../core/core_native.ts";
