// Guarantees 1 and 7 under fire: consumers SIGKILLed every 2 s, redis-server SIGKILLed twice and
// restarted on its AOF, the network cut once for 3 s, all while a producer process enqueues.
// `pnpm test` runs the short form (CHAOS_JOBS, default 3000); `pnpm test:chaos` the full one
// (20,000 jobs, vitest.chaos.config.ts). See test/chaos-run.ts for the scenario.
import { describe, expect, it } from 'vitest';
import { type ChaosOptions, runChaos } from './chaos-run.js';

const jobs = Number(process.env.CHAOS_JOBS ?? 3000);
const full = jobs >= 10_000;
const options: ChaosOptions = {
  jobs,
  // About 200 jobs/s in the short form, 500/s in the full one: work is always queued when a fault hits.
  seconds: Number(process.env.CHAOS_SECONDS ?? (full ? Math.ceil(jobs / 500) : Math.ceil(jobs / 200))),
  consumers: 4,
  concurrency: 8,
  leaseDuration: 3_000,
  killEvery: 2_000,
  redisDown: 1_000,
  proxyOutage: 3_000,
  // Tries take 1-60 ms, so a killed consumer usually has several in flight.
  workMs: 60,
  deadline: full ? 600_000 : 100_000,
  verbose: process.env.CHAOS_VERBOSE === '1' || full,
};

describe('chaos', () => {
  it(
    `${jobs} jobs through consumer kills, two redis-server kills and a network outage: none lost, duplicates bounded`,
    async () => {
      const r = await runChaos(options);
      console.log(r.verdict);
      for (const f of r.faults) {
        console.log(`  ${f.kind}: down ${f.end - f.start} ms, ${f.leased} jobs leased, completions resumed ${f.recovery ?? 'never'} ms after`);
      }
      const helds = r.consumerKills.map((k) => k.held);
      console.log(
        `  consumer kills: ${r.consumerKills.length}, held at kill ${Math.min(...helds)}..${Math.max(...helds)}; ` +
          `tries ${r.tries}; rejected calls ${r.rejections.length} (${r.rejectedButStored} of them stored anyway); ` +
          `lease-lost reports ${r.leaseLost}; proxy connections accepted ${r.proxyAccepted}, dropped/refused ${r.proxyDropped}`,
      );
      const pc = r.phantomCauses;
      console.log(
        `  attempts counted without a try (leases whose reply never reached a running consumer): ${r.phantomAttempts} ` +
          `(taken at a consumer kill ${pc.consumerKill}, at a Redis fault ${pc.redisFault}, other ${pc.other})`,
      );
      const messages = [...new Set(r.rejections.map((x) => `${x.code}: ${x.message}`))];
      for (const m of messages.slice(0, 3)) console.log(`  rejected with ${m}`);

      // The chaos really happened, and through the proxy.
      expect(r.faults.map((f) => f.kind)).toEqual(['redis-kill', 'proxy-outage', 'redis-kill']);
      expect(r.consumerKills.length).toBeGreaterThanOrEqual(Math.floor((options.seconds * 1000) / options.killEvery) - 1);
      expect(r.proxyAccepted).toBeGreaterThan(options.consumers);
      expect(r.proxyDropped).toBeGreaterThan(0);
      expect(r.consumerKills.some((k) => k.held > 0), 'some consumer was killed with jobs in flight').toBe(true);

      // Every enqueue resolved in the end (rejected calls were retried with the same id)...
      expect(r.resolved).toBe(jobs);
      // ...and every one that resolved ran and is completed: nothing lost.
      expect(r.lost, `lost jobs:\n${r.lostDetail.join('\n')}`).toEqual([]);
      expect(r.completed).toBe(jobs);
      expect(r.dead).toEqual([]);

      // No attempt is counted without a try: leases whose step reply never reached a running
      // consumer (killed with it in flight, or its connection dropped) go back uncounted.
      expect(r.phantomAttempts, 'attempts counted without a try').toBe(0);

      // Duplicates come only from what the faults caught in flight.
      expect(r.duplicates).toBeLessThanOrEqual(r.duplicateBound);

      // Enqueues made while Redis was unreachable rejected, each with a clear error: a
      // DocketError (REDIS_ERROR naming the queue, or CONNECTION_FAILED naming the address) and the cause, while or shortly after a fault.
      expect(r.rejections.length, 'the outages reached the producer').toBeGreaterThan(0);
      for (const x of r.rejections) {
        expect(x.name).toBe('DocketError');
        // REDIS_ERROR: the connection dropped under a call; CONNECTION_FAILED: no connection
        // came back within the producer's connectTimeout.
        expect(['REDIS_ERROR', 'CONNECTION_FAILED']).toContain(x.code);
        if (x.code === 'REDIS_ERROR') expect(x.message).toMatch(new RegExp(`^Enqueueing to queue "${r.queue}" failed: \\S.*`));
        else expect(x.message).toMatch(/^Could not connect to redis:\/\/127\.0\.0\.1:\d+: \S.*/);
        const during = r.faults.some((f) => x.at >= f.start && x.at <= f.end + 10_000);
        expect(during, `rejection outside any fault: ${JSON.stringify(x)}`).toBe(true);
      }
    },
    options.deadline + 60_000,
  );
});
