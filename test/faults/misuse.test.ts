// FAULTS.md, "Bad input and misuse": one test per row, through the public API against real
// ws servers on 127.0.0.1.
import { config as rxjsConfig, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type SocketEvent,
  type SocketStatus,
  assertValidClose,
  connect,
  createSocket,
  heartbeatTimeout,
  isClientClosedError,
  retryWithJitteredBackoff,
} from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { framesOf, protocolClient, take, topic, whenOpen } from '../helpers/protocolClient.js';
import { startProtocolServer } from '../helpers/protocolServer.js';
import { AsyncQueue } from '../helpers/queue.js';
import { startServer, startSilentServer } from '../helpers/server.js';

const defer = useDisposer();

interface Tick {
  readonly type: string;
  readonly n?: number;
}

/** A plain ws server and a createSocket client on it, with everything recorded. */
async function plain(extra: Partial<Parameters<typeof createSocket<unknown, unknown>>[0]> = {}) {
  const server = await startServer();
  defer(() => server.close());
  const socket = createSocket<unknown, unknown>({ url: server.url, WebSocketCtor: WebSocket, backoff: { initialDelay: 1, maxDelay: 5 }, ...extra });
  defer(() => socket.close());
  const events: SocketEvent<unknown>[] = [];
  socket.events$.subscribe((e) => events.push(e));
  const statuses: SocketStatus[] = [];
  socket.status$.subscribe((st) => statuses.push(st));
  return { server, socket, events, statuses };
}

const rawSocketOf = (ws: unknown) => (ws as { _socket: import('node:net').Socket })._socket;

