// What the driver sends: the bulk workload (plain, failing, always-failing and delayed jobs)
// and the lifecycle scenarios' sizes, and each job's plan (how it must end).
import type { Backoff, JobOptions } from '@docket/producer';
import { type Kind, reports } from './queues.js';

/** Sized to finish in a few seconds on a laptop while still exercising every path. */
export const WORKLOAD = {
  /** Jobs that run at once; every 20th of them fails its first try (5%). */
  quick: 2_000,
  /** Jobs with `attempts: 2` whose every try fails: they must end dead. */
  alwaysFail: 5,
  /** Jobs with a `delay` of 500-1500 ms: they should start on time, without another job to wake a worker. */
  delayed: 20,
  /** Share of jobs that go to the reports queue (the rest are emails). */
  reportShare: 0.15,
  /** Jobs per POST /tasks/batch request; every other group of this size goes one by one instead. */
  batchSize: 100,
  /** HTTP requests in flight at once (a batch counts as one). */
  httpConcurrency: 32,
};
/**
 * The lifecycle scenarios, played beside the bulk workload (cancel, timeout) and once it has
 * drained (waitFor, so that round trips measure docket rather than the backlog).
 */
export const SCENARIOS = {
  /** POST /tasks?wait=1 requests that should be answered with their job's result... */
  waitFor: 10,
  /** ...this many at a time. */
  waitForConcurrency: 2,
  /** A task that would work this long; the driver cancels it once it runs (and reports progress). */
  cancelWorkMs: 10_000,
  /** Its id, chosen by the driver (any string that is not a plain integer), so that it can be followed before its POST answers. */
  cancelJobId: 'long-task',
  /** A task enqueued with this `timeout` and `attempts: 1`... */
  timeout: 300,
  /** ...whose work would take this long: it must fail with TIMEOUT and die. */
  timeoutWorkMs: 5_000,
  /** A ?wait=1 request that gives up (504) after this many ms... */
  shortWaitMs: 100,
  /** ...on a job that works this long (it completes later all the same). */
  shortWaitWorkMs: 600,
};
/** Jobs the scenarios enqueue: the waitFor ones, one that dies under a waiting request, the 504 one, the cancelled one, the timed-out one. */
export const SCENARIO_JOBS = SCENARIOS.waitFor + 4;
/** Short retries keep the demo quick; the default (exponential from 1 s) would dominate its runtime. */
const RETRY_BACKOFF: Backoff = { type: 'fixed', delay: 200 };
/** Generous: a healthy run needs a few seconds. Past this, missing jobs are a failure. */
export const TIMEOUT_MS = 60_000;
export const WORKERS = 2;

/** How a job ends. */
export type Outcome = 'completed' | 'dead' | 'cancelled';

/** Which part of the demo a job belongs to; throughput and latency count bulk jobs only. */
export type Scenario = 'bulk' | 'waitFor' | 'waitFail' | 'waitShort' | 'cancel' | 'timeout';

export interface TaskSpec {
  kind: Kind;
  payload: Record<string, unknown>;
  options: JobOptions | undefined;
  expect: Outcome;
  /** ms, 0 for jobs that may run at once */
  delay: number;
  failTimes: number;
  scenario: Scenario;
}

/** The workload, shuffled so that special jobs mix with the plain ones. */
export function buildWorkload(): TaskSpec[] {
  const specs: TaskSpec[] = [];
  const make = (
    i: number,
    { failTimes = 0, options = {}, expect = 'completed', delay = 0 }: { failTimes?: number; options?: JobOptions; expect?: 'completed' | 'dead'; delay?: number },
  ): void => {
    const kind: Kind = Math.random() < WORKLOAD.reportShare ? 'report' : 'email';
    const workMs = 1 + Math.floor(Math.random() * 8);
    const payload: Record<string, unknown> =
      kind === 'email' ? { to: `user${i}@example.com`, template: 'welcome', workMs } : { account: `acct-${i}`, month: '2025-01', workMs };
    if (failTimes > 0) Object.assign(payload, { failTimes });
    // On a priority queue, give reports a priority so its ordering is exercised (docket
    // refuses `priority` on other strategies, rightly: it would be silently meaningless).
    if (kind === 'report' && reports.strategy === 'priority') options = { ...options, priority: Math.floor(Math.random() * 10) };
    specs.push({ kind, payload, options: Object.keys(options).length > 0 ? options : undefined, expect, delay, failTimes, scenario: 'bulk' });
  };
  let i = 0;
  for (let n = 0; n < WORKLOAD.quick; n++, i++) {
    if (n % 20 === 7) make(i, { failTimes: 1, options: { backoff: RETRY_BACKOFF } });
    else make(i, {});
  }
  for (let n = 0; n < WORKLOAD.alwaysFail; n++, i++) {
    make(i, { failTimes: 1e9, options: { attempts: 2, backoff: RETRY_BACKOFF }, expect: 'dead' });
  }
  for (let n = 0; n < WORKLOAD.delayed; n++, i++) {
    const delay = 500 + Math.floor(Math.random() * 1_001);
    make(i, { options: { delay }, delay });
  }
  for (let k = specs.length - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * (k + 1));
    [specs[k], specs[j]] = [specs[j] as TaskSpec, specs[k] as TaskSpec];
  }
  return specs;
}

/** One job of a scenario. */
export function scenarioSpec(kind: Kind, payload: Record<string, unknown>, options: JobOptions | undefined, expect: Outcome, scenario: Scenario): TaskSpec {
  return { kind, payload, options, expect, delay: 0, failTimes: Number(payload.failTimes ?? 0), scenario };
}

/** One job as a task of POST /tasks/batch: `{ payload, options? }`. */
export const batchTask = (spec: TaskSpec): { payload: Record<string, unknown>; options?: JobOptions } => ({
  payload: spec.payload,
  ...(spec.options ? { options: spec.options } : {}),
});

/** The body of POST /tasks for one job: `{ kind, payload, options? }`. */
export const taskBody = (spec: TaskSpec): { kind: Kind; payload: Record<string, unknown>; options?: JobOptions } => ({ kind: spec.kind, ...batchTask(spec) });
