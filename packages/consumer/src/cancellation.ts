// Cancellation of running tries: `producer.cancel` on an active job publishes '<lease token>:<id>'
// on the queue's cancel channel (and flags the record, which the next lease renewal reports as
// a backup, lease-keeper.ts). The consumer running that lease stops the try through its signal;
// it ends `cancelled`, never retried (try-runner.ts, lua/step-reports.lua).
import type { Lease } from './types.js';

/** ms a cancel request for a lease not (yet) running here is remembered. */
const RECENT_CANCEL_MS = 30_000;

export class Cancellations {
  /** Cancel requests for leases not (yet) running here: channel + token:id -> expiry (ms). */
  readonly #recent = new Map<string, number>();
  readonly #running: ReadonlySet<Lease>;
  readonly #cancel: (lease: Lease) => void;

  /** `running`: the tries running now; `cancel`: stops one of them. */
  constructor(running: ReadonlySet<Lease>, cancel: (lease: Lease) => void) {
    this.#running = running;
    this.#cancel = cancel;
  }

  /** A message on a cancel channel: '<lease token>:<id>'. */
  readonly onMessage = (channel: string, message: string): void => {
    const colon = message.indexOf(':');
    const token = Number(message.slice(0, colon));
    const id = message.slice(colon + 1);
    let found = false;
    for (const lease of this.#running) {
      if (lease.job.id === id && lease.job.token === token && lease.rt.keys.cancelChannel === channel) {
        this.#cancel(lease);
        found = true;
      }
    }
    // The request can overtake the reply that leases the job to this consumer: remember it
    // for a while, and a try that starts checks it (otherwise it would wait for the next renewal).
    if (!found) {
      const now = performance.now();
      for (const [key, expires] of this.#recent) if (expires < now) this.#recent.delete(key);
      this.#recent.set(`${channel}\0${token}:${id}`, now + RECENT_CANCEL_MS);
    }
  };

  /** Whether a request for this lease arrived before it started (forgotten once asked). */
  takeEarly(lease: Lease): boolean {
    return this.#recent.size > 0 && this.#recent.delete(`${lease.rt.keys.cancelChannel}\0${lease.job.token}:${lease.job.id}`);
  }
}
