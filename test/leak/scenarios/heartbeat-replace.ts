/*
 * Heartbeat-replaced connections: each server connection freezes (TCP open, nothing answered)
 * once its channel is subscribed, so only the app heartbeat can tell; the client replaces it
 * 20 times, then closes. Each frozen connection is thawed after its replacement and must then
 * close within 2 s: it reads what the client sent meanwhile (its 4000 close frame, or a FIN),
 * which a client that kept the old socket would never have sent.
 */
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { type ChannelSpec, ClientClosedError, type SocketStatus, createSocket, isHeartbeatTimeoutError } from '../../../src/index.js';
import { type ClientFrame, type ProtocolConnection, type ServerFrame, startProtocolServer } from '../../helpers/protocolServer.js';
import { Recorder, expectSettled } from './harness.js';

const REPLACEMENTS = Number(process.env['LEAK_ITERATIONS'] ?? 20);
const recorder = await Recorder.begin('heartbeat-replace', REPLACEMENTS, 2);

const server = await startProtocolServer({ requireHello: false });
await recorder.rigUp();
const rigUp = recorder.snapshot('rigUp');

const socket = createSocket<ServerFrame, ClientFrame>({
  url: server.url,
  WebSocketCtor: WebSocket,
  heartbeat: { interval: 20, timeout: 60, message: () => ({ type: 'ping' }) },
  backoff: { initialDelay: 1, maxDelay: 5 },
});
// Tallied, not kept: a kept status holds its cause (an error with its stack) past the run.
let lastStatus: SocketStatus | undefined;
let reconnecting = 0;
let heartbeatCauses = 0;
socket.status$.subscribe((status) => {
  lastStatus = status;
  if (status.state !== 'reconnecting') return;
  reconnecting++;
  if (isHeartbeatTimeoutError(status.cause)) heartbeatCauses++;
});
const feed: ChannelSpec<ServerFrame, ClientFrame> = {
  key: 'feed',
  subscribe: () => ({ type: 'subscribe', channel: 'feed' }),
  unsubscribe: () => ({ type: 'unsubscribe', channel: 'feed' }),
  matches: (m) => m.type === 'msg' && m.channel === 'feed',
};
let completed = false;
const subscription = socket.channel(feed).subscribe({ complete: () => (completed = true) });

/** The connection's channel is subscribed on the server. */
async function subscribed(conn: ProtocolConnection): Promise<void> {
  while (!conn.subscriptions().has('feed')) await conn.frames.next();
}

/** Resolves with the close, or throws after `ms` (its timer never outlives it). */
async function closedWithin(conn: ProtocolConnection, ms: number, what: string) {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  const outcome = await Promise.race([conn.closed, timedOut]);
  clearTimeout(timer);
  if (outcome === undefined) throw new Error(`${what}: the server side did not close within ${ms} ms`);
  return outcome;
}

let current = await server.connections.next();
const replacedIn: number[] = [];
const closeCodes: Record<number, number> = {};
for (let i = 1; i <= REPLACEMENTS; i++) {
  await subscribed(current);
  const frozenAt = performance.now();
  current.freeze();
  const next = await server.connections.next();
  replacedIn.push(Math.round(performance.now() - frozenAt));
  current.thaw(); // reads the FIN the client sent when it dropped the connection
  const closed = await closedWithin(current, 2_000, `replacement ${i}`);
  // 4000 'reconnect': the client's close frame, read on thaw; 1006: it terminated outright.
  assert.ok(closed.code === 4000 || closed.code === 1006, `replacement ${i}: closed with ${closed.code}`);
  closeCodes[closed.code] = (closeCodes[closed.code] ?? 0) + 1;
  current = next;
  while (server.upgrades.size > 0) await server.upgrades.next(); // the rig keeps every request
  if (i === recorder.warmupIterations) await recorder.warm(null); // open: heartbeat timers run, nothing to settle
}
await subscribed(current);
await recorder.after(null);

assert.equal(reconnecting, REPLACEMENTS);
assert.equal(heartbeatCauses, REPLACEMENTS, 'every replacement was a heartbeat timeout');
assert.equal(server.accepted(), REPLACEMENTS + 1);
recorder.checks['reconnects'] = lastStatus?.reconnects;
recorder.checks['replacedCloseCodes'] = closeCodes;
recorder.checks['replacedInMs'] = { min: Math.min(...replacedIn), max: Math.max(...replacedIn) };

socket.close();
assert.deepEqual(await closedWithin(current, 2_000, 'close'), { code: 1000, reason: '' });
assert.ok(completed, 'the channel subscriber completed');
assert.equal(subscription.closed, true);
assert.equal(lastStatus?.state, 'closed');
assert.throws(() => socket.send({ type: 'ping' }), ClientClosedError);
recorder.checks['maxSettleMs'] = await expectSettled(rigUp, 'close after the replacements');
assert.equal(server.accepted(), REPLACEMENTS + 1, 'nothing connected after close');

await recorder.clientClosed();
await server.close();
await recorder.end();

