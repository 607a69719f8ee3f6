import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VirtualTimeScheduler, takeWhile, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type SocketStatus,
  type WebSocketLike,
  connect,
  createSocket,
  isConnectionClosedError,
} from 'rxtether';
import { createBackpressure } from 'rxtether/node';
import { useDisposer } from '../helpers/dispose.js';
import { type FeedMessage, startFeedServer } from './feedServer.js';

const defer = useDisposer();

const HIGH = 50;
const LOW = 10;

async function feedServer(options?: Parameters<typeof startFeedServer>[0]) {
  const s = await startFeedServer(options);
  defer(() => s.close());
  return s;
}

/**
 * The most messages a paused `ws` socket may still deliver: the rest of the read it was
 * parsing, and the read its close flushes (each ≤ 64 KiB, plus a frame split across reads).
 */
function slack(frameBytes: number): number {
  return 2 * (Math.ceil(65_536 / frameBytes) + 1);
}

/** One turn of the event loop: a consumer slower than any producer that sends a batch per turn. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Kills a paused connection and waits for the client's next one. Reading nothing, the client
 * cannot see the reset; its next write fails, so it sends until it has reconnected.
 */
async function reconnectByWriting<C extends { readonly closed: Promise<number> }>(
  server: { readonly connections: { next(): Promise<C> } },
  killed: C,
  client: { send(message: string): void },
): Promise<C> {
  await killed.closed;
  let next: C | undefined;
  void server.connections.next().then((c) => (next = c));
  while (!next) {
    client.send('poke');
    await turn();
  }
  return next;
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Checks that each connection's messages arrive in order, without a gap. */
function orderChecker(): (m: FeedMessage) => void {
  const last = new Map<number, number>();
  return (m) => {
    const expected = (last.get(m.conn) ?? 0) + 1;
    if (m.seq !== expected) throw new Error(`connection ${m.conn}: got seq ${m.seq}, expected ${expected}`);
    last.set(m.conn, m.seq);
  };
}

describe('rxtether/node against a real ws server', () => {
  it('should pause the socket for a slow for-await consumer: the server backs up, memory stays bounded, all in order', async () => {
    const server = await feedServer();
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const paused: boolean[] = [];
    flow.paused$.subscribe((value) => paused.push(value));
    const bound = HIGH + slack(server.frameBytes);
    const inOrder = orderChecker();
    const messages$ = connect<FeedMessage>({ url: server.url, WebSocketCtor: WebSocket, paused: flow.paused$ });

    let peak = 0;
    let count = 0;
    let sentAtBlock: number | undefined;
    const next = server.connections.next();
    void next.then((c) => c.blocked.then((sent) => (sentAtBlock = sent)));
    for await (const m of flow.iterate(messages$)) {
      peak = Math.max(peak, flow.buffered + 1);
      expect(flow.buffered + 1).toBeLessThanOrEqual(bound);
      inOrder(m);
      count++;
      // Stop once the server backed up, the socket resumed, and what the server sent after
      // its write buffer drained arrived.
      if (sentAtBlock !== undefined && m.seq > sentAtBlock && paused.length >= 3) break;
      await turn();
    }
    const connection = await next;

    expect(connection.blocks()).toBeGreaterThanOrEqual(1); // the server saw the client stop reading
    expect(paused.slice(0, 3)).toEqual([false, true, false]); // paused, then resumed after a drain
    expect(peak).toBeGreaterThanOrEqual(HIGH);
    expect(peak).toBeLessThanOrEqual(bound);
    expect(count).toBeGreaterThan(sentAtBlock!); // in order, without a gap, up to the break
    // Breaking out of the loop closed the socket, with 1000.
    await expect(connection.closed).resolves.toBe(1000);
    expect(paused.at(-1)).toBe(false);
  });

  it('should pause the socket for a Readable piped into a slow Writable, and end it when the source completes', async () => {
    const server = await feedServer();
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const paused: boolean[] = [];
    flow.paused$.subscribe((value) => paused.push(value));
    const bound = HIGH + slack(server.frameBytes);
    const inOrder = orderChecker();
    let sentAtBlock: number | undefined;
    let peak = 0;
    let written = 0;
    const messages$ = connect<FeedMessage>({ url: server.url, WebSocketCtor: WebSocket, paused: flow.paused$ }).pipe(
      // The application's own end of stream: read on past the point where the server drained.
      takeWhile((m) => sentAtBlock === undefined || paused.length < 3 || m.seq <= sentAtBlock + 10),
    );
    const connection = server.connections.next();
    void connection.then((c) => c.blocked.then((sent) => (sentAtBlock = sent)));

    await pipeline(
      flow.readable(messages$),
      new Writable({
        objectMode: true,
        highWaterMark: 1,
        write(m: FeedMessage, _encoding, callback) {
          try {
            peak = Math.max(peak, flow.buffered + 1);
            expect(flow.buffered + 1).toBeLessThanOrEqual(bound);
            inOrder(m);
            written++;
            setImmediate(callback);
          } catch (error) {
            callback(error as Error);
          }
        },
      }),
    );

    const conn = await connection;
    expect(conn.blocks()).toBeGreaterThanOrEqual(1);
    expect(written).toBeGreaterThanOrEqual(sentAtBlock! + 10);
    expect(paused.slice(0, 3)).toEqual([false, true, false]);
    expect(peak).toBeLessThanOrEqual(bound);
    await expect(conn.closed).resolves.toBe(1000); // completion unsubscribed: the socket closed
  });

  it('should close the socket when the Readable is destroyed', async () => {
    const server = await feedServer();
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const readable = flow.readable(connect<FeedMessage>({ url: server.url, WebSocketCtor: WebSocket, paused: flow.paused$ }));
    const errors: unknown[] = [];
    readable.on('error', (error) => errors.push(error));
    await once(readable, 'data'); // flowing: the socket is open
    const conn = await server.connections.next();
    readable.destroy();
    await expect(conn.closed).resolves.toBe(1000);
    expect(errors).toEqual([]);
  });

  it('should deliver the messages before a server close, then throw its error from the loop (and destroy the Readable with it)', async () => {
    const server = await feedServer({ limit: 30 });
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const messages$ = connect<FeedMessage>({ url: server.url, WebSocketCtor: WebSocket, paused: flow.paused$ });
    const seqs: number[] = [];
    const loop = (async () => {
      for await (const m of flow.iterate(messages$)) {
        seqs.push(m.seq);
        if (m.seq === 30) (await server.connections.next()).socket.close(4001, 'bye');
      }
    })();
    const error = await loop.then(() => undefined, (e: unknown) => e);
    expect(isConnectionClosedError(error)).toBe(true);
    expect(error).toMatchObject({ code: 4001, reason: 'bye' });
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    const second = flow.readable(connect<FeedMessage>({ url: server.url, WebSocketCtor: WebSocket, paused: flow.paused$ }));
    const written: number[] = [];
    const done = pipeline(
      second,
      new Writable({
        objectMode: true,
        write(m: FeedMessage, _encoding, callback) {
          written.push(m.seq);
          if (m.seq === 30) server.connections.next().then((c) => c.socket.close(4002, 'again'));
          callback();
        },
      }),
    );
    await expect(done).rejects.toMatchObject({ name: 'ConnectionClosedError', code: 4002 });
    expect(written).toHaveLength(30);
    expect(second.destroyed).toBe(true);
  });

  it('should pause the socket of every reconnect through createSocket while the consumer is behind', async () => {
    const server = await feedServer();
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const bound = HIGH + slack(server.frameBytes);
    const sockets: WebSocket[] = [];
    const statuses: SocketStatus['state'][] = [];
    const client = createSocket<FeedMessage, string>({
      url: server.url,
      socketFactory: (url) => {
        const ws = new WebSocket(url);
        sockets.push(ws);
        return ws as unknown as WebSocketLike;
      },
      paused: flow.paused$,
      backoff: { initialDelay: 1, maxDelay: 1 },
    });
    defer(() => client.close());
    client.status$.subscribe((s) => statuses.push(s.state));

    const hold = gate();
    const inOrder = orderChecker();
    let peak = 0;
    const received: Array<[number, number]> = [];
    let stopAt = Infinity;
    const arrivals: number[] = []; // the connection of every message the client read
    const loop = (async () => {
      for await (const m of flow.iterate(client.messages$.pipe(tap((m) => arrivals.push(m.conn))))) {
        if (received.length === 0) await hold.opened; // hold the first message: fall behind
        peak = Math.max(peak, flow.buffered + 1);
        expect(flow.buffered + 1).toBeLessThanOrEqual(bound);
        inOrder(m);
        received.push([m.conn, m.seq]);
        if (m.conn === 2 && m.seq >= stopAt) break;
        await turn();
      }
    })();

    // Connection 1: the consumer holds, so the socket pauses and the server backs up.
    const first = await server.connections.next();
    await first.blocked;
    expect(sockets[0]!.isPaused).toBe(true);
    expect(flow.buffered).toBeGreaterThanOrEqual(HIGH);
    expect(flow.buffered).toBeLessThanOrEqual(bound);

    // The connection dies (RST) while paused: reading nothing, the client cannot see it, but
    // its next write fails, and it reconnects.
    first.tcp.resetAndDestroy();
    const conn2 = await reconnectByWriting(server, first, client);

    // Connection 2 opens while the consumer is still behind: paused at once, the server backs up.
    const sentAtBlock = await conn2.blocked;
    expect(sockets[1]!.isPaused).toBe(true);
    expect(arrivals.filter((conn) => conn === 2)).toEqual([]); // nothing of connection 2 was read
    stopAt = sentAtBlock + 10; // read past the drain: connection 2 resumed

    hold.open();
    await loop;
    expect(peak).toBeLessThanOrEqual(bound);
    expect(received.some(([conn]) => conn === 1)).toBe(true);
    expect(received.at(-1)).toEqual([2, sentAtBlock + 10]);
    // Connection 1's messages all came before connection 2's.
    const firstOf2 = received.findIndex(([conn]) => conn === 2);
    expect(received.slice(firstOf2).every(([conn]) => conn === 2)).toBe(true);
    expect(statuses).toContain('reconnecting');
    // The last subscriber left: createSocket closes its socket with 4000, never 1000/1001, so a
    // session survives. It terminates right after the frame while the feed still has bytes in
    // the client's receive queue, so the kernel resets the connection (RST), and the server's
    // kernel may drop the close frame before the server reads it: the server then sees 1006,
    // which keeps a session too.
    expect([4000, 1006]).toContain(await conn2.closed);
  });

  it('should read the session handshake of a reconnect before pausing, so that it does not time out', async () => {
    const server = await feedServer({ session: true });
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    // Each socket opened while the consumer is behind may add what it read with the ready
    // message before it paused: two sockets, two slacks.
    const bound = HIGH + 2 * slack(server.frameBytes);
    const sockets: WebSocket[] = [];
    const statuses: SocketStatus['state'][] = [];
    const client = createSocket<FeedMessage & { type?: string }, string>({
      url: server.url,
      socketFactory: (url) => {
        const ws = new WebSocket(url);
        sockets.push(ws);
        return ws as unknown as WebSocketLike;
      },
      session: { hello: () => ['hello'], isReady: (m) => m.type === 'ready', timeout: 5_000 },
      paused: flow.paused$,
      backoff: { initialDelay: 1, maxDelay: 1 },
    });
    defer(() => client.close());
    let reconnects = 0;
    client.status$.subscribe((s) => {
      if (s.state !== statuses.at(-1)) statuses.push(s.state);
      reconnects = s.reconnects;
    });
    const hold = gate();
    const inOrder = orderChecker();
    const arrivals: number[] = [];
    let count = 0;
    let stopAt = Infinity;
    const loop = (async () => {
      for await (const m of flow.iterate(client.messages$.pipe(tap((m) => m.type ?? arrivals.push(m.conn))))) {
        if (count === 0) await hold.opened;
        expect(flow.buffered + 1).toBeLessThanOrEqual(bound);
        if (m.type === 'ready') continue; // createSocket passes the ready message on
        inOrder(m);
        count++;
        if (m.conn === 2 && m.seq >= stopAt) break;
        await turn();
      }
    })();

    const first = await server.connections.next();
    await first.blocked;
    first.tcp.resetAndDestroy();
    const conn2 = await reconnectByWriting(server, first, client);
    // The consumer is still behind, yet the new socket reads the ready message, then pauses.
    const sentAtBlock = await conn2.blocked;
    expect(sockets[1]!.isPaused).toBe(true);
    expect(statuses.filter((s) => s === 'open')).toHaveLength(2);
    expect(arrivals.filter((conn) => conn === 2).length).toBeLessThanOrEqual(slack(server.frameBytes));
    stopAt = sentAtBlock + 10;
    hold.open();
    await loop;
    expect(reconnects).toBe(1); // no session timeout
  });

  it('should not count silence against the ping deadline while paused (connect ping)', async () => {
    const server = await feedServer();
    const scheduler = new VirtualTimeScheduler();
    const advance = (ms: number): void => {
      scheduler.maxFrames = scheduler.frame + ms;
      scheduler.flush();
    };
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const messages$ = connect<FeedMessage>({
      url: server.url,
      WebSocketCtor: WebSocket,
      paused: flow.paused$,
      ping: { interval: 100, timeout: 100 },
      scheduler,
    });
    const hold = gate();
    const inOrder = orderChecker();
    let stopAt = Infinity;
    let count = 0;
    const loop = (async () => {
      for await (const m of flow.iterate(messages$)) {
        if (count === 0) await hold.opened;
        inOrder(m);
        count++;
        if (m.seq >= stopAt) break;
        await turn();
      }
    })();
    const conn = await server.connections.next();
    const sentAtBlock = await conn.blocked; // the consumer holds: paused
    // Ten deadlines pass while paused; no pong can be read, and none is expected.
    advance(2_000);
    stopAt = sentAtBlock + 10;
    hold.open();
    await loop; // a HeartbeatTimeoutError would have ended the loop with it
    expect(count).toBe(sentAtBlock + 10);
    await expect(conn.closed).resolves.toBe(1000);
  });

  /**
   * A feed server and a createSocket client with a 100 ms heartbeat in virtual time, paused by
   * a backpressure controller; `advance(ms)` moves virtual time, `statuses` logs status$.
   */
  async function pausedHeartbeatClient() {
    const server = await feedServer();
    const scheduler = new VirtualTimeScheduler();
    const advance = (ms: number): void => {
      scheduler.maxFrames = scheduler.frame + ms;
      scheduler.flush();
    };
    const flow = createBackpressure({ highWaterMark: HIGH, lowWaterMark: LOW });
    const statuses: SocketStatus['state'][] = [];
    const client = createSocket<FeedMessage>({
      url: server.url,
      WebSocketCtor: WebSocket,
      paused: flow.paused$,
      heartbeat: { timeout: 100 },
      scheduler,
      // Jitter pinned: a retry after a timeout waits 500 ms, past what the tests advance (with
      // Math.random, a draw under 0.1 reconnected within them: 'connecting' came last).
      random: () => 0.5,
    });
    defer(() => client.close());
    client.status$.subscribe((s) => statuses.push(s.state));
    return { server, advance, flow, client, statuses };
  }

  it('should not count silence against the createSocket heartbeat while paused', async () => {
    const { server, advance, flow, client, statuses } = await pausedHeartbeatClient();
    const hold = gate();
    const inOrder = orderChecker();
    let stopAt = Infinity;
    let count = 0;
    const loop = (async () => {
      for await (const m of flow.iterate(client.messages$)) {
        if (count === 0) await hold.opened;
        inOrder(m);
        count++;
        if (m.seq >= stopAt) break;
        await turn();
      }
    })();
    const conn = await server.connections.next();
    const sentAtBlock = await conn.blocked;
    advance(2_000); // twenty heartbeat deadlines while paused
    expect(statuses).not.toContain('reconnecting');
    stopAt = sentAtBlock + 10;
    hold.open();
    await loop;
    expect(count).toBe(sentAtBlock + 10);
    expect(statuses).not.toContain('reconnecting');
  });

  it('should count silence against the createSocket heartbeat again once resumed', async () => {
    const { server, advance, flow, client, statuses } = await pausedHeartbeatClient();
    const hold = gate();
    const drained = gate();
    let target = Infinity;
    let count = 0;
    const loop = (async () => {
      for await (const m of flow.iterate(client.messages$)) {
        if (count === 0) await hold.opened;
        count++;
        if (m.conn === 1 && m.seq >= target) drained.open();
        await turn();
      }
    })();
    const conn = await server.connections.next();
    await conn.blocked; // paused
    conn.stop(); // the feed goes silent; what it sent is still on its way
    target = conn.sent();
    hold.open();
    await drained.opened; // resumed and read everything
    expect(statuses).not.toContain('reconnecting');
    advance(200);
    expect(statuses.at(-1)).toBe('reconnecting'); // the silence after the resume counted
    client.close();
    await loop;
  });
});
