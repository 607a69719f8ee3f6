import { config as rxjsConfig, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RxSocket, type SocketEvent, type SocketStatus, createSocket } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { AsyncQueue } from '../helpers/queue.js';
import { observe } from '../helpers/observe.js';
import { startServer } from '../helpers/server.js';

const defer = useDisposer();

interface Frame {
  readonly type: string;
  readonly id?: number;
  readonly n?: number;
}

async function server() {
  const s = await startServer();
  defer(() => s.close());
  return s;
}

function track<In, Out>(socket: RxSocket<In, Out>) {
  const statuses: SocketStatus[] = [];
  const events: SocketEvent<Out>[] = [];
  socket.status$.subscribe((st) => statuses.push(st));
  socket.events$.subscribe((e) => events.push(e));
  defer(() => socket.close());
  return { statuses, events };
}

const opened = (socket: RxSocket<unknown, unknown> | RxSocket<Frame, Frame>) =>
  firstValueFrom((socket.status$ as RxSocket<unknown, unknown>['status$']).pipe(filter((st) => st.state === 'open')));

describe('createSocket lifecycle', () => {
  it('should end every subscriber and status$ with a terminal error, and connect no more', async () => {
    const s = await server();
    const socket = createSocket<unknown, string>({ url: s.url, WebSocketCtor: WebSocket, backoff: { initialDelay: 1 } });
    const { statuses } = track(socket);
    const a = observe(socket.messages$);
    const b = observe(socket.messages$);
    const conn = await s.connections.next();
    conn.socket.close(1008, 'bad token');
    const error = await a.error;
    expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1008 });
    expect(await b.error).toBe(error);
    expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'error', error });
    expect(() => socket.send('x')).toThrow(expect.objectContaining({ name: 'ClientClosedError', cause: error }));
    expect(await observe(socket.messages$).error).toBe(error); // a late subscriber learns why at once
    expect(s.accepted()).toBe(1);
  });

  it('should reconnect exactly once when a reconnect request is followed at once by a close', async () => {
    const s = await server();
    const socket = createSocket<Frame, Frame>({
      url: s.url,
      WebSocketCtor: WebSocket,
      isReconnectRequest: (m) => m.type === 'reconnect',
      heartbeat: { timeout: 200 },
      backoff: { initialDelay: 10 },
    });
    const { statuses } = track(socket);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    await opened(socket);
    first.sendJson({ type: 'reconnect' });
    first.socket.close(1012, 'restart'); // a close right behind the request
    const second = await s.connections.next();
    second.sendJson({ type: 'data', n: 1 });
    expect(await o.values.next()).toEqual({ type: 'data', n: 1 });
    // The client acted on the request first: it closed with 4000 before reading the 1012.
    expect(await first.closed).toEqual({ code: 4000, reason: 'reconnect' });
    expect(s.accepted()).toBe(2);
    expect(statuses.filter((st) => st.state === 'reconnecting')).toHaveLength(1);
    expect(statuses.at(-1)).toMatchObject({ state: 'open', reconnects: 1 });
  });

  it('should reconnect promptly, closing with 4000, on a server reconnect request', async () => {
    const s = await server();
    const socket = createSocket<Frame, Frame>({
      url: s.url,
      WebSocketCtor: WebSocket,
      isReconnectRequest: (m) => m.type === 'reconnect',
      backoff: { initialDelay: 20 },
      random: () => 0.5,
    });
    const { statuses } = track(socket);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    await opened(socket);
    first.sendJson({ type: 'reconnect' });
    expect(await first.closed).toEqual({ code: 4000, reason: 'reconnect' });
    await s.connections.next();
    expect(statuses.find((st) => st.state === 'reconnecting')).toMatchObject({ attempt: 1, delay: 10, cause: undefined });
    expect(o.stopped()).toBe(false);
  });

  it('should treat close 1012 (service restart) as a prompt reconnect, not a failure', async () => {
    const s = await server();
    const socket = createSocket<Frame, Frame>({
      url: s.url,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 20, maxDelay: 20 },
      random: () => 0.25,
      classify: () => 'stop', // were 1012 treated as a failure, this would end the client
    });
    const { statuses } = track(socket);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    await opened(socket);
    first.socket.close(1012, 'restarting');
    await s.connections.next();
    expect(statuses.find((st) => st.state === 'reconnecting')).toMatchObject({ attempt: 1, delay: 5, cause: undefined });
    expect(o.stopped()).toBe(false);
  });

  it('should keep other subscribers and the connection going when one subscriber throws', async () => {
    const s = await server();
    const reported = new AsyncQueue<unknown>(); // rxjs reports subscriber errors asynchronously
    const previous = rxjsConfig.onUnhandledError;
    rxjsConfig.onUnhandledError = (e) => reported.push(e);
    defer(() => {
      rxjsConfig.onUnhandledError = previous;
    });
    const socket = createSocket<Frame, never>({ url: s.url, WebSocketCtor: WebSocket });
    track(socket);
    const boom = new Error('subscriber bug');
    socket.messages$.subscribe(() => {
      throw boom;
    });
    const healthy = observe(socket.messages$);
    const conn = await s.connections.next();
    conn.sendJson({ type: 'a' });
    conn.sendJson({ type: 'b' });
    expect([await healthy.values.next(), await healthy.values.next()]).toEqual([{ type: 'a' }, { type: 'b' }]);
    expect([await reported.next(), await reported.next()]).toEqual([boom, boom]); // reported, not swallowed
    expect(s.accepted()).toBe(1);
    expect(healthy.stopped()).toBe(false);
  });

  it('should report a malformed frame on events$ and keep delivering', async () => {
    const s = await server();
    const socket = createSocket<Frame, never>({ url: s.url, WebSocketCtor: WebSocket });
    const { events } = track(socket);
    const o = observe(socket.messages$);
    const conn = await s.connections.next();
    conn.socket.send('{"type":');
    conn.sendJson({ type: 'ok' });
    expect(await o.values.next()).toEqual({ type: 'ok' });
    expect(events).toEqual([{ type: 'decode-error', error: expect.objectContaining({ name: 'DecodeError', data: '{"type":' }) }]);
  });

  it('should reuse the socket when a subscriber returns within the linger time', async () => {
    const s = await server();
    const socket = createSocket<Frame, never>({ url: s.url, WebSocketCtor: WebSocket, linger: 200 });
    track(socket);
    const first = observe(socket.messages$);
    const conn = await s.connections.next();
    await opened(socket);
    first.subscription.unsubscribe();
    const second = observe(socket.messages$);
    defer(() => second.subscription.unsubscribe());
    conn.sendJson({ type: 'still here' });
    expect(await second.values.next()).toEqual({ type: 'still here' });
    expect(s.accepted()).toBe(1);
  });

  it('should close the socket after the linger time when nobody returns', async () => {
    const s = await server();
    const socket = createSocket<Frame, never>({ url: s.url, WebSocketCtor: WebSocket, linger: 30 });
    const { statuses } = track(socket);
    const o = observe(socket.messages$);
    const conn = await s.connections.next();
    await opened(socket);
    o.subscription.unsubscribe();
    expect(await conn.closed).toEqual({ code: 4000, reason: 'reconnect' });
    expect(statuses.at(-1)).toMatchObject({ state: 'idle' });
  });

  it('should re-send unacknowledged messages in order after a drop, with an ack rule', async () => {
    const s = await server();
    const socket = createSocket<Frame, Frame>({
      url: s.url,
      WebSocketCtor: WebSocket,
      ack: { idOf: (m) => m.id, ackOf: (m) => (m.type === 'ack' ? m.id : undefined) },
      backoff: { initialDelay: 1 },
    });
    track(socket);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    await opened(socket);
    for (let id = 1; id <= 4; id++) socket.send({ type: 'publish', id });
    const firstReceived: number[] = [];
    for (let i = 0; i < 4; i++) firstReceived.push((JSON.parse(String(await first.messages.next())) as Frame).id!);
    first.sendJson({ type: 'ack', id: 1 });
    first.sendJson({ type: 'ack', id: 2 });
    await o.values.next();
    await o.values.next(); // both acks processed
    first.socket.terminate(); // 3 and 4 were received but never acknowledged
    const second = await s.connections.next();
    socket.send({ type: 'publish', id: 5 });
    const resent: number[] = [];
    for (let i = 0; i < 3; i++) resent.push((JSON.parse(String(await second.messages.next())) as Frame).id!);
    expect(firstReceived).toEqual([1, 2, 3, 4]);
    expect(resent).toEqual([3, 4, 5]); // at-least-once, in order, before the new message
  });

  it('should report sends whose delivery is unknown when the socket drops without an ack rule', async () => {
    const s = await server();
    const socket = createSocket<Frame, Frame>({ url: s.url, WebSocketCtor: WebSocket, backoff: { initialDelay: 1 } });
    const { events } = track(socket);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const first = await s.connections.next();
    await opened(socket);
    socket.send({ type: 'a' });
    await first.messages.next();
    first.sendJson({ type: 'reply' }); // a frame after 'a': the server was alive after it
    await o.values.next();
    socket.send({ type: 'b' });
    socket.send({ type: 'c' });
    await first.messages.next();
    await first.messages.next();
    first.socket.terminate();
    await s.connections.next();
    expect(events).toEqual([{ type: 'unconfirmed', messages: [{ type: 'b' }, { type: 'c' }] }]);
  });
});
