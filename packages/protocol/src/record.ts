import { Packr } from 'msgpackr';
import { DocketError } from './errors.js';

/**
 * Bumped whenever the record format, key layout or a script's contract changes in a way an
 * older process would misread. Recorded in every queue's meta and checked on first use.
 */
export const PROTOCOL_VERSION = 2;

/** Entries the event stream of a queue keeps (approximately: trimmed with MAXLEN ~). */
export const EVENTS_MAX_LEN = 10_000;

/** The first byte of every job record. */
export const RECORD_FORMAT = 2;

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'dead' | 'cancelled';

/** State codes as stored in the record header; keys.lua (S_*) uses the same numbers. */
export const STATE_CODES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'dead', 'cancelled'];

export type BackoffType = 'fixed' | 'exponential';

export interface Backoff {
  type: BackoffType;
  /** Base delay in ms: the fixed delay, or the first delay of an exponential backoff. */
  delay: number;
  /** Upper bound in ms for any single delay. */
  max?: number;
  /** Spread each delay randomly over [delay/2, delay] so failing jobs do not retry in lockstep. */
  jitter?: boolean;
}

/** Fields in a header array; keys.lua's H_* positions index them (from 1). */
const HEADER_FIELDS = 17;

const BACKOFF_TYPES: readonly (BackoffType | 'none')[] = ['none', 'fixed', 'exponential'];

/**
 * The mutable, Lua-readable part of a job record. Stored as a msgpack array whose positions
 * match the H_* constants of keys.lua; scripts update it in place with cmsgpack.
 */
export interface JobHeader {
  state: JobState;
  /** Tries started so far (counted when a try is fetched). */
  attempt: number;
  maxAttempts: number;
  /** Fencing token of the current or last lease; 0 before the first fetch. */
  token: number;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  /** When a delayed or retrying job becomes due (ms), 0 if it never was delayed. */
  runAt: number;
  /** ms a single try may run, 0 for no limit. */
  timeout: number;
  backoff: Backoff | undefined;
  priority: number;
  /** The last try's error message, if it failed. */
  error: string | undefined;
  /** Cancellation was requested while the job was active. */
  cancelRequested: boolean;
  /** ms the id keeps deduplicating enqueues after the job finished (0: only while it exists). */
  dedupeFor: number;
}

// Headers: plain msgpack (no record extension) so that Lua's cmsgpack can read and write them;
// cmsgpack writes timestamps as 64-bit integers, which decode to numbers where they fit.
const packr = new Packr({ useRecords: false, // 'auto' (numbers where safe, else bigint) is supported at run time but missing from the types.
  int64AsType: 'auto' as 'number', mapsAsObjects: true });

// User values (payloads, results, progress): msgpackr writes every bigint as a 64-bit integer
// (larger ones with its extension) and every JS number beyond 32 bits as a float, so decoding
// 64-bit integers as bigints gives back exactly the types that were sent.
const valuePackr = new Packr({ useRecords: false, int64AsType: 'bigint', useBigIntExtension: true, mapsAsObjects: true });

/** Encodes a payload, result or progress value (no checks: see `encodeChecked`). */
export function encodeValue(value: unknown): Buffer {
  return valuePackr.pack(value);
}

/**
 * Decodes what {@link encodeValue} wrote; throws a `CORRUPT_RECORD` DocketError for bytes that
 * are not one msgpack value. Safe on hostile bytes: a `__proto__` key arrives renamed
 * `__proto_` (msgpackr's guard), so no decoded object has another prototype.
 */
export function decodeValue(bytes: Uint8Array): unknown {
  try {
    return valuePackr.unpack(bytes);
  } catch (cause) {
    throw new DocketError('CORRUPT_RECORD', `msgpack value cannot be decoded: ${(cause as Error).message}`, { cause });
  }
}

function headerToArray(h: JobHeader): unknown[] {
  const b = h.backoff;
  return [
    STATE_CODES.indexOf(h.state),
    h.attempt,
    h.maxAttempts,
    h.token,
    h.createdAt,
    h.startedAt,
    h.finishedAt,
    h.runAt,
    h.timeout,
    BACKOFF_TYPES.indexOf(b ? b.type : 'none'),
    b ? b.delay : 0,
    b?.max ?? 0,
    b?.jitter ? 1 : 0,
    h.priority,
    h.error ?? false,
    h.cancelRequested ? 1 : 0,
    h.dedupeFor,
  ];
}

function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new TypeError(`expected a number in the job header, got ${typeof value}`);
}

function arrayToHeader(a: unknown[]): JobHeader {
  if (a.length < HEADER_FIELDS) throw new TypeError(`job header has ${a.length} fields, expected ${HEADER_FIELDS}`);
  const state = STATE_CODES[num(a[0])];
  if (state === undefined) throw new TypeError(`unknown job state code ${String(a[0])}`);
  const backoffType = BACKOFF_TYPES[num(a[9])];
  if (backoffType === undefined) throw new TypeError(`unknown backoff code ${String(a[9])}`);
  const backoff: Backoff | undefined =
    backoffType === 'none'
      ? undefined
      : { type: backoffType, delay: num(a[10]), ...(num(a[11]) > 0 ? { max: num(a[11]) } : {}), jitter: num(a[12]) === 1 };
  return {
    state,
    attempt: num(a[1]),
    maxAttempts: num(a[2]),
    token: num(a[3]),
    createdAt: num(a[4]),
    startedAt: num(a[5]),
    finishedAt: num(a[6]),
    runAt: num(a[7]),
    timeout: num(a[8]),
    backoff,
    priority: num(a[13]),
    error: typeof a[14] === 'string' ? a[14] : undefined,
    cancelRequested: num(a[15]) === 1,
    dedupeFor: num(a[16]),
  };
}