describe('FAULTS.md: bad input and misuse', () => {
  it('row 24, malformed frames (truncated JSON, null, unknown shapes, invalid UTF-8): reported, and the stream survives', async () => {
    const { server, socket, events, statuses } = await plain();
    // A channel written the usual way: m.type on a null frame throws.
    const ticks = observe(
      socket.channel<number>({
        key: 'ticks',
        subscribe: () => ({ type: 'subscribe' }),
        matches: (m) => (m as Tick).type === 'tick',
        project: (m) => (m as Tick).n!,
      }),
    );
    defer(() => ticks.subscription.unsubscribe());
    const conn = await server.connections.next();
    conn.socket.send('{"seq":1,');
    conn.socket.send('null');
    conn.sendJson({ unknown: 'shape' });
    conn.sendJson({ type: 'tick', n: 1 });
    expect(await ticks.values.next()).toBe(1);
    rawSocketOf(conn.socket).write(Buffer.from([0x81, 0x01, 0xff])); // a text frame that is not UTF-8
    const second = await server.connections.next(); // the connection failed (1006, as in browsers)...
    second.sendJson({ type: 'tick', n: 2 });
    expect(await ticks.values.next()).toBe(2); // ...and the stream went on
    expect(events.map((e) => e.type)).toEqual(['decode-error', 'handler-error']);
    expect(events[1]).toMatchObject({ channel: 'ticks', message: null, error: expect.any(TypeError) });
    expect(statuses.find((st) => st.state === 'reconnecting')).toMatchObject({ cause: { code: 1006, cause: { code: 'WS_ERR_INVALID_UTF8' } } });
    expect(ticks.stopped()).toBe(false);
  });

  it('row 25, binary where text is expected and vice versa: the same types as in browsers, reported, never fatal', async () => {
    const { server, socket, events } = await plain({
      // An application that expects binary frames only.
      deserialize: (data) => {
        if (typeof data === 'string') throw new TypeError('expected a binary frame');
        return new Uint8Array(data);
      },
    });
    const all = observe(socket.messages$);
    defer(() => all.subscription.unsubscribe());
    const conn = await server.connections.next();
    conn.socket.send('{"text":"where binary is expected"}');
    conn.socket.send(Buffer.from([7, 8]), { binary: true });
    expect(await all.values.next()).toEqual(new Uint8Array([7, 8])); // an ArrayBuffer underneath, as in browsers
    expect(events).toEqual([{ type: 'decode-error', error: expect.objectContaining({ name: 'DecodeError', data: '{"text":"where binary is expected"}' }) }]);

    // And text expected, binary received: the default decoder hands the ArrayBuffer on.
    const text = await plain();
    const got = observe(text.socket.messages$);
    defer(() => got.subscription.unsubscribe());
    const c2 = await text.server.connections.next();
    c2.socket.send(Buffer.from([1]), { binary: true });
    expect(await got.values.next()).toBeInstanceOf(ArrayBuffer);
  });

  it('row 26, oversize: inbound over maxPayload is a terminal 1009 (no replay loop); outbound over the byte bound is reported', async () => {
    const { server, socket, statuses } = await plain({
      socketFactory: (url, protocols) => new WebSocket(url, protocols, { maxPayload: 64 }),
      outbox: { maxBytes: 32 },
    });
    const all = observe(socket.messages$);
    const conn = await server.connections.next();
    conn.sendJson('x'.repeat(200));
    expect(await all.error).toMatchObject({ name: 'ConnectionClosedError', code: 1009 });
    expect(server.accepted()).toBe(1); // not reconnected to receive the same message again
    expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'error' });

    const offline = createSocket<unknown, string>({ url: 'ws://127.0.0.1:9/', outbox: { maxBytes: 32 } });
    const events: SocketEvent<string>[] = [];
    offline.events$.subscribe((e) => events.push(e));
    offline.send('y'.repeat(100));
    expect(events).toEqual([{ type: 'dropped', message: 'y'.repeat(100), reason: 'overflow' }]);
  });

  it('row 27, invalid URLs and options: TypeError or RangeError at creation, naming the option', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => connect({ url: 'not a url' }), /url/],
      [() => connect({ url: 'ftp://x/' }), /url must use ws:/],
      [() => connect({ url: 'ws://x', openTimeout: Number.NaN }), /openTimeout/],
      [() => connect({ url: 'ws://x', openTimeout: 2 ** 31 }), /openTimeout/],
      [() => retryWithJitteredBackoff({ initialDelay: -1 }), /initialDelay/],
      [() => retryWithJitteredBackoff({ initialDelay: 100, maxDelay: 50 }), /maxDelay must be at least initialDelay/],
      [() => retryWithJitteredBackoff({ maxRetries: 1.5 }), /maxRetries/],
      [() => heartbeatTimeout({ timeout: Number.POSITIVE_INFINITY }), /timeout/],
      [() => createSocket({ url: 'ws://x', linger: -1 }), /linger/],
      [() => createSocket({ url: 'ws://x', outbox: { maxMessages: -1 } }), /outbox.maxMessages/],
      [() => createSocket({ url: 'ws://x', session: { hello: () => [], isReady: () => true, timeout: 0 } }), /session.timeout/],
    ];
    for (const [create, mention] of cases) {
      let error: unknown;
      try {
        create();
      } catch (e) {
        error = e;
      }
      expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
      expect(String((error as Error).message)).toMatch(mention);
    }
  });

  it('row 28, close codes and reasons: the browser rule everywhere, and an invalid close() changes nothing', async () => {
    const { server, socket, statuses } = await plain();
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    await server.connections.next();
    for (const [code, reason] of [[1001, ''], [1000.5, ''], [2999, ''], [4000, 'x'.repeat(124)]] as const) {
      expect(() => socket.close(code, reason)).toThrow(RangeError);
      expect(() => assertValidClose(code, reason)).toThrow(RangeError);
    }
    expect(statuses.at(-1)?.state).not.toBe('closed');
    socket.close(4999, 'é'.repeat(61)); // 122 bytes: accepted
    expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'client' });
  });

  it('row 29, a flooding server and a busy consumer: every message delivered, no false heartbeat timeout while frames arrive', async () => {
    const { server, socket, statuses } = await plain({ heartbeat: { timeout: 50 } });
    let received = 0;
    const done = new AsyncQueue<void>();
    const sub = socket.messages$.subscribe(() => {
      const until = performance.now() + 0.02; // 20 µs of work per message: 10,000 of them take ≥ 200 ms
      while (performance.now() < until) {
        // busy
      }
      if (++received === 10_000) done.push();
    });
    defer(() => sub.unsubscribe());
    const conn = await server.connections.next();
    for (let i = 0; i < 10_000; i++) conn.sendJson({ n: i });
    await done.next();
    expect(statuses.filter((st) => st.state === 'reconnecting')).toEqual([]);
    expect(server.accepted()).toBe(1);
  });

  it('row 30, a subscriber that throws in next: the others receive everything, the connection stays, the error is reported', async () => {
    const reported = new AsyncQueue<unknown>();
    const previous = rxjsConfig.onUnhandledError;
    rxjsConfig.onUnhandledError = (e) => reported.push(e);
    defer(() => {
      rxjsConfig.onUnhandledError = previous;
    });
    const { server, socket } = await plain();
    const bug = new Error('subscriber bug');
    socket.messages$.subscribe(() => {
      throw bug;
    });
    const healthy = observe(socket.messages$);
    defer(() => healthy.subscription.unsubscribe());
    const conn = await server.connections.next();
    for (let n = 1; n <= 3; n++) conn.sendJson({ n });
    expect(await take(healthy.values, 3)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await take(reported, 3)).toEqual([bug, bug, bug]);
    expect(server.accepted()).toBe(1);
  });

  it('row 31, use after close: send fails fast; closing during backoff and during the handshake cancels cleanly', async () => {
    const silent = await startSilentServer();
    defer(() => silent.close());
    const handshaking = createSocket({ url: silent.url, WebSocketCtor: WebSocket });
    const sub = handshaking.messages$.subscribe();
    const tcp = await silent.connections.next();
    handshaking.close();
    await tcp.closed; // the half-done handshake is aborted
    expect(sub.closed).toBe(true);
    let thrown: unknown;
    try {
      handshaking.send('late');
    } catch (e) {
      thrown = e;
    }
    expect(isClientClosedError(thrown)).toBe(true);

    const server = await startProtocolServer();
    defer(() => server.close());
    const { socket } = protocolClient(server.url, { backoff: { initialDelay: 60_000, jitter: 'none' } });
    const s2 = socket.messages$.subscribe();
    await server.connections.next();
    await whenOpen(socket);
    await server.terminateAll();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    socket.close(); // during a 60 s backoff: nothing is left waiting
    expect(s2.closed).toBe(true);
    expect(server.accepted()).toBe(1);
  });

  it('row 32, 10,000 subscribe/unsubscribe cycles and subscribe/unsubscribe in the same tick: the server ends with the right count', async () => {
    const server = await startProtocolServer();
    defer(() => server.close());
    const { socket } = protocolClient(server.url);
    defer(() => socket.close());
    const keep = socket.channel(topic('keep')).subscribe();
    defer(() => keep.unsubscribe());
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 1);
    for (let i = 0; i < 10_000; i++) socket.channel(topic(`c${i % 7}`)).subscribe().unsubscribe();
    await framesOf(conn, 'unsubscribe', 10_000);
    expect(conn.subscriptions()).toEqual(new Set(['keep']));
    expect(server.activeSubscriptions()).toBe(1);
    // (handles and heap after such cycles: test/leak)
  });

  it('row 33, multicast lifecycle: back within linger is still one socket; a late subscriber during a reconnect gets live data', async () => {
    const server = await startProtocolServer();
    defer(() => server.close());
    const { socket } = protocolClient(server.url, { linger: 500, backoff: { initialDelay: 20, jitter: 'none' } });
    defer(() => socket.close());
    const first = socket.messages$.subscribe();
    const c1 = await server.connections.next();
    await whenOpen(socket);
    first.unsubscribe();
    const second = socket.channel(topic('feed')).subscribe();
    defer(() => second.unsubscribe());
    await framesOf(c1, 'subscribe', 1);
    expect(server.accepted()).toBe(1); // reused
    await server.terminateAll();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    const late = observe(socket.channel(topic('feed'))); // joins during the wait
    defer(() => late.subscription.unsubscribe());
    const c2 = await server.connections.next();
    await framesOf(c2, 'subscribe', 1);
    server.publish('feed', 'live');
    expect(await late.values.next()).toBe('live');
  });
});
