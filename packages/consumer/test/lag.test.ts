// LoopWatch: a blocked event loop is noticed when it wakes up, warned about (rate-limited), and
// named as the cause of a lease lost soon after. The blocks are real synchronous busy-waits.
import { sleep } from '@docket/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopWatch } from '../src/lag.js';

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // deliberately blocking, like a CPU-bound handler
  }
}
/** The "at least N ms" figure of a message. */
const blockedMs = (message: string) => Number(/blocked for at least ([\d,]+) ms/.exec(message)?.[1]?.replaceAll(',', ''));

const watches: LoopWatch[] = [];
function watch(leaseDuration: number): { watch: LoopWatch; warnings: string[] } {
  const warnings: string[] = [];
  const w = new LoopWatch({ leaseDuration, warn: (m) => warnings.push(m) });
  watches.push(w);
  return { watch: w, warnings };
}
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

describe('LoopWatch', () => {
  it('names a block longer than leaseDuration as the cause of a lost lease, and warns once a minute', async () => {
    const { watch: w, warnings } = watch(3_000);
    w.start();
    await sleep(400);
    expect(warnings).toEqual([]);
    blockFor(3_500);
    // Asked right away (before its timer ran), it measures the block that just ended.
    const cause = w.leaseLossCause();
    expect(cause).toMatch(/^the event loop was blocked for at least [\d,]+ ms \(longer than leaseDuration, 3,000 ms\)/);
    expect(cause).toContain('`sandbox`');
    expect(blockedMs(cause)).toBeGreaterThanOrEqual(3_000); // a lower bound: the block was 3,500 ms
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[docket\] The event loop was blocked for at least [\d,]+ ms \(longer than leaseDuration, 3,000 ms\)/);
    // A second block within the minute is remembered but not warned about again.
    await sleep(400);
    blockFor(1_600);
    await sleep(400);
    expect(warnings).toHaveLength(1);
    expect(w.leaseLossCause()).toMatch(/event loop was blocked/);
  });

  it('blames nothing when the loop was not blocked', async () => {
    const { watch: w, warnings } = watch(30_000);
    w.start();
    await sleep(700);
    expect(w.leaseLossCause()).toBe('the consumer lost Redis or stalled for longer than leaseDuration (30,000 ms)');
    expect(warnings).toEqual([]);
  });

  it('measures nothing once stopped (or before it starts)', async () => {
    const { watch: w, warnings } = watch(600);
    blockFor(900);
    expect(w.leaseLossCause()).toMatch(/^the consumer lost Redis or stalled/);
    w.start();
    w.stop();
    blockFor(900);
    await sleep(200);
    expect(w.leaseLossCause()).toMatch(/^the consumer lost Redis or stalled/);
    expect(warnings).toEqual([]);
  });
});
