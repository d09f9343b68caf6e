// The command line of `pnpm bench` (README.md, "pnpm bench", lists the options):
//   [--quick] [--scenarios enqueue,bulk,...] [--libs docket,bullmq,bee-queue]
//   [--set name=value,...] [--check-targets]
import { LIBRARIES, type LibraryName } from './libs.js';
import type { Parameters, Scenario } from './scenario.js';

/** Values of the parameters several scenarios share (the others are the scenarios' own). */
const SHARED: Record<'full' | 'quick', Pick<Parameters, 'warmJobs' | 'rounds'>> = {
  full: { warmJobs: 1_000, rounds: 2 },
  quick: { warmJobs: 200, rounds: 1 },
};

export interface Options {
  quick: boolean;
  /** Exit with code 2 if a target is missed. */
  checkTargets: boolean;
  /** The scenarios selected with --scenarios, in the registry's order. */
  scenarios: Scenario[];
  /** The libraries selected with --libs, in the fixed order. */
  libs: LibraryName[];
  /** Every scenario's parameters (full or --quick), then the shared ones, after --set. */
  parameters: Parameters;
}

/** `--name a,b` as a subset of `all`, in the order of `all`; all of them without the option. */
function listArg<T extends string>(argv: string[], name: string, all: readonly T[]): T[] {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return [...all];
  const picked = (argv[i + 1] ?? '').split(',').filter(Boolean);
  for (const p of picked) {
    if (!all.includes(p as T)) throw new Error(`--${name}: unknown "${p}" (one of ${all.join(', ')})`);
  }
  return all.filter((a) => picked.includes(a)); // always in the fixed order
}

export function parseOptions(argv: string[], registry: readonly Scenario[]): Options {
  const quick = argv.includes('--quick');
  const checkTargets = argv.includes('--check-targets');
  const names = listArg(argv, 'scenarios', registry.map((s) => s.name));
  const libs = listArg(argv, 'libs', LIBRARIES);

  const mode = quick ? 'quick' : 'full';
  for (const s of registry) {
    const [full, short] = [Object.keys(s.parameters?.full ?? {}), Object.keys(s.parameters?.quick ?? {})];
    if (full.join() !== short.join()) throw new Error(`scenario ${s.name}: its full and quick parameters differ (${full} vs ${short})`);
  }
  const parameters = Object.assign({}, ...registry.map((s) => s.parameters?.[mode]), SHARED[mode]) as Parameters;
  // --set name=value[,name=value...] overrides any of them (e.g. --set latencySeconds=30).
  const i = argv.indexOf('--set');
  for (const pair of i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : []) {
    const [name, value] = pair.split('=');
    if (!name || !(name in parameters) || !Number.isFinite(Number(value))) {
      throw new Error(`--set: expected name=number with a name among ${Object.keys(parameters).join(', ')}, got "${pair}"`);
    }
    (parameters as unknown as Record<string, number>)[name] = Number(value);
  }
  return { quick, checkTargets, scenarios: registry.filter((s) => names.includes(s.name)), libs, parameters };
}
