// @ts-check
// The producer side: a small HTTP service that turns requests into docket jobs, the way a
// web app would. node:http only, to keep the focus on docket.
//
//   POST   /tasks        { kind, payload?, options? }               -> 201 { id, kind, queue, jobId, created }
//   POST   /tasks?wait=1 (or { ..., wait: true }), waitMs optional  -> 200 { ..., state: 'completed', result, waitedMs }
//                         the job finished otherwise:                  422 { ..., error, code: JOB_FAILED | CANCELLED }
//                         it did not finish within waitMs:             504 { ..., error, code: TIMEOUT } (the job goes on)
//   POST   /tasks/batch  { kind, tasks: [{ payload?, options? }] }  -> 201 { kind, queue, jobs: [{ id, jobId, created }] }
//   GET    /tasks/:id                                               -> 200 the job's snapshot (producer.getJob), or 404
//   DELETE /tasks/:id                                               -> 200 { id, cancelled: true | false } (producer.cancel)
//   GET    /stats                                                   -> 200 { [kind]: { queue, waiting, ..., cancelled, paused } }
//
// `options` are docket's job options (delay, attempts, backoff, priority, timeout, ...),
// passed through unchanged: docket validates them and its error message becomes the 400 body.
//
// Run on its own: REDIS_URL=redis://127.0.0.1:6379 DEMO_PREFIX=demo PORT=3000 node src/server.mjs
import { createServer } from 'node:http';
import { Producer, isDocketError } from '@docket/producer';
import { queuesByKind } from './queues.mjs';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.DEMO_PREFIX || 'demo';
const port = Number(process.env.PORT || 0);

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_BATCH = 10_000;
/** How long `?wait=1` waits for the job by default, and at most. */
const DEFAULT_WAIT_MS = 10_000;
const MAX_WAIT_MS = 60_000;

// One producer for the whole process: it is cheap to share and pipelines concurrent enqueues.
const producer = new Producer({ connection: redisUrl, prefix });

/**
 * Settles when shutdown starts: requests still waiting for their job then answer 503 at
 * once instead of holding the shutdown up for as long as they were willing to wait.
 * @type {() => void}
 */
let startShutdown = () => {};
/** @type {Promise<never>} */
const shuttingDown = new Promise((_, reject) => {
  startShutdown = () => reject(new HttpError(503, 'The server is shutting down; the job goes on (GET /tasks/:id later)'));
});
shuttingDown.catch(() => {}); // rejected on purpose, observed by each waiting request

/** An error whose message is safe and useful to show the client. */
class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * A task id names the kind too: docket ids are unique per queue only (generated ids are a
 * per-queue counter, so "17" exists in every queue), and getJob needs the queue.
 * @param {string} kind @param {string} jobId
 */
const taskId = (kind, jobId) => `${kind}:${jobId}`;

/** @param {import('node:http').IncomingMessage} req @returns {Promise<unknown>} */
async function readJson(req) {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'Expected a JSON body (Content-Type: application/json)');
  }
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `The body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `The body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * @param {unknown} value @param {string} what
 * @returns {Record<string, unknown>}
 */
function object(value, what) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, `Expected ${what} to be a JSON object`);
  return /** @type {Record<string, unknown>} */ (value);
}

/** @param {Record<string, unknown>} body @param {string[]} allowed */
function onlyFields(body, allowed) {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  // A misspelt field ("option", "delay" at the top level) would otherwise be ignored silently.
  if (extra.length > 0) throw new HttpError(400, `Unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}; expected ${allowed.join(', ')}`);
}

/** @param {unknown} kind */
function queueFor(kind) {
  if (typeof kind !== 'string' || !Object.hasOwn(queuesByKind, kind)) {
    throw new HttpError(400, `Expected "kind" to be one of ${Object.keys(queuesByKind).map((k) => `"${k}"`).join(', ')}, got ${JSON.stringify(kind)}`);
  }
  return /** @type {import('@docket/producer').QueueDefinition<any>} */ (queuesByKind[kind]);
}

/**
 * The payload as enqueued: the client's object plus the enqueue time, which the workers
 * use to measure how long jobs waited.
 * @param {unknown} payload @param {string} what @param {number} now
 */
function stampPayload(payload, what, now) {
  return { ...object(payload ?? {}, what), enqueuedAt: now };
}

/** @param {unknown} options @param {string} what */
function jobOptions(options, what) {
  return options === undefined ? undefined : object(options, what);
}

