// A consumer process, forked (consumer-process.ts) for the processing, latency and idle
// scenarios, so the consumer never shares an event loop with the producer (as in a real deployment).
//   node dist/child.js '<ChildConfig as JSON>'   (with an IPC channel: fork() only)
import { LIBRARY, type LibraryName, type Target, monoMs } from './libs.js';

export type ChildConfig =
  | {
      /** Run `warm + count` pre-filled jobs; time the last `count` (after `warm` completions). */
      mode: 'throughput';
      lib: LibraryName;
      target: Target;
      queue: string;
      concurrency: number;
      warm: number;
      count: number;
    }
  | {
      /** Report `[i, ms from enqueue to handler start]` pairs in batches until told to stop. */
      mode: 'latency' | 'idle';
      lib: LibraryName;
      target: Target;
      queue: string;
      concurrency: number;
    };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'done'; seconds: number; count: number }
  | { type: 'latency'; samples: number[] } // flat: i0, ms0, i1, ms1, ...
  | { type: 'error'; message: string };

export type ParentMessage = { type: 'stop' };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function fail(error: unknown): Promise<never> {
  await send({ type: 'error', message: describe(error) });
  process.exit(1);
}

function stopRequested(): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'stop') resolve();
    });
    process.on('disconnect', () => resolve());
  });
}

async function throughput(config: Extract<ChildConfig, { mode: 'throughput' }>): Promise<void> {
  const lib = LIBRARY[config.lib];
  const total = config.warm + config.count;
  let completed = 0;
  let t0 = 0;
  let t1 = 0;
  let failure: unknown;
  let finish: () => void = () => {};
  let abort: (error: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    abort = reject;
  });
  const consumer = await lib.consumer(config.target, config.queue, config.concurrency, {
    onStart() {},
    onCompleted() {
      completed++;
      if (completed === config.warm) t0 = monoMs();
      if (completed === total) {
        t1 = monoMs();
        finish();
      }
    },
    onError(error) {
      if (completed < total && failure === undefined) {
        failure = error;
        abort(error);
      }
    },
  });
  if (config.warm === 0) t0 = monoMs();
  await finished;
  await send({ type: 'done', seconds: (t1 - t0) / 1000, count: config.count });
  await consumer.close();
}

async function latency(config: Extract<ChildConfig, { mode: 'latency' | 'idle' }>): Promise<void> {
  const lib = LIBRARY[config.lib];
  let batch: number[] = [];
  let failure: unknown;
  const flush = async () => {
    if (batch.length === 0) return;
    const samples = batch;
    batch = [];
    await send({ type: 'latency', samples });
  };
  const timer = setInterval(() => void flush(), 50);
  const stop = stopRequested();
  const consumer = await lib.consumer(config.target, config.queue, config.concurrency, {
    onStart(p) {
      batch.push(p.i, monoMs() - p.at);
    },
    onCompleted() {},
    onError(error) {
      failure ??= error;
    },
  });
  await send({ type: 'ready' });
  await Promise.race([
    stop,
    new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (failure !== undefined) {
          clearInterval(check);
          resolve();
        }
      }, 20);
      void stop.then(() => clearInterval(check));
    }),
  ]);
  clearInterval(timer);
  await flush();
  if (failure !== undefined) await fail(failure);
  await consumer.close();
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  if (config.mode === 'throughput') await throughput(config);
  else await latency(config);
  // Libraries may keep timers (stall checks, reconnects) after close: leave now.
  process.exit(0);
}

main().catch(fail);
