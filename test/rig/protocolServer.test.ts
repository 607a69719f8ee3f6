import { describe, expect, it } from 'vitest';
import { type RawData, WebSocket } from 'ws';
import { useDisposer } from '../helpers/dispose.js';
import {
  type ClientFrame,
  type CloseInfo,
  type MsgFrame,
  type ProtocolServer,
  type ProtocolServerOptions,
  type ReadyFrame,
  type ServerFrame,
  startProtocolServer,
} from '../helpers/protocolServer.js';
import { AsyncQueue } from '../helpers/queue.js';

const defer = useDisposer();

async function server(options?: ProtocolServerOptions): Promise<ProtocolServer> {
  const s = await startProtocolServer(options);
  defer(() => s.close());
  return s;
}

/** A raw `ws` client speaking the protocol; every event lands in a queue. */
interface Client {
  readonly ws: WebSocket;
  readonly frames: AsyncQueue<ServerFrame>;
  /** Every frame type and ws-level pong, in arrival order. */
  readonly log: string[];
  readonly opened: Promise<void>;
  readonly failed: Promise<Error & { code?: string }>;
  readonly closed: Promise<CloseInfo>;
  send(frame: ClientFrame | string): void;
  next(): Promise<ServerFrame>;
}

function client(url: string): Client {
  const ws = new WebSocket(url);
  defer(() => ws.terminate());
  const frames = new AsyncQueue<ServerFrame>();
  const log: string[] = [];
  ws.on('message', (data: RawData) => {
    const frame = JSON.parse(String(data)) as ServerFrame;
    log.push(frame.type === 'msg' ? `msg:${frame.channel}:${frame.seq}` : frame.type);
    frames.push(frame);
  });
  ws.on('pong', (data: Buffer) => log.push(`wspong:${data.toString()}`));
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const failed = new Promise<Error & { code?: string }>((resolve) => ws.on('error', resolve));
  const closed = new Promise<CloseInfo>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  return {
    ws,
    frames,
    log,
    opened,
    failed,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next: () => frames.next(),
  };
}

/** Connects, waits for open, and returns the client with its server-side connection. */
async function connected(s: ProtocolServer) {
  const c = client(s.url);
  await c.opened;
  return { c, conn: await s.connections.next() };
}

