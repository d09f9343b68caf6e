// What the e2e tests share: consumers in child processes, the queue most tests start from,
// and small readers of what happened.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Consumer, type ConsumerOptions, type Job } from '@docket/consumer';
import { Producer, type QueueDefinition, type QueueOptions, defineQueue } from '@docket/producer';
import { sourceNodeArgs, uniquePrefix } from '@docket/testing';
import type { UsedRedisServer } from '@docket/testing/vitest';
import type { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';

// ------------------------------------------------------------------ a queue of one test

/** Options of a consumer of a TestQueue: as for `new Consumer`, but prefix and queues are the queue's. */
export type TestConsumerOptions<P, R> = Omit<ConsumerOptions<QueueDefinition<P, R>>, 'prefix' | 'queues'>;

export interface TestQueue<P, R> {
  readonly prefix: string;
  readonly queue: QueueDefinition<P, R>;
  /** `<prefix>:{<queue name>}`: the queue's Redis keys are this and `:waiting`, `:active`, `:jobs`, ... */
  readonly keys: string;
  readonly producer: Producer;
  /** A client of the test's redis-server, for reading the queue's keys (made when first read). */
  readonly client: Redis;
  /** A consumer of the queue, not started; `connection` defaults to the test's redis-server. */
  newConsumer(options: TestConsumerOptions<P, R>): Consumer<QueueDefinition<P, R>>;
}

/**
 * A fresh queue named `<label>-<unique prefix>` on `redis`, and a producer for it. When the test
 * finishes, the consumers made with `newConsumer` are closed, then the producer (a test may
 * close them earlier itself: closing again does nothing). Call it inside a test.
 */
export function testQueue<P = unknown, R = unknown>(redis: UsedRedisServer, label: string, options: QueueOptions = {}): TestQueue<P, R> {
  const prefix = uniquePrefix();
  const queue = defineQueue<P, R>(`${label}-${prefix}`, options);
  const producer = new Producer({ connection: redis.url, prefix });
  const consumers: Consumer<QueueDefinition<P, R>>[] = [];
  onTestFinished(async () => {
    for (const consumer of consumers) await consumer.close();
    await producer.close();
  });
  let client: Redis | undefined;
  return {
    prefix,
    queue,
    keys: `${prefix}:{${queue.name}}`,
    producer,
    get client() {
      client ??= redis.client();
      return client;
    },
    newConsumer(consumerOptions) {
      const consumer = new Consumer<QueueDefinition<P, R>>({ connection: redis.url, ...consumerOptions, prefix, queues: [queue] });
      consumers.push(consumer);
      return consumer;
    },
  };
}

/** The ids of the jobs `consumer` emits `event` for, in the order they come: the array fills as they do. */
export function collectIds<Q extends QueueDefinition>(consumer: Consumer<Q>, event: 'completed' | 'failed' | 'dead' | 'cancelled'): string[] {
  const ids: string[] = [];
  consumer.on(event, (job: Job) => void ids.push(job.id));
  return ids;
}

/** A promise the test resolves when it likes: handlers wait on `opened` until the test calls `open()`. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats (commands run by scripts included). */
export function commandCounts(info: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) counts.set(m[1] as string, Number(m[2]));
  }
  return counts;
}

/** All the calls in `counts` but the test's own INFO and CONFIG. */
export function callsBesidesStats(counts: Map<string, number>): number {
  let total = 0;
  for (const [name, calls] of counts) if (name !== 'info' && !name.startsWith('config')) total += calls;
  return total;
}

// ------------------------------------------------------------------ consumers in child processes

export interface ChildMessage {
  type: 'ready' | 'start' | 'completed' | 'error' | 'warn' | 'closed' | 'aborted' | 'failed' | 'dead' | 'cancelled' | 'clock-stepped';
  id?: string;
  attempt?: number;
  token?: number;
  pid?: number;
  code?: string;
  message?: string;
  jobId?: string;
  /** 'clock-stepped': the child's Date.now() after the step. */
  now?: number;
}

export interface ConsumerChild {
  process: ChildProcess;
  messages: ChildMessage[];
  /** Resolves with the first message matching `predicate` (already received ones count). */
  next(predicate: (m: ChildMessage) => boolean, timeout?: number): Promise<ChildMessage>;
  /** SIGKILLs the process and waits for it to exit. */
  kill(): Promise<void>;
}

const fixture = fileURLToPath(new URL('../fixtures/consumer.mjs', import.meta.url));

export interface ConsumerChildConfig {
  url: string;
  prefix: string;
  queue: string;
  concurrency?: number;
  leaseDuration?: number;
  pollInterval?: number;
  handler?: { sleepMs?: number; busyMs?: number; waitForAbort?: boolean; failOnPayload?: boolean };
}

/**
 * Forks fixtures/consumer.mjs (which runs @docket/consumer from its sources) and waits until it is
 * started. `env` is added to this process's environment (e.g. NODE_EXTRA_CA_CERTS); `preload`
 * names fixtures run before it (`node --import`), e.g. 'clock-steps-back.mjs'.
 */
export async function forkConsumer(
  config: ConsumerChildConfig,
  { env, preload = [] }: { env?: Record<string, string>; preload?: string[] } = {},
): Promise<ConsumerChild> {
  const imports = preload.flatMap((name) => ['--import', new URL(`../fixtures/${name}`, import.meta.url).href]);
  const child = fork(fixture, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...sourceNodeArgs(), ...imports],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  const messages: ChildMessage[] = [];
  const waiters = new Set<() => void>();
  child.on('message', (m: ChildMessage) => {
    messages.push(m);
    for (const w of waiters) w();
  });
  const handle: ConsumerChild = {
    process: child,
    messages,
    next(predicate, timeout = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`consumer child: no matching message within ${timeout} ms; got ${JSON.stringify(messages.slice(-5))}`));
        }, timeout);
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  await handle.next((m) => m.type === 'ready');
  return handle;
}
