// The consumer's three Redis connections, made from the `connection` option: commands (steps,
// renewals, progress), the blocking wait for work, and the cancellation subscriber. A client
// passed in is duplicated, never reconfigured; docket closes only what it opened.
import type { ConnectionInput } from '@docket/protocol';
import {
  type RedisClient,
  openConnection,
  redisError,
  waitForConnection,
} from '@docket/protocol/internal';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { inflightGuard } from './inflight.js';
import { dropConnection, watchdog } from './watchdog.js';
import type { Logger } from './options.js';

/** ms the command connection may leave calls unanswered (no reply at all) before it is presumed dead. */
const STALL_AFTER_MS = 10_000;

/**
 * The command and blocking connections reconnect forever, but queue nothing while disconnected
 * and replay nothing after a reconnect: a replayed fetch would lease jobs twice. Calls made
 * during an outage fail at once and the loop retries them; calls in flight when the connection
 * drops are failed by the in-flight guard.
 */
const COMMAND_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: null,
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
  enableAutoPipelining: false,
};

/** Subscribing is idempotent (and redone after a reconnect), so the subscriber may queue and resend. */
const SUBSCRIBER_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: null,
  enableAutoPipelining: false,
  enableOfflineQueue: true,
  autoResendUnfulfilledCommands: true,
};

type Guard = <T>(call: Promise<T>) => Promise<T>;

/** Subscribe commands carry at most this many channels each. */
const SUBSCRIBE_BATCH = 1_000;
/** ms between the subscriber's pings, and ms a ping may go unanswered before the connection is replaced. */
const SUBSCRIBER_PING_MS = 10_000;
const SUBSCRIBER_STALL_MS = 10_000;

/**
 * The subscriber's watchdog. A subscribed connection only receives, so a half-open one (dropped
 * without notice, e.g. by a failover) would go on waiting for messages that never come: it is
 * pinged every SUBSCRIBER_PING_MS, and replaced (ioredis reconnects and subscribes again) when a
 * ping gets no reply within SUBSCRIBER_STALL_MS. Returns the function that stops it.
 */
function watchSubscriber(subscriber: Redis, onError: (err: Error) => void): () => void {
  let cancelWatchdog: (() => void) | undefined;
  const timer = setInterval(() => {
    if (subscriber.status !== 'ready' || cancelWatchdog) return;
    cancelWatchdog = watchdog(SUBSCRIBER_STALL_MS, () => {
      cancelWatchdog = undefined;
      onError(
        new Error(
          `No reply from Redis to the cancellation subscriber's ping within ${SUBSCRIBER_STALL_MS.toLocaleString('en-US')} ms: ` +
            'the connection is presumed dead (half-open) and is replaced by a new one',
        ),
      );
      dropConnection(subscriber);
    });
    subscriber.ping().then(
      () => {
        cancelWatchdog?.();
        cancelWatchdog = undefined;
      },
      () => {
        // A failed ping means the connection closed: ioredis reconnects by itself.
        cancelWatchdog?.();
        cancelWatchdog = undefined;
      },
    );
  }, SUBSCRIBER_PING_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    cancelWatchdog?.();
  };
}

/** A new connection like `client`, with `overrides` (for a Cluster: on every node). */
function duplicate(client: RedisClient, overrides: RedisOptions): RedisClient {
  if ((client as Cluster).isCluster) {
    const cluster = client as Cluster;
    return cluster.duplicate(undefined, { redisOptions: { ...cluster.options.redisOptions, ...overrides } });
  }
  return (client as Redis).duplicate(overrides);
}

export class Connections {
  /** Steps, renewals, progress: every call goes through `guard`. */
  client: RedisClient | undefined;
  /** The blocking wait for work (BLPOP on wake keys and the inbox). */
  blocking: Redis | undefined;
  /** Cancellation messages. */
  subscriber: Redis | undefined;
  #stopSubscriberWatch: (() => void) | undefined;
  /** Fails a call whose reply was lost with its connection; replaces a half-open connection. */
  guard: Guard = (call) => call;
  /** The same for the blocking connection (whose own watchdog handles silence). */
  guardBlocking: Guard = (call) => call;

