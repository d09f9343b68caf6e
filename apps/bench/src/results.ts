// The end of a run: the tables on the console, and the JSON, Markdown and SVG files in
// apps/bench/results/ (under a dated name, and as latest.* or latest-quick.*).
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { svgChart } from './chart.js';
import { type Report, docketOnlyTable, markdown, resultsTable, summaryLine } from './report.js';
import { log } from './scenario.js';

/** What the table cannot say: deliberate choices and the unfairness we could not remove. */
export const NOTES = [
  'Order: docket, BullMQ, Bee-Queue in every scenario; the Redis is emptied (FLUSHALL on the private server) before and after each library.',
  'Rounds (full run: 2): the enqueue, bulk, process and latency scenarios run as interleaved rounds (docket, BullMQ, Bee-Queue, docket, BullMQ, Bee-Queue), each with its own warm-up; an enqueue, bulk or latency round has its share of the jobs (or seconds), a process round runs all of the scenario\'s jobs through one consumer process, as the scenario is defined; a rate is total jobs ÷ total measured seconds, latency percentiles are over the pooled samples. A noisy moment on the shared machine then hits the libraries more evenly.',
  'Settings are each library\'s defaults except removal of finished jobs: BullMQ job options removeOnComplete/removeOnFail: true (via the Queue\'s defaultJobOptions, so they are stored with each job); Bee-Queue removeOnSuccess/removeOnFailure: true; docket keepCompleted/keepDead { count: 0 }.',
  'Defaults kept even where they cost a library something: docket\'s producer batches the enqueues of one event-loop turn into one script call (its default), BullMQ\'s Queue sends one call per job (its default); Bee-Queue\'s producer keeps its defaults isWorker/getEvents/storeJobs: true (an extra blocking connection, a pub/sub subscription, and a Map of the jobs it created until they finish); all three write per-job events by default (docket and BullMQ to a capped stream, Bee-Queue with PUBLISH).',
  'Consumers run in their own forked process; the parent only enqueues and measures. Producer, consumer and Redis share the same (2-core, shared) machine, so they compete for CPU: a library that burns more client CPU also slows Redis down.',
  'Warm-up: each library first runs a small batch of the same work on the same queue and connections (enqueue, bulk, process) or the first seconds of the same load (latency: 3 s, as BullMQ needs about 2 s at 2,000 jobs/s to clear the backlog it builds up when the load starts, even once its worker has run probe jobs), not counted. The latency load starts only after the consumer has run 5 probe jobs one by one.',
  'Process rate: from the completion of the last warm-up job to the completion of the last job, counted in the consumer process from each library\'s own "completed" event (docket \'completed\', BullMQ worker \'completed\', Bee-Queue \'succeeded\'), which fire once the outcome is stored in Redis.',
  'Latency: enqueue timestamp from the system-wide monotonic clock in the payload, handler-start time from the same clock in the consumer process; the time between the timestamp and the enqueue call is part of the figure for every library alike.',
  'Memory: INFO used_memory after minus before enqueueing the jobs (one job enqueued first so the queue\'s fixed structures are not counted), divided by the job count; it includes each library\'s event stream or indexes, which are part of its footprint.',
];

/** Prints the tables and the summary, and writes the result files (their paths are printed). */
export async function publish(report: Report): Promise<void> {
  const quick = report.mode === 'quick';
  log('');
  log(resultsTable(report));
  if (report.docketOnly.length > 0) log(`\n${docketOnlyTable(report)}`);
  log('');
  log(summaryLine(report));
  if (quick) log('(quick run: small numbers of jobs, for checking that the benchmark works; its ratios are not meaningful)');

  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const stamp = report.machine.date.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const base = `bench-${stamp}${quick ? '-quick' : ''}`;
  const latest = quick ? 'latest-quick' : 'latest';
  const svg = svgChart(report);
  const files: string[] = [];
  for (const name of [base, latest]) {
    await writeFile(`${dir}${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${dir}${name}.md`, markdown(report, `${name}.svg`));
    await writeFile(`${dir}${name}.svg`, svg);
    files.push(...['json', 'md', 'svg'].map((ext) => `${dir}${name}.${ext}`));
  }
  log('');
  log('written:');
  for (const f of files) log(`  ${f}`);
  log(`done in ${report.durationSeconds.toFixed(1)} s`);
}
