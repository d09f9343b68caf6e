import { DocketError } from '@docket/protocol';
import { checkInteger, checkOneOf, invalid } from '@docket/protocol/internal';

/** How a consumer that serves several queues decides which one to fill its free slots from first. */
export type SelectionName = 'strict' | 'weighted' | 'round-robin';

export const SELECTION_NAMES: readonly SelectionName[] = ['strict', 'weighted', 'round-robin'];

/**
 * Gives, for each fetch, the order in which to try the queues (indexes into the consumer's
 * queue list). Free slots are filled from the first queue in the order; later queues get what
 * earlier ones leave, so no selection idles while any queue has work.
 */
export interface Selector {
  readonly name: SelectionName;
  next(): number[];
}

/**
 * - `strict`: always in the given order. A busy first queue starves the others (by design:
 *   use it for "urgent before normal").
 * - `round-robin`: the first queue rotates at every fetch. Fair by turns, whatever the
 *   queue lengths; a queue with more work does not get more turns.
 * - `weighted`: a queue with weight 3 is first three times as often as one with weight 1
 *   (smooth weighted round robin: deterministic, evenly spread, exact proportions over each
 *   cycle of sum(weights) fetches). No queue starves while its weight is at least 1.
 */
export function createSelector(name: SelectionName, queueCount: number, weights?: readonly number[]): Selector {
  checkOneOf('selection', name, SELECTION_NAMES);
  checkInteger('queueCount', queueCount, 1);
  if (name !== 'weighted' && weights !== undefined) {
    throw new DocketError('INVALID_ARGUMENT', `\`weights\` apply only to selection 'weighted' (got selection '${name}')`);
  }
  const all = Array.from({ length: queueCount }, (_, i) => i);
  if (name === 'strict') return { name, next: () => all };
  if (name === 'round-robin') {
    let start = 0;
    return {
      name,
      next() {
        const order = all.map((_, i) => (start + i) % queueCount);
        start = (start + 1) % queueCount;
        return order;
      },
    };
  }
  if (!Array.isArray(weights) || weights.length !== queueCount) {
    throw invalid('weights', `an array of ${queueCount} integers >= 1 (one per queue)`, weights);
  }
  weights.forEach((w, i) => checkInteger(`weights[${i}]`, w, 1, 1_000_000));
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  return {
    name,
    next() {
      let best = 0;
      for (let i = 0; i < queueCount; i++) {
        current[i] = (current[i] as number) + (weights[i] as number);
        if ((current[i] as number) > (current[best] as number)) best = i;
      }
      current[best] = (current[best] as number) - total;
      // The chosen queue first, then the others by weight, so leftover slots still go where
      // the weights point.
      return [best, ...all.filter((i) => i !== best).sort((a, b) => (weights[b] as number) - (weights[a] as number))];
    },
  };
}
