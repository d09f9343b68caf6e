// `pnpm demo`: the whole pipeline in one command. Picks a Redis, starts the HTTP service
// (producer) and two worker processes (consumers), drives a mixed workload through HTTP,
// plays the job lifecycle (a request waiting for its job's result, a cancellation, a
// timeout), shows live progress, checks that every job ended the way it should, prints a
// summary, then shows the scheduling strategies and weighted selection (scheduling-section.ts),
// and leaves nothing behind (processes, keys, temp dirs).
//
// This file starts and stops everything; drive.ts is the driver proper.
import { uniquePrefix } from '@docket/testing';
import { onOutcome } from './bookkeeping.js';
import { type Child, start, stop, waitForMessage } from './child-processes.js';
import { type ChosenRedis, SetupError, chooseRedis, deleteKeys } from './choose-redis.js';
import { drive } from './drive.js';
import { closeAgents } from './http-driver.js';
import { abort, aborted, startShutdown } from './run-state.js';
import { endStatus, fmt, log } from './terminal.js';
import { WORKERS } from './workload.js';

const INTERRUPTED = 'interrupted (Ctrl+C)';

async function main(): Promise<number> {
  const t0 = Date.now();
  const prefix = uniquePrefix('demo');
  let redis: ChosenRedis;
  try {
    redis = await chooseRedis();
  } catch (err) {
    if (err instanceof SetupError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  log(`docket demo: HTTP service -> Redis -> ${WORKERS} workers`);
  log(`Redis: ${redis.description}; keys under "${prefix}:"`);

  const children: Child[] = [];
  let exitCode = 1;
  const onSigint = (): void => abort(INTERRUPTED);
  process.on('SIGINT', onSigint);
  try {
    const env = { ...process.env, REDIS_URL: redis.url, DEMO_PREFIX: prefix };
    const server = start('./server.js', 'server', env, () => {});
    children.push(server);
    const workers = Array.from({ length: WORKERS }, (_, i) => start('./worker.js', `worker ${i + 1}`, { ...env, DEMO_WORKER_NAME: `worker ${i + 1}` }, onOutcome));
    children.push(...workers);
    const [{ url }] = await Promise.all([waitForMessage(server, 'listening', 15_000), ...workers.map((w) => waitForMessage(w, 'ready', 15_000))]);
    exitCode = await drive(url, t0, { url: redis.url, prefix });
  } catch (err) {
    endStatus();
    // After Ctrl+C the children die under the driver's feet; their errors are just noise.
    if (aborted()) console.error(`demo aborted: ${aborted()}`);
    else console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    exitCode = 1;
  } finally {
    endStatus();
    startShutdown();
    closeAgents();
    // Workers first: they finish or hand back what they hold; then the producer side.
    const workerExits = await Promise.all(children.filter((c) => c.name !== 'server').map((c) => stop(c)));
    await Promise.all(children.filter((c) => c.name === 'server').map((c) => stop(c)));
    if (workerExits.some((e) => e.code !== 0 && e.code !== null)) log('some worker did not close cleanly (see its output above)', process.stderr);
    if (redis.shared) {
      try {
        const removed = await deleteKeys(redis.url, prefix);
        log(`cleaned up: removed ${fmt(removed)} keys under "${prefix}:"`);
      } catch (err) {
        log(`could not remove the demo's keys under "${prefix}:": ${err instanceof Error ? err.message : String(err)}`, process.stderr);
      }
    }
    await redis.stop();
    if (!redis.shared) log('cleaned up: stopped the private redis-server and removed its dir');
    process.off('SIGINT', onSigint);
  }
  if (aborted() === INTERRUPTED) return 130;
  return exitCode;
}

process.exitCode = await main();
