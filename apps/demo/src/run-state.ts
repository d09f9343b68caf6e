// The driver's run-wide state: whether it is stopping early (and why), and whether shutdown
// has started. Read by every waiting loop; set by a child that dies, a failed request,
// a failed scenario or Ctrl+C.
import { waitUntil } from '@docket/testing';

/** Why the run must stop early ('' while it need not). */
let abortReason = '';
/** Set once shutdown starts: from then on children exiting is expected. */
let shuttingDown = false;

export const aborted = (): string => abortReason;

/** Stops the run early, for the first reason given (later ones are consequences of it). */
export function abort(reason: string): void {
  abortReason ||= reason;
}

/** Records `err` as the reason the run stops, as "<what> failed: <message>". */
export const abortOnFailure =
  (what: string) =>
  (err: unknown): void =>
    abort(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);

export const isShuttingDown = (): boolean => shuttingDown;

export function startShutdown(): void {
  shuttingDown = true;
}

/**
 * Resolves true once `condition()` holds, false if it did not within `timeoutMs` or the run
 * is aborting.
 */
export function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return waitUntil(() => condition() || aborted() !== '', { timeout: timeoutMs, interval: 10 }).then(condition, () => false);
}
