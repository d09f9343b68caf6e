import { DocketError } from './errors.js';
import { redisError } from './connection.js';
import type { QueueKeys } from './keys.js';
import type { QueueDefinition } from './queue.js';
import { PROTOCOL_VERSION } from './record.js';
import { LuaScript, type RedisClient } from './script.js';
import metaLua from './lua/meta.lua';

const metaScript = new LuaScript('meta', metaLua);

/**
 * Records the queue's protocol version and strategy if it has none, and throws a
 * `QUEUE_MISMATCH` DocketError if what is recorded differs from this process's view.
 */
export async function ensureQueueMeta(client: RedisClient, keys: QueueKeys, queue: QueueDefinition): Promise<void> {
  let reply: unknown;
  try {
    reply = await metaScript.run(client, [keys.meta], [String(PROTOCOL_VERSION), queue.strategy, queue.events ? '1' : '0']);
  } catch (err) {
    throw redisError(err, `Reading the meta of queue "${queue.name}"`, queue.name);
  }
  const [version, strategy, events] = (reply as (Buffer | null)[]).map((b) => b?.toString());
  if (version !== String(PROTOCOL_VERSION)) {
    const newer = Number(version) > PROTOCOL_VERSION;
    const recorded = version ? `uses docket protocol version ${version}` : 'has no protocol version recorded in its meta (it is empty)';
    throw new DocketError(
      'QUEUE_MISMATCH',
      `Queue "${queue.name}" ${recorded}, but this process speaks version ${PROTOCOL_VERSION}` +
        (newer
          ? '; upgrade the @docket packages of this process'
          : `; upgrade the processes that use it, or start a new queue (another name or prefix) and delete this one's keys (${keys.meta.slice(0, -'meta'.length)}*)`),
      { queue: queue.name },
    );
  }
  if (strategy !== queue.strategy) {
    throw new DocketError(
      'QUEUE_MISMATCH',
      `Queue "${queue.name}" is recorded with strategy '${strategy}', but this definition says '${queue.strategy}'; ` +
        "every producer and consumer must define the queue the same way (to change a queue's strategy, use a new queue name)",
      { queue: queue.name },
    );
  }
  if (events !== (queue.events ? '1' : '0')) {
    throw new DocketError(
      'QUEUE_MISMATCH',
      `Queue "${queue.name}" is recorded with events ${events === '1' ? 'on' : 'off'}, but this definition says ` +
        `events: ${queue.events}; every producer and consumer must define the queue the same way`,
      { queue: queue.name },
    );
  }
}
