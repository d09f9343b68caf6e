// Strategies
export { defineStrategy, type Strategy, type StrategyCapabilities } from './strategy.js';
export { getStrategy } from './registry.js';
export { fifo } from './strategies/fifo.js';
export { lifo } from './strategies/lifo.js';
export { priority } from './strategies/priority.js';
export { random } from './strategies/random.js';

// Selection across queues
export { SELECTION_NAMES, createSelector, type SelectionName, type Selector } from './selection.js';
export { seededRandom } from './seeded-random.js';
