// The scenarios of `pnpm bench`, in the order they run (and their rows appear). Adding one: a
// file in this folder that exports a Scenario (see ../scenario.ts), and its line below.
import type { Scenario } from '../scenario.js';
import { bulk } from './bulk.js';
import { enqueue } from './enqueue.js';
import { idle } from './idle.js';
import { latency } from './latency.js';
import { manyQueues } from './many-queues.js';
import { memory } from './memory.js';
import { priority } from './priority.js';
import { processing } from './process.js';

export const SCENARIOS: readonly Scenario[] = [enqueue, bulk, processing, latency, memory, priority, idle, manyQueues];
