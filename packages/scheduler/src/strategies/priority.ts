import type { Strategy } from '../strategy.js';
import lua from './priority.lua';

/** Highest priority first (integers from -1,000,000 to 1,000,000), first-in first-out among equals. */
export const priority: Strategy = Object.freeze({ name: 'priority', lua });
