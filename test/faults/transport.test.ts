// FAULTS.md, "Transport and network": one test per numbered row, end to end through
// createSocket, the fault proxy and the protocol server on 127.0.0.1.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type SocketConfig, type SocketStatus, type WebSocketLike, connect, createSocket } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { startFaultProxy } from '../helpers/faultProxy.js';
import { observe } from '../helpers/observe.js';
import { framesOf, protocolClient, take, topic, whenOpen } from '../helpers/protocolClient.js';
import { type ClientFrame, type ServerFrame, startProtocolServer } from '../helpers/protocolServer.js';
import { startDeafServer, startSilentServer } from '../helpers/server.js';

const defer = useDisposer();

/** A protocol server behind a fault proxy, and a client with one channel 'feed'. */
async function rig(extra: Partial<SocketConfig<ServerFrame, ClientFrame>> = {}) {
  const server = await startProtocolServer();
  defer(() => server.close());
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } });
  defer(() => proxy.close());
  const { socket, events } = protocolClient(proxy.url, extra);
  defer(() => socket.close());
  const statuses: SocketStatus[] = [];
  socket.status$.subscribe((st) => statuses.push(st));
  const feed = observe(socket.channel(topic('feed')));
  defer(() => feed.subscription.unsubscribe());
  const first = await server.connections.next();
  await framesOf(first, 'subscribe', 1);
  return { server, proxy, socket, events, statuses, feed, first };
}

const reconnects = (statuses: SocketStatus[]) => statuses.filter((st) => st.state === 'reconnecting');

