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
