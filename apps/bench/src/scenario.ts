// What a scenario is: the interface every file in scenarios/ implements (the registry, in the
// order they run, is scenarios/index.ts), what it is given to run, and the helpers they share.
import type { Redis } from 'ioredis';
import { DEFAULT_PREFIXES, type LibraryName, type Target } from './libs.js';
import type { BenchRedis } from './redis.js';
import type { DocketOnlyRow, Report, Row } from './report.js';

/** Enqueue calls in flight, and the consumers' concurrency (both in the JSON's parameters). */
export const IN_FLIGHT = 50;
export const CONCURRENCY = 50;

/**
 * The parameters of a run, one flat set of names (`--set name=value` overrides any of them; the
 * JSON lists them). The two below are shared by several scenarios, their values are in
 * options.ts. A scenario adds the names it brings to this interface, in its own file:
 *
 *   declare module '../scenario.js' {
 *     interface Parameters { memoryJobs: number }
 *   }
 *
 * and their values (full and --quick) to its `parameters`. Any scenario may read any of them.
 */
export interface Parameters {
  /** Warm-up jobs before a measured enqueue or process round. */
  warmJobs: number;
  /** Interleaved rounds of the scenarios that run in rounds. */
  rounds: number;
}

/** What a scenario is given to run. */
export interface Context {
  redis: BenchRedis;
  /** The parent's own connection (FLUSHALL, INFO, MONITOR). */
  admin: Redis;
  /** Suffix of the key prefixes on a shared REDIS_URL. */
  runId: string;
  p: Parameters;
  /** The libraries selected with --libs, in the fixed order. */
  libs: LibraryName[];
  /** Where the runners in rounds.ts record what failed (the exit code is 1 if any). */
  failures: Report['failures'];
}

/** What a scenario hands to the report; each part is optional. */
export interface Figures {
  /** Rows of the main table (one figure, one value per library, docket's ratios). */
  rows?: Row[];
  /** Rows of the docket-only table. */
  docketOnly?: DocketOnlyRow[];
  /** Anything else worth keeping, under `details` in the JSON. */
  details?: Record<string, unknown>;
}

export interface Scenario {
  /** The name --scenarios selects it by. */
  name: string;
  /** What it measures, in a line. */
  measures: string;
  /** Values of the parameters it adds to `Parameters`, for a full and for a --quick run. */
  parameters?: Record<'full' | 'quick', Partial<Parameters>>;
  /** Runs for docket only (skipped when --libs leaves docket out). */
  docketOnly?: boolean;
  /**
   * Prints its heading and a line per library (and round) as it goes, and returns its figures.
   * A library that fails is recorded in `ctx.failures` and its figures are left empty; run
   * itself rejects only on a bug.
   */
  run(ctx: Context): Promise<Figures>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const log = (line: string) => console.log(line);
/** A library did not do what the scenario expects (its message says what). */
export class Failure extends Error {}

export const describeError = (e: unknown) => (e instanceof Failure ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Where `lib` keeps its keys. */
export function targetFor(ctx: Context, lib: LibraryName): Target {
  // Private server: each library's default prefix. Shared REDIS_URL: a run-specific one.
  const prefix = ctx.redis.shared ? `${DEFAULT_PREFIXES[lib]}-bench-${ctx.runId}` : DEFAULT_PREFIXES[lib];
  return { url: ctx.redis.url, prefix };
}
