export interface CloseOnSignalOptions {
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /** ms in-flight jobs get to finish before they are released. @default 10000 */
  timeout?: number;
  /** Exit the process after closing (code 0; 1 if closing failed). A second signal exits at once. @default true */
  exit?: boolean;
}

/**
 * Wires SIGTERM/SIGINT to a graceful `close`. Returns a function that removes the handlers.
 *
 * @example
 * await consumer.start();
 * closeOnSignal(consumer, { timeout: 20_000 });
 */
export function closeOnSignal(
  target: { close(options?: { timeout?: number }): Promise<void> },
  { signals = ['SIGTERM', 'SIGINT'], timeout = 10_000, exit = true }: CloseOnSignalOptions = {},
): () => void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      if (exit) process.exit(1);
      return;
    }
    closing = true;
    const again = exit ? '; signal again to exit now' : '';
    process.stderr.write(`[docket] ${signal}: closing (up to ${timeout} ms for running jobs${again})\n`);
    target.close({ timeout }).then(
      () => exit && process.exit(0),
      (err: unknown) => {
        process.stderr.write(`[docket] close failed: ${String(err)}\n`);
        if (exit) process.exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
