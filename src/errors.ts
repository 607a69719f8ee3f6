import { type CloseClassifierConfig, isRetryableClose } from './closeCodes.js';

/**
 * Brand shared by every rxtether error. `Symbol.for` keeps the `isXxxError()` guards working
 * when two copies of the package end up in one bundle (where `instanceof` would fail).
 */
const BRAND: unique symbol = Symbol.for('rxtether.error') as never;

/** The names of rxtether's error classes, as found in their fixed `name` field. */
export type RxTetherErrorName =
  | 'ConnectionClosedError'
  | 'OpenTimeoutError'
  | 'HeartbeatTimeoutError'
  | 'DecodeError'
  | 'HandshakeRejectedError'
  | 'ResumeGapError'
  | 'SessionTimeoutError'
  | 'ChannelRejectedError'
  | 'ClientClosedError'
  | 'OutboxOverflowError';

function hasBrand(value: unknown, name: RxTetherErrorName): boolean {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === name;
}

function brand(error: Error, name: RxTetherErrorName): void {
  Object.defineProperty(error, BRAND, { value: name, enumerable: false });
}

/** Options shared by every rxtether error constructor. */
export interface RxTetherErrorOptions {
  /** The underlying error or event, kept for debugging. */
  readonly cause?: unknown;
}

/**
 * The socket closed without the subscriber asking for it — including a server's clean
 * `1000`, so that the retry layer (not the socket) decides what happens next.
 *
 * @example
 * ```ts
 * import { connect, isConnectionClosedError } from 'rxtether';
 *
 * connect(url).subscribe({
 *   error: (e) => { if (isConnectionClosedError(e)) console.log(e.code, e.reason, e.wasClean); },
 * });
 * ```
 */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError' as const;
  /** The close code from the close event (1006 when the connection dropped without one). */
  readonly code: number;
  /** The close reason sent by the peer, `''` when none. */
  readonly reason: string;
  /** `true` when the closing handshake completed. */
  readonly wasClean: boolean;

  constructor(code: number, reason: string, wasClean: boolean, options?: RxTetherErrorOptions) {
    super(`WebSocket closed with code ${code}${reason ? ` (${JSON.stringify(reason.slice(0, 123))})` : ''}`, options);
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
    brand(this, this.name);
  }
}

/** Guard for {@link ConnectionClosedError}, safe across duplicate package copies. */
export function isConnectionClosedError(error: unknown): error is ConnectionClosedError {
  return hasBrand(error, 'ConnectionClosedError');
}

/** The socket did not open within `openTimeout` ms; the attempt was aborted. */
export class OpenTimeoutError extends Error {
  override readonly name = 'OpenTimeoutError' as const;
  /** The timeout that elapsed, in ms. */
  readonly timeout: number;

  constructor(timeout: number, options?: RxTetherErrorOptions) {
    super(`WebSocket did not open within ${timeout} ms`, options);
    this.timeout = timeout;
    brand(this, this.name);
  }
}

/** Guard for {@link OpenTimeoutError}. */
export function isOpenTimeoutError(error: unknown): error is OpenTimeoutError {
  return hasBrand(error, 'OpenTimeoutError');
}

/**
 * The peer stayed silent past a heartbeat deadline (no pong, or no message at all): it is
 * frozen or the network path is a black hole, even if TCP still looks open.
 */
export class HeartbeatTimeoutError extends Error {
  override readonly name = 'HeartbeatTimeoutError' as const;
  /** How long nothing arrived, in ms, when the timeout was detected (≥ `timeout`). */
  readonly silentFor: number;
  /** The deadline that was exceeded, in ms. */
  readonly timeout: number;

  constructor(silentFor: number, timeout: number, options?: RxTetherErrorOptions) {
    super(`No heartbeat for ${silentFor} ms (timeout ${timeout} ms)`, options);
    this.silentFor = silentFor;
    this.timeout = timeout;
    brand(this, this.name);
  }
}

