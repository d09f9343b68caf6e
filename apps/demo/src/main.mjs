// @ts-check
// `pnpm demo`: the whole pipeline in one command. Picks a Redis, starts the HTTP service
// (producer) and two worker processes (consumers), drives a mixed workload through HTTP,
// plays the job lifecycle (a request waiting for its job's result, a cancellation, a
// timeout), shows live progress, checks that every job ended the way it should, prints a
// summary, then shows the scheduling strategies and weighted selection (scheduling.mjs),
// and leaves nothing behind (processes, keys, temp dirs).
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { emails, reports } from './queues.mjs';
import { SetupError, chooseRedis, deleteKeys, uniquePrefix } from './redis.mjs';
import { schedulingSection } from './scheduling.mjs';

// ------------------------------------------------------------------ the workload

/** Sized to finish in a few seconds on a laptop while still exercising every path. */
const WORKLOAD = {
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
const SCENARIOS = {
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
const SCENARIO_JOBS = SCENARIOS.waitFor + 4;
/** Short retries keep the demo quick; the default (exponential from 1 s) would dominate its runtime. */
const RETRY_BACKOFF = { type: 'fixed', delay: 200 };
/** Generous: a healthy run needs a few seconds. Past this, missing jobs are a failure. */
const TIMEOUT_MS = 60_000;
const WORKERS = 2;

/** @typedef {'completed' | 'dead' | 'cancelled'} Outcome how a job ends */

/**
 * @typedef {object} TaskSpec
 * @property {'email' | 'report'} kind
 * @property {Record<string, unknown>} payload
 * @property {Record<string, unknown> | undefined} options
 * @property {Outcome} expect
 * @property {number} delay ms, 0 for jobs that may run at once
 * @property {number} failTimes
 * @property {'bulk' | 'waitFor' | 'waitFail' | 'waitShort' | 'cancel' | 'timeout'} scenario
 *   which part of the demo the job belongs to; throughput and latency count bulk jobs only
 */

/** @returns {TaskSpec[]} the workload, shuffled so that special jobs mix with the plain ones */
function buildWorkload() {
  /** @type {TaskSpec[]} */
  const specs = [];
  /** @param {number} i @param {{ failTimes?: number, options?: Record<string, unknown>, expect?: 'completed' | 'dead', delay?: number }} extra */
  const make = (i, { failTimes = 0, options = {}, expect = 'completed', delay = 0 }) => {
    const kind = Math.random() < WORKLOAD.reportShare ? 'report' : 'email';
    const workMs = 1 + Math.floor(Math.random() * 8);
    const payload =
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
    [specs[k], specs[j]] = [/** @type {TaskSpec} */ (specs[j]), /** @type {TaskSpec} */ (specs[k])];
  }
  return specs;
}

/**
 * One job of a scenario.
 * @param {'email' | 'report'} kind @param {Record<string, unknown>} payload
 * @param {Record<string, unknown> | undefined} options @param {Outcome} expect
 * @param {TaskSpec['scenario']} scenario
 * @returns {TaskSpec}
 */
function scenarioSpec(kind, payload, options, expect, scenario) {
  return { kind, payload, options, expect, delay: 0, failTimes: Number(payload.failTimes ?? 0), scenario };
}

/** @param {TaskSpec} spec the body of POST /tasks for one job */
const taskBody = (spec) => ({ kind: spec.kind, payload: spec.payload, ...(spec.options ? { options: spec.options } : {}) });

// ------------------------------------------------------------------ terminal output

const tty = Boolean(process.stdout.isTTY);
/** The live status line, redrawn in place on a terminal. */
let statusLine = '';

/**
 * Prints a line without mangling the status line (clear it, print, redraw).
 * @param {string} line
 * @param {NodeJS.WritableStream} [stream]
 */
function log(line, stream = process.stdout) {
  if (tty && statusLine) process.stdout.write('\r\x1b[K');
  stream.write(`${line}\n`);
  if (tty && statusLine) process.stdout.write(statusLine);
}

/** @param {string} line */
function setStatus(line) {
  if (!tty) return log(line);
  // Longer than the terminal, the line would wrap and \r could no longer overwrite it.
  statusLine = line.slice(0, Math.max(20, (process.stdout.columns || 80) - 1));
  process.stdout.write(`\r\x1b[K${statusLine}`);
}

function endStatus() {
  if (tty && statusLine) process.stdout.write('\n');
  statusLine = '';
}

const fmt = (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US');
const secs = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(2)} s`;

// ------------------------------------------------------------------ child processes

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} process
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} closed
 */

/** Set once shutdown starts: from then on children exiting is expected. */
let shuttingDown = false;
/** Why the run must stop early (a child died, Ctrl+C); checked by the waiting loops. */
let abortReason = '';

/**
 * Forks one of the demo's processes with its output prefixed by its name, so three
 * processes' logs stay readable in one terminal.
 * @param {string} file @param {string} name @param {NodeJS.ProcessEnv} env
 * @param {(message: any) => void} onMessage
 * @returns {Child}
 */
function start(file, name, env, onMessage) {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  for (const [stream, out] of /** @type {const} */ ([[child.stdout, process.stdout], [child.stderr, process.stderr]])) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      // Children tag their own lines ("[server] ..."); add the tag only where they did not.
      log(line.startsWith(`[${name}]`) ? line : `[${name}] ${line}`, out);
    });
  }
  child.on('message', onMessage);
  /** @type {Child['closed']} */
  const closed = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  closed.then(({ code, signal }) => {
    if (!shuttingDown) abortReason ||= `${name} exited unexpectedly (${signal ?? `code ${code}`})`;
  });
  return { name, process: child, closed };
}

/**
 * Resolves with the first message of `type` from `child`; rejects if it exits first or
 * stays silent for `timeoutMs`.
 * @param {Child} child @param {string} type @param {number} timeoutMs
 * @returns {Promise<any>}
 */
function waitForMessage(child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${child.name} did not report "${type}" within ${timeoutMs} ms`)), timeoutMs);
    /** @param {any} message */
    const onMessage = (message) => message?.type === type && done(undefined, message);
    const onExit = () => done(new Error(`${child.name} exited before it was ready (see its output above)`));
    /** @param {Error | undefined} err @param {any} [message] */
    const done = (err, message) => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
      if (err) reject(err);
      else resolve(message);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if the child is not gone after `graceMs`. */
