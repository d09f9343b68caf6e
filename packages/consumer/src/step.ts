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

type StepReply = [number[], Buffer, number, number, number, number];

export class Stepper {
  readonly #opts: ResolvedConsumerOptions;
  readonly #conn: Connections;
  readonly #tries: TryRunner;
  readonly #push: PushDelivery | undefined;
  readonly #start: (rt: QueueRuntime, id: string, token: number, record: Buffer) => void;

  constructor(opts: ResolvedConsumerOptions, conn: Connections, tries: TryRunner, push: PushDelivery | undefined) {
    this.#opts = opts;
    this.#conn = conn;
    this.#tries = tries;
    this.#push = push;
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
      // No reports (a lease at a wake-up, the latency-critical call): an empty string, which
      // keeps ioredis on its plain string path instead of assembling a mixed buffer.
      reports.length > 0 ? packReports(reports) : '',
    ];
    // Housekeeping (expired-lease recovery, cancelled-set trim) a few times per lease duration.
    const clientNow = Date.now();
    const housekeeping = clientNow - rt.housekeptAt >= Math.min(1_000, leaseDuration / 4);
    if (housekeeping) rt.housekeptAt = clientNow;
    args.push(housekeeping ? 1 : 0);
    const push = mode === 'none' ? undefined : this.#push;
    const pushArgs = push?.stepArgs(mode as Exclude<PushMode, 'none'>);
    if (pushArgs) args.push(...pushArgs.args);
    let reply: StepReply;
    try {
      reply = (await this.#conn.guard(rt.step.run(client, rt.keyList, args))) as StepReply;
    } catch (err) {
      if (push && pushArgs) push.stepFailed(mode, want, pushArgs.believed);
      // Only a reply lost with its connection may have been applied; a refusal of such a
      // report later most likely means it was.
      if (outcomeUnknown(err)) for (const r of reports) r.resent = true;
      rt.reports.unshift(...reports);
      throw err;
    }
    const [outcomes, leased, now, nextDue, registered, wanted] = reply;
    if (push && pushArgs) push.stepDone(Number(registered), pushArgs.confirming);
    reports.forEach((report, i) => this.#tries.settle(report, Number(outcomes[i])));
    let count = 0;
    const take = (token: number, id: string, record: Buffer) => this.#start(rt, id, token, record);
    for (let at = 0; at < leased.length; count++) at = readLeaseEntry(leased, at, take);
    return { leased: count, wanted: push ? Number(wanted) : want, nextDueIn: nextDue < 0 ? Number.POSITIVE_INFINITY : nextDue - now };
  }
}
