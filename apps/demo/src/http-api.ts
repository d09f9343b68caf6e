// The bodies of the demo server's HTTP API (server.ts answers them, the driver reads them).
// Types only: what goes over the wire is JSON, which the driver checks as it reads it.
import type { DocketErrorCode, JobInfo, QueueCounts } from '@docket/producer';
import type { Kind } from './queues.js';

/** Every 4xx/5xx answer: a message for people, and docket's error code where the error is docket's. */
export interface ErrorBody {
  error: string;
  code?: DocketErrorCode;
}

/** POST /tasks: 201, or 200 when the id already existed (an idempotent repeat). */
export interface TaskCreated {
  /** The task id, `kind:jobId` (e.g. "email:17"), for GET and DELETE /tasks/:id. */
  id: string;
  kind: Kind;
  queue: string;
  jobId: string;
  created: boolean;
}

/**
 * POST /tasks?wait=1: the task as above, then 200 with the job's result, or 422 (the job is
 * dead or cancelled), 504 (not done within waitMs) or 503 (the server is shutting down) with
 * why not.
 */
export interface TaskWaited extends TaskCreated {
  state?: 'completed';
  result?: unknown;
  waitedMs?: number;
  error?: string;
  code?: DocketErrorCode;
}

/** POST /tasks/batch: 201. */
export interface BatchCreated {
  kind: Kind;
  queue: string;
  jobs: { id: string; jobId: string; created: boolean }[];
}

/** GET /tasks/:id: the job's snapshot, with `result` and `progress` always present (null when there is none yet). */
export type TaskSnapshot = Omit<JobInfo, 'id' | 'result' | 'progress'> & { id: string; jobId: string; result: unknown; progress: unknown };

/** DELETE /tasks/:id. */
export interface CancelAnswer {
  id: string;
  cancelled: boolean;
}

/** GET /stats: `producer.counts()` per kind. */
export type StatsAnswer = Record<string, QueueCounts & { queue: string }>;

/**
 * An answer as the driver sees it: the status, and a body in which any field may be missing
 * (an error answer has `error` and maybe `code`, and nothing checks what the server sent).
 */
export interface Answer<T> {
  status: number;
  body: Partial<T> & Partial<ErrorBody>;
}
