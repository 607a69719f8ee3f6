import { Subject, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type ChannelSpec, type SocketStatus, createSocket } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { startFaultProxy } from '../helpers/faultProxy.js';
import { observe } from '../helpers/observe.js';
import { type ClientFrame, type MsgFrame, type ServerFrame, startProtocolServer } from '../helpers/protocolServer.js';

const defer = useDisposer();

const feed: ChannelSpec<ServerFrame, ClientFrame, unknown> = {
  key: 'feed',
  subscribe: (cursor) => ({ type: 'subscribe', channel: 'feed', ...(cursor !== undefined ? { after: Number(cursor) } : {}) }),
  unsubscribe: () => ({ type: 'unsubscribe', channel: 'feed' }),
  matches: (m) => m.type === 'msg' && m.channel === 'feed',
  cursorOf: (m) => (m.type === 'msg' ? m.seq : undefined),
  project: (m) => (m as MsgFrame).data,
};

async function setup(options: { proxy?: boolean } = {}) {
  const server = await startProtocolServer({ requireHello: false });
  defer(() => server.close());
  const proxy = options.proxy ? await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } }) : undefined;
  if (proxy) defer(() => proxy.close());
  const statuses: SocketStatus[] = [];
  const socket = createSocket<ServerFrame, ClientFrame>({
    url: proxy?.url ?? server.url,
    WebSocketCtor: WebSocket,
    // An app-level heartbeat: ping after 30 ms of silence, give up after 90 ms.
    heartbeat: { interval: 30, timeout: 90, message: () => ({ type: 'ping' }) },
    backoff: { initialDelay: 1, maxDelay: 5 },
  });
  socket.status$.subscribe((st) => statuses.push(st));
  defer(() => socket.close());
  return { server, proxy, socket, statuses };
}

describe('createSocket under faults', () => {
  it('should keep a quiet but healthy connection alive with pings', async () => {
    const { server, socket } = await setup();
    const o = observe(socket.channel(feed));
    defer(() => o.subscription.unsubscribe());
    const conn = await server.connections.next();
    // Wait for three pings (≥ 90 ms of silence from the app's point of view): each got a pong.
    while (conn.received.filter((f) => f.type === 'ping').length < 3) await conn.frames.next();
    server.publish('feed', 'still here');
    expect(await o.values.next()).toBe('still here');
    expect(server.accepted()).toBe(1);
  });

  it('should replace a frozen server connection after the heartbeat deadline and resume the channel', async () => {
    const { server, socket, statuses } = await setup();
    const o = observe(socket.channel(feed));
    defer(() => o.subscription.unsubscribe());
    const first = await server.connections.next();
    while (first.subscriptions().size === 0) await first.frames.next();
    server.publish('feed', 1);
    expect(await o.values.next()).toBe(1);
    first.freeze(); // TCP open, nothing answered: only the heartbeat can tell
    server.publish('feed', 2); // held by the frozen connection, in the history for a resume
    const second = await server.connections.next();
    expect(await o.values.next()).toBe(2);
    const reconnecting = statuses.find((st) => st.state === 'reconnecting');
    expect(reconnecting).toMatchObject({ cause: { name: 'HeartbeatTimeoutError', timeout: 90 } });
    expect(second.received.find((f) => f.type === 'subscribe')).toEqual({ type: 'subscribe', channel: 'feed', after: 1 });
    first.thaw();
    expect(await first.closed).toMatchObject({ code: 4000 }); // replaced, not ended: the session survives
  });

  it('should detect a black-holed path (both directions) and reconnect once it clears', async () => {
    const { server, proxy, socket, statuses } = await setup({ proxy: true });
    const o = observe(socket.channel(feed));
    defer(() => o.subscription.unsubscribe());
    const first = await server.connections.next();
    while (first.subscriptions().size === 0) await first.frames.next();
    proxy!.blackhole();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    proxy!.pass();
    const second = await server.connections.next();
    while (second.subscriptions().size === 0) await second.frames.next();
    server.publish('feed', 'through');
    expect(await o.values.next()).toBe('through');
    expect(statuses.find((st) => st.state === 'reconnecting')).toMatchObject({ cause: { name: 'HeartbeatTimeoutError' } });
  });

  it('should keep retrying while the server refuses connections, then recover', async () => {
    const { server, proxy, socket, statuses } = await setup({ proxy: true });
    const o = observe(socket.channel(feed));
    defer(() => o.subscription.unsubscribe());
    await server.connections.next();
    await proxy!.down(); // connections refused (ECONNREFUSED)
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting' && st.attempt === 3)));
    await proxy!.up();
    const conn = await server.connections.next();
    while (conn.subscriptions().size === 0) await conn.frames.next();
    server.publish('feed', 'back');
    expect(await o.values.next()).toBe('back');
    const attempts = statuses.filter((st) => st.state === 'reconnecting').map((st) => (st as { attempt: number }).attempt);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]); // the backoff chain kept going, one attempt at a time
  });

  it('should cut a long backoff short on a retry-now signal', async () => {
    const server = await startProtocolServer({ requireHello: false });
    defer(() => server.close());
    const online = new Subject<void>();
    const socket = createSocket<ServerFrame, ClientFrame>({
      url: server.url,
      WebSocketCtor: WebSocket,
      backoff: { initialDelay: 60_000, jitter: 'none' },
      retryNow: online,
    });
    defer(() => socket.close());
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    await server.connections.next();
    await server.terminateAll();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    online.next(); // e.g. the browser's 'online' event
    await server.connections.next(); // without the signal this would wait 60 s and time out
    expect(server.accepted()).toBe(2);
  });

  it('should touch no global and open nothing before the first subscription (SSR)', async () => {
    // Node 20 has no global WebSocket: creating a client must still work, lazily.
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    const socket = createSocket<unknown, string>({ url: 'ws://127.0.0.1:9' });
    socket.send('queued, not sent');
    let status: SocketStatus | undefined;
    socket.status$.subscribe((st) => {
      status = st;
    });
    expect(status).toMatchObject({ state: 'idle', buffered: 1 });
    const error = await observe(socket.messages$).error; // only now is WebSocket looked up
    expect(error).toBeInstanceOf(TypeError);
    expect(status).toMatchObject({ state: 'closed', reason: 'error', error });
  });
});
