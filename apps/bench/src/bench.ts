// docket vs BullMQ vs Bee-Queue, side by side on the same Redis in one run.
//   pnpm bench [--quick] [--scenarios enqueue,bulk,process,latency,memory,priority,idle]
//              [--libs docket,bullmq,bee-queue] [--set name=value,...] [--check-targets]
// See README.md ("pnpm bench") for what each scenario measures and how to read the ratios.
import os from 'node:os';
import type { Redis } from 'ioredis';
import { ConsumerProcess } from './consumer-process.js';
import {
  DEFAULT_PREFIXES,
  LABELS,
  LIBRARIES,
  LIBRARY,
  type LibraryName,
  type Payload,
  type ProducerSide,
  type Target,
  monoMs,
  payload,
} from './libs.js';
import { runPriorityScale } from './priority.js';
import { type BenchRedis, commandCalls, deleteMatching, info } from './redis.js';
import { type DocketOnlyRow, type PerLibrary, type Report, type Row, collectTargets, fmt } from './report.js';
import { NOTES, publish } from './results.js';
import { Failure, describeError, log, sleep } from './scenario.js';
import { setUp } from './setup.js';

// ---------------------------------------------------------------------------------------------
// Options

const SCENARIOS = ['enqueue', 'bulk', 'process', 'latency', 'memory', 'priority', 'idle'] as const;

function listArg<T extends string>(name: string, all: readonly T[]): T[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return [...all];
  const picked = (process.argv[i + 1] ?? '').split(',').filter(Boolean);
  for (const p of picked) {
    if (!all.includes(p as T)) throw new Error(`--${name}: unknown "${p}" (one of ${all.join(', ')})`);
  }
  return all.filter((a) => picked.includes(a)); // always in the fixed order
}

const QUICK = process.argv.includes('--quick');
const CHECK_TARGETS = process.argv.includes('--check-targets');
const ONLY = new Set(listArg('scenarios', SCENARIOS));
const LIBS = listArg('libs', LIBRARIES);

const P = QUICK
  ? {
      enqueueJobs: 2_000,
      chunkSize: 1_000,
      processJobs: 2_000,
      processJobsC1: 500,
      latencyRate: 2_000,
      latencySeconds: 2,
      latencyWarmSeconds: 0.5,
      memoryJobs: 20_000,
      priorityWaiting: 20_000,
      priorityOps: 2_000,
      idleSeconds: 1.5,
      warmJobs: 200,
      rounds: 1,
    }
  : {
      enqueueJobs: 50_000,
      chunkSize: 1_000,
      processJobs: 50_000,
      processJobsC1: 5_000,
      latencyRate: 2_000,
      latencySeconds: 10,
      latencyWarmSeconds: 3,
      memoryJobs: 100_000,
      priorityWaiting: 1_000_000,
      priorityOps: 20_000,
      idleSeconds: 10,
      warmJobs: 1_000,
      rounds: 2,
    };
// --set name=value[,name=value...] overrides any of the above (e.g. --set latencySeconds=30).
{
  const i = process.argv.indexOf('--set');
  for (const pair of i >= 0 ? (process.argv[i + 1] ?? '').split(',').filter(Boolean) : []) {
    const [name, value] = pair.split('=');
    if (!name || !(name in P) || !Number.isFinite(Number(value))) throw new Error(`--set: expected name=number with a name among ${Object.keys(P).join(', ')}, got "${pair}"`);
    (P as Record<string, number>)[name] = Number(value);
  }
}
const IN_FLIGHT = 50;
const CONCURRENCY = 50;

// ---------------------------------------------------------------------------------------------
// Helpers

interface Context {
  redis: BenchRedis;
  admin: Redis;
  runId: string;
}

function targetFor(ctx: Context, lib: LibraryName): Target {
  // Private server: each library's default prefix. Shared REDIS_URL: a run-specific one.
  const prefix = ctx.redis.shared ? `${DEFAULT_PREFIXES[lib]}-bench-${ctx.runId}` : DEFAULT_PREFIXES[lib];
  return { url: ctx.redis.url, prefix };
}

/** Empties the Redis before a library runs a scenario (FLUSHALL on our own server only). */
async function reset(ctx: Context, lib: LibraryName): Promise<void> {
  if (ctx.redis.shared) await deleteMatching(ctx.admin, `${targetFor(ctx, lib).prefix}:*`);
  else await ctx.admin.flushall();
}

