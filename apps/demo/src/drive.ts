// The driver proper: workload and scenarios, live progress, verification, summary; then the
// scheduling section, which talks to Redis directly with consumers of its own.
import { setTimeout as sleep } from 'node:timers/promises';
import { counts, finished, jobs, plan } from './bookkeeping.js';
import { type CancelRun, playCancel } from './cancel-scenario.js';
import type { TaskCreated } from './http-api.js';
import { type SendStats, http, sendWorkload } from './http-driver.js';
import { abortOnFailure, aborted, eventually } from './run-state.js';
import { schedulingSection } from './scheduling-section.js';
import { summarize } from './summary.js';
import { endStatus, fmt, log, secs, setStatus, statusEveryMs } from './terminal.js';
import { type TimeoutRun, playTimeout } from './timeout-scenario.js';
import { type WaitForRun, playWaitFor } from './wait-for-scenario.js';
import { SCENARIO_JOBS, TIMEOUT_MS, buildWorkload } from './workload.js';

/**
 * Runs the whole workload against the server at `base` and judges it.
 * @param t0 when the demo started
 * @param redis where the scheduling section's queues live
 * @returns the exit code
 */
export async function drive(base: string, t0: number, redis: { url: string; prefix: string }): Promise<number> {
  // Bad input first, to show what a client gets: docket's own message, naming the option.
  const bad = await http<TaskCreated>(base, 'POST', '/tasks', { kind: 'email', payload: { to: 'x@example.com' }, options: { attempts: 0 } });

  const specs = buildWorkload();
  plan.jobs = specs.length + SCENARIO_JOBS;
  const sendStart = Date.now();
  let sendEnd = 0;
  let sendStats: SendStats | undefined;
  const sending = sendWorkload(base, specs).then(
    (s) => {
      sendStats = s;
      sendEnd = Date.now();
    },
    // A request that fails outright (the server died, Ctrl+C) ends the run; refused jobs
    // (4xx/5xx answers) are counted instead and judged at the end.
    abortOnFailure('sending the workload'),
  );

  // The lifecycle scenarios: cancel and timeout beside the bulk workload, waitFor once it
  // has drained. A scenario that fails outright (not a wrong answer: those are judged at the
  // end) ends the run like a failed send.
  const bulkDrained = (): boolean => sendStats !== undefined && [...jobs.values()].every((r) => r.spec?.scenario !== 'bulk' || r.outcomes.length > 0);
  let cancelRun: CancelRun | undefined;
  let timeoutRun: TimeoutRun | undefined;
  let waitRun: WaitForRun | undefined;
  let scenariosDone = false;
  void Promise.all([
    playCancel(base).then((r) => void (cancelRun = r), abortOnFailure('the cancel scenario')),
    playTimeout(base).then((r) => void (timeoutRun = r), abortOnFailure('the timeout scenario')),
    sending
      .then(() => eventually(bulkDrained, TIMEOUT_MS))
      .then((drained) => (drained ? playWaitFor(base) : undefined))
      .then((r) => void (waitRun = r), abortOnFailure('the waitFor scenario')),
  ]).then(() => void (scenariosDone = true));

  const progress = (): void => {
    const inFlight = Math.max(0, counts.enqueued - finished());
    setStatus(
      `enqueued ${fmt(counts.enqueued)} | completed ${fmt(counts.completed)} | retried ${fmt(counts.retried)} | ` +
        `dead ${fmt(counts.dead)} | cancelled ${fmt(counts.cancelled)} | in flight ${fmt(inFlight)} | ${secs(Date.now() - sendStart)}`,
    );
  };
  const ticker = setInterval(progress, statusEveryMs);
  const allDone = (): boolean => sendStats !== undefined && scenariosDone && finished() + counts.rejected >= plan.jobs;
  try {
    while (!allDone() && !aborted() && Date.now() - sendStart < TIMEOUT_MS) {
      await sleep(20);
    }
    // An outcome reported twice (or a retry of the cancelled job) would arrive only after
    // the count was reached: give stragglers a moment before judging.
    if (allDone()) await sleep(100);
  } finally {
    clearInterval(ticker);
  }
  progress();
  endStatus();
  if (aborted()) {
    console.error(`demo aborted: ${aborted()}`);
    return 1;
  }

  const problems = await summarize(base, { specs, sendStart, sendEnd, sendStats, cancelRun, timeoutRun, waitRun, bad });

  // Scheduling: the four strategies' orders on the same 12 jobs, and weighted selection
  // across three queues. Own queues and in-process consumers; the workers are idle by now.
  log('');
  try {
    await schedulingSection({ ...redis, log: (line) => log(line), aborted }, problems);
  } catch (err) {
    if (aborted()) {
      console.error(`demo aborted: ${aborted()}`);
      return 1;
    }
    problems.push(`the scheduling section failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  log('');
  if (problems.length > 0) {
    log(`FAILED after ${secs(Date.now() - t0)}:`, process.stderr);
    for (const p of problems) log(`  - ${p}`, process.stderr);
    return 1;
  }
  log(`OK: all ${fmt(plan.jobs)} jobs accounted for, and every scheduling order and share as expected (${secs(Date.now() - t0)} so far; now closing)`);
  return 0;
}
