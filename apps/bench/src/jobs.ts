// Putting jobs in and checking what is left: the producer-side steps several scenarios share.
import { LIBRARY, type LibraryName, type Payload, type ProducerSide, monoMs, payload } from './libs.js';
import type { Timed } from './rounds.js';
import { type Context, Failure, targetFor } from './scenario.js';

/** Enqueues payloads `from..to-1` in chunks of `chunkSize`, one chunk at a time. */
export async function enqueueChunks(producer: ProducerSide, chunkSize: number, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += chunkSize) {
    const chunk: Payload[] = [];
    for (let i = start; i < Math.min(to, start + chunkSize); i++) chunk.push(payload(i));
    await producer.enqueueChunk(chunk);
  }
}

/** Throws unless the queue is empty and kept no finished job. */
export async function expectDrained(producer: ProducerSide): Promise<void> {
  const c = await producer.counts();
  if (c.waiting !== 0 || c.active !== 0) throw new Failure(`jobs left after the run: ${c.waiting} waiting, ${c.active} active`);
  if (c.finishedKept !== 0) throw new Failure(`${c.finishedKept} finished jobs kept (removal of finished jobs is not in effect)`);
}

/**
 * An enqueue round of `lib` on a new producer for `queue`: `p.warmJobs` jobs (a warm-up on the
 * same queue and connection), then `count` more, timed. `enqueue` puts payloads `from..to-1` in.
 */
export async function timedEnqueue(
  ctx: Context,
  lib: LibraryName,
  queue: string,
  count: number,
  enqueue: (producer: ProducerSide, from: number, to: number) => Promise<void>,
): Promise<Timed> {
  const producer = await LIBRARY[lib].producer(targetFor(ctx, lib), queue);
  try {
    await enqueue(producer, 0, ctx.p.warmJobs); // warm-up, same queue and connection
    const t0 = monoMs();
    await enqueue(producer, ctx.p.warmJobs, ctx.p.warmJobs + count);
    return { jobs: count, seconds: (monoMs() - t0) / 1000 };
  } finally {
    await producer.close();
  }
}
