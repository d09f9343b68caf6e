// The fetch loop: keeps the consumer's free slots filled. It sends step rounds (one step per
// queue that may have work, in the selection's order), starts the jobs they lease, and waits
// when there is nothing to do:
// - a consumer of one queue blocks on the queue's wake-up key (and its inbox, push-delivery.ts)
//   until a producer or another consumer pushes a token, a delayed job is due, or
//   `pollInterval` passes;
// - a consumer of several queues listens to their ready channels instead (a blocking pop over
//   many keys would cost per queue, and on a Redis Cluster cannot cross slots): a message marks
//   its queue as having work (queue-schedule.ts), and each queue is stepped again when its next
//   delayed job or lease deadline is due. Its idle cost does not grow with its queues.
import type { Redis } from 'ioredis';
import type { Connections } from './connections.js';
import type { Notices } from './notices.js';
import type { ResolvedConsumerOptions } from './options.js';
import type { PushDelivery } from './push-delivery.js';
import { QueueSchedule } from './queue-schedule.js';
import type { Stepper } from './step.js';
import type { TryRunner } from './try-runner.js';
import type { ConsumerStatus, QueueRuntime, StepResult } from './types.js';
import { dropConnection, watchdog } from './watchdog.js';

const MAX_ROUNDS = 2;
/** ms past its timeout a blocking pop may stay unanswered before its connection is presumed dead. */
const BLOCK_GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface FetchLoopParts {
  opts: ResolvedConsumerOptions;
  queues: readonly QueueRuntime[];
  conn: Connections;
  stepper: Stepper;
  tries: TryRunner;
  push: PushDelivery | undefined;
  notices: Notices;
  status(): ConsumerStatus;
}

export class FetchLoop {
  readonly #p: FetchLoopParts;
  /** Which queues may have work or need a step when (several queues: signal mode). */
  readonly #schedule: QueueSchedule;
  /** One queue: it blocks on the wake-up key; several: it listens to the ready channels. */
  readonly #blockingMode: boolean;
  /** Queues with reports waiting to be sent. */
  readonly #withReports = new Set<QueueRuntime>();
  /** Resolves the loop's wait for something to do (a free slot, a report, a signal, the end). */
  #wake: (() => void) | undefined;
  /** The loop is blocked in a pop: reports are flushed on their own meanwhile. */
  #blocked = false;
  /** Slots asked for by step rounds whose reply has not arrived yet. */
  #reserved = 0;
  #flushing: Promise<void> | undefined;
  #flushAgain = false;
  #done: Promise<void> | undefined;

  constructor(parts: FetchLoopParts) {
    this.#p = parts;
    this.#blockingMode = parts.queues.length === 1;
    this.#schedule = new QueueSchedule(parts.queues.length);
  }

  /** Whether the loop is blocked in a pop right now. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Resolves when the loop has ended (after the consumer left 'running'). */
  get done(): Promise<void> | undefined {
    return this.#done;
  }

  /** Whether the consumer listens to its queues' ready channels (several queues) rather than blocking. */
  get listens(): boolean {
    return !this.#blockingMode;
  }

  start(): void {
    this.#done = this.#loop();
  }

  /** Something changed (a slot came free, a report is waiting, the consumer is closing). */
  wake(): void {
    this.#wake?.();
  }

  /** Replaces the loop's waiter (close() waits for running tries through it). */
  onWake(fn: (() => void) | undefined): void {
    this.#wake = fn;
  }

  /** A ready-channel message: queue `index` may have work. */
  signal(index: number): void {
    this.#schedule.markReady(index);
    this.wake();
  }

  /** Messages may have been missed (the subscriber reconnected): every queue may have work. */
  signalAll(): void {
    this.#schedule.markAllReady();
    this.wake();
  }

  /** A report is waiting on `rt`: sent by the loop's next round, or at once while it cannot send one. */
  reported(rt: QueueRuntime): void {
    this.#withReports.add(rt);
    if (this.#blocked || this.#p.status() !== 'running') {
      this.flushReports().catch((err: unknown) => {
        this.#p.notices.redisTrouble(err, 'Reporting job outcomes');
        setTimeout(() => this.flushReports().catch(() => {}), 1_000).unref();
      });
    } else {
      this.wake();
    }
  }