/** Bytes before the msgpack part: format byte, the fixed block (see below), its 2-byte length. */
const PREFIX_LENGTH = 27;
/** Positions (in headerToArray's order) of the fields kept in the msgpack part. */
const COLD_FIELDS = [2, 4, 7, 8, 9, 10, 11, 12, 13, 14, 16] as const;
const FLAG_CANCEL = 1;
const FLAG_DEDUPE = 2;

/**
 * A record is: one format byte; a fixed block of the fields that change on every lease and ack
 * (state u8, flags u8 (1 cancellation requested, 2 has a dedupeFor), attempt u32, token u48,
 * startedAt u48, finishedAt u48, big-endian), which scripts read and patch without decoding
 * anything; a 2-byte length and a msgpack array of the other fields; then the payload exactly
 * as encoded. Lua rewrites only the parts before the payload; the payload bytes pass through
 * untouched, so any msgpackr type survives. record.lua reads the same layout.
 */
export function encodeRecord(header: JobHeader, payload: Uint8Array): Buffer {
  const head = encodeRecordHead(header);
  return Buffer.concat([head, payload], head.length + payload.length);
}

/**
 * The part of a record before the payload: a record is this followed by the payload bytes, so
 * jobs with equal headers can share one encoding.
 */
export function encodeRecordHead(header: JobHeader): Buffer {
  const all = headerToArray(header);
  const cold = packr.pack(COLD_FIELDS.map((i) => all[i]));
  if (cold.length > 0xffff) throw new DocketError('NOT_ENCODABLE', 'job header is larger than 64 KiB');
  const out = Buffer.allocUnsafe(PREFIX_LENGTH + cold.length);
  out[0] = RECORD_FORMAT;
  out[1] = all[0] as number;
  out[2] = (header.cancelRequested ? FLAG_CANCEL : 0) | (header.dedupeFor > 0 ? FLAG_DEDUPE : 0);
  out.writeUInt32BE(header.attempt, 3);
  out.writeUIntBE(header.token, 7, 6);
  out.writeUIntBE(header.startedAt, 13, 6);
  out.writeUIntBE(header.finishedAt, 19, 6);
  out.writeUInt16BE(cold.length, 25);
  out.set(cold, PREFIX_LENGTH);
  return out;
}

export interface DecodedRecord {
  header: JobHeader;
  /** The payload bytes, still encoded: decode them with {@link decodeValue}. */
  payload: Buffer;
}

/**
 * The last msgpack part decoded, and its values. Jobs enqueued together without options share
 * these bytes (the producer encodes them once per millisecond), so a consumer leasing a batch
 * decodes them once instead of once per job. The values are only read, never changed.
 */
let lastCold: Buffer | undefined;
let lastColdValues: unknown[] = [];

function decodeCold(bytes: Buffer, coldLength: number): unknown[] {
  const end = PREFIX_LENGTH + coldLength;
  if (lastCold !== undefined && lastCold.length === coldLength && lastCold.compare(bytes, PREFIX_LENGTH, end) === 0) return lastColdValues;
  const cold: unknown = packr.unpack(bytes.subarray(PREFIX_LENGTH, end));
  if (!Array.isArray(cold) || cold.length < COLD_FIELDS.length) throw new TypeError('job header is not an array of its fields');
  lastCold = Buffer.from(bytes.subarray(PREFIX_LENGTH, end)); // a copy: the record's buffer may be reused
  lastColdValues = cold;
  return cold;
}

/** Splits and decodes a record's header; throws a `CORRUPT_RECORD` DocketError if it cannot. */
export function decodeRecord(bytes: Buffer, jobId?: string): DecodedRecord {
  try {
    if (bytes.length < PREFIX_LENGTH || bytes[0] !== RECORD_FORMAT) {
      throw new TypeError(
        bytes.length > 0 && bytes[0] !== RECORD_FORMAT ? `unknown record format byte ${String(bytes[0])}` : 'record is missing or too short',
      );
    }
    const coldLength = bytes.readUInt16BE(25);
    if (bytes.length < PREFIX_LENGTH + coldLength) throw new TypeError('record is shorter than its header length');
    const cold = decodeCold(bytes, coldLength);
    const all: unknown[] = [
      bytes[1],
      bytes.readUInt32BE(3),
      0,
      bytes.readUIntBE(7, 6),
      0,
      bytes.readUIntBE(13, 6),
      bytes.readUIntBE(19, 6),
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      false,
      (bytes[2] as number) & FLAG_CANCEL,
      0,
    ];
    for (let i = 0; i < COLD_FIELDS.length; i++) all[COLD_FIELDS[i] as number] = cold[i];
    return { header: arrayToHeader(all), payload: bytes.subarray(PREFIX_LENGTH + coldLength) };
  } catch (cause) {
    throw new DocketError('CORRUPT_RECORD', `job record cannot be decoded: ${(cause as Error).message}`, {
      cause,
      ...(jobId === undefined ? {} : { jobId }),
    });
  }
}
