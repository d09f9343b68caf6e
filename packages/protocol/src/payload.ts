import { DocketError } from './errors.js';
import { encodeValue } from './record.js';
import { describeThrown, invalid } from './validate.js';

/** The default `maxPayloadBytes`: 1 MiB of encoded payload. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * The most `maxPayloadBytes` and `maxResultBytes` may be raised to: 16 MiB. Redis runs one
 * command at a time, so every client waits while a script copies a large payload: about 5 ms
 * per MiB on a 2-core machine (BENCHMARKS.md), so 16 MiB stalls Redis about 90 ms per enqueue,
 * and again per lease. Far larger payloads stall it for seconds, long enough to break other
 * consumers' leases. Keep payloads small (a reference to a blob in object storage, not the blob).
 */
export const MAX_PAYLOAD_CEILING = 16 * 1024 * 1024;

/** Validates `maxPayloadBytes` or `maxResultBytes`: an integer from 1 to the ceiling. */
export function checkPayloadLimit(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PAYLOAD_CEILING) {
    throw invalid(
      name,
      `an integer from 1 to ${MAX_PAYLOAD_CEILING} (16 MiB: Redis serves no other client while it copies a payload, so larger ` +
        'ones would stall it for everyone; pass large data by reference, e.g. a key in object storage)',
      value,
    );
  }
  return value;
}

const MAX_DEPTH = 100;

// msgpackr renames such a key on decode (so that no decoded object gets another prototype):
// refused here rather than silently changed on the way.
const PROTO_KEY = ', which would not arrive as sent (decoders rename it to guard against prototype pollution)';

/**
 * Where the walk is: the ancestors of the value being checked (for cycles) and the path to it,
 * as pairs of a segment kind and its key or index. The path is only turned into text when a
 * problem is found, so the common case (every enqueue) builds no string per field.
 */
interface Walk {
  what: string;
  ancestors: object[];
  path: (number | string | unknown)[];
}
const KEY = 0;
const INDEX = 1;
const MAP_KEY = 2;
const SET_ITEM = 3;

function at(walk: Walk): string {
  let text = walk.what;
  for (let i = 0; i < walk.path.length; i += 2) {
    const kind = walk.path[i];
    const key = walk.path[i + 1];
    if (kind === KEY) text += `.${String(key)}`;
    else if (kind === INDEX) text += `[${String(key)}]`;
    else if (kind === MAP_KEY) text += `.get(${String(key)})`;
    else text += `<set item ${String(key)}>`;
  }
  return text;
}

/** Checks the child `value` at (kind, key) of the current path. */
function child(value: unknown, kind: number, key: unknown, depth: number, walk: Walk): string | undefined {
  walk.path.push(kind, key);
  const found = findUnencodable(value, depth, walk);
  walk.path.length -= 2;
  return found;
}

/**
 * msgpackr quietly turns functions and symbols into nothing useful and overflows on cycles, so
 * values are checked first. What crosses is data: class instances arrive as plain objects,
 * Sets as arrays and Maps as plain objects; Dates, Buffers, typed arrays and bigints (of any
 * size) survive.
 */
function findUnencodable(value: unknown, depth: number, walk: Walk): string | undefined {
  switch (typeof value) {
    case 'function':
      return `${at(walk)} is a function`;
    case 'symbol':
      return `${at(walk)} is a symbol`;
    case 'number':
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return undefined;
  }
  if (value === null || value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined;
  if (depth > MAX_DEPTH) return `${at(walk)} is nested more than ${MAX_DEPTH} levels deep`;
  const obj = value as object;
  if (walk.ancestors.includes(obj)) return `${at(walk)} refers back to itself (a cycle)`;
  walk.ancestors.push(obj);
  const pathLength = walk.path.length;
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const found = child(obj[i], INDEX, i, depth + 1, walk);
        if (found) return found;
      }
    } else if (obj instanceof Map) {
      for (const [k, v] of obj) {
        if (k === '__proto__') return `${at(walk)} has the key "__proto__"${PROTO_KEY}`;
        const found = child(v, MAP_KEY, k, depth + 1, walk);
        if (found) return found;
      }
    } else if (obj instanceof Set) {
      let i = 0;
      for (const v of obj) {
        const found = child(v, SET_ITEM, i++, depth + 1, walk);
        if (found) return found;
      }
    } else {
      for (const key of Object.keys(obj)) {
        if (key === '__proto__') return `${at(walk)} has an own key "__proto__"${PROTO_KEY}`;
        const found = child((obj as Record<string, unknown>)[key], KEY, key, depth + 1, walk);
        if (found) return found;
      }
    }
  } finally {
    walk.ancestors.pop();
    walk.path.length = pathLength; // also when a getter threw below
  }
  return undefined;
}

/** The walk's state, reused by every call; a call made from a getter during a walk (re-entrant) gets its own. */
const shared: Walk = { what: '', ancestors: [], path: [] };
let walking = false;

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
    const outer = walking;
    const walk = outer ? { what, ancestors: [], path: [] } : shared;
    walk.what = what;
    walking = true;
    try {
      problem = findUnencodable(value, 0, walk);
    } finally {
      walking = outer;
      if (!outer) shared.ancestors.length = shared.path.length = 0; // a walk that threw left its path behind
    }
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
