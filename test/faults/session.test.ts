// FAULTS.md, "Session and resume", "Outgoing path" and "Subscriptions": one test per row,
// end to end through createSocket and the protocol server on 127.0.0.1.
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type ChannelSpec, type SocketConfig, isChannelRejectedError, isNextInSequence } from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { framesOf, protocolClient, take, topic, whenOpen } from '../helpers/protocolClient.js';
import { type ClientFrame, type ProtocolServerOptions, type ServerFrame, startProtocolServer } from '../helpers/protocolServer.js';

const defer = useDisposer();

async function rig(options: ProtocolServerOptions = {}, extra: Partial<SocketConfig<ServerFrame, ClientFrame>> = {}) {
  const server = await startProtocolServer(options);
  defer(() => server.close());
  const client = protocolClient(server.url, extra);
  defer(() => client.socket.close());
  return { server, ...client };
}

const strict = (name: string): ChannelSpec<ServerFrame, ClientFrame, unknown> => ({
  ...topic(name),
  isNext: isNextInSequence,
  epochOf: (m) => (m.type === 'msg' ? m.epoch : undefined),
});

describe('FAULTS.md: session and resume', () => {
  it('row 15, resume refused / epoch changed: cursor discarded, fresh session, gap signalled before new data, no resume loop', async () => {
    const { server, socket, events } = await rig();
    const order = recorder();
    socket.events$.subscribe((e) => order.push(`event:${e.type}`));
    const sub = socket.channel(strict('feed')).subscribe((v) => order.push(`data:${String(v)}`));
    defer(() => sub.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('feed', 'old');
    await order.until('data:old');
    server.newEpoch();
    await server.terminateAll();
    const second = await server.connections.next();
    await framesOf(second, 'subscribe', 1);
    server.publish('feed', 'new');
    await order.until('data:new');
    expect(order.log).toEqual(['data:old', 'event:gap', 'data:new']);
    expect(events[0]).toMatchObject({ type: 'gap', error: { kind: 'epoch' } });
    expect(second.received.filter((f) => f.type === 'hello')).toHaveLength(1);
    expect(server.accepted()).toBe(2); // no resume loop
  });

  it('row 16, server-requested reconnect: prompt, resumed, and the old socket closed with 4000, never 1000/1001', async () => {
    const { server, socket } = await rig({}, { isReconnectRequest: (m) => m.type === 'reconnect', backoff: { initialDelay: 5 } });
    const feed = observe(socket.channel(topic('feed')));
    defer(() => feed.subscription.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('feed', 1);
    expect(await feed.values.next()).toBe(1);
    server.requestReconnect();
    expect(await first.closed).toMatchObject({ code: 4000 });
    const second = await server.connections.next();
    expect((await framesOf(second, 'subscribe', 1))[0]).toEqual({ type: 'subscribe', channel: 'feed', after: 1 });
  });

  it('row 17, overlapping replay: seen 1-7, replay 5-10, live 11: the consumer sees 8-11 once, in order', async () => {
    const { server, socket } = await rig();
    // A subscribe that asks for three messages more than needed, like a server replaying from a checkpoint.
    const overlapping = { ...topic('feed'), subscribe: (c: unknown) => ({ type: 'subscribe' as const, channel: 'feed', ...(c === undefined ? {} : { after: Number(c) - 3 }) }) };
    const feed = observe(socket.channel(overlapping));
    defer(() => feed.subscription.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    for (let i = 1; i <= 7; i++) server.publish('feed', i);
    expect(await take(feed.values, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await server.stop();
    for (let i = 8; i <= 10; i++) server.publish('feed', i);
    await server.start();
    const second = await server.connections.next();
    expect((await framesOf(second, 'subscribe', 1))[0]).toMatchObject({ after: 4 }); // replays 5..10
    server.publish('feed', 11);
    expect(await take(feed.values, 4)).toEqual([8, 9, 10, 11]);
    expect(feed.values.size).toBe(0);
  });

  it('row 18, sequence gap while connected (1, 2, 4): detected and signalled before 4, never skipped silently', async () => {
    const { server, socket, events } = await rig();
    const order = recorder();
    socket.events$.subscribe((e) => order.push(`event:${e.type}`));
    const sub = socket.channel(strict('feed')).subscribe((v) => order.push(`data:${String(v)}`));
    defer(() => sub.unsubscribe());
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 1);
    const epoch = server.epoch();
    for (const seq of [1, 2, 4]) conn.send({ type: 'msg', channel: 'feed', seq, gseq: seq, epoch, data: seq });
    await order.until('data:4');
    expect(order.log).toEqual(['data:1', 'data:2', 'event:gap', 'data:4']);
    expect(events[0]).toMatchObject({ channel: 'feed', error: { kind: 'gap', previous: 2, received: 4 } });
  });
});

describe('FAULTS.md: outgoing path', () => {
  it('row 19, sends while disconnected: FIFO after resubscribe within capacity; the overflow policy and TTL apply exactly and are reported', async () => {
    const { server, socket, events } = await rig({}, { outbox: { maxMessages: 3, overflow: 'drop-oldest' } });
    const sub = socket.channel(topic('feed')).subscribe();
    defer(() => sub.unsubscribe());
    await server.connections.next();
    await whenOpen(socket);
    await server.stop();
    await firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'reconnecting'))); // the client knows
    for (let i = 1; i <= 5; i++) socket.send({ type: 'publish', id: `m${i}`, channel: 'out', data: i });
    expect(events.filter((e) => e.type === 'dropped').map((e) => (e as { message: { id: string } }).message.id)).toEqual(['m1', 'm2']);
    await server.start();
    const conn = await server.connections.next();
    await framesOf(conn, 'publish', 3);
    expect(conn.received.map((f) => f.type)).toEqual(['hello', 'subscribe', 'publish', 'publish', 'publish']);
    expect(conn.publishIds).toEqual(['m3', 'm4', 'm5']);
    // (TTL expiry with a controlled clock: test/client/outbox.test.ts, "should expire messages older than ttl")
  });

  it('row 20, in flight at disconnect: re-sent in order with acks (at least once); reported as unconfirmed without', async () => {
    const { server, socket } = await rig();
    const sub = socket.messages$.subscribe();
    defer(() => sub.unsubscribe());
    const first = await server.connections.next();
    await whenOpen(socket);
    server.pauseAcks();
    for (let i = 1; i <= 3; i++) socket.send({ type: 'publish', id: `m${i}`, channel: 'out', data: i });
    await framesOf(first, 'publish', 3);
    await server.terminateAll();
    const second = await server.connections.next();
    await framesOf(second, 'publish', 3);
    expect(second.publishIds).toEqual(['m1', 'm2', 'm3']);

    const bare = await rig({ ack: false }, { ack: undefined as never }); // no ack rule on either side
    const sub2 = bare.socket.messages$.subscribe();
    defer(() => sub2.unsubscribe());
    const c1 = await bare.server.connections.next();
    await whenOpen(bare.socket);
    bare.socket.send({ type: 'publish', id: 'x1', channel: 'out', data: 1 });
    await framesOf(c1, 'publish', 1);
    await bare.server.terminateAll();
    await bare.server.connections.next();
    expect(bare.events.filter((e) => e.type === 'unconfirmed')).toEqual([
      { type: 'unconfirmed', messages: [{ type: 'publish', id: 'x1', channel: 'out', data: 1 }] },
    ]);
  });
});

describe('FAULTS.md: subscriptions', () => {
  it('row 21, resubscribe exactly once: 50 channels, 3 drops; two local subscribers to one topic = one server subscription', async () => {
    const { server, socket } = await rig();
    const names = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const subs = names.map((n) => socket.channel(topic(n)).subscribe());
    subs.push(socket.channel(topic('t0')).subscribe()); // a second local subscriber to t0
    defer(() => subs.forEach((s) => s.unsubscribe()));
    for (let drop = 0; drop <= 3; drop++) {
      const conn = await server.connections.next();
      const frames = await framesOf(conn, 'subscribe', 50);
      expect(frames.map((f) => (f as { channel: string }).channel)).toEqual(names);
      if (drop < 3) await server.terminateAll();
    }
    expect(server.activeSubscriptions()).toBe(50);
  });

  it('row 22, unsubscribe during backoff: no resubscribe, a late message is never delivered, the server ends with 0 subscriptions', async () => {
    const { server, socket } = await rig({}, { backoff: { initialDelay: 30, jitter: 'none' } });
    const seen: unknown[] = [];
    const sub = socket.channel(topic('feed')).subscribe((v) => seen.push(v));
    const keepAlive = socket.messages$.subscribe();
    defer(() => keepAlive.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    await server.terminateAll();
    server.publish('feed', 'late'); // in the history for a resume that must not happen
    sub.unsubscribe(); // during the 30 ms wait
    const second = await server.connections.next();
    await whenOpen(socket);
    expect(second.received.filter((f) => f.type === 'subscribe' || f.type === 'unsubscribe')).toEqual([]);
    expect(server.activeSubscriptions()).toBe(0);
    expect(seen).toEqual([]);
  });

  it('row 23, one channel rejected on resubscribe: only its subscribers get the error', async () => {
    const { server, socket } = await rig();
    const good = observe(socket.channel(topic('good')));
    const bad = observe(socket.channel(topic('bad')));
    defer(() => good.subscription.unsubscribe());
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 2);
    server.rejectChannel('bad', 'revoked');
    await server.terminateAll();
    const second = await server.connections.next();
    await framesOf(second, 'subscribe', 2);
    const error = await bad.error;
    expect(isChannelRejectedError(error)).toBe(true);
    server.publish('good', 'still flowing');
    expect(await good.values.next()).toBe('still flowing');
    expect(good.stopped()).toBe(false);
  });
});

/** An ordered log of what subscribers saw, with a promise for "this entry has been logged". */
function recorder() {
  const log: string[] = [];
  const waiters = new Map<string, () => void>();
  return {
    log,
    push(entry: string): void {
      log.push(entry);
      waiters.get(entry)?.();
    },
    until(entry: string): Promise<void> {
      return log.includes(entry) ? Promise.resolve() : new Promise((resolve) => waiters.set(entry, resolve));
    },
  };
}
