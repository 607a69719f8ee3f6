/*
 * A retry chain against a refused port (the fault proxy, `down`) until `maxRetries` is reached,
 * rotating between the operator on `connect()` and the client's own backoff. The terminal
 * error must leave nothing scheduled: no socket, no backoff timer, no open/close timer.
 */
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import {
  ClientClosedError,
  type SocketStatus,
  connect,
  createSocket,
  isConnectionClosedError,
  retryAttemptsOf,
  retryWithJitteredBackoff,
} from '../../../src/index.js';
import { startFaultProxy } from '../../helpers/faultProxy.js';
import { Recorder, expectSettled } from './harness.js';

const ITERATIONS = Number(process.env['LEAK_ITERATIONS'] ?? 200);
const MAX_RETRIES = 3;
const backoff = { initialDelay: 1, maxDelay: 4, maxRetries: MAX_RETRIES };
const recorder = await Recorder.begin('retry-terminal', ITERATIONS);

// A port that refuses connections: the proxy, stopped.
const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: 9 } });
await proxy.down();
await recorder.rigUp();
const rigUp = recorder.snapshot('rigUp');

/** The terminal error must be the last real one: a refused connection. */
function assertRefused(error: unknown, what: string): void {
  assert.ok(isConnectionClosedError(error), `${what}: ${String(error)}`);
  assert.equal(error.code, 1006, what);
  assert.equal((error.cause as { code?: unknown } | undefined)?.code, 'ECONNREFUSED', what);
}

const variants = ['operator', 'client'] as const;
type Variant = (typeof variants)[number];
const stats: Record<Variant, { runs: number; maxSettleMs: number }> = {
  operator: { runs: 0, maxSettleMs: 0 },
  client: { runs: 0, maxSettleMs: 0 },
};

for (let i = 1; i <= ITERATIONS; i++) {
  const variant = variants[i % variants.length]!;
  const what = `${variant} retry chain (#${i})`;
  if (variant === 'operator') {
    let attempts = 0;
    const error = await new Promise<unknown>((resolve) => {
      connect({ url: proxy.url, WebSocketCtor: WebSocket, onClose: () => attempts++ })
        .pipe(retryWithJitteredBackoff(backoff))
        .subscribe({ error: resolve, complete: () => resolve(new Error('completed')) });
    });
    assertRefused(error, what);
    assert.equal(retryAttemptsOf(error), MAX_RETRIES, what);
    assert.equal(attempts, MAX_RETRIES + 1, what);
  } else {
    const socket = createSocket<unknown, string>({ url: proxy.url, WebSocketCtor: WebSocket, backoff });
    const statuses: SocketStatus[] = [];
    socket.status$.subscribe((status) => statuses.push(status));
    const error = await new Promise<unknown>((resolve) => {
      socket.messages$.subscribe({ error: resolve, complete: () => resolve(new Error('completed')) });
    });
    assertRefused(error, what);
    assert.deepEqual(statuses.at(-1), { state: 'closed', reason: 'error', error, reconnects: MAX_RETRIES, buffered: 0, dropped: 0 }, what);
    assert.equal(statuses.filter((s) => s.state === 'reconnecting').length, MAX_RETRIES, what);
    assert.throws(() => socket.send('x'), (e: unknown) => e instanceof ClientClosedError && e.cause === error, what);
  }
  const connects = proxy.connections();
  const settleMs = await expectSettled(rigUp, what);
  assert.equal(proxy.connections(), connects, what);
  stats[variant].runs++;
  stats[variant].maxSettleMs = Math.max(stats[variant].maxSettleMs, settleMs);
  if (i === recorder.warmupIterations) await recorder.warm();
}
await recorder.after();
recorder.checks['variants'] = stats;
recorder.checks['maxSettleMs'] = Math.max(...Object.values(stats).map((s) => s.maxSettleMs));

await recorder.clientClosed();
await proxy.close();
await recorder.end();
