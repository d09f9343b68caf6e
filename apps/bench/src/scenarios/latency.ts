// 4. Latency from enqueue to handler start at a steady rate (2,000 jobs/s, one enqueue per job,
// paced by the clock) to a consumer process at concurrency 50; p50, p99 and max over the
// measured seconds, after a warm-up.
import { ConsumerProcess } from '../consumer-process.js';
import { expectDrained } from '../jobs.js';
import { LABELS, LIBRARIES, LIBRARY, type LibraryName, monoMs, payload } from '../libs.js';
import { fmt } from '../report.js';
import { type Timed, emptyPerLibrary, interleaved, roundsNote } from '../rounds.js';
import { CONCURRENCY, type Context, Failure, type Scenario, describeError, log, sleep, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Jobs/s offered. */
    latencyRate: number;
    /** Measured seconds per library (shared by the rounds). */
    latencySeconds: number;
    /** Seconds of the same load before each round's measured ones. */
    latencyWarmSeconds: number;
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

/** Pools the rounds' samples; per-second figures take `rate` samples a second. */
function summarizeLatency(rounds: LatencyRound[], rate: number): Latency {
  const all = new Float64Array(rounds.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of rounds) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  const perSecond: Latency['perSecond'] = [];
  const round3 = (v: number) => Math.round(v * 1000) / 1000;
  for (let from = 0, second = 0; from < all.length; from += rate, second++) {
    const window = all.slice(from, from + rate).sort();
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
 * One round: a steady `latencyRate` jobs/s for `seconds`, one enqueue per job; the consumer
 * process reports, per job, ms from enqueue (timestamp in the payload) to handler start. The
 * first `latencyWarmSeconds` are a warm-up and not counted.
 */
async function latencyRound(ctx: Context, lib: LibraryName, seconds: number): Promise<LatencyRound> {
  const { p } = ctx;
  const target = targetFor(ctx, lib);
  const queue = 'bench-latency';
  const warm = Math.round(p.latencyRate * p.latencyWarmSeconds);
  const measured = Math.round(p.latencyRate * seconds);
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
        const due = Math.min(total, Math.floor(((monoMs() - t0) * p.latencyRate) / 1000) + 1);
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

const show = (v: Latency) =>
  `p50 ${v.p50.toFixed(2)} ms, p99 ${v.p99.toFixed(2)} ms, max ${v.max.toFixed(2)} ms (${fmt(v.samples)} jobs, offered ${fmt(v.offeredRate)}/s)`;

export const latency: Scenario = {
  name: 'latency',
  measures: 'ms from enqueue to handler start at 2,000 jobs/s (p50, p99, max)',
  parameters: {
    full: { latencyRate: 2_000, latencySeconds: 10, latencyWarmSeconds: 3 },
    quick: { latencyRate: 2_000, latencySeconds: 2, latencyWarmSeconds: 0.5 },
  },
  async run(ctx) {
    const { p } = ctx;
    const perRound = p.latencySeconds / p.rounds;
    log(
      `4. latency enqueue -> handler start at ${fmt(p.latencyRate)} jobs/s for ${p.latencySeconds} s${roundsNote(p)} ` +
        `(each after ${p.latencyWarmSeconds} s of warm-up; consumer concurrency ${CONCURRENCY})`,
    );
    const r = await interleaved(ctx, 'latency', p.rounds, (lib) => latencyRound(ctx, lib, perRound), (v) => show(summarizeLatency([v], p.latencyRate)));
    const summary: Partial<Record<LibraryName, Latency>> = {};
    const lat = { p50: emptyPerLibrary(), p99: emptyPerLibrary(), max: emptyPerLibrary() };
    for (const lib of LIBRARIES) {
      const rs = r[lib];
      if (!rs || rs.length === 0) continue;
      const v = summarizeLatency(rs, p.latencyRate);
      summary[lib] = v;
      lat.p50[lib] = v.p50;
      lat.p99[lib] = v.p99;
      lat.max[lib] = v.max;
      if (p.rounds > 1) log(`  ${LABELS[lib].padEnd(9)} all rounds: ${show(v)}`);
    }
    const at = `at ${fmt(p.latencyRate)}/s`;
    return {
      rows: [
        { id: 'latency-p50', short: 'latency p50', label: `latency p50 ${at}`, unit: 'ms', better: 'lower', values: lat.p50, decimals: 2 },
        { id: 'latency-p99', short: 'latency p99', label: `latency p99 ${at}`, unit: 'ms', better: 'lower', values: lat.p99, decimals: 2,
          absolute: { op: '<=', value: 2 }, targets: { 'bee-queue': { op: '<=', value: 1 } } },
        { id: 'latency-max', short: 'latency max', label: `latency max ${at}`, unit: 'ms', better: 'lower', values: lat.max, decimals: 2 },
      ],
      details: { latency: summary },
    };
  },
};
