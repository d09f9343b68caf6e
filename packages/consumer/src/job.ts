import type { QueueDefinition } from '@docket/protocol';

/** A job as its handler sees it. */
export interface Job<Payload = unknown> {
  readonly id: string;
  /** The queue's name. */
  readonly queue: string;
  readonly payload: Payload;
  /** This try's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  /** Epoch ms when the job was enqueued. */
  readonly createdAt: number;
  /** The fencing token of this try's lease. */
  readonly token: number;
}

export interface HandlerContext {
  /**
   * Fires when the try must stop: its `timeout` passed (TIMEOUT), the job was cancelled
   * (CANCELLED), its lease was lost to another consumer (LEASE_LOST), or the consumer is
   * closing and hands the job to another consumer (CLOSED). `signal.reason` is a DocketError
   * with that code.
   */
  signal: AbortSignal;
  /** Reports progress (a number or a small object); emitted as the consumer's 'progress' event. */
  progress(value: unknown): void;
}

export type PayloadOf<Q> = Q extends QueueDefinition<infer P, unknown> ? P : never;
export type ResultOf<Q> = Q extends QueueDefinition<unknown, infer R> ? R : never;

/** Runs one try of a job. Return the result to complete it; throw (or reject) to fail the try. */
export type Handler<Q extends QueueDefinition = QueueDefinition> = (
  job: Job<PayloadOf<Q>>,
  context: HandlerContext,
) => Promise<ResultOf<Q>> | ResultOf<Q>;
