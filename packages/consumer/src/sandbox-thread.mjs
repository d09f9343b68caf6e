// @ts-check
/**
 * The entry of one sandbox thread (see sandbox.ts). Plain JavaScript with no imports beyond
 * node: builtins, so the very same file runs from `src/` (tests) and, copied by tsup, from
 * `dist/sandbox-thread.js` (the built package).
 *
 * Protocol (all messages are structured-cloned over the thread's parentPort):
 *   thread -> pool  { type: 'ready' }                          the handler module loaded
 *                   { type: 'load-error', message }            it did not (message says why)
 *                   { type: 'progress', id, value }            context.progress(value)
 *                   { type: 'done', id, ok: true, value }      the handler resolved
 *                   { type: 'done', id, ok: false, error }     it threw; error: SerializedError,
 *                                                              or null when it threw its signal's reason
 *   pool -> thread  { type: 'run', id, job }
 *                   { type: 'abort', id, reason }              reason: SerializedError
 */
import { inspect } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * @typedef {{ name: string, message: string, stack?: string, code?: string | number,
 *   jobId?: string, queue?: string, cause?: SerializedError }} SerializedError
 */

if (!parentPort) throw new Error('sandbox-thread.mjs is the entry of a docket sandbox thread; it cannot run on the main thread');
const port = parentPort;

/** @param {unknown} value */
function describeValue(value) {
  const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  return text.length > 1000 ? `${text.slice(0, 997)}...` : text;
}

/** @param {unknown} value @returns {value is Error} */
function isErrorLike(value) {
  if (value instanceof Error) return true;
  // Errors from another realm (vm contexts) fail instanceof but still look like errors.
  return typeof value === 'object' && value !== null && typeof (/** @type {any} */ (value).message) === 'string' &&
    typeof (/** @type {any} */ (value).name) === 'string' && typeof (/** @type {any} */ (value).stack) === 'string';
}

/** @param {unknown} value @param {number} depth @returns {SerializedError} */
function serializeError(value, depth = 0) {
  if (!isErrorLike(value)) {
    return { name: 'Error', message: `The handler threw a non-Error value: ${describeValue(value)}` };
  }
  const e = /** @type {any} */ (value);
  /** @type {SerializedError} */
  const out = { name: String(e.name), message: String(e.message) };
  if (typeof e.stack === 'string') out.stack = e.stack;
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.jobId === 'string') out.jobId = e.jobId;
  if (typeof e.queue === 'string') out.queue = e.queue;
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/** The abort reason as the handler sees it: an Error with the reason's name, message and code. @param {SerializedError} s */
function reviveReason(s) {
  const err = new Error(s.message);
  Object.defineProperty(err, 'name', { value: s.name, writable: true, configurable: true, enumerable: false });
  if (s.stack !== undefined) err.stack = s.stack;
  const extra = /** @type {any} */ (err);
  if (s.code !== undefined) extra.code = s.code;
  if (s.jobId !== undefined) extra.jobId = s.jobId;
  if (s.queue !== undefined) extra.queue = s.queue;
  return err;
}

/** @param {any} mod @returns {Function | undefined} */
function pickHandler(mod) {
  if (typeof mod.default === 'function') return mod.default;
  if (typeof mod.handler === 'function') return mod.handler;
  // A CommonJS module that sets `module.exports = { handler }`.
  if (mod.default !== null && typeof mod.default === 'object' && typeof mod.default.handler === 'function') return mod.default.handler;
  return undefined;
}

/** Loads the handler module, then serves tries until the pool terminates this thread. */
async function main() {
  /** @type {Function | undefined} */
  let handler;
  try {
    const mod = await import(/** @type {{ module: string }} */ (workerData).module);
    handler = pickHandler(mod);
    if (handler === undefined) {
      const names = Object.keys(mod);
      port.postMessage({
        type: 'load-error',
        message:
          'exports no handler: expected its default export or a named export `handler` to be a function ' +
          `(job, context) => result, found ${names.length > 0 ? `exports ${names.map((n) => `\`${n}\``).join(', ')}` : 'no exports'}`,
      });
      return;
    }
  } catch (err) {
    const s = serializeError(err);
    port.postMessage({ type: 'load-error', message: `cannot be loaded: ${s.name}: ${s.message}` });
    return;
  }
  serve(handler);
}

/** @param {Function} handler */
function serve(handler) {
  /** @type {{ id: number, controller: AbortController } | undefined} */
  let current;

  /** @param {{ id: number, job: { id: string, queue: string } }} msg */
  const runTry = async ({ id, job }) => {
    const controller = new AbortController();
    current = { id, controller };
    const context = Object.freeze({
      signal: controller.signal,
      /** @param {unknown} value */
      progress(value) {
        port.postMessage({ type: 'progress', id, value });
      },
    });
    /** @type {object} */
    let reply;
    try {
      const value = await handler(Object.freeze(job), context);
      reply = { type: 'done', id, ok: true, value };
    } catch (err) {
      const isReason = controller.signal.aborted && err === controller.signal.reason;
      reply = { type: 'done', id, ok: false, error: isReason ? null : serializeError(err) };
    }
    if (current?.id === id) current = undefined;
    try {
      port.postMessage(reply);
    } catch (err) {
      // The result cannot be structured-cloned (a function, a class instance with private state...).
      const why = err instanceof Error ? err.message : String(err);
      port.postMessage({
        type: 'done',
        id,
        ok: false,
        error: {
          name: 'DocketError',
          code: 'NOT_ENCODABLE',
          message: `The result of job "${job.id}" cannot be sent back from its sandbox thread (structured clone failed: ${why})`,
          jobId: job.id,
          queue: job.queue,
        },
      });
    }
  };

  port.on('message', (/** @type {any} */ msg) => {
    if (msg.type === 'run') void runTry(msg);
    else if (msg.type === 'abort' && current !== undefined && current.id === msg.id) current.controller.abort(reviveReason(msg.reason));
  });
  port.postMessage({ type: 'ready' });
}

// No top-level await: the file must also build as CommonJS if tsup emits both formats.
void main();
