import { EventEmitter } from 'node:events';
import { type ConnectionInput, type QueueDefinition, DEFAULT_PREFIX, DocketError } from '@docket/protocol';
import { type QueueKeys, checkConnection, decodeValue, openConnection, queueKeys, redisError, waitForConnection } from '@docket/protocol/internal';
import { checkInteger, checkKnownKeys, checkPlainObject, checkPrefix, checkQueue, invalid, validating } from '@docket/protocol/internal';
import type { Redis } from 'ioredis';

export type QueueEventType = 'enqueued' | 'active' | 'progress' | 'completed' | 'retrying' | 'dead' | 'cancelled';

const EVENT_TYPES: readonly QueueEventType[] = ['enqueued', 'active', 'progress', 'completed', 'retrying', 'dead', 'cancelled'];

/** One event of a queue's event feed. */
export interface QueueEvent {
  /** `<stream entry id>#<index in the entry>`: pass it as `from` to resume right after this event. */
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

/**
 * Splits one stream entry into its events. A script writes all the events of one call as one
 * entry; each event starts with field 'e' (its type), then 'j' (the job id) and its own
 * fields. Field names sit at even positions, so a value 'e' is never taken for a start.
 * An event with a count 'n' stands for that many events, for jobs with consecutive ids.
 */
function parseEntry(entryId: string, fields: Buffer[]): QueueEvent[] {
  const events: QueueEvent[] = [];
  let current: Map<string, Buffer> | undefined;
  const finish = () => {
    if (!current) return;
    // A run of events of one kind (and attempt) for consecutive generated ids is written as
    // one event with a count 'n' (see emit_run in protocol/src/lua/events.lua).
    const n = current.has('n') ? Number(current.get('n')?.toString()) : 1;
    const count = Number.isSafeInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
    const first = count > 1 ? Number(current.get('j')?.toString()) : 0;
    for (let k = 0; k < count; k++) {
      if (count > 1) current.set('j', Buffer.from(String(first + k)));
      const event = toEvent(`${entryId}#${events.length}`, current);
      if (event) events.push(event);
    }
  };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = (fields[i] as Buffer).toString();
    if (name === 'e') {
      finish();
      current = new Map();
    }
    current?.set(name, fields[i + 1] as Buffer);
  }
  finish();
  return events;
}

function toEvent(eventId: string, f: Map<string, Buffer>): QueueEvent | undefined {
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
  #lastEventId: string;
  #skipThrough: { entry: string; index: number } | undefined;
  #client: Redis | undefined;
  #state: 'new' | 'running' | 'closed' = 'new';
  #loop: Promise<void> | undefined;
  #lastErrorAt = Number.NEGATIVE_INFINITY;

  constructor(options: QueueEventsOptions) {
    super();
    this.#lastEventId = '';
    const o = validating('options', () => {
      const given = checkPlainObject('options', options);
      checkKnownKeys('options', given, ['connection', 'prefix', 'queue', 'from', 'blockMs']);
      const queue = checkQueue(given.queue);
      if (!queue.events) {
        throw new DocketError('INVALID_ARGUMENT', `Expected \`queue\` to have an event feed, but queue "${queue.name}" is defined with events: false`);
      }
      const from = given.from === undefined ? '$' : given.from;
      const match = typeof from === 'string' ? /^(\$|\d+(?:-\d+)?)(?:#(\d+))?$/.exec(from) : null;
      if (!match || (match[1] === '$' && match[2] !== undefined)) {
        throw invalid('from', "'$', '0' or an event id like '1700000000000-0#3'", from);
      }
      return {
        queue,
        prefix: given.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(given.prefix),
        match,
        blockMs: given.blockMs === undefined ? 5_000 : checkInteger('blockMs', given.blockMs, 10, 600_000),
        connection: checkConnection(given.connection),
      };
    });
    const { match } = o;
    this.#queue = o.queue;
    this.#keys = queueKeys(o.prefix, o.queue.name);
    this.#lastId = match[1] as string;
    // Resuming inside an entry: that entry is read again and its first events skipped.
    this.#skipThrough = match[2] === undefined ? undefined : { entry: match[1] as string, index: Number(match[2]) };
    this.#blockMs = o.blockMs;
    this.#connection = o.connection;
  }

  /** The id of the last event delivered (or the starting point): pass it as `from` to resume after it. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /**
   * Connects and starts delivering events. '$' is pinned to the feed's current end now.
   * Rejects with `CONNECTION_FAILED` if Redis cannot be reached within `connectTimeout` ms
   * (default 10 s), or `AUTH_FAILED` if it refuses the credentials.
   */
  async start({ connectTimeout = 10_000 }: { connectTimeout?: number } = {}): Promise<void> {
    checkInteger('connectTimeout', connectTimeout, 1);
    if (this.#state !== 'new') throw new DocketError('INVALID_ARGUMENT', 'start() was already called');
    this.#state = 'running';
    const { client, owned } = openConnection(this.#connection, {}, { maxRetriesPerRequest: null, enableAutoPipelining: false });
    this.#client = (owned ? client : (client as Redis).duplicate({ maxRetriesPerRequest: null })) as Redis;
    this.#client.on('error', () => {}); // reported by the read loop, throttled
    try {
      // Reads never give up (maxRetriesPerRequest: null): without this wait, start() would
      // hang for as long as Redis is unreachable.
      await waitForConnection(this.#client, connectTimeout);
    } catch (err) {
      this.#state = 'closed';
      this.#client.disconnect();
      throw err;
    }
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
    this.#lastEventId ||= this.#skipThrough ? `${this.#skipThrough.entry}#${this.#skipThrough.index}` : this.#lastId;
    this.#loop = this.#read();
  }

  #deliver(entryId: string, fields: Buffer[], skipThrough = -1): void {
    this.#lastId = entryId;
    for (const event of parseEntry(entryId, fields)) {
      const index = Number(event.eventId.slice(event.eventId.indexOf('#') + 1));
      if (index <= skipThrough) continue;
      this.#lastEventId = event.eventId;
      this.#emitSafe('event', event);
      this.#emitSafe(event.type, event);
    }
  }

  async #read(): Promise<void> {
    const client = this.#client as Redis;
    let failures = 0;
    const skip = this.#skipThrough;
    if (skip) {
      // Resume inside an entry: read it again (XRANGE is inclusive), skipping what was seen.
      try {
        const entries = (await client.xrangeBuffer(this.#keys.events, skip.entry, skip.entry)) as [Buffer, Buffer[]][];
        for (const [rawId, fields] of entries) this.#deliver(rawId.toString(), fields, skip.index);
      } catch (err) {
        this.#reportTrouble(err);
      }
    }
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
          for (const [rawId, fields] of entries) this.#deliver(rawId.toString(), fields);
        }
      } catch (err) {
        if (this.#state !== 'running') break;
        failures++;
        this.#reportTrouble(err);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 25 * 2 ** failures)));
      }
    }
  }

  /** At most one 'error' per 5 s while Redis is in trouble. */
  #reportTrouble(err: unknown): void {
    const now = performance.now();
    if (now - this.#lastErrorAt <= 5_000) return;
    this.#lastErrorAt = now;
    const error = redisError(err, `Reading the event feed of queue "${this.#queue.name}"`, this.#queue.name);
    if (this.listenerCount('error') > 0) this.emit('error', error);
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
