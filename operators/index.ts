// rxtether/operators: generic, socket-agnostic RxJS operators. Re-exports only.
export {
  ConnectionClosedError,
  DecodeError,
  HandshakeRejectedError,
  HeartbeatTimeoutError,
  OpenTimeoutError,
  ResumeGapError,
  isConnectionClosedError,
  isDecodeError,
  isHandshakeRejectedError,
  isHeartbeatTimeoutError,
  isOpenTimeoutError,
  isResumeGapError,
  isRetryableError,
  retryAfterOf,
} from '../src/errors.js';
export type { RxTetherErrorName, RxTetherErrorOptions } from '../src/errors.js';
export {
  MAX_TIMER_DELAY,
  backoffStrategies,
  decorrelatedJitterDelay,
  equalJitterDelay,
  exponentialDelay,
  fullJitterDelay,
} from './backoff.js';
export type { BackoffOptions, BackoffStrategy, JitterMode } from './backoff.js';
export { retryAttemptsOf, retryWithJitteredBackoff } from './retryWithJitteredBackoff.js';
export type {
  RetryAttemptInfo,
  RetryGiveUpInfo,
  RetryGiveUpReason,
  RetryWithJitteredBackoffConfig,
  ShouldRetryInfo,
} from './retryWithJitteredBackoff.js';
export { heartbeatTimeout } from './heartbeatTimeout.js';
export type { HeartbeatTimeoutConfig } from './heartbeatTimeout.js';
export { compareCursors, createResumeCursor, isNextInSequence, resumeFrom } from './resumeFrom.js';
export type { CursorValue, ResumeCursor, ResumeCursorConfig, ResumeFromConfig } from './resumeFrom.js';