async function stop(/** @type {Child} */ child, graceMs = 10_000) {
  const p = child.process;
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    const killer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await child.closed;
    clearTimeout(killer);
  }
  return child.closed;
}

// ------------------------------------------------------------------ bookkeeping

/**
 * What the driver knows about one job, merged from the HTTP response and the workers'
 * reports (which may arrive first: a fast worker can finish a job before its enqueue
 * response is back).
 * @typedef {object} JobRecord
 * @property {TaskSpec} [spec]
 * @property {number} [enqueuedAt] from the payload stamp
 * @property {number} [firstStart] when the handler's first try started
 * @property {number} [startedAt] when the handler's latest reported try started
 * @property {number} [stoppedAt] when it returned or threw (stopped, for a timeout or a cancellation)
 * @property {number} [finishedAt] when Redis had taken the final outcome
 * @property {number} retries
 * @property {Outcome[]} outcomes more than one would be a double delivery
 * @property {string} [error]
 * @property {string} [code] the DocketError code of the last failure (TIMEOUT...)
 * @property {unknown} [result] what the handler returned
 */

/** @type {Map<string, JobRecord>} keyed by `queue/jobId` */
const jobs = new Map();
const counts = { enqueued: 0, completed: 0, retried: 0, dead: 0, cancelled: 0, rejected: 0 };
/** Jobs the driver means to enqueue: the bulk workload plus the scenarios' jobs. */
let planned = 0;
/** Jobs that reached their end, as reported by the workers. */
const finished = () => counts.completed + counts.dead + counts.cancelled;
/** @type {Map<string, number>} tries reported per worker, to show they shared the load */
const triesByWorker = new Map();

