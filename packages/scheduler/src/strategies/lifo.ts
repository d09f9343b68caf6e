import type { Strategy } from '../strategy.js';
import lua from './lifo.lua';

/** Newest first: the job that became ready last starts first. */
export const lifo: Strategy = Object.freeze({ name: 'lifo', lua });
