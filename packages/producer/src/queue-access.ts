// The producer's way to a queue: its keys and scripts, and the meta check done once per queue
// (protocol version, strategy, events), all behind a usable connection.
import type { QueueDefinition } from '@docket/protocol';
import { type QueueKeys, type RedisClient, ensureQueueMeta, queueKeyList, queueKeys, waitForConnection } from '@docket/protocol/internal';
import { type ProducerScripts, producerScripts } from './scripts.js';

/** A queue as the producer uses it. */
export interface QueueState {
  keys: QueueKeys;
  keyList: string[];
  scripts: ProducerScripts;
  /** The meta check, once it is under way or done (undefined to try again after a failure). */
  ready: Promise<void> | undefined;
  /** K_CALLS entries of enqueue calls whose replies arrived, confirmed by the next call. */
  calls: string[];
}

/**
 * Queues whose state a producer keeps at most. Per-tenant queue names can make a web app use an
 * unbounded number of queues; past this many, the least recently used one is forgotten (its
 * next call checks its meta again: one more round trip, once). About 2.5 KB each.
 */
export const MAX_QUEUE_STATES = 1_000;

export class QueueAccess {
  readonly client: RedisClient;
  readonly #prefix: string;
  readonly #connectTimeout: number;
  readonly #queues = new Map<string, QueueState>();
  /** The wait for a usable connection, shared by every call made meanwhile. */
  #connecting: Promise<void> | undefined;

  constructor(client: RedisClient, prefix: string, connectTimeout: number) {
    this.client = client;
    this.#prefix = prefix;
    this.#connectTimeout = connectTimeout;
  }

  /**
   * The queue's state once its meta is checked. Without a usable connection, waits for one
   * first (at most connectTimeout): ioredis alone would queue the call and retry for long with
   * no word about the cause.
   */
  ready(queue: QueueDefinition): Promise<QueueState> {
    if (this.client.status !== 'ready') {
      this.#connecting ??= waitForConnection(this.client, this.#connectTimeout).finally(() => (this.#connecting = undefined));
      return this.#connecting.then(() => this.#readyQueue(queue));
    }
    return this.#readyQueue(queue);
  }

  #readyQueue(queue: QueueDefinition): Promise<QueueState> {
    let state = this.#queues.get(queue.name);
    if (state) {
      // Most recently used last (a Map keeps insertion order), so the first is the one to forget.
      this.#queues.delete(queue.name);
    } else {
      const keys = queueKeys(this.#prefix, queue.name);
      state = { keys, keyList: queueKeyList(keys), scripts: producerScripts(queue.strategy), ready: undefined, calls: [] };
      if (this.#queues.size >= MAX_QUEUE_STATES) this.#queues.delete(this.#queues.keys().next().value as string);
    }
    this.#queues.set(queue.name, state);
    const current = state;
    current.ready ??= ensureQueueMeta(this.client, current.keys, queue).catch((err: unknown) => {
      current.ready = undefined; // try again on the next call
      throw err;
    });
    return current.ready.then(() => current);
  }

  /** Forgets every queue (on close). */
  clear(): void {
    this.#queues.clear();
  }
}
