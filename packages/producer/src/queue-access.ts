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
}

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
    if (!state) {
      const keys = queueKeys(this.#prefix, queue.name);
      state = { keys, keyList: queueKeyList(keys), scripts: producerScripts(queue.strategy), ready: undefined };
      this.#queues.set(queue.name, state);
    }
    const current = state;
    current.ready ??= ensureQueueMeta(this.client, current.keys, queue).catch((err: unknown) => {
      current.ready = undefined; // try again on the next call
      throw err;
    });
    return current.ready.then(() => current);
  }
}