describe('FAULTS.md: transport and network', () => {
  it('row 1, planned restart (1001): one reconnect, resume, the gap filled once, channels re-sent once, then the outbox in order', async () => {
    const { server, socket, statuses, feed } = await rig();
    server.publish('feed', 1);
    expect(await feed.values.next()).toBe(1);
    await server.stop({ code: 1001, reason: 'restart' });
    server.publish('feed', 2); // published while down
    server.publish('feed', 3);
    socket.send({ type: 'publish', id: 'o1', channel: 'out', data: 1 });
    socket.send({ type: 'publish', id: 'o2', channel: 'out', data: 2 });
    await server.start();
    const second = await server.connections.next();
    expect(await take(feed.values, 2)).toEqual([2, 3]);
    await framesOf(second, 'publish', 2);
    expect(second.received.map((f) => f.type)).toEqual(['hello', 'subscribe', 'publish', 'publish']);
    expect(second.received[1]).toEqual({ type: 'subscribe', channel: 'feed', after: 1 });
    expect(second.publishIds).toEqual(['o1', 'o2']);
    expect(feed.values.size).toBe(0);
    expect(reconnects(statuses).length).toBeGreaterThanOrEqual(1);
    expect(statuses.at(-1)?.state).toBe('open');
  });

  it('row 2, refused for N attempts: capped jittered delays, one attempt at a time, maxRetries ends with the attempt count', async () => {
    const { server, proxy, socket, statuses, feed } = await rig({
      backoff: { initialDelay: 4, maxDelay: 10, maxRetries: 5 },
    });
    await proxy.down();
    const error = await feed.error;
    expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1006 });
    const delays = reconnects(statuses).map((st) => (st as { delay: number }).delay);
    expect(delays).toHaveLength(5);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
    for (const d of delays) expect(d).toBeLessThanOrEqual(10);
    expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'error', error, reconnects: 5 });
    // One attempt at a time: every attempt ('connecting') follows its own wait ('reconnecting').
    const states = statuses.map((st) => st.state).filter((st) => st === 'connecting' || st === 'reconnecting');
    expect(states).toEqual(['connecting', ...Array.from({ length: 5 }, () => ['reconnecting', 'connecting']).flat()]);
    expect(server.accepted()).toBe(1);
    expect(() => socket.send({ type: 'ping' })).toThrow(/closed/);
  });

  it('row 3, RST mid-stream: transient, reconnect and resume, no error reaches the data stream', async () => {
    const { server, proxy, feed } = await rig();
    server.publish('feed', 'a');
    expect(await feed.values.next()).toBe('a');
    proxy.reset();
    server.publish('feed', 'b');
    await server.connections.next();
    expect(await feed.values.next()).toBe('b');
    expect(feed.stopped()).toBe(false);
  });

  it('row 4, FIN right after a burst: everything before the FIN is delivered, the cursor is exact, no gap, no duplicate', async () => {
    const { server, proxy, feed, events } = await rig();
    server.publish('feed', 1);
    expect(await feed.values.next()).toBe(1); // the channel has a position
    for (let i = 2; i <= 100; i++) server.publish('feed', i);
    proxy.end(); // the bytes already read are delivered, then FIN, no close frame
    const second = await server.connections.next();
    const resumedAfter = ((await framesOf(second, 'subscribe', 1))[0] as { after?: number }).after ?? 0;
    server.publish('feed', 101);
    const seen = [1, ...(await take(feed.values, 100))];
    expect(seen).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect(resumedAfter).toBeGreaterThanOrEqual(1); // resumed from exactly what was delivered...
    expect(resumedAfter).toBeLessThanOrEqual(100);
    expect(feed.values.size).toBe(0); // ...so nothing came twice
    expect(events.filter((e) => e.type === 'gap')).toEqual([]);
  });

  it('row 5, black hole both ways: detected within interval + timeout, socket terminated, reconnect', async () => {
    const { server, proxy, socket, feed, statuses, first } = await rig({
      heartbeat: { interval: 20, timeout: 60, message: () => ({ type: 'ping' }) },
    });
    proxy.blackhole();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    expect(reconnects(statuses)[0]).toMatchObject({ cause: { name: 'HeartbeatTimeoutError', timeout: 60 } });
    // The black hole swallows the client's FIN too, so the server cannot see the termination
    // here; that a heartbeat timeout terminates the socket (no close handshake) is proven in
    // test/core/connect.test.ts ("frozen peer": the server sees 1006).
    void first;
    proxy.pass();
    await framesOf(await server.connections.next(), 'subscribe', 1);
    server.publish('feed', 'after');
    expect(await feed.values.next()).toBe('after');
  });

  it('row 6, frozen peer (TCP alive, no pongs, no replies): detected like a black hole, then resumed', async () => {
    const { server, feed, statuses, first } = await rig({
      heartbeat: { interval: 20, timeout: 60, message: () => ({ type: 'ping' }) },
    });
    server.publish('feed', 1);
    expect(await feed.values.next()).toBe(1);
    first.freeze();
    server.publish('feed', 2);
    await server.connections.next();
    expect(await feed.values.next()).toBe(2);
    expect(reconnects(statuses)[0]).toMatchObject({ cause: { name: 'HeartbeatTimeoutError' } });
  });

  it('rows 5 and 6 (P4), detection terminates the dead socket without waiting for a close handshake', async () => {
    const deaf = await startDeafServer(); // upgrades, then never sends or answers anything
    defer(() => deaf.close());
    const socket = createSocket<unknown, never>({
      url: deaf.url,
      WebSocketCtor: WebSocket,
      heartbeat: { timeout: 40 },
      closeTimeout: 60_000, // a handshake wait would outlast this test
      backoff: { initialDelay: 60_000 },
    });
    defer(() => socket.close());
    const sub = socket.messages$.subscribe({ error: () => {} });
    defer(() => sub.unsubscribe());
    const tcp = await deaf.connections.next();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    await tcp.closed; // terminated at detection, not 60 s later
  });

  it('row 7, handshake never answered: the open timeout aborts, counts, backs off, leaves no half-open socket', async () => {
    const silent = await startSilentServer();
    defer(() => silent.close());
    const socket = createSocket<unknown, never>({
      url: silent.url,
      WebSocketCtor: WebSocket,
      openTimeout: 30,
      backoff: { initialDelay: 1, maxDelay: 2 },
    });
    defer(() => socket.close());
    const statuses: SocketStatus[] = [];
    socket.status$.subscribe((st) => statuses.push(st));
    const sub = socket.messages$.subscribe({ error: () => {} });
    defer(() => sub.unsubscribe());
    const tcp1 = await silent.connections.next();
    await tcp1.closed; // aborted
    await silent.connections.next(); // and tried again
    expect(reconnects(statuses)[0]).toMatchObject({ attempt: 1, cause: { name: 'OpenTimeoutError', timeout: 30 } });
  });

  it('row 8, error without close: the attempt still fails and the next one is scheduled', async () => {
    const created: WebSocketLike[] = [];
    const socket = createSocket<unknown, never>({
      url: 'ws://127.0.0.1:9/',
      closeTimeout: 10,
      backoff: { initialDelay: 1, maxDelay: 2 },
      socketFactory: () => {
        const s: WebSocketLike = {
          readyState: 0,
          protocol: '',
          binaryType: 'blob',
          onopen: null,
          onmessage: null,
          onerror: null,
          onclose: null,
          send: () => {},
          close: () => {},
        };
        created.push(s);
        queueMicrotask(() => s.onerror?.({ type: 'error' })); // and never 'close'
        return s;
      },
    });
    defer(() => socket.close());
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting' && st.attempt === 2)));
    expect(created.length).toBeGreaterThanOrEqual(2);
  });

  it('row 9, HTTP 401 on upgrade: typed, not retried; retried when the classifier allows it after a token refresh', async () => {
    let accepted = 'good';
    const http = createServer();
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, sock, head) => {
      if (!req.url?.includes(`token=${accepted}`)) {
        sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, sock, head, (ws) => ws.send(JSON.stringify({ hello: 'authorised' })));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      http.closeAllConnections();
      http.close(() => resolve());
    }));
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;

    const strict = createSocket({ url: `${url}/?token=stale`, WebSocketCtor: WebSocket, backoff: { initialDelay: 1 } });
    defer(() => strict.close());
    expect(await observe(strict.messages$).error).toMatchObject({ name: 'HandshakeRejectedError', status: 401 });

    let token = 'stale';
    accepted = 'fresh';
    const refreshing = createSocket({
      url: () => `${url}/?token=${token}`,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 1 },
      classify: (error) => {
        if ((error as { status?: number }).status === 401 && token === 'stale') {
          token = 'fresh'; // e.g. refreshed from the auth service
          return 'resume';
        }
        return 'stop';
      },
    });
    defer(() => refreshing.close());
    expect(await observe(refreshing.messages$).values.next()).toEqual({ hello: 'authorised' });
  });

  it('row 10, HTTP 503 + Retry-After: transient, and a hint of 1 s or more is the next delay plus up to 1 s of jitter', async () => {
    const http = createServer();
    http.on('upgrade', (_req, sock) => sock.end('HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const socket = createSocket({
      url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 1, maxDelay: 5 },
      random: () => 0.5,
    });
    defer(() => socket.close());
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    const reconnecting = await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    // 2000 + 0.5 × 1000: the server's 2 s, with jitter so that clients told "2" spread out.
    expect(reconnecting).toMatchObject({ delay: 2500, cause: { name: 'HandshakeRejectedError', status: 503, retryAfter: 2000 } });
  });

  it('row 11, DNS failure: transient with backoff; a malformed URL is a synchronous TypeError', async () => {
    const lookup = (_h: string, _o: unknown, cb: (e: Error) => void) =>
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }));
    const socket = createSocket({
      url: 'ws://nowhere.invalid/',
      socketFactory: (u, p) => new WebSocket(u, p, { lookup: lookup as never }),
      backoff: { initialDelay: 1, maxDelay: 2 },
    });
    defer(() => socket.close());
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    const second = await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting' && st.attempt === 2)));
    expect(second).toMatchObject({ cause: { cause: { code: 'ENOTFOUND' } } });
    expect(() => connect({ url: 'not a url' })).toThrow(TypeError);
  });

  it('row 12, flapping server: backoff keeps growing; the counter resets only after the stable period', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    defer(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ hi: 1 })); // looks healthy...
      setTimeout(() => ws.terminate(), 10); // ...and drops within 50 ms
    });
    const socket = createSocket({
      url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 2, factor: 2, maxDelay: 1000, jitter: 'none', stableAfter: 200 },
    });
    defer(() => socket.close());
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    const fourth = await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting' && st.attempt === 4)));
    expect(fourth).toMatchObject({ delay: 16 }); // 2, 4, 8, 16: a message did not reset the counter
  });

  it('row 13, close handshake never completes: the socket is terminated after the close timeout', async () => {
    const deaf = await startDeafServer();
    defer(() => deaf.close());
    const socket = createSocket({ url: deaf.url, WebSocketCtor: WebSocket, closeTimeout: 30 });
    const sub = socket.messages$.subscribe();
    const tcp = await deaf.connections.next();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open')));
    socket.close();
    await tcp.closed; // ws alone would keep it 'closing' for 30 s
    expect(sub.closed).toBe(true);
  });

  it('row 14, sleep / offline / online: retry-now skips the wait; nothing reconnects after close()', async () => {
    const server = await startProtocolServer();
    defer(() => server.close());
    const online = new Subject<void>();
    const { socket } = protocolClient(server.url, { backoff: { initialDelay: 60_000, jitter: 'none' }, retryNow: online });
    const sub = socket.messages$.subscribe();
    await server.connections.next();
    await whenOpen(socket);
    await server.terminateAll();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    online.next();
    await server.connections.next();
    socket.close();
    await server.terminateAll();
    // Nothing is left that could reconnect: the retry-now signal is no longer listened to,
    // and a late 'online' after close changes nothing.
    expect(online.observed).toBe(false);
    online.next();
    expect(server.accepted()).toBe(2);
    expect(sub.closed).toBe(true);
    // The overdue-deadline-after-sleep half of this row is proven in virtual time:
    // test/operators/heartbeatTimeout.test.ts, "late timers (suspended laptop, throttled tab)".
  });
});
