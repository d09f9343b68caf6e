// What the server and the workers tell the driver over IPC (types only).
import type { DocketErrorCode } from '@docket/protocol';

/** The server is up: requests go to `url`. */
export interface ListeningMessage {
  type: 'listening';
  url: string;
}

/** A worker has started its consumer. */
export interface ReadyMessage {
  type: 'ready';
  worker: string;
}

/** A worker has closed its consumer: every outcome message before this one has been sent. */
export interface ClosedMessage {
  type: 'closed';
  worker: string;
}

export type OutcomeType = 'completed' | 'retrying' | 'dead' | 'cancelled';

/** One try's outcome, sent once Redis has accepted it. */
export interface OutcomeMessage {
  type: OutcomeType;
  worker: string;
  queue: string;
  id: string;
  attempt: number;
  /** The payload's stamp (set by the server), else the job's creation time. */
  enqueuedAt: number;
  startedAt: number;
  /** When the handler returned or threw (for a timeout or a cancellation: when it stopped). */
  stoppedAt: number;
  /** When Redis had taken the outcome. */
  finishedAt: number;
  error?: string;
  /** TIMEOUT, CANCELLED, CLOSED...: lets the driver tell a timed-out try from a thrown error. */
  code?: DocketErrorCode;
  result?: unknown;
}

export type ChildMessage = ListeningMessage | ReadyMessage | ClosedMessage | OutcomeMessage;

const OUTCOME_TYPES: readonly unknown[] = ['completed', 'retrying', 'dead', 'cancelled'] satisfies OutcomeType[];

export function isOutcome(message: unknown): message is OutcomeMessage {
  return typeof message === 'object' && message !== null && OUTCOME_TYPES.includes((message as { type?: unknown }).type);
}
