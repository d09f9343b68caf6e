import { STRATEGY_NAMES, isDocketError } from '@docket/protocol';
import { LuaScript, RECORD_LUA, composeLua, queueKeyList, queueKeys } from '@docket/protocol/internal';
import { type RedisServer, referenceModels, thrown, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { fifo, getStrategy } from '../src/index.js';
import { runStrategyConformance } from './conformance.js';

describe('getStrategy', () => {
  it("returns fifo for 'fifo'", () => {
    const s = getStrategy('fifo');
    expect(s).toBe(fifo);
    expect(s.name).toBe('fifo');
    expect(typeof s.lua).toBe('string');
  });

  it.each(['bogus', '', 'FIFO', 'fifo '])('throws INVALID_ARGUMENT for the unknown name %j', (name) => {
    const err = thrown(() => getStrategy(name as never));
    expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    expect((err as Error).message).toContain('`strategy`');
    expect((err as Error).message).toContain(`'${name}'`);
  });

  // The registry must not "find" members of Object.prototype.
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'throws INVALID_ARGUMENT for %j, a name inherited from Object.prototype',
    (name) => {
      const err = thrown(() => getStrategy(name as never));
      expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    },
  );

  it.each(STRATEGY_NAMES)('%s is either provided, complete, or refused with a DocketError', (name) => {
    let strategy: ReturnType<typeof getStrategy> | undefined;
    try {
      strategy = getStrategy(name);
    } catch (err) {
      // Not in this build yet: the error must say so in docket's terms.
      expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
      expect((err as Error).message).toContain(name);
      return;
    }
    expect(strategy.name).toBe(name);
    for (const fn of ['strategy_push', 'strategy_return', 'strategy_pop', 'strategy_count']) {
      expect(strategy.lua).toMatch(new RegExp(`local function ${fn}\\(`));
    }
  });
});

