import type { Backoff } from '@docket/protocol';

/**
 * ms to wait before the retry that follows try number `attempt` (1-based). Exponential doubles
 * the base delay per try; `max` caps it; jitter spreads it over [d/2, d] so that jobs which
 * failed together do not all retry at the same instant.
 */
export function backoffDelay(backoff: Backoff | undefined, attempt: number, random: () => number = Math.random): number {
  if (!backoff) return 0;
  let delay = backoff.type === 'fixed' ? backoff.delay : backoff.delay * 2 ** Math.min(Math.max(attempt - 1, 0), 40);
  if (backoff.max !== undefined) delay = Math.min(delay, backoff.max);
  if (backoff.jitter) delay = delay / 2 + random() * (delay / 2);
  return Math.round(delay);
}