/** Sends `hello` and returns the `ready`. */
async function hello(c: Client, frame: Omit<Extract<ClientFrame, { type: 'hello' }>, 'type'> = {}): Promise<ReadyFrame> {
  c.send({ type: 'hello', ...frame });
  const ready = await c.next();
  if (ready.type !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
  return ready;
}

/** Sends a protocol ping as a marker and returns every frame that arrived before its pong. */
async function untilPong(c: Client): Promise<ServerFrame[]> {
  c.send({ type: 'ping' });
  const before: ServerFrame[] = [];
  for (let frame = await c.next(); frame.type !== 'pong'; frame = await c.next()) before.push(frame);
  return before;
}

const msg = (channel: string, seq: number, gseq: number, data: unknown, epoch = 1): MsgFrame => ({
  type: 'msg',
  channel,
  seq,
  gseq,
  epoch,
  data,
});

describe('protocol server', () => {
  it('should answer hello with ready and ignore (but record) frames sent before it', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    c.send({ type: 'subscribe', channel: 'a' });
    c.send({ type: 'ping' });
    const ready = await hello(c);
    expect(ready).toEqual({ type: 'ready', session: expect.any(String), epoch: 1, resumed: false });
    expect(await untilPong(c)).toEqual([]);
    expect(conn.premature.map((f) => f.type)).toEqual(['subscribe', 'ping']);
    expect(conn.received.map((f) => f.type)).toEqual(['subscribe', 'ping', 'hello', 'ping']);
    expect(conn.session()).toBe(ready.session);
    expect(conn.subscriptions()).toEqual(new Set());
    expect(s.accepted()).toBe(1);
  });

  it('should close with prematureClose on a frame before hello, and serve frames at once without requireHello', async () => {
    const strict = await server({ prematureClose: 4401 });
    const { c } = await connected(strict);
    c.send({ type: 'subscribe', channel: 'a' });
    expect(await c.closed).toEqual({ code: 4401, reason: 'hello required' });

    const lax = await server({ requireHello: false });
    const other = await connected(lax);
    other.c.send({ type: 'subscribe', channel: 'a' });
    expect(await other.c.next()).toEqual({ type: 'subscribed', channel: 'a' });
  });

  it('should number msgs per channel (seq) and across channels (gseq), only to subscribers', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    await hello(c);
    c.send({ type: 'subscribe', channel: 'a' });
    c.send({ type: 'subscribe', channel: 'b' });
    expect([await c.next(), await c.next()]).toEqual([
      { type: 'subscribed', channel: 'a' },
      { type: 'subscribed', channel: 'b' },
    ]);
    expect(s.publish('a', 'a1')).toEqual(msg('a', 1, 1, 'a1'));
    s.publish('b', 'b1');
    s.publish('a', 'a2');
    expect([await c.next(), await c.next(), await c.next()]).toEqual([
      msg('a', 1, 1, 'a1'),
      msg('b', 1, 2, 'b1'),
      msg('a', 2, 3, 'a2'),
    ]);
    expect([conn.subscribeCount('a'), conn.subscribeCount(), s.activeSubscriptions()]).toEqual([1, 2, 2]);

    c.send({ type: 'unsubscribe', channel: 'b' });
    expect(await untilPong(c)).toEqual([]);
    s.publish('b', 'b2');
    expect(await untilPong(c)).toEqual([]);
    expect(conn.subscriptions()).toEqual(new Set(['a']));
    expect(s.activeSubscriptions()).toBe(1);
    expect(s.history('b').map((m) => m.seq)).toEqual([1, 2]);
    expect(s.history().map((m) => m.gseq)).toEqual([1, 2, 3, 4]);
  });

  it('should replay exactly the missing messages of a channel on subscribe after (channel resume)', async () => {
    const s = await server();
    const first = await connected(s);
    const { session } = await hello(first.c);
    first.c.send({ type: 'subscribe', channel: 'a' });
    await first.c.next();
    for (const n of [1, 2, 3]) s.publish('a', n);
    for (let i = 0; i < 3; i++) await first.c.next();
    first.c.ws.terminate();
    await first.conn.closed;

    s.publish('a', 4);
    s.publish('b', 'other');
    s.publish('a', 5);
    const { c } = await connected(s);
    expect(await hello(c, { session })).toEqual({ type: 'ready', session, epoch: 1, resumed: true });
    c.send({ type: 'subscribe', channel: 'a', after: 3 });
    expect(await untilPong(c)).toEqual([{ type: 'subscribed', channel: 'a' }, msg('a', 4, 4, 4), msg('a', 5, 6, 5)]);
    s.publish('a', 6);
    expect(await c.next()).toEqual(msg('a', 6, 7, 6));
  });

  it('should replay nothing when the channel history no longer covers subscribe after', async () => {
    const s = await server({ historyLimit: 2 });
    for (const n of [1, 2, 3]) s.publish('a', n);
    expect(s.history('a').map((m) => m.seq)).toEqual([2, 3]);
    const { c } = await connected(s);
    await hello(c);
    c.send({ type: 'subscribe', channel: 'a', after: 0 });
    expect(await untilPong(c)).toEqual([{ type: 'subscribed', channel: 'a' }]);
    c.send({ type: 'subscribe', channel: 'a', after: 1 });
    expect(await untilPong(c)).toEqual([{ type: 'subscribed', channel: 'a' }, msg('a', 2, 2, 2), msg('a', 3, 3, 3)]);
  });

  it("should restore subscriptions and replay in gseq order on hello with resume: 'connection'", async () => {
    const s = await server({ resume: 'connection' });
    const first = await connected(s);
    const { session } = await hello(first.c);
    first.c.send({ type: 'subscribe', channel: 'a' });
    first.c.send({ type: 'subscribe', channel: 'b' });
    expect(await untilPong(first.c)).toHaveLength(2);
    s.publish('a', 'a1');
    s.publish('b', 'b1');
    expect(await untilPong(first.c)).toEqual([msg('a', 1, 1, 'a1'), msg('b', 1, 2, 'b1')]);
    first.c.ws.terminate();
    await first.conn.closed;

    s.publish('a', 'a2');
    s.publish('c', 'c1');
    s.publish('b', 'b2');
    const { c, conn } = await connected(s);
    expect(await hello(c, { session, after: 2 })).toEqual({ type: 'ready', session, epoch: 1, resumed: true });
    expect(await untilPong(c)).toEqual([msg('a', 2, 3, 'a2'), msg('b', 2, 5, 'b2')]);
    expect(conn.subscriptions()).toEqual(new Set(['a', 'b']));
    c.send({ type: 'subscribe', channel: 'a', after: 0 });
    expect(await untilPong(c)).toEqual([{ type: 'subscribed', channel: 'a' }]);
    s.publish('b', 'b3');
    expect(await c.next()).toEqual(msg('b', 3, 6, 'b3'));
  });

  it('should refuse a resume with resumed: false and a new epoch when history expired or the session is unknown', async () => {
    const s = await server();
    const first = await connected(s);
    const { session } = await hello(first.c);
    for (const n of [1, 2, 3]) s.publish('a', n);
    s.expireHistory();
    expect(s.history()).toEqual([]);

    const second = await connected(s);
    const refused = await hello(second.c, { session, after: 1 });
    expect(refused).toEqual({ type: 'ready', session: expect.any(String), epoch: 2, resumed: false });
    expect(refused.session).not.toBe(session);
    expect(s.epoch()).toBe(2);
    second.c.send({ type: 'subscribe', channel: 'a' });
    await second.c.next();
    s.publish('a', 'fresh');
    expect(await second.c.next()).toEqual(msg('a', 1, 1, 'fresh', 2));

    const third = await connected(s);
    expect(await hello(third.c, { session: 'unknown' })).toMatchObject({ epoch: 3, resumed: false });
    // A hello without a session never changes the epoch.
    const fourth = await connected(s);
    expect(await hello(fourth.c)).toMatchObject({ epoch: 3, resumed: false });
  });

  it('should restart sequences and forget sessions on newEpoch', async () => {
    const s = await server();
    const { c } = await connected(s);
    const { session } = await hello(c);
    c.send({ type: 'subscribe', channel: 'a' });
    await c.next();
    s.publish('a', 1);
    expect(await c.next()).toEqual(msg('a', 1, 1, 1));
    expect(s.newEpoch()).toBe(2);
    s.publish('a', 2);
    expect(await c.next()).toEqual(msg('a', 1, 1, 2, 2));
    const other = await connected(s);
    expect(await hello(other.c, { session })).toMatchObject({ epoch: 3, resumed: false });
  });

  it('should reject channels given in options or by rejectChannel, and allow them again', async () => {
    const s = await server({ rejectChannels: ['x'] });
    s.rejectChannel('y', 'forbidden');
    const { c, conn } = await connected(s);
    await hello(c);
    c.send({ type: 'subscribe', channel: 'x' });
    c.send({ type: 'subscribe', channel: 'y' });
    expect([await c.next(), await c.next()]).toEqual([
      { type: 'rejected', channel: 'x', reason: 'rejected' },
      { type: 'rejected', channel: 'y', reason: 'forbidden' },
    ]);
    expect(conn.subscriptions()).toEqual(new Set());
    expect(conn.subscribeCount()).toBe(2);
    s.allowChannel('y');
    c.send({ type: 'subscribe', channel: 'y' });
    expect(await c.next()).toEqual({ type: 'subscribed', channel: 'y' });
  });

  it('should ack publishes, withhold acks while paused, and record every id with duplicates', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    await hello(c);
    c.send({ type: 'publish', id: 'p1', channel: 'a', data: 1 });
    expect(await c.next()).toEqual({ type: 'ack', id: 'p1' });
    s.pauseAcks();
    c.send({ type: 'publish', id: 'p2', channel: 'a', data: 2 });
    c.send({ type: 'publish', id: 'p1', channel: 'a', data: 1 });
    expect(await untilPong(c)).toEqual([]);
    s.resumeAcks();
    expect([await c.next(), await c.next()]).toEqual([
      { type: 'ack', id: 'p2' },
      { type: 'ack', id: 'p1' },
    ]);
    expect(conn.publishIds).toEqual(['p1', 'p2', 'p1']);
    expect(s.receivedPublishIds()).toEqual(['p1', 'p2', 'p1']);
    expect(s.duplicatePublishIds()).toEqual(['p1']);
    expect(s.history()).toEqual([]);
  });

  it('should never ack with ack: false, and relay publishes with relayPublishes', async () => {
    const s = await server({ ack: false, relayPublishes: true });
    const { c } = await connected(s);
    await hello(c);
    c.send({ type: 'subscribe', channel: 'a' });
    c.send({ type: 'publish', id: 'p1', channel: 'a', data: 'hi' });
    expect(await untilPong(c)).toEqual([{ type: 'subscribed', channel: 'a' }, msg('a', 1, 1, 'hi')]);
    expect(s.receivedPublishIds()).toEqual(['p1']);
  });

  it('should send the reconnect control message, with retryAfter only when given', async () => {
    const s = await server();
    const { c } = await connected(s);
    await hello(c);
    s.requestReconnect();
    s.requestReconnect({ retryAfter: 250 });
    expect([await c.next(), await c.next()]).toEqual([
      { type: 'reconnect' },
      { type: 'reconnect', retryAfter: 250 },
    ]);
  });

  it('should record malformed frames and keep serving', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    c.send('not json');
    c.send('{"type":"subscribe"}');
    c.ws.send(Buffer.from([1, 2, 3]));
    await hello(c);
    expect(conn.invalid).toEqual(['not json', '{"type":"subscribe"}', '<binary 3 bytes>']);
    conn.sendRaw('{"type":"custom"}');
    conn.send({ type: 'pong' });
    expect([await c.next(), await c.next()]).toEqual([{ type: 'custom' }, { type: 'pong' }]);
  });

  it('should hold all output while frozen (no pongs at either level) and flush it in order on thaw', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    await hello(c);
    c.send({ type: 'subscribe', channel: 'a' });
    await c.next();
    s.freeze();
    s.publish('a', 1);
    s.publish('a', 2);
    s.requestReconnect();
    expect(conn.held()).toBe(3);
    expect(conn.sent.map((f) => f.type)).toEqual(['ready', 'subscribed']);
    c.send({ type: 'ping' });
    c.ws.ping('p');
    expect(c.log).toEqual(['ready', 'subscribed']);

    s.thaw();
    expect(conn.held()).toBe(0);
    expect(await c.next()).toEqual(msg('a', 1, 1, 1));
    expect(await c.next()).toEqual(msg('a', 2, 2, 2));
    expect(await c.next()).toEqual({ type: 'reconnect' });
    expect(await c.next()).toEqual({ type: 'pong' });
    expect(await untilPong(c)).toEqual([]);
    expect(c.log).toEqual(['ready', 'subscribed', 'msg:a:1', 'msg:a:2', 'reconnect', 'pong', 'wspong:p', 'pong']);
  });

  it('should hold new handshakes while frozen and complete them on thaw', async () => {
    const s = await server();
    await connected(s);
    await s.upgrades.next();
    s.freeze();
    const late = client(s.url);
    await s.upgrades.next();
    expect([s.heldHandshakes(), s.accepted(), late.ws.readyState]).toEqual([1, 1, WebSocket.CONNECTING]);
    s.thaw();
    await late.opened;
    const conn = await s.connections.next();
    expect([conn.id, conn.isFrozen(), s.heldHandshakes()]).toEqual([2, false, 0]);
    expect(await hello(late)).toMatchObject({ resumed: false });
  });

  it('should stop (ECONNREFUSED), start on the same port, and keep history, sessions and epoch', async () => {
    const s = await server();
    const first = await connected(s);
    const { session } = await hello(first.c);
    first.c.send({ type: 'subscribe', channel: 'a' });
    await first.c.next();
    s.publish('a', 1);
    s.publish('a', 2);
    expect([(await first.c.next()).type, (await first.c.next()).type]).toEqual(['msg', 'msg']);

    await s.stop({ code: 1001, reason: 'restart' });
    expect(await first.c.closed).toEqual({ code: 1001, reason: 'restart' });
    expect(s.isListening()).toBe(false);
    const refused = client(s.url);
    expect((await refused.failed).code).toBe('ECONNREFUSED');

    s.publish('a', 3); // published while down
    await s.start();
    const second = await connected(s);
    expect(await hello(second.c, { session })).toEqual({ type: 'ready', session, epoch: 1, resumed: true });
    second.c.send({ type: 'subscribe', channel: 'a', after: 2 });
    expect(await untilPong(second.c)).toEqual([{ type: 'subscribed', channel: 'a' }, msg('a', 3, 3, 3)]);

    // restart() in one call: connections are terminated (1006), the port stays the same.
    await s.restart();
    expect((await second.c.closed).code).toBe(1006);
    const third = await connected(s);
    expect(await hello(third.c, { session, after: 3 })).toMatchObject({ session, epoch: 1, resumed: true });
    expect(s.url).toBe(`ws://127.0.0.1:${s.port}`);
    expect(s.accepted()).toBe(3);
  });

  it('should close every connection with a code, or terminate them all', async () => {
    const s = await server();
    const a = await connected(s);
    const b = await connected(s);
    await s.closeAll(4000, 'go away');
    expect(await a.c.closed).toEqual({ code: 4000, reason: 'go away' });
    expect(await b.conn.closed).toEqual({ code: 4000, reason: 'go away' });
    const c = await connected(s);
    await s.terminateAll();
    expect((await c.c.closed).code).toBe(1006);
    expect(s.live()).toEqual([]);
  });

  it('should let a frozen connection be closed by the server', async () => {
    const s = await server();
    const { c, conn } = await connected(s);
    await hello(c);
    conn.freeze();
    s.publish('a', 1);
    conn.send({ type: 'pong' });
    expect(conn.held()).toBe(1);
    conn.close(4001, 'frozen');
    expect(await c.closed).toEqual({ code: 4001, reason: 'frozen' });
    expect(c.log).toEqual(['ready']);
  });
});
