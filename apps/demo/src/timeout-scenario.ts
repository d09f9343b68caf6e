// The timeout scenario: a job that overruns its `timeout`, and what it must do then.
import { acceptedFrom, hasEnded, jobs } from './bookkeeping.js';
import type { TaskSnapshot, TaskWaited } from './http-api.js';
import { http, scenarioAgent } from './http-driver.js';
import { eventually } from './run-state.js';
import { fmt, ms, row } from './terminal.js';
import { SCENARIOS, scenarioSpec, taskBody } from './workload.js';

export interface TimeoutRun {
  taskId: string;
  key: string;
}

/**
 * Timeout: a task whose work would take 5 s, enqueued with `timeout: 300` and `attempts: 1`.
 * At 300 ms its handler's signal aborts; the handler stops and the try fails with TIMEOUT,
 * which on its only attempt makes the job dead.
 * @returns undefined if the server refused the task
 */
export async function playTimeout(base: string): Promise<TimeoutRun | undefined> {
  const options = { timeout: SCENARIOS.timeout, attempts: 1 };
  const spec = scenarioSpec('email', { to: 'slow@example.com', workMs: SCENARIOS.timeoutWorkMs }, options, 'dead', 'timeout');
  const res = await http<TaskWaited>(base, 'POST', '/tasks', taskBody(spec), scenarioAgent);
  const key = acceptedFrom(spec, 'POST /tasks (timeout)', res);
  if (key === undefined) return undefined;
  await eventually(() => hasEnded(key), 15_000);
  return { taskId: res.body.id as string, key };
}

/**
 * The summary's lines: the try failed with TIMEOUT at about `timeout` ms (not when its work
 * would have ended), and the job died on its only attempt.
 * @param after the job's snapshot (GET /tasks/:id) once everything had ended
 */
export function reportTimeout(run: TimeoutRun | undefined, after: Partial<TaskSnapshot> | undefined, problems: string[]): void {
  if (!run) {
    problems.push('the timeout scenario did not run');
    return;
  }
  const { taskId, key } = run;
  const r = jobs.get(key);
  const elapsed = r?.stoppedAt && r.startedAt ? r.stoppedAt - r.startedAt : NaN;
  if (r?.code !== 'TIMEOUT') problems.push(`${taskId} failed with ${r?.code ?? r?.error ?? 'nothing'}, expected TIMEOUT`);
  if (!(elapsed >= SCENARIOS.timeout - 5 && elapsed < SCENARIOS.timeout + 1_500)) {
    problems.push(`${taskId} stopped ${ms(elapsed)} after it started, expected about ${SCENARIOS.timeout} ms (its timeout)`);
  }
  if (after?.attempts !== 1) problems.push(`${taskId} ran ${after?.attempts} tries, expected 1`);
  row(
    'timeout',
    `job ${taskId} failed with ${r?.code} after ${ms(elapsed)} (timeout: ${SCENARIOS.timeout}; its work would take ${fmt(SCENARIOS.timeoutWorkMs)} ms), ` +
      `${after?.state} after ${after?.attempts} attempt${after?.attempts === 1 ? '' : 's'}`,
  );
  row('', `GET /tasks/${taskId} -> error ${JSON.stringify(after?.error)}`);
}
