// What the HTTP service (server.ts) accepts: reading and checking request bodies, query
// flags and task ids. A request that does not fit gets a 400-range HttpError whose message
// says what was expected.
import type { IncomingMessage } from 'node:http';
import type { JobOptions, QueueDefinition } from '@docket/producer';
import { type DemoFields, type Kind, queuesByKind } from './queues.js';

const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** How long `?wait=1` waits for the job by default, and at most. */
const DEFAULT_WAIT_MS = 10_000;
const MAX_WAIT_MS = 60_000;

/** An error whose message is safe and useful to show the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A task id names the kind too: docket ids are unique per queue only (generated ids are a
 * per-queue counter, so "17" exists in every queue), and getJob needs the queue.
 */
export const taskId = (kind: Kind, jobId: string): string => `${kind}:${jobId}`;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'Expected a JSON body (Content-Type: application/json)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
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

export function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, `Expected ${what} to be a JSON object`);
  return value as Record<string, unknown>;
}

export function onlyFields(body: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  // A misspelt field ("option", "delay" at the top level) would otherwise be ignored silently.
  if (extra.length > 0) throw new HttpError(400, `Unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}; expected ${allowed.join(', ')}`);
}

const isKind = (kind: unknown): kind is Kind => typeof kind === 'string' && Object.hasOwn(queuesByKind, kind);

/** The body's `kind`, checked, with the queue that runs it. */
export function kindOf(kind: unknown): { kind: Kind; queue: QueueDefinition<DemoFields> } {
  if (!isKind(kind)) {
    throw new HttpError(400, `Expected "kind" to be one of ${Object.keys(queuesByKind).map((k) => `"${k}"`).join(', ')}, got ${JSON.stringify(kind)}`);
  }
  return { kind, queue: queuesByKind[kind] };
}

/**
 * The payload as enqueued: the client's object plus the enqueue time, which the workers
 * use to measure how long jobs waited.
 */
export function stampPayload(payload: unknown, what: string, now: number): DemoFields {
  return { ...object(payload ?? {}, what), enqueuedAt: now };
}

/** The job options as the client sent them: docket checks them, and its message names the option at fault. */
export function jobOptions(options: unknown, what: string): JobOptions | undefined {
  // Passed on unchecked here on purpose: docket validates every option at enqueue time.
  return options === undefined ? undefined : (object(options, what) as JobOptions);
}

/**
 * Whether (and how long, in ms) POST /tasks should wait for its job: `?wait=1` (or
 * `"wait": true` in the body), with `?waitMs=` (or `"waitMs"`) to change the default.
 * @returns 0 for "answer as soon as the job is enqueued"
 */
export function waitMsOf(query: URLSearchParams, body: Record<string, unknown>): number {
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

/** Parses a task id ("email:17", the path's last part, still URL-encoded) into its queue and docket job id. */
export function parseTaskId(encoded: string): { id: string; queue: QueueDefinition<DemoFields>; jobId: string } {
  const id = decodeURIComponent(encoded);
  const colon = id.indexOf(':');
  const kind = id.slice(0, colon);
  if (colon < 1 || !isKind(kind)) {
    throw new HttpError(400, `Expected a task id like "email:17" (kind:jobId, as POST /tasks returns it), got ${JSON.stringify(id)}`);
  }
  return { id, queue: queuesByKind[kind], jobId: id.slice(colon + 1) };
}
