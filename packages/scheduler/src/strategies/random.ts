import { defineStrategy } from '../strategy.js';
import lua from './random.lua';

/** A uniformly random job among those waiting, at every pop. */
export const random = defineStrategy('random', { keepsBatchOrder: false }, lua);
