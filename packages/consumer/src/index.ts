// The consumer
export { Consumer, type ConsumerEvents } from './consumer.js';
export { type ConsumerOptions, type Logger, type Retention } from './options.js';
export { type Handler, type HandlerContext, type Job, type PayloadOf, type ResultOf } from './job.js';
export { backoffDelay } from './backoff.js';
export { closeOnSignal, type CloseOnSignalOptions } from './signals.js';
export { seededRandom } from '@docket/scheduler';
export { SandboxPool, type SandboxOptions, type SandboxTry } from './sandbox.js';

// Re-exported so a worker needs only this package
export {
  DocketError,
  defineQueue,
  isDocketError,
  type DocketErrorCode,
  type JobState,
  type QueueDefinition,
  type StrategyName,
} from '@docket/protocol';
