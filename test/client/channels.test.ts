import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type ChannelSpec, isChannelRejectedError, isNextInSequence } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { framesOf, disposedProtocolRig, take as values, topic, whenOpen as open } from '../helpers/protocolClient.js';
import { type ClientFrame, type ServerFrame } from '../helpers/protocolServer.js';

const defer = useDisposer();

const { protocolClient, protocolServer } = disposedProtocolRig(defer);

/** A channel that relies on the connection-wide cursor instead of its own. */
function feedTopic(): ChannelSpec<ServerFrame, ClientFrame, unknown> {
  const { cursorOf: _perChannel, ...spec } = topic('feed');
  return spec;
}

describe('createSocket channels', () => {
  it('should share one server subscription between two local subscribers, and unsubscribe after the last', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url);
    const prices = socket.channel(topic('prices'));
    const a = observe(prices);
    const b = observe(prices);
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 1);
    await open(socket);
    server.publish('prices', 101);
    expect([await a.values.next(), await b.values.next()]).toEqual([101, 101]);
    expect(conn.subscribeCount('prices')).toBe(1);
    a.subscription.unsubscribe();
    server.publish('prices', 102);
    expect(await b.values.next()).toBe(102);
    const other = socket.channel(topic('other')).subscribe(); // keeps the socket open to see the unsubscribe
    defer(() => other.unsubscribe());
    b.subscription.unsubscribe();
    expect(await framesOf(conn, 'unsubscribe', 1)).toEqual([{ type: 'unsubscribe', channel: 'prices' }]);
  });

  it('should re-send the active set exactly once per connection: 50 channels, 3 drops', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url);
    const names = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const subscriptions = names.map((name) => socket.channel(topic(name)).subscribe());
    defer(() => subscriptions.forEach((s) => s.unsubscribe()));
    const perConnection: string[][] = [];
    for (let drop = 0; drop <= 3; drop++) {
      const conn = await server.connections.next();
      const subscribes = await framesOf(conn, 'subscribe', 50);
      perConnection.push(subscribes.map((f) => (f as { channel: string }).channel));
      expect(conn.subscriptions()).toEqual(new Set(names));
      if (drop < 3) await server.terminateAll();
    }
    for (const channels of perConnection) expect(channels).toEqual(names); // once each, no duplicates
    expect(server.accepted()).toBe(4);
    expect(server.activeSubscriptions()).toBe(50);
  });

  it('should resume each channel from its own position and fill the gap exactly once', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url);
    const a = observe(socket.channel(topic('a')));
    const b = observe(socket.channel(topic('b')));
    defer(() => [a, b].forEach((o) => o.subscription.unsubscribe()));
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 2);
    for (let i = 1; i <= 3; i++) server.publish('a', `a${i}`);
    server.publish('b', 'b1');
    expect(await values(a.values, 3)).toEqual(['a1', 'a2', 'a3']);
    expect(await b.values.next()).toBe('b1');
    await server.stop();
    for (let i = 4; i <= 6; i++) server.publish('a', `a${i}`); // published while the client is away
    await server.start();
    const second = await server.connections.next();
    const subscribes = await framesOf(second, 'subscribe', 2);
    expect(subscribes).toEqual([
      { type: 'subscribe', channel: 'a', after: 3 },
      { type: 'subscribe', channel: 'b', after: 1 }, // one channel's position never moves another's
    ]);
    server.publish('a', 'a7');
    server.publish('b', 'b2');
    expect(await values(a.values, 4)).toEqual(['a4', 'a5', 'a6', 'a7']);
    expect(await b.values.next()).toBe('b2');
    expect(a.values.size + b.values.size).toBe(0);
  });

  it('should not re-send a channel unsubscribed during backoff, and queue no unsubscribe for a dead socket', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url, { backoff: { initialDelay: 50, jitter: 'none' } });
    const keep = socket.channel(topic('keep')).subscribe();
    const leave = socket.channel(topic('leave')).subscribe();
    defer(() => keep.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 2);
    await server.terminateAll();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting')));
    leave.unsubscribe(); // during the 50 ms wait
    const added = socket.channel(topic('added')).subscribe(); // added while offline: included
    defer(() => added.unsubscribe());
    const second = await server.connections.next();
    await open(socket);
    const subscribes = await framesOf(second, 'subscribe', 2);
    expect(subscribes.map((f) => (f as { channel: string }).channel)).toEqual(['keep', 'added']);
    expect(second.received.filter((f) => f.type === 'unsubscribe')).toEqual([]);
    expect(second.subscriptions()).toEqual(new Set(['keep', 'added']));
  });

  it('should error only the rejected channel', async () => {
    const server = await protocolServer({ rejectChannels: ['forbidden'] });
    const { socket } = protocolClient(server.url);
    const ok = observe(socket.channel(topic('ok')));
    const forbidden = observe(socket.channel(topic('forbidden')));
    const alsoForbidden = observe(socket.channel(topic('forbidden')));
    defer(() => ok.subscription.unsubscribe());
    const error = await forbidden.error;
    expect(isChannelRejectedError(error)).toBe(true);
    expect(error).toMatchObject({ key: 'forbidden', response: { type: 'rejected', channel: 'forbidden' } });
    expect(await alsoForbidden.error).toBe(error);
    server.publish('ok', 1);
    expect(await ok.values.next()).toBe(1);
    expect(ok.stopped()).toBe(false);
  });

  it('should send nothing before the session is ready, then channels, then the outbox, in that order', async () => {
    const server = await protocolServer({ prematureClose: 4401 });
    const { socket } = protocolClient(server.url);
    socket.send({ type: 'publish', id: 'p1', channel: 'x', data: 1 });
    socket.send({ type: 'publish', id: 'p2', channel: 'x', data: 2 });
    const sub = socket.channel(topic('x')).subscribe();
    defer(() => sub.unsubscribe());
    const conn = await server.connections.next();
    await framesOf(conn, 'publish', 2);
    expect(conn.received.map((f) => f.type)).toEqual(['hello', 'subscribe', 'publish', 'publish']);
    expect(conn.premature).toEqual([]); // the server would have closed with 4401
  });

  it('should deliver every publish at least once across a drop while acks are outstanding', async () => {
    const server = await protocolServer();
    const { socket } = protocolClient(server.url);
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    const first = await server.connections.next();
    await open(socket);
    server.pauseAcks(); // the server receives them, but the client never learns it
    for (let i = 1; i <= 5; i++) socket.send({ type: 'publish', id: `m${i}`, channel: 'x', data: i });
    await framesOf(first, 'publish', 5);
    await server.terminateAll();
    const second = await server.connections.next();
    await framesOf(second, 'publish', 5);
    expect(second.publishIds).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']); // re-sent in order
    expect(server.duplicatePublishIds()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']); // at least once
  });
});

