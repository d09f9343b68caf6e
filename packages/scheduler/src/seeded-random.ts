import { checkInteger } from '@docket/protocol/internal';

/**
 * A small seeded generator of numbers in [0, 1) (mulberry32), for a consumer's `random`
 * option: the same seed gives the same order of a 'random' queue, run after run.
 *
 * @example
 * new Consumer({ queues: [lottery], random: seededRandom(42), handler });
 */
export function seededRandom(seed: number): () => number {
  checkInteger('seed', seed, 0, 0xffffffff);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
