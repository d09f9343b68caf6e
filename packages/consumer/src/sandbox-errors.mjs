// @ts-check
/**
 * How errors cross between a sandbox pool (sandbox.ts) and its threads (sandbox-thread.mjs):
 * structured clone keeps no class, so an error travels as a plain object and is rebuilt on the
 * other side. Plain JavaScript with no imports, so that the thread entry can use it from src/
 * (tests) and, bundled by tsup, from dist/ (the built package).
 *
 * @typedef {{ name: string, message: string, stack?: string, code?: string | number,
 *   jobId?: string, queue?: string, cause?: SerializedError }} SerializedError
 */

/**
 * Whether `value` is an Error, also one from another realm (vm contexts), which fails
 * instanceof but still looks like one.
 * @param {unknown} value @returns {value is Error}
 */
export function isErrorLike(value) {
  if (value instanceof Error) return true;
  const v = /** @type {any} */ (value);
  return typeof value === 'object' && value !== null && typeof v.message === 'string' && typeof v.name === 'string' && typeof v.stack === 'string';
}

/**
 * `value` as a SerializedError: an error's name, message, stack, code, jobId, queue and (three
 * levels of) cause; anything else as an Error whose message `describe` writes.
 * @param {unknown} value @param {(value: unknown) => string} describe @param {number} [depth]
 * @returns {SerializedError}
 */
export function serializeError(value, describe, depth = 0) {
  if (!isErrorLike(value)) return { name: 'Error', message: describe(value) };
  const e = /** @type {any} */ (value);
  /** @type {SerializedError} */
  const out = { name: String(e.name), message: String(e.message) };
  if (typeof e.stack === 'string') out.stack = e.stack;
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.jobId === 'string') out.jobId = e.jobId;
  if (typeof e.queue === 'string') out.queue = e.queue;
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, describe, depth + 1);
  return out;
}

/**
 * Gives `err` the serialized error's name (if not 'Error'), stack, code, jobId and queue.
 * @template {Error} E @param {E} err @param {SerializedError} s @returns {E}
 */
export function restoreFields(err, s) {
  if (s.name !== 'Error') Object.defineProperty(err, 'name', { value: s.name, writable: true, configurable: true, enumerable: false });
  const extra = /** @type {any} */ (err);
  if (s.code !== undefined) extra.code = s.code;
  if (s.jobId !== undefined) extra.jobId = s.jobId;
  if (s.queue !== undefined) extra.queue = s.queue;
  // No stack frames from the receiving side: they would point at the transport, not the source.
  err.stack = s.stack ?? `${s.name}: ${s.message}`;
  return err;
}
