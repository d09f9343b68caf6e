// The lease keeper: renews the leases of every try this consumer still holds, every third of
// `leaseDuration`, so that a running job is never recovered by another consumer. A refused
// renewal means the job is gone (recovered after this consumer stalled): the try is told
// through its signal and its outcome will be discarded. A renewal also reports a cancel request
// the pub/sub message may have missed.
import { DocketError } from '@docket/protocol';
import type { Connections } from './connections.js';
import type { Notices } from './notices.js';
import type { TryRunner } from './try-runner.js';
import type { Lease, QueueRuntime } from './types.js';

export class LeaseKeeper {
  readonly #conn: Connections;
  readonly #tries: TryRunner;
  readonly #notices: Notices;
  readonly #leaseDuration: number;
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(conn: Connections, tries: TryRunner, notices: Notices, leaseDuration: number) {
    this.#conn = conn;
    this.#tries = tries;
    this.#notices = notices;
    this.#leaseDuration = leaseDuration;
  }

  start(): void {
    const every = Math.max(50, Math.floor(this.#leaseDuration / 3));
    this.#timer = setInterval(() => void this.renew(), every);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Extends every lease this consumer holds, one call per queue. */
  async renew(): Promise<void> {
    const client = this.#conn.client;
    if (this.#renewing || this.#tries.leases.size === 0 || !client) return;
    this.#renewing = true;
    try {
      const byQueue = new Map<QueueRuntime, Lease[]>();
      for (const lease of this.#tries.leases) {
        if (lease.lost) continue;
        const list = byQueue.get(lease.rt) ?? [];
        list.push(lease);
        byQueue.set(lease.rt, list);
      }
      for (const [rt, leases] of byQueue) {
        const args: (string | number)[] = [this.#leaseDuration];
        for (const lease of leases) args.push(lease.job.id, lease.job.token);
        const reply = (await this.#conn.guard(rt.renew.run(client, rt.keyList, args))) as number[];
        leases.forEach((lease, i) => {
          if (reply[i] === 2) this.#tries.cancelRequested(lease);
          if (reply[i] !== 0 || !this.#tries.leases.has(lease)) return;
          const err = new DocketError(
            'LEASE_LOST',
            `Lost the lease of job "${lease.job.id}" try ${lease.job.attempt}: it expired and the job was recovered; this try's ` +
              `outcome will be discarded. Likely cause: ${this.#notices.leaseLossCause()}`,
            { jobId: lease.job.id, queue: lease.job.queue },
          );
          this.#tries.lose(lease, err);
          this.#notices.error(err);
        });
      }
    } catch (err) {
      this.#notices.redisTrouble(err, 'Renewing leases');
    } finally {
      this.#renewing = false;
    }
  }
}
