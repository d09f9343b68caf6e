// The public API of @docket/protocol: what applications import to define queues and to
// recognise docket's errors. The docket packages share their internals through
// '@docket/protocol/internal' (./internal.ts), which is not part of this contract.

// Errors
export { DocketError, isDocketError, type DocketErrorCode, type DocketErrorOptions } from './errors.js';

// Queue definitions
export { defineQueue, STRATEGY_NAMES, type QueueDefinition, type QueueOptions, type StrategyName } from './queue.js';

// Jobs and their settings
export { PROTOCOL_VERSION, type Backoff, type BackoffType, type JobState } from './record.js';
export { DEFAULT_MAX_PAYLOAD_BYTES, MAX_PAYLOAD_CEILING } from './payload.js';
export { DEFAULT_PREFIX } from './keys.js';
export { type ConnectionInput } from './connection.js';
