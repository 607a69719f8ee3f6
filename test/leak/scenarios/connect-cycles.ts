/*
 * FAULTS.md row 32, connect side: 1,000 sequential connect()/unsubscribe cycles against a real
 * ws server, in three kinds that rotate:
 * - `open`: unsubscribe once the socket is open (close 1000, the server sees it);
 * - `same-tick`: unsubscribe synchronously after subscribe (the socket is still CONNECTING);
 * - `upgrading`: unsubscribe once the server has the upgrade request (handshake in flight).
 */
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { connect } from '../../../src/index.js';
import { startProtocolServer } from '../../helpers/protocolServer.js';
import { Recorder, turns } from './harness.js';

const ITERATIONS = Number(process.env["LEAK_ITERATIONS"] ?? 1_000);
const recorder = await Recorder.begin('connect-cycles', ITERATIONS);

const server = await startProtocolServer({ requireHello: false });
await recorder.rigUp();

const kinds = ['open', 'same-tick', 'upgrading'] as const;
const counts = { open: 0, 'same-tick': 0, upgrading: 0 };
let closeEvents = 0;
let errors = 0;

/** Empties the rig's queues: they keep every connection and request until taken. */
async function drainRig(): Promise<void> {
  while (server.upgrades.size > 0) await server.upgrades.next();
  while (server.connections.size > 0) {
    const conn = await server.connections.next();
    await conn.closed;
  }
}

for (let i = 1; i <= ITERATIONS; i++) {
  const kind = kinds[i % kinds.length]!;
  counts[kind]++;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const subscription = connect({
    url: server.url,
    WebSocketCtor: WebSocket,
    onOpen: () => opened(),
    onClose: () => closeEvents++,
  }).subscribe({ error: () => errors++ });
  if (kind === 'same-tick') {
    subscription.unsubscribe();
    await turns(1);
  } else if (kind === 'upgrading') {
    await server.upgrades.next();
    subscription.unsubscribe();
    await turns(1);
  } else {
    await open;
    const conn = await server.connections.next();
    subscription.unsubscribe();
    const closed = await conn.closed;
    assert.equal(closed.code, 1000, `iteration ${i}: the server saw close ${closed.code}`);
  }
  await drainRig();
  if (i === recorder.warmupIterations) await recorder.warm();
}
await recorder.after();

assert.equal(errors, 0, 'no subscriber saw an error');
assert.equal(closeEvents, ITERATIONS, 'onClose ran once per subscription');
assert.equal(server.live().length, 0, 'the server has no connection left');
recorder.checks['kinds'] = counts;
recorder.checks['accepted'] = server.accepted();
recorder.checks['onClose'] = closeEvents;

await recorder.clientClosed();
await server.close();
await recorder.end();
