// The producer
export { Producer, type EnqueuedJob, type JobToEnqueue, type ProducerOptions, type QueueCounts } from './producer.js';
export { QueueEvents, type QueueEvent, type QueueEventType, type QueueEventsEvents, type QueueEventsOptions } from './events.js';
export { type JobOptions, DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, MAX_PRIORITY, MIN_PRIORITY } from './options.js';
export { type JobInfo } from './job-info.js';

// Re-exported so a web app needs only this package
export {
  DocketError,
  defineQueue,
  isDocketError,
  type Backoff,
  type ConnectionInput,
  type DocketErrorCode,
  type JobState,
  type QueueDefinition,
  type QueueOptions,
  type StrategyName,
} from '@docket/protocol';
