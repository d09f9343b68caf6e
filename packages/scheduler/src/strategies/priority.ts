import { defineStrategy } from '../strategy.js';
import lua from './priority.lua';

/**
 * Highest priority first (integers from -1,000,000 to 1,000,000), first-in first-out among
 * equals. A batch keeps its order only among equal priorities, so it does not claim to.
 */
export const priority = defineStrategy('priority', { keepsBatchOrder: false }, lua);
