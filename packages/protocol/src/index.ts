// Errors
export { DocketError, isDocketError, type DocketErrorCode, type DocketErrorOptions } from './errors.js';

// Queue definitions
export {
  defineQueue,
  checkQueue,
  STRATEGY_NAMES,
  type QueueDefinition,
  type QueueOptions,
  type StrategyName,
} from './queue.js';

// Key layout
export {
  DEFAULT_PREFIX,
  QUEUE_KEY_ORDER,
  checkPrefix,
  checkQueueName,
  inboxKey,
  queueKeyList,
  queueKeys,
  type QueueKeys,
} from './keys.js';

// Job record and encoding
export {
  EVENTS_MAX_LEN,
  PROTOCOL_VERSION,
  RECORD_FORMAT,
  STATE_CODES,
  decodeRecord,
  decodeValue,
  encodeRecord,
  encodeRecordHead,
  encodeValue,
  type Backoff,
  type BackoffType,
  type DecodedRecord,
  type JobHeader,
  type JobState,
} from './record.js';
export { DEFAULT_MAX_PAYLOAD_BYTES, encodeChecked } from './payload.js';

// Validation helpers shared by the docket packages
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

// Redis access shared by the docket packages
export {
  checkConnection,
  describeConnection,
  isAuthError,
  openConnection,
  redisError,
  waitForConnection,
  type ConnectionInput,
  type OpenedConnection,
} from './connection.js';
export { LuaScript, composeLua, type RedisClient } from './script.js';
export { ensureQueueMeta } from './meta.js';
export { RECORD_LUA } from './lua.js';
