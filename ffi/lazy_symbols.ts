/**
 * Binding a library's symbols on first use. `Deno.dlopen` compiles a call
 * stub for every symbol it is given (0.1 to 0.2 ms each, paid by every run),
 * and a run calls few of them: a Python-only `pystack remote` uses four of
 * libc's symbols, a native one about half of libdw's.
 *
 * @module
 */

/**
 * The symbols of the library at `path`, each bound by its own `Deno.dlopen`
 * the first time it is read. The library itself is opened at once with the
 * symbol `first`, so that a missing library (or that symbol) throws here, as
 * a plain `Deno.dlopen` would.
 */
export function lazySymbols<const S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
  first: keyof S & string,
): Deno.DynamicLibrary<S>["symbols"] {
  const out: Record<string, unknown> = {};
  const bound = Deno.dlopen(path, { [first]: symbols[first]! }).symbols;
  Object.defineProperty(out, first, { value: bound[first], enumerable: true });
  for (const name of Object.keys(symbols)) {
    if (name === first) continue;
    Object.defineProperty(out, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = Deno.dlopen(path, { [name]: symbols[name]! }).symbols[name];
        Object.defineProperty(out, name, { value, enumerable: true });
        return value;
      },
    });
  }
  return out as Deno.DynamicLibrary<S>["symbols"];
}
