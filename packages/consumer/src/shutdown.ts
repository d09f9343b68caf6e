// Graceful shutdown: stop fetching, give running tries up to `timeout` ms, release the rest
// (back to waiting, attempts uncounted, signals aborted with CLOSED), hand every outcome to
// Redis, and close the connections. It never waits for a handler beyond `timeout`.
import { DocketError } from '@docket/protocol';
import { type RedisClient, redisError } from '@docket/protocol/internal';
import type { Connections } from './connections.js';
import type { FetchLoop } from './fetch-loop.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { Notices } from './notices.js';
import type { PushDelivery } from './push-delivery.js';
import type { SandboxPool } from './sandbox.js';
import type { Stepper } from './step.js';
import { abortTry } from './try-context.js';
import type { TryRunner } from './try-runner.js';
import type { ConsumerStatus } from './types.js';

/** ms a closing consumer waits for its pop to end after the marker before dropping the connection. */
const UNBLOCK_WAIT_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves after `ms`, or when `promise` settles if sooner. */
async function within(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export interface ShutdownParts {
  conn: Connections;
  loop: FetchLoop;
  stepper: Stepper;
  tries: TryRunner;
  push: PushDelivery | undefined;
  keeper: LeaseKeeper;
  notices: Notices;
  pool(): SandboxPool | undefined;
  setStatus(status: ConsumerStatus): void;
}

/**
 * Takes back the registration for push delivery and drains the inbox (the jobs come back leased
 * and, the consumer closing, are released at once). With `marker`, an empty entry follows, to
 * end a pop blocked on the inbox. Failures are reported, not thrown: the registration then runs
 * out, and a housekeeping step hands back what the inbox still holds.
 */
async function unregister(p: ShutdownParts, push: PushDelivery, marker: boolean): Promise<void> {
  try {
    await p.stepper.step(push.rt, 0, marker ? 'marker' : 'unregister');
    if (marker) push.markerLeft = true;
  } catch (err) {
    p.notices.redisTrouble(err, 'Unregistering from push delivery');
  }
}

/** The close of a running consumer (see Consumer.close). */
export async function shutdown(p: ShutdownParts, timeout: number): Promise<void> {
  const { conn, loop, tries, push, notices } = p;
  loop.wake();
  if (loop.blocked && push?.registered) {
    // Blocked on its inbox: take the registration back (jobs already pushed come back and are
    // released below), with a marker that ends the pop at once. Dropping the connection
    // instead could lose a job that the pop had just taken (until its lease ran out).
    await unregister(p, push, true);
    await within(loop.done, UNBLOCK_WAIT_MS);
  }
  conn.dropBlocking();
  await loop.done;
  if (push?.registered) await unregister(p, push, false);
  if (push?.markerLeft) {
    // The pop ended with a job instead (or not at all): the marker is still in the inbox.
    push.markerLeft = false;
    try {
      await conn.guard((conn.client as RedisClient).lpop(push.rt.inbox as string));
    } catch {
      // Harmless: an inbox no one reads again; it holds one empty string.
    }
  }

  if (tries.running.size > 0) {
    const allDone = new Promise<void>((resolve) => {
      const check = () => (tries.running.size === 0 ? resolve() : loop.onWake(check));
      check();
    });
    await within(allDone, timeout);
    loop.onWake(undefined);
  }
  // Released in reverse order of start: each release goes to the front of its queue, so the
  // jobs come out again in the order they were handed out.
  for (const lease of [...tries.running].reverse()) {
    if (lease.stopped) {
      // Timed out or cancelled and still not settled: that is its outcome, not "unfinished"
      // (a handler that never settles must not come back with its attempt uncounted).
      tries.decideStopped(lease);
      continue;
    }
    abortTry(
      lease,
      new DocketError('CLOSED', `The consumer is closing; job "${lease.job.id}" goes back to waiting for another consumer`, {
        jobId: lease.job.id,
        queue: lease.job.queue,
      }),
    );
    tries.decide(lease, 'r');
  }
  // Hand every outcome to Redis, retrying while it is briefly unreachable.
  const deadline = performance.now() + Math.max(timeout, 5_000);
  for (;;) {
    try {
      await loop.flushReports();
      break;
    } catch (err) {
      if (performance.now() > deadline) {
        notices.error(redisError(err, 'Reporting outcomes while closing'));
        break;
      }
      await sleep(200);
    }
  }
  p.keeper.stop();
  notices.loopWatch?.stop();
  p.setStatus('closed');
  await p.pool()?.close();
  await conn.close();
}
