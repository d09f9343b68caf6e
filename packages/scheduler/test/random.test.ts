// random passes the strategy conformance suite (conformance.ts); it has no order to compare
// with, so the suite checks that each job comes out once and that a seed makes it reproducible.
import { random } from '../src/index.js';
import { runStrategyConformance } from './conformance.js';

runStrategyConformance({ strategy: random, reference: null });
