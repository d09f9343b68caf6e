import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type QueueDefinition, DocketError } from '@docket/protocol';
import {
  type JobHeader,
  type QueueKeys,
  type RedisClient,
  LuaScript,
  MAX_TIMER_MS,
  RECORD_LUA,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  composeLua,
  STATE_CODES,
  decodeRecord,
  decodeValue,
  describeThrown,
  encodeChecked,
  ensureQueueMeta,
  openConnection,
  inboxKey,
  queueKeyList,
  queueKeys,
  redisError,
  waitForConnection,
} from '@docket/protocol/internal';
import { getStrategy } from '@docket/scheduler';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { backoffDelay } from './backoff.js';
import { inflightGuard, outcomeUnknown } from './inflight.js';
import { LoopWatch } from './lag.js';
import { SandboxPool } from './sandbox.js';
import type { Handler, HandlerContext, Job } from './job.js';
import { type ConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from './options.js';
import progressLua from './progress.lua';
import renewLua from './renew.lua';
import stepLua from './step.lua';
import { dropConnection, watchdog } from './watchdog.js';

/** The consumer's events and their listener arguments. */
export interface ConsumerEvents {
  /** A try succeeded and the job is completed. */
  completed: [job: Job, result: unknown];
  /** A try failed (followed by 'retrying' or 'dead'). */
  failed: [job: Job, error: unknown];
  /** A failed job will run again after `delay` ms. */
  retrying: [job: Job, error: unknown, delay: number];
  /** A job ran out of attempts or cannot run at all; it stays in the dead set with its error. */
  dead: [job: Job, error: unknown];
  /** A running job was cancelled (`producer.cancel`) and its try stopped; it is not retried. */
  cancelled: [job: Job];
  /** A handler reported progress. */
  progress: [job: Job, value: unknown];
  /** Something went wrong outside a handler (Redis trouble, a lost lease). The consumer keeps going. */
  error: [error: Error];
}

type ReportKind = 'c' | 'f' | 'x' | 'r' | 'k';

interface QueueRuntime {
  def: QueueDefinition;
  keys: QueueKeys;
  keyList: string[];
  step: LuaScript;
  renew: LuaScript;
  progress: LuaScript;
  /** Reports on finished tries, sent with the next step call on this queue. */
  reports: Report[];
  /** When (client clock, ms) a step on this queue last did housekeeping (0: never). */
  housekeptAt: number;
  /** This consumer's inbox for push delivery (see step.lua), on a consumer of one queue only. */
  inbox: string | undefined;
}

/** One leased try, from fetch until Redis has taken its report (or the lease is lost). */
interface Lease {
  rt: QueueRuntime;
  job: Job;
  header: JobHeader;
  /** Created when the handler first reads `signal` (most never do): see abortTry/signalOf. */
  controller: AbortController | undefined;
  /** Why the try's signal fired (kept for a signal created after the fact). */
  abortReason: unknown;
  timer: NodeJS.Timeout | undefined;
  /** The try's outcome is decided (first of: handler settled, timeout, release). */
  reported: boolean;
  /** Another consumer owns the job now; nothing about this try may be reported. */
  lost: boolean;
  /** Why the try was stopped early (timeout or cancellation); it decides the outcome. */
  stopped: DocketError | undefined;
  /** Progress waiting to be sent (only the latest counts), and whether a send is under way. */
  progressPending: Buffer | undefined;
  progressSending: boolean;
}

interface Report {
  kind: ReportKind;
  lease: Lease;
  message: string;
  delay: number;
  error?: unknown;
  result?: unknown;
  /** The result, encoded ('' for none). */
  resultBytes: Buffer | '';
  /** Sent before in a call whose reply was lost; a refusal now most likely means it was applied. */
  resent?: boolean;
}

/**
 * Reports as step.lua's one packed argument: per report its kind (1 byte), token (6 bytes),
 * retry delay (6 bytes), then id, error message and result bytes, each after a 4-byte length.
 */
function packReports(reports: readonly Report[]): Buffer {
  let size = 0;
  for (const r of reports) {
    size += 25 + Buffer.byteLength(r.lease.job.id) + (r.message === '' ? 0 : Buffer.byteLength(r.message)) + r.resultBytes.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of reports) {
    out[at] = r.kind.charCodeAt(0);
    out.writeUIntBE(r.lease.job.token, at + 1, 6);
    out.writeUIntBE(Math.min(Math.max(0, Math.round(r.delay)), 2 ** 48 - 1), at + 7, 6);
    const idLength = out.write(r.lease.job.id, at + 17);
    out.writeUInt32BE(idLength, at + 13);
    at += 17 + idLength;
    const messageLength = r.message === '' ? 0 : out.write(r.message, at + 4);
    out.writeUInt32BE(messageLength, at);
    at += 4 + messageLength;
    out.writeUInt32BE(r.resultBytes.length, at);
    at += 4;
    if (r.resultBytes !== '') at += r.resultBytes.copy(out, at);
  }
  return out;
}

interface StepResult {
  leased: number;
  /** Jobs the step could have leased: the slots asked for plus those taken back from a registration. */
  wanted: number;
  /** ms until the next delayed job is due, Infinity if none. */
  nextDueIn: number;
}

const MAX_ERROR_LENGTH = 4096;
const MAX_PROGRESS_BYTES = 64 * 1024;
const RECENT_CANCEL_MS = 30_000;
const MAX_ROUNDS = 2;
const MAX_REPORTS = 1000;
const STATE_DEAD = STATE_CODES.indexOf('dead');
const STATE_CANCELLED = STATE_CODES.indexOf('cancelled');
/** ms past its timeout a blocking pop may stay unanswered before its connection is presumed dead. */
const BLOCK_GRACE_MS = 10_000;
/**
 * ms a registration for push delivery outlives the pop it is made for (whose timeout is at
 * most `pollInterval`): time to step and register again. A consumer killed while registered
 * holds a pushed job this much past `pollInterval`, then a housekeeping step hands it back.
 */
const REGISTRATION_GRACE_MS = 1_000;
/** ms a closing consumer waits for its pop to end after the marker before dropping the connection. */
const UNBLOCK_WAIT_MS = 1_000;
/** Popped tokens kept for confirmation while steps fail (beyond it a lost pop waits for its lease). */
const MAX_RECEIVED_TOKENS = 100_000;
/** ms a handler gets to settle after its signal aborted (timeout, cancel) before the try is reported anyway. */
const STOP_GRACE_MS = 1_000;
/** ms the command connection may leave calls unanswered (no reply at all) before it is presumed dead. */
const STALL_AFTER_MS = 10_000;

function errorMessage(error: unknown): string {
  const text = describeThrown(error); // never throws, whatever the handler threw
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 3)}...` : text;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Fires the try's signal (the first reason wins), or remembers it for a signal not created yet. */
function abortTry(lease: Lease, reason: unknown): void {
  if (lease.abortReason !== undefined) return;
  lease.abortReason = reason;
  lease.controller?.abort(reason);
}

/** The try's AbortSignal, created on first use (already aborted if the try was stopped). */
function signalOf(lease: Lease): AbortSignal {
  if (!lease.controller) {
    lease.controller = new AbortController();
    if (lease.abortReason !== undefined) lease.controller.abort(lease.abortReason);
  }
  return lease.controller.signal;
}

/**
 * A try's handler context. `signal` and the `progress` function are made on first read: most
 * handlers use neither, and a consumer at full speed starts tens of thousands of tries a second.
 */
class TryContext implements HandlerContext {
  declare readonly signal: AbortSignal;
  declare readonly progress: (value: unknown) => void;
  readonly #lease: Lease;
  readonly #report: (lease: Lease, value: unknown) => void;
  #progress: ((value: unknown) => void) | undefined;

  constructor(lease: Lease, report: (lease: Lease, value: unknown) => void) {
    this.#lease = lease;
    this.#report = report;
    // Own, enumerable accessors (a wrapper may pass on `{ ...context, more }`), from shared
    // descriptors: no closure per try.
    Object.defineProperties(this, TryContext.#props);
  }

  static readonly #props: PropertyDescriptorMap = {
    signal: {
      enumerable: true,
      get(this: TryContext): AbortSignal {
        return signalOf(this.#lease);
      },
    },
    progress: {
      enumerable: true,
      get(this: TryContext): (value: unknown) => void {
        const lease = this.#lease;
        const report = this.#report;
        return (this.#progress ??= (value: unknown) => report(lease, value));
      },
    },
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

/**
 * The worker runtime: leases jobs from its queues, runs them with the handler (at most
 * `concurrency` at once), renews their leases, reports outcomes, retries with backoff, and
 * shuts down without losing a job.
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
  readonly #allQueues: number[];
  #client: RedisClient | undefined;
  #blocking: Redis | undefined;
  #subscriber: Redis | undefined;
  #pool: SandboxPool | undefined;
  #guard: <T>(call: Promise<T>) => Promise<T> = (call) => call;
  #guardBlocking: <T>(call: Promise<T>) => Promise<T> = (call) => call;
  /** Tries whose handler is still running: what counts against `concurrency`. */
  readonly #running = new Set<Lease>();
  /** Tries whose lease this consumer still holds in Redis (running or awaiting their report). */
  readonly #leases = new Set<Lease>();
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #starting: Promise<void> | undefined;
  #loopDone: Promise<void> | undefined;
  #wakeLoop: (() => void) | undefined;
  #blocked = false;
  /** Slots asked for by step rounds whose reply has not arrived yet. */
  #reserved = 0;
  /** Names this consumer's registration and inbox in Redis (push delivery). */
  readonly #id = randomBytes(12).toString('base64url');
  /**
   * Slots registered in Redis for push delivery and not yet filled by a job popped from the
   * inbox: kept free, like reserved ones. A step with the consumer's id takes them back.
   */
  #pushSlots = 0;
  /** Whether Redis may hold a registration or inbox entries for this consumer. */
  #registered = false;
  /** Tokens of the jobs popped from the inbox that no step with this consumer's id has confirmed. */
  readonly #receivedTokens: number[] = [];
  /** Client time by which to step again while registered (before the registration runs out). */
  #registeredUntil = 0;
  /** A closing marker pushed to the inbox has not come back through the pop (see #close). */
  #markerLeft = false;
  #flushing: Promise<void> | undefined;
  #flushAgain = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #renewing = false;
  #closing: Promise<void> | undefined;
  /** Cancel requests for leases not (yet) running here: channel + token:id -> expiry (ms). */
  readonly #recentCancels = new Map<string, number>();
  #lastConnectionErrorAt = 0;
  /** Notices a blocked event loop, to warn and to name it when a lease is lost. */
  #loopWatch: LoopWatch | undefined;

  constructor(options: ConsumerOptions<Q>) {
    super();
    this.#opts = resolveConsumerOptions(options);
    this.#queues = this.#opts.queues.map((def) => {
      const keys = queueKeys(this.#opts.prefix, def.name);
      const strategy = getStrategy(def.strategy);
      return {
        def,
        keys,
        keyList: queueKeyList(keys),
        step: new LuaScript('step', composeLua(RECORD_LUA, strategy.lua, stepLua)),
        renew: new LuaScript('renew', composeLua(RECORD_LUA, renewLua)),
        progress: new LuaScript('progress', composeLua(RECORD_LUA, progressLua)),
        reports: [],
        housekeptAt: 0,
        inbox: undefined as string | undefined,
      };
    });
    // Push delivery for a consumer of one queue: an enqueue into the empty queue leases the job
    // to this consumer and pushes it to its inbox while it is registered as idle (step.lua).
    // The registration is per queue, and so are the slots it promises.
    const only = this.#queues.length === 1 ? this.#queues[0] : undefined;
    if (only) only.inbox = inboxKey(only.keys, this.#id);
    this.#allQueues = this.#queues.map((_, i) => i);
  }

  /** Jobs whose handler is running right now. */
  get activeCount(): number {
    return this.#running.size;
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
      const o = checkPlainObject('options', options);
      checkKnownKeys('options', o, ['connectTimeout']);
      connectTimeout = o.connectTimeout === undefined ? 10_000 : checkInteger('connectTimeout', o.connectTimeout, 1, MAX_TIMER_MS);
    } catch (err) {
      return Promise.reject(err); // a promise-returning method reports bad arguments by rejecting
    }
    if (this.#state !== 'new') {
      return Promise.reject(new DocketError('INVALID_ARGUMENT', `start() was already called (the consumer is ${this.#state})`));
    }
    this.#state = 'starting';
    this.#starting = this.#start(connectTimeout);
    return this.#starting;
  }

  async #start(connectTimeout: number): Promise<void> {
    // The consumer runs on connections of its own (a client passed in is duplicated, never
    // reconfigured). They reconnect forever, but queue nothing while disconnected and replay
    // nothing after a reconnect: a replayed fetch would lease jobs twice. Calls made during an
    // outage fail at once and the loop retries them; calls in flight when the connection
    // drops are failed by the in-flight guard.
    const overrides: RedisOptions = {
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: false,
      enableOfflineQueue: false,
      enableAutoPipelining: false,
    };
    const given = openConnection(this.#opts.connection, {}, overrides);
    const client = given.owned ? given.client : duplicate(given.client, overrides);
    this.#client = client;
    client.on('error', (err: Error) => this.#connectionError(err));
    // A half-open connection answers nothing and never closes: the guard replaces it.
    this.#guard = inflightGuard(client, { stallAfter: STALL_AFTER_MS });
    try {
      await waitForConnection(client, connectTimeout);
      // Guarded like every call: without the offline queue and replay, a reply lost with its
      // connection would leave start() waiting forever.
      await Promise.all(this.#queues.map((rt) => this.#guard(ensureQueueMeta(client, rt.keys, rt.def))));
    } catch (err) {
      this.#state = 'closed';
      client.disconnect();
      throw err;
    }
    await this.#checkRedisConfig(client);
    if (this.#opts.sandbox) {
      const pool = new SandboxPool({ ...this.#opts.sandbox, size: this.#opts.concurrency });
      try {
        await pool.start();
      } catch (err) {
        this.#state = 'closed';
        await pool.close();
        client.disconnect();
        throw err;
      }
      this.#pool = pool;
    }
    this.#blocking = duplicate(client, overrides) as Redis;
    this.#blocking.on('error', (err: Error) => this.#connectionError(err));
    this.#guardBlocking = inflightGuard(this.#blocking);
    try {
      await waitForConnection(this.#blocking, connectTimeout);
    } catch (err) {
      this.#state = 'closed';
      this.#blocking.disconnect();
      client.disconnect();
      throw err;
    }
    if (this.#state !== 'starting') {
      // close() was called while connecting: it waits for this, then closes.
      return;
    }
    // Cancellation of running jobs arrives over pub/sub (lease renewal backs it up).
    const subscriber = duplicate(client, {
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
      enableOfflineQueue: true, // subscribing is idempotent (and redone after a reconnect)
      autoResendUnfulfilledCommands: true,
    }) as Redis;
    this.#subscriber = subscriber;
    subscriber.on('error', (err: Error) => this.#connectionError(err));
    subscriber.on('message', (channel: string, id: string) => this.#onCancelMessage(channel, id));
    try {
      await waitForConnection(subscriber, connectTimeout);
      await subscriber.subscribe(...this.#queues.map((rt) => rt.keys.cancelChannel));
    } catch (err) {
      this.#state = 'closed';
      subscriber.disconnect();
      this.#dropBlocking();
      client.disconnect();
      throw redisError(err, 'Subscribing to cancellations');
    }
    const renewEvery = Math.max(50, Math.floor(this.#opts.leaseDuration / 3));
    this.#renewTimer = setInterval(() => void this.#renewLeases(), renewEvery);
    this.#loopWatch = new LoopWatch({ leaseDuration: this.#opts.leaseDuration, warn: (m) => this.#opts.logger.warn(m) });
    this.#loopWatch.start();
    this.#state = 'running';
    this.#loopDone = this.#loop();
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
      const o = checkPlainObject('options', options);
      checkKnownKeys('options', o, ['timeout']);
      timeout = o.timeout === undefined ? 10_000 : checkInteger('timeout', o.timeout, 0, MAX_TIMER_MS);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closing ??= this.#close(timeout);
    return this.#closing;
  }

  async #close(timeout: number): Promise<void> {
    const wasStarting = this.#state === 'starting';
    const wasStarted = this.#state === 'running';
    this.#state = 'closing';
    if (wasStarting) {
      // Let start() finish connecting (it sees 'closing' and starts nothing), then let go.
      await this.#starting?.catch(() => {});
      this.#subscriber?.disconnect();
      this.#dropBlocking();
      this.#client?.disconnect();
      this.#state = 'closed';
      return;
    }
    if (!wasStarted) {
      this.#state = 'closed';
      return;
    }
    this.#wakeLoop?.();
    if (this.#blocked && this.#registered) {
      // Blocked on its inbox: take the registration back (jobs already pushed come back and are
      // released below), with a marker that ends the pop at once. Dropping the connection
      // instead could lose a job that the pop had just taken (until its lease ran out).
      await this.#unregister(true);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#loopDone, new Promise<void>((resolve) => (timer = setTimeout(resolve, UNBLOCK_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.#dropBlocking();
    await this.#loopDone;
    if (this.#registered) await this.#unregister(false);
    if (this.#markerLeft) {
      // The pop ended with a job instead (or not at all): the marker is still in the inbox.
      this.#markerLeft = false;
      try {
        await this.#guard((this.#client as RedisClient).lpop(this.#queues[0]?.inbox as string));
      } catch {
        // Harmless: an inbox no one reads again; it holds one empty string.
      }
    }

    if (this.#running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const allDone = new Promise<void>((resolve) => {
        const check = () => (this.#running.size === 0 ? resolve() : (this.#wakeLoop = check));
        check();
      });
      await Promise.race([allDone, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
      clearTimeout(timer);
      this.#wakeLoop = undefined;
    }
    // Released in reverse order of start: each release goes to the front of its queue, so the
    // jobs come out again in the order they were handed out.
    for (const lease of [...this.#running].reverse()) {
      if (lease.stopped) {
        // Timed out or cancelled and still not settled: that is its outcome, not "unfinished"
        // (a handler that never settles must not come back with its attempt uncounted).
        this.#decideStopped(lease);
        continue;
      }
      abortTry(
        lease,
        new DocketError('CLOSED', `The consumer is closing; job "${lease.job.id}" goes back to waiting for another consumer`, {
          jobId: lease.job.id,
          queue: lease.job.queue,
        }),
      );
      this.#decide(lease, 'r');
    }
    // Hand every outcome to Redis, retrying while it is briefly unreachable.
    const deadline = Date.now() + Math.max(timeout, 5_000);
    for (;;) {
      try {
        await this.#flushReports();
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          this.#emitError(redisError(err, 'Reporting outcomes while closing'));
          break;
        }
        await sleep(200);
      }
    }
    clearInterval(this.#renewTimer);
    this.#loopWatch?.stop();
    this.#state = 'closed';
    this.#subscriber?.disconnect();
    await this.#pool?.close();
    try {
      // Guarded: on a half-open connection QUIT would wait forever.
      if (this.#client) await this.#guard(this.#client.quit());
    } catch {
      this.#client?.disconnect();
    }
  }

  // ---------------------------------------------------------------- fetch loop

  /**
   * Keeps up to MAX_ROUNDS step rounds in flight, so Redis runs one while this process
   * starts the jobs of the other. Each round reserves the slots it asks for until its reply
   * is in, so the consumer never holds more jobs than it has slots. It blocks only when no
   * round is in flight, the last one found nothing to lease, and no report is waiting.
   */
  async #loop(): Promise<void> {
    let failures = 0;
    let failed: unknown;
    let idle = false;
    // One round at a time until a round comes back full: a second round overlapping the first
    // pays off only with a backlog. At low load (a wake-up for a job or two) it would be a
    // wasted step call per job, with its Redis and client work.
    let single = true;
    let nextDueAt = Number.POSITIVE_INFINITY; // client time
    const inflight = new Set<Promise<void>>();
    while (this.#state === 'running') {
      if (failed !== undefined) {
        const err = failed;
        failed = undefined;
        failures++;
        this.#redisTrouble(err, 'Fetching jobs');
        await sleep(Math.min(2_000, 25 * 2 ** failures));
        continue;
      }
      const free = this.#opts.concurrency - this.#running.size - this.#reserved - this.#pushSlots;
      // Registered slots count too: a step takes them back before it leases.
      const open = free > 0 || this.#pushSlots > 0;
      if (inflight.size < (single ? 1 : MAX_ROUNDS) && ((open && !idle) || this.#hasReports())) {
        // Half the slots per round at most, so that two rounds can overlap.
        const ask = Math.max(0, Math.min(free, Math.ceil(this.#opts.concurrency / MAX_ROUNDS)));
        const round: Promise<void> = this.#round(ask).then(
          (result) => {
            failures = 0;
            // Fewer jobs than asked for: the queues are drained for now, so the loop blocks
            // instead of asking again (a job enqueued since has left a wake-up token). One
            // step per job at low load, not two.
            if (result.wanted > 0 && result.leased < result.wanted) {
              idle = true;
              single = true;
              nextDueAt = Date.now() + result.nextDueIn;
            } else if (result.leased > 0) {
              idle = false;
              single = false;
            }
          },
          (err: unknown) => {
            failed = err;
          },
        );
        inflight.add(round);
        void round.finally(() => {
          inflight.delete(round);
          this.#wakeLoop?.();
        });
        continue;
      }
      if (idle && inflight.size === 0 && open && !this.#hasReports()) {
        let delivered = false;
        try {
          // No longer than until the next delayed job is due, nor past the registration.
          const until = Math.min(nextDueAt, this.#registered ? this.#registeredUntil : Number.POSITIVE_INFINITY);
          delivered = await this.#block(Math.min(until - Date.now(), this.#opts.pollInterval));
        } catch (err) {
          if (this.#state === 'running') failed = err;
        }
        // A job pushed to the inbox: block again at once while registered slots remain (the
        // queue was empty, so there is nothing to lease), else step to register again.
        idle = delivered && this.#pushSlots > 0;
        continue;
      }
      await new Promise<void>((resolve) => (this.#wakeLoop = resolve));
      this.#wakeLoop = undefined;
    }
    await Promise.allSettled(inflight);
  }

  /** One step per queue, in the selection's order: a later queue only gets the slots earlier ones left. */
  async #round(free: number): Promise<{ leased: number; nextDueIn: number; wanted: number }> {
    const reserved = Math.max(free, 0);
    this.#reserved += reserved;
    try {
      let leased = 0;
      let wanted = reserved;
      let nextDueIn = Number.POSITIVE_INFINITY;
      // A round that only sends reports is no turn: it must not move the selection on.
      const order = reserved > 0 ? this.#opts.selector.next() : this.#allQueues;
      for (const index of order) {
        const rt = this.#queues[index] as QueueRuntime;
        const running = this.#state === 'running';
        const want = running ? reserved - leased : 0;
        const register = running && rt.inbox !== undefined;
        if (want <= 0 && rt.reports.length === 0 && !(register && this.#pushSlots > 0)) continue;
        const result = await this.#step(rt, Math.max(want, 0), register ? 'register' : 'none');
        leased += result.leased;
        wanted += result.wanted - Math.max(want, 0);
        nextDueIn = Math.min(nextDueIn, result.nextDueIn);
      }
      return { leased, nextDueIn, wanted };
    } finally {
      this.#reserved -= reserved;
    }
  }

  /**
   * Blocks on the queues' wake-up keys until a producer (or another consumer) pushes a token,
   * and on its inbox while registered. Resolves true when the pop brought a job (pushed by an
   * enqueue, see step.lua), which is then started.
   */
  async #block(ms: number): Promise<boolean> {
    const blocking = this.#blocking;
    if (!blocking || ms <= 0) return false;
    const seconds = Math.max(ms, 10) / 1000;
    let cancelWatchdog: (() => void) | undefined;
    const keys = this.#queues.map((rt) => rt.keys.wake);
    const rt = this.#queues[0] as QueueRuntime;
    if (this.#registered && rt.inbox) keys.unshift(rt.inbox);
    this.#blocked = true;
    try {
      const popped = await Promise.race([
        this.#guardBlocking(blocking.blpopBuffer(...keys, seconds.toFixed(3))),
        // A blocking connection can go silent without an error (a half-open TCP connection
        // after a failover): if the reply is long overdue, replace the connection and carry on.
        new Promise<void>((resolve) => {
          const overdue = ms + BLOCK_GRACE_MS;
          cancelWatchdog = watchdog(overdue, () => {
            const message =
              `No reply from Redis to a blocking pop ${overdue.toLocaleString('en-US')} ms after it was sent (its timeout was ` +
              `${ms.toLocaleString('en-US')} ms): the connection is presumed dead (half-open: dropped without notice, e.g. by ` +
              'a failover) and is replaced by a new one';
            this.#redisTrouble(new Error(message), 'Waiting for jobs');
            dropConnection(blocking);
            resolve();
          });
        }),
      ]);
      if (!popped || rt.inbox === undefined || popped[0].toString() !== rt.inbox) return false;
      const entry = popped[1];
      if (entry.length === 0) {
        this.#markerLeft = false; // the closing marker (see #close)
        return false;
      }
      // The jobs of one enqueue call, packed one after another.
      for (let at = 0; at < entry.length; ) {
        this.#pushSlots = Math.max(0, this.#pushSlots - 1);
        if (this.#receivedTokens.length < MAX_RECEIVED_TOKENS) this.#receivedTokens.push(entry.readUIntBE(at, 6));
        at = this.#startLeased(rt, entry, at);
      }
      return true;
    } finally {
      cancelWatchdog?.();
      this.#blocked = false;
    }
  }

  /**
   * Takes back this consumer's registration for push delivery and drains its inbox (the jobs
   * come back leased and, the consumer closing, are released at once). With `marker`, an empty
   * entry follows, to end a pop blocked on the inbox. Failures are reported, not thrown: the
   * registration then runs out, and a housekeeping step hands back what the inbox still holds.
   */
  async #unregister(marker: boolean): Promise<void> {
    const rt = this.#queues[0] as QueueRuntime;
    try {
      await this.#step(rt, 0, marker ? 'marker' : 'unregister');
      if (marker) this.#markerLeft = true;
    } catch (err) {
      this.#redisTrouble(err, 'Unregistering from push delivery');
    }
  }

  /**
   * One step call on one queue: its pending reports, then up to `want` new leases. With
   * `push` other than 'none' (this consumer's one queue), it also takes back the consumer's
   * registration and inbox, and with 'register' registers again if the queue ran dry.
   */
  async #step(rt: QueueRuntime, want: number, push: 'none' | 'register' | 'unregister' | 'marker' = 'none'): Promise<StepResult> {
    const client = this.#client as RedisClient;
    // At most MAX_REPORTS per call: Lua's unpack() has a limit, and a backlog (after an outage,
    // or at a very high concurrency) must drain over several calls instead of failing each.
    const reports = rt.reports.splice(0, MAX_REPORTS);
    const { leaseDuration, keepCompleted, keepDead } = this.#opts;
    const args: (string | number | Buffer)[] = [
      leaseDuration,
      want,
      keepCompleted.count,
      keepCompleted.age,
      keepDead.count,
      keepDead.age,
      1 + Math.floor(this.#opts.random() * 2147483645),
      reports.length,
    ];
    // No reports (a lease at a wake-up, the latency-critical call): an empty string, which keeps
    // ioredis on its plain string path instead of assembling a mixed buffer.
    args.push(reports.length > 0 ? packReports(reports) : '');
    // Housekeeping (expired-lease recovery, cancelled-set trim) a few times per lease duration.
    const clientNow = Date.now();
    const housekeeping = clientNow - rt.housekeptAt >= Math.min(1_000, this.#opts.leaseDuration / 4);
    if (housekeeping) rt.housekeptAt = clientNow;
    args.push(housekeeping ? 1 : 0);
    // The tokens this consumer popped (Redis hands back anything else pushed to it and no longer
    // in its inbox: a pop whose reply was lost with a dead blocking connection), and the slots
    // it believes registered (Redis adds no more of its registration than that).
    const confirming = push === 'none' ? 0 : this.#receivedTokens.length;
    const believed = this.#pushSlots;
    if (push !== 'none') {
      const tokens = Buffer.allocUnsafe(6 * confirming);
      this.#receivedTokens.forEach((token, i) => tokens.writeUIntBE(token, 6 * i, 6));
      args.push(this.#id, push === 'register' ? this.#opts.pollInterval + REGISTRATION_GRACE_MS : 0, push === 'marker' ? 1 : 0);
      args.push(confirming > 0 ? tokens : '', believed);
    }
    let reply: [number[], Buffer, number, number, number, number];
    try {
      reply = (await this.#guard(rt.step.run(client, rt.keyList, args))) as typeof reply;
    } catch (err) {
      if (push === 'register') {
        // It may have registered (a lost reply): keep free what it could have registered.
        this.#pushSlots = Math.max(this.#pushSlots, want + believed);
        this.#registered = true;
      }
      // Only a reply lost with its connection may have been applied; a refusal of such a
      // report later most likely means it was.
      if (outcomeUnknown(err)) for (const r of reports) r.resent = true;
      rt.reports.unshift(...reports);
      throw err;
    }
    const [outcomes, leased, now, nextDue, registered, wanted] = reply;
    if (push !== 'none') {
      // Whatever was registered before is taken back (and the inbox drained): only this
      // step's registration stands.
      this.#pushSlots = Number(registered);
      this.#registered = this.#pushSlots > 0;
      this.#registeredUntil = Date.now() + this.#opts.pollInterval;
      this.#receivedTokens.splice(0, confirming);
    }
    reports.forEach((report, i) => this.#settle(report, Number(outcomes[i])));
    let count = 0;
    for (let at = 0; at < leased.length; count++) at = this.#startLeased(rt, leased, at);
    return { leased: count, wanted: push === 'none' ? want : Number(wanted), nextDueIn: nextDue < 0 ? Number.POSITIVE_INFINITY : nextDue - now };
  }

  /**
   * Starts the leased job packed at `at` in `packed` (by step.lua or enqueue.lua: token
   * (6 bytes), id length (2), record length (4), id, record); returns where the next one starts.
   */
  #startLeased(rt: QueueRuntime, packed: Buffer, at = 0): number {
    const token = packed.readUIntBE(at, 6);
    const idLength = packed.readUInt16BE(at + 6);
    const recordLength = packed.readUInt32BE(at + 8);
    at += 12;
    const id = packed.toString('utf8', at, at + idLength);
    at += idLength;
    this.#startTry(rt, id, token, packed.subarray(at, at + recordLength));
    return at + recordLength;
  }

  // ---------------------------------------------------------------- running tries

  #startTry(rt: QueueRuntime, id: string, token: number, record: Buffer): void {
    let header: JobHeader;
    let payload: unknown;
    let decodeError: unknown;
    let part = 'record';
    try {
      const decoded = decodeRecord(record, id);
      header = decoded.header;
      part = 'payload';
      payload = decodeValue(decoded.payload);
    } catch (err) {
      decodeError = err;
      header = { state: 'active', attempt: 1, maxAttempts: 1, token, createdAt: 0, startedAt: 0, finishedAt: 0, runAt: 0, timeout: 0, backoff: undefined, priority: 0, error: undefined, cancelRequested: false, dedupeFor: 0 };
    }
    const job: Job = Object.freeze({
      id,
      queue: rt.def.name,
      payload,
      attempt: header.attempt,
      maxAttempts: header.maxAttempts,
      priority: header.priority,
      createdAt: header.createdAt,
      token,
    });
    const lease: Lease = {
      rt,
      job,
      header,
      controller: undefined,
      abortReason: undefined,
      timer: undefined,
      reported: false,
      lost: false,
      stopped: undefined,
      progressPending: undefined,
      progressSending: false,
    };
    this.#leases.add(lease);
    if (decodeError !== undefined) {
      // A record that cannot be decoded can never run: bury it with the reason.
      const reason = ((decodeError as Error).cause as Error | undefined)?.message ?? (decodeError as Error).message;
      this.#decide(lease, 'x', new DocketError('CORRUPT_RECORD', `Job "${id}" cannot run: its ${part} cannot be decoded: ${reason}`, { cause: decodeError, jobId: id, queue: rt.def.name }));
      return;
    }
    if (this.#state !== 'running') {
      this.#decide(lease, 'r'); // fetched while closing: hand it straight back
      return;
    }
    this.#running.add(lease);
    if (this.#recentCancels.size > 0 && this.#recentCancels.delete(`${rt.keys.cancelChannel}\0${token}:${id}`)) this.#cancelRequested(lease);
    const timeout = header.timeout || this.#opts.timeout;
    if (timeout > 0 && !this.#pool) {
      // The try fails when the handler settles (its slot is free again), not earlier, so that a
      // retry does not run beside a try that is still going; see #stop for one that never does.
      lease.timer = setTimeout(() => {
        this.#stop(lease, new DocketError('TIMEOUT', `Job "${id}" try ${header.attempt} timed out after ${timeout} ms`, { jobId: id, queue: rt.def.name }));
      }, Math.min(timeout, MAX_TIMER_MS));
    }
    const context = new TryContext(lease, this.#reportProgress);
    let outcome: Promise<unknown>;
    try {
      // The pool enforces the timeout itself: it kills the thread, then rejects with TIMEOUT.
      outcome = this.#pool
        ? this.#pool.run({ job, timeout, signal: context.signal, onProgress: context.progress })
        : Promise.resolve((this.#opts.handler as Handler)(job as Job<never>, context));
    } catch (err) {
      outcome = Promise.reject(err);
    }
    // The slot is free before the outcome is recorded: the loop that the report wakes must see
    // it, or it sends the report alone and blocks instead of leasing the next job.
    const settled = () => {
      clearTimeout(lease.timer);
      this.#running.delete(lease);
    };
    outcome.then(
      (result) => {
        settled();
        try {
          if (lease.stopped) this.#decideStopped(lease);
          else this.#decide(lease, 'c', undefined, result);
        } finally {
          this.#wakeLoop?.();
        }
      },
      (err: unknown) => {
        settled();
        try {
          if (lease.stopped) this.#decideStopped(lease);
          else this.#decide(lease, 'f', err);
        } finally {
          this.#wakeLoop?.();
        }
      },
    );
  }

  /** Stops a running try early: its signal aborts; the outcome is decided when it settles. */
  #stop(lease: Lease, reason: DocketError): void {
    if (lease.stopped || lease.reported) return;
    lease.stopped = reason;
    clearTimeout(lease.timer);
    abortTry(lease, reason);
    if (this.#pool) return; // the pool terminates a thread that does not stop
    // A handler that ignores its signal and never settles must not hold its job forever: after
    // a grace the try is reported as stopped anyway (retried or dead per its attempts, or
    // cancelled). The handler keeps its slot until it settles, so no more than `concurrency`
    // handlers ever run at once. settled() and #decide clear this timer.
    lease.timer = setTimeout(() => {
      lease.stopped = new DocketError(
        reason.code,
        `${reason.message}; its handler did not stop within ${STOP_GRACE_MS} ms of its signal aborting, so the try ` +
          'is reported now (the handler keeps its concurrency slot until it settles)',
        { cause: reason, jobId: lease.job.id, queue: lease.job.queue },
      );
      this.#decideStopped(lease);
    }, STOP_GRACE_MS);
  }

  #decideStopped(lease: Lease): void {
    const reason = lease.stopped as DocketError;
    this.#decide(lease, reason.code === 'CANCELLED' ? 'k' : 'f', reason);
  }

  /** `producer.cancel` asked to stop a try this consumer runs. */
  #cancelRequested(lease: Lease): void {
    this.#stop(
      lease,
      new DocketError('CANCELLED', `Job "${lease.job.id}" was cancelled`, { jobId: lease.job.id, queue: lease.job.queue }),
    );
  }

  /** A cancel message is '<lease token>:<id>'. */
  #onCancelMessage(channel: string, message: string): void {
    const colon = message.indexOf(':');
    const token = Number(message.slice(0, colon));
    const id = message.slice(colon + 1);
    let found = false;
    for (const lease of this.#running) {
      if (lease.job.id === id && lease.job.token === token && lease.rt.keys.cancelChannel === channel) {
        this.#cancelRequested(lease);
        found = true;
      }
    }
    // The request can overtake the reply that leases the job to this consumer: remember it
    // for a while, and #startTry checks it (otherwise it would wait for the next renewal).
    if (!found) {
      const now = Date.now();
      for (const [key, expires] of this.#recentCancels) if (expires < now) this.#recentCancels.delete(key);
      this.#recentCancels.set(`${channel}\0${token}:${id}`, now + RECENT_CANCEL_MS);
    }
  }

  /** #progress, as a function every try's context shares. */
  readonly #reportProgress = (lease: Lease, value: unknown): void => this.#progress(lease, value);

  /** Stores the latest progress value (one send at a time per try; only the newest value is sent). */
  #progress(lease: Lease, value: unknown): void {
    if (lease.reported || lease.lost) return;
    const bytes = encodeChecked(value, MAX_PROGRESS_BYTES, 'progress value', 'the limit for progress values');
    this.#emitSafe('progress', lease.job, value);
    lease.progressPending = bytes;
    if (lease.progressSending) return;
    const send = async (): Promise<void> => {
      lease.progressSending = true;
      try {
        while (lease.progressPending && !lease.reported && !lease.lost && this.#client) {
          const next = lease.progressPending;
          lease.progressPending = undefined;
          await this.#guard(lease.rt.progress.run(this.#client, lease.rt.keyList, [lease.job.id, lease.job.token, next]));
        }
      } catch (err) {
        this.#redisTrouble(err, 'Storing progress');
      } finally {
        lease.progressSending = false;
      }
    };
    void send();
  }

  /** Records a try's outcome, once; it reaches Redis with the next step call. */
  #decide(lease: Lease, kind: ReportKind, error?: unknown, result?: unknown): void {
    if (lease.reported) return;
    lease.reported = true;
    clearTimeout(lease.timer);
    if (lease.lost) {
      this.#leases.delete(lease);
      return;
    }
    const report: Report = { kind, lease, message: '', delay: 0, resultBytes: '' };
    if (kind === 'c' && result !== undefined) {
      try {
        report.resultBytes = encodeChecked(result, this.#opts.maxResultBytes, 'result', '`maxResultBytes`');
      } catch (err) {
        // A result that cannot be stored fails the try like a thrown error would.
        report.kind = kind = 'f';
        error = err;
      }
    }
    if (kind === 'f' || kind === 'x' || kind === 'k') {
      report.error = error;
      report.message = errorMessage(error);
      if (kind === 'f') report.delay = backoffDelay(lease.header.backoff, lease.job.attempt);
    }
    if (report.kind === 'c') {
      report.result = result;
    }
    lease.rt.reports.push(report);
    if (this.#blocked || this.#state !== 'running') {
      this.#flushReports().catch((err: unknown) => {
        this.#redisTrouble(err, 'Reporting job outcomes');
        setTimeout(() => this.#flushReports().catch(() => {}), 1_000).unref();
      });
    } else {
      this.#wakeLoop?.();
    }
  }

  /** Sends pending reports without fetching (used while the loop is blocked or closing). */
  #flushReports(): Promise<void> {
    if (this.#flushing) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      do {
        this.#flushAgain = false;
        for (const rt of this.#queues) if (rt.reports.length > 0) await this.#step(rt, 0);
      } while (this.#flushAgain);
    })().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Redis has answered a report: emit the matching events. */
  #settle(report: Report, outcome: number): void {
    const { lease, kind } = report;
    this.#leases.delete(lease);
    const { job } = lease;
    if (outcome < 0) {
      if (kind === 'r' || report.resent) return; // nothing to release / most likely applied before the reply was lost
      this.#emitError(
        new DocketError(
          'LEASE_LOST',
          `The outcome of job "${job.id}" try ${job.attempt} was refused: its lease expired and the job was recovered or handed ` +
            `to another consumer. Likely cause: ${this.#leaseLossCause()}`,
          { jobId: job.id, queue: job.queue },
        ),
      );
      return;
    }
    if (outcome === STATE_CANCELLED) {
      this.#emitSafe('cancelled', job);
    } else if (kind === 'c') {
      this.#emitSafe('completed', job, report.result);
    } else if (kind === 'f' || kind === 'x') {
      this.#emitSafe('failed', job, report.error);
      if (outcome === STATE_DEAD) this.#emitSafe('dead', job, report.error);
      else this.#emitSafe('retrying', job, report.error, report.delay);
    }
  }

  /** Extends the leases of every try this consumer still holds; a refused renewal means the job is gone. */
  async #renewLeases(): Promise<void> {
    if (this.#renewing || this.#leases.size === 0 || !this.#client) return;
    this.#renewing = true;
    try {
      const byQueue = new Map<QueueRuntime, Lease[]>();
      for (const lease of this.#leases) {
        if (lease.lost) continue;
        const list = byQueue.get(lease.rt) ?? [];
        list.push(lease);
        byQueue.set(lease.rt, list);
      }
      for (const [rt, leases] of byQueue) {
        const args: (string | number)[] = [this.#opts.leaseDuration];
        for (const lease of leases) args.push(lease.job.id, lease.job.token);
        const reply = (await this.#guard(rt.renew.run(this.#client, rt.keyList, args))) as number[];
        leases.forEach((lease, i) => {
          if (reply[i] === 2) this.#cancelRequested(lease);
          if (reply[i] !== 0 || !this.#leases.has(lease)) return;
          lease.lost = true;
          this.#leases.delete(lease);
          const err = new DocketError(
            'LEASE_LOST',
            `Lost the lease of job "${lease.job.id}" try ${lease.job.attempt}: it expired and the job was recovered; this try's ` +
              `outcome will be discarded. Likely cause: ${this.#leaseLossCause()}`,
            { jobId: lease.job.id, queue: lease.job.queue },
          );
          abortTry(lease, err);
          this.#emitError(err);
        });
      }
    } catch (err) {
      this.#redisTrouble(err, 'Renewing leases');
    } finally {
      this.#renewing = false;
    }
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Ends the blocking connection at once. `disconnect()` alone half-closes a socket that is
   * blocked in BLPOP, and ioredis only destroys it after a 2 s timer that keeps the process
   * alive after close() has resolved.
   */
  #dropBlocking(): void {
    const blocking = this.#blocking;
    if (!blocking) return;
    blocking.disconnect();
    (blocking as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }

  /** For LEASE_LOST messages: a recent long block of the event loop if there was one. */
  #leaseLossCause(): string {
    return (
      this.#loopWatch?.leaseLossCause() ??
      `the consumer lost Redis or stalled for longer than leaseDuration (${this.#opts.leaseDuration.toLocaleString('en-US')} ms)`
    );
  }

  #hasReports(): boolean {
    return this.#queues.some((rt) => rt.reports.length > 0);
  }

  async #checkRedisConfig(client: RedisClient): Promise<void> {
    try {
      const reply = (await this.#guard(client.config('GET', 'maxmemory-policy'))) as string[];
      const policy = reply[1];
      if (policy !== undefined && policy !== 'noeviction') {
        this.#opts.logger.warn(
          `[docket] Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict job data and lose jobs. ` +
            "Set 'maxmemory-policy noeviction' on the Redis that holds docket's queues.",
        );
      }
    } catch (err) {
      // CONFIG may be disabled (managed Redis) or denied (an ACL user without +config|get,
      // which would also reveal secrets such as requirepass): nothing to check then.
      this.#opts.logger.debug?.(
        `[docket] Could not read Redis maxmemory-policy (${err instanceof Error ? err.message : String(err)}); ` +
          "skipping the check: make sure it is 'noeviction'.",
      );
    }
  }

  #connectionError(err: Error): void {
    this.#redisTrouble(err, 'The Redis connection');
  }

  /** Redis trouble is reported at most once per 5 s: an outage must not flood the logs. */
  #redisTrouble(err: unknown, what: string): void {
    const now = Date.now();
    if (now - this.#lastConnectionErrorAt < 5_000 || this.#state === 'closing' || this.#state === 'closed') return;
    this.#lastConnectionErrorAt = now;
    this.#emitError(redisError(err, what));
  }

  /** 'error' without listeners would crash the process: log instead. */
  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.#emitSafe('error', err);
    else this.#opts.logger.error(`[docket] ${err.message}`, err);
  }

  /** A throwing listener must not break the consumer's bookkeeping. */
  #emitSafe<E extends keyof ConsumerEvents>(event: E, ...args: ConsumerEvents[E]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.#opts.logger.error(`[docket] a '${event}' listener threw`, err);
    }
  }
}
