import { type JobState, decodeRecord, decodeValue } from '@docket/protocol';

/** A snapshot of a job, as `getJob` returns it. */
export interface JobInfo<Payload = unknown> {
  id: string;
  queue: string;
  state: JobState;
  /** Tries started so far. */
  attempts: number;
  maxAttempts: number;
  priority: number;
  payload: Payload;
  /** The last failed try's error message. */
  error?: string;
  timestamps: {
    created: number;
    /** When the latest try started. */
    started?: number;
    finished?: number;
    /** When the job became (or becomes) due after a delay or backoff. */
    runAt?: number;
  };
}

export function toJobInfo<Payload>(queue: string, id: string, record: Buffer): JobInfo<Payload> {
  const { header, payload } = decodeRecord(record, id);
  const info: JobInfo<Payload> = {
    id,
    queue,
    state: header.state,
    attempts: header.attempt,
    maxAttempts: header.maxAttempts,
    priority: header.priority,
    payload: decodeValue(payload) as Payload,
    timestamps: { created: header.createdAt },
  };
  if (header.error !== undefined) info.error = header.error;
  if (header.startedAt) info.timestamps.started = header.startedAt;
  if (header.finishedAt) info.timestamps.finished = header.finishedAt;
  if (header.runAt) info.timestamps.runAt = header.runAt;
  return info;
}
