// What the driver knows about every job: what it planned for it (its TaskSpec), what the
// server answered and what the workers reported; and the check, at the end, that every job
// ended exactly once, the way it was planned.
import type { Answer, TaskWaited } from './http-api.js';
import { type OutcomeMessage, isOutcome } from './ipc-messages.js';
import { fmt, log } from './terminal.js';
import { type Outcome, TIMEOUT_MS, type TaskSpec } from './workload.js';

/**
 * What the driver knows about one job, merged from the HTTP response and the workers'
 * reports (which may arrive first: a fast worker can finish a job before its enqueue
 * response is back).
 */
export interface JobRecord {
  spec?: TaskSpec;
  /** From the payload stamp. */
  enqueuedAt?: number;
  /** When the handler's first try started. */
  firstStart?: number;
  /** When the handler's latest reported try started. */
  startedAt?: number;
  /** When it returned or threw (stopped, for a timeout or a cancellation). */
  stoppedAt?: number;
  /** When Redis had taken the final outcome. */
  finishedAt?: number;
  retries: number;
  /** More than one would be a double delivery. */
  outcomes: Outcome[];
  error?: string;
  /** The DocketError code of the last failure (TIMEOUT...). */
  code?: string;
  /** What the handler returned. */
  result?: unknown;
}

/** Keyed by `queue/jobId`. */
export const jobs = new Map<string, JobRecord>();
export const counts = { enqueued: 0, completed: 0, retried: 0, dead: 0, cancelled: 0, rejected: 0 };
/** Jobs the driver means to enqueue: the bulk workload plus the scenarios' jobs. */
export const plan = { jobs: 0 };
/** Jobs that reached their end, as reported by the workers. */
export const finished = (): number => counts.completed + counts.dead + counts.cancelled;
/** Tries reported per worker, to show they shared the load. */
export const triesByWorker = new Map<string, number>();

function record(key: string): JobRecord {
  let r = jobs.get(key);
  if (!r) jobs.set(key, (r = { retries: 0, outcomes: [] }));
  return r;
}

/** Takes in a message from worker.ts; other messages are ignored. */
export function onOutcome(message: unknown): void {
  if (!isOutcome(message)) return;
  const m: OutcomeMessage = message;
  const r = record(`${m.queue}/${m.id}`);
  triesByWorker.set(m.worker, (triesByWorker.get(m.worker) ?? 0) + 1);
  if (m.attempt === 1) {
    r.firstStart = m.startedAt;
    r.enqueuedAt = m.enqueuedAt;
  }
  r.startedAt = m.startedAt;
  r.stoppedAt = m.stoppedAt;
  if (m.code) r.code = m.code;
  if (m.type === 'retrying') {
    counts.retried++;
    r.retries++;
  } else {
    counts[m.type]++;
    r.outcomes.push(m.type);
    r.finishedAt = m.finishedAt;
    if (m.error) r.error = m.error;
    if ('result' in m) r.result = m.result;
  }
}

/** The job is enqueued (the server said so, or GET /tasks/:id found it). */
export function accepted(spec: TaskSpec, queue: string, jobId: string): void {
  record(`${queue}/${jobId}`).spec = spec;
  counts.enqueued++;
}

/** The server refused `jobCount` jobs (their request got an error answer): counted, and said. */
export function refused(what: string, res: Answer<unknown>, jobCount: number): void {
  counts.rejected += jobCount;
  log(`[driver] ${what} -> ${res.status} ${JSON.stringify(res.body)}`, process.stderr);
}

/**
 * Counts the answer to a scenario's POST /tasks: accepted if it names the job (a ?wait=1
 * request that answers 422 or 504 has still enqueued it), refused otherwise.
 * @returns the job's `queue/jobId` key
 */
export function acceptedFrom(spec: TaskSpec, what: string, res: Answer<TaskWaited>): string | undefined {
  const { queue, jobId } = res.body;
  if (typeof queue === 'string' && typeof jobId === 'string') {
    accepted(spec, queue, jobId);
    return `${queue}/${jobId}`;
  }
  refused(what, res, 1);
  return undefined;
}

/** Whether the worker has reported the job's end (its outcome, once Redis has taken it). */
export const hasEnded = (key: string): boolean => (jobs.get(key)?.outcomes.length ?? 0) > 0;

/**
 * Checks every job against what it was meant to do, and that the outcomes balance: each
 * planned job enqueued, then completed, dead or cancelled exactly once, as planned.
 * @returns the problems found, and the expected totals
 */
export function verify(): { problems: string[]; expected: Record<Outcome, number>; expectedRetries: number } {
  const problems: string[] = [];
  if (counts.rejected > 0) problems.push(`${fmt(counts.rejected)} jobs were refused by the server (see above)`);
  if (counts.enqueued + counts.rejected !== plan.jobs) {
    problems.push(`only ${fmt(counts.enqueued)} of ${fmt(plan.jobs)} jobs were enqueued`);
  }
  const unaccounted: string[] = [];
  const expected: Record<Outcome, number> = { completed: 0, dead: 0, cancelled: 0 };
  for (const [key, r] of jobs) {
    if (r.spec) expected[r.spec.expect]++;
    if (!r.spec) problems.push(`a worker reported ${key}, which the driver never enqueued`);
    else if (r.outcomes.length === 0) unaccounted.push(key);
    else if (r.outcomes.length > 1) problems.push(`${key} finished ${r.outcomes.length} times (${r.outcomes.join(', ')})`);
    else if (r.outcomes[0] !== r.spec.expect) problems.push(`${key} ended ${r.outcomes[0]}, expected ${r.spec.expect}${r.error ? ` (${r.error})` : ''}`);
  }
  if (unaccounted.length > 0) {
    problems.push(`${fmt(unaccounted.length)} job${unaccounted.length === 1 ? '' : 's'} never finished within ${TIMEOUT_MS / 1000} s, e.g. ${unaccounted.slice(0, 5).join(', ')}`);
  }
  for (const outcome of ['completed', 'dead', 'cancelled'] as const) {
    if (counts[outcome] !== expected[outcome]) problems.push(`${fmt(counts[outcome])} jobs ${outcome}, expected ${fmt(expected[outcome])}`);
  }
  if (finished() !== counts.enqueued) problems.push(`${fmt(finished())} outcomes for ${fmt(counts.enqueued)} enqueued jobs`);
  // A cancelled job is never retried; a job with `attempts: n` is retried at most n - 1 times.
  const expectedRetries = [...jobs.values()].reduce(
    (sum, r) => sum + (r.spec && r.spec.expect !== 'cancelled' ? Math.min(r.spec.failTimes, Number(r.spec.options?.attempts ?? 3) - 1) : 0),
    0,
  );
  if (counts.retried !== expectedRetries) problems.push(`${fmt(counts.retried)} retries reported, expected ${fmt(expectedRetries)}`);
  return { problems, expected, expectedRetries };
}
