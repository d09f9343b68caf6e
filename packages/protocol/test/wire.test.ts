// Each binary wire format, round-tripped between its TypeScript module and its Lua twin on a real
// redis-server: what one side writes, the other reads back field for field.
import { randomBytes } from 'node:crypto';
import { seededNumbers, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import {
  LUA,
  LuaScript,
  QUEUE_PRELUDE,
  type ReportKind,
  type WireReport,
  composeLua,
  jobSpec,
  packEnqueueArgs,
  packLeaseEntries,
  packReports,
  queueKeyList,
  queueKeys,
  readLeaseEntries,
  unpackEnqueueArgs,
  unpackReports,
} from '../src/internal.js';

const server = useRedisServer({ appendonly: false });
const keyList = () => queueKeyList(queueKeys(uniquePrefix('wire'), 'q'));

/** Runs `body` after the prelude and the given wire fragments. */
function runLua(fragments: string[], body: string, args: (string | number | Buffer)[]): Promise<unknown> {
  const script = new LuaScript('wire-test', composeLua(...QUEUE_PRELUDE, ...fragments, body));
  return script.run(server.client(), keyList(), args);
}

const random = seededNumbers(0x31337);
const ids = ['1', 'welcome:42', 'ünïcödé-✓', 'x'.repeat(256), ' spaced id ', '-0'];
const bytes = (n: number) => randomBytes(n);

describe('wire format: enqueue arguments', () => {
  const jobs = ids.flatMap((id, i) => [
    { spec: jobSpec('', 0, 0), head: bytes(27 + i), payload: bytes(i * 100) },
    { spec: jobSpec(id, i * 1000, i - 3), head: bytes(30), payload: bytes(1 + i) },
    { spec: jobSpec('', 5, 0), head: bytes(27), payload: Buffer.alloc(0) },
  ]);

  it('TypeScript packs, Lua reads back every spec and record', async () => {
    const reply = (await runLua(
      [LUA.enqueueArgs],
      `
local specs, records, generated = read_enqueue_args(tonumber(ARGV[1]), ARGV[2])
local out = { generated }
for i = 1, tonumber(ARGV[1]) do
  local s = specs[i]
  out[#out + 1] = s and (s[1] .. '|' .. s[2] .. '|' .. s[3]) or ''
  out[#out + 1] = records[i]
end
return out`,
      [jobs.length, packEnqueueArgs(jobs)],
    )) as (number | Buffer)[];
    const expectedGenerated = jobs.filter((j) => j.spec === '' || j.spec.endsWith(':')).length;
    expect(reply[0]).toBe(expectedGenerated);
    jobs.forEach((job, i) => {
      const [delay, priority, ...id] = job.spec.split(':');
      expect(String(reply[1 + 2 * i]), `spec ${i}`).toBe(job.spec === '' ? '' : `${id.join(':')}|${delay}|${priority}`);
      expect(reply[2 + 2 * i], `record ${i}`).toEqual(Buffer.concat([job.head, job.payload]));
    });
  });

  it('TypeScript reads back what it packed', () => {
    const out = unpackEnqueueArgs(packEnqueueArgs(jobs));
    expect(out.map((j) => j.spec)).toEqual(jobs.map((j) => j.spec));
    expect(out.map((j) => j.record)).toEqual(jobs.map((j) => Buffer.concat([j.head, j.payload])));
  });

  it('Lua refuses a malformed spec with a message that names it', async () => {
    const bad = packEnqueueArgs([{ spec: 'nonsense', head: bytes(27), payload: bytes(1) }]);
    const reply = await runLua([LUA.enqueueArgs], "local s, why = read_enqueue_args(1, ARGV[1]); return why", [bad]);
    expect(String(reply)).toBe('malformed job spec nonsense');
  });
});

describe('wire format: reports', () => {
  const kinds: ReportKind[] = ['c', 'f', 'x', 'k', 'r'];
  const reports: WireReport[] = ids.flatMap((id, i) =>
    kinds.map((kind, k) => ({
      kind,
      id,
      token: Math.floor(random() * 2 ** 48),
      delay: kind === 'f' ? Math.floor(random() * 2 ** 40) : 0,
      message: kind === 'c' ? '' : `Error: try ${i} ✗ ${'m'.repeat(k * 50)}`,
      resultBytes: kind === 'c' && i % 2 === 0 ? bytes(1 + i * 30) : '',
    })),
  );

  it('TypeScript packs, Lua reads back every field', async () => {
    const reply = (await runLua(
      [LUA.reports],
      `
local n = tonumber(ARGV[1])
local kinds, ids, tokens, messages, delays, results = read_reports(n, ARGV[2])
local out = {}
for i = 0, n - 1 do
  out[#out + 1] = { kinds[i], ids[i], string.format('%.0f', tokens[i]), messages[i], string.format('%.0f', delays[i]), results[i] }
end
return out`,
      [reports.length, packReports(reports)],
    )) as Buffer[][];
    expect(reply).toHaveLength(reports.length);
    reply.forEach((fields, i) => {
      const r = reports[i] as WireReport;
      expect(fields.slice(0, 5).map(String), `report ${i}`).toEqual([r.kind, r.id, String(r.token), r.message, String(r.delay)]);
      expect(fields[5], `report ${i} result`).toEqual(r.resultBytes === '' ? Buffer.alloc(0) : r.resultBytes);
    });
  });

  it('TypeScript reads back what it packed', () => {
    expect(unpackReports(packReports(reports))).toEqual(reports);
  });
});

describe('wire format: lease entries', () => {
  const entries = ids.map((id, i) => ({ token: Math.floor(random() * 2 ** 48), id, record: bytes(i * 57) }));

  it('Lua writes (lease_entry, and head + id + record in parts), TypeScript reads back', async () => {
    const args = entries.flatMap((e) => [e.token, e.id, e.record]);
    const reply = (await runLua(
      [LUA.leaseEntries],
      `
local whole, parts = {}, {}
for i = 1, #ARGV, 3 do
  local token, id, rec = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  whole[#whole + 1] = lease_entry(token, id, rec)
  parts[#parts + 1] = lease_entry_head(token, id, rec)
  parts[#parts + 1] = id
  parts[#parts + 1] = rec
end
return { table.concat(whole), table.concat(parts) }`,
      args,
    )) as Buffer[];
    expect(readLeaseEntries(reply[0] as Buffer)).toEqual(entries);
    expect(reply[1]).toEqual(reply[0]);
  });

  it('TypeScript writes, Lua reads back (for_lease_entries over several elements), in order', async () => {
    const packed = [packLeaseEntries(entries.slice(0, 2)), packLeaseEntries(entries.slice(2))];
    const reply = (await runLua(
      [LUA.leaseEntries],
      `
local out = {}
for_lease_entries({ ARGV[1], ARGV[2] }, function(id, token, entry)
  out[#out + 1] = { id, string.format('%.0f', token), entry }
end)
return out`,
      packed,
    )) as Buffer[][];
    expect(reply.map((f) => [String(f[0]), Number(String(f[1]))])).toEqual(entries.map((e) => [e.id, e.token]));
    expect(Buffer.concat(reply.map((f) => f[2] as Buffer))).toEqual(Buffer.concat(packed));
  });
});
