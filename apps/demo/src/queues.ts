// The queue definitions, shared by the HTTP service (producer side) and the workers
// (consumer side). Both must agree on names and strategies: docket records a queue's
// strategy in Redis and refuses a process that defines the same queue differently.
import { type QueueDefinition, defineQueue } from '@docket/protocol';

/**
 * Fields every demo payload carries. The first two steer the simulated work; `enqueuedAt`
 * is stamped by the server so the workers can report enqueue-to-start latency.
 */
export interface DemoFields {
  /**
   * How long the handler pretends to work; from 200 ms on it reports `progress()` every
   * 100 ms, and it always stops as soon as its signal aborts (a `timeout`, a cancellation,
   * a shutdown).
   */
  workMs?: number;
  /** The first `failTimes` tries of the job throw. */
  failTimes?: number;
  /** Epoch ms, set by the server just before enqueueing. */
  enqueuedAt?: number;
}

/** What a long task reports with `progress()` (and `GET /tasks/:id` shows as `progress`). */
export interface DemoProgress {
  percent: number;
  doneMs: number;
  totalMs: number;
}

export type EmailPayload = DemoFields & { to: string; template?: string };
export type ReportPayload = DemoFields & { account: string; month?: string };

/**
 * Many small, independent jobs: first in, first out. The result (stored by docket, shown by
 * `GET /tasks/:id` and returned by `POST /tasks?wait=1`) says when and as what it was sent.
 */
export const emails = defineQueue<EmailPayload, { sentAt: number; messageId: string }>('emails', { strategy: 'fifo' });

/**
 * Fewer, heavier jobs, in priority order: the highest `priority` option starts first, first-in
 * first-out among equals.
 */
export const reports = defineQueue<ReportPayload, { builtAt: number; rows: number }>('reports', { strategy: 'priority' });

/** The kinds of task clients can ask for. */
export type Kind = 'email' | 'report';

/**
 * What clients name in `{ kind }`, mapped to the queue that runs it. The HTTP API talks in
 * kinds so that clients never see queue names (which are part of the Redis key layout).
 */
export const queuesByKind: Readonly<Record<Kind, QueueDefinition<DemoFields>>> = Object.freeze({ email: emails, report: reports });

/** Every queue, in the order workers prefer them: reports first, they are the scarcer work. */
export const allQueues = [reports, emails];
