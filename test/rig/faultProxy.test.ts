import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { type RawData, WebSocket } from 'ws';
import { useDisposer } from '../helpers/dispose.js';
import { type FaultProxy, type ProxyConnection, startFaultProxy } from '../helpers/faultProxy.js';
import { AsyncQueue } from '../helpers/queue.js';
import { type ServerConnection, type TestServer, startServer } from '../helpers/server.js';

const defer = useDisposer();

interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A raw `ws` client whose every event lands in a queue or a promise. */
interface RawClient {
  readonly ws: WebSocket;
  readonly messages: AsyncQueue<string>;
  readonly pongs: AsyncQueue<string>;
  readonly opened: Promise<void>;
  /** Resolves with the first `error` event. */
  readonly failed: Promise<Error & { code?: string }>;
  readonly closed: Promise<CloseInfo>;
}

function rawClient(url: string): RawClient {
  const ws = new WebSocket(url);
  defer(() => ws.terminate());
  const messages = new AsyncQueue<string>();
  const pongs = new AsyncQueue<string>();
  ws.on('message', (data: RawData) => messages.push(String(data)));
  ws.on('pong', (data: Buffer) => pongs.push(data.toString()));
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const failed = new Promise<Error & { code?: string }>((resolve) => ws.on('error', resolve));
  const closed = new Promise<CloseInfo>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  return { ws, messages, pongs, opened, failed, closed };
}

interface Rig {
  readonly server: TestServer;
  readonly proxy: FaultProxy;
}

async function rig(): Promise<Rig> {
  const server = await startServer();
  defer(() => server.close());
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } });
  defer(() => proxy.close());
  return { server, proxy };
}

interface Linked {
  readonly client: RawClient;
  readonly conn: ServerConnection;
  readonly relay: ProxyConnection;
}

/** A client connected to the server through the proxy. */
async function link({ server, proxy }: Rig): Promise<Linked> {
  const client = rawClient(proxy.url);
  await client.opened;
  const [conn, relay] = await Promise.all([server.connections.next(), proxy.connectionsQueue.next()]);
  return { client, conn, relay };
}

/** Bytes of an unmasked (server → client) text frame with a short payload. */
const serverFrame = (text: string): number => 2 + Buffer.byteLength(text);
/** Bytes of a masked (client → server) frame with a short payload. */
const clientFrame = (payload: string): number => 6 + Buffer.byteLength(payload);

