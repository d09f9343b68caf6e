import { DocketError, type JobState, isDocketError } from '@docket/protocol';
import { decodeRecord, decodeValue } from '@docket/protocol/internal';

/** A snapshot of a job, as `getJob` returns it. */
export interface JobInfo<Payload = unknown, Result = unknown> {
  id: string;
  queue: string;
  state: JobState;
  /** Tries started so far. */
  attempts: number;
  maxAttempts: number;
  priority: number;
  /** undefined for a dead job whose payload could not be decoded (its `error` says why). */
  payload: Payload;
  /** The last failed try's error message. */
  error?: string;
  /** The handler's return value, for a completed job. */
  result?: Result;
  /** The latest value the handler passed to `progress()`. */
  progress?: unknown;
  timestamps: {
    created: number;
    /** When the latest try started. */
    started?: number;
    finished?: number;
    /** When the job became (or becomes) due after a delay or backoff. */
    runAt?: number;
  };
}

export function toJobInfo<Payload, Result = unknown>(
  queue: string,
  id: string,
  record: Buffer,
  result?: Buffer | null,
  progress?: Buffer | null,
): JobInfo<Payload, Result> {
  const { header, payload: bytes } = decodeRecord(record, id);
  let payload: unknown;
  try {
    payload = decodeValue(bytes);
  } catch (cause) {
    // A job buried because its payload could not be decoded is still worth showing: its
    // error says why. Anywhere else, undecodable bytes are corruption to report.
    if (header.state !== 'dead') {
      const reason = ((cause as Error).cause as Error | undefined)?.message ?? (cause as Error).message;
      throw new DocketError('CORRUPT_RECORD', `the payload of job "${id}" cannot be decoded: ${reason}`, {
        cause,
        jobId: id,
        queue,
      });
    }
  }
  const info: JobInfo<Payload, Result> = {
    id,
    queue,
    state: header.state,
    attempts: header.attempt,
    maxAttempts: header.maxAttempts,
    priority: header.priority,
    payload: payload as Payload,
    timestamps: { created: header.createdAt },
  };
  if (header.error !== undefined) info.error = header.error;
  if (header.startedAt) info.timestamps.started = header.startedAt;
  if (header.finishedAt) info.timestamps.finished = header.finishedAt;
  if (header.runAt) info.timestamps.runAt = header.runAt;
  if (result) info.result = decodeStored(result, 'result', id, queue) as Result;
  if (progress) info.progress = decodeStored(progress, 'progress value', id, queue);
  return info;
}

/** Decodes a stored result or progress value; bytes that are not msgpack name the job. */
function decodeStored(bytes: Buffer, what: string, id: string, queue: string): unknown {
  try {
    return decodeValue(bytes);
  } catch (cause) {
    const reason = ((cause as Error).cause as Error | undefined)?.message ?? (cause as Error).message;
    throw new DocketError('CORRUPT_RECORD', `the ${what} of job "${id}" cannot be decoded: ${reason}`, { cause, jobId: id, queue });
  }
}

/**
 * A job of the dead set for `listDead`. A record damaged after the job died cannot be decoded:
 * it is listed with what is known (its id, that it is dead, why it cannot be read) instead of
 * making the whole list fail, so that it can still be found and purged.
 */
export function deadJobInfo<Payload>(queue: string, id: string, record: Buffer): JobInfo<Payload> {
  try {
    return toJobInfo<Payload>(queue, id, record);
  } catch (err) {
    if (!isDocketError(err, 'CORRUPT_RECORD')) throw err;
    return {
      id,
      queue,
      state: 'dead',
      attempts: 0,
      maxAttempts: 0,
      priority: 0,
      payload: undefined as Payload,
      error: err.message,
      timestamps: { created: 0 },
    };
  }
}