/** Enqueues payloads `from..to-1` one at a time with `IN_FLIGHT` calls in flight. */
async function enqueueInFlight(producer: ProducerSide, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < to) await producer.enqueue(payload(next++));
    }),
  );
}

/** Enqueues payloads `from..to-1` in chunks of `chunkSize`, one chunk at a time. */
async function enqueueChunks(producer: ProducerSide, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += P.chunkSize) {
    const chunk: Payload[] = [];
    for (let i = start; i < Math.min(to, start + P.chunkSize); i++) chunk.push(payload(i));
    await producer.enqueueChunk(chunk);
  }
}

async function expectDrained(producer: ProducerSide): Promise<void> {
  const c = await producer.counts();
  if (c.waiting !== 0 || c.active !== 0) throw new Failure(`jobs left after the run: ${c.waiting} waiting, ${c.active} active`);
  if (c.finishedKept !== 0) throw new Failure(`${c.finishedKept} finished jobs kept (removal of finished jobs is not in effect)`);
}

// ---------------------------------------------------------------------------------------------
// Scenarios (each: one library, one round, from an empty Redis)

/** Jobs handled and the seconds they took; rounds add up (rate = jobs / seconds). */
interface Timed {
  jobs: number;
  seconds: number;
}

/** 1. One job at a time, 50 enqueues in flight. */
async function scenarioEnqueue(ctx: Context, lib: LibraryName, count: number): Promise<Timed> {
  const producer = await LIBRARY[lib].producer(targetFor(ctx, lib), 'bench-enqueue');
  try {
    await enqueueInFlight(producer, 0, P.warmJobs); // warm-up, same queue and connection
    const t0 = monoMs();
    await enqueueInFlight(producer, P.warmJobs, P.warmJobs + count);
    return { jobs: count, seconds: (monoMs() - t0) / 1000 };
  } finally {
    await producer.close();
  }
}

/** 2. Chunks of 1,000 through the bulk API, one chunk at a time. */
async function scenarioBulk(ctx: Context, lib: LibraryName, count: number): Promise<Timed> {
  const producer = await LIBRARY[lib].producer(targetFor(ctx, lib), 'bench-bulk');
  try {
    await enqueueChunks(producer, 0, P.warmJobs);
    const t0 = monoMs();
    await enqueueChunks(producer, P.warmJobs, P.warmJobs + count);
    return { jobs: count, seconds: (monoMs() - t0) / 1000 };
  } finally {
    await producer.close();
  }
}

/**
 * 3. Pre-fill `warm + count` jobs, then one consumer process at `concurrency` runs them all; the
 * time counts the last `count` (from the warm-th completion to the last).
 */
async function scenarioProcess(ctx: Context, lib: LibraryName, concurrency: number, count: number, warm: number): Promise<Timed> {
  const target = targetFor(ctx, lib);
  const queue = `bench-process-c${concurrency}`;
  const producer = await LIBRARY[lib].producer(target, queue);
  try {
    await enqueueChunks(producer, 0, warm + count);
    const child = new ConsumerProcess({ mode: 'throughput', lib, target, queue, concurrency, warm, count });
    try {
      const timeout = Math.max(60_000, ((warm + count) / 100) * 1000); // fails below 100 jobs/s
      const done = await child.waitFor('done', timeout, `${warm + count} jobs to complete`);
      await child.stop();
      await expectDrained(producer);
      return { jobs: done.count, seconds: done.seconds };
    } finally {
      child.kill();
    }
  } finally {
    await producer.close();
  }
}

/** One latency round: ms from enqueue to handler start per measured job, and the rate offered. */
interface LatencyRound {
  latencies: Float64Array;
  offered: Timed;
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
  /** Jobs/s actually offered (the schedule slips if the producer falls behind). */
  offeredRate: number;
  /** p50/p99/max (ms) per second of the measured schedule (rounds one after the other), to see spikes. */
  perSecond: { second: number; p50: number; p99: number; max: number }[];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

function summarizeLatency(rounds: LatencyRound[]): Latency {
  const all = new Float64Array(rounds.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of rounds) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  const perSecond: Latency['perSecond'] = [];
  const round3 = (v: number) => Math.round(v * 1000) / 1000;
  for (let from = 0, second = 0; from < all.length; from += P.latencyRate, second++) {
    const window = all.slice(from, from + P.latencyRate).sort();
    perSecond.push({ second, p50: round3(percentile(window, 50)), p99: round3(percentile(window, 99)), max: round3(window[window.length - 1]!) });
  }
  const sorted = all.sort();
  const offered = rounds.reduce((t, r) => ({ jobs: t.jobs + r.offered.jobs, seconds: t.seconds + r.offered.seconds }), { jobs: 0, seconds: 0 });
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    samples: sorted.length,
    offeredRate: offered.jobs / offered.seconds,
    perSecond,
  };
}

