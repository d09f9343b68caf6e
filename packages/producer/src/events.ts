import { EventEmitter } from 'node:events';
import {
  type ConnectionInput,
  type QueueDefinition,
  type QueueKeys,
  DEFAULT_PREFIX,
  DocketError,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  checkPrefix,
  checkQueue,
  decodeValue,
  invalid,
  openConnection,
  queueKeys,
  redisError,
} from '@docket/protocol';
import type { Redis } from 'ioredis';

export type QueueEventType = 'enqueued' | 'active' | 'progress' | 'completed' | 'retrying' | 'dead' | 'cancelled';

const EVENT_TYPES: readonly QueueEventType[] = ['enqueued', 'active', 'progress', 'completed', 'retrying', 'dead', 'cancelled'];

/** One entry of a queue's event feed. */
export interface QueueEvent {
  /** The stream entry id: pass it as `from` to resume after this event. */
  eventId: string;
  type: QueueEventType;
  jobId: string;
  /** The try the event is about (active, progress, completed, retrying, dead, cancelled). */
  attempt?: number;
  /** The try's error (retrying, dead). */
  error?: string;
  /** ms until the retry (retrying). */
  delay?: number;
  /** When a delayed job becomes due (enqueued with a delay). */
  runAt?: number;
  /** The progress value (progress). */
  progress?: unknown;
  /** The job was requeued from the dead set (enqueued). */
  requeued?: boolean;
}

export interface QueueEventsEvents {
  /** Every event, in order. */
  event: [QueueEvent];
  enqueued: [QueueEvent];
  active: [QueueEvent];
  progress: [QueueEvent];
  completed: [QueueEvent];
  retrying: [QueueEvent];
  dead: [QueueEvent];
  cancelled: [QueueEvent];
  /** Trouble reading the feed (it keeps trying). */
  error: [Error];
}

export interface QueueEventsOptions {
  /** @default 'redis://127.0.0.1:6379' */
  connection?: ConnectionInput;
  /** @default 'docket' */
  prefix?: string;
  queue: QueueDefinition;
  /**
   * Where to start: '$' for events after `start()`, '0' for every event the feed still keeps,
   * or an `eventId` seen before to resume right after it.
   * @default '$'
   */
  from?: string;
  /**
   * Longest ms one blocking read waits before it is issued again.
   * @default 5000
   */
  blockMs?: number;
}

function parseEvent(eventId: string, fields: Buffer[]): QueueEvent | undefined {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
  const type = f.get('e')?.toString() as QueueEventType | undefined;
  const jobId = f.get('j')?.toString();
  if (!type || !EVENT_TYPES.includes(type) || jobId === undefined) return undefined;
  const event: QueueEvent = { eventId, type, jobId };
  const num = (k: string) => (f.has(k) ? Number(f.get(k)?.toString()) : undefined);
  const attempt = num('a');
  if (attempt !== undefined) event.attempt = attempt;
  if (f.has('err')) event.error = f.get('err')?.toString();
  if (type === 'retrying') event.delay = num('d') ?? 0;
  if (type === 'enqueued' && f.has('d')) event.runAt = num('d') as number;
  if (f.has('r')) event.requeued = true;
  if (f.has('p')) {
    try {
      event.progress = decodeValue(f.get('p') as Buffer);
    } catch {
      event.progress = undefined;
    }
  }
  return event;
}

/**
 * Follows a queue's event feed (a capped Redis stream) on a connection of its own: every job
 * transition, in order, resumable from any event id the feed still keeps. Usable from
 * producer-side code (a dashboard, a request waiting for its job).
 *
 * @example
 * const events = new QueueEvents({ connection: process.env.REDIS_URL, queue: emails });
 * events.on('dead', (e) => alert(`job ${e.jobId} died: ${e.error}`));
 * await events.start();
 */
