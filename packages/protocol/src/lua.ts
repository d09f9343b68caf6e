import { composeLua } from './script.js';
import enqueueArgsLua from './wire/enqueue-args.lua';
import leaseEntriesLua from './wire/lease-entries.lua';
import reportsLua from './wire/reports.lua';
import eventsLua from './lua/events.lua';
import keysLua from './lua/keys.lua';
import leasingLua from './lua/leasing.lua';
import pushDeliveryLua from './lua/push-delivery.lua';
import recordLua from './lua/record.lua';

/**
 * The Lua fragments the docket packages compose their queue scripts from (composeLua). Each one
 * starts with a header naming its KEYS, ARGV, what it returns and what it guarantees. A script
 * lists the fragments it uses in this order, then the queue's strategy where noted, then its own
 * body; a fragment may use what the ones before it define.
 */
export const LUA = Object.freeze({
  /** KEYS layout, state codes, header positions, the active set's anchor, call_chunked, now_ms. */
  keys: keysLua,
  /** The event feed: emit, emit_run, flush_events. */
  events: eventsLua,
  /** Job records (read, write, patch the fixed block) and their lifecycle (finish, bury, trim, wake). */
  record: recordLua,
  /** Wire format: lease entries (what a consumer receives). */
  leaseEntries: leaseEntriesLua,
  /** Wire format: a step's reports. */
  reports: reportsLua,
  /** Wire format: an enqueue call's jobs. */
  enqueueArgs: enqueueArgsLua,
  /** After the strategy: lease_jobs (the one leasing routine) and requeue_uncounted. */
  leasing: leasingLua,
  /** After `leasing`: push delivery, both sides (push_to_idle; take back, register, release). */
  pushDelivery: pushDeliveryLua,
});

/** The fragments every queue script starts with: keys, events and records. */
export const QUEUE_PRELUDE: readonly string[] = Object.freeze([LUA.keys, LUA.events, LUA.record]);

/** The queue prelude as one fragment (keys, events, record), for scripts that need no more. */
export const RECORD_LUA: string = composeLua(...QUEUE_PRELUDE);
