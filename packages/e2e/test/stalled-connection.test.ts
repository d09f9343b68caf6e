// Guarantee 7 (Redis trouble), the silent kind: a connection that goes half-open (after a
// failover, a NAT or load balancer dropping its state) sends no FIN and no reset; commands on it
// just never get an answer. The consumer's watchdogs must notice and reconnect, on the blocking
// connection (idle consumer) and on the command connection (step, renewal, ack). The TCP proxy
// stalls the consumer's open connections and keeps them stalled for the whole test, while new
// connections go through: the consumer gets back to work only by reconnecting.
import { queueKeys } from '@docket/protocol/internal';
import type { Redis } from 'ioredis';
import { type TcpProxy, sleep, startTcpProxy, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestConsumerOptions, type TestQueue, testQueue } from './helpers.js';

// A server per test (stopped after the proxy) and a proxy in front of it: the consumers connect
// through the proxy; the producers (testQueue's) and `admin` straight to Redis.
const redis = useRedisServer({ appendonly: false, scope: 'each' });
let proxy: TcpProxy;
let admin: Redis;
beforeEach(async () => {
  proxy = await startTcpProxy({ targetPort: redis.port });
  admin = redis.client();
});
afterEach(() => proxy.close());

/** Commands Redis is running right now for clients, e.g. 'blpop' for one blocked in BLPOP. */
async function runningCommands(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return [...list.matchAll(/\bcmd=(\S+)/g)].map((m) => m[1] as string);
}

/** A consumer of the test's queue that connects through the proxy, and what it reports: completions and errors. */
function consumerThroughProxy(newConsumer: TestQueue<unknown, unknown>['newConsumer'], options: Omit<TestConsumerOptions<unknown, unknown>, 'connection'>) {
  const consumer = newConsumer({ connection: proxy.url, ...options });
  const completed: { id: string; attempt: number }[] = [];
  const errors: { code?: string; message: string }[] = [];
  consumer.on('completed', (job) => completed.push({ id: job.id, attempt: job.attempt }));
  consumer.on('error', (err) => errors.push({ code: (err as { code?: string }).code, message: err.message }));
  return { consumer, completed, errors };
}

// Upper bound only (the watchdogs allow Redis 10 s of silence past what they expect, twice in
// a row in the idle case): a consumer without them never recovers at all.
const RECOVERY_BOUND = 75_000;