/** Guard for {@link HeartbeatTimeoutError}. */
export function isHeartbeatTimeoutError(error: unknown): error is HeartbeatTimeoutError {
  return hasBrand(error, 'HeartbeatTimeoutError');
}

/** A frame could not be decoded; `data` is the raw frame and `cause` the decoder's error. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError' as const;
  /** The raw frame as received: a string, or binary data. */
  readonly data: unknown;

  constructor(data: unknown, options?: RxTetherErrorOptions) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`Could not decode a WebSocket message${detail}`, options);
    this.data = data;
    brand(this, this.name);
  }
}

/** Guard for {@link DecodeError}. */
export function isDecodeError(error: unknown): error is DecodeError {
  return hasBrand(error, 'DecodeError');
}

/**
 * The server answered the WebSocket upgrade with an HTTP error instead of `101`
 * (Node with `ws` only: browsers hide the status). 401/403 mean credentials; 429/503 mean
 * "later", often with a `Retry-After` header.
 */
export class HandshakeRejectedError extends Error {
  override readonly name = 'HandshakeRejectedError' as const;
  /** The HTTP status of the rejected upgrade, e.g. 401 or 503. */
  readonly status: number;
  /** The server's `Retry-After`, converted to ms from now; `undefined` when absent or invalid. */
  readonly retryAfter: number | undefined;

  constructor(status: number, retryAfter: number | undefined, options?: RxTetherErrorOptions) {
    super(`WebSocket handshake rejected with HTTP ${status}${retryAfter !== undefined ? ` (retry after ${retryAfter} ms)` : ''}`, options);
    this.status = status;
    this.retryAfter = retryAfter;
    brand(this, this.name);
  }
}

/** Guard for {@link HandshakeRejectedError}. */
export function isHandshakeRejectedError(error: unknown): error is HandshakeRejectedError {
  return hasBrand(error, 'HandshakeRejectedError');
}

/**
 * Continuity of a resumed stream cannot be proven: a sequence number was skipped (`'gap'`)
 * or the server started a new epoch/session (`'epoch'`), so messages may be missing.
 * Emitted before any data that follows the discontinuity.
 */
export class ResumeGapError<C = unknown> extends Error {
  override readonly name = 'ResumeGapError' as const;
  /** What kind of discontinuity was seen. */
  readonly kind: 'gap' | 'epoch';
  /** The last cursor delivered before the discontinuity, `undefined` if none. */
  readonly previous: C | undefined;
  /** The cursor of the value that revealed the discontinuity. */
  readonly received: C;

  constructor(kind: 'gap' | 'epoch', previous: C | undefined, received: C, options?: RxTetherErrorOptions) {
    super(
      kind === 'gap'
        ? `Resume gap: ${String(received)} does not follow ${String(previous)}`
        : `Resume epoch changed: continuity from ${String(previous)} lost`,
      options,
    );
    this.kind = kind;
    this.previous = previous;
    this.received = received;
    brand(this, this.name);
  }
}

/** Guard for {@link ResumeGapError}. */
export function isResumeGapError(error: unknown): error is ResumeGapError {
  return hasBrand(error, 'ResumeGapError');
}

/** The server did not answer the session handshake (hello → ready) within `timeout` ms. */
export class SessionTimeoutError extends Error {
  override readonly name = 'SessionTimeoutError' as const;
  /** The timeout that elapsed, in ms. */
  readonly timeout: number;

  constructor(timeout: number, options?: RxTetherErrorOptions) {
    super(`The session was not ready within ${timeout} ms`, options);
    this.timeout = timeout;
    brand(this, this.name);
  }
}

/** Guard for {@link SessionTimeoutError}. */
export function isSessionTimeoutError(error: unknown): error is SessionTimeoutError {
  return hasBrand(error, 'SessionTimeoutError');
}