/** @param {string} key @returns {JobRecord} */
function record(key) {
  let r = jobs.get(key);
  if (!r) jobs.set(key, (r = { retries: 0, outcomes: [] }));
  return r;
}

/** @param {any} m an outcome message from worker.mjs */
function onOutcome(m) {
  if (m?.type !== 'completed' && m?.type !== 'retrying' && m?.type !== 'dead' && m?.type !== 'cancelled') return;
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
    const outcome = /** @type {Outcome} */ (m.type);
    counts[outcome]++;
    r.outcomes.push(outcome);
    r.finishedAt = m.finishedAt;
    if (m.error) r.error = m.error;
    if ('result' in m) r.result = m.result;
  }
}

/** @param {TaskSpec} spec @param {string} queue @param {string} jobId */
function accepted(spec, queue, jobId) {
  record(`${queue}/${jobId}`).spec = spec;
  counts.enqueued++;
}

/**
 * Counts the answer to a scenario's POST /tasks: accepted if it names the job (a ?wait=1
 * request that answers 422 or 504 has still enqueued it), refused otherwise.
 * @param {TaskSpec} spec @param {string} what @param {{ status: number, body: any }} res
 * @returns {string | undefined} the job's `queue/jobId` key
 */
function acceptedFrom(spec, what, res) {
  if (typeof res.body?.jobId === 'string') {
    accepted(spec, res.body.queue, res.body.jobId);
    return `${res.body.queue}/${res.body.jobId}`;
  }
  counts.rejected++;
  log(`[driver] ${what} -> ${res.status} ${JSON.stringify(res.body)}`, process.stderr);
  return undefined;
}

/**
 * Resolves true once `condition()` holds, false if it did not within `timeoutMs` or the run
 * is aborting.
 * @param {() => boolean} condition @param {number} timeoutMs
 */
