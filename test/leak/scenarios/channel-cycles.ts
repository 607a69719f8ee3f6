/*
 * FAULTS.md row 32, client side: one createSocket, one open socket, 20 channels. Channels
 * 0–9 stay subscribed throughout; channels 10–19 go through 10,000 subscribe/unsubscribe
 * cycles, in three kinds that rotate:
 * - `same-tick`: subscribe and unsubscribe synchronously (both frames go out);
 * - `confirmed`: wait for the server's `subscribed`, then leave;
 * - `shared`: two local subscribers of one key (one server subscription), leaving one by one.
 * The server must end with exactly the held channels subscribed, having seen exactly one
 * `subscribe` per cycle.
 */
import assert from 'node:assert/strict';
import { Subject, filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { type ChannelSpec, ClientClosedError, type SocketStatus, createSocket } from '../../../src/index.js';
import { type ClientFrame, type ProtocolConnection, type ServerFrame, startProtocolServer } from '../../helpers/protocolServer.js';
import { Recorder, resources } from './harness.js';

const CHANNELS = 20;
const HELD = 10;
const ITERATIONS = Number(process.env['LEAK_ITERATIONS'] ?? 10_000);
const recorder = await Recorder.begin('channel-cycles', ITERATIONS);

const server = await startProtocolServer({ requireHello: false });
await recorder.rigUp();

const socket = createSocket<ServerFrame, ClientFrame>({ url: server.url, WebSocketCtor: WebSocket });
let lastStatus: SocketStatus | undefined;
socket.status$.subscribe((status) => (lastStatus = status));

const channel = (n: number) => {
  const name = `ch${n}`;
  const spec: ChannelSpec<ServerFrame, ClientFrame> = {
    key: name,
    subscribe: () => ({ type: 'subscribe', channel: name }),
    unsubscribe: () => ({ type: 'unsubscribe', channel: name }),
    matches: (m) => 'channel' in m && m.channel === name,
  };
  return socket.channel(spec);
};
const channels = Array.from({ length: CHANNELS }, (_, n) => channel(n));

const pongs = new Subject<void>();
const all = socket.messages$.subscribe((m) => {
  if (m.type === 'pong') pongs.next();
});
const conn: ProtocolConnection = await server.connections.next();
await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));

/** Resolves once the server has processed everything sent before it (frames are FIFO). */
async function fence(): Promise<void> {
  const pong = firstValueFrom(pongs);
  socket.send({ type: 'ping' });
  await pong;
}

let subscribeFrames = 0;
let unsubscribeFrames = 0;
/** Counts, then forgets, what the rig recorded: it keeps every frame until told otherwise. */
async function drainRig(): Promise<void> {
  for (const frame of conn.received) {
    if (frame.type === 'subscribe') subscribeFrames++;
    else if (frame.type === 'unsubscribe') unsubscribeFrames++;
  }
  conn.received.length = 0;
  conn.sent.length = 0;
  while (conn.frames.size > 0) await conn.frames.next();
}

const held = channels.slice(0, HELD).map((ch$) => ch$.subscribe());
await fence();
assert.equal(server.activeSubscriptions(), HELD);
/** The resources while the socket is open: the cycles must leave exactly these. */
const steady = resources();

const kinds = ['same-tick', 'confirmed', 'shared'] as const;
const counts = { 'same-tick': 0, confirmed: 0, shared: 0 };
for (let i = 1; i <= ITERATIONS; i++) {
  const ch$ = channels[HELD + (i % (CHANNELS - HELD))]!;
  const kind = kinds[i % kinds.length]!;
  counts[kind]++;
  if (kind === 'same-tick') {
    ch$.subscribe().unsubscribe();
  } else if (kind === 'confirmed') {
    await firstValueFrom(ch$); // the server's `subscribed`
  } else {
    const a = ch$.subscribe();
    const confirmed = firstValueFrom(ch$);
    await confirmed;
    a.unsubscribe();
  }
  if (i % 1_000 === 0) {
    await fence();
    await drainRig();
    assert.equal(server.activeSubscriptions(), HELD, `after ${i} cycles`);
  }
  if (i === recorder.warmupIterations) await recorder.warm(steady);
}
await fence();
await drainRig();
const afterCycles = await recorder.after(steady);
recorder.checks['handlesOpen'] = steady;
recorder.checks['handlesAfterCycles'] = afterCycles;
assert.deepEqual(afterCycles, steady, 'the cycles left no resource behind');

recorder.checks['kinds'] = counts;
recorder.checks['activeSubscriptionsAfterCycles'] = server.activeSubscriptions();
recorder.checks['subscribeFrames'] = subscribeFrames;
recorder.checks['unsubscribeFrames'] = unsubscribeFrames;
assert.equal(server.activeSubscriptions(), HELD);
assert.equal(subscribeFrames, HELD + ITERATIONS, 'one subscribe per cycle, none repeated');
assert.equal(unsubscribeFrames, ITERATIONS, 'one unsubscribe per cycle');
assert.equal(server.accepted(), 1, 'one socket throughout');

for (const sub of held) sub.unsubscribe();
await fence();
recorder.checks['activeSubscriptionsAfterRelease'] = server.activeSubscriptions();
assert.equal(server.activeSubscriptions(), 0);

socket.close(); // with a subscriber still there: it completes
recorder.checks['serverSawClose'] = await conn.closed;
assert.deepEqual(recorder.checks['serverSawClose'], { code: 1000, reason: '' });
assert.equal(all.closed, true, 'messages$ completed on close');
assert.equal(lastStatus?.state, 'closed');
assert.throws(() => socket.send({ type: 'ping' }), ClientClosedError);
await recorder.clientClosed();
await server.close();
await recorder.end();