  /** Sends pending reports without fetching (used while the loop is blocked or closing). */
  flushReports(): Promise<void> {
    if (this.#flushing) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      do {
        this.#flushAgain = false;
        for (const rt of [...this.#withReports]) await this.#step(rt, 0);
      } while (this.#flushAgain);
    })().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** One step, keeping what the loop knows of the queue (reports left, work, due times) current. */
  async #step(rt: QueueRuntime, want: number, mode: 'none' | 'register' = 'none'): Promise<StepResult> {
    try {
      const result = await this.#p.stepper.step(rt, want, mode);
      if (!this.#blockingMode) this.#schedule.stepped(rt.index, want, result, this.#p.stepper.housekeepingEvery);
      return result;
    } finally {
      if (rt.reports.length === 0) this.#withReports.delete(rt);
    }
  }

  /**
   * Keeps up to MAX_ROUNDS step rounds in flight, so Redis runs one while this process
   * starts the jobs of the other. Each round reserves the slots it asks for until its reply
   * is in, so the consumer never holds more jobs than it has slots. It waits only when no
   * round is in flight, the last one found nothing to lease, and no report is waiting.
   */
  async #loop(): Promise<void> {
    const { opts, notices, tries, push } = this.#p;
    let failures = 0;
    let failed: unknown;
    // Blocking mode: the last round found the queue drained, so the loop blocks.
    let idle = false;
    // One round at a time until a round comes back full: a second round overlapping the first
    // pays off only with a backlog. At low load (a wake-up for a job or two) it would be a
    // wasted step call per job, with its Redis and client work.
    let single = true;
    let nextDueAt = Number.POSITIVE_INFINITY; // performance.now(): intervals inside the process never use the wall clock
    const inflight = new Set<Promise<void>>();
    while (this.#p.status() === 'running') {
      if (failed !== undefined) {
        const err = failed;
        failed = undefined;
        failures++;
        notices.redisTrouble(err, 'Fetching jobs');
        await sleep(Math.min(2_000, 25 * 2 ** failures));
        continue;
      }
      const pushSlots = push?.slots ?? 0;
      const free = opts.concurrency - tries.running.size - this.#reserved - pushSlots;
      // Registered slots count too: a step takes them back before it leases.
      const open = free > 0 || pushSlots > 0;
      const work = this.#blockingMode ? !idle : this.#schedule.hasReady() || this.#schedule.hasDue();
      if (inflight.size < (single ? 1 : MAX_ROUNDS) && ((open && work) || (this.#withReports.size > 0 && inflight.size === 0) || (!open && this.#schedule.hasDue()))) {
        // Half the slots per round at most, so that two rounds can overlap.
        const ask = Math.max(0, Math.min(free, Math.ceil(opts.concurrency / MAX_ROUNDS)));
        const round: Promise<void> = this.#round(ask).then(
          (result) => {
            failures = 0;
            // Fewer jobs than asked for: the queues are drained for now, so the loop waits
            // instead of asking again (a job enqueued since has left a wake-up token or sent
            // a signal). One step per job at low load, not two.
            if (result.wanted > 0 && result.leased < result.wanted) {
              idle = true;
              single = true;
              // A step is due at the next delayed job, or when housekeeping has something to
              // recover (a lease deadline, another consumer's registration running out: jobs
              // pushed to a consumer that died go back then, not a whole pollInterval later).
              const housekeeping = Math.max(result.nextHousekeepingIn, this.#p.stepper.housekeepingEvery);
              nextDueAt = performance.now() + Math.min(result.nextDueIn, housekeeping);
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
          this.wake();
        });
        continue;
      }
      if (this.#blockingMode && idle && inflight.size === 0 && open && this.#withReports.size === 0) {
        let delivered = false;
        try {
          // No longer than until the next delayed job is due, nor past the registration.
          const until = Math.min(nextDueAt, push?.registered ? push.registeredUntil : Number.POSITIVE_INFINITY);
          delivered = await this.#block(Math.min(until - performance.now(), opts.pollInterval));
        } catch (err) {
          if (this.#p.status() === 'running') failed = err;
        }
        // A job pushed to the inbox: block again at once while registered slots remain (the
        // queue was empty, so there is nothing to lease), else step to register again.
        idle = delivered && (push?.slots ?? 0) > 0;
        continue;
      }
      await this.#waitForWork(inflight.size === 0 ? this.#schedule.nextDueAt() : Number.POSITIVE_INFINITY);
    }
    await Promise.allSettled(inflight);
  }

  /** Waits for wake() (a slot, a report, a signal), or until `at` (performance.now()) for a due queue. */
  async #waitForWork(at: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (Number.isFinite(at)) timer = setTimeout(resolve, Math.max(0, at - performance.now()));
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /**
   * One step per queue that may have work (every queue in blocking mode), in the selection's
   * order: a later queue only gets the slots earlier ones left. Queues with reports, or due for
   * housekeeping, are stepped whatever the slots.
   */
  async #round(free: number): Promise<{ leased: number; nextDueIn: number; nextHousekeepingIn: number; wanted: number }> {
    const { queues, push } = this.#p;
    const reserved = Math.max(free, 0);
    this.#reserved += reserved;
    try {
      let leased = 0;
      let wanted = reserved;
      let nextDueIn = Number.POSITIVE_INFINITY;
      let nextHousekeepingIn = Number.POSITIVE_INFINITY;
      const stepped = new Set<QueueRuntime>();
      const step = async (rt: QueueRuntime, want: number) => {
        stepped.add(rt);
        const register = push !== undefined && push.rt === rt && this.#p.status() === 'running';
        const result = await this.#step(rt, Math.max(want, 0), register ? 'register' : 'none');
        leased += result.leased;
        wanted += result.wanted - Math.max(want, 0);
        nextDueIn = Math.min(nextDueIn, result.nextDueIn);
        nextHousekeepingIn = Math.min(nextHousekeepingIn, result.nextHousekeepingIn);
      };
      // A round that only sends reports is no turn: it must not move the selection on.
      const order = reserved > 0 ? this.#p.opts.selector.next() : this.#blockingMode ? [0] : [];
      for (const index of order) {
        const rt = queues[index] as QueueRuntime;
        const want = this.#p.status() === 'running' ? reserved - leased : 0;
        const mayHaveWork = this.#blockingMode || this.#schedule.isReady(index);
        if (want > 0 && mayHaveWork) await step(rt, want);
        else if (rt.reports.length > 0 || (push?.rt === rt && push.slots > 0) || this.#schedule.isDue(index)) await step(rt, 0);
      }
      // Reports and housekeeping of queues the selection did not reach.
      for (const rt of [...this.#withReports]) if (!stepped.has(rt)) await step(rt, 0);
      for (const index of this.#schedule.takeDue()) {
        const rt = queues[index] as QueueRuntime;
        if (!stepped.has(rt)) await step(rt, 0);
      }
      return { leased, nextDueIn, nextHousekeepingIn, wanted };
    } finally {
      this.#reserved -= reserved;
    }
  }

  /**
   * Blocks on the queue's wake-up key until a producer (or another consumer) pushes a token,
   * and on its inbox while registered. Resolves true when the pop brought jobs (pushed by an
   * enqueue), which are then started.
   */
  async #block(ms: number): Promise<boolean> {
    const { conn, queues, push, notices, tries } = this.#p;
    const blocking = conn.blocking;
    if (!blocking || ms <= 0) return false;
    const seconds = Math.max(ms, 10) / 1000;
    let cancelWatchdog: (() => void) | undefined;
    const keys = queues.map((rt) => rt.keys.wake);
    const inbox = push?.rt.inbox;
    if (push?.registered && inbox) keys.unshift(inbox);
    this.#blocked = true;
    try {
      const popped = await Promise.race([
        conn.guardBlocking((blocking as Redis).blpopBuffer(...keys, seconds.toFixed(3))),
        // A blocking connection can go silent without an error (a half-open TCP connection
        // after a failover): if the reply is long overdue, replace the connection and carry on.
        new Promise<void>((resolve) => {
          const overdue = ms + BLOCK_GRACE_MS;
          cancelWatchdog = watchdog(overdue, () => {
            const message =
              `No reply from Redis to a blocking pop ${overdue.toLocaleString('en-US')} ms after it was sent (its timeout was ` +
              `${ms.toLocaleString('en-US')} ms): the connection is presumed dead (half-open: dropped without notice, e.g. by ` +
              'a failover) and is replaced by a new one';
            notices.redisTrouble(new Error(message), 'Waiting for jobs');
            dropConnection(blocking);
            resolve();
          });
        }),
      ]);
      if (!popped || !push || inbox === undefined || popped[0].toString() !== inbox) return false;
      return push.received(
        popped[1],
        (rt, id, token, record) => tries.start(rt, id, token, record),
        (rt, last) => {
          const client = conn.client as Redis;
          conn.guard(client.zremrangebyscore(rt.keys.handed, last, last)).catch(() => {
            // Not confirmed: the jobs' leases go back uncounted if they expire (at most 3 times).
          });
        },
      );
    } finally {
      cancelWatchdog?.();
      this.#blocked = false;
    }
  }
}