/**
 * 4. A steady `latencyRate` jobs/s for `seconds`, one enqueue per job; the consumer process
 * reports, per job, ms from enqueue (timestamp in the payload) to handler start. The first
 * `latencyWarmSeconds` are a warm-up and not counted.
 */
async function scenarioLatency(ctx: Context, lib: LibraryName, seconds: number): Promise<LatencyRound> {
  const target = targetFor(ctx, lib);
  const queue = 'bench-latency';
  const warm = Math.round(P.latencyRate * P.latencyWarmSeconds);
  const measured = Math.round(P.latencyRate * seconds);
  const total = warm + measured;
  const latencies = new Float64Array(measured);
  let received = 0;
  let receivedMeasured = 0;
  let probes = 0;
  const producer = await LIBRARY[lib].producer(target, queue);
  const child = new ConsumerProcess({ mode: 'latency', lib, target, queue, concurrency: CONCURRENCY }, (m) => {
    if (m.type !== 'latency') return;
    for (let k = 0; k < m.samples.length; k += 2) {
      const i = m.samples[k]!;
      if (i < 0) {
        probes++;
        continue;
      }
      received++;
      if (i >= warm) {
        latencies[i - warm] = m.samples[k + 1]!;
        receivedMeasured++;
      }
    }
  });
  try {
    await child.waitFor('ready', 30_000, 'the consumer to start');
    // Start the load only once the consumer demonstrably runs jobs (a consumer's start() may
    // resolve before its fetch loop is going): a few probe jobs, one after the other.
    for (let k = 1; k <= 5; k++) {
      await producer.enqueue(payload(-k, monoMs()));
      const deadline = Date.now() + 30_000;
      while (probes < k) {
        if (Date.now() > deadline) throw new Failure('a probe job did not start within 30 s');
        if (child.error) throw new Failure(`consumer process: ${child.error}`);
        await sleep(5);
      }
    }
    const errors: unknown[] = [];
    const pending: Promise<unknown>[] = [];
    let sent = 0;
    const t0 = monoMs();
    let measureStart = t0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((monoMs() - t0) * P.latencyRate) / 1000) + 1);
        while (sent < due) {
          const i = sent++;
          if (i === warm) measureStart = monoMs();
          pending.push(producer.enqueue(payload(i, monoMs())).catch((e) => errors.push(e)));
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const offered = { jobs: measured, seconds: (monoMs() - measureStart) / 1000 };
    await Promise.all(pending);
    if (errors.length > 0) throw new Failure(`${errors.length} enqueues failed: ${describeError(errors[0])}`);
    const deadline = Date.now() + 30_000;
    while (received < total) {
      if (Date.now() > deadline) throw new Failure(`only ${received} of ${total} jobs started within 30 s after the last enqueue`);
      if (child.error) throw new Failure(`consumer process: ${child.error}`);
      if (child.proc.exitCode !== null) throw new Failure(`consumer process exited (${child.proc.exitCode}) early`);
      await sleep(20);
    }
    if (receivedMeasured !== measured) throw new Failure(`${receivedMeasured} of ${measured} measured jobs reported`);
    await child.stop();
    await expectDrained(producer);
    return { latencies, offered };
  } finally {
    child.kill();
    await producer.close();
  }
}

