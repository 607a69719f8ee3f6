import { type SchedulerLike, asyncScheduler, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type SocketEvent, type SocketStatus, createSocket, isOutboxOverflowError } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { startServer } from '../helpers/server.js';

const defer = useDisposer();

interface Msg {
  readonly n: number;
  readonly pad?: string;
}

function client(url: string, outbox: Parameters<typeof createSocket<unknown, Msg>>[0]['outbox'], scheduler?: SchedulerLike) {
  const socket = createSocket<unknown, Msg>({
    url,
    WebSocketCtor: WebSocket,
    ...(outbox ? { outbox } : {}),
    ...(scheduler ? { scheduler } : {}),
  });
  defer(() => socket.close());
  const events: SocketEvent<Msg>[] = [];
  socket.events$.subscribe((e) => events.push(e));
  let last: SocketStatus | undefined;
  socket.status$.subscribe((st) => {
    last = st;
  });
  return { socket, events, status: () => last! };
}

async function received(conn: { messages: { next(): Promise<string | Buffer> } }, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((JSON.parse(String(await conn.messages.next())) as Msg).n);
  return out;
}

describe('createSocket outbox', () => {
  it("should drop the oldest message when full with 'drop-oldest', report it, and flush the rest in order", async () => {
    const s = await startServer();
    defer(() => s.close());
    const { socket, events, status } = client(s.url, { maxMessages: 2 });
    for (let n = 1; n <= 4; n++) socket.send({ n });
    expect(events).toEqual([
      { type: 'dropped', message: { n: 1 }, reason: 'overflow' },
      { type: 'dropped', message: { n: 2 }, reason: 'overflow' },
    ]);
    expect(status()).toMatchObject({ buffered: 2, dropped: 2 });
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const conn = await s.connections.next();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open')));
    socket.send({ n: 5 });
    expect(await received(conn, 3)).toEqual([3, 4, 5]);
  });

  it("should drop the new message when full with 'drop-newest'", async () => {
    const s = await startServer();
    defer(() => s.close());
    const { socket, events } = client(s.url, { maxMessages: 2, overflow: 'drop-newest' });
    for (let n = 1; n <= 3; n++) socket.send({ n });
    expect(events).toEqual([{ type: 'dropped', message: { n: 3 }, reason: 'overflow' }]);
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    expect(await received(await s.connections.next(), 2)).toEqual([1, 2]);
  });

  it("should throw OutboxOverflowError from send() with 'error' and keep what it holds", async () => {
    const s = await startServer();
    defer(() => s.close());
    const { socket, events, status } = client(s.url, { maxMessages: 2, overflow: 'error' });
    socket.send({ n: 1 });
    socket.send({ n: 2 });
    let thrown: unknown;
    try {
      socket.send({ n: 3 });
    } catch (e) {
      thrown = e;
    }
    expect(isOutboxOverflowError(thrown)).toBe(true);
    expect((thrown as { rejected: unknown }).rejected).toEqual({ n: 3 });
    expect(events).toEqual([]);
    expect(status()).toMatchObject({ buffered: 2, dropped: 0 });
  });

  it('should bound the outbox by bytes of the serialized message', () => {
    const { socket, events, status } = client('ws://127.0.0.1:9', { maxBytes: 40 });
    socket.send({ n: 1, pad: 'x'.repeat(10) }); // {"n":1,"pad":"xxxxxxxxxx"} = 26 bytes
    socket.send({ n: 2, pad: 'x'.repeat(10) }); // 52 > 40: the oldest goes
    expect(events).toEqual([{ type: 'dropped', message: { n: 1, pad: 'x'.repeat(10) }, reason: 'overflow' }]);
    socket.send({ n: 3, pad: 'é'.repeat(30) }); // 76 bytes in UTF-8 (46 UTF-16 units): larger than the bound
    expect(events.at(-1)).toMatchObject({ type: 'dropped', message: { n: 3 }, reason: 'overflow' });
    expect(events).toHaveLength(2); // the oversize message evicted nothing
    expect(status()).toMatchObject({ buffered: 1, dropped: 2 });
  });

  it('should count characters outside the BMP (emoji) as 4 UTF-8 bytes, not more', () => {
    // {"n":1,"pad":"😀😀😀😀😀"} is 14 + 5 × 4 + 2 = 36 bytes; counting each emoji as 5 would give 41.
    const { socket, events, status } = client('ws://127.0.0.1:9', { maxBytes: 38 });
    socket.send({ n: 1, pad: '😀'.repeat(5) });
    expect(new TextEncoder().encode(JSON.stringify({ n: 1, pad: '😀'.repeat(5) })).length).toBe(36);
    expect(events).toEqual([]);
    expect(status()).toMatchObject({ buffered: 1 });
  });

  it('should expire messages older than ttl instead of sending them', async () => {
    const s = await startServer();
    defer(() => s.close());
    let skew = 0;
    const clock: SchedulerLike = { now: () => asyncScheduler.now() + skew, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const { socket, events } = client(s.url, { ttl: 1000 }, clock);
    socket.send({ n: 1 });
    skew += 600;
    socket.send({ n: 2 });
    skew += 600; // n:1 is now 1200 ms old, n:2 600 ms
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const conn = await s.connections.next();
    expect(await received(conn, 1)).toEqual([2]);
    expect(events).toEqual([{ type: 'dropped', message: { n: 1 }, reason: 'expired' }]);
  });

  it('should report every held message as dropped when closed', async () => {
    const { socket, events } = client('ws://127.0.0.1:9', {});
    socket.send({ n: 1 });
    socket.send({ n: 2 });
    socket.close();
    expect(events).toEqual([
      { type: 'dropped', message: { n: 1 }, reason: 'closed' },
      { type: 'dropped', message: { n: 2 }, reason: 'closed' },
    ]);
  });

  it('should reject invalid outbox options at creation', () => {
    expect(() => createSocket({ url: 'ws://x', outbox: { maxMessages: -1 } })).toThrow(/outbox.maxMessages/);
    expect(() => createSocket({ url: 'ws://x', outbox: { ttl: 0 } })).toThrow(/outbox.ttl/);
    expect(() => createSocket({ url: 'ws://x', outbox: { overflow: 'drop' as 'error' } })).toThrow(/outbox.overflow/);
    expect(() => createSocket({ url: 'ws://x', linger: Number.NaN })).toThrow(RangeError);
    expect(() => createSocket({ url: 'ws://x', linger: Number.NaN })).toThrow(/linger/);
  });

  it('should send at once, not buffer, when open', async () => {
    const s = await startServer();
    defer(() => s.close());
    const { socket, status } = client(s.url, {});
    const o = observe(socket.messages$);
    defer(() => o.subscription.unsubscribe());
    const conn = await s.connections.next();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open')));
    socket.send({ n: 7 });
    expect(status()).toMatchObject({ buffered: 0 });
    expect(await received(conn, 1)).toEqual([7]);
  });
});
