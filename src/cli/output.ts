/**
 * Writing to stdout/stderr synchronously; a closed pipe (`| head`) ends quietly.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Thrown when the reader of stdout went away; the CLI exits 0 quietly. */
export class ClosedPipe extends Error {}

function writeAll(file: typeof Deno.stdout, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  try {
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) throw new ClosedPipe();
    throw e;
  }
}

/** Writes lines to stdout. */
export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) writeAll(Deno.stdout, lines.join("\n") + "\n");
}

/** Writes one line to stderr (ignoring a closed stderr). */
export function printError(line: string): void {
  try {
    writeAll(Deno.stderr, line + "\n");
  } catch {
    // Nowhere left to report to.
  }
}
