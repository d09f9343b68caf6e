// The strategy conformance suite: the contract every scheduling strategy must meet (strategy.ts),
// run against a real redis-server on the strategy's Lua fragment itself, the way hono's routers
// share `runTest({ newRouter })`. Each strategy's test file calls runStrategyConformance. A
// strategy's order is given by a reference model (@docket/testing's referenceModels); random,
// which has none, is checked for each job coming out exactly once, for reproducibility under
// one seed, and (in its own file) statistically. The end-to-end suite in packages/e2e checks
// the same orders through real producers and consumers.
import {
  type LuaScript as Script,
  LuaScript,
  QUEUE_PRELUDE,
  composeLua,
  queueKeyList,
  queueKeys,
} from '@docket/protocol/internal';
import { Expected, type RefJob, type ReferenceModel, seededNumbers, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import type { Strategy } from '../src/index.js';

// Drives the strategy's functions one operation per call. ARGV[1] op; for push, push_many
// and return: pairs of id, priority; for pop: n and a seed for strategies that pick at random.
const DRIVER = `
local op = ARGV[1]
local ids, priorities = {}, {}
for i = 2, #ARGV - 1, 2 do
  ids[#ids + 1] = ARGV[i]
  priorities[#priorities + 1] = tonumber(ARGV[i + 1])
end
if op == 'push' then
  for i = 1, #ids do strategy_push(ids[i], priorities[i]) end
elseif op == 'push_many' then
  strategy_push_many(ids, priorities)
elseif op == 'return' then
  for i = 1, #ids do strategy_return(ids[i], priorities[i]) end
elseif op == 'pop' then
  local seed = tonumber(ARGV[3])
  local function random()
    seed = (seed * 16807) % 2147483647
    return (seed - 1) / 2147483646
  end
  local out = strategy_pop(tonumber(ARGV[2]), random)
  if type(out) ~= 'table' then return redis.error_reply('strategy_pop returned a ' .. type(out)) end
  return out
elseif op == 'capabilities' then
  return { STRATEGY_KEEPS_BATCH_ORDER and 1 or 0 }
end
return strategy_count()
`;

export interface ConformanceOptions {
  strategy: Strategy;
  /** The strategy's order; null for random (no deterministic order). */
  reference: (() => ReferenceModel) | null;
  /** Priorities the jobs get, by index (default: all 0). */
  priorityOf?: (i: number) => number;
  /** Names the describe block (default: the strategy's name). */
  name?: string;
}

const pairs = (jobs: readonly RefJob[]) => jobs.flatMap((j) => [j.id, j.priority]);

export function runStrategyConformance({ strategy, reference, priorityOf = () => 0, name = strategy.name }: ConformanceOptions): void {
  describe(`strategy conformance: ${name}`, () => {
    const redis = useRedisServer();
    const script: Script = new LuaScript(`conformance-${strategy.name}`, composeLua(...QUEUE_PRELUDE, strategy.lua, DRIVER));
    let seed = 1;

    /** A fresh queue (its own prefix) and the strategy's operations on it. */
    function queue() {
      const keys = queueKeys(uniquePrefix(strategy.name), 'q');
      const keyList = queueKeyList(keys);
      const client = redis.client();
      const run = (...args: (string | number)[]) => script.run(client, keyList, args);
      return {
        keys,
        client,
        push: async (...jobs: RefJob[]) => Number(await run('push', ...pairs(jobs))),
        pushMany: async (...jobs: RefJob[]) => Number(await run('push_many', ...pairs(jobs))),
        giveBack: async (...jobs: RefJob[]) => Number(await run('return', ...pairs(jobs))),
        pop: async (n: number) => {
          const reply = await run('pop', n, seed++);
          expect(Array.isArray(reply)).toBe(true);
          return (reply as Buffer[]).map((b) => b.toString());
        },
        count: async () => Number(await run('count')),
        capabilities: async () => ((await run('capabilities')) as number[])[0] === 1,
      };
    }
    const jobs = (n: number, tag = 'j') => Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, priority: priorityOf(i) }));
    /** What the model says comes out of `pop(n)`, or, for random, undefined. */
    const predict = (model: Expected | undefined, n: number) => model?.pop(n).map((j) => j.id);

    it('pops every pushed job exactly once, in the order the model predicts, whatever the batch sizes', async () => {
      const q = queue();
      const all = jobs(300);
      const model = reference ? new Expected(reference()) : undefined;
      for (let i = 0; i < all.length; i += 37) {
        const chunk = all.slice(i, i + 37);
        await q.push(...chunk);
        model?.push(...chunk);
      }
      const out: string[] = [];
      for (let n = 1; out.length < all.length; n = (n % 13) + 1) {
        const got = await q.pop(n);
        expect(got.length).toBe(Math.min(n, all.length - out.length));
        const expected = predict(model, n);
        if (expected) expect(got).toEqual(expected);
        out.push(...got);
      }
      expect([...out].sort()).toEqual(all.map((j) => j.id).sort());
      expect(await q.count()).toBe(0);
    });

    it('strategy_push_many is the same as strategy_push for each job, in order', async () => {
      const one = queue();
      const many = queue();
      const all = jobs(50);
      for (const job of all) await one.push(job);
      await many.pushMany(...all);
      expect(await many.count()).toBe(50);
      if (reference) expect(await many.pop(50)).toEqual(await one.pop(50));
      else expect((await many.pop(50)).sort()).toEqual((await one.pop(50)).sort());
    });

    it('jobs given back (in reverse hand-out order) are first in line again where the order allows', async () => {
      const q = queue();
      const all = jobs(20);
      const model = reference ? new Expected(reference()) : undefined;
      await q.push(...all);
      model?.push(...all);
      const out = await q.pop(5);
      const handedOut = predict(model, 5);
      if (handedOut) expect(out).toEqual(handedOut);
      const byId = new Map(all.map((j) => [j.id, j]));
      // Callers return a batch newest first, so it comes out in hand-out order (strategy.ts).
      await q.giveBack(...[...out].reverse().map((id) => byId.get(id) as RefJob));
      model?.giveBack(...out.map((id) => byId.get(id) as RefJob));
      const later = jobs(3, 'late');
      await q.push(...later);
      model?.push(...later);
      const rest = await q.pop(100);
      const expected = predict(model, 100);
      if (expected) expect(rest).toEqual(expected);
      expect([...rest].sort()).toEqual([...all.map((j) => j.id), ...later.map((j) => j.id)].sort());
    });

    it('follows the model through a long random mix of pushes, pops and give-backs', async () => {
      const q = queue();
      const model = reference ? new Expected(reference()) : undefined;
      const random = seededNumbers(strategy.name.length * 7919);
      const held: RefJob[] = [];
      const byId = new Map<string, RefJob>();
      let next = 0;
      let waiting = 0;
      for (let step = 0; step < 300; step++) {
        const r = random();
        if (r < 0.45) {
          const batch = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ id: `m-${next}`, priority: priorityOf(next++) }));
          for (const job of batch) byId.set(job.id, job);
          await (random() < 0.5 ? q.push(...batch) : q.pushMany(...batch));
          model?.push(...batch);
          waiting += batch.length;
        } else if (r < 0.85) {
          const n = 1 + Math.floor(random() * 5);
          const got = await q.pop(n);
          const expected = predict(model, n);
          if (expected) expect(got).toEqual(expected);
          expect(got.length).toBe(Math.min(n, waiting));
          waiting -= got.length;
          held.push(...got.map((id) => byId.get(id) as RefJob));
        } else if (held.length > 0) {
          const back = held.splice(0, 1 + Math.floor(random() * held.length));
          await q.giveBack(...[...back].reverse());
          model?.giveBack(...back);
          waiting += back.length;
        }
        expect(await q.count()).toBe(waiting);
      }
    });

    it('returns an empty table from an empty queue, and counts what waits', async () => {
      const q = queue();
      expect(await q.pop(1)).toEqual([]);
      expect(await q.pop(50)).toEqual([]);
      expect(await q.count()).toBe(0);
      const [a, b] = jobs(2) as [RefJob, RefJob];
      expect(await q.push(a, b)).toBe(2);
      expect(await q.pop(1)).toHaveLength(1);
      expect(await q.count()).toBe(1);
      expect(await q.giveBack(a)).toBe(2);
      expect(await q.pop(10)).toHaveLength(2);
      expect(await q.pop(1)).toEqual([]);
    });

    it("touches no key of its queue but the waiting structure (and meta's counters), and no other queue's", async () => {
      const q = queue();
      const other = queue();
      const [x] = jobs(1, 'other') as [RefJob];
      await other.push(x);
      const all = jobs(4);
      await q.push(...all);
      const [first] = await q.pop(1);
      await q.giveBack(all.find((j) => j.id === first) as RefJob);
      for (const [key, name] of Object.entries(q.keys).map(([n, k]) => [k, n])) {
        const allowed = name === 'waiting' || name === 'meta';
        if (!allowed) expect(await q.client.exists(key as string), name).toBe(0);
      }
      expect(await q.client.exists(q.keys.waiting)).toBe(1);
      expect(await other.pop(5)).toEqual([x.id]);
    });

    it('declares its capabilities truthfully (the Lua constants match, and keepsBatchOrder holds when claimed)', async () => {
      const q = queue();
      expect(await q.capabilities()).toBe(strategy.capabilities.keepsBatchOrder);
      if (strategy.capabilities.keepsBatchOrder) {
        const batch = jobs(12, 'batch');
        await q.pushMany(...batch);
        expect(await q.pop(12)).toEqual(batch.map((j) => j.id));
      }
    });

    if (!reference) {
      it('pops in the same order for the same seeds (reproducible), and in another for other seeds', async () => {
        const orderFor = async (seeds: number[]) => {
          const q = queue();
          await q.push(...jobs(40));
          const out: string[] = [];
          for (const s of seeds) {
            seed = s;
            out.push(...(await q.pop(4)));
          }
          return out;
        };
        const seeds = Array.from({ length: 10 }, (_, i) => 1000 + i * 17);
        expect(await orderFor(seeds)).toEqual(await orderFor(seeds));
        expect(await orderFor(seeds.map((s) => s + 1))).not.toEqual(await orderFor(seeds));
      });
    }
  });
}
