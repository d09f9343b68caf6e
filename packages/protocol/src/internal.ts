// What the docket packages share among themselves and nothing else should import: the key
// layout, the job record and its codecs, validation helpers, connection handling and the Lua
// building blocks. It may change in any release; applications use the public entry (index.ts).

// Queue definitions and key layout
export { checkQueue } from './queue.js';
export { QUEUE_KEY_ORDER, checkPrefix, checkQueueName, inboxKey, queueKeyList, queueKeys, type QueueKeys } from './keys.js';

// Job record and encoding
export {
  EVENTS_MAX_LEN,
  RECORD_FORMAT,
  STATE_CODES,
  decodeRecord,
  decodeValue,
  encodeRecord,
  encodeRecordHead,
  encodeValue,
  type DecodedRecord,
  type JobHeader,
} from './record.js';
export { checkPayloadLimit, encodeChecked } from './payload.js';

// Validation helpers
export {
  MAX_TIMER_MS,
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkOneOf,
  checkPlainObject,
  describe,
  describeThrown,
  invalid,
  optionalInteger,
  validating,
} from './validate.js';

// Redis access
export {
  checkConnection,
  describeConnection,
  isAuthError,
  openConnection,
  redisError,
  waitForConnection,
  type OpenedConnection,
} from './connection.js';
export { LuaScript, composeLua, type RedisClient } from './script.js';
export { ensureQueueMeta } from './meta.js';
export { LUA, QUEUE_PRELUDE, RECORD_LUA } from './lua.js';

// Wire formats (each beside its Lua twin in wire/)
export { type EnqueueArgsJob, jobSpec, packEnqueueArgs, unpackEnqueueArgs } from './wire/enqueue-args.js';
export { type ReportKind, type WireReport, packReports, unpackReports } from './wire/reports.js';
export { type LeaseEntry, packLeaseEntries, readLeaseEntries, readLeaseEntry } from './wire/lease-entries.js';
