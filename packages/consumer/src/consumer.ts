import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DocketError, type QueueDefinition } from '@docket/protocol';
import {
  MAX_TIMER_MS,
  type RedisClient,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  ensureQueueMeta,
  inboxKey,
  queueKeyList,
  queueKeys,
} from '@docket/protocol/internal';
import { Cancellations } from './cancellation.js';
import { Connections } from './connections.js';
import { FetchLoop } from './fetch-loop.js';
import { LoopWatch } from './lag.js';
import { LeaseKeeper } from './lease-keeper.js';
import { type ConsumerEvents, Notices } from './notices.js';
import { type ConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from './options.js';
import { PushDelivery } from './push-delivery.js';
import { SandboxPool } from './sandbox.js';
import { consumerScripts } from './scripts.js';
import { shutdown } from './shutdown.js';
import { Stepper } from './step.js';
import { TryRunner } from './try-runner.js';
import type { ConsumerStatus, QueueRuntime } from './types.js';

export type { ConsumerEvents } from './notices.js';

/** Checks `options` of start()/close(): a plain object with at most `key`, an integer ms. */
function msOption(options: unknown, key: string, fallback: number, min: number): number {
  const o = checkPlainObject('options', options);
  checkKnownKeys('options', o, [key]);
  return o[key] === undefined ? fallback : checkInteger(key, o[key], min, MAX_TIMER_MS);
}

/**
 * The worker runtime: leases jobs from its queues, runs them with the handler (at most
 * `concurrency` at once), renews their leases, reports outcomes, retries with backoff, and
 * shuts down without losing a job. Its parts: connections.ts, fetch-loop.ts (with step.ts and
 * push-delivery.ts), try-runner.ts, lease-keeper.ts, cancellation.ts and shutdown.ts.
 *
 * @example
 * const consumer = new Consumer({ connection: process.env.REDIS_URL, queues: [emails], concurrency: 50,
 *   handler: async (job, { signal }) => sendEmail(job.payload, { signal }) });
 * consumer.on('dead', (job, err) => log.error({ id: job.id, err }));
 * await consumer.start();
 */
export class Consumer<Q extends QueueDefinition = QueueDefinition> extends EventEmitter<ConsumerEvents> {
  readonly #opts: ResolvedConsumerOptions;
  readonly #queues: QueueRuntime[];
  #status: ConsumerStatus = 'new';
  readonly #notices: Notices;
  readonly #conn = new Connections();
  readonly #tries: TryRunner;
  readonly #cancellations: Cancellations;
  readonly #push: PushDelivery | undefined;
  readonly #stepper: Stepper;
  readonly #loop: FetchLoop;
  readonly #keeper: LeaseKeeper;
  #pool: SandboxPool | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ConsumerOptions<Q>) {
    super();
    const opts = (this.#opts = resolveConsumerOptions(options));
    const status = () => this.#status;
    this.#queues = opts.queues.map((def, index) => {
      const keys = queueKeys(opts.prefix, def.name);
      const scripts = consumerScripts(def.strategy);
      return { def, keys, keyList: queueKeyList(keys), ...scripts, reports: [], housekeptAt: Number.NEGATIVE_INFINITY, inbox: undefined, index, received: [] };
    });
    // Names this consumer in Redis: its push registration and inbox, the calls it leased under.
    const id = randomBytes(12).toString('base64url');
    // Push delivery for a consumer of one queue: an enqueue into the empty queue leases the job
    // to this consumer and pushes it to its inbox while it is registered as idle. The
    // registration is per queue, and so are the slots it promises.
    const only = this.#queues.length === 1 ? this.#queues[0] : undefined;
    if (only) {
      only.inbox = inboxKey(only.keys, id);
      this.#push = new PushDelivery(only, opts.pollInterval);
    }
    this.#notices = new Notices(this, opts.logger, opts.leaseDuration, status);
    this.#tries = new TryRunner(opts, this.#notices, {
      running: () => this.#status === 'running',
      pool: () => this.#pool,
      takeEarlyCancel: (lease) => this.#cancellations.takeEarly(lease),
      reported: (rt) => this.#loop.reported(rt),
      wake: () => this.#loop.wake(),
      sendProgress: (lease, value) =>
        this.#conn.guard(lease.rt.progress.run(this.#conn.client as RedisClient, lease.rt.keyList, [lease.job.id, lease.job.token, value])),
    });
    this.#cancellations = new Cancellations(this.#tries.running, (lease) => this.#tries.cancelRequested(lease));
    this.#stepper = new Stepper(opts, this.#conn, this.#tries, this.#push, id);
    this.#loop = new FetchLoop({
      opts,
      queues: this.#queues,
      conn: this.#conn,
      stepper: this.#stepper,
      tries: this.#tries,
      push: this.#push,
      notices: this.#notices,
      status,
    });
    this.#keeper = new LeaseKeeper(this.#conn, this.#tries, this.#notices, opts.leaseDuration);
  }

  /** Jobs whose handler is running right now. */
  get activeCount(): number {
    return this.#tries.running.size;
  }

  /**
   * Connects, checks each queue's meta (protocol version and strategy), warns about unsafe
   * Redis settings, and starts fetching. Rejects with `CONNECTION_FAILED` if Redis cannot be
   * reached within `connectTimeout` ms (default 10 s), `AUTH_FAILED` if it refuses the
   * credentials, or `QUEUE_MISMATCH` if a queue is defined differently elsewhere.
   */
  start(options: { connectTimeout?: number } = {}): Promise<void> {
    let connectTimeout: number;
    try {
      connectTimeout = msOption(options, 'connectTimeout', 10_000, 1);
    } catch (err) {
      return Promise.reject(err); // a promise-returning method reports bad arguments by rejecting
    }
    if (this.#status !== 'new') {
      return Promise.reject(new DocketError('INVALID_ARGUMENT', `start() was already called (the consumer is ${this.#status})`));
    }
    this.#status = 'starting';
    this.#starting = this.#start(connectTimeout);
    return this.#starting;
  }

  async #start(connectTimeout: number): Promise<void> {
    const conn = this.#conn;
    const onError = (err: Error) => this.#notices.redisTrouble(err, 'The Redis connection');
    try {
      const client = await conn.openCommands(this.#opts.connection, connectTimeout, onError);
      // Guarded like every call: without the offline queue and replay, a reply lost with its
      // connection would leave start() waiting forever.
      await Promise.all(this.#queues.map((rt) => conn.guard(ensureQueueMeta(client, rt.keys, rt.def))));
      await conn.checkRedisConfig(this.#opts.logger);
      if (this.#opts.sandbox) {
        const pool = new SandboxPool({ ...this.#opts.sandbox, size: this.#opts.concurrency });
        try {
          await pool.start();
        } catch (err) {
          await pool.close();
          throw err;
        }
        this.#pool = pool;
      }
      // A consumer of one queue blocks on it; one of several listens to their ready channels.
      if (!this.#loop.listens) await conn.openBlocking(connectTimeout, onError);
      // close() was called while connecting: it waits for this, then closes.
      if (this.#status !== 'starting') return;
      // Cancellation of running jobs arrives over pub/sub (lease renewal backs it up), and so do
      // the ready signals of a consumer of several queues.
      const channels = this.#queues.map((rt) => rt.keys.cancelChannel);
      const ready = new Map(this.#loop.listens ? this.#queues.map((rt) => [rt.keys.readyChannel, rt.index]) : []);
      const onMessage = (channel: string, message: string) => {
        const index = ready.get(channel);
        if (index === undefined) this.#cancellations.onMessage(channel, message);
        else this.#loop.signal(index);
      };
      // After a reconnect, signals sent meanwhile are lost: every queue may have work.
      await conn.openSubscriber([...channels, ...ready.keys()], connectTimeout, onError, onMessage, () => this.#loop.signalAll());
    } catch (err) {
      this.#status = 'closed';
      conn.dropAll();
      await this.#pool?.close();
      throw err;
    }
    this.#keeper.start();
    this.#notices.loopWatch = new LoopWatch({ leaseDuration: this.#opts.leaseDuration, warn: (m) => this.#opts.logger.warn(m) });
    this.#notices.loopWatch.start();
    this.#status = 'running';
    this.#loop.start();
  }

  /**
   * Stops fetching, waits up to `timeout` ms for running tries to finish, then releases the
   * rest: their handlers' signals abort and the jobs go back to waiting at once, with no
   * attempt counted, for another consumer to run. Resolves when every outcome is in Redis.
   * It never waits for a handler beyond `timeout`, even one that never settles; a try that
   * had already timed out or been cancelled is reported as such rather than released.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    let timeout: number;
    try {
      timeout = msOption(options, 'timeout', 10_000, 0);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closing ??= this.#close(timeout);
    return this.#closing;
  }

  async #close(timeout: number): Promise<void> {
    const was = this.#status;
    this.#status = 'closing';
    if (was === 'starting') {
      // Let start() finish connecting (it sees 'closing' and starts nothing), then let go.
      await this.#starting?.catch(() => {});
      this.#conn.dropAll();
      await this.#pool?.close();
      this.#status = 'closed';
      return;
    }
    if (was !== 'running') {
      this.#status = 'closed';
      return;
    }
    await shutdown(
      {
        conn: this.#conn,
        loop: this.#loop,
        stepper: this.#stepper,
        tries: this.#tries,
        push: this.#push,
        keeper: this.#keeper,
        notices: this.#notices,
        pool: () => this.#pool,
        setStatus: (status) => (this.#status = status),
      },
      timeout,
    );
  }
}
