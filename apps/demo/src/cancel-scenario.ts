// The cancel scenario: a running job cancelled over HTTP, and what it must do then.
import { setTimeout as sleep } from 'node:timers/promises';
import { accepted, acceptedFrom, counts, hasEnded, jobs } from './bookkeeping.js';
import type { Answer, CancelAnswer, TaskSnapshot, TaskWaited } from './http-api.js';
import { http, scenarioAgent } from './http-driver.js';
import { emails } from './queues.js';
import { aborted, eventually } from './run-state.js';
import { fmt, ms, row } from './terminal.js';
import { SCENARIOS, scenarioSpec, taskBody } from './workload.js';

export type CancelRun =
  | { ok: false; taskId: string; key: string; problem: string }
  | {
      ok: true;
      taskId: string;
      key: string;
      /** The snapshot that showed it running. */
      seen: Partial<TaskSnapshot>;
      deleteAt: number;
      del: Answer<CancelAnswer>;
      post: Answer<TaskWaited> | undefined;
    };

/**
 * Cancellation: a task that would work for 10 s is enqueued by a request that waits for its
 * result; the driver follows it with GET /tasks/:id until it runs and has reported progress,
 * then cancels it with DELETE /tasks/:id. The handler's signal should abort at once, the job
 * end `cancelled` without a retry (though it has tries left), and the waiting request get
 * 422 CANCELLED.
 */
export async function playCancel(base: string): Promise<CancelRun> {
  const jobId = SCENARIOS.cancelJobId;
  const taskId = `email:${jobId}`;
  const key = `${emails.name}/${jobId}`;
  const path = `/tasks/${encodeURIComponent(taskId)}`;
  const spec = scenarioSpec('email', { to: 'long@example.com', workMs: SCENARIOS.cancelWorkMs }, { id: jobId }, 'cancelled', 'cancel');
  let post: Answer<TaskWaited> | undefined;
  let postError: unknown;
  const posting = http<TaskWaited>(base, 'POST', `/tasks?wait=1&waitMs=${2 * SCENARIOS.cancelWorkMs}`, taskBody(spec), scenarioAgent).then(
    (res) => void (post = res),
    (err: unknown) => void (postError = err),
  );
  // The id is the driver's own, so the job can be followed before the POST answers (which
  // it does only once the job has ended).
  let enqueued = false;
  let seen: Partial<TaskSnapshot> | undefined;
  const deadline = Date.now() + 20_000;
  while (!seen && !post && !postError && !aborted() && Date.now() < deadline) {
    const res = await http<TaskSnapshot>(base, 'GET', path, undefined, scenarioAgent);
    if (res.status === 200 && !enqueued) {
      enqueued = true;
      accepted(spec, emails.name, jobId);
    }
    if (res.status === 200 && res.body.state === 'active' && res.body.progress !== null) seen = res.body;
    else await sleep(20);
  }
  if (!seen) {
    // Something is badly wrong; count the job so that the run can end, and say what happened.
    if (!enqueued) {
      if (post) acceptedFrom(spec, 'POST /tasks?wait=1 (cancel)', post);
      else counts.rejected++;
    }
    if (postError) throw postError;
    return { ok: false, taskId, key, problem: `${taskId} was not seen running with progress within 20 s${post ? ` (its POST answered ${post.status} ${JSON.stringify(post.body)})` : ''}` };
  }
  const deleteAt = Date.now();
  const del = await http<CancelAnswer>(base, 'DELETE', path, undefined, scenarioAgent);
  // The worker reports the outcome over IPC once Redis has taken it; the waiting request
  // hears of it through the queue's event feed.
  await eventually(() => hasEnded(key), 15_000);
  await Promise.race([posting, sleep(5_000, undefined, { ref: false })]);
  if (postError) throw postError;
  return { ok: true, taskId, key, seen, deleteAt, del, post };
}

/**
 * The summary's lines: the job stopped promptly, ended cancelled, was not retried, and the
 * waiting request heard of it.
 * @param after the job's snapshot (GET /tasks/:id) once everything had ended
 */
export function reportCancel(run: CancelRun | undefined, after: Partial<TaskSnapshot> | undefined, expected: number, problems: string[]): void {
  if (!run?.ok) {
    problems.push(run?.problem ?? 'the cancel scenario did not run');
    row('cancelled', `${fmt(counts.cancelled)} (expected ${fmt(expected)})`);
    return;
  }
  const { taskId, key, seen, deleteAt, del, post } = run;
  const r = jobs.get(key);
  const stoppedMs = r?.stoppedAt ? r.stoppedAt - deleteAt : NaN;
  if (del.status !== 200 || del.body.cancelled !== true) problems.push(`DELETE /tasks/${taskId} -> ${del.status} ${JSON.stringify(del.body)}, expected { cancelled: true }`);
  if (!(stoppedMs < 2_000)) problems.push(`${taskId} stopped ${ms(stoppedMs)} after DELETE, expected at once`);
  if (r?.retries !== 0 || after?.attempts !== 1) problems.push(`${taskId} was retried after its cancellation (${after?.attempts} tries)`);
  if (post?.status !== 422 || post.body.code !== 'CANCELLED') problems.push(`its POST /tasks?wait=1 -> ${post?.status} ${JSON.stringify(post?.body)}, expected 422 CANCELLED`);
  row('cancelled', `${fmt(counts.cancelled)} (expected ${fmt(expected)}): job ${taskId} stopped ${ms(stoppedMs)} after DELETE /tasks/${taskId} -> ${JSON.stringify(del.body)}`);
  row(
    '',
    `(GET had shown it active, progress ${JSON.stringify(seen.progress)}); ended ${after?.state} after ${after?.attempts} of ${after?.maxAttempts} tries, ` +
      `not retried; its ?wait=1 request got ${post?.status} ${post?.body.code}`,
  );
}