describe('createSocket connection-wide resume', () => {
  const resumeClient = (url: string) =>
    protocolClient(url, {
      // No epochOf: a refused resume must be caught by session.isResumed alone.
      resume: { cursorOf: (m) => (m.type === 'msg' ? m.gseq : undefined) },
    });

  it('should resume from the last gseq delivered before the drop, without duplicates', async () => {
    const server = await protocolServer({ resume: 'connection' });
    const { socket } = resumeClient(server.url);
    const feed = observe(socket.channel(feedTopic()));
    defer(() => feed.subscription.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    for (let i = 1; i <= 3; i++) server.publish('feed', i);
    expect(await values(feed.values, 3)).toEqual([1, 2, 3]);
    await server.stop();
    server.publish('feed', 4);
    server.publish('feed', 5);
    await server.start();
    const second = await server.connections.next();
    expect((await framesOf(second, 'hello', 1))[0]).toMatchObject({ type: 'hello', after: 3 });
    server.publish('feed', 6);
    expect(await values(feed.values, 3)).toEqual([4, 5, 6]);
  });

  it('should report a gap before any new data when the server cannot resume', async () => {
    const server = await protocolServer({ resume: 'connection' });
    const { socket, events } = resumeClient(server.url);
    const seen: unknown[] = [];
    const sub = socket.channel(feedTopic()).subscribe((v) => {
      seen.push({ value: v, eventsSoFar: events.length });
    });
    defer(() => sub.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('feed', 1);
    await firstValueFrom(socket.messages$.pipe(filter((m) => m.type === 'msg')));
    await server.stop();
    server.publish('feed', 'missed'); // the client never sees this one...
    server.expireHistory(); // ...and the server can no longer replay it
    await server.start();
    const second = await server.connections.next();
    await framesOf(second, 'subscribe', 1);
    server.publish('feed', 2);
    await firstValueFrom(socket.messages$.pipe(filter((m) => m.type === 'msg')));
    expect(events).toEqual([{ type: 'gap', error: expect.objectContaining({ name: 'ResumeGapError', kind: 'epoch', previous: 1 }), channel: undefined }]);
    expect(seen).toEqual([
      { value: 1, eventsSoFar: 0 },
      { value: 2, eventsSoFar: 1 }, // the gap was signalled before the new data
    ]);
  });
});

describe('createSocket per-channel resume discontinuities', () => {
  const strictTopic = (name: string): ChannelSpec<ServerFrame, ClientFrame, unknown> => ({
    ...topic(name),
    isNext: isNextInSequence,
    epochOf: (m) => (m.type === 'msg' ? m.epoch : undefined),
  });

  it('should deliver a new epoch from its start, after a gap event, instead of dropping it as replayed', async () => {
    const server = await protocolServer();
    const { socket, events } = protocolClient(server.url);
    const a = observe(socket.channel(strictTopic('a')));
    defer(() => a.subscription.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    for (let i = 1; i <= 3; i++) server.publish('a', `old${i}`);
    expect(await values(a.values, 3)).toEqual(['old1', 'old2', 'old3']);
    server.newEpoch(); // sequences restart at 1, sessions forgotten
    await server.terminateAll();
    const second = await server.connections.next();
    await framesOf(second, 'subscribe', 1);
    expect(second.received.find((f) => f.type === 'subscribe')).toEqual({ type: 'subscribe', channel: 'a' }); // position reset
    server.publish('a', 'new1'); // seq 1 again: new, not a duplicate of old1
    expect(await a.values.next()).toBe('new1');
    expect(events.filter((e) => e.type === 'gap')).toHaveLength(1);
  });

  it("should signal a gap in one channel's sequence before the data after it", async () => {
    const server = await protocolServer({ historyLimit: 2 });
    const { socket, events } = protocolClient(server.url);
    const seen: Array<{ value: unknown; gapsSoFar: number }> = [];
    const sub = socket.channel(strictTopic('a')).subscribe((value) => {
      seen.push({ value, gapsSoFar: events.filter((e) => e.type === 'gap').length });
    });
    defer(() => sub.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('a', 'v1');
    await firstValueFrom(socket.messages$.pipe(filter((m) => m.type === 'msg')));
    await server.stop();
    for (let i = 2; i <= 6; i++) server.publish('a', `v${i}`); // only v5, v6 stay in history
    await server.start();
    const second = await server.connections.next();
    await framesOf(second, 'subscribe', 1);
    server.publish('a', 'v7');
    await firstValueFrom(socket.messages$.pipe(filter((m) => m.type === 'msg')));
    expect(seen).toEqual([
      { value: 'v1', gapsSoFar: 0 },
      { value: 'v7', gapsSoFar: 1 },
    ]);
    expect(events.find((e) => e.type === 'gap')).toMatchObject({
      channel: 'a',
      error: { name: 'ResumeGapError', kind: 'gap', previous: 1, received: 7 },
    });
  });
});
