// One step call on one queue (lua/step.lua): the queue's pending reports go out, up to `want`
// new leases come back and start, and, on a consumer with push delivery, its registration is
// taken back and renewed. Every fetch, ack and housekeeping of the consumer goes through here.
import { type RedisClient, packReports, readLeaseEntry } from '@docket/protocol/internal';
import type { Connections } from './connections.js';
import { outcomeUnknown } from './inflight.js';
import type { ResolvedConsumerOptions } from './options.js';
import type { PushDelivery, PushMode } from './push-delivery.js';
import type { TryRunner } from './try-runner.js';
import type { QueueRuntime, StepResult } from './types.js';

/** Reports per call at most: Lua's unpack() has a limit, and a backlog drains over several calls. */
const MAX_REPORTS = 1000;
/** Confirmations of earlier calls per call at most (each a short string). */
const MAX_CONFIRMED = 200;

type StepReply = [number[], Buffer, number, number, number, number, number, Buffer];

export class Stepper {
  readonly #opts: ResolvedConsumerOptions;
  readonly #conn: Connections;
  readonly #tries: TryRunner;
  readonly #push: PushDelivery | undefined;
  readonly #start: (rt: QueueRuntime, id: string, token: number, record: Buffer) => void;

  /** ms between housekeeping steps on one queue (expired-lease recovery, trims). */
  readonly housekeepingEvery: number;
  readonly #consumerId: string;
  /** Sequence number of this consumer's step calls (K_HANDED entries name them). */
  #seq = 0;

  constructor(opts: ResolvedConsumerOptions, conn: Connections, tries: TryRunner, push: PushDelivery | undefined, consumerId: string) {
    this.#opts = opts;
    this.#conn = conn;
    this.#tries = tries;
    this.#push = push;
    this.#consumerId = consumerId;
    this.housekeepingEvery = Math.min(1_000, opts.leaseDuration / 4);
    this.#start = (rt, id, token, record) => tries.start(rt, id, token, record);
  }

  /**
   * One step call: the queue's pending reports, then up to `want` new leases. With `mode`
   * other than 'none' (the consumer's one queue, push delivery), it also takes back the
   * registration, and with 'register' registers again if the queue ran dry.
   */
  async step(rt: QueueRuntime, want: number, mode: PushMode = 'none'): Promise<StepResult> {
    const client = this.#conn.client as RedisClient;
    const reports = rt.reports.splice(0, MAX_REPORTS);
    const confirmed = rt.received.splice(0, MAX_CONFIRMED);
    const { leaseDuration, keepCompleted, keepDead } = this.#opts;
    // Housekeeping (expired-lease recovery, trims) a few times per lease duration.
    const clientNow = performance.now();
    const housekeeping = clientNow - rt.housekeptAt >= this.housekeepingEvery;
    if (housekeeping) rt.housekeptAt = clientNow;
    const args: (string | number | Buffer)[] = [
      leaseDuration,
      want,
      keepCompleted.count,
      keepCompleted.age,
      keepDead.count,
      keepDead.age,
      // The random strategy's seed, drawn only by steps that may lease (asking for jobs, or
      // taking back a push registration with slots, which the step fills), so that a seeded
      // random source gives the same order whatever report-only steps timing adds.
      want > 0 || (mode !== 'none' && (this.#push?.slots ?? 0) > 0) ? 1 + Math.floor(this.#opts.random() * 2147483645) : 1,
      reports.length,
      // No reports (a lease at a wake-up, the latency-critical call): an empty string, which
      // keeps ioredis on its plain string path instead of assembling a mixed buffer.
      reports.length > 0 ? packReports(reports) : '',
      housekeeping ? 1 : 0,
      this.#consumerId,
      ++this.#seq,
      confirmed.length > 0 ? confirmed.join(' ') : '',
    ];
    const push = mode === 'none' ? undefined : this.#push;
    const pushArgs = push?.stepArgs(mode as Exclude<PushMode, 'none'>);
    if (pushArgs) args.push(...pushArgs.args);
    let reply: StepReply;
    try {
      reply = (await this.#conn.guard(rt.step.run(client, rt.keyList, args))) as StepReply;
    } catch (err) {
      if (push && pushArgs) push.stepFailed(mode, want, pushArgs.believed);
      // Only a reply lost with its connection may have been applied; a refusal of such a
      // report later most likely means it was. Confirmations are sent again (removing an
      // entry twice is harmless).
      if (outcomeUnknown(err)) for (const r of reports) r.resent = true;
      rt.reports.unshift(...reports);
      rt.received.unshift(...confirmed);
      throw err;
    }
    const [outcomes, leased, now, nextDue, registered, wanted, nextHousekeeping, handed] = reply;
    if (push && pushArgs) push.stepDone(Number(registered), pushArgs.confirming);
    // The leases are read first, then confirmed, then their tries start at once, and only then
    // are the reports settled (their events and listeners): a consumer killed between the
    // confirmation and a handler's call is the one way an attempt counts without a try, so that
    // window holds nothing but the calls themselves. The confirmation is written before any
    // handler runs, so a handler that blocks the event loop or kills the process still counts
    // its attempt. Only a reply that never arrived (the consumer died with it in flight, or its
    // connection dropped) leaves its leases unconfirmed, to go back uncounted. A failed
    // confirmation goes with the next step.
    const jobs: [number, string, Buffer][] = [];
    for (let at = 0; at < leased.length; ) at = readLeaseEntry(leased, at, (token, id, record) => void jobs.push([token, id, record]));
    if (handed.length > 0) {
      const entries = handed.toString().split(' ');
      this.#conn.guard(client.zrem(rt.keys.handed, ...entries)).catch(() => rt.received.push(...entries));
    }
    for (const [token, id, record] of jobs) this.#start(rt, id, token, record);
    reports.forEach((report, i) => this.#tries.settle(report, Number(outcomes[i])));
    const count = jobs.length;
    return {
      leased: count,
      wanted: push ? Number(wanted) : want,
      nextDueIn: nextDue < 0 ? Number.POSITIVE_INFINITY : nextDue - now,
      // A few ms late rather than early: a step that arrives before the deadline finds nothing.
      nextHousekeepingIn: nextHousekeeping < 0 ? Number.POSITIVE_INFINITY : nextHousekeeping - now + 5,
    };
  }
}