  /**
   * Opens the command connection and waits until it is usable; `onError` gets the connection
   * errors ioredis reports along the way. Rejects (and closes it) as waitForConnection does.
   */
  async openCommands(input: ConnectionInput, timeout: number, onError: (err: Error) => void): Promise<RedisClient> {
    const given = openConnection(input, {}, COMMAND_OPTIONS);
    const client = given.owned ? given.client : duplicate(given.client, COMMAND_OPTIONS);
    this.client = client;
    client.on('error', onError);
    // A half-open connection answers nothing and never closes: the guard replaces it.
    this.guard = inflightGuard(client, { stallAfter: STALL_AFTER_MS });
    try {
      await waitForConnection(client, timeout);
    } catch (err) {
      client.disconnect();
      throw err;
    }
    return client;
  }

  /** Opens the blocking connection, a copy of the command connection's settings. */
  async openBlocking(timeout: number, onError: (err: Error) => void): Promise<void> {
    const blocking = duplicate(this.client as RedisClient, COMMAND_OPTIONS) as Redis;
    this.blocking = blocking;
    blocking.on('error', onError);
    this.guardBlocking = inflightGuard(blocking);
    await waitForConnection(blocking, timeout);
  }

  /**
   * Opens the subscriber and subscribes to `channels`; messages go to `onMessage`. ioredis
   * subscribes again after a reconnect; `onResubscribed` is called then (messages published
   * meanwhile are lost).
   */
  async openSubscriber(
    channels: string[],
    timeout: number,
    onError: (err: Error) => void,
    onMessage: (channel: string, message: string) => void,
    onResubscribed: () => void,
  ): Promise<void> {
    const subscriber = duplicate(this.client as RedisClient, SUBSCRIBER_OPTIONS) as Redis;
    this.subscriber = subscriber;
    subscriber.on('error', onError);
    subscriber.on('message', onMessage);
    try {
      await waitForConnection(subscriber, timeout);
      // Many queues mean many channels: subscribed in batches, far below any argument limit.
      for (let i = 0; i < channels.length; i += SUBSCRIBE_BATCH) await subscriber.subscribe(...channels.slice(i, i + SUBSCRIBE_BATCH));
    } catch (err) {
      throw redisError(err, 'Subscribing to cancellations');
    }
    subscriber.on('ready', onResubscribed);
    this.#stopSubscriberWatch = watchSubscriber(subscriber, onError);
  }

  /** Warns when Redis may evict job data (maxmemory-policy other than noeviction). */
  async checkRedisConfig(logger: Logger): Promise<void> {
    try {
      const reply = (await this.guard((this.client as RedisClient).config('GET', 'maxmemory-policy'))) as string[];
      const policy = reply[1];
      if (policy !== undefined && policy !== 'noeviction') {
        logger.warn(
          `[docket] Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict job data and lose jobs. ` +
            "Set 'maxmemory-policy noeviction' on the Redis that holds docket's queues.",
        );
      }
    } catch (err) {
      // CONFIG may be disabled (managed Redis) or denied (an ACL user without +config|get,
      // which would also reveal secrets such as requirepass): nothing to check then.
      logger.debug?.(
        `[docket] Could not read Redis maxmemory-policy (${err instanceof Error ? err.message : String(err)}); ` +
          "skipping the check: make sure it is 'noeviction'.",
      );
    }
  }

  /**
   * Ends the blocking connection at once. `disconnect()` alone half-closes a socket that is
   * blocked in BLPOP, and ioredis only destroys it after a 2 s timer that keeps the process
   * alive after close() has resolved.
   */
  dropBlocking(): void {
    const blocking = this.blocking;
    if (!blocking) return;
    blocking.disconnect();
    (blocking as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }

  /** Drops every connection at once (a start that failed or was interrupted). */
  dropAll(): void {
    this.#stopSubscriberWatch?.();
    this.subscriber?.disconnect();
    this.dropBlocking();
    this.client?.disconnect();
  }

  /** The orderly end: the subscriber and blocking connections go, the command connection quits. */
  async close(): Promise<void> {
    this.#stopSubscriberWatch?.();
    this.subscriber?.disconnect();
    try {
      // Guarded: on a half-open connection QUIT would wait forever.
      if (this.client) await this.guard(this.client.quit());
    } catch {
      this.client?.disconnect();
    }
  }
}
