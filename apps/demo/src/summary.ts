// The summary after the workload: what the workers reported and what the server says about
// the jobs and the queues, each checked against the plan. Every mismatch is a problem.
import { counts, jobs, triesByWorker, verify } from './bookkeeping.js';
import { type CancelRun, reportCancel } from './cancel-scenario.js';
import type { Answer, StatsAnswer, TaskCreated, TaskSnapshot } from './http-api.js';
import { type SendStats, http } from './http-driver.js';
import { fmt, log, percentile, row, secs } from './terminal.js';
import { type TimeoutRun, reportTimeout } from './timeout-scenario.js';
import { type WaitForRun, reportWaitFor } from './wait-for-scenario.js';
import { type Scenario, type TaskSpec, TIMEOUT_MS, WORKLOAD } from './workload.js';

export interface RunResults {
  specs: TaskSpec[];
  sendStart: number;
  sendEnd: number;
  /** undefined if sending did not finish in time. */
  sendStats: SendStats | undefined;
  cancelRun: CancelRun | undefined;
  timeoutRun: TimeoutRun | undefined;
  waitRun: WaitForRun | undefined;
  /** The answer to a POST /tasks with bad options, sent first. */
  bad: Answer<TaskCreated>;
}

/** Latency, from the enqueue stamp (or the due time, for delayed jobs) to the first try's start. */
function latencies(): { latencies: number[]; lateness: number[]; plain: number; plainLast: number } {
  const latencies: number[] = [];
  const lateness: number[] = [];
  let plain = 0;
  let plainLast = 0;
  // For the bulk workload only: the scenarios' jobs are few and special.
  for (const r of jobs.values()) {
    if (r.spec?.scenario !== 'bulk' || r.firstStart === undefined || r.enqueuedAt === undefined) continue;
    const wait = r.firstStart - r.enqueuedAt - r.spec.delay;
    (r.spec.delay > 0 ? lateness : latencies).push(wait);
    if (r.spec.delay === 0 && r.spec.failTimes === 0 && r.finishedAt) {
      plain++;
      plainLast = Math.max(plainLast, r.finishedAt);
    }
  }
  latencies.sort((a, b) => a - b);
  lateness.sort((a, b) => a - b);
  return { latencies, lateness, plain, plainLast };
}

/**
 * Prints the summary, and asks the HTTP service about every job that did not complete
 * (GET /tasks/:id should agree with what the workers reported) and about the queues (GET /stats).
 * @returns the problems found
 */
