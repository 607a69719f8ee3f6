import { BehaviorSubject, filter, firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type SocketEvent, type SocketStatus, createSocket, isClientClosedError } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { startServer } from '../helpers/server.js';

const defer = useDisposer();

async function server() {
  const s = await startServer();
  defer(() => s.close());
  return s;
}

describe('createSocket basics', () => {
  it('should multicast to many subscribers over one socket, opened by the first and closed after the last', async () => {
    const s = await server();
    const socket = createSocket<{ n: number }, never>({ url: s.url, WebSocketCtor: WebSocket });
    defer(() => socket.close());
    const subscribers = Array.from({ length: 5 }, () => observe(socket.messages$));
    const conn = await s.connections.next();
    conn.sendJson({ n: 1 });
    conn.sendJson({ n: 2 });
    for (const o of subscribers) expect([await o.values.next(), await o.values.next()]).toEqual([{ n: 1 }, { n: 2 }]);
    expect(s.accepted()).toBe(1);
    for (const o of subscribers) o.subscription.unsubscribe();
    expect(await conn.closed).toEqual({ code: 4000, reason: 'reconnect' }); // not final: the session may resume
  });

  it('should report connecting → open → reconnecting → connecting → open through a drop', async () => {
    const s = await server();
    const socket = createSocket<unknown, never>({
      url: s.url,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 5, jitter: 'none' },
    });
    defer(() => socket.close());
    const statuses: SocketStatus[] = [];
    socket.status$.subscribe((st) => statuses.push(st));
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    first.socket.close(1011, 'oops');
    const second = await s.connections.next();
    second.sendJson('after');
    await o.values.next();
    expect(statuses.map((st) => st.state)).toEqual(['idle', 'connecting', 'open', 'reconnecting', 'connecting', 'open']);
    const reconnecting = statuses[3] as Extract<SocketStatus, { state: 'reconnecting' }>;
    expect(reconnecting).toMatchObject({ attempt: 1, delay: 5, reconnects: 1, cause: { name: 'ConnectionClosedError', code: 1011 } });
    expect(reconnecting.nextAttemptAt).toBeGreaterThan(0);
  });

  it('should hold sends in the outbox until open and flush them in order', async () => {
    const s = await server();
    const socket = createSocket<unknown, { n: number }>({ url: s.url, WebSocketCtor: WebSocket });
    defer(() => socket.close());
    const statuses: SocketStatus[] = [];
    socket.status$.subscribe((st) => statuses.push(st));
    for (let n = 1; n <= 3; n++) socket.send({ n });
    expect(statuses.at(-1)).toMatchObject({ state: 'idle', buffered: 3 });
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const conn = await s.connections.next();
    socket.send({ n: 4 });
    const got = [];
    for (let i = 0; i < 4; i++) got.push(JSON.parse(String(await conn.messages.next())));
    expect(got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect(statuses.at(-1)).toMatchObject({ state: 'open', buffered: 0 });
  });

  it('should make close() final: subscribers complete, the socket closes with the given code, send throws', async () => {
    const s = await server();
    const socket = createSocket<unknown, string>({ url: s.url, WebSocketCtor: WebSocket, backoff: { initialDelay: 1 } });
    const events: SocketEvent<string>[] = [];
    socket.events$.subscribe((e) => events.push(e));
    const statuses: SocketStatus[] = [];
    socket.status$.subscribe((st) => statuses.push(st));
    const o = observe(socket.messages$);
    const conn = await s.connections.next();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open')));
    socket.close(4001, 'bye');
    expect(await conn.closed).toEqual({ code: 4001, reason: 'bye' });
    expect(o.stopped()).toBe(true);
    expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'client', error: undefined });
    expect(() => socket.send('late')).toThrow(expect.objectContaining({ name: 'ClientClosedError' }));
    try {
      socket.send('late');
    } catch (e) {
      expect(isClientClosedError(e)).toBe(true);
    }
    // A new subscriber gets nothing and no socket opens.
    expect(await firstValueFrom(socket.messages$.pipe(toArray()))).toEqual([]);
    expect(s.accepted()).toBe(1);
  });

  it('should reject invalid connection options when created, naming them, before any socket exists', () => {
    expect(() => createSocket({ url: 'ftp://example.com/' })).toThrow(TypeError);
    expect(() => createSocket({ url: 'ftp://example.com/' })).toThrow(/url must use ws:, wss:, http: or https:/);
    expect(() => createSocket({ url: 'ws://127.0.0.1:1/', openTimeout: 0 })).toThrow(RangeError);
    expect(() => createSocket({ url: 'ws://127.0.0.1:1/', openTimeout: 0 })).toThrow(/openTimeout/);
    expect(() => createSocket({ url: 'ws://127.0.0.1:1/', closeTimeout: -1 })).toThrow(/closeTimeout/);
  });

  it('should read globalThis.WebSocket when connecting, not when created, also with a heartbeat and paused', async () => {
    const s = await server();
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    const config = { url: s.url, heartbeat: { timeout: 60_000 }, paused: new BehaviorSubject(false) };
    global.WebSocket = undefined;
    const missing = createSocket(config);
    const later = createSocket(config);
    try {
      missing.messages$.subscribe({ error: () => {} });
      const closed = await firstValueFrom(missing.status$.pipe(filter((status) => status.state === 'closed')));
      expect(closed.state === 'closed' && String(closed.error)).toMatch(/no WebSocket implementation/);
      global.WebSocket = WebSocket;
      later.messages$.subscribe();
      await firstValueFrom(later.status$.pipe(filter((status) => status.state === 'open')));
      expect(s.accepted()).toBe(1);
    } finally {
      global.WebSocket = saved;
      missing.close();
      later.close();
    }
  });
});
