// Reference models of the scheduling strategies' orders, in plain TypeScript: what the
// strategy conformance suite (packages/scheduler/test/conformance.ts) and the end-to-end
// strategy suite (packages/e2e) compare a real queue with. A model is told what happened
// (a job became ready, jobs came back unfinished) and predicts which job comes out next.

/** The strategies with a deterministic order (random has none). */
export type OrderedStrategy = 'fifo' | 'lifo' | 'priority';

/** A job as the reference models see it. */
export interface RefJob {
  readonly id: string;
  readonly priority: number;
}

/** The order of one strategy, in plain TypeScript. */
export interface ReferenceModel {
  /** A job becomes ready: enqueued, promoted when its delay or backoff is over, or retried. */
  push(job: RefJob): void;
  /**
   * Jobs handed out earlier come back unfinished (released by a closing consumer, or
   * recovered after theirs died), listed in the order they were handed out: they are first in
   * line again where the order allows, in that same order among themselves.
   */
  giveBack(jobs: readonly RefJob[]): void;
  /** Removes and returns the job the strategy hands out next; undefined if none is waiting. */
  pop(): RefJob | undefined;
}

/** The documented orders (DESIGN.md, guarantee 3, and the scheduler's strategy docs). */
export const referenceModels: Record<OrderedStrategy, () => ReferenceModel> = {
  /** Oldest first: ready jobs join at the back; a job that comes back is first in line. */
  fifo() {
    const line: RefJob[] = [];
    return { push: (j) => void line.push(j), giveBack: (jobs) => void line.unshift(...jobs), pop: () => line.shift() };
  },
  /** Newest first: ready jobs and jobs that come back are both next out. */
  lifo() {
    const stack: RefJob[] = [];
    return { push: (j) => void stack.unshift(j), giveBack: (jobs) => void stack.unshift(...jobs), pop: () => stack.shift() };
  },
  /**
   * Highest priority first; among equal priorities, jobs that came back first (the latest
   * batch first, each batch in the order it was handed out), then ready jobs oldest first (in
   * the order they became ready).
   */
  priority() {
    const waiting: { job: RefJob; back: boolean; seq: number }[] = [];
    let seq = 0;
    let backBatch = 0;
    const before = (a: (typeof waiting)[number], b: (typeof waiting)[number]) =>
      a.job.priority !== b.job.priority ? a.job.priority > b.job.priority : a.back !== b.back ? a.back : a.seq < b.seq;
    return {
      push: (job) => void waiting.push({ job, back: false, seq: seq++ }),
      // A later batch goes ahead of earlier ones (the latest returned first, as fifo and lifo
      // do); within a batch, hand-out order. Back entries' seq counts down by batch.
      giveBack: (jobs) => {
        backBatch -= jobs.length;
        jobs.forEach((job, i) => waiting.push({ job, back: true, seq: backBatch + i }));
      },
      pop() {
        if (waiting.length === 0) return undefined;
        let best = 0;
        for (let i = 1; i < waiting.length; i++) if (before(waiting[i]!, waiting[best]!)) best = i;
        return waiting.splice(best, 1)[0]!.job;
      },
    };
  },
};

/** Replays events on a reference model and collects the start order it predicts. */
export class Expected {
  readonly order: string[] = [];
  constructor(private readonly model: ReferenceModel) {}
  push(...jobs: RefJob[]): this {
    for (const job of jobs) this.model.push(job);
    return this;
  }
  giveBack(...jobs: RefJob[]): this {
    this.model.giveBack(jobs);
    return this;
  }
  /** Forgets the order predicted so far (for a second consumer that takes over). */
  resetOrder(): this {
    this.order.length = 0;
    return this;
  }
  /** Pops up to `n` jobs (all if no n) and returns them. */
  pop(n = Number.POSITIVE_INFINITY): RefJob[] {
    const out: RefJob[] = [];
    while (out.length < n) {
      const job = this.model.pop();
      if (!job) break;
      out.push(job);
      this.order.push(job.id);
    }
    return out;
  }
}

/** A job id whose lexicographic order differs from `i`'s: a letter from a stride over the alphabet, then tag and i. */
export function scrambledId(tag: string, i: number): string {
  return `${String.fromCharCode(97 + ((7 + i * 7) % 26))}${tag}${String(i).padStart(2, '0')}`;
}

/** The start order of `jobs` (in the order they became ready) when nothing else happens. */
export function expectedOrder(reference: () => ReferenceModel, jobs: readonly RefJob[]): string[] {
  const expected = new Expected(reference()).push(...jobs);
  expected.pop();
  return expected.order;
}

