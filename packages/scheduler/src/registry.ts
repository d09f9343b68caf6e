import { DocketError, type StrategyName } from '@docket/protocol';
import { fifo } from './strategies/fifo.js';
import { lifo } from './strategies/lifo.js';
import { priority } from './strategies/priority.js';
import { random } from './strategies/random.js';
import type { Strategy } from './strategy.js';

const registry: Record<StrategyName, Strategy> = { fifo, lifo, random, priority };

/** The strategy a queue definition names; throws if this build does not provide it. */
export function getStrategy(name: StrategyName): Strategy {
  const strategy = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (!strategy) {
    const known = Object.keys(registry).map((n) => `'${n}'`).join(', ');
    throw new DocketError('INVALID_ARGUMENT', `Expected \`strategy\` to be one of ${known}, got \`'${name}'\` (not available yet)`);
  }
  return strategy;
}
