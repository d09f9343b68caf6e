// @ts-check
// The producer side: a small HTTP service that turns requests into docket jobs, the way a
// web app would. node:http only, to keep the focus on docket.
//
//   POST /tasks        { kind, payload?, options? }               -> 201 { id, kind, queue, jobId, created }
//   POST /tasks/batch  { kind, tasks: [{ payload?, options? }] }  -> 201 { kind, queue, jobs: [{ id, jobId, created }] }
//   GET  /tasks/:id                                               -> 200 the job's snapshot (producer.getJob), or 404
//
// `options` are docket's job options (delay, attempts, backoff, priority, ...), passed
// through unchanged: docket validates them and its error message becomes the 400 body.
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

// One producer for the whole process: it is cheap to share and pipelines concurrent enqueues.
const producer = new Producer({ connection: redisUrl, prefix });

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

/** @type {Record<string, (req: import('node:http').IncomingMessage, match: RegExpMatchArray) => Promise<[number, unknown]>>} */
const routes = {
  async 'POST /tasks'(req) {
    const body = object(await readJson(req), 'the body');
    onlyFields(body, ['kind', 'payload', 'options']);
    const queue = queueFor(body.kind);
    const kind = /** @type {string} */ (body.kind);
    const job = await producer.enqueue(queue, stampPayload(body.payload, '"payload"', Date.now()), jobOptions(body.options, '"options"'));
    // 200, not 201, when the id already existed: the request was an idempotent repeat.
    return [job.created ? 201 : 200, { id: taskId(kind, job.id), kind, queue: job.queue, jobId: job.id, created: job.created }];
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
    const id = decodeURIComponent(match[1] ?? '');
    const colon = id.indexOf(':');
    const kind = id.slice(0, colon);
    if (colon < 1 || !Object.hasOwn(queuesByKind, kind)) {
      throw new HttpError(400, `Expected a task id like "email:17" (kind:jobId, as POST /tasks returns it), got ${JSON.stringify(id)}`);
    }
    const info = await producer.getJob(queueFor(kind), id.slice(colon + 1));
    // Finished jobs are kept for a bounded time and count (the consumers' retention), so
    // an old id may be gone: that is a 404, not an error.
    if (info === null) throw new HttpError(404, `No task ${JSON.stringify(id)} (never enqueued, or removed by retention)`);
    return [200, { ...info, id, jobId: info.id }];
  },
};

/** @param {string} method @param {string} path */
function route(method, path) {
  if (path === '/tasks') return { handler: method === 'POST' ? routes['POST /tasks'] : undefined, match: [] };
  if (path === '/tasks/batch') return { handler: method === 'POST' ? routes['POST /tasks/batch'] : undefined, match: [] };
  const m = path.match(/^\/tasks\/([^/]+)$/);
  if (m) return { handler: method === 'GET' ? routes['GET /tasks/:id'] : undefined, match: m };
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
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const found = route(req.method ?? 'GET', path);
    if (!found) return send(404, { error: `No route ${req.method} ${path}` });
    if (!found.handler) return send(405, { error: `Method ${req.method} not allowed on ${path}` });
    const [status, body] = await found.handler(req, /** @type {RegExpMatchArray} */ (found.match));
    send(status, body);
  } catch (err) {
    if (err instanceof HttpError) return send(err.status, { error: err.message });
    if (isDocketError(err)) {
      // Bad input names the option at fault; Redis trouble is the server's problem, not the client's.
      if (err.code === 'INVALID_ARGUMENT' || err.code === 'NOT_ENCODABLE' || err.code === 'PAYLOAD_TOO_LARGE') {
        return send(400, { error: err.message, code: err.code });
      }
      if (err.code === 'REDIS_ERROR' || err.code === 'CLOSED') return send(503, { error: err.message, code: err.code });
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
  // Stop accepting requests, let the ones in progress finish (their enqueues included),
  // then close the producer's connection.
  await new Promise((resolve) => server.close(resolve));
  await producer.close();
  console.log(`[server] ${signal}: closed`);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
