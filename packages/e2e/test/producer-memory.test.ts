// A producer's memory does not grow with the number of distinct queue names it has used
// (per-tenant queues): its per-queue state is bounded, and close() frees it.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sourceNodeArgs, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';

const redis = useRedisServer();
const MB = 1024 * 1024;

interface HeapReport {
  before: number;
  used: number;
  closed: number;
}

function measure(queues: number): Promise<HeapReport> {
  const child = fork(fileURLToPath(new URL('../fixtures/producer-heap.mjs', import.meta.url)), [JSON.stringify({ url: redis.url, prefix: uniquePrefix(), queues })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...sourceNodeArgs(), '--expose-gc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as HeapReport));
    child.once('exit', (code) => reject(new Error(`the producer child exited (${code}) without a report`)));
  });
}

describe('a producer that used 10,000 queue names', () => {
  it('grows its heap by at most 20 MB, and close() frees it', { timeout: 120_000 }, async () => {
    const report = await measure(10_000);
    const grown = (report.used - report.before) / MB;
    const left = (report.closed - report.before) / MB;
    console.log(`producer heap over 10,000 queue names: +${grown.toFixed(1)} MB in use, +${left.toFixed(1)} MB after close()`);
    expect(grown).toBeLessThanOrEqual(20);
    expect(left).toBeLessThanOrEqual(2);
    // The keys really are there: one job in each of the 10,000 queues (and the warm-up's).
    const client = redis.client();
    let metas = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', '*:meta', 'COUNT', 5_000);
      cursor = next;
      metas += keys.length;
    } while (cursor !== '0');
    expect(metas).toBeGreaterThanOrEqual(10_001);
  });
});