export class QueueEvents extends EventEmitter<QueueEventsEvents> {
  readonly #keys: QueueKeys;
  readonly #queue: QueueDefinition;
  readonly #connection: ConnectionInput;
  readonly #blockMs: number;
  #lastId: string;
  #client: Redis | undefined;
  #state: 'new' | 'running' | 'closed' = 'new';
  #loop: Promise<void> | undefined;
  #lastErrorAt = 0;

  constructor(options: QueueEventsOptions) {
    super();
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['connection', 'prefix', 'queue', 'from', 'blockMs']);
    this.#queue = checkQueue(options.queue);
    if (!this.#queue.events) {
      throw new DocketError('INVALID_ARGUMENT', `Queue "${this.#queue.name}" is defined with events: false, so it has no event feed`);
    }
    const prefix = options.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(options.prefix);
    this.#keys = queueKeys(prefix, this.#queue.name);
    const from = options.from ?? '$';
    if (typeof from !== 'string' || !/^(\$|\d+(-\d+)?)$/.test(from)) throw invalid('from', "'$', '0' or an event id like '1700000000000-0'", from);
    this.#lastId = from;
    this.#blockMs = options.blockMs === undefined ? 5_000 : checkInteger('blockMs', options.blockMs, 10, 600_000);
    this.#connection = options.connection;
  }

  /** The id of the last event delivered: pass it as `from` to resume after it. */
  get lastEventId(): string {
    return this.#lastId;
  }

  /** Connects and starts delivering events. '$' is pinned to the feed's current end now. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new DocketError('INVALID_ARGUMENT', 'start() was already called');
    this.#state = 'running';
    const { client, owned } = openConnection(this.#connection, {}, { maxRetriesPerRequest: null, enableAutoPipelining: false });
    this.#client = (owned ? client : (client as Redis).duplicate({ maxRetriesPerRequest: null })) as Redis;
    this.#client.on('error', () => {}); // reported by the read loop, throttled
    if (this.#lastId === '$') {
      try {
        const last = (await this.#client.xrevrange(this.#keys.events, '+', '-', 'COUNT', 1)) as [string, string[]][];
        this.#lastId = last[0]?.[0] ?? '0-0';
      } catch (err) {
        this.#state = 'closed';
        this.#client.disconnect();
        throw redisError(err, `Reading the event feed of queue "${this.#queue.name}"`, this.#queue.name);
      }
    }
    this.#loop = this.#read();
  }

  async #read(): Promise<void> {
    const client = this.#client as Redis;
    let failures = 0;
    while (this.#state === 'running') {
      try {
        const reply = (await client.xreadBuffer(
          'COUNT',
          1000,
          'BLOCK',
          this.#blockMs,
          'STREAMS',
          this.#keys.events,
          this.#lastId,
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
        failures = 0;
        for (const [, entries] of reply ?? []) {
          for (const [rawId, fields] of entries) {
            const eventId = rawId.toString();
            this.#lastId = eventId;
            const event = parseEvent(eventId, fields);
            if (!event) continue;
            this.#emitSafe('event', event);
            this.#emitSafe(event.type, event);
          }
        }
      } catch (err) {
        if (this.#state !== 'running') break;
        failures++;
        const now = Date.now();
        if (now - this.#lastErrorAt > 5_000) {
          this.#lastErrorAt = now;
          const error = redisError(err, `Reading the event feed of queue "${this.#queue.name}"`, this.#queue.name);
          if (this.listenerCount('error') > 0) this.emit('error', error);
        }
        await new Promise((r) => setTimeout(r, Math.min(2_000, 25 * 2 ** failures)));
      }
    }
  }

  #emitSafe<E extends keyof QueueEventsEvents>(event: E, ...args: QueueEventsEvents[E]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      if (event !== 'error' && this.listenerCount('error') > 0) this.emit('error', err as Error);
    }
  }

  /** Stops reading and closes the connection. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const client = this.#client;
    if (client) {
      client.disconnect();
      (client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
    }
    await this.#loop;
  }
}
