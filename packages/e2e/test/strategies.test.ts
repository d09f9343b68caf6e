// The strategies end to end (strategies-end-to-end.ts), run for every strategy; the conformance suite of the strategy contract itself runs in packages/scheduler.
import { STRATEGY_NAMES } from '@docket/protocol';
import { describe, expect, it } from 'vitest';
import { referenceModels, runStrategyConformance } from './strategies-end-to-end.js';

it('the suite covers every strategy the protocol names', () => {
  expect([...STRATEGY_NAMES].sort()).toEqual(['fifo', 'lifo', 'priority', 'random']);
});

runStrategyConformance({ strategy: 'fifo', reference: referenceModels.fifo });
runStrategyConformance({ strategy: 'lifo', reference: referenceModels.lifo });
runStrategyConformance({ strategy: 'random', reference: null });
// Priority twice: with mixed priorities (ties included), and with one priority for all, where
// it must behave exactly like fifo.
runStrategyConformance({
  strategy: 'priority',
  name: 'priority (mixed priorities)',
  reference: referenceModels.priority,
  priorityOf: (i) => [2, 0, 2, -1, 0, 2, 1][i % 7] as number,
});
describe('priority with equal priorities', () => {
  runStrategyConformance({ strategy: 'priority', name: 'priority (all equal: fifo)', reference: referenceModels.fifo });
});