describe('fault proxy', () => {
  it('should relay both ways in pass mode and count connections', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    expect(r.proxy.url).toBe(`ws://127.0.0.1:${r.proxy.port}`);
    expect(r.proxy.mode('up')).toEqual({ kind: 'pass' });
    expect(relay.id).toBe(1);
    expect([r.proxy.connections(), r.proxy.active()]).toEqual([1, 1]);

    client.ws.send('up');
    expect(await conn.messages.next()).toBe('up');
    conn.socket.send('down');
    expect(await client.messages.next()).toBe('down');
    expect(relay.bytes('up', 'forwarded')).toBe(relay.bytes('up', 'received'));
    expect(relay.bytes('down', 'discarded')).toBe(0);

    client.ws.close(1000, 'bye');
    expect(await conn.closed).toEqual({ code: 1000, reason: 'bye' });
    expect(await client.closed).toEqual({ code: 1000, reason: 'bye' });
    await relay.closed;
    expect([r.proxy.connections(), r.proxy.active()]).toEqual([1, 0]);
  });

  it('should delay each chunk by the latency and never reorder, even when switched back to pass', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    r.proxy.latency(40, 'down');
    const start = performance.now();
    for (const text of ['a', 'b', 'c']) conn.socket.send(text);
    expect(await client.messages.next()).toBe('a');
    expect(performance.now() - start).toBeGreaterThanOrEqual(38);
    expect([await client.messages.next(), await client.messages.next()]).toEqual(['b', 'c']);

    // 'd' is read under latency; 'e' is read after the switch to pass and must not overtake it.
    const before = relay.bytes('down', 'received');
    conn.socket.send('d');
    await relay.waitForBytes('down', 'received', before + serverFrame('d'));
    r.proxy.pass('down');
    conn.socket.send('e');
    expect([await client.messages.next(), await client.messages.next()]).toEqual(['d', 'e']);

    // The other direction was never delayed.
    expect(r.proxy.mode('up')).toEqual({ kind: 'pass' });
  });

  it('should blackhole: discard every byte while both TCP connections stay open', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    r.proxy.blackhole();

    client.ws.ping('a');
    await relay.waitForBytes('up', 'discarded', clientFrame('a'));
    conn.socket.send('x');
    await relay.waitForBytes('down', 'discarded', serverFrame('x'));

    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(conn.socket.readyState).toBe(WebSocket.OPEN);
    expect(relay.isClosed()).toBe(false);
    expect(r.proxy.active()).toBe(1);

    // Back to pass: the next ping gets its pong, and it is the only pong and nothing else came.
    r.proxy.pass();
    client.ws.ping('b');
    expect(await client.pongs.next()).toBe('b');
    expect(client.pongs.size).toBe(0);
    expect(client.messages.size).toBe(0);
    expect(conn.messages.size).toBe(0);
  });

  it('should reset both sides with a RST: 1006 at once, no close frame', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    r.proxy.reset();
    // Without a RST, ws would wait for its 30 s close timer and the test would time out.
    expect(await client.closed).toEqual({ code: 1006, reason: '' });
    expect(await conn.closed).toEqual({ code: 1006, reason: '' });
    await relay.closed;
    expect(r.proxy.active()).toBe(0);
  });

  it('should end both sides with a FIN after the bytes already read: 1006, burst delivered', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    const before = relay.bytes('down', 'received'); // the 101 response
    for (const text of ['1', '2', '3']) conn.socket.send(text);
    await relay.waitForBytes('down', 'received', before + 3 * serverFrame('1'));
    r.proxy.end();
    expect(await client.closed).toEqual({ code: 1006, reason: '' });
    expect([client.messages.size, await client.messages.next()]).toEqual([3, '1']);
    expect([await client.messages.next(), await client.messages.next()]).toEqual(['2', '3']);
    expect(await conn.closed).toEqual({ code: 1006, reason: '' });
    await relay.closed;
  });

  it('should refuse connections while down and accept them again on the same port after up', async () => {
    const r = await rig();
    const { client } = await link(r);
    await r.proxy.down();
    expect(r.proxy.isUp()).toBe(false);
    expect((await client.closed).code).toBe(1006);
    expect(r.proxy.active()).toBe(0);

    const refused = rawClient(r.proxy.url);
    expect((await refused.failed).code).toBe('ECONNREFUSED');
    expect((await refused.closed).code).toBe(1006);

    await r.proxy.up();
    expect(r.proxy.isUp()).toBe(true);
    const again = await link(r);
    expect(again.relay.client.localPort).toBe(r.proxy.port);
    again.client.ws.send('back');
    expect(await again.conn.messages.next()).toBe('back');
    expect(r.proxy.connections()).toBe(2);
  });

  it('should limit a direction to a byte budget, then discard the rest and keep the connection', async () => {
    const r = await rig();
    const { client, conn, relay } = await link(r);
    const forwarded = relay.bytes('down', 'forwarded');
    r.proxy.limit(serverFrame('first') + 2, 'down');
    conn.socket.send('first');
    conn.socket.send('second');
    expect(await client.messages.next()).toBe('first');
    await relay.waitForBytes('down', 'discarded', serverFrame('second') - 2);
    expect(relay.bytes('down', 'forwarded') - forwarded).toBe(serverFrame('first') + 2);

    // 'up' is not limited; the connection is still open on both sides.
    client.ws.send('still up');
    expect(await conn.messages.next()).toBe('still up');
    expect(client.messages.size).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("should limit a direction to a byte budget, then end the connection with then: 'end'", async () => {
    const r = await rig();
    const { client, conn } = await link(r);
    r.proxy.limit(serverFrame('first') + 2, 'down', 'end');
    expect(r.proxy.mode('down')).toEqual({ kind: 'limit', bytes: 9, then: 'end' });
    conn.socket.send('first');
    conn.socket.send('second');
    expect(await client.closed).toEqual({ code: 1006, reason: '' });
    expect(client.messages.size).toBe(1);
    expect(await client.messages.next()).toBe('first');
    expect((await conn.closed).code).toBe(1006);
  });

  it('should count the budget per connection, from its first byte for a new one (the 101 included)', async () => {
    const r = await rig();
    const first = await link(r);
    const handshake = first.relay.bytes('down', 'forwarded');
    r.proxy.limit(handshake + serverFrame('one'), 'down');
    const { client, conn, relay } = await link(r);
    expect(relay.bytes('down', 'forwarded')).toBe(handshake);
    conn.socket.send('one');
    expect(await client.messages.next()).toBe('one');
    conn.socket.send('two');
    await relay.waitForBytes('down', 'discarded', serverFrame('two'));
    expect(client.messages.size).toBe(0);
    // The connection that was open when limit() was called got its own, fresh budget.
    first.conn.socket.send('x'.repeat(handshake));
    expect(await first.client.messages.next()).toBe('x'.repeat(handshake));
    expect([r.proxy.connections(), r.proxy.active()]).toEqual([2, 2]);
  });

  it('should reject invalid latency and limit values', async () => {
    const r = await rig();
    expect(() => r.proxy.latency(-1)).toThrow(RangeError);
    expect(() => r.proxy.limit(1.5)).toThrow(RangeError);
  });
});