async function waitUntil(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (abortReason || Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

// ------------------------------------------------------------------ HTTP driver

/**
 * Keep-alive connections, as many as requests in flight. node:http rather than fetch: on
 * Node 20, fetch costs several times more CPU per request, and the driver would measure
 * its own overhead instead of docket's.
 */
const agent = new Agent({ keepAlive: true, maxSockets: WORKLOAD.httpConcurrency });
/**
 * The scenarios' own connections: behind the bulk workload's 32 busy sockets, a poll or a
 * DELETE would queue in the agent and the timings would measure that queue.
 */
const scenarioAgent = new Agent({ keepAlive: true, maxSockets: 16 });

/**
 * One JSON request to the demo server.
 * @param {string} base @param {string} method @param {string} path @param {unknown} [body]
 * @param {Agent} [via]
 * @returns {Promise<{ status: number, body: any }>}
 */
function http(base, method, path, body, via = agent) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request(new URL(path, base), { method, agent: via, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`${method} ${path}: ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs `tasks` with at most `limit` of them in flight. */
async function pool(/** @type {(() => Promise<void>)[]} */ tasks, /** @type {number} */ limit) {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length && !abortReason) await /** @type {() => Promise<void>} */ (tasks[next++])();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}

/**
 * Sends the workload: alternating groups go one request per job (POST /tasks) and one
 * request per kind (POST /tasks/batch), so both paths carry delayed and failing jobs.
 * @param {string} base @param {TaskSpec[]} specs
 */
async function sendWorkload(base, specs) {
  const stats = { single: 0, singleRequests: 0, batched: 0, batchRequests: 0 };
  /** @param {string} what @param {{ status: number, body: any }} res @param {number} jobCount */
  const refused = (what, res, jobCount) => {
    counts.rejected += jobCount;
    log(`[driver] ${what} -> ${res.status} ${JSON.stringify(res.body)}`, process.stderr);
  };

  /** @type {(() => Promise<void>)[]} */
  const requests = [];
  for (let start = 0, group = 0; start < specs.length; start += WORKLOAD.batchSize, group++) {
    const chunk = specs.slice(start, start + WORKLOAD.batchSize);
    if (group % 2 === 1) {
      for (const spec of chunk) {
        requests.push(async () => {
          const res = await http(base, 'POST', '/tasks', taskBody(spec));
          stats.singleRequests++;
          if (res.status !== 201) return refused('POST /tasks', res, 1);
          stats.single++;
          accepted(spec, res.body.queue, res.body.jobId);
        });
      }
      continue;
    }
    for (const kind of /** @type {const} */ (['email', 'report'])) {
      const ofKind = chunk.filter((s) => s.kind === kind);
      if (ofKind.length === 0) continue;
      requests.push(async () => {
        const tasks = ofKind.map((s) => ({ payload: s.payload, ...(s.options ? { options: s.options } : {}) }));
        const res = await http(base, 'POST', '/tasks/batch', { kind, tasks });
        stats.batchRequests++;
        if (res.status !== 201) return refused('POST /tasks/batch', res, ofKind.length);
        stats.batched += ofKind.length;
        res.body.jobs.forEach((/** @type {any} */ j, /** @type {number} */ k) => accepted(/** @type {TaskSpec} */ (ofKind[k]), res.body.queue, j.jobId));
      });
    }
  }
  await pool(requests, WORKLOAD.httpConcurrency);
  return stats;
}

// ------------------------------------------------------------------ lifecycle scenarios

/** @typedef {{ status: number, body: any }} Answer */

/**
 * Cancellation: a task that would work for 10 s is enqueued by a request that waits for its
 * result; the driver follows it with GET /tasks/:id until it runs and has reported progress,
 * then cancels it with DELETE /tasks/:id. The handler's signal should abort at once, the job
 * end `cancelled` without a retry (though it has tries left), and the waiting request get
 * 422 CANCELLED.
 * @param {string} base
 */
async function cancelScenario(base) {
  const jobId = SCENARIOS.cancelJobId;
  const taskId = `email:${jobId}`;
  const key = `${emails.name}/${jobId}`;
  const path = `/tasks/${encodeURIComponent(taskId)}`;
  const spec = scenarioSpec('email', { to: 'long@example.com', workMs: SCENARIOS.cancelWorkMs }, { id: jobId }, 'cancelled', 'cancel');
  /** @type {Answer | undefined} */
  let post;
  /** @type {unknown} */
  let postError;
  const posting = http(base, 'POST', `/tasks?wait=1&waitMs=${2 * SCENARIOS.cancelWorkMs}`, taskBody(spec), scenarioAgent).then(
    (res) => void (post = res),
    (err) => void (postError = err),
  );
  // The id is the driver's own, so the job can be followed before the POST answers (which
  // it does only once the job has ended).
  let enqueued = false;
  /** @type {any} the snapshot that showed it running */
  let seen;
  const deadline = Date.now() + 20_000;
  while (!seen && !post && !postError && !abortReason && Date.now() < deadline) {
    const res = await http(base, 'GET', path, undefined, scenarioAgent);
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
    return { ok: /** @type {const} */ (false), taskId, key, problem: `${taskId} was not seen running with progress within 20 s${post ? ` (its POST answered ${post.status} ${JSON.stringify(post.body)})` : ''}` };
  }
  const deleteAt = Date.now();
  const del = await http(base, 'DELETE', path, undefined, scenarioAgent);
  // The worker reports the outcome over IPC once Redis has taken it; the waiting request
  // hears of it through the queue's event feed.
  await waitUntil(() => (jobs.get(key)?.outcomes.length ?? 0) > 0, 15_000);
  await Promise.race([posting, sleep(5_000, undefined, { ref: false })]);
  if (postError) throw postError;
  return { ok: /** @type {const} */ (true), taskId, key, seen, deleteAt, del, post };
}

/**
 * Timeout: a task whose work would take 5 s, enqueued with `timeout: 300` and `attempts: 1`.
 * At 300 ms its handler's signal aborts; the handler stops and the try fails with TIMEOUT,
 * which on its only attempt makes the job dead.
 * @param {string} base
 */
async function timeoutScenario(base) {
  const options = { timeout: SCENARIOS.timeout, attempts: 1 };
  const spec = scenarioSpec('email', { to: 'slow@example.com', workMs: SCENARIOS.timeoutWorkMs }, options, 'dead', 'timeout');
  const res = await http(base, 'POST', '/tasks', taskBody(spec), scenarioAgent);
  const key = acceptedFrom(spec, 'POST /tasks (timeout)', res);
  if (key === undefined) return undefined;
  await waitUntil(() => (jobs.get(key)?.outcomes.length ?? 0) > 0, 15_000);
  return { taskId: /** @type {string} */ (res.body.id), key };
}

/**
 * waitFor: requests that enqueue a job and answer with its result (POST /tasks?wait=1), sent
 * once the bulk workload has drained so that their round trips measure docket, not the
 * backlog. Beside them: one whose job dies (422 JOB_FAILED) and one that stops waiting
 * before its job is done (504 TIMEOUT; the job completes all the same).
 * @param {string} base
 */
async function waitForScenario(base) {
  /** @param {TaskSpec} spec @param {string} query */
  const send = async (spec, query) => {
    const start = performance.now();
    const res = await http(base, 'POST', `/tasks?${query}`, taskBody(spec), scenarioAgent);
    const ms = performance.now() - start;
    return { key: acceptedFrom(spec, `POST /tasks?${query}`, res), res, ms, answeredAt: Date.now() };
  };
  /** @type {Awaited<ReturnType<typeof send>>[]} */
  const answered = [];
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

// ------------------------------------------------------------------ summary

/** @param {number[]} sorted @param {number} q */
const percentile = (sorted, q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;

/**
 * Checks every job against what it was meant to do, and that the outcomes balance: each
 * planned job enqueued, then completed, dead or cancelled exactly once, as planned.
 * @returns the problems found, and the expected totals
 */
function verify() {
  const problems = [];
  if (counts.rejected > 0) problems.push(`${fmt(counts.rejected)} jobs were refused by the server (see above)`);
  if (counts.enqueued + counts.rejected !== planned) {
    problems.push(`only ${fmt(counts.enqueued)} of ${fmt(planned)} jobs were enqueued`);
  }
  const unaccounted = [];
  /** @type {Record<Outcome, number>} */
  const expected = { completed: 0, dead: 0, cancelled: 0 };
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
  for (const outcome of /** @type {const} */ (['completed', 'dead', 'cancelled'])) {
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

// ------------------------------------------------------------------ main

async function main() {
  const t0 = Date.now();
  const prefix = uniquePrefix();
  /** @type {Awaited<ReturnType<typeof chooseRedis>>} */
  let redis;
  try {
    redis = await chooseRedis();
  } catch (err) {
    if (err instanceof SetupError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  log(`docket demo: HTTP service -> Redis -> ${WORKERS} workers`);
  log(`Redis: ${redis.description}; keys under "${prefix}:"`);

  /** @type {Child[]} */
  const children = [];
  let exitCode = 1;
  const onSigint = () => {
    abortReason ||= 'interrupted (Ctrl+C)';
  };
  process.on('SIGINT', onSigint);
  try {
    const env = { ...process.env, REDIS_URL: redis.url, DEMO_PREFIX: prefix };
    const server = start('./server.mjs', 'server', env, () => {});
    children.push(server);
    const workers = Array.from({ length: WORKERS }, (_, i) => start('./worker.mjs', `worker ${i + 1}`, { ...env, DEMO_WORKER_NAME: `worker ${i + 1}` }, onOutcome));
    children.push(...workers);
    const [{ url }] = await Promise.all([waitForMessage(server, 'listening', 15_000), ...workers.map((w) => waitForMessage(w, 'ready', 15_000))]);
    exitCode = await drive(url, t0, { url: redis.url, prefix });
  } catch (err) {
    endStatus();
    // After Ctrl+C the children die under the driver's feet; their errors are just noise.
    if (abortReason) console.error(`demo aborted: ${abortReason}`);
    else console.error(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    exitCode = 1;
  } finally {
    endStatus();
    shuttingDown = true;
    agent.destroy();
    scenarioAgent.destroy();
    // Workers first: they finish or hand back what they hold; then the producer side.
    const workerExits = await Promise.all(children.filter((c) => c.name !== 'server').map((c) => stop(c)));
    await Promise.all(children.filter((c) => c.name === 'server').map((c) => stop(c)));
    if (workerExits.some((e) => e.code !== 0 && e.code !== null)) log('some worker did not close cleanly (see its output above)', process.stderr);
    if (redis.shared) {
      try {
        const removed = await deleteKeys(redis.url, prefix);
        log(`cleaned up: removed ${fmt(removed)} keys under "${prefix}:"`);
      } catch (err) {
        log(`could not remove the demo's keys under "${prefix}:": ${err instanceof Error ? err.message : String(err)}`, process.stderr);
      }
    }
    await redis.stop();
    if (!redis.shared) log('cleaned up: stopped the private redis-server and removed its dir');
    process.off('SIGINT', onSigint);
  }
  if (abortReason === 'interrupted (Ctrl+C)') return 130;
  return exitCode;
}

