import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type SchedulerLike, Subject, type Subscription, asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connect } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { startServer } from '../helpers/server.js';

// Sending on a `ws` socket: every frame of one tick is written at the end of that tick, in one
// go (the TCP socket is corked from the first send of the tick to a microtask).

const defer = useDisposer();

async function server() {
  const s = await startServer();
  defer(() => s.close());
  return s;
}

/** A `ws` socket factory that also hands the test the TCP socket under it. */
function tapped(): { factory: (url: string, protocols: string[] | undefined) => WebSocket; tcp: () => Socket } {
  let tcp: Socket | undefined;
  return {
    factory: (url, protocols) => {
      const ws = new WebSocket(url, protocols);
      ws.once('upgrade', (response) => {
        tcp = response.socket as Socket;
      });
      return ws;
    },
    tcp: () => tcp!,
  };
}

/** A scheduler on real time that can tell how many of its timers are still due. */
function countingScheduler(): { scheduler: SchedulerLike; pending: () => number } {
  const timers: Subscription[] = [];
  const scheduler: SchedulerLike = {
    now: () => asyncScheduler.now(),
    schedule: (...args: Parameters<SchedulerLike['schedule']>) => {
      const timer = asyncScheduler.schedule(...args);
      timers.push(timer);
      return timer;
    },
  } as SchedulerLike;
  return { scheduler, pending: () => timers.filter((t) => !t.closed).length };
}

/** Subscribes; resolves once the socket is open and `outgoing` is subscribed. */
async function open<T>(config: Parameters<typeof connect<unknown, T>>[0] & object) {
  let opened = (): void => {};
  const isOpen = new Promise<void>((resolve) => (opened = resolve));
  const o = observe(connect<unknown, T>({ ...config, onOpen: () => queueMicrotask(opened) }));
  defer(() => o.subscription.unsubscribe());
  await isOpen;
  return o;
}

