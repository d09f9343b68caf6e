import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

const never = () => {
  throw new Error('random() must not be called without jitter');
};

describe('backoffDelay', () => {
  it('no backoff means no delay', () => {
    for (const attempt of [1, 2, 10, 100]) expect(backoffDelay(undefined, attempt, never)).toBe(0);
  });

  it('fixed: the same delay after every try', () => {
    const backoff = { type: 'fixed', delay: 750 } as const;
    for (const attempt of [1, 2, 3, 10, 50]) expect(backoffDelay(backoff, attempt, never)).toBe(750);
  });

  it('fixed with a zero delay retries at once', () => {
    expect(backoffDelay({ type: 'fixed', delay: 0 }, 3, never)).toBe(0);
  });

  it('exponential: the base delay after the first try, then doubling per try', () => {
    const backoff = { type: 'exponential', delay: 100 } as const;
    expect(backoffDelay(backoff, 1, never)).toBe(100);
    let previous = backoffDelay(backoff, 1, never);
    for (let attempt = 2; attempt <= 12; attempt++) {
      const d = backoffDelay(backoff, attempt, never);
      expect(d, `attempt ${attempt}`).toBe(previous * 2);
      previous = d;
    }
    expect(previous).toBe(100 * 2048); // 11 doublings after the first try
  });

  it('exponential with a zero base stays zero', () => {
    expect(backoffDelay({ type: 'exponential', delay: 0 }, 10, never)).toBe(0);
  });

  it('max caps every delay, and delays below it are untouched', () => {
    const backoff = { type: 'exponential', delay: 1_000, max: 5_000 } as const;
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(backoff, a, never))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(backoffDelay(backoff, 1_000, never)).toBe(5_000);
  });

  it('max equal to the delay pins exponential backoff to it', () => {
    const backoff = { type: 'exponential', delay: 300, max: 300 } as const;
    for (const attempt of [1, 2, 7]) expect(backoffDelay(backoff, attempt, never)).toBe(300);
  });

  it('a very high attempt number gives a finite, non-decreasing delay', () => {
    const backoff = { type: 'exponential', delay: 1_000 } as const;
    let previous = 0;
    for (const attempt of [10, 50, 100, 1_000, 1_000_000]) {
      const d = backoffDelay(backoff, attempt, never);
      expect(Number.isFinite(d), `attempt ${attempt}: ${d}`).toBe(true);
      expect(d).toBeGreaterThanOrEqual(previous);
      previous = d;
    }
  });

  it('jitter false behaves like no jitter', () => {
    expect(backoffDelay({ type: 'fixed', delay: 400, jitter: false }, 1, never)).toBe(400);
  });

  describe('jitter', () => {
    it('random 0 gives half the delay, random 1 the full delay (fixed)', () => {
      const backoff = { type: 'fixed', delay: 1_000, jitter: true } as const;
      expect(backoffDelay(backoff, 1, () => 0)).toBe(500);
      expect(backoffDelay(backoff, 1, () => 1)).toBe(1_000);
      expect(backoffDelay(backoff, 1, () => 0.5)).toBe(750);
    });

    it('applies to the exponential delay of that try', () => {
      const backoff = { type: 'exponential', delay: 1_000, jitter: true } as const;
      expect(backoffDelay(backoff, 3, () => 0)).toBe(2_000); // 4000 / 2
      expect(backoffDelay(backoff, 3, () => 1)).toBe(4_000);
    });

    it('spreads the capped delay, never above max', () => {
      const backoff = { type: 'exponential', delay: 1_000, max: 3_000, jitter: true } as const;
      expect(backoffDelay(backoff, 10, () => 0)).toBe(1_500);
      expect(backoffDelay(backoff, 10, () => 1)).toBe(3_000);
    });

    it('stays within [delay/2, delay] for any random value, as whole milliseconds', () => {
      const backoff = { type: 'exponential', delay: 333, max: 10_000, jitter: true } as const;
      for (let attempt = 1; attempt <= 8; attempt++) {
        const full = backoffDelay({ ...backoff, jitter: false }, attempt, never);
        for (let i = 0; i <= 20; i++) {
          const r = i / 20;
          const d = backoffDelay(backoff, attempt, () => r);
          expect(Number.isInteger(d), `${d}`).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(full / 2));
          expect(d).toBeLessThanOrEqual(full);
        }
      }
    });

    it('grows with the random value', () => {
      const backoff = { type: 'fixed', delay: 10_000, jitter: true } as const;
      const values = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1].map((r) => backoffDelay(backoff, 1, () => r));
      expect([...values].sort((a, b) => a - b)).toEqual(values);
      expect(new Set(values).size).toBe(values.length);
    });

    it('uses Math.random by default: values spread over the range', () => {
      const backoff = { type: 'fixed', delay: 10_000, jitter: true } as const;
      const samples = Array.from({ length: 500 }, () => backoffDelay(backoff, 1));
      for (const d of samples) {
        expect(d).toBeGreaterThanOrEqual(5_000);
        expect(d).toBeLessThanOrEqual(10_000);
      }
      expect(new Set(samples).size).toBeGreaterThan(50);
    });
  });
});
