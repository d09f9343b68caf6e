// docket vs BullMQ vs Bee-Queue, side by side on the same Redis in one run.
//   pnpm bench [--quick] [--scenarios enqueue,bulk,process,latency,memory,priority,idle]
//              [--libs docket,bullmq,bee-queue] [--set name=value,...] [--check-targets]
// See README.md ("pnpm bench") for what each scenario measures and how to read the ratios.
// The scenarios are in scenarios/ (the registry: scenarios/index.ts); this file runs the
// selected ones in order and hands their figures to the report.
import os from 'node:os';
import { monoMs } from './libs.js';
import { parseOptions } from './options.js';
import { type Report, collectTargets } from './report.js';
import { NOTES, publish } from './results.js';
import { CONCURRENCY, type Context, type Figures, IN_FLIGHT } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { setUp } from './setup.js';

async function main(): Promise<void> {
  const options = parseOptions(process.argv, SCENARIOS);
  const mode = options.quick ? 'quick' : 'full';
  const started = monoMs();
  const { redis, admin, runId, machine, libraries, close } = await setUp(mode);
  const ctx: Context = { redis, admin, runId, p: options.parameters, libs: options.libs, failures: [] };

  const figures: Figures[] = [];
  for (const scenario of options.scenarios) {
    if (scenario.docketOnly && !options.libs.includes('docket')) continue;
    figures.push(await scenario.run(ctx));
  }

  machine.loadAverage.end = os.loadavg();
  const rows = figures.flatMap((f) => f.rows ?? []);
  const docketOnly = figures.flatMap((f) => f.docketOnly ?? []);
  const report: Report = {
    mode,
    machine,
    libraries,
    parameters: { ...options.parameters, inFlight: IN_FLIGHT, concurrency: CONCURRENCY },
    rows,
    docketOnly,
    targets: collectTargets(rows, docketOnly),
    details: Object.assign({}, ...figures.map((f) => f.details)),
    failures: ctx.failures,
    notes: NOTES,
    durationSeconds: (monoMs() - started) / 1000,
  };
  await publish(report);
  await close();
  if (report.failures.length > 0) {
    console.error(`\n${report.failures.length} failure(s):`);
    for (const f of report.failures) console.error(`  ${f.scenario} / ${f.library}: ${f.message}`);
    process.exit(1);
  }
  if (options.checkTargets && report.targets.some((t) => t.met === false)) process.exit(2);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
