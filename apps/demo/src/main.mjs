// @ts-check
// `pnpm demo`: the whole pipeline in one command. Picks a Redis, starts the HTTP service
// (producer) and two worker processes (consumers), drives a mixed workload through HTTP,
// shows live progress, checks that every job ended the way it should, prints a summary,
// and leaves nothing behind (processes, keys, temp dirs).
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { reports } from './queues.mjs';
import { SetupError, chooseRedis, deleteKeys, uniquePrefix } from './redis.mjs';

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
/** Short retries keep the demo quick; the default (exponential from 1 s) would dominate its runtime. */
const RETRY_BACKOFF = { type: 'fixed', delay: 200 };
/** Generous: a healthy run needs a few seconds. Past this, missing jobs are a failure. */
const TIMEOUT_MS = 60_000;
const WORKERS = 2;

/**
 * @typedef {object} TaskSpec
 * @property {'email' | 'report'} kind
 * @property {Record<string, unknown>} payload
 * @property {Record<string, unknown> | undefined} options
 * @property {'completed' | 'dead'} expect
 * @property {number} delay ms, 0 for jobs that may run at once
 * @property {number} failTimes
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
    specs.push({ kind, payload, options: Object.keys(options).length > 0 ? options : undefined, expect, delay, failTimes });
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
 * @property {number} [finishedAt]
 * @property {number} retries
 * @property {('completed' | 'dead')[]} outcomes more than one would be a double delivery
 * @property {string} [error]
 */

/** @type {Map<string, JobRecord>} keyed by `queue/jobId` */
const jobs = new Map();
const counts = { enqueued: 0, completed: 0, retried: 0, dead: 0, rejected: 0 };
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
  if (m?.type !== 'completed' && m?.type !== 'retrying' && m?.type !== 'dead') return;
  const r = record(`${m.queue}/${m.id}`);
  triesByWorker.set(m.worker, (triesByWorker.get(m.worker) ?? 0) + 1);
  if (m.attempt === 1) {
    r.firstStart = m.startedAt;
    r.enqueuedAt = m.enqueuedAt;
  }
  if (m.type === 'retrying') {
    counts.retried++;
    r.retries++;
  } else {
    counts[m.type === 'completed' ? 'completed' : 'dead']++;
    r.outcomes.push(m.type);
    r.finishedAt = m.finishedAt;
    if (m.error) r.error = m.error;
  }
}

// ------------------------------------------------------------------ HTTP driver

/**
 * Keep-alive connections, as many as requests in flight. node:http rather than fetch: on
 * Node 20, fetch costs several times more CPU per request, and the driver would measure
 * its own overhead instead of docket's.
 */
const agent = new Agent({ keepAlive: true, maxSockets: WORKLOAD.httpConcurrency });

/**
 * One JSON request to the demo server.
 * @param {string} base @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<{ status: number, body: any }>}
 */
