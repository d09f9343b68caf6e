// What an operator does with a queue and its jobs: look a job up, cancel it, count the jobs per
// state, pause and resume, list, requeue and purge dead jobs. Each is one script call (or a few
// bounded ones) on the queue's slot.
import type { QueueDefinition } from '@docket/protocol';
import { checkInteger, checkKnownKeys, checkPlainObject, invalid, redisError } from '@docket/protocol/internal';
import { type JobInfo, deadJobInfo, toJobInfo } from './job-info.js';
import { checkId } from './options.js';
import type { QueueAccess } from './queue-access.js';

/** How many jobs a queue holds in each state, and whether it is paused. */
export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
  cancelled: number;
  paused: boolean;
}

/** Dead jobs are changed in calls of at most this many. */
const DEAD_BATCH = 1000;

export class Admin {
  readonly #access: QueueAccess;

  constructor(access: QueueAccess) {
    this.#access = access;
  }

  /** A snapshot of a job, or null if no job with this id exists (any more). */
  async getJob<Payload, Result>(queue: QueueDefinition<Payload, Result>, id: string): Promise<JobInfo<Payload, Result> | null> {
    checkId(id);
    const { keys } = await this.#access.ready(queue);
    const client = this.#access.client;
    let replies: (Buffer | null)[];
    try {
      // Sent back to back: one round trip.
      replies = await Promise.all([client.hgetBuffer(keys.jobs, id), client.hgetBuffer(keys.results, id), client.hgetBuffer(keys.progress, id)]);
    } catch (err) {
      throw redisError(err, `Reading job "${id}" of queue "${queue.name}"`, queue.name);
    }
    const [record, result, progress] = replies;
    return record ? toJobInfo<Payload, Result>(queue.name, id, record, result, progress) : null;
  }

  /** See Producer.cancel. */
  async cancel(queue: QueueDefinition, id: string): Promise<boolean> {
    checkId(id);
    const state = await this.#access.ready(queue);
    try {
      const reply = await state.scripts.cancel.run(this.#access.client, state.keyList, [id, state.keys.cancelChannel]);
      return reply !== 0;
    } catch (err) {
      throw redisError(err, `Cancelling job "${id}" of queue "${queue.name}"`, queue.name);
    }
  }

  async counts(queue: QueueDefinition): Promise<QueueCounts> {
    const state = await this.#access.ready(queue);
    try {
      const r = (await state.scripts.counts.run(this.#access.client, state.keyList, [])) as number[];
      return { waiting: r[0] ?? 0, delayed: r[1] ?? 0, active: r[2] ?? 0, completed: r[3] ?? 0, dead: r[4] ?? 0, cancelled: r[5] ?? 0, paused: r[6] === 1 };
    } catch (err) {
      throw redisError(err, `Counting the jobs of queue "${queue.name}"`, queue.name);
    }
  }

  async setPaused(queue: QueueDefinition, paused: boolean): Promise<void> {
    await this.#control(queue, 'pause', [paused ? '1' : '0'], paused ? 'Pausing' : 'Resuming');
  }

  async listDead<Payload>(queue: QueueDefinition<Payload>, options: { offset?: number; limit?: number }): Promise<JobInfo<Payload>[]> {
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['offset', 'limit']);
    const offset = options.offset === undefined ? 0 : checkInteger('offset', options.offset, 0);
    const limit = options.limit === undefined ? 100 : checkInteger('limit', options.limit, 1, 10_000);
    const { keys } = await this.#access.ready(queue);
    const client = this.#access.client;
    try {
      const ids = await client.zrevrange(keys.dead, offset, offset + limit - 1);
      if (ids.length === 0) return [];
      const records = await client.hmgetBuffer(keys.jobs, ...ids);
      const out: JobInfo<Payload>[] = [];
      ids.forEach((id, i) => {
        const record = records[i];
        if (record) out.push(deadJobInfo<Payload>(queue.name, id, record));
      });
      return out;
    } catch (err) {
      throw redisError(err, `Listing the dead jobs of queue "${queue.name}"`, queue.name);
    }
  }

  /** Requeues or purges the dead jobs `ids`, or every dead job; resolves with how many. */
  async deadAction(queue: QueueDefinition, action: 'requeue' | 'purge', ids: readonly string[] | undefined): Promise<number> {
    if (ids !== undefined) {
      if (!Array.isArray(ids)) throw invalid('ids', 'an array of job ids', ids);
      ids.forEach((id, i) => checkId(id, `ids[${i}]`));
      let total = 0;
      for (let i = 0; i < ids.length; i += DEAD_BATCH) {
        total += await this.#control(queue, 'dead', [action, '1', ...ids.slice(i, i + DEAD_BATCH)], 'Changing dead jobs');
      }
      return total;
    }
    let total = 0;
    for (;;) {
      const n = await this.#control(queue, 'dead', [action, '', DEAD_BATCH], 'Changing dead jobs');
      total += n;
      if (n < DEAD_BATCH) return total;
    }
  }

  async #control(queue: QueueDefinition, script: 'pause' | 'dead', args: (string | number)[], what: string): Promise<number> {
    const state = await this.#access.ready(queue);
    try {
      return Number(await state.scripts[script].run(this.#access.client, state.keyList, args));
    } catch (err) {
      throw redisError(err, `${what} queue "${queue.name}"`, queue.name);
    }
  }
}