describe('fifo.lua (real redis-server)', () => {
  const server = useRedisServer({ appendonly: false });
  let redis: ReturnType<RedisServer['client']>;

  // A tiny test body: ARGV[1] is the operation, the rest its arguments.
  const body = `
local op = ARGV[1]
if op == 'push' then
  for i = 2, #ARGV do strategy_push(ARGV[i], 0) end
  return strategy_count()
elseif op == 'return' then
  for i = 2, #ARGV do strategy_return(ARGV[i], 0) end
  return strategy_count()
elseif op == 'pop' then
  local ids = strategy_pop(tonumber(ARGV[2]))
  if type(ids) ~= 'table' then return redis.error_reply('strategy_pop returned a ' .. type(ids)) end
  return ids
elseif op == 'count' then
  return strategy_count()
end
return redis.error_reply('unknown op ' .. tostring(op))
`;
  const script = new LuaScript('fifo-test', composeLua(RECORD_LUA, fifo.lua, body));

  beforeAll(() => {
    redis = server.client();
  });

  function queue() {
    const keys = queueKeys(uniquePrefix('fifo'), 'q');
    const keyList = queueKeyList(keys);
    const run = (...args: (string | number)[]) => script.run(redis, keyList, args);
    return {
      keys,
      push: async (...ids: string[]) => Number(await run('push', ...ids)),
      giveBack: async (...ids: string[]) => Number(await run('return', ...ids)),
      pop: async (n: number) => {
        const reply = await run('pop', n);
        expect(Array.isArray(reply)).toBe(true);
        return (reply as Buffer[]).map((b) => b.toString());
      },
      count: async () => Number(await run('count')),
    };
  }

  it('pops the oldest first', async () => {
    const q = queue();
    await q.push('a');
    await q.push('b');
    await q.push('c');
    expect(await q.pop(1)).toEqual(['a']);
    expect(await q.pop(1)).toEqual(['b']);
    expect(await q.pop(1)).toEqual(['c']);
  });

  it('a batch pop comes out in start order', async () => {
    const q = queue();
    await q.push('j1', 'j2', 'j3', 'j4');
    expect(await q.pop(3)).toEqual(['j1', 'j2', 'j3']);
    expect(await q.pop(3)).toEqual(['j4']);
  });

  it('keeps push order across many jobs and mixed batch sizes', async () => {
    const q = queue();
    const ids = Array.from({ length: 1000 }, (_, i) => `job-${i}`);
    for (let i = 0; i < ids.length; i += 100) await q.push(...ids.slice(i, i + 100));
    const out: string[] = [];
    for (let n = 1; out.length < ids.length; n = (n % 13) + 1) out.push(...(await q.pop(n)));
    expect(out).toEqual(ids);
  });

  it('interleaved pushes and pops stay oldest first', async () => {
    const q = queue();
    await q.push('1', '2');
    expect(await q.pop(1)).toEqual(['1']);
    await q.push('3');
    expect(await q.pop(5)).toEqual(['2', '3']);
    await q.push('4');
    expect(await q.pop(1)).toEqual(['4']);
  });

  it('strategy_return puts a job first in line again', async () => {
    const q = queue();
    await q.push('a', 'b', 'c');
    expect(await q.pop(1)).toEqual(['a']);
    await q.giveBack('a');
    expect(await q.pop(1)).toEqual(['a']);
    expect(await q.pop(1)).toEqual(['b']);
  });

  it('a returned job goes ahead of jobs pushed after it and before it', async () => {
    const q = queue();
    await q.push('old');
    await q.giveBack('back');
    await q.push('new');
    expect(await q.pop(3)).toEqual(['back', 'old', 'new']);
  });

  it('strategy_return on an empty queue', async () => {
    const q = queue();
    expect(await q.giveBack('only')).toBe(1);
    expect(await q.pop(1)).toEqual(['only']);
    expect(await q.count()).toBe(0);
  });

  it('strategy_pop(n) returns at most n', async () => {
    const q = queue();
    await q.push('a', 'b', 'c', 'd', 'e');
    const first = await q.pop(2);
    expect(first).toHaveLength(2);
    expect(await q.count()).toBe(3);
    const rest = await q.pop(10);
    expect(rest).toHaveLength(3);
    expect([...first, ...rest]).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('strategy_pop returns an empty table on an empty queue', async () => {
    const q = queue();
    expect(await q.pop(1)).toEqual([]);
    expect(await q.pop(50)).toEqual([]);
    await q.push('x');
    expect(await q.pop(1)).toEqual(['x']);
    expect(await q.pop(1)).toEqual([]); // drained again
  });

  it('strategy_count counts waiting jobs', async () => {
    const q = queue();
    expect(await q.count()).toBe(0);
    expect(await q.push('a', 'b', 'c')).toBe(3);
    expect(await q.count()).toBe(3);
    await q.pop(2);
    expect(await q.count()).toBe(1);
    await q.giveBack('a');
    expect(await q.count()).toBe(2);
    await q.pop(10);
    expect(await q.count()).toBe(0);
  });

  it('touches only the waiting key of its own queue', async () => {
    const q = queue();
    const other = queue();
    await other.push('other-job');
    await q.push('a', 'b');
    await q.pop(1);
    await q.giveBack('a');
    for (const [name, key] of Object.entries(q.keys)) {
      expect(await redis.exists(key), name).toBe(name === 'waiting' ? 1 : 0);
    }
    expect(await other.count()).toBe(1);
    expect(await other.pop(5)).toEqual(['other-job']);
  });
});

runStrategyConformance({ strategy: fifo, reference: referenceModels.fifo });

it('every strategy the registry provides has a conformance test file that runs the suite', async () => {
  const { readFile, readdir } = await import('node:fs/promises');
  const files = await readdir(new URL('.', import.meta.url));
  for (const name of STRATEGY_NAMES) {
    expect(files, `a test file for ${name}`).toContain(`${name}.test.ts`);
    const text = await readFile(new URL(`./${name}.test.ts`, import.meta.url), 'utf8');
    expect(text, `${name}.test.ts runs the conformance suite`).toMatch(new RegExp(`runStrategyConformance\\(\\{\\s*strategy: ${name}\\b`));
  }
});
