// What a consumer of several queues knows about each one between steps: whether it may have
// work now (a ready-channel message, or a step that leased all it asked for), and when it
// should be stepped again anyway (its next delayed job, its earliest lease deadline, another
// consumer's registration running out). Steps go only to those queues, so neither a round nor
// an idle consumer costs more with more queues.
import type { StepResult } from './types.js';

export class QueueSchedule {
  readonly #ready: Uint8Array;
  #readyCount = 0;
  /** performance.now() at which each queue is due for a step (Infinity: not due). */
  readonly #dueAt: Float64Array;
  /** A lower bound of the earliest due time (exact after #recompute). */
  #nextDue = Number.POSITIVE_INFINITY;

  /** Every queue starts as possibly having work: the first round looks at each once. */
  constructor(size: number) {
    this.#ready = new Uint8Array(size);
    this.#dueAt = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
    this.markAllReady();
  }

  markReady(index: number): void {
    if (this.#ready[index] === 1) return;
    this.#ready[index] = 1;
    this.#readyCount++;
  }

  markAllReady(): void {
    this.#ready.fill(1);
    this.#readyCount = this.#ready.length;
  }

  isReady(index: number): boolean {
    return this.#ready[index] === 1;
  }

  hasReady(): boolean {
    return this.#readyCount > 0;
  }

  isDue(index: number): boolean {
    return (this.#dueAt[index] as number) <= performance.now();
  }

  hasDue(): boolean {
    return this.nextDueAt() <= performance.now();
  }

  /** The earliest time a queue is due (performance.now()), Infinity if none. */
  nextDueAt(): number {
    if (this.#nextDue <= performance.now()) this.#recompute();
    return this.#nextDue;
  }

  /** The queues due now; they stay due until stepped. */
  takeDue(): number[] {
    const now = performance.now();
    if (this.#nextDue > now) return [];
    const due: number[] = [];
    this.#dueAt.forEach((at, i) => {
      if (at <= now) due.push(i);
    });
    return due;
  }

  /**
   * Queue `index` was stepped asking for `want` jobs: fewer leased means it has no more work
   * for now. It is due again at its next delayed job, or for housekeeping (lease deadlines,
   * registrations running out) no sooner than `housekeepingEvery` from now, when a step does
   * housekeeping again.
   */
  stepped(index: number, want: number, result: StepResult, housekeepingEvery: number): void {
    if (want > 0 && result.leased < want && this.#ready[index] === 1) {
      this.#ready[index] = 0;
      this.#readyCount--;
    }
    const now = performance.now();
    const housekeeping = Number.isFinite(result.nextHousekeepingIn) ? now + Math.max(result.nextHousekeepingIn, housekeepingEvery) : Number.POSITIVE_INFINITY;
    const at = Math.min(now + Math.max(result.nextDueIn, 0), housekeeping);
    this.#dueAt[index] = at;
    if (at < this.#nextDue) this.#nextDue = at;
  }

  #recompute(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const at of this.#dueAt) if (at < min) min = at;
    this.#nextDue = min;
  }
}
