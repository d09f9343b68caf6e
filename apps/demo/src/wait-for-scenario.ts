// The waitFor scenario: requests that wait for their job's result (POST /tasks?wait=1), one
// whose job dies, and one that stops waiting first.
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { acceptedFrom, jobs } from './bookkeeping.js';
import type { Answer, TaskWaited } from './http-api.js';
import { http, pool, scenarioAgent } from './http-driver.js';
import { ms, percentile, row } from './terminal.js';
import { SCENARIOS, type TaskSpec, scenarioSpec, taskBody } from './workload.js';

/** One POST /tasks?wait=1 and its answer. */
export interface WaitedRequest {
  /** The job's `queue/jobId`, if the answer named it. */
  key: string | undefined;
  res: Answer<TaskWaited>;
  /** The round trip. */
  ms: number;
  answeredAt: number;
}

export interface WaitForRun {
  answered: WaitedRequest[];
  /** The request whose job dies. */
  failing: WaitedRequest;
  /** The request that gives up before its job is done. */
  short: WaitedRequest;
}

/**
 * waitFor: requests that enqueue a job and answer with its result (POST /tasks?wait=1), sent
 * once the bulk workload has drained so that their round trips measure docket, not the
 * backlog. Beside them: one whose job dies (422 JOB_FAILED) and one that stops waiting
 * before its job is done (504 TIMEOUT; the job completes all the same).
 */
export async function playWaitFor(base: string): Promise<WaitForRun> {
  const send = async (spec: TaskSpec, query: string): Promise<WaitedRequest> => {
    const start = performance.now();
    const res = await http<TaskWaited>(base, 'POST', `/tasks?${query}`, taskBody(spec), scenarioAgent);
    const ms = performance.now() - start;
    return { key: acceptedFrom(spec, `POST /tasks?${query}`, res), res, ms, answeredAt: Date.now() };
  };
  const answered: WaitedRequest[] = [];
  const requests = Array.from({ length: SCENARIOS.waitFor }, (_, i) => async () => {
    const workMs = 5 + (i % 4) * 5;
    const spec =
      i % 2 === 0
        ? scenarioSpec('email', { to: `wait${i}@example.com`, template: 'receipt', workMs }, undefined, 'completed', 'waitFor')
        : scenarioSpec('report', { account: `wait-${i}`, month: '2025-02', workMs }, undefined, 'completed', 'waitFor');
    answered.push(await send(spec, 'wait=1'));
  });
  const [failing, short] = await Promise.all([
    send(scenarioSpec('email', { to: 'doomed@example.com', failTimes: 1e9 }, { attempts: 1 }, 'dead', 'waitFail'), 'wait=1'),
    send(
      scenarioSpec('report', { account: 'slow', workMs: SCENARIOS.shortWaitWorkMs }, undefined, 'completed', 'waitShort'),
      `wait=1&waitMs=${SCENARIOS.shortWaitMs}`,
    ),
    pool(requests, SCENARIOS.waitForConcurrency),
  ]);
  return { answered, failing, short };
}

/** The summary's lines: each 200 carries the very result the worker returned; the other two got 422 and 504. */
export function reportWaitFor(run: WaitForRun | undefined, problems: string[]): void {
  if (!run) {
    problems.push('the waitFor scenario did not run');
    return;
  }
  const { answered, failing, short } = run;
  const roundTrips: number[] = [];
  for (const a of answered) {
    const result = a.key ? jobs.get(a.key)?.result : undefined;
    if (a.res.status === 200 && result !== undefined && isDeepStrictEqual(a.res.body.result, result)) roundTrips.push(a.ms);
    else problems.push(`POST /tasks?wait=1 -> ${a.res.status} ${JSON.stringify(a.res.body)}, expected 200 with the result ${JSON.stringify(result)}`);
  }
  roundTrips.sort((a, b) => a - b);
  const example = answered.find((a) => a.res.status === 200)?.res.body;
  row(
    'waitFor',
    `${roundTrips.length} of ${answered.length} requests answered with their job's result, round trip p50 ${ms(percentile(roundTrips, 0.5))}, ` +
      `max ${ms(roundTrips.at(-1) ?? NaN)} (POST /tasks?wait=1: enqueue -> result in the response)`,
  );
  if (example) row('', `e.g. ${example.id} -> ${JSON.stringify(example.result)}`);
  if (failing.res.status !== 422 || failing.res.body.code !== 'JOB_FAILED') {
    problems.push(`POST /tasks?wait=1 for a job that dies -> ${failing.res.status} ${JSON.stringify(failing.res.body)}, expected 422 JOB_FAILED`);
  }
  const shortJob = short.key ? jobs.get(short.key) : undefined;
  if (short.res.status !== 504 || short.res.body.code !== 'TIMEOUT') {
    problems.push(`POST /tasks?wait=1&waitMs=${SCENARIOS.shortWaitMs} -> ${short.res.status} ${JSON.stringify(short.res.body)}, expected 504 TIMEOUT`);
  }
  row(
    '',
    `a job that dies -> ${failing.res.status} ${failing.res.body.code}; waitMs=${SCENARIOS.shortWaitMs} on a ${SCENARIOS.shortWaitWorkMs} ms job -> ` +
      `${short.res.status} ${short.res.body.code} after ${ms(short.ms)}, and the job completed ${ms((shortJob?.finishedAt ?? NaN) - short.answeredAt)} later`,
  );
}