describe('a consumer whose connections to Redis stall silently (half-open)', () => {
  it('while idle in BLPOP: it notices, reconnects and runs a job enqueued during the stall', { timeout: 120_000 }, async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'stall-idle');
    const { consumer, completed, errors } = consumerThroughProxy(newConsumer, {
      pollInterval: 1_000,
      handler: async (job) => ({ ran: job.id }),
    });
    await consumer.start();
    try {
      await waitUntil(async () => (await runningCommands()).includes('blpop'), { what: 'the consumer to block in BLPOP' });
      const acceptedBefore = proxy.accepted;
      void proxy.stall(10 * 60_000); // longer than the test: the stalled connections never come back
      expect(proxy.stalled).toBe(3); // commands, blocking, cancellation subscriber

      const { id } = await producer.enqueue(queue, { n: 1 });
      await waitUntil(() => completed.length === 1, { timeout: RECOVERY_BOUND, interval: 100, what: 'the job to run after the stall' });
      expect(completed[0]).toEqual({ id, attempt: 1 });
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('completed');
      expect(job?.attempts).toBe(1);
      expect(job?.result).toEqual({ ran: id });
      // It got there over new connections (the stalled ones are still open and silent).
      expect(proxy.accepted).toBeGreaterThanOrEqual(acceptedBefore + 2);
      expect(proxy.stalled).toBe(3);
      // The consumer said why it reconnected.
      expect(errors.map((e) => e.message).join('\n')).toMatch(/no reply from Redis/i);
    } finally {
      await consumer.close({ timeout: 1_000 });
    }
  });

  it('while running a job (renewal and ack on the stalled connection): it reconnects and the ack goes through once', { timeout: 120_000 }, async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'stall-busy');
    let release: (() => void) | undefined;
    const started: string[] = [];
    const { consumer, completed, errors } = consumerThroughProxy(newConsumer, {
      leaseDuration: 30_000, // renewed every 10 s: the first renewal after the stall gets no answer
      handler: async (job) => {
        started.push(job.id);
        await new Promise<void>((resolve) => (release = resolve));
        return { ran: job.id };
      },
    });
    await consumer.start();
    try {
      const { id } = await producer.enqueue(queue, { n: 1 });
      await waitUntil(() => started.length === 1, { what: 'the handler to start' });
      const acceptedBefore = proxy.accepted;
      void proxy.stall(10 * 60_000);
      expect(proxy.stalled).toBe(3);

      // A renewal is sent on the stalled command connection and never answered; the consumer
      // must give up on that connection and open a new one.
      await waitUntil(() => proxy.accepted > acceptedBefore, { timeout: RECOVERY_BOUND, interval: 100, what: 'the consumer to reconnect' });
      release?.();
      await waitUntil(() => completed.length === 1, { timeout: 30_000, interval: 100, what: 'the ack to go through' });
      expect(completed[0]).toEqual({ id, attempt: 1 });
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('completed');
      expect(job?.attempts).toBe(1);
      expect(job?.result).toEqual({ ran: id });
      expect(errors.some((e) => /no reply from Redis/i.test(e.message))).toBe(true);
      expect(errors.filter((e) => e.code === 'LEASE_LOST')).toEqual([]);
    } finally {
      release?.();
      await consumer.close({ timeout: 1_000 });
    }
  });

  it('while subscribed for cancellations: its subscriber is replaced, and a cancel still stops the running try at once', { timeout: 120_000 }, async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'stall-subscriber');
    const channel = queueKeys(prefix, queue.name).cancelChannel;
    const started: string[] = [];
    const aborted: { id: string; at: number }[] = [];
    const { consumer, errors } = consumerThroughProxy(newConsumer, {
      // Renewals (which also report a cancellation, as a backup) every 40 s: not within this test.
      leaseDuration: 120_000,
      handler: async (job, { signal }) => {
        started.push(job.id);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        aborted.push({ id: job.id, at: performance.now() });
        throw signal.reason;
      },
    });
    await consumer.start();
    try {
      const { id } = await producer.enqueue(queue, { n: 1 });
      await waitUntil(() => started.length === 1, { what: 'the handler to start' });
      void proxy.stall(10 * 60_000);
      expect(proxy.stalled).toBe(3);
      // The subscriber's ping goes unanswered: it says so and subscribes again on a new connection.
      await waitUntil(() => errors.some((e) => /cancellation subscriber/.test(e.message)), { timeout: 40_000, interval: 100, what: 'the subscriber watchdog' });
      await waitUntil(async () => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1] === 2, {
        timeout: 10_000,
        what: 'a second subscription to the cancel channel (the new connection; the stalled one stays open)',
      });
      const cancelledAt = performance.now();
      expect(await producer.cancel(queue, id)).toBe(true);
      await waitUntil(() => aborted.length === 1, { timeout: 5_000, what: 'the try to be stopped' });
      expect(aborted[0]!.at - cancelledAt).toBeLessThan(1_000);
    } finally {
      await consumer.close({ timeout: 1_000 });
    }
  });

  it('keeps a healthy connection whose reply waited behind a blocked event loop (no false alarm)', { timeout: 120_000 }, async () => {
    // The handler sends a progress call, then blocks the event loop for longer than the command
    // connection's watchdog allows (10 s). Redis answers at once, but the reply (and the EVAL
    // that follows a NOSCRIPT: the progress script is new to this connection) can only be
    // read after the block. A watchdog that blamed the connection for that time would drop it
    // and fail the progress call with "no reply from Redis". (The progress value itself comes
    // too late to be stored: the try's ack, sent as soon as the handler returns, is first.)
    const { queue, producer, newConsumer } = testQueue(redis, 'stall-false-alarm');
    const { consumer, completed, errors } = consumerThroughProxy(newConsumer, {
      leaseDuration: 60_000, // the block costs no lease
      handler: (job, { progress }) => {
        progress(50);
        const until = Date.now() + 11_500;
        while (Date.now() < until) {
          // deliberately blocking
        }
        return { ran: job.id };
      },
    });
    await consumer.start();
    try {
      const acceptedBefore = proxy.accepted;
      const { id } = await producer.enqueue(queue, { n: 1 });
      await waitUntil(() => completed.length === 1, { timeout: 60_000, interval: 100, what: 'the job to complete' });
      await sleep(1_000); // a late false alarm would show here
      expect(errors).toEqual([]);
      expect(proxy.accepted).toBe(acceptedBefore); // no connection was replaced
      expect(completed[0]).toEqual({ id, attempt: 1 });
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('completed');
      expect(job?.attempts).toBe(1);
    } finally {
      await consumer.close({ timeout: 1_000 });
    }
  });
});
