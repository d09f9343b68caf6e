// Push delivery, the consumer's side (Redis's side: protocol's lua/push-delivery.lua). A
// consumer of one queue that finds it drained registers as idle with its free slots, then
// blocks on its inbox as well as on the wake key; an enqueue into the empty queue leases the
// jobs to it and pushes them to the inbox, one round trip sooner than a wake-up and a lease
// step. Registered slots are kept free like reserved ones; each step with the consumer's id
// takes the registration back (adding its slots to what the step may lease), confirms what
// was popped, and registers again if the queue is still drained.
import { readLeaseEntry } from '@docket/protocol/internal';
import type { QueueRuntime } from './types.js';

/**
 * ms a registration outlives the pop it is made for (whose timeout is at most `pollInterval`):
 * time to step and register again. A consumer killed while registered holds a pushed job this
 * much past `pollInterval`, then a housekeeping step hands it back.
 */
const REGISTRATION_GRACE_MS = 1_000;
/** Popped tokens kept for confirmation while steps fail (beyond it a lost pop waits for its lease). */
const MAX_RECEIVED_TOKENS = 100_000;

/** What a step does with the consumer's registration. */
export type PushMode = 'none' | 'register' | 'unregister' | 'marker';

export class PushDelivery {
  /** The one queue this consumer serves, with its inbox. */
  readonly rt: QueueRuntime;
  readonly #pollInterval: number;
  /**
   * Slots registered in Redis and not yet filled by a job popped from the inbox: kept free,
   * like reserved ones. A step with the consumer's id takes them back.
   */
  slots = 0;
  /** Whether Redis may hold a registration or inbox entries for this consumer. */
  registered = false;
  /** Client time by which to step again while registered (before the registration runs out). */
  registeredUntil = 0;
  /** A closing marker pushed to the inbox has not come back through the pop. */
  markerLeft = false;
  /** Tokens of the jobs popped from the inbox that no step with this consumer's id has confirmed. */
  readonly #received: number[] = [];

  constructor(rt: QueueRuntime, pollInterval: number) {
    this.rt = rt;
    this.#pollInterval = pollInterval;
  }

  /**
   * The step arguments ARGV[14..18] for `mode` (see lua/step.lua): the push flag, the
   * registration's length, the marker flag, the tokens popped since (Redis hands back anything
   * else pushed and no longer in the inbox: a pop whose reply was lost with a dead blocking
   * connection), and the slots believed registered (Redis adds no more of its registration).
   * Returns them with how many tokens they confirm.
   */
  stepArgs(mode: Exclude<PushMode, 'none'>): { args: (string | number | Buffer)[]; confirming: number; believed: number } {
    const confirming = this.#received.length;
    const tokens = Buffer.allocUnsafe(6 * confirming);
    this.#received.forEach((token, i) => tokens.writeUIntBE(token, 6 * i, 6));
    const args = ['1', mode === 'register' ? this.#pollInterval + REGISTRATION_GRACE_MS : 0, mode === 'marker' ? 1 : 0, confirming > 0 ? tokens : '', this.slots];
    return { args, confirming, believed: this.slots };
  }

  /** The step was applied: only its registration stands, and the tokens it confirmed are done. */
  stepDone(registered: number, confirming: number): void {
    this.slots = registered;
    this.registered = registered > 0;
    this.registeredUntil = performance.now() + this.#pollInterval;
    this.#received.splice(0, confirming);
  }

  /** A registering step failed: it may have registered (a lost reply), so keep free what it could have. */
  stepFailed(mode: PushMode, want: number, believed: number): void {
    if (mode !== 'register') return;
    this.slots = Math.max(this.slots, want + believed);
    this.registered = true;
  }

  /**
   * A pop from the inbox returned `element`: the jobs of one enqueue call, each started with
   * `start`, or the empty closing marker. Returns whether it brought jobs.
   */
  received(
    element: Buffer,
    start: (rt: QueueRuntime, id: string, token: number, record: Buffer) => void,
    confirm: (rt: QueueRuntime, lastToken: number) => void,
  ): boolean {
    if (element.length === 0) {
      this.markerLeft = false;
      return false;
    }
    // Read, confirmed, then started, as a step's leases are (step.ts): the push's K_HANDED
    // entry is the one scored with its last token.
    const jobs: [number, string, Buffer][] = [];
    for (let at = 0; at < element.length; ) at = readLeaseEntry(element, at, (token, id, record) => void jobs.push([token, id, record]));
    confirm(this.rt, Math.max(...jobs.map(([token]) => token)));
    for (const [token, id, record] of jobs) {
      this.slots = Math.max(0, this.slots - 1);
      if (this.#received.length < MAX_RECEIVED_TOKENS) this.#received.push(token);
      start(this.rt, id, token, record);
    }
    return true;
  }
}
