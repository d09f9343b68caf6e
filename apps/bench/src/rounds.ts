// Running a scenario's step for each library: in the fixed order (docket, BullMQ, Bee-Queue),
// from an empty Redis each time, in interleaved rounds; what fails is recorded in ctx.failures
// and printed, and the run goes on.
import { LABELS, LIBRARIES, type LibraryName, monoMs } from './libs.js';
import { deleteMatching } from './redis.js';
import { type PerLibrary, fmt } from './report.js';
import { type Context, Failure, type Parameters, describeError, log, targetFor } from './scenario.js';

/** Jobs handled and the seconds they took; rounds add up (rate = jobs / seconds). */
export interface Timed {
  jobs: number;
  seconds: number;
}

export const emptyPerLibrary = (): PerLibrary => ({ docket: null, bullmq: null, 'bee-queue': null });

/** A round's share of a total (jobs or seconds). */
export const share = (p: Parameters, total: number) => Math.ceil(total / p.rounds);

/** ", in 2 interleaved rounds" for a heading, or nothing with one round. */
export const roundsNote = (p: Parameters) => (p.rounds > 1 ? `, in ${p.rounds} interleaved rounds` : '');

/** Empties the Redis before a library runs a scenario (FLUSHALL on our own server only). */
async function reset(ctx: Context, lib: LibraryName): Promise<void> {
  if (ctx.redis.shared) await deleteMatching(ctx.admin, `${targetFor(ctx, lib).prefix}:*`);
  else await ctx.admin.flushall();
}

/** Records a failure and prints it under `lead` (a library's label, or nothing). */
function fail(ctx: Context, scenario: string, lib: LibraryName, lead: string, err: unknown): void {
  ctx.failures.push({ scenario, library: LABELS[lib], message: describeError(err) });
  log(`  ${lead}FAILED: ${describeError(err)}`);
  if (!(err instanceof Failure)) console.error(err);
}

/**
 * `rounds` rounds of docket, BullMQ, Bee-Queue (always in this order), from an empty Redis
 * each time, so a noisy moment on the shared machine is spread over the libraries rather
 * than landing on one of them. A library that fails is left out of later rounds.
 */
export async function interleaved<T>(
  ctx: Context,
  scenario: string,
  rounds: number,
  fn: (lib: LibraryName, round: number) => Promise<T>,
  show: (v: T) => string,
): Promise<Record<LibraryName, T[] | null>> {
  const out = { docket: [], bullmq: [], 'bee-queue': [] } as Record<LibraryName, T[] | null>;
  for (const lib of LIBRARIES) if (!ctx.libs.includes(lib)) out[lib] = null;
  for (let round = 0; round < rounds; round++) {
    for (const lib of ctx.libs) {
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
        fail(ctx, scenario, lib, `${LABELS[lib].padEnd(9)} `, err);
      } finally {
        await reset(ctx, lib);
      }
    }
  }
  return out;
}

/** Runs `fn` once for each selected library in the fixed order, from an empty Redis each time. */
export async function perLibrary<T>(
  ctx: Context,
  scenario: string,
  fn: (lib: LibraryName) => Promise<T>,
  show: (v: T) => string,
): Promise<Record<LibraryName, T | null>> {
  const rounds = await interleaved(ctx, scenario, 1, (lib) => fn(lib), show);
  return Object.fromEntries(LIBRARIES.map((l) => [l, rounds[l]?.[0] ?? null])) as Record<LibraryName, T | null>;
}

/** A rate scenario in `p.rounds` interleaved rounds: total jobs ÷ total seconds, per library. */
export async function rates(ctx: Context, scenario: string, fn: (lib: LibraryName) => Promise<Timed>): Promise<PerLibrary> {
  const r = await interleaved(ctx, scenario, ctx.p.rounds, fn, (v) => `${fmt(v.jobs / v.seconds)} jobs/s`);
  const out = emptyPerLibrary();
  for (const lib of LIBRARIES) {
    const rs = r[lib];
    if (!rs || rs.length === 0) continue;
    const t = rs.reduce((a, b) => ({ jobs: a.jobs + b.jobs, seconds: a.seconds + b.seconds }));
    out[lib] = t.jobs / t.seconds;
    if (ctx.p.rounds > 1) log(`  ${LABELS[lib].padEnd(9)} total: ${fmt(out[lib])} jobs/s over ${ctx.p.rounds} rounds`);
  }
  return out;
}

/**
 * A docket-only step, from an empty Redis (emptied again after it). Returns what `fn` returns,
 * or undefined if it failed (recorded and printed).
 */
export async function docketAlone<T>(ctx: Context, scenario: string, fn: () => Promise<T>): Promise<T | undefined> {
  await reset(ctx, 'docket');
  try {
    return await fn();
  } catch (err) {
    fail(ctx, scenario, 'docket', '', err);
    return undefined;
  } finally {
    await reset(ctx, 'docket');
  }
}