/**
 * The driver proper: workload and scenarios, live progress, verification, summary; then the
 * scheduling section, which talks to Redis directly with consumers of its own.
 * @param {string} base the server's URL @param {number} t0 when the demo started
 * @param {{ url: string, prefix: string }} redis where the scheduling section's queues live
 * @returns {Promise<number>} the exit code
 */
async function drive(base, t0, redis) {
  // Bad input first, to show what a client gets: docket's own message, naming the option.
  const bad = await http(base, 'POST', '/tasks', { kind: 'email', payload: { to: 'x@example.com' }, options: { attempts: 0 } });

  const specs = buildWorkload();
  planned = specs.length + SCENARIO_JOBS;
  const sendStart = Date.now();
  let sendEnd = 0;
  /** @type {Awaited<ReturnType<typeof sendWorkload>> | undefined} */
  let sendStats;
  const sending = sendWorkload(base, specs).then(
    (s) => {
      sendStats = s;
      sendEnd = Date.now();
    },
    // A request that fails outright (the server died, Ctrl+C) ends the run; refused jobs
    // (4xx/5xx answers) are counted instead and judged at the end.
    (err) => void (abortReason ||= `sending the workload failed: ${err instanceof Error ? err.message : String(err)}`),
  );

  // The lifecycle scenarios: cancel and timeout beside the bulk workload, waitFor once it
  // has drained. A scenario that fails outright (not a wrong answer: those are judged at the
  // end) ends the run like a failed send.
  const bulkDrained = () => sendStats !== undefined && [...jobs.values()].every((r) => r.spec?.scenario !== 'bulk' || r.outcomes.length > 0);
  /** @param {string} what */
  const scenarioFailed = (what) => (/** @type {unknown} */ err) =>
    void (abortReason ||= `the ${what} scenario failed: ${err instanceof Error ? err.message : String(err)}`);
  /** @type {Awaited<ReturnType<typeof cancelScenario>> | undefined} */
  let cancelRun;
  /** @type {Awaited<ReturnType<typeof timeoutScenario>> | undefined} */
  let timeoutRun;
  /** @type {Awaited<ReturnType<typeof waitForScenario>> | undefined} */
  let waitRun;
  let scenariosDone = false;
  void Promise.all([
    cancelScenario(base).then((r) => void (cancelRun = r), scenarioFailed('cancel')),
    timeoutScenario(base).then((r) => void (timeoutRun = r), scenarioFailed('timeout')),
    sending
      .then(() => waitUntil(bulkDrained, TIMEOUT_MS))
      .then((drained) => (drained ? waitForScenario(base) : undefined))
      .then((r) => void (waitRun = r), scenarioFailed('waitFor')),
  ]).then(() => void (scenariosDone = true));

  const progress = () => {
    const inFlight = Math.max(0, counts.enqueued - finished());
    setStatus(
      `enqueued ${fmt(counts.enqueued)} | completed ${fmt(counts.completed)} | retried ${fmt(counts.retried)} | ` +
        `dead ${fmt(counts.dead)} | cancelled ${fmt(counts.cancelled)} | in flight ${fmt(inFlight)} | ${secs(Date.now() - sendStart)}`,
    );
  };
  // A terminal gets a smooth in-place line; a pipe or log file gets one line a second.
  const ticker = setInterval(progress, tty ? 100 : 1_000);
  const allDone = () => sendStats !== undefined && scenariosDone && finished() + counts.rejected >= planned;
  try {
    while (!allDone() && !abortReason && Date.now() - sendStart < TIMEOUT_MS) {
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
  if (abortReason) {
    console.error(`demo aborted: ${abortReason}`);
    return 1;
  }

  // Ask the HTTP service about every job that did not complete: GET /tasks/:id should agree
  // with what the workers reported. And about the queues: GET /stats.
  const lookups = await Promise.all(
    [...jobs]
      .filter(([, r]) => r.spec && r.spec.expect !== 'completed')
      .map(async ([key, r]) => {
        const id = `${r.spec?.kind}:${key.slice(key.indexOf('/') + 1)}`;
        return { key, spec: /** @type {TaskSpec} */ (r.spec), path: `/tasks/${id}`, ...(await http(base, 'GET', `/tasks/${encodeURIComponent(id)}`)) };
      }),
  );
  const stats = await http(base, 'GET', '/stats');

  const { problems, expected, expectedRetries } = verify();
  for (const l of lookups) {
    if (l.status !== 200 || l.body.state !== l.spec.expect) {
      problems.push(`GET ${l.path} -> ${l.status} ${l.body.state ?? l.body.error}, expected a ${l.spec.expect} job`);
    }
  }
  const lookupOf = (/** @type {string} */ key) => lookups.find((l) => l.key === key);

  // Latency: from the enqueue stamp (or the due time, for delayed jobs) to the first try's
  // start, for the bulk workload (the scenarios' jobs are few and special).
  /** @type {number[]} */
  const latencies = [];
  /** @type {number[]} */
  const lateness = [];
  let plain = 0;
  let plainLast = 0;
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

  const failOnce = specs.filter((s) => s.expect === 'completed' && s.failTimes > 0).length;
  const ofScenario = (/** @type {TaskSpec['scenario']} */ scenario) => [...jobs.values()].filter((r) => r.spec?.scenario === scenario).length;
  if (!sendStats) problems.push(`sending the workload did not finish within ${TIMEOUT_MS / 1000} s`);
  const s = sendStats ?? { single: 0, singleRequests: 0, batched: 0, batchRequests: 0 };
  if (!sendStats) sendEnd = Date.now();
  const row = (/** @type {string} */ label, /** @type {string} */ text) => log(`  ${label.padEnd(12)}${text}`);
  const ms = (/** @type {number} */ n) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '? ms');
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

  // Cancellation: stopped promptly, ended cancelled, not retried, and the waiting request heard of it.
  if (cancelRun?.ok) {
    const { taskId, key, seen, deleteAt, del, post } = cancelRun;
    const r = jobs.get(key);
    const after = lookupOf(key)?.body;
    const stoppedMs = r?.stoppedAt ? r.stoppedAt - deleteAt : NaN;
    if (del.status !== 200 || del.body.cancelled !== true) problems.push(`DELETE /tasks/${taskId} -> ${del.status} ${JSON.stringify(del.body)}, expected { cancelled: true }`);
    if (!(stoppedMs < 2_000)) problems.push(`${taskId} stopped ${ms(stoppedMs)} after DELETE, expected at once`);
    if (r?.retries !== 0 || after?.attempts !== 1) problems.push(`${taskId} was retried after its cancellation (${after?.attempts} tries)`);
    if (post?.status !== 422 || post.body.code !== 'CANCELLED') problems.push(`its POST /tasks?wait=1 -> ${post?.status} ${JSON.stringify(post?.body)}, expected 422 CANCELLED`);
    row('cancelled', `${fmt(counts.cancelled)} (expected ${fmt(expected.cancelled)}): job ${taskId} stopped ${ms(stoppedMs)} after DELETE /tasks/${taskId} -> ${JSON.stringify(del.body)}`);
    row(
      '',
      `(GET had shown it active, progress ${JSON.stringify(seen.progress)}); ended ${after?.state} after ${after?.attempts} of ${after?.maxAttempts} tries, ` +
        `not retried; its ?wait=1 request got ${post?.status} ${post?.body.code}`,
    );
  } else {
    problems.push(cancelRun?.problem ?? 'the cancel scenario did not run');
    row('cancelled', `${fmt(counts.cancelled)} (expected ${fmt(expected.cancelled)})`);
  }

  // Timeout: the try failed with TIMEOUT at about `timeout` ms (not when its work would have ended), and the job died on its only attempt.
  if (timeoutRun) {
    const { taskId, key } = timeoutRun;
    const r = jobs.get(key);
    const after = lookupOf(key)?.body;
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
  } else {
    problems.push('the timeout scenario did not run');
  }

  // waitFor: each 200 carries the very result the worker returned.
  if (waitRun) {
    const { answered, failing, short } = waitRun;
    /** @type {number[]} */
    const roundTrips = [];
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
  } else {
    problems.push('the waitFor scenario did not run');
  }

  if (lateness.length > 0) {
    row('delayed', `${lateness.length} jobs with delay 500-1500 ms started ${Math.round(lateness[0] ?? 0)} to ${Math.round(lateness.at(-1) ?? 0)} ms after their due time (max lateness ${Math.round(lateness.at(-1) ?? 0)} ms)`);
  }
  if (plain > 0) {
    const span = plainLast - sendStart;
    row('throughput', `${fmt((plain * 1000) / span)} jobs/s (${fmt(plain)} plain jobs, first request to last completion ${secs(span)})`);
  }
  row('latency', `enqueue -> start p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms (${fmt(latencies.length)} first tries)`);
  row('workers', [...triesByWorker].sort().map(([w, n]) => `${w} ran ${fmt(n)} tries`).join(', '));

  // GET /stats: producer.counts() per queue. Nothing may be left waiting or running; dead and
  // cancelled jobs are all kept; completed ones only up to the consumers' retention.
  if (stats.status === 200) {
    const queues = /** @type {Record<string, any>[]} */ (Object.values(stats.body));
    const total = (/** @type {string} */ field) => queues.reduce((sum, c) => sum + Number(c[field]), 0);
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

  // Scheduling: the four strategies' orders on the same 12 jobs, and weighted selection
  // across three queues. Own queues and in-process consumers; the workers are idle by now.
  log('');
  try {
    await schedulingSection({ ...redis, log: (line) => log(line), aborted: () => abortReason }, problems);
  } catch (err) {
    if (abortReason) {
      console.error(`demo aborted: ${abortReason}`);
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
  log(`OK: all ${fmt(planned)} jobs accounted for, and every scheduling order and share as expected (${secs(Date.now() - t0)} so far; now closing)`);
  return 0;
}

process.exitCode = await main();
