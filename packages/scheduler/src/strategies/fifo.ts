import type { Strategy } from '../strategy.js';
import lua from './fifo.lua';

/** Oldest first: jobs start in the order they became ready. */
export const fifo: Strategy = Object.freeze({ name: 'fifo', lua });