describe('connect: sends of one tick', () => {
  it('should write many sends of one tick as separate frames, in order, at the end of the tick', async () => {
    const s = await server();
    const out = new Subject<string>();
    const tap = tapped();
    await open({ url: s.url, socketFactory: tap.factory, outgoing: out, serialize: (v) => v });
    const conn = await s.connections.next();
    const sent = Array.from({ length: 500 }, (_, i) => `m${i}`);
    for (const m of sent) out.next(m);
    expect(tap.tcp().writableCorked).toBe(1); // held for the rest of the tick…
    await Promise.resolve();
    expect(tap.tcp().writableCorked).toBe(0); // …and written before any I/O, timer or later send
    // Nothing else happens on the client: the frames must not wait for another event.
    const received: (string | Buffer)[] = [];
    for (let i = 0; i < sent.length; i++) received.push(await conn.messages.next());
    expect(received).toEqual(sent);
  });

  it('should cork a socket created with WebSocketCtor, and keep sends of later ticks in order', async () => {
    const s = await server();
    const out = new Subject<number>();
    await open({ url: s.url, WebSocketCtor: WebSocket, outgoing: out });
    const conn = await s.connections.next();
    let n = 0;
    for (let tick = 0; tick < 5; tick++) {
      for (let i = 0; i < 50; i++) out.next(n++);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const received: unknown[] = [];
    for (let i = 0; i < n; i++) received.push(JSON.parse(String(await conn.messages.next())));
    expect(received).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('should send the handshake and the frames of the closing tick before the close frame', async () => {
    const s = await server();
    const out = new Subject<string>();
    const o = await open({ url: s.url, WebSocketCtor: WebSocket, outgoing: out, serialize: (v) => v, handshake: () => ['hello'] });
    const conn = await s.connections.next();
    for (let i = 0; i < 100; i++) out.next(`m${i}`);
    o.subscription.unsubscribe(); // same tick: close(1000) follows the corked frames
    const received: (string | Buffer)[] = [];
    for (let i = 0; i < 101; i++) received.push(await conn.messages.next());
    expect(received).toEqual(['hello', ...Array.from({ length: 100 }, (_, i) => `m${i}`)]);
    expect(await conn.closed).toEqual({ code: 1000, reason: '' });
  });

  it('should flush the frames of the tick before terminating (closeOnUnsubscribe terminate)', async () => {
    const s = await server();
    const out = new Subject<string>();
    const o = await open({
      url: s.url,
      WebSocketCtor: WebSocket,
      outgoing: out,
      serialize: (v) => v,
      closeOnUnsubscribe: { code: 4000, reason: 'reconnect', terminate: true },
    });
    const conn = await s.connections.next();
    for (let i = 0; i < 100; i++) out.next(`m${i}`);
    o.subscription.unsubscribe();
    const received: (string | Buffer)[] = [];
    for (let i = 0; i < 100; i++) received.push(await conn.messages.next());
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    expect(await conn.closed).toEqual({ code: 4000, reason: 'reconnect' });
  });

  it('should write the frames of the tick before terminating when permessage-deflate is on', async () => {
    // ws compresses a frame of 1024 B or more asynchronously and queues later frames (and the
    // close frame) behind it: uncorking writes nothing yet, so terminate() must wait for them.
    const s = await startServer({ perMessageDeflate: true });
    defer(() => s.close());
    const out = new Subject<string>();
    const timers = countingScheduler();
    const o = await open({
      url: s.url,
      WebSocketCtor: WebSocket,
      outgoing: out,
      serialize: (v) => v,
      scheduler: timers.scheduler,
      closeOnUnsubscribe: { code: 4000, reason: 'reconnect', terminate: true },
    });
    const conn = await s.connections.next();
    const big = `big:${'x'.repeat(2000)}`;
    out.next(big);
    out.next('small');
    o.subscription.unsubscribe(); // same tick
    expect(await conn.closed).toEqual({ code: 4000, reason: 'reconnect' }); // frames arrive before it
    expect(conn.messages.size).toBe(2);
    expect([await conn.messages.next(), await conn.messages.next()]).toEqual([big, 'small']);
    expect(timers.pending()).toBe(0); // the closeTimeout cap was cleared, not left to run
  });

  it('should terminate after closeTimeout when the frames before a terminate cannot be written', async () => {
    // The peer reads nothing, so the TCP buffers fill: terminate() waits no longer than closeTimeout.
    const s = await server();
    const out = new Subject<string>();
    const tap = tapped();
    const o = await open({
      url: s.url,
      socketFactory: tap.factory,
      outgoing: out,
      serialize: (v) => v,
      closeTimeout: 20,
      closeOnUnsubscribe: { code: 4000, reason: 'reconnect', terminate: true },
    });
    const conn = await s.connections.next();
    conn.socket.pause();
    const payload = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 400; i++) out.next(payload); // 26 MB: more than the kernel buffers take
    await Promise.resolve();
    const tcp = tap.tcp();
    expect(tcp.writableLength).toBeGreaterThan(0); // still held by Node: not written yet
    const gone = once(tcp, 'close');
    o.subscription.unsubscribe();
    expect(tcp.destroyed).toBe(false); // waits for the frames…
    await gone; // …but not for ever
  });

  it('should cork a wss: (TLS) connection too', async () => {
    const https = createHttpsServer({ key: KEY, cert: CERT });
    const wss = new WebSocketServer({ server: https });
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    defer(
      () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close();
          https.close(() => resolve());
        }),
    );
    const received: string[] = [];
    let done = (): void => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    wss.on('connection', (socket) =>
      socket.on('message', (data) => {
        received.push(String(data));
        if (received.length === 300) done();
      }),
    );
    const out = new Subject<string>();
    let tcp: Socket | undefined;
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}`;
    await open({
      url,
      outgoing: out,
      serialize: (v) => v,
      socketFactory: (u, p) => {
        const ws = new WebSocket(u, p, { ca: CERT });
        ws.once('upgrade', (response) => (tcp = response.socket as Socket));
        return ws;
      },
    });
    for (let i = 0; i < 300; i++) out.next(`m${i}`);
    expect(tcp!.writableCorked).toBe(1);
    await all;
    expect(received).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  });
});

// A self-signed certificate for 127.0.0.1, for the wss: test only.
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpgCh1J0CQYcDi2il
rUkVX2YlZ6J+5WCyXKKI3B06T0ChRANCAAQSlt9rLVH3cz/ox1iT1UhFQsYB74dG
462ZhuArjob3ELL2LxSNsBmsYGZArKsZ0SRAjZhMqnogjaxMLpA75xdf
-----END PRIVATE KEY-----
`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUA1fZ00hHCS4yJ0ns4Znj3NCyC7QwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMjA3NDc0NFoYDzIxMjYxMDI5
MDc0NzQ0WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQSlt9rLVH3cz/ox1iT1UhFQsYB74dG462ZhuArjob3ELL2LxSNsBms
YGZArKsZ0SRAjZhMqnogjaxMLpA75xdfo2QwYjAdBgNVHQ4EFgQUmuSCkaXAayUX
0KkR77Yw5IIiL70wHwYDVR0jBBgwFoAUmuSCkaXAayUX0KkR77Yw5IIiL70wDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IDttZJ/74UKz/hEB25xLEl2SsEY4kzR3LF8HIhBPJAqTAiEAyfP++Elhfl2eDtmE
S5qOR6YM81/a9SLRr9dpFoIhvZU=
-----END CERTIFICATE-----
`;
