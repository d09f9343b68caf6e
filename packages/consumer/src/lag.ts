import { performance } from 'node:perf_hooks';

/** How long warnings about a blocked event loop are held back after one (ms). */
const WARN_EVERY_MS = 60_000;
/** Blocks remembered for explaining lost leases (the most recent ones). */
const KEEP_BLOCKS = 8;
/** How long after a block ends a lost lease may still be blamed on it, beyond leaseDuration (ms). */
const BLAME_SLACK_MS = 5_000;

const fmt = (ms: number) => Math.round(ms).toLocaleString('en-US');

/**
 * Watches the consumer's own event loop for long blocks: a handler doing synchronous CPU work
 * stops everything else in the process, lease renewal included. A timer that should fire every
 * `tick` ms measures how late it fires; being `late` ms late means the loop was blocked for at
 * least that long (and at most `tick` ms longer). The cost is one timer callback per tick
 * (`leaseDuration / 10`, 50 ms to 1 s), nothing per job.
 *
 * Blocks of a third of `leaseDuration` or more (one renewal period) are remembered, so that a
 * lost lease can name its cause, and reported through `warn`, at most once a minute.
 */
export class LoopWatch {
  readonly #leaseDuration: number;
  readonly #tick: number;
  readonly #threshold: number;
  readonly #warn: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #lastWarning = Number.NEGATIVE_INFINITY;
  /** Recent long blocks, oldest first: how long (ms) and when they ended (performance.now()). */
  readonly #blocks: { ms: number; endedAt: number }[] = [];

  constructor({ leaseDuration, warn }: { leaseDuration: number; warn: (message: string) => void }) {
    this.#leaseDuration = leaseDuration;
    this.#tick = Math.min(1_000, Math.max(50, Math.round(leaseDuration / 10)));
    this.#threshold = leaseDuration / 3;
    this.#warn = warn;
  }

  start(): void {
    if (this.#timer) return;
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#check(), this.#tick);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Measures the time since the last check; also called on demand, for a block that just ended. */
  #check(): void {
    if (!this.#timer) return;
    const now = performance.now();
    const late = now - this.#last - this.#tick;
    this.#last = now;
    if (late < this.#threshold) return;
    this.#blocks.push({ ms: late, endedAt: now });
    if (this.#blocks.length > KEEP_BLOCKS) this.#blocks.shift();
    if (now - this.#lastWarning >= WARN_EVERY_MS) {
      this.#lastWarning = now;
      this.#warn(`[docket] T${this.#describe(late).slice(1)}`);
    }
  }

  #describe(ms: number): string {
    const lease = fmt(this.#leaseDuration);
    const measure =
      ms >= this.#leaseDuration
        ? `longer than leaseDuration, ${lease} ms`
        : `leaseDuration is ${lease} ms, renewed every ${fmt(this.#leaseDuration / 3)} ms`;
    return (
      `the event loop was blocked for at least ${fmt(ms)} ms (${measure}): a handler doing synchronous CPU work ` +
      'blocks lease renewal, and its jobs are handed to other consumers once their leases expire; ' +
      'run such handlers with `sandbox` or split the work'
    );
  }

  /**
   * Why a lease was lost, for the LEASE_LOST message: a recent block long enough to explain it
   * (half of leaseDuration or more: renewal runs every third), else the generic causes.
   */
  leaseLossCause(): string {
    this.#check();
    const since = performance.now() - this.#leaseDuration - BLAME_SLACK_MS;
    let longest = 0;
    for (const block of this.#blocks) if (block.endedAt >= since && block.ms > longest) longest = block.ms;
    if (longest >= this.#leaseDuration / 2) return this.#describe(longest);
    return `the consumer lost Redis or stalled for longer than leaseDuration (${fmt(this.#leaseDuration)} ms)`;
  }
}
