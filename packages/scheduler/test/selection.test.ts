import { isDocketError } from '@docket/protocol';
import { thrown } from '@docket/testing';
import { describe, expect, it } from 'vitest';
import { SELECTION_NAMES, createSelector } from '../src/index.js';

/** The first queue of each of `n` fetches. */
const firsts = (selector: ReturnType<typeof createSelector>, n: number) => Array.from({ length: n }, () => selector.next()[0]);

describe('createSelector', () => {
  it('names the three selections', () => {
    expect([...SELECTION_NAMES]).toEqual(['strict', 'weighted', 'round-robin']);
    for (const name of SELECTION_NAMES) expect(createSelector(name, 2, name === 'weighted' ? [1, 1] : undefined).name).toBe(name);
  });

  describe('strict', () => {
    it('always tries the queues in the given order', () => {
      const s = createSelector('strict', 3);
      for (let i = 0; i < 5; i++) expect(s.next()).toEqual([0, 1, 2]);
    });

    it('with one queue', () => {
      expect(createSelector('strict', 1).next()).toEqual([0]);
    });
  });

  describe('round-robin', () => {
    it('rotates the first queue at every fetch', () => {
      const s = createSelector('round-robin', 3);
      expect([s.next(), s.next(), s.next(), s.next()]).toEqual([
        [0, 1, 2],
        [1, 2, 0],
        [2, 0, 1],
        [0, 1, 2],
      ]);
    });

    it('with one queue', () => {
      const s = createSelector('round-robin', 1);
      expect([s.next(), s.next()]).toEqual([[0], [0]]);
    });
  });

  describe('weighted (smooth weighted round robin)', () => {
    it('3:2:1 gives one exact, evenly spread cycle of six fetches, then repeats', () => {
      const s = createSelector('weighted', 3, [3, 2, 1]);
      const cycle = [
        [0, 1, 2],
        [1, 0, 2],
        [0, 1, 2],
        [2, 0, 1],
        [1, 0, 2],
        [0, 1, 2],
      ];
      expect(Array.from({ length: 6 }, () => s.next())).toEqual(cycle);
      expect(Array.from({ length: 6 }, () => s.next())).toEqual(cycle);
    });

    it.each([
      [[1, 1], [0, 1, 0, 1]],
      [[2, 1], [0, 1, 0, 0, 1, 0]],
      [[5, 1], [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]],
      [[1, 3], [1, 0, 1, 1, 1, 0, 1, 1]],
      [[1, 1, 1], [0, 1, 2, 0, 1, 2]],
      [[4, 2, 1], [0, 1, 0, 2, 0, 1, 0]],
    ])('weights %j: first queues %j', (weights, expected) => {
      expect(firsts(createSelector('weighted', weights.length, weights), expected.length)).toEqual(expected);
    });

    it('exact proportions over every cycle of sum(weights) fetches', () => {
      const weights = [7, 1, 4, 2];
      const s = createSelector('weighted', 4, weights);
      for (let cycle = 0; cycle < 3; cycle++) {
        const counts = [0, 0, 0, 0];
        for (const q of firsts(s, 14)) counts[q as number] = (counts[q as number] ?? 0) + 1;
        expect(counts).toEqual(weights);
      }
    });

    it('spreads turns evenly: a queue with weight 1 of 10 is never more than one cycle away', () => {
      const s = createSelector('weighted', 2, [9, 1]);
      const seq = firsts(s, 100);
      const at = seq.flatMap((q, i) => (q === 1 ? [i] : []));
      expect(at).toHaveLength(10);
      for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBe(10);
    });

    it('after the chosen queue, the others in order of weight (so leftover slots follow the weights)', () => {
      const s = createSelector('weighted', 4, [1, 5, 3, 2]);
      for (let i = 0; i < 22; i++) {
        const [first, ...rest] = s.next();
        expect(new Set([first, ...rest]).size).toBe(4);
        const restWeights = rest.map((q) => [1, 5, 3, 2][q] as number);
        expect(restWeights).toEqual([...restWeights].sort((a, b) => b - a));
      }
    });

    it('every order is a permutation of all queues', () => {
      for (const [name, weights] of [['strict'], ['round-robin'], ['weighted', [3, 1, 2, 1, 1]]] as const) {
        const s = createSelector(name, 5, weights as number[] | undefined);
        for (let i = 0; i < 20; i++) expect([...s.next()].sort()).toEqual([0, 1, 2, 3, 4]);
      }
    });
  });

  describe('validation', () => {
    const expectInvalid = (fn: () => unknown, ...mentions: string[]) => {
      const err = thrown(fn);
      expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
      for (const m of mentions) expect((err as Error).message).toContain(m);
    };

    it.each(['fastest', '', 'Strict', 'round_robin', undefined, 3])('an unknown selection %j names `selection`', (name) => {
      expectInvalid(() => createSelector(name as never, 2), '`selection`');
    });

    it('weighted without weights names `weights` and says how many', () => {
      expectInvalid(() => createSelector('weighted', 3), '`weights`', '3');
    });

    it.each([[[1, 2]], [[1, 2, 3, 4]], [[]], ['3,2,1'], [{ 0: 1, 1: 1, 2: 1, length: 3 }]])('weights %j for three queues name `weights`', (weights) => {
      expectInvalid(() => createSelector('weighted', 3, weights as never), '`weights`');
    });

    it.each([
      [[1, 0], 'weights[1]'],
      [[-1, 1], 'weights[0]'],
      [[1, 1.5], 'weights[1]'],
      [[1, Number.NaN], 'weights[1]'],
      [[1_000_001, 1], 'weights[0]'],
      [['2', 1], 'weights[0]'],
    ])('weights %j: the bad entry is named (`%s`)', (weights, name) => {
      expectInvalid(() => createSelector('weighted', 2, weights as never), `\`${name}\``);
    });

    it('the largest allowed weight, 1,000,000, works', () => {
      expect(firsts(createSelector('weighted', 2, [1_000_000, 1]), 3)).toEqual([0, 0, 0]);
    });

    it.each(['strict', 'round-robin'] as const)('weights given to %s name both `weights` and the selection', (name) => {
      expectInvalid(() => createSelector(name, 2, [1, 2]), '`weights`', `'${name}'`, 'weighted');
    });

    it.each([0, -1, 1.5])('queueCount %j is refused', (n) => {
      expectInvalid(() => createSelector('strict', n), '`queueCount`');
    });
  });
});
