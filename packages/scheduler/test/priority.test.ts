// priority passes the strategy conformance suite (conformance.ts): with mixed priorities (ties
// included), and with one priority for all, where it must behave exactly like fifo.
import { referenceModels } from '@docket/testing';
import { priority } from '../src/index.js';
import { runStrategyConformance } from './conformance.js';

runStrategyConformance({
  strategy: priority,
  name: 'priority (mixed priorities)',
  reference: referenceModels.priority,
  priorityOf: (i) => [2, 0, 2, -1, 0, 2, 1, -1_000_000, 1_000_000][i % 9] as number,
});
runStrategyConformance({ strategy: priority, name: 'priority (all equal: fifo)', reference: referenceModels.fifo });
