import { describe, expect, it } from 'vitest';
import {
  ChannelRejectedError,
  ClientClosedError,
  ConnectionClosedError,
  OutboxOverflowError,
  SessionTimeoutError,
  isChannelRejectedError,
  isClientClosedError,
  isOutboxOverflowError,
  isSessionTimeoutError,
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
} from '../../src/index.js';

const cause = new Error('root');
const cases = [
  [new ConnectionClosedError(1006, 'gone', false, { cause }), 'ConnectionClosedError', isConnectionClosedError],
  [new OpenTimeoutError(500, { cause }), 'OpenTimeoutError', isOpenTimeoutError],
  [new HeartbeatTimeoutError(1200, 1000, { cause }), 'HeartbeatTimeoutError', isHeartbeatTimeoutError],
  [new DecodeError('{', { cause }), 'DecodeError', isDecodeError],
  [new HandshakeRejectedError(503, 2000, { cause }), 'HandshakeRejectedError', isHandshakeRejectedError],
  [new ResumeGapError('gap', 3, 5, { cause }), 'ResumeGapError', isResumeGapError],
  [new SessionTimeoutError(100, { cause }), 'SessionTimeoutError', isSessionTimeoutError],
  [new ChannelRejectedError('prices', { type: 'rejected' }, { cause }), 'ChannelRejectedError', isChannelRejectedError],
  [new ClientClosedError({ cause }), 'ClientClosedError', isClientClosedError],
  [new OutboxOverflowError({ n: 1 }, { cause }), 'OutboxOverflowError', isOutboxOverflowError],
] as const;
const guards = cases.map(([, , guard]) => guard);

describe('errors', () => {
  it.each(cases)('%s should have a fixed name, its cause, and a guard that accepts only it', (error, name, guard) => {
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.cause).toBe(cause);
    expect(guard(error)).toBe(true);
    for (const other of guards) if (other !== guard) expect(other(error)).toBe(false);
    expect(guard(new Error(name))).toBe(false);
    expect(guard({ name })).toBe(false);
    expect(guard(null)).toBe(false);
    expect(guard(undefined)).toBe(false);
  });

  it('should carry typed fields', () => {
    expect(new ConnectionClosedError(4001, 'bye', true)).toMatchObject({ code: 4001, reason: 'bye', wasClean: true });
    expect(new OpenTimeoutError(500).timeout).toBe(500);
    expect(new HeartbeatTimeoutError(1200, 1000)).toMatchObject({ silentFor: 1200, timeout: 1000 });
    expect(new DecodeError(new Uint8Array([1])).data).toEqual(new Uint8Array([1]));
    expect(new HandshakeRejectedError(401, undefined)).toMatchObject({ status: 401, retryAfter: undefined });
    expect(new ResumeGapError('epoch', 'a', 'b')).toMatchObject({ kind: 'epoch', previous: 'a', received: 'b' });
    expect(new SessionTimeoutError(250).timeout).toBe(250);
    expect(new ChannelRejectedError('k', 'no')).toMatchObject({ key: 'k', response: 'no' });
    expect(new OutboxOverflowError('m').rejected).toBe('m');
  });

  it('should recognise an error from another copy of the package by its brand', () => {
    const foreign = new Error('x');
    Object.defineProperty(foreign, Symbol.for('rxtether.error'), { value: 'ConnectionClosedError' });
    expect(isConnectionClosedError(foreign)).toBe(true);
    expect(isOpenTimeoutError(foreign)).toBe(false);
  });

  it('should keep the close reason out of the message when empty, quoted when present', () => {
    expect(new ConnectionClosedError(1006, '', false).message).toBe('WebSocket closed with code 1006');
    expect(new ConnectionClosedError(4000, 'bye', true).message).toBe('WebSocket closed with code 4000 ("bye")');
  });
});

describe('isRetryableError', () => {
  it.each([
    ['1006 close', new ConnectionClosedError(1006, '', false), true],
    ['1000 close from the server', new ConnectionClosedError(1000, '', true), true],
    ['1008 close', new ConnectionClosedError(1008, '', true), false],
    ['HTTP 401', new HandshakeRejectedError(401, undefined), false],
    ['HTTP 403', new HandshakeRejectedError(403, undefined), false],
    ['HTTP 404', new HandshakeRejectedError(404, undefined), false],
    ['HTTP 408', new HandshakeRejectedError(408, undefined), true],
    ['HTTP 429', new HandshakeRejectedError(429, 1000), true],
    ['HTTP 503', new HandshakeRejectedError(503, undefined), true],
    ['open timeout', new OpenTimeoutError(1), true],
    ['heartbeat timeout', new HeartbeatTimeoutError(2, 1), true],
    ['decode error', new DecodeError('x'), false],
    ['resume gap (re-requestable)', new ResumeGapError('gap', 1, 3), true],
    ['resume epoch change (values lost)', new ResumeGapError('epoch', 1, 1), false],
    ['TypeError', new TypeError('bad url'), false],
    ['RangeError', new RangeError('bad option'), false],
    ['session timeout', new SessionTimeoutError(1), true],
    ['channel rejected', new ChannelRejectedError('k', null), false],
    ['client closed', new ClientClosedError(), false],
    ['outbox overflow', new OutboxOverflowError(1), false],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    ['a bare event', { type: 'error' }, true],
  ])('%s → %s', (_name, error, retryable) => {
    expect(isRetryableError(error)).toBe(retryable);
  });

  it('should pass close-code overrides through', () => {
    expect(isRetryableError(new ConnectionClosedError(4401, '', true), { terminalCodes: [4401] })).toBe(false);
  });
});

describe('retryAfterOf', () => {
  it('should read a finite, non-negative retryAfter field and ignore anything else', () => {
    expect(retryAfterOf(new HandshakeRejectedError(503, 7000))).toBe(7000);
    expect(retryAfterOf({ retryAfter: 0 })).toBe(0);
    expect(retryAfterOf({ retryAfter: -1 })).toBeUndefined();
    expect(retryAfterOf({ retryAfter: Number.NaN })).toBeUndefined();
    expect(retryAfterOf({ retryAfter: '5' })).toBeUndefined();
    expect(retryAfterOf(new Error('x'))).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
    expect(retryAfterOf('x')).toBeUndefined();
  });
});
