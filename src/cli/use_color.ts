/**
 * Whether to colour stdout.
 *
 * @module
 */

/** Whether to colour stdout. */
export function useColor(noColor: boolean): boolean {
  return !noColor && Deno.env.get("NO_COLOR") === undefined && Deno.stdout.isTerminal();
}