/**
 * Whether (and how long, in ms) POST /tasks should wait for its job: `?wait=1` (or
 * `"wait": true` in the body), with `?waitMs=` (or `"waitMs"`) to change the default.
 * @param {URLSearchParams} query @param {Record<string, unknown>} body
 * @returns {number} 0 for "answer as soon as the job is enqueued"
 */
function waitMsOf(query, body) {
  const flag = query.get('wait') ?? body.wait;
  const wait = flag === undefined || flag === false || flag === '0' || flag === 'false' ? false : flag === true || flag === '1' || flag === 'true' || flag === '' ? true : undefined;
  if (wait === undefined) throw new HttpError(400, `Expected "wait" to be true/false (or 1/0 in the query), got ${JSON.stringify(flag)}`);
  const raw = query.get('waitMs') ?? body.waitMs;
  if (raw === undefined) return wait ? DEFAULT_WAIT_MS : 0;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_WAIT_MS) throw new HttpError(400, `Expected "waitMs" to be an integer from 1 to ${MAX_WAIT_MS}, got ${JSON.stringify(raw)}`);
  if (!wait) throw new HttpError(400, '"waitMs" needs "wait" (?wait=1 or "wait": true)');
  return ms;
}

/**
 * Parses a task id ("email:17") into its queue and docket job id.
 * @param {RegExpMatchArray} match
 */
function parseTaskId(match) {
  const id = decodeURIComponent(match[1] ?? '');
  const colon = id.indexOf(':');
  const kind = id.slice(0, colon);
  if (colon < 1 || !Object.hasOwn(queuesByKind, kind)) {
    throw new HttpError(400, `Expected a task id like "email:17" (kind:jobId, as POST /tasks returns it), got ${JSON.stringify(id)}`);
  }
  return { id, kind, queue: queueFor(kind), jobId: id.slice(colon + 1) };
}

/**
 * How a waitFor rejection maps to HTTP, or undefined for errors that are not about the job
 * (Redis trouble...), which the general handler answers.
 * @type {Partial<Record<import('@docket/producer').DocketErrorCode, number>>}
 */
const WAIT_STATUS = {
  JOB_FAILED: 422, // the job is dead: the message carries its last error
  CANCELLED: 422,
  TIMEOUT: 504, // we stopped waiting; the job itself goes on (GET /tasks/:id later)
  NOT_FOUND: 404, // finished and already removed by retention
};

/** @typedef {(req: import('node:http').IncomingMessage, match: RegExpMatchArray, url: URL) => Promise<[number, unknown]>} Route */

