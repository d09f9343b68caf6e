// @ts-check
/**
 * The entry of one sandbox thread (see sandbox.ts). Plain JavaScript importing only node:
 * builtins and sandbox-errors.mjs, so the very same file runs from `src/` (tests) and, bundled by
 * tsup, from `dist/sandbox-thread.js` (the built package).
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
import { restoreFields, serializeError } from './sandbox-errors.mjs';

if (!parentPort) throw new Error('sandbox-thread.mjs is the entry of a docket sandbox thread; it cannot run on the main thread');
const port = parentPort;

/** @param {unknown} value */
function describeValue(value) {
  const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  return text.length > 1000 ? `${text.slice(0, 997)}...` : text;
}

/** What a handler threw, for the pool (a thrown non-Error value is described). @param {unknown} value */
const serializeThrown = (value) => serializeError(value, (v) => `The handler threw a non-Error value: ${describeValue(v)}`);

/** The abort reason as the handler sees it: an Error with the reason's name, message and code. @param {import('./sandbox-errors.mjs').SerializedError} s */
const reviveReason = (s) => restoreFields(new Error(s.message), s);

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
    const s = serializeThrown(err);
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
      reply = { type: 'done', id, ok: false, error: isReason ? null : serializeThrown(err) };
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
