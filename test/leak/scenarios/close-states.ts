/*
 * FAULTS.md row 31, use after close: createSocket().close() in three states, rotating:
 * - `backoff`: the server went down (fault proxy `down`: ECONNREFUSED) and the client waits
 *   60 s before its next attempt;
 * - `handshake`: the server accepted TCP and never answers the upgrade (a silent TCP server);
 * - `open`: a live session;
 * - `linger`: the last subscriber left, the socket stays open for `linger` (60 s; row 33).
 * After each close: status `closed` (reason `client`), `messages$` completed, a late subscriber
 * completes at once without connecting, `send` throws `ClientClosedError`, nothing connects
 * afterwards, nothing listens to `retryNow` any more, and the process's resources are back to the rig's own, quickly (a timer left
 * behind would show as a slow settle or a leftover `Timeout`).
 */
import assert from 'node:assert/strict';
import { type Server, type Socket, createServer } from 'node:net';
import { Subject, filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { ClientClosedError, type SocketStatus, createSocket } from '../../../src/index.js';
import { listenOn, startFaultProxy } from '../../helpers/faultProxy.js';
import { type ClientFrame, type ServerFrame, startProtocolServer } from '../../helpers/protocolServer.js';
import { AsyncQueue } from '../../helpers/queue.js';
import { Recorder, expectSettled } from './harness.js';

const ITERATIONS = Number(process.env['LEAK_ITERATIONS'] ?? 300);
const recorder = await Recorder.begin('close-states', ITERATIONS);

// ---- the rig: a protocol server, a fault proxy in front of it, a silent TCP server ----------
const server = await startProtocolServer({ requireHello: false });
const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } });
const silentSockets = new Set<Socket>();
const silentRequests = new AsyncQueue<Socket>();
let silentAccepted = 0;
const silent: Server = createServer((socket) => {
  silentAccepted++;
  silentSockets.add(socket);
  socket.on('error', () => {});
  socket.once('data', () => silentRequests.push(socket)); // the upgrade request, never answered
  socket.once('close', () => silentSockets.delete(socket));
});
const silentPort = await listenOn(silent, 0);
await recorder.rigUp();
const rigUp = recorder.snapshot('rigUp');

/** Empties the rig's queues: they keep every connection and request until taken. */
async function drainRig(): Promise<void> {
  while (server.upgrades.size > 0) await server.upgrades.next();
  while (server.connections.size > 0) await (await server.connections.next()).closed;
  while (proxy.connectionsQueue.size > 0) await (await proxy.connectionsQueue.next()).closed;
}

const connectsSoFar = () => server.accepted() + proxy.connections() + silentAccepted;

const variants = ['backoff', 'handshake', 'open', 'linger'] as const;
type Variant = (typeof variants)[number];
const stats: Record<Variant, { runs: number; maxSettleMs: number }> = {
  backoff: { runs: 0, maxSettleMs: 0 },
  handshake: { runs: 0, maxSettleMs: 0 },
  open: { runs: 0, maxSettleMs: 0 },
  linger: { runs: 0, maxSettleMs: 0 },
};

for (let i = 1; i <= ITERATIONS; i++) {
  const variant = variants[i % variants.length]!;
  const what = `close during ${variant} (#${i})`;
  const url = variant === 'backoff' ? proxy.url : variant === 'handshake' ? `ws://127.0.0.1:${silentPort}` : server.url;
  const retryNow = new Subject<void>();
  const socket = createSocket<ServerFrame, ClientFrame>({
    url,
    WebSocketCtor: WebSocket,
    backoff: { initialDelay: 60_000, jitter: 'none' },
    retryNow,
    ...(variant === 'linger' ? { linger: 60_000 } : {}),
  });
  const statuses: SocketStatus[] = [];
  socket.status$.subscribe((status) => statuses.push(status));
  let completed = false;
  let failed: unknown;
  const messages = socket.messages$.subscribe({ complete: () => (completed = true), error: (error: unknown) => (failed = error) });

  if (variant === 'backoff') {
    await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
    await proxy.down();
    const waiting = await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'reconnecting')));
    assert.equal(waiting.state === 'reconnecting' && waiting.delay, 60_000, what);
    assert.ok(retryNow.observed, `${what}: retryNow is listened to during the wait`);
  } else if (variant === 'handshake') {
    await silentRequests.next();
    assert.equal(statuses.at(-1)?.state, 'connecting', what);
  } else {
    await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
  }

  const serverSide = variant === 'open' || variant === 'linger' ? await server.connections.next() : undefined;
  if (variant === 'linger') {
    messages.unsubscribe(); // the last subscriber leaves: the socket lingers
    completed = true; // (it left; it cannot complete)
    assert.equal(statuses.at(-1)?.state, 'open', `${what}: still open while lingering`);
  }
  socket.close();
  const closedAt = statuses.length;
  if (variant === 'backoff') await proxy.up();
  if (serverSide) assert.deepEqual(await serverSide.closed, { code: 1000, reason: '' }, what);

  assert.equal(failed, undefined, what);
  assert.ok(completed, `${what}: messages$ completed`);
  assert.deepEqual(statuses.at(-1), { state: 'closed', reason: 'client', error: undefined, ...countersOf(statuses.at(-1)!) }, what);
  assert.throws(() => socket.send({ type: 'ping' }), ClientClosedError, what);
  assert.equal(retryNow.observed, false, `${what}: nothing listens to retryNow after close`);
  let lateCompleted = false;
  socket.messages$.subscribe({ complete: () => (lateCompleted = true) });
  assert.ok(lateCompleted, `${what}: a late subscriber completes at once`);
  const connects = connectsSoFar();

  const settleMs = await expectSettled(rigUp, what);
  await drainRig();
  assert.equal(connectsSoFar(), connects, `${what}: nothing connected after close`);
  assert.ok(
    statuses.slice(closedAt).every((s) => s.state === 'closed'),
    `${what}: no status but closed after close: ${JSON.stringify(statuses.slice(closedAt))}`,
  );
  stats[variant].runs++;
  stats[variant].maxSettleMs = Math.max(stats[variant].maxSettleMs, settleMs);
  if (i === recorder.warmupIterations) await recorder.warm();
}
await recorder.after();
recorder.checks['variants'] = stats;
recorder.checks['maxSettleMs'] = Math.max(...Object.values(stats).map((s) => s.maxSettleMs));
recorder.checks['silentSocketsLeft'] = silentSockets.size;
assert.equal(silentSockets.size, 0);

await recorder.clientClosed();
await proxy.close();
await server.close();
await new Promise<void>((resolve) => silent.close(() => resolve()));
await recorder.end();

function countersOf(status: SocketStatus) {
  return { reconnects: status.reconnects, buffered: status.buffered, dropped: status.dropped };
}
