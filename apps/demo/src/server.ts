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
// The request bodies are read and checked in server-requests.ts; the answers' types are in
// http-api.ts.
//
// Run on its own, once built (`pnpm demo` builds it; see the README):
//   REDIS_URL=redis://127.0.0.1:6379 DEMO_PREFIX=demo PORT=3000 node dist/server.js
import { type IncomingMessage, createServer } from 'node:http';
import { type DocketErrorCode, Producer, isDocketError } from '@docket/producer';
import type { BatchCreated, CancelAnswer, ErrorBody, StatsAnswer, TaskCreated, TaskSnapshot, TaskWaited } from './http-api.js';
import type { ListeningMessage } from './ipc-messages.js';
import { queuesByKind } from './queues.js';
import { HttpError, jobOptions, kindOf, object, onlyFields, parseTaskId, readJson, stampPayload, taskId, waitMsOf } from './server-requests.js';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.DEMO_PREFIX || 'demo';
const port = Number(process.env.PORT || 0);

const MAX_BATCH = 10_000;

// One producer for the whole process: it is cheap to share and pipelines concurrent enqueues.
const producer = new Producer({ connection: redisUrl, prefix });

/**
 * Called when shutdown starts: requests still waiting for their job then answer 503 at once
 * instead of holding the shutdown up for as long as they were willing to wait.
 */
let startShutdown = (): void => {};
const shuttingDown = new Promise<never>((_, reject) => {
  startShutdown = () => reject(new HttpError(503, 'The server is shutting down; the job goes on (GET /tasks/:id later)'));
});
shuttingDown.catch(() => {}); // rejected on purpose, observed by each waiting request

/**
 * How a waitFor rejection maps to HTTP, or undefined for errors that are not about the job
 * (Redis trouble...), which the general handler answers.
 */
const WAIT_STATUS: Partial<Record<DocketErrorCode, number>> = {
  JOB_FAILED: 422, // the job is dead: the message carries its last error
  CANCELLED: 422,
  TIMEOUT: 504, // we stopped waiting; the job itself goes on (GET /tasks/:id later)
  NOT_FOUND: 404, // finished and already removed by retention
};

/** A route's answer: the status and the body, sent as JSON. */
type Reply<T> = [status: number, body: T];

async function postTask(req: IncomingMessage, url: URL): Promise<Reply<TaskCreated | TaskWaited>> {
  const body = object(await readJson(req), 'the body');
  onlyFields(body, ['kind', 'payload', 'options', 'wait', 'waitMs']);
  const { kind, queue } = kindOf(body.kind);
  const waitMs = waitMsOf(url.searchParams, body);
  const enqueuedAt = Date.now();
  const job = await producer.enqueue(queue, stampPayload(body.payload, '"payload"', enqueuedAt), jobOptions(body.options, '"options"'));
  const answer: TaskCreated = { id: taskId(kind, job.id), kind, queue: job.queue, jobId: job.id, created: job.created };
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
}

async function postBatch(req: IncomingMessage): Promise<Reply<BatchCreated>> {
  const body = object(await readJson(req), 'the body');
  onlyFields(body, ['kind', 'tasks']);
  const { kind, queue } = kindOf(body.kind);
  if (!Array.isArray(body.tasks) || body.tasks.length === 0 || body.tasks.length > MAX_BATCH) {
    throw new HttpError(400, `Expected "tasks" to be an array of 1-${MAX_BATCH} { payload, options } objects`);
  }
  const now = Date.now();
  const jobs = body.tasks.map((task: unknown, i) => {
    const t = object(task, `tasks[${i}]`);
    onlyFields(t, ['payload', 'options']);
    const options = jobOptions(t.options, `tasks[${i}].options`);
    return { payload: stampPayload(t.payload, `tasks[${i}].payload`, now), ...(options ? { opts: options } : {}) };
  });
  // enqueueMany validates every job before sending any, so a 400 means nothing was enqueued.
  const enqueued = await producer.enqueueMany(queue, jobs);
  return [201, { kind, queue: queue.name, jobs: enqueued.map((j) => ({ id: taskId(kind, j.id), jobId: j.id, created: j.created })) }];
}

async function getTask(encodedId: string): Promise<Reply<TaskSnapshot>> {
  const { id, queue, jobId } = parseTaskId(encodedId);
  const info = await producer.getJob(queue, jobId);
  // Finished jobs are kept for a bounded time and count (the consumers' retention), so
  // an old id may be gone: that is a 404, not an error.
  if (info === null) throw new HttpError(404, `No task ${JSON.stringify(id)} (never enqueued, or removed by retention)`);
  // The snapshot carries `result` (once completed) and `progress` (the latest value the
  // handler reported); say so explicitly when there is none yet, so clients see the fields.
  return [200, { ...info, id, jobId: info.id, result: info.result ?? null, progress: info.progress ?? null }];
}

async function deleteTask(encodedId: string): Promise<Reply<CancelAnswer>> {
  const { id, queue, jobId } = parseTaskId(encodedId);
  // true: a waiting or delayed job is cancelled now; a running one is told to stop (its
  // handler's signal aborts) and ends cancelled, never retried. false: nothing to cancel
  // (no such job, or it already finished).
  const cancelled = await producer.cancel(queue, jobId);
  return [200, { id, cancelled }];
}

async function getStats(): Promise<Reply<StatsAnswer>> {
  const stats = await Promise.all(Object.entries(queuesByKind).map(async ([kind, queue]) => [kind, { queue: queue.name, ...(await producer.counts(queue)) }] as const));
  return [200, Object.fromEntries(stats)];
}

type Handler = (req: IncomingMessage, url: URL) => Promise<Reply<unknown>>;

/** The handler for `method` on `path`; undefined for no such route, null for a route without that method. */
function route(method: string, path: string): Handler | null | undefined {
  if (path === '/tasks') return method === 'POST' ? postTask : null;
  if (path === '/tasks/batch') return method === 'POST' ? postBatch : null;
  if (path === '/stats') return method === 'GET' ? getStats : null;
  const id = path.match(/^\/tasks\/([^/]+)$/)?.[1];
  if (id === undefined) return undefined;
  if (method === 'GET') return () => getTask(id);
  if (method === 'DELETE') return () => deleteTask(id);
  return null;
}

const server = createServer(async (req, res) => {
  const send = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const fail = (status: number, body: ErrorBody): void => send(status, body);
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const handler = route(req.method ?? 'GET', path);
    if (handler === undefined) return fail(404, { error: `No route ${req.method} ${path}` });
    if (handler === null) return fail(405, { error: `Method ${req.method} not allowed on ${path}` });
    const [status, body] = await handler(req, url);
    send(status, body);
  } catch (err) {
    if (err instanceof HttpError) return fail(err.status, { error: err.message });
    if (isDocketError(err)) {
      // Bad input names the option at fault; Redis trouble is the server's problem, not the client's.
      if (err.code === 'INVALID_ARGUMENT' || err.code === 'NOT_ENCODABLE' || err.code === 'PAYLOAD_TOO_LARGE') {
        return fail(400, { error: err.message, code: err.code });
      }
      if (['REDIS_ERROR', 'CONNECTION_FAILED', 'AUTH_FAILED', 'CLOSED'].includes(err.code)) return fail(503, { error: err.message, code: err.code });
    }
    console.error('[server] unexpected error', err);
    fail(500, { error: 'Internal error' });
  }
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const url = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : port}`;
  console.log(`[server] listening on ${url} (prefix "${prefix}")`);
  process.send?.({ type: 'listening', url } satisfies ListeningMessage);
});

let closing = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
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
