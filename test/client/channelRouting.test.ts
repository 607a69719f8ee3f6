import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it, vi } from 'vitest';
import { type ChannelSpec, type SocketEvent, createSocket, isChannelRejectedError } from '../../src/index.js';
import { createFakeServer } from 'rxtether/testing';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { framesOf, disposedProtocolRig, topic, whenOpen as open } from '../helpers/protocolClient.js';
import { type ClientFrame, type ServerFrame } from '../helpers/protocolServer.js';

// Channel routing: one subscription to the socket feeds every channel; with channelKeyOf a
// message goes to its channel by key, whatever the number of channels.

const defer = useDisposer();

const keyOf = (m: ServerFrame): string | undefined => ('channel' in m ? m.channel : undefined);

const { protocolClient, protocolServer } = disposedProtocolRig(defer);

/** `topic(name)` with spies on its hooks. */
function spiedTopic(name: string) {
  const spec = topic(name);
  const matches = vi.fn(spec.matches!);
  const isRejection = vi.fn(spec.isRejection!);
  return { spec: { ...spec, matches, isRejection } as ChannelSpec<ServerFrame, ClientFrame, unknown>, matches, isRejection };
}

describe('createSocket channel routing', () => {
  it('should ask only the channel of the message key, with 100 channels open', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url, { channelKeyOf: keyOf });
    const channels = Array.from({ length: 100 }, (_, i) => spiedTopic(`c${i}`));
    const observed = channels.map((c) => observe(socket.channel(c.spec)));
    defer(() => observed.forEach((o) => o.subscription.unsubscribe()));
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 100);
    await open(socket);
    for (const c of channels) {
      c.matches.mockClear();
      c.isRejection.mockClear();
    }
    for (let i = 0; i < 100; i++) server.publish(`c${i}`, i);
    for (let i = 0; i < 100; i++) expect(await observed[i]!.values.next()).toBe(i);
    channels.forEach((c, i) => {
      // Asked about messages of its own key only (its msg, maybe its late 'subscribed'), never
      // about the other 99 channels' messages.
      for (const spy of [c.matches, c.isRejection]) {
        expect(spy.mock.calls.length).toBeGreaterThanOrEqual(1);
        expect(spy.mock.calls.every(([m]) => keyOf(m) === `c${i}`)).toBe(true);
      }
    });
  });

  it('should deliver nothing for unknown keys or messages without a key, and go on', async () => {
    const server = await protocolServer();
    const { socket, events } = protocolClient(server.url, { channelKeyOf: keyOf });
    const a = spiedTopic('a');
    const o = observe(socket.channel(a.spec));
    const all = observe(socket.messages$);
    defer(() => [o, all].forEach((x) => x.subscription.unsubscribe()));
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 1);
    await open(socket);
    // A channel nobody subscribed to (sent raw: the server only publishes to subscribers).
    conn.socket.send(JSON.stringify({ type: 'msg', channel: 'nobody', seq: 1, gseq: 0, epoch: 0, data: 'x' }));
    conn.socket.send(JSON.stringify({ type: 'pong' })); // no key at all
    server.publish('a', 'a1');
    expect(await o.values.next()).toBe('a1');
    expect(a.matches.mock.calls.every(([m]) => keyOf(m) === 'a')).toBe(true);
    const seen: string[] = [];
    while (seen.length < 3) {
      const m = await all.values.next();
      if (m.type === 'msg' || m.type === 'pong') seen.push(m.type === 'msg' ? m.channel : m.type);
    }
    expect(seen).toEqual(['nobody', 'pong', 'a']); // messages$ still sees everything
    expect(events.filter((e) => e.type === 'handler-error')).toEqual([]);
  });

  it('should not need matches with channelKeyOf, and still require it without', async () => {
    const server = await protocolServer();
    // Only data frames have a key here: without matches, a channel gets every message of its key.
    const { socket } = protocolClient(server.url, { channelKeyOf: (m) => (m.type === 'msg' ? m.channel : undefined) });
    const { matches: _matches, ...spec } = topic('a');
    const o = observe(socket.channel(spec));
    defer(() => o.subscription.unsubscribe());
    await framesOf(await server.connections.next(), 'subscribe', 1);
    await open(socket);
    server.publish('a', 'a1');
    expect(await o.values.next()).toBe('a1');
    const plain = protocolClient(server.url).socket;
    expect(() => plain.channel(spec)).toThrow(/matches/);
  });

  it('should stop delivering to a channel unsubscribed mid-stream, by another channel, and keep the rest', async () => {
    for (const extra of [{ channelKeyOf: keyOf }, {}]) {
      const server = await protocolServer();
      const { socket } = protocolClient(server.url, extra);
      const got: string[] = [];
      const b = socket.channel(topic('b')).subscribe((v) => got.push(`b:${String(v)}`));
      const a = socket.channel(topic('a')).subscribe((v) => {
        got.push(`a:${String(v)}`);
        if (v === 'a2') b.unsubscribe(); // from inside a delivery
      });
      const c = observe(socket.channel(topic('c')));
      defer(() => [a, b, c.subscription].forEach((s) => s.unsubscribe()));
      const conn = await server.connections.next();
      await framesOf(conn, 'subscribe', 3);
      await open(socket);
      for (const [ch, v] of [['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['b', 'b2'], ['c', 'c1']] as const) server.publish(ch, v);
      expect(await c.values.next()).toBe('c1'); // published last: everything before it was routed
      expect(got).toEqual(['a:a1', 'b:b1', 'a:a2']);
      expect(await framesOf(conn, 'unsubscribe', 1)).toEqual([{ type: 'unsubscribe', channel: 'b' }]);
    }
  });

  it('should error only the rejected channel when routing by key', async () => {
    const server = await protocolServer({ rejectChannels: ['bad'] });
    const { socket } = protocolClient(server.url, { channelKeyOf: keyOf });
    const bad = observe(socket.channel(topic('bad')));
    const good = observe(socket.channel(topic('good')));
    defer(() => [bad, good].forEach((o) => o.subscription.unsubscribe()));
    expect(isChannelRejectedError(await bad.error)).toBe(true);
    await open(socket);
    server.publish('good', 'g1');
    expect(await good.values.next()).toBe('g1');
    expect(good.stopped()).toBe(false);
  });

  it('should complete every channel on close(), and a channel subscribed after close completes at once', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url, { channelKeyOf: keyOf });
    const a = observe(socket.channel(topic('a')));
    const b = observe(socket.channel(topic('b')));
    await framesOf(await server.connections.next(), 'subscribe', 2);
    socket.close();
    expect([a.stopped(), b.stopped()]).toEqual([true, true]);
    const late = observe(socket.channel(topic('c')));
    expect(late.stopped()).toBe(true);
  });
});

