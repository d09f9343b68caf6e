import { DocketError } from './errors.js';
import { encodeValue } from './record.js';
import { describeThrown } from './validate.js';

/** The default `maxPayloadBytes`: 1 MiB of encoded payload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

const MAX_DEPTH = 100;

// msgpackr renames such a key on decode (so that no decoded object gets another prototype):
// refused here rather than silently changed on the way.
const PROTO_KEY = ', which would not arrive as sent (decoders rename it to guard against prototype pollution)';

/**
 * msgpackr quietly turns functions and symbols into nothing useful and overflows on cycles, so
 * values are checked first. What crosses is data: class instances arrive as plain objects,
 * Sets as arrays and Maps as plain objects; Dates, Buffers, typed arrays and bigints (of any
 * size) survive.
 */
function findUnencodable(value: unknown, path: string, depth: number, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'number':
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return undefined;
  }
  if (value === null || value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined;
  if (depth > MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} levels deep`;
  const obj = value as object;
  if (seen.has(obj)) return `${path} refers back to itself (a cycle)`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const found = findUnencodable(obj[i], `${path}[${i}]`, depth + 1, seen);
        if (found) return found;
      }
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) {
        if (k === '__proto__') return `${path} has the key "__proto__"${PROTO_KEY}`;
        const found = findUnencodable(v, `${path}.get(${String(k)})`, depth + 1, seen);
        if (found) return found;
      }
    } else if (obj instanceof Set) {
      let i = 0;
      for (const v of obj) {
        const found = findUnencodable(v, `${path}<set item ${i++}>`, depth + 1, seen);
        if (found) return found;
      }
    } else {
      for (const key of Object.keys(obj)) {
        if (key === '__proto__') return `${path} has an own key "__proto__"${PROTO_KEY}`;
        const found = findUnencodable((obj as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen);
        if (found) return found;
      }
    }
  } finally {
    seen.delete(obj);
  }
  return undefined;
}

/**
 * True when findUnencodable would find nothing: the same walk without building a path string
 * per field (the common case, on every enqueue). The ancestors on the current path are kept in
 * one reused array instead of a Set per call; a value is only checked for a cycle against them.
 */
const shared: object[] = [];
let walking = false;
function encodable(value: unknown, depth: number, ancestors: object[]): boolean {
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return true;
    case 'function':
    case 'symbol':
      return false;
  }
  if (value === null || value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (depth > MAX_DEPTH) return false;
  const obj = value as object;
  if (ancestors.includes(obj)) return false;
  ancestors.push(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) if (!encodable(obj[i], depth + 1, ancestors)) return false;
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) if (k === '__proto__' || !encodable(v, depth + 1, ancestors)) return false;
    } else if (obj instanceof Set) {
      for (const v of obj) if (!encodable(v, depth + 1, ancestors)) return false;
    } else {
      for (const key of Object.keys(obj)) {
        if (key === '__proto__' || !encodable((obj as Record<string, unknown>)[key], depth + 1, ancestors)) return false;
      }
    }
  } finally {
    ancestors.pop();
  }
  return true;
}

/**
 * Encodes a payload or result with msgpack, refusing what would not survive the trip and
 * anything larger than `maxBytes`.
 *
 * @param what names the value in error messages ('payload', 'result').
 * @param limit names the limit in error messages (the option that sets it).
 */
export function encodeChecked(value: unknown, maxBytes: number, what = 'payload', limit = '`maxPayloadBytes`'): Buffer {
  let problem: string | undefined;
  try {
    // The fast walk first; the one that names the problem only when there is one. A call made
    // from a getter during a walk (re-entrant) gets an ancestors list of its own.
    const outer = walking;
    const ancestors = outer ? [] : shared;
    walking = true;
    let ok: boolean;
    try {
      ok = encodable(value, 0, ancestors);
    } finally {
      walking = outer;
      if (!outer) shared.length = 0; // a walk that threw left its path behind
    }
    if (!ok) problem = findUnencodable(value, what, 0, new Set()) ?? 'it changed while it was read (a getter or Proxy)';
  } catch (cause) {
    // A getter that throws, a revoked Proxy: the value cannot be read, so it cannot be sent.
    throw new DocketError('NOT_ENCODABLE', `Cannot encode the ${what}: reading it threw ${describeThrown(cause)}`, { cause });
  }
  if (problem) throw new DocketError('NOT_ENCODABLE', `Cannot encode the ${what}: ${problem}`);
  let bytes: Buffer;
  try {
    bytes = encodeValue(value);
  } catch (cause) {
    throw new DocketError('NOT_ENCODABLE', `Cannot encode the ${what}: ${describeThrown(cause)}`, { cause });
  }
  if (bytes.length > maxBytes) {
    throw new DocketError(
      'PAYLOAD_TOO_LARGE',
      `The encoded ${what} is ${bytes.length} bytes, over ${limit} (${maxBytes})`,
    );
  }
  return bytes;
}