/** @type {Record<string, Route>} */
const routes = {
  async 'POST /tasks'(req, _match, url) {
    const body = object(await readJson(req), 'the body');
    onlyFields(body, ['kind', 'payload', 'options', 'wait', 'waitMs']);
    const queue = queueFor(body.kind);
    const kind = /** @type {string} */ (body.kind);
    const waitMs = waitMsOf(url.searchParams, body);
    const enqueuedAt = Date.now();
    const job = await producer.enqueue(queue, stampPayload(body.payload, '"payload"', enqueuedAt), jobOptions(body.options, '"options"'));
    const answer = { id: taskId(kind, job.id), kind, queue: job.queue, jobId: job.id, created: job.created };
    // 200, not 201, when the id already existed: the request was an idempotent repeat.
    if (waitMs === 0) return [job.created ? 201 : 200, answer];
    // A request that waits for its job's result. waitFor listens to the queue's event feed
    // (one connection per queue for the whole process, shared by every waiting request), so
    // a thousand waiting requests cost no polling. A repeat of an existing id waits for that job.
    try {
      const result = await Promise.race([producer.waitFor(queue, job.id, { timeout: waitMs }), shuttingDown]);
      return [200, { ...answer, state: 'completed', result, waitedMs: Date.now() - enqueuedAt }];
    } catch (err) {
      if (err instanceof HttpError) return [err.status, { ...answer, error: err.message }];
      const status = isDocketError(err) ? WAIT_STATUS[err.code] : undefined;
      if (status === undefined || !isDocketError(err)) throw err;
      return [status, { ...answer, error: err.message, code: err.code, waitedMs: Date.now() - enqueuedAt }];
    }
  },

  async 'POST /tasks/batch'(req) {
    const body = object(await readJson(req), 'the body');
    onlyFields(body, ['kind', 'tasks']);
    const queue = queueFor(body.kind);
    const kind = /** @type {string} */ (body.kind);
    if (!Array.isArray(body.tasks) || body.tasks.length === 0 || body.tasks.length > MAX_BATCH) {
      throw new HttpError(400, `Expected "tasks" to be an array of 1-${MAX_BATCH} { payload, options } objects`);
    }
    const now = Date.now();
    const jobs = body.tasks.map((task, i) => {
      const t = object(task, `tasks[${i}]`);
      onlyFields(t, ['payload', 'options']);
      const options = jobOptions(t.options, `tasks[${i}].options`);
      return { payload: stampPayload(t.payload, `tasks[${i}].payload`, now), ...(options ? { opts: options } : {}) };
    });
    // enqueueMany validates every job before sending any, so a 400 means nothing was enqueued.
    const enqueued = await producer.enqueueMany(queue, jobs);
    return [201, { kind, queue: queue.name, jobs: enqueued.map((j) => ({ id: taskId(kind, j.id), jobId: j.id, created: j.created })) }];
  },

  async 'GET /tasks/:id'(_req, match) {
    const { id, queue, jobId } = parseTaskId(match);
    const info = await producer.getJob(queue, jobId);
    // Finished jobs are kept for a bounded time and count (the consumers' retention), so
    // an old id may be gone: that is a 404, not an error.
    if (info === null) throw new HttpError(404, `No task ${JSON.stringify(id)} (never enqueued, or removed by retention)`);
    // The snapshot carries `result` (once completed) and `progress` (the latest value the
    // handler reported); say so explicitly when there is none yet, so clients see the fields.
    return [200, { ...info, id, jobId: info.id, result: info.result ?? null, progress: info.progress ?? null }];
  },

  async 'DELETE /tasks/:id'(_req, match) {
    const { id, queue, jobId } = parseTaskId(match);
    // true: a waiting or delayed job is cancelled now; a running one is told to stop (its
    // handler's signal aborts) and ends cancelled, never retried. false: nothing to cancel
    // (no such job, or it already finished).
    const cancelled = await producer.cancel(queue, jobId);
    return [200, { id, cancelled }];
  },

  async 'GET /stats'() {
    const kinds = Object.entries(queuesByKind);
    const counts = await Promise.all(kinds.map(([, queue]) => producer.counts(queue)));
    return [200, Object.fromEntries(kinds.map(([kind, queue], i) => [kind, { queue: queue.name, ...counts[i] }]))];
  },
};

/** @param {string} method @param {string} path */
function route(method, path) {
  if (path === '/tasks') return { handler: method === 'POST' ? routes['POST /tasks'] : undefined, match: [] };
  if (path === '/tasks/batch') return { handler: method === 'POST' ? routes['POST /tasks/batch'] : undefined, match: [] };
  if (path === '/stats') return { handler: method === 'GET' ? routes['GET /stats'] : undefined, match: [] };
  const m = path.match(/^\/tasks\/([^/]+)$/);
  if (m) return { handler: method === 'GET' || method === 'DELETE' ? routes[`${method} /tasks/:id`] : undefined, match: m };
  return undefined;
}

const server = createServer(async (req, res) => {
  /** @param {number} status @param {unknown} body */
  const send = (status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const found = route(req.method ?? 'GET', path);
    if (!found) return send(404, { error: `No route ${req.method} ${path}` });
    if (!found.handler) return send(405, { error: `Method ${req.method} not allowed on ${path}` });
    const [status, body] = await found.handler(req, /** @type {RegExpMatchArray} */ (found.match), url);
    send(status, body);
  } catch (err) {
    if (err instanceof HttpError) return send(err.status, { error: err.message });
    if (isDocketError(err)) {
      // Bad input names the option at fault; Redis trouble is the server's problem, not the client's.
      if (err.code === 'INVALID_ARGUMENT' || err.code === 'NOT_ENCODABLE' || err.code === 'PAYLOAD_TOO_LARGE') {
        return send(400, { error: err.message, code: err.code });
      }
      if (['REDIS_ERROR', 'CONNECTION_FAILED', 'AUTH_FAILED', 'CLOSED'].includes(err.code)) return send(503, { error: err.message, code: err.code });
    }
    console.error('[server] unexpected error', err);
    send(500, { error: 'Internal error' });
  }
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const url = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : port}`;
  console.log(`[server] listening on ${url} (prefix "${prefix}")`);
  process.send?.({ type: 'listening', url });
});

let closing = false;
/** @param {NodeJS.Signals} signal */
async function shutdown(signal) {
  if (closing) return;
  closing = true;
  // Stop accepting requests, let the ones in progress finish (their enqueues included; the
  // ones waiting for their job answer 503 now), then close the producer's connections.
  startShutdown();
  await new Promise((resolve) => server.close(resolve));
  await producer.close();
  console.log(`[server] ${signal}: closed`);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
