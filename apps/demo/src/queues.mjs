// @ts-check
// The queue definitions, shared by the HTTP service (producer side) and the workers
// (consumer side). Both must agree on names and strategies: docket records a queue's
// strategy in Redis and refuses a process that defines the same queue differently.
import { defineQueue } from '@docket/protocol';

/**
 * Fields every demo payload carries. The first two steer the simulated work; `enqueuedAt`
 * is stamped by the server so the workers can report enqueue-to-start latency.
 * @typedef {object} DemoFields
 * @property {number} [workMs] how long the handler pretends to work; from 200 ms on it
 *   reports `progress()` every 100 ms, and it always stops as soon as its signal aborts
 *   (a `timeout`, a cancellation, a shutdown)
 * @property {number} [failTimes] the first `failTimes` tries of the job throw
 * @property {number} [enqueuedAt] epoch ms, set by the server just before enqueueing
 */

/**
 * What a long task reports with `progress()` (and `GET /tasks/:id` shows as `progress`).
 * @typedef {{ percent: number, doneMs: number, totalMs: number }} DemoProgress
 */

/** @typedef {DemoFields & { to: string, template?: string }} EmailPayload */
/** @typedef {DemoFields & { account: string, month?: string }} ReportPayload */

/**
 * Many small, independent jobs: first in, first out. The result (stored by docket, shown by
 * `GET /tasks/:id` and returned by `POST /tasks?wait=1`) says when and as what it was sent.
 * @type {import('@docket/protocol').QueueDefinition<EmailPayload, { sentAt: number, messageId: string }>}
 */
export const emails = defineQueue('emails', { strategy: 'fifo' });

/**
 * Fewer, heavier jobs, in priority order: the highest `priority` option starts first, first-in
 * first-out among equals.
 * @type {import('@docket/protocol').QueueDefinition<ReportPayload, { builtAt: number, rows: number }>}
 */
export const reports = defineQueue('reports', { strategy: 'priority' });

/**
 * What clients name in `{ kind }`, mapped to the queue that runs it. The HTTP API talks in
 * kinds so that clients never see queue names (which are part of the Redis key layout).
 * @type {Readonly<Record<string, import('@docket/protocol').QueueDefinition<any>>>}
 */
export const queuesByKind = Object.freeze({ email: emails, report: reports });

/** Every queue, in the order workers prefer them: reports first, they are the scarcer work. */
export const allQueues = [reports, emails];