/** 5. INFO used_memory delta over `memoryJobs` waiting jobs (enqueued in chunks). Returns bytes/job. */
async function scenarioMemory(ctx: Context, lib: LibraryName): Promise<number> {
  const producer = await LIBRARY[lib].producer(targetFor(ctx, lib), 'bench-memory');
  try {
    await producer.enqueueChunk([payload(-1)]); // creates the queue's structures: not counted
    await sleep(300);
    const before = Number((await info(ctx.admin, 'memory')).get('used_memory'));
    await enqueueChunks(producer, 0, P.memoryJobs);
    await sleep(300);
    const after = Number((await info(ctx.admin, 'memory')).get('used_memory'));
    const c = await producer.counts();
    if (c.waiting !== P.memoryJobs + 1) throw new Failure(`expected ${P.memoryJobs + 1} waiting jobs, found ${c.waiting}`);
    return (after - before) / P.memoryJobs;
  } finally {
    await producer.close();
  }
}

interface Idle {
  seconds: number;
  /** INFO commandstats: every command Redis ran, including those run inside the consumer's scripts. */
  commandsPerSecond: number;
  byCommand: Record<string, number>;
  /** MONITOR (private server only): commands the consumer itself sent, i.e. its round trips. */
  sentPerSecond: number | null;
  sentByCommand: Record<string, number> | null;
}