function http(base, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request(new URL(path, base), { method, agent, headers }, (res) => {
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
  /** @param {TaskSpec} spec @param {string} queue @param {string} jobId */
  const accepted = (spec, queue, jobId) => {
    record(`${queue}/${jobId}`).spec = spec;
    counts.enqueued++;
  };
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
          const res = await http(base, 'POST', '/tasks', { kind: spec.kind, payload: spec.payload, ...(spec.options ? { options: spec.options } : {}) });
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

// ------------------------------------------------------------------ summary

/** @param {number[]} sorted @param {number} q */
const percentile = (sorted, q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;

/**
 * Checks every job against what it was meant to do; returns the problems found.
 * @param {number} expectedTotal
 */
function verify(expectedTotal) {
  const problems = [];
  if (counts.rejected > 0) problems.push(`${fmt(counts.rejected)} jobs were refused by the server (see above)`);
  if (counts.enqueued + counts.rejected !== expectedTotal) {
    problems.push(`only ${fmt(counts.enqueued)} of ${fmt(expectedTotal)} jobs were enqueued`);
  }
  const unaccounted = [];
  for (const [key, r] of jobs) {
    if (!r.spec) problems.push(`a worker reported ${key}, which the driver never enqueued`);
    else if (r.outcomes.length === 0) unaccounted.push(key);
    else if (r.outcomes.length > 1) problems.push(`${key} finished ${r.outcomes.length} times (${r.outcomes.join(', ')})`);
    else if (r.outcomes[0] !== r.spec.expect) problems.push(`${key} ended ${r.outcomes[0]}, expected ${r.spec.expect}${r.error ? ` (${r.error})` : ''}`);
  }
  if (unaccounted.length > 0) {
    problems.push(`${fmt(unaccounted.length)} job${unaccounted.length === 1 ? '' : 's'} never finished within ${TIMEOUT_MS / 1000} s, e.g. ${unaccounted.slice(0, 5).join(', ')}`);
  }
  const expectedRetries = [...jobs.values()].reduce((sum, r) => sum + (r.spec ? Math.min(r.spec.failTimes, Number(r.spec.options?.attempts ?? 3) - 1) : 0), 0);
  if (counts.retried !== expectedRetries) problems.push(`${fmt(counts.retried)} retries reported, expected ${fmt(expectedRetries)}`);
  return { problems, expectedRetries };
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
    exitCode = await drive(url, t0);
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
 * The driver proper: workload, live progress, verification, summary.
 * @param {string} base the server's URL @param {number} t0 when the demo started
 * @returns {Promise<number>} the exit code
 */
async function drive(base, t0) {
  // Bad input first, to show what a client gets: docket's own message, naming the option.
  const bad = await http(base, 'POST', '/tasks', { kind: 'email', payload: { to: 'x@example.com' }, options: { attempts: 0 } });

  const specs = buildWorkload();
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

  const progress = () => {
    const inFlight = Math.max(0, counts.enqueued - counts.completed - counts.dead);
    setStatus(
      `enqueued ${fmt(counts.enqueued)} | completed ${fmt(counts.completed)} | retried ${fmt(counts.retried)} | ` +
        `dead ${fmt(counts.dead)} | in flight ${fmt(inFlight)} | ${secs(Date.now() - sendStart)}`,
    );
  };
  // A terminal gets a smooth in-place line; a pipe or log file gets one line a second.
  const ticker = setInterval(progress, tty ? 100 : 1_000);
  const allDone = () => sendStats !== undefined && counts.completed + counts.dead + counts.rejected >= specs.length;
  try {
    while (!allDone() && !abortReason && Date.now() - sendStart < TIMEOUT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // An outcome reported twice would arrive only after the count was reached: give
    // stragglers a moment before judging.
    if (allDone()) await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    clearInterval(ticker);
  }
  progress();
  endStatus();
  if (abortReason) {
    console.error(`demo aborted: ${abortReason}`);
    return 1;
  }

  // Ask the HTTP service about the jobs that died: GET /tasks/:id should agree with what
  // the workers reported.
  const lookups = await Promise.all(
    [...jobs]
      .filter(([, r]) => r.spec?.expect === 'dead')
      .map(async ([key, r]) => {
        const id = `${r.spec?.kind}:${key.slice(key.indexOf('/') + 1)}`;
        return { path: `/tasks/${id}`, ...(await http(base, 'GET', `/tasks/${encodeURIComponent(id)}`)) };
      }),
  );

  const { problems, expectedRetries } = verify(specs.length);
  for (const l of lookups) {
    if (l.status !== 200 || l.body.state !== 'dead') problems.push(`GET ${l.path} -> ${l.status} ${l.body.state ?? l.body.error}, expected a dead job`);
  }

  // Latency: from the enqueue stamp (or the due time, for delayed jobs) to the first try's start.
  /** @type {number[]} */
  const latencies = [];
  /** @type {number[]} */
  const lateness = [];
  let plain = 0;
  let plainLast = 0;
  for (const r of jobs.values()) {
    if (!r.spec || r.firstStart === undefined || r.enqueuedAt === undefined) continue;
    const wait = r.firstStart - r.enqueuedAt - r.spec.delay;
    (r.spec.delay > 0 ? lateness : latencies).push(wait);
    if (r.spec.delay === 0 && r.spec.failTimes === 0 && r.finishedAt) {
      plain++;
      plainLast = Math.max(plainLast, r.finishedAt);
    }
  }
  latencies.sort((a, b) => a - b);
  lateness.sort((a, b) => a - b);

  const expectedDead = specs.filter((s) => s.expect === 'dead').length;
  const failOnce = specs.filter((s) => s.expect === 'completed' && s.failTimes > 0).length;
  if (!sendStats) problems.push(`sending the workload did not finish within ${TIMEOUT_MS / 1000} s`);
  const s = sendStats ?? { single: 0, singleRequests: 0, batched: 0, batchRequests: 0 };
  if (!sendStats) sendEnd = Date.now();
  const row = (/** @type {string} */ label, /** @type {string} */ text) => log(`  ${label.padEnd(12)}${text}`);
  log('');
  log('summary');
  row('enqueued', `${fmt(counts.enqueued)} jobs in ${secs(sendEnd - sendStart)}: ${fmt(s.single)} by POST /tasks, ${fmt(s.batched)} in ${fmt(s.batchRequests)} POST /tasks/batch`);
  row('completed', `${fmt(counts.completed)} (expected ${fmt(specs.length - expectedDead)})`);
  row('retried', `${fmt(counts.retried)} (expected ${fmt(expectedRetries)}: ${fmt(failOnce)} jobs fail their first try, ${expectedDead} more die after 2 tries)`);
  row('dead', `${fmt(counts.dead)} (expected ${fmt(expectedDead)})`);
  if (lateness.length > 0) {
    row('delayed', `${lateness.length} jobs with delay 500-1500 ms started ${Math.round(lateness[0] ?? 0)} to ${Math.round(lateness.at(-1) ?? 0)} ms after their due time (max lateness ${Math.round(lateness.at(-1) ?? 0)} ms)`);
  }
  if (plain > 0) {
    const span = plainLast - sendStart;
    row('throughput', `${fmt((plain * 1000) / span)} jobs/s (${fmt(plain)} plain jobs, first request to last completion ${secs(span)})`);
  }
  row('latency', `enqueue -> start p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms (${fmt(latencies.length)} first tries)`);
  row('workers', [...triesByWorker].sort().map(([w, n]) => `${w} ran ${fmt(n)} tries`).join(', '));
  row('bad input', `POST /tasks with {"attempts":0} -> ${bad.status} ${JSON.stringify(bad.body.error)}`);
  const sample = lookups[0];
  if (sample) {
    row('lookup', `GET ${sample.path} -> ${sample.status} ${sample.body.state}, ${sample.body.attempts}/${sample.body.maxAttempts} tries, error ${JSON.stringify(sample.body.error)}`);
  }
  if (bad.status !== 400) problems.push(`bad input got ${bad.status}, expected 400`);
  log('');
  if (problems.length > 0) {
    log(`FAILED after ${secs(Date.now() - t0)}:`, process.stderr);
    for (const p of problems) log(`  - ${p}`, process.stderr);
    return 1;
  }
  log(`OK: all ${fmt(specs.length)} jobs accounted for (${secs(Date.now() - t0)} so far; now closing)`);
  return 0;
}

process.exitCode = await main();
