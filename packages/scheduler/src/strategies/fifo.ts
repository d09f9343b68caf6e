import { defineStrategy } from '../strategy.js';
import lua from './fifo.lua';
import listLua from './list.lua';

/** Oldest first: jobs start in the order they became ready. */
export const fifo = defineStrategy('fifo', { keepsBatchOrder: true }, `${lua}\n${listLua}`);