/** 6b. Commands/s an idle docket consumer (own process, concurrency 50, empty queue) causes. */
async function scenarioIdle(ctx: Context): Promise<Idle> {
  const target = targetFor(ctx, 'docket');
  const child = new ConsumerProcess({ mode: 'idle', lib: 'docket', target, queue: 'bench-idle', concurrency: CONCURRENCY });
  // MONITOR shows which commands came from a client and which ran inside a script ('lua'). On a
  // shared Redis other clients' commands would mix in: there, commandstats only.
  const monitor = ctx.redis.shared ? undefined : await ctx.admin.duplicate().monitor();
  let monitoring = false;
  const sentByCommand: Record<string, number> = {};
  monitor?.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = String(args[0] ?? '').toLowerCase();
    if (!monitoring || source === 'lua' || cmd === 'info') return;
    sentByCommand[cmd] = (sentByCommand[cmd] ?? 0) + 1;
  });
  try {
    await child.waitFor('ready', 30_000, 'the consumer to start');
    await sleep(1_000); // let start-up commands pass
    const before = await commandCalls(ctx.admin);
    monitoring = true;
    const t0 = monoMs();
    await sleep(P.idleSeconds * 1000);
    const after = await commandCalls(ctx.admin);
    monitoring = false;
    const seconds = (monoMs() - t0) / 1000;
    const byCommand: Record<string, number> = {};
    let total = 0;
    for (const [cmd, calls] of after) {
      if (cmd === 'info' || cmd === 'monitor') continue; // our own measurement
      const delta = calls - (before.get(cmd) ?? 0);
      if (delta > 0) {
        byCommand[cmd] = delta;
        total += delta;
      }
    }
    await child.stop();
    const sent = Object.values(sentByCommand).reduce((a, b) => a + b, 0);
    return {
      seconds,
      commandsPerSecond: total / seconds,
      byCommand,
      sentPerSecond: monitor ? sent / seconds : null,
      sentByCommand: monitor ? sentByCommand : null,
    };
  } finally {
    child.kill();
    monitor?.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

const emptyPerLibrary = (): PerLibrary => ({ docket: null, bullmq: null, 'bee-queue': null });

async function main(): Promise<void> {
  const started = monoMs();
  const { redis, admin, runId, machine, libraries, close } = await setUp(QUICK ? 'quick' : 'full');
  const ctx: Context = { redis, admin, runId };
  const failures: Report['failures'] = [];
  const details: Record<string, unknown> = {};

  /** Runs `fn` for each selected library in the fixed order, from an empty Redis each time. */
  async function perLibrary<T>(scenario: string, fn: (lib: LibraryName) => Promise<T>, show: (v: T) => string): Promise<Record<LibraryName, T | null>> {
    const rounds = await interleaved(scenario, 1, (lib) => fn(lib), show);
    return Object.fromEntries(LIBRARIES.map((l) => [l, rounds[l]?.[0] ?? null])) as Record<LibraryName, T | null>;
  }

  /**
   * `rounds` rounds of docket, BullMQ, Bee-Queue (always in this order), from an empty Redis
   * each time, so a noisy moment on the shared machine is spread over the libraries rather
   * than landing on one of them. A library that fails is left out of later rounds.
   */
  async function interleaved<T>(
    scenario: string,
    rounds: number,
    fn: (lib: LibraryName, round: number) => Promise<T>,
    show: (v: T) => string,
  ): Promise<Record<LibraryName, T[] | null>> {
    const out = { docket: [], bullmq: [], 'bee-queue': [] } as Record<LibraryName, T[] | null>;
    for (const lib of LIBRARIES) if (!LIBS.includes(lib)) out[lib] = null;
    for (let round = 0; round < rounds; round++) {
      for (const lib of LIBS) {
        const results = out[lib];
        if (!results) continue;
        await reset(ctx, lib);
        const t0 = monoMs();
        const tag = rounds > 1 ? `round ${round + 1}/${rounds}, ` : '';
        try {
          const v = await fn(lib, round);
          results.push(v);
          log(`  ${LABELS[lib].padEnd(9)} ${show(v)}  (${tag}${((monoMs() - t0) / 1000).toFixed(1)} s)`);
        } catch (err) {
          out[lib] = null;
          failures.push({ scenario, library: LABELS[lib], message: describeError(err) });
          log(`  ${LABELS[lib].padEnd(9)} FAILED: ${describeError(err)}`);
          if (!(err instanceof Failure)) console.error(err);
        } finally {
          await reset(ctx, lib);
        }
      }
    }
    return out;
  }

  const rate = (v: Timed) => `${fmt(v.jobs / v.seconds)} jobs/s`;
  /** Rounds of a rate scenario: total jobs ÷ total seconds, per library. */
  const rates = (r: Record<LibraryName, Timed[] | null>, label: string): PerLibrary => {
    const out = emptyPerLibrary();
    for (const lib of LIBRARIES) {
      const rs = r[lib];
      if (!rs || rs.length === 0) continue;
      const t = rs.reduce((a, b) => ({ jobs: a.jobs + b.jobs, seconds: a.seconds + b.seconds }));
      out[lib] = t.jobs / t.seconds;
      if (P.rounds > 1) log(`  ${LABELS[lib].padEnd(9)} ${label}: ${fmt(out[lib])} jobs/s over ${P.rounds} rounds`);
    }
    return out;
  };
  const split = (total: number) => Math.ceil(total / P.rounds);

  let enqueue = emptyPerLibrary();
  let bulk = emptyPerLibrary();
  let c50 = emptyPerLibrary();
  let c1 = emptyPerLibrary();
  const lat = { p50: emptyPerLibrary(), p99: emptyPerLibrary(), max: emptyPerLibrary() };
  let memory = emptyPerLibrary();
  const roundsNote = P.rounds > 1 ? `, in ${P.rounds} interleaved rounds` : '';

  if (ONLY.has('enqueue')) {
    log(`1. enqueue one job at a time, ${IN_FLIGHT} in flight (${fmt(P.enqueueJobs)} jobs${roundsNote})`);
    const r = await interleaved('enqueue', P.rounds, (lib) => scenarioEnqueue(ctx, lib, split(P.enqueueJobs)), rate);
    enqueue = rates(r, 'total');
  }
  if (ONLY.has('bulk')) {
    log(`2. enqueue in chunks of ${fmt(P.chunkSize)} (${fmt(P.enqueueJobs)} jobs${roundsNote})`);
    const r = await interleaved('bulk', P.rounds, (lib) => scenarioBulk(ctx, lib, split(P.enqueueJobs)), rate);
    bulk = rates(r, 'total');
  }
  if (ONLY.has('process')) {
    // Unlike the others, a process round is not a share: every round is the whole scenario
    // (all the jobs through one consumer process), as the scenario is defined; rounds only
    // spread the runs of the libraries over time.
    const eachRound = P.rounds > 1 ? `, in ${P.rounds} interleaved rounds of all the jobs each` : '';
    log(`3a. process ${fmt(P.processJobs)} pre-filled no-op jobs, one consumer process, concurrency ${CONCURRENCY}${eachRound}`);
    const r50 = await interleaved('process c50', P.rounds, (lib) => scenarioProcess(ctx, lib, CONCURRENCY, P.processJobs, P.warmJobs), rate);
    c50 = rates(r50, 'total');
    log(`3b. process ${fmt(P.processJobsC1)} pre-filled no-op jobs, one consumer process, concurrency 1${eachRound}`);
    const r1 = await interleaved('process c1', P.rounds, (lib) => scenarioProcess(ctx, lib, 1, P.processJobsC1, Math.round(P.warmJobs / 2)), rate);
    c1 = rates(r1, 'total');
  }
  if (ONLY.has('latency')) {
    const perRound = P.latencySeconds / P.rounds;
    log(
      `4. latency enqueue -> handler start at ${fmt(P.latencyRate)} jobs/s for ${P.latencySeconds} s${roundsNote} ` +
        `(each after ${P.latencyWarmSeconds} s of warm-up; consumer concurrency ${CONCURRENCY})`,
    );
    const show = (v: Latency) =>
      `p50 ${v.p50.toFixed(2)} ms, p99 ${v.p99.toFixed(2)} ms, max ${v.max.toFixed(2)} ms (${fmt(v.samples)} jobs, offered ${fmt(v.offeredRate)}/s)`;
    const r = await interleaved('latency', P.rounds, (lib) => scenarioLatency(ctx, lib, perRound), (v) => show(summarizeLatency([v])));
    const summary: Partial<Record<LibraryName, Latency>> = {};
    for (const lib of LIBRARIES) {
      const rs = r[lib];
      if (!rs || rs.length === 0) continue;
      const v = summarizeLatency(rs);
      summary[lib] = v;
      lat.p50[lib] = v.p50;
      lat.p99[lib] = v.p99;
      lat.max[lib] = v.max;
      if (P.rounds > 1) log(`  ${LABELS[lib].padEnd(9)} all rounds: ${show(v)}`);
    }
    details.latency = summary;
  }
  if (ONLY.has('memory')) {
    log(`5. Redis memory per waiting job (used_memory delta over ${fmt(P.memoryJobs)} jobs)`);
    memory = await perLibrary('memory', (lib) => scenarioMemory(ctx, lib), (v) => `${fmt(v)} bytes/job`);
    details.memory = memory;
  }

  const docketOnly: DocketOnlyRow[] = [];
  if (ONLY.has('priority') && LIBS.includes('docket')) {
    log(`6a. docket: priority queue with ${fmt(P.priorityWaiting)} waiting jobs vs a near-empty one (${fmt(P.priorityOps)} ops each, 2 rounds)`);
    await reset(ctx, 'docket');
    try {
      const t = targetFor(ctx, 'docket');
      const r = await runPriorityScale({ url: t.url, prefix: t.prefix, waiting: P.priorityWaiting, ops: P.priorityOps, log: (l) => log(`  ${l}`) });
      details.priority = r;
      if (r.stillWaiting < P.priorityWaiting * 0.9) throw new Failure(`the big queue shrank to ${r.stillWaiting} waiting jobs`);
      for (const [id, name, v] of [
        ['priority-enqueue', 'enqueue (50 in flight)', r.enqueue],
        ['priority-fetch', 'fetch + run + ack (concurrency 50)', r.fetch],
      ] as const) {
        log(`  ${name}: near-empty ${fmt(v.small)} jobs/s, ${fmt(P.priorityWaiting)} waiting ${fmt(v.big)} jobs/s (${((v.big / v.small) * 100).toFixed(0)}%)`);
        docketOnly.push({
          id,
          short: `priority ${id === 'priority-enqueue' ? 'enqueue' : 'fetch'}, ${fmt(P.priorityWaiting)} ÷ near-empty`,
          label: `priority queue, ${name}: ${fmt(P.priorityWaiting)} waiting vs near-empty`,
          measured: `${fmt(v.big)} vs ${fmt(v.small)} jobs/s`,
          ratio: v.big / v.small,
          ratioLabel: 'full ÷ near-empty',
          target: { op: '>=', value: 0.8 },
        });
      }
    } catch (err) {
      failures.push({ scenario: 'priority', library: 'docket', message: describeError(err) });
      log(`  FAILED: ${describeError(err)}`);
      if (!(err instanceof Failure)) console.error(err);
    } finally {
      await reset(ctx, 'docket');
    }
  }
  if (ONLY.has('idle') && LIBS.includes('docket')) {
    log(`6b. docket: idle consumer's command rate (INFO commandstats and MONITOR over ${P.idleSeconds} s)`);
    await reset(ctx, 'docket');
    try {
      const r = await scenarioIdle(ctx);
      details.idle = r;
      const list = (by: Record<string, number>) => Object.entries(by).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
      log(`  ${r.commandsPerSecond.toFixed(2)} commands/s in commandstats (${list(r.byCommand)}; includes commands run inside scripts)`);
      if (r.sentPerSecond !== null) log(`  ${r.sentPerSecond.toFixed(2)} commands/s sent by the consumer (MONITOR: ${list(r.sentByCommand ?? {})})`);
      docketOnly.push({
        id: 'idle',
        short: 'idle consumer',
        label: `idle consumer (concurrency ${CONCURRENCY}), commands/s over ${r.seconds.toFixed(0)} s`,
        measured:
          `${r.commandsPerSecond.toFixed(2)}/s in commandstats (incl. inside scripts)` +
          (r.sentPerSecond !== null ? `; ${r.sentPerSecond.toFixed(2)}/s sent (${list(r.sentByCommand ?? {})})` : ''),
        ratio: null,
        ratioLabel: 'no target (design: "a handful per second")',
      });
    } catch (err) {
      failures.push({ scenario: 'idle', library: 'docket', message: describeError(err) });
      log(`  FAILED: ${describeError(err)}`);
    } finally {
      await reset(ctx, 'docket');
    }
  }

  const rows: Row[] = [];
  const add = (row: Row, selected: boolean) => selected && rows.push(row);
  add({ id: 'enqueue', short: 'enqueue, one at a time', label: `enqueue, one at a time (${IN_FLIGHT} in flight)`, unit: 'jobs/s', better: 'higher', values: enqueue, decimals: 0,
    targets: { bullmq: { op: '>=', value: 2 }, 'bee-queue': { op: '>=', value: 1 } } }, ONLY.has('enqueue'));
  add({ id: 'bulk', short: 'enqueue, chunks', label: `enqueue, chunks of ${fmt(P.chunkSize)}`, unit: 'jobs/s', better: 'higher', values: bulk, decimals: 0,
    targets: { bullmq: { op: '>=', value: 8 }, 'bee-queue': { op: '>=', value: 2.5 } } }, ONLY.has('bulk'));
  add({ id: 'process-c50', short: 'process, concurrency 50', label: `process, concurrency ${CONCURRENCY}`, unit: 'jobs/s', better: 'higher', values: c50, decimals: 0,
    targets: { bullmq: { op: '>=', value: 3 }, 'bee-queue': { op: '>=', value: 2 } } }, ONLY.has('process'));
  add({ id: 'process-c1', short: 'process, concurrency 1', label: 'process, concurrency 1', unit: 'jobs/s', better: 'higher', values: c1, decimals: 0 }, ONLY.has('process'));
  add({ id: 'latency-p50', short: 'latency p50', label: `latency p50 at ${fmt(P.latencyRate)}/s`, unit: 'ms', better: 'lower', values: lat.p50, decimals: 2 }, ONLY.has('latency'));
  add({ id: 'latency-p99', short: 'latency p99', label: `latency p99 at ${fmt(P.latencyRate)}/s`, unit: 'ms', better: 'lower', values: lat.p99, decimals: 2,
    absolute: { op: '<=', value: 2 }, targets: { 'bee-queue': { op: '<=', value: 1 } } }, ONLY.has('latency'));
  add({ id: 'latency-max', short: 'latency max', label: `latency max at ${fmt(P.latencyRate)}/s`, unit: 'ms', better: 'lower', values: lat.max, decimals: 2 }, ONLY.has('latency'));
  add({ id: 'memory', short: 'memory per waiting job', label: 'Redis memory per waiting job', unit: 'bytes', better: 'lower', values: memory, decimals: 0,
    targets: { 'bee-queue': { op: '<=', value: 0.8 } } }, ONLY.has('memory'));

  machine.loadAverage.end = os.loadavg();
  const report: Report = {
    mode: QUICK ? 'quick' : 'full',
    machine,
    libraries,
    parameters: { ...P, inFlight: IN_FLIGHT, concurrency: CONCURRENCY },
    rows,
    docketOnly,
    targets: collectTargets(rows, docketOnly),
    details,
    failures,
    notes: NOTES,
    durationSeconds: (monoMs() - started) / 1000,
  };

  await publish(report);
  await close();
  if (failures.length > 0) {
    console.error(`\n${failures.length} failure(s):`);
    for (const f of failures) console.error(`  ${f.scenario} / ${f.library}: ${f.message}`);
    process.exit(1);
  }
  if (CHECK_TARGETS && report.targets.some((t) => t.met === false)) process.exit(2);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