export async function summarize(base: string, run: RunResults): Promise<string[]> {
  const lookups = await Promise.all(
    [...jobs]
      .filter(([, r]) => r.spec && r.spec.expect !== 'completed')
      .map(async ([key, r]) => {
        const spec = r.spec as TaskSpec;
        const id = `${spec.kind}:${key.slice(key.indexOf('/') + 1)}`;
        return { key, spec, path: `/tasks/${id}`, ...(await http<TaskSnapshot>(base, 'GET', `/tasks/${encodeURIComponent(id)}`)) };
      }),
  );
  const stats = await http<StatsAnswer>(base, 'GET', '/stats');

  const { problems, expected, expectedRetries } = verify();
  for (const l of lookups) {
    if (l.status !== 200 || l.body.state !== l.spec.expect) {
      problems.push(`GET ${l.path} -> ${l.status} ${l.body.state ?? l.body.error}, expected a ${l.spec.expect} job`);
    }
  }
  const snapshotOf = (key: string | undefined): Partial<TaskSnapshot> | undefined => lookups.find((l) => l.key === key)?.body;
  const { latencies: waits, lateness, plain, plainLast } = latencies();

  const { specs, sendStart, sendStats, bad } = run;
  const failOnce = specs.filter((s) => s.expect === 'completed' && s.failTimes > 0).length;
  const ofScenario = (scenario: Scenario): number => [...jobs.values()].filter((r) => r.spec?.scenario === scenario).length;
  if (!sendStats) problems.push(`sending the workload did not finish within ${TIMEOUT_MS / 1000} s`);
  const s = sendStats ?? { single: 0, singleRequests: 0, batched: 0, batchRequests: 0 };
  const sendEnd = sendStats ? run.sendEnd : Date.now();
  log('');
  log('summary');
  row(
    'enqueued',
    `${fmt(counts.enqueued)} jobs in ${secs(sendEnd - sendStart)}: ${fmt(s.single)} by POST /tasks, ${fmt(s.batched)} in ${fmt(s.batchRequests)} POST /tasks/batch, ` +
      `${fmt(counts.enqueued - s.single - s.batched)} by the scenarios below`,
  );
  row('completed', `${fmt(counts.completed)} (expected ${fmt(expected.completed)})`);
  row('retried', `${fmt(counts.retried)} (expected ${fmt(expectedRetries)}: ${fmt(failOnce)} jobs fail their first try, ${WORKLOAD.alwaysFail} more die after 2 tries)`);
  row(
    'dead',
    `${fmt(counts.dead)} (expected ${fmt(expected.dead)}: ${WORKLOAD.alwaysFail} always fail, ${ofScenario('timeout')} times out, ` +
      `${ofScenario('waitFail')} dies under a waiting request)`,
  );
  reportCancel(run.cancelRun, snapshotOf(run.cancelRun?.key), expected.cancelled, problems);
  reportTimeout(run.timeoutRun, snapshotOf(run.timeoutRun?.key), problems);
  reportWaitFor(run.waitRun, problems);

  if (lateness.length > 0) {
    row('delayed', `${lateness.length} jobs with delay 500-1500 ms started ${Math.round(lateness[0] ?? 0)} to ${Math.round(lateness.at(-1) ?? 0)} ms after their due time (max lateness ${Math.round(lateness.at(-1) ?? 0)} ms)`);
  }
  if (plain > 0) {
    const span = plainLast - sendStart;
    row('throughput', `${fmt((plain * 1000) / span)} jobs/s (${fmt(plain)} plain jobs, first request to last completion ${secs(span)})`);
  }
  row('latency', `enqueue -> start p50 ${percentile(waits, 0.5)} ms, p99 ${percentile(waits, 0.99)} ms, max ${waits.at(-1)} ms (${fmt(waits.length)} first tries)`);
  row('workers', [...triesByWorker].sort().map(([w, n]) => `${w} ran ${fmt(n)} tries`).join(', '));

  // GET /stats: producer.counts() per queue. Nothing may be left waiting or running; dead and
  // cancelled jobs are all kept; completed ones only up to the consumers' retention.
  if (stats.status === 200) {
    const queues = Object.values(stats.body as StatsAnswer);
    const total = (field: 'waiting' | 'delayed' | 'active' | 'dead' | 'cancelled'): number => queues.reduce((sum, c) => sum + Number(c[field]), 0);
    if (total('waiting') + total('delayed') + total('active') !== 0) problems.push(`GET /stats shows jobs still pending: ${JSON.stringify(stats.body)}`);
    if (total('dead') !== expected.dead || total('cancelled') !== expected.cancelled) {
      problems.push(`GET /stats counts ${total('dead')} dead and ${total('cancelled')} cancelled jobs, expected ${expected.dead} and ${expected.cancelled}`);
    }
    queues.forEach((c, i) =>
      row(
        i === 0 ? 'stats' : '',
        `${c.queue}: ${c.waiting} waiting, ${c.delayed} delayed, ${c.active} active, ${fmt(c.completed)} completed (kept), ${c.dead} dead, ${c.cancelled} cancelled`,
      ),
    );
  } else {
    problems.push(`GET /stats -> ${stats.status} ${JSON.stringify(stats.body)}`);
  }
  row('bad input', `POST /tasks with {"attempts":0} -> ${bad.status} ${JSON.stringify(bad.body.error)}`);
  const sample = lookups.find((l) => l.spec.scenario === 'bulk');
  if (sample) {
    row('lookup', `GET ${sample.path} -> ${sample.status} ${sample.body.state}, ${sample.body.attempts}/${sample.body.maxAttempts} tries, error ${JSON.stringify(sample.body.error)}`);
  }
  if (bad.status !== 400) problems.push(`bad input got ${bad.status}, expected 400`);
  return problems;
}
