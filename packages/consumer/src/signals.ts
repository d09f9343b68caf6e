import { constants } from 'node:os';
import {
  MAX_TIMER_MS,
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  invalid,
  validating,
} from '@docket/protocol/internal';

const DEFAULT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** Signal names this platform knows and a process can catch: a misspelt one would never fire. */
function checkSignals(value: unknown): NodeJS.Signals[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('signals', "a non-empty array of signal names such as 'SIGTERM'", value);
  value.forEach((s, i) => {
    if (typeof s !== 'string' || !Object.hasOwn(constants.signals, s) || s === 'SIGKILL' || s === 'SIGSTOP') {
      throw invalid(`signals[${i}]`, "a signal name a process can catch, such as 'SIGTERM'", s);
    }
  });
  return value as NodeJS.Signals[];
}

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
  options: CloseOnSignalOptions = {},
): () => void {
  validating('target', () => {
    if (typeof (target as { close?: unknown } | null)?.close !== 'function') {
      throw invalid('target', 'a consumer (an object with a close() method)', target);
    }
  });
  const { signals, timeout, exit } = validating('options', () => {
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['signals', 'timeout', 'exit']);
    return {
      signals: o.signals === undefined ? DEFAULT_SIGNALS : checkSignals(o.signals),
      timeout: o.timeout === undefined ? 10_000 : checkInteger('timeout', o.timeout, 0, MAX_TIMER_MS),
      exit: o.exit === undefined ? true : checkBoolean('exit', o.exit),
    };
  });
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
