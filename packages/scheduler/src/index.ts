// Strategies
export { getStrategy, type Strategy } from './strategy.js';
export { fifo } from './strategies/fifo.js';
