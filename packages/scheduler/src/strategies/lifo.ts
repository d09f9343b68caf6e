import { defineStrategy } from '../strategy.js';
import listLua from './list.lua';
import lua from './lifo.lua';

/** Newest first: the job that became ready last starts first (a batch comes out reversed). */
export const lifo = defineStrategy('lifo', { keepsBatchOrder: false }, `${lua}\n${listLua}`);