/** The server refused a channel subscription; only that channel's subscribers receive it. */
export class ChannelRejectedError extends Error {
  override readonly name = 'ChannelRejectedError' as const;
  /** The channel's key. */
  readonly key: string;
  /** The server's rejection message, as decoded. */
  readonly response: unknown;

  constructor(key: string, response: unknown, options?: RxTetherErrorOptions) {
    super(`The server rejected channel ${JSON.stringify(key)}`, options);
    this.key = key;
    this.response = response;
    brand(this, this.name);
  }
}

/** Guard for {@link ChannelRejectedError}. */
export function isChannelRejectedError(error: unknown): error is ChannelRejectedError {
  return hasBrand(error, 'ChannelRejectedError');
}

/** The client was closed (by `close()` or a terminal failure): it sends and connects no more. */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError' as const;

  constructor(options?: RxTetherErrorOptions) {
    super(options?.cause === undefined ? 'The client is closed' : 'The client is closed after a terminal failure', options);
    brand(this, this.name);
  }
}

/** Guard for {@link ClientClosedError}. */
export function isClientClosedError(error: unknown): error is ClientClosedError {
  return hasBrand(error, 'ClientClosedError');
}

/** `send()` found the outbox full and its overflow policy is `'error'`; the message was not queued. */
export class OutboxOverflowError extends Error {
  override readonly name = 'OutboxOverflowError' as const;
  /** The message that was not queued. */
  readonly rejected: unknown;

  constructor(rejected: unknown, options?: RxTetherErrorOptions) {
    super('The outbox is full', options);
    this.rejected = rejected;
    brand(this, this.name);
  }
}

/** Guard for {@link OutboxOverflowError}. */
export function isOutboxOverflowError(error: unknown): error is OutboxOverflowError {
  return hasBrand(error, 'OutboxOverflowError');
}

/**
 * The server's requested wait before the next attempt, in ms, read from a numeric
 * `retryAfter` field on the error (set by {@link HandshakeRejectedError}, and by any error of
 * yours that carries one). `undefined` when there is none.
 */
export function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const hint = (error as { retryAfter?: unknown }).retryAfter;
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined;
}

/**
 * The default retry classifier: says whether a failed connection attempt is worth retrying.
 *
 * - {@link ConnectionClosedError}: by its close code, see {@link isRetryableClose}.
 * - {@link HandshakeRejectedError}: 408, 425, 429 and 5xx are transient; 401, 403 and other
 *   4xx are terminal.
 * - {@link DecodeError}: terminal (a retry would replay the same poison frame).
 * - {@link ResumeGapError}: a `'gap'` is transient (the cursor stayed at the last delivered
 *   value, so a retry asks for the missing ones again); an `'epoch'` change is terminal (the
 *   lost values cannot be recovered, and a silent fresh start would hide that).
 * - Client errors ({@link ClientClosedError}, {@link OutboxOverflowError},
 *   {@link ChannelRejectedError}): terminal.
 * - `TypeError`, `RangeError`, `SyntaxError`: programming errors (an invalid URL, a bad
 *   option), terminal.
 * - Anything else ({@link OpenTimeoutError}, {@link HeartbeatTimeoutError}, `ECONNREFUSED`,
 *   DNS failures, a bare `error` event): transient.
 *
 * @param error - The error that ended the attempt.
 * @param config - Application close codes to treat as terminal or retryable.
 * @returns `true` when another attempt may succeed.
 */
export function isRetryableError(error: unknown, config?: CloseClassifierConfig): boolean {
  if (isConnectionClosedError(error)) return isRetryableClose(error.code, config);
  if (isHandshakeRejectedError(error)) {
    const s = error.status;
    return s === 408 || s === 425 || s === 429 || s >= 500;
  }
  if (isResumeGapError(error)) return error.kind === 'gap';
  if (isDecodeError(error) || isClientClosedError(error)) return false;
  if (isOutboxOverflowError(error) || isChannelRejectedError(error)) return false;
  return !(error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError);
}
