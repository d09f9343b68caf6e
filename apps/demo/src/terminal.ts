// Terminal output: lines that do not mangle the live status line, and number formats.

const tty = Boolean(process.stdout.isTTY);
/** The live status line, redrawn in place on a terminal. */
let statusLine = '';

/** How often the status line is redrawn: smoothly in place on a terminal, once a second to a pipe or log file. */
export const statusEveryMs = tty ? 100 : 1_000;

/** Prints a line without mangling the status line (clear it, print, redraw). */
export function log(line: string, stream: NodeJS.WritableStream = process.stdout): void {
  if (tty && statusLine) process.stdout.write('\r\x1b[K');
  stream.write(`${line}\n`);
  if (tty && statusLine) process.stdout.write(statusLine);
}

/** Shows the status line: redrawn in place on a terminal, a line of its own otherwise. */
export function setStatus(line: string): void {
  if (!tty) return log(line);
  // Longer than the terminal, the line would wrap and \r could no longer overwrite it.
  statusLine = line.slice(0, Math.max(20, (process.stdout.columns || 80) - 1));
  process.stdout.write(`\r\x1b[K${statusLine}`);
}

export function endStatus(): void {
  if (tty && statusLine) process.stdout.write('\n');
  statusLine = '';
}

/** One row of the summary: a label column, then the text. */
export const row = (label: string, text: string): void => log(`  ${label.padEnd(12)}${text}`);

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
export const ms = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)} ms` : '? ms');
export const percentile = (sorted: number[], q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
