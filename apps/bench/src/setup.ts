// The machine and the Redis a run measures on: the Redis (a private redis-server, or REDIS_URL),
// an admin connection to it, what to do when interrupted, the description of the machine, and
// the header the run prints first.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import { killConsumerProcesses } from './consumer-process.js';
import { LABELS, LIBRARIES, LIBRARY, type LibraryName } from './libs.js';
import { type BenchRedis, benchRedis, info } from './redis.js';
import { type Machine, machineLine } from './report.js';
import { log } from './scenario.js';

export interface Setup {
  redis: BenchRedis;
  /** The parent's own connection (FLUSHALL, INFO, MONITOR). */
  admin: Redis;
  /** Suffix of the key prefixes on a shared REDIS_URL. */
  runId: string;
  /** loadAverage.end is set when the scenarios are done. */
  machine: Machine;
  /** Each library's version. */
  libraries: Record<LibraryName, string>;
  /** Closes the admin connection and stops the private redis-server. */
  close(): Promise<void>;
}

/** Starts the Redis, describes the machine and prints the run's header. */
export async function setUp(mode: 'full' | 'quick'): Promise<Setup> {
  const redis = await benchRedis();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const runId = randomBytes(3).toString('hex');
  // Interrupted: stop our consumer processes and our redis-server, then leave.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping`);
      killConsumerProcesses();
      admin.disconnect();
      void redis.stop().finally(() => process.exit(130));
    });
  }
  const loadStart = os.loadavg();
  const server = await info(admin, 'server');
  const cpus = os.cpus();
  const machine: Machine = {
    date: new Date().toISOString(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    loadAverage: { start: loadStart, end: loadStart },
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: server.get('redis_version') ?? 'unknown',
    redisTarget: redis.describe,
  };
  const libraries = Object.fromEntries(LIBRARIES.map((l) => [l, LIBRARY[l].version])) as Record<LibraryName, string>;

  log(`docket vs BullMQ vs Bee-Queue (${mode} run)`);
  log(`machine: ${machineLine(machine)}`);
  log(`libraries: ${LIBRARIES.map((l) => `${LABELS[l]} ${libraries[l]}`).join(', ')}`);
  if (redis.shared) log('REDIS_URL is shared: no FLUSHALL; keys use run-specific prefixes and are deleted after each step.');
  log('');

  return {
    redis,
    admin,
    runId,
    machine,
    libraries,
    async close() {
      await admin.quit();
      await redis.stop();
    },
  };
}