interface Frame {
  readonly type: string;
  readonly channel?: string;
  readonly seq?: number;
}

/** A channel resumed by `seq`: its subscribe asks for what follows the cursor, or everything. */
const resumedTopic = (key: string): ChannelSpec<Frame, Frame, unknown> => ({
  key,
  subscribe: (cursor) => ({ type: 'subscribe', channel: key, ...(cursor !== undefined ? { after: cursor } : {}) }),
  matches: (m) => m.type === 'msg' && m.channel === key,
  cursorOf: (m) => m.seq,
  project: (m) => m.seq,
});

describe.each(['channelKeyOf', 'matches'] as const)('createSocket channel opened during a delivery (routing by %s)', (mode) => {
  it('should not receive the message being delivered, which predates its subscribe', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(() => {
      // x#5 arrives at 3, before the client subscribes x; the server answers the subscribe with
      // x's history from the start (1, 2). Had x#5 reached x, it would have set x's cursor and
      // 1, 2 would have been dropped as duplicates: a gap without a gap event.
      const server = createFakeServer(scheduler, [
        {
          marbles: '-o-a-bc',
          values: {
            a: { type: 'msg', channel: 'x', seq: 5 },
            b: { type: 'msg', channel: 'x', seq: 1 },
            c: { type: 'msg', channel: 'x', seq: 2 },
          },
        },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        ...(mode === 'channelKeyOf' ? { channelKeyOf: (m: Frame) => m.channel } : {}),
      });
      const events: SocketEvent<Frame>[] = [];
      socket.events$.subscribe((e) => events.push(e));
      const x: unknown[] = [];
      let xOpen = false;
      // An app that opens a channel when it first hears of it, subscribed before any channel,
      // so before the one subscription that feeds the channels.
      socket.messages$.subscribe((m) => {
        if (m.channel === 'x' && !xOpen) {
          xOpen = true;
          socket.channel(resumedTopic('x')).subscribe((v) => x.push(v));
        }
      });
      socket.channel(resumedTopic('y')).subscribe();
      scheduler.flush();
      expect(x).toEqual([1, 2]);
      expect(events.filter((e) => e.type === 'gap')).toEqual([]);
    });
  });
});
