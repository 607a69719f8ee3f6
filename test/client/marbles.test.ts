import { retry } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type SocketStatus, createSocket } from '../../src/index.js';
import { type FakeServer, createFakeServer, createTestSocket } from 'rxtether/testing';

interface Frame {
  readonly type: string;
  readonly channel?: string;
  readonly n?: number;
}

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
/** Virtual times at which the client created each socket. */
const created = (server: FakeServer) => server.connections.map((c) => c.createdAt);

describe('createSocket in virtual time', () => {
  it('should reconnect on the backoff schedule, replay channels at open, and report each status', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, [
        { marbles: '-o-a--#', values: { a: { type: 'msg', channel: 'x', n: 1 } } }, // drops at 6 (1006)
        { marbles: '-o-b', values: { b: { type: 'msg', channel: 'x', n: 2 } } },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        backoff: { initialDelay: 10, jitter: 'none' },
      });
      const statuses: Array<[number, SocketStatus['state']]> = [];
      socket.status$.subscribe((st) => statuses.push([scheduler.now(), st.state]));
      const x$ = socket.channel({
        key: 'x',
        subscribe: () => ({ type: 'subscribe', channel: 'x' }),
        matches: (m) => m.channel === 'x',
        project: (m) => m.n,
      });
      // attempt 1 at 0, opens at 1; drop at 6; wait 10; attempt 2 at 16, opens at 17
      expectObservable(x$, '^ 30ms !').toBe('---a---------------b', { a: 1, b: 2 });
      scheduler.flush();
      expect(created(server)).toEqual([0, 16]);
      expect(server.sent).toEqual([
        { frame: 1, connection: 0, data: { type: 'subscribe', channel: 'x' } },
        { frame: 17, connection: 1, data: { type: 'subscribe', channel: 'x' } }, // exactly once per connection
      ]);
      expect(statuses).toEqual([
        [0, 'idle'],
        [0, 'connecting'],
        [1, 'open'],
        [6, 'reconnecting'],
        [16, 'connecting'],
        [17, 'open'],
        [31, 'idle'],
      ]);
    });
  });

  it('should back off exponentially while connections fail before opening, then reset after success', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, [
        { marbles: '--#' }, // refused: fails at 2
        { marbles: '--#' },
        { marbles: '-o-a--#', values: { a: { type: 'hello' } } }, // healthy (a message), then drops
        { marbles: '-o' },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        backoff: { initialDelay: 4, factor: 2, jitter: 'none' },
      });
      const delays: number[] = [];
      socket.status$.subscribe((st) => st.state === 'reconnecting' && delays.push(st.delay));
      expectObservable(socket.messages$, '^ 60ms !').toBe('19ms a', { a: { type: 'hello' } });
      scheduler.flush();
      // fail at 2 → wait 4 → attempt at 6, fail at 8 → wait 8 → attempt at 16, open 17, 'a' at 19
      // (the counter resets), drop at 22 → wait 4 (not 16) → attempt at 26
      expect(created(server)).toEqual([0, 6, 16, 26]);
      expect(delays).toEqual([4, 8, 4]);
    });
  });
});

describe('createSocket in virtual time: review findings', () => {
  const x = (n: number) => ({ type: 'msg', channel: 'x', n });
  const channelX = {
    key: 'x',
    subscribe: () => ({ type: 'subscribe', channel: 'x' }),
    matches: (m: Frame) => m.channel === 'x',
  };

  it('should open exactly one new socket when a reconnect request, a close and a heartbeat deadline land on the same frame', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [
        { marbles: '-o----(r#)', values: { r: { type: 'reconnect' } } }, // all at 6: request, close...
        { marbles: '-o' },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        heartbeat: { timeout: 5 }, // ...and the heartbeat deadline (5 ms after the open at 1)
        isReconnectRequest: (m) => m.type === 'reconnect',
        backoff: { initialDelay: 4, jitter: 'none' },
        random: () => 0.5,
      });
      const reconnecting: number[] = [];
      socket.status$.subscribe((st) => st.state === 'reconnecting' && reconnecting.push(scheduler.now()));
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.close(), 10); // before the new socket's own heartbeat deadline
      scheduler.flush();
      expect(created(server)).toEqual([0, 8]); // one new socket, 2 ms (half of 4) after the request
      expect(reconnecting).toEqual([6]);
    });
  });

  it('should count the heartbeat deadline from open, so a slow handshake is not taken for a dead peer', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      // The upgrade takes 10 ms, twice the heartbeat timeout; then messages every 3 ms.
      const server = createFakeServer(scheduler, [{ marbles: '----------o--a--a--a', values: { a: { type: 'data' } } }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory, heartbeat: { timeout: 5 } });
      const states: Array<[number, string]> = [];
      socket.status$.subscribe((st) => states.push([scheduler.now(), st.state]));
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.close(), 20);
      scheduler.flush();
      expect(states).toEqual([
        [0, 'idle'],
        [0, 'connecting'],
        [10, 'open'],
        [20, 'closed'],
      ]);
      expect(created(server)).toEqual([0]);
    });
  });

  it('should stay open during linger, report idle only when the socket really closes, and reuse it on return', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory, linger: 10 });
      const statuses: Array<[number, SocketStatus['state']]> = [];
      socket.status$.subscribe((st) => statuses.push([scheduler.now(), st.state]));
      const first = socket.messages$.subscribe();
      scheduler.schedule(() => first.unsubscribe(), 5);
      let second: { unsubscribe(): void } | undefined;
      scheduler.schedule(() => (second = socket.messages$.subscribe()), 12); // back within 10 ms of leaving
      scheduler.schedule(() => second?.unsubscribe(), 20);
      scheduler.flush();
      expect(created(server)).toEqual([0]); // reused
      expect(server.closeRequests).toEqual([{ frame: 30, connection: 0, code: 4000, reason: 'reconnect' }]); // 10 ms after the last left
      expect(statuses).toEqual([
        [0, 'idle'],
        [0, 'connecting'],
        [1, 'open'],
        [30, 'idle'],
      ]);
    });
  });

  it('should close at once when close() is called during linger', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory, linger: 10_000 });
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 5);
      scheduler.schedule(() => socket.close(4100, 'bye'), 6);
      scheduler.flush();
      expect(server.closeRequests).toEqual([{ frame: 6, connection: 0, code: 4100, reason: 'bye' }]);
    });
  });

  it('should create no socket when a status subscriber closes the client on connecting', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      socket.status$.subscribe((st) => st.state === 'connecting' && socket.close());
      let completed = false;
      socket.messages$.subscribe({ complete: () => (completed = true) });
      scheduler.flush();
      expect(created(server)).toEqual([]);
      expect(completed).toBe(true);
    });
  });

  it('should replay the closed status to late subscribers after close()', () => {
    const socket = createSocket<Frame, Frame>({ url: 'ws://test/' });
    socket.close();
    const seen: SocketStatus[] = [];
    socket.status$.subscribe((st) => seen.push(st));
    expect(seen).toEqual([{ state: 'closed', reason: 'client', error: undefined, reconnects: 0, buffered: 0, dropped: 0 }]);
  });

  it("should fail only the channel whose subscribe() throws during replay, and still flush the rest", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      const bug = new Error('subscribe bug');
      const errors: unknown[] = [];
      socket
        .channel({ ...channelX, key: 'bad', subscribe: () => { throw bug; } })
        .subscribe({ error: (e: unknown) => errors.push(e) });
      socket.channel(channelX).subscribe();
      socket.send({ type: 'order', n: 1 });
      let state: string | undefined;
      socket.status$.subscribe((st) => (state = st.state));
      scheduler.flush();
      expect(errors).toEqual([bug]);
      expect(server.sent.map((s) => s.data)).toEqual([{ type: 'subscribe', channel: 'x' }, { type: 'order', n: 1 }]);
      expect(state).toBe('open');
    });
  });

  it('should report a throwing isReady as a handler-error and keep the connection waiting for ready', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [
        { marbles: '-o-n-r', values: { n: null, r: { type: 'ready' } } }, // a null frame, then ready
      ]);
      const socket = createSocket<Frame | null, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        session: { hello: () => [], isReady: (m) => m!.type === 'ready' }, // throws on null
      });
      const states: string[] = [];
      socket.status$.subscribe((st) => states.push(st.state));
      const events: unknown[] = [];
      socket.events$.subscribe((e) => events.push(e));
      socket.messages$.subscribe();
      scheduler.flush();
      expect(events).toEqual([{ type: 'handler-error', error: expect.any(TypeError), channel: undefined, message: null }]);
      expect(states).toEqual(['idle', 'connecting', 'open']); // no reconnect for one odd frame
      expect(created(server)).toEqual([0]);
    });
  });

  it('should back off prompt reconnects while every connection ends with 1012 before delivering data', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const restart = { marbles: '-o-#', close: { code: 1012 } };
      const server = createFakeServer(scheduler, [restart, restart, restart, restart, { marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        backoff: { initialDelay: 4, factor: 2, maxDelay: 100 },
        random: () => 0.5,
      });
      const delays: number[] = [];
      socket.status$.subscribe((st) => st.state === 'reconnecting' && delays.push(st.delay));
      socket.messages$.subscribe();
      scheduler.flush();
      expect(delays).toEqual([2, 4, 8, 16]); // half of 4, 8, 16, 32: growing, not 2 forever
    });
  });

  it('should count the session timeout from open, not from the start of the attempt', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      // opens at 8, ready at 13: 5 ms after open, 13 after the attempt started
      const server = createFakeServer(scheduler, [{ marbles: '--------o----r', values: { r: { type: 'ready' } } }]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        session: { hello: () => [], isReady: (m) => m.type === 'ready', timeout: 10 },
      });
      const states: string[] = [];
      socket.status$.subscribe((st) => states.push(st.state));
      socket.messages$.subscribe();
      scheduler.flush();
      expect(states).toEqual(['idle', 'connecting', 'open']);
      expect(created(server)).toEqual([0]);
    });
  });

  it('should apply each channel() call its own project, over one shared server subscription', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, [{ marbles: '-o-a', values: { a: x(5) } }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      expectObservable(socket.channel({ ...channelX, project: (m) => m.n }), '^ 9ms !').toBe('---a', { a: 5 });
      expectObservable(socket.channel({ ...channelX, project: (m) => `n=${m.n}` }), '^ 9ms !').toBe('---a', { a: 'n=5' });
      scheduler.flush();
      expect(server.sent.filter((s) => (s.data as Frame).type === 'subscribe')).toHaveLength(1);
    });
  });

  it('should let an events$ handler send() again on a drop without corrupting the outbox', () => {
    const socket = createSocket<Frame, Frame>({ url: 'ws://test/', outbox: { maxMessages: 2 } });
    const dropped: number[] = [];
    let buffered = -1;
    socket.status$.subscribe((st) => (buffered = st.buffered));
    socket.events$.subscribe((e) => {
      if (e.type !== 'dropped') return;
      dropped.push(e.message.n!);
      if (e.message.n === 1) socket.send({ type: 'retry', n: 100 }); // re-queue once
    });
    for (let n = 1; n <= 3; n++) socket.send({ type: 'order', n });
    // 3 evicts 1; the handler's 100 evicts 2: two drops, two messages held, still FIFO.
    expect(dropped).toEqual([1, 2]);
    expect(buffered).toBe(2);
    socket.close(); // reports what is held, in outbox order
    expect(dropped).toEqual([1, 2, 3, 100]);
  });
});

/** A client with acks whose `ack.idOf` throws once, for the first message `when` picks. */
function withIdOfThrowingOnce(server: FakeServer, when: (m: Frame) => boolean) {
  let broken = true;
  return createSocket<Frame, Frame>({
    url: 'ws://test/',
    socketFactory: server.socketFactory,
    backoff: { initialDelay: 4, jitter: 'none' },
    ack: {
      idOf: (m) => {
        if (broken && when(m)) {
          broken = false;
          throw new Error('idOf bug');
        }
        return m.n;
      },
      ackOf: () => undefined,
    },
  });
}

describe('createSocket in virtual time: second review', () => {
  const channel = (key: string, extra: object = {}) => ({
    key,
    subscribe: () => ({ type: 'subscribe', channel: key }),
    unsubscribe: () => ({ type: 'unsubscribe', channel: key }),
    matches: (m: Frame) => m.channel === key,
    isRejection: (m: Frame) => m.type === 'rejected' && m.channel === key,
    ...extra,
  });
  const frames = (server: { sent: ReadonlyArray<{ frame: number; data: unknown }> }) =>
    server.sent.map((s) => [s.frame, (s.data as Frame).type, (s.data as Frame).channel]);

  it('should keep a channel that its subscriber re-subscribes synchronously after a rejection', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [
        { marbles: '-o-r', values: { r: { type: 'rejected', channel: 'x' } } },
      ]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      const errors: unknown[] = [];
      socket
        .channel(channel('x'))
        .pipe(retry(1))
        .subscribe({ error: (e: unknown) => errors.push(e) });
      scheduler.schedule(() => socket.close(), 10);
      scheduler.flush();
      expect(errors).toEqual([]);
      // subscribed again at once; no unsubscribe from the old activation, none on close()
      expect(frames(server)).toEqual([
        [1, 'subscribe', 'x'],
        [3, 'subscribe', 'x'],
      ]);
    });
  });

  it('should send no unsubscribe frames when close() completes the channels', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      socket.channel(channel('a')).subscribe();
      socket.channel(channel('b')).subscribe();
      scheduler.schedule(() => socket.close(), 5);
      scheduler.flush();
      expect(frames(server)).toEqual([
        [1, 'subscribe', 'a'],
        [1, 'subscribe', 'b'],
      ]);
      expect(server.closeRequests).toEqual([{ frame: 5, connection: 0, code: 1000, reason: '' }]);
    });
  });

  it('should count the messages close() drops in the closed status', () => {
    const socket = createSocket<Frame, Frame>({ url: 'ws://test/' });
    socket.send({ type: 'a' });
    socket.send({ type: 'b' });
    socket.close();
    let last: SocketStatus | undefined;
    socket.status$.subscribe((st) => (last = st));
    expect(last).toMatchObject({ state: 'closed', dropped: 2, buffered: 0 });
  });

  it('should neither subscribe nor unsubscribe a channel removed by another channel during the replay', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }]);
      const socket = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory });
      let b: { unsubscribe(): void } | undefined;
      socket
        .channel(channel('a', { subscribe: () => { throw new Error('a is broken'); } }))
        .subscribe({ error: () => b?.unsubscribe() });
      b = socket.channel(channel('b')).subscribe();
      socket.channel(channel('c')).subscribe();
      scheduler.schedule(() => socket.close(), 5);
      scheduler.flush();
      expect(frames(server)).toEqual([[1, 'subscribe', 'c']]);
    });
  });

  it('should restart the prompt-reconnect backoff after a connection that delivered data', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const restart = { marbles: '-o-#', close: { code: 1012 } };
      const server = createFakeServer(scheduler, [
        restart,
        { marbles: '-o-a-#', values: { a: { type: 'data' } } }, // healthy, then lost (1006)
        restart,
        { marbles: '-o' },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        backoff: { initialDelay: 4, factor: 2 },
        random: () => 0.5,
      });
      const delays: Array<[number, unknown]> = [];
      socket.status$.subscribe((st) => st.state === 'reconnecting' && delays.push([st.delay, st.cause === undefined]));
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.close(), 40);
      scheduler.flush();
      // prompt (2), a retry after the 1006 (2), prompt again from the start (2, not 4)
      expect(delays).toEqual([
        [2, true],
        [2, false],
        [2, true],
      ]);
    });
  });

  it('should keep a queued message when ack.idOf throws during the flush, and send it on the next connection', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }, { marbles: '-o' }]);
      const socket = withIdOfThrowingOnce(server, () => true);
      const drops: Array<[number, string]> = [];
      socket.events$.subscribe((e) => e.type === 'dropped' && drops.push([scheduler.now(), e.reason]));
      socket.send({ type: 'order', n: 1 });
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.close(), 20);
      scheduler.flush();
      expect(server.sent.map((s) => [s.frame, s.connection, s.data])).toEqual([[6, 1, { type: 'order', n: 1 }]]);
      // Not lost at the failed flush; only close() drops it, as it was never acknowledged.
      expect(drops).toEqual([[20, 'closed']]);
    });
  });
});

describe('createSocket in virtual time: a hook that throws during the flush on open', () => {
  it('should still clean up that connection: what it wrote and was not acknowledged is sent again', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o' }, { marbles: '-o' }]);
      const socket = withIdOfThrowingOnce(server, (m) => m.n === 2);
      socket.send({ type: 'order', n: 1 });
      socket.send({ type: 'order', n: 2 });
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.close(), 20);
      scheduler.flush();
      // 1 went out on the first connection, which then failed on 2: never acknowledged, it is
      // sent again on the next one, before 2.
      expect(server.sent.map((s) => [s.frame, s.connection, (s.data as Frame).n])).toEqual([
        [1, 0, 1],
        [6, 1, 1],
        [6, 1, 2],
      ]);
    });
  });
});

describe('createSocket in virtual time: resuming sessions', () => {
  it('should deliver the messages a resuming server replays before it says ready', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const values = {
        h: { type: 'hello' }, // handshake chatter: no position
        r: { type: 'ready' },
        a: { type: 'event', n: 1 },
        b: { type: 'event', n: 2 }, // replayed before 'resumed'
        c: { type: 'event', n: 3 }, // replayed, and already delivered before the drop? no: new
        R: { type: 'resumed' },
        d: { type: 'event', n: 4 },
      };
      const server = createFakeServer(scheduler, [
        { marbles: '-oh-r-a-#', values },
        { marbles: '-oh-a-b-c-R-d', values }, // replays 1 (a duplicate), 2, 3, then resumed, then live 4
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        session: { hello: () => [], isReady: (m) => m.type === 'ready' || m.type === 'resumed' },
        resume: { cursorOf: (m) => (m.type === 'event' ? m.n : undefined) },
        backoff: { initialDelay: 2, jitter: 'none' },
      });
      // attempt 2 starts at 7 + 2 = 9: a at 14 (dropped: a duplicate), b at 16, c at 18, R at 20, d at 22
      expectObservable(socket.messages$, '^ 30ms !').toBe('----r-a---------b-c-R-d', values);
    });
  });
});

describe('createSocket in virtual time: third review', () => {
  interface Publish {
    readonly type: string;
    readonly id?: number;
    readonly v?: string;
    readonly channel?: string;
  }
  const ack = {
    idOf: (m: Publish) => m.id,
    ackOf: (m: Publish) => (m.type === 'ack' ? m.id : undefined),
  };

  it('should not report open after the connection is lost while messages await an ack', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o---#', '-o--a'], { values: { a: { type: 'ack', id: 1 } } });
      const socket = createTestSocket<Publish, Publish>(server, { ack, backoff: { initialDelay: 10 } });
      const statuses: Array<[number, SocketStatus['state'], number]> = [];
      socket.status$.subscribe((st) => statuses.push([scheduler.now(), st.state, st.buffered]));
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => socket.send({ type: 'publish', id: 1 }), 2);
      scheduler.schedule(() => sub.unsubscribe(), 20);
      scheduler.flush();
      // dropped at 5 with 1 un-acked: reconnecting (it counts as buffered), back at 10, re-sent at 11
      expect(statuses).toEqual([
        [0, 'idle', 0],
        [0, 'connecting', 0],
        [1, 'open', 0],
        [5, 'reconnecting', 1],
        [10, 'connecting', 1],
        [11, 'open', 0],
        [20, 'idle', 0],
      ]);
    });
  });

  it('should re-send every un-acked message when an id is reused before its ack, one ack confirming the oldest', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      // acks id 1 once at 4 (the first of the two), drops at 5
      const server = createFakeServer(scheduler, ['-o--a#', '-o'], { values: { a: { type: 'ack', id: 1 } } });
      const socket = createTestSocket<Publish, Publish>(server, { ack, backoff: { initialDelay: 10 } });
      const events: unknown[] = [];
      socket.events$.subscribe((e) => events.push(e));
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => {
        socket.send({ type: 'publish', id: 1, v: 'a' });
        socket.send({ type: 'publish', id: 2, v: 'c' });
        socket.send({ type: 'publish', id: 1, v: 'b' }); // id 1 again, before its ack
      }, 2);
      scheduler.schedule(() => sub.unsubscribe(), 20);
      scheduler.flush();
      expect(server.sent.map((s) => [s.frame, s.connection, (s.data as Publish).v])).toEqual([
        [2, 0, 'a'],
        [2, 0, 'c'],
        [2, 0, 'b'],
        [11, 1, 'c'], // a was acknowledged; c and b were not: re-sent in send order
        [11, 1, 'b'],
      ]);
      expect(events).toEqual([]);
    });
  });

  it('should send the last channel unsubscribe before the socket closes with linger 0', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o']);
      const socket = createTestSocket<Publish, Publish>(server, { linger: 0 });
      const channel = (key: string) => ({
        key,
        subscribe: () => ({ type: 'subscribe', channel: key }),
        unsubscribe: () => ({ type: 'unsubscribe', channel: key }),
        matches: (m: Publish) => m.channel === key,
      });
      const a = socket.channel(channel('a')).subscribe();
      const b = socket.channel(channel('b')).subscribe();
      scheduler.schedule(() => b.unsubscribe(), 5);
      scheduler.schedule(() => a.unsubscribe(), 10); // the last one: the socket closes
      scheduler.flush();
      expect(server.sent.map((s) => [s.frame, (s.data as Publish).type, (s.data as Publish).channel])).toEqual([
        [1, 'subscribe', 'a'],
        [1, 'subscribe', 'b'],
        [5, 'unsubscribe', 'b'],
        [10, 'unsubscribe', 'a'],
      ]);
      expect(server.closeRequests).toEqual([{ frame: 10, connection: 0, code: 4000, reason: 'reconnect' }]);
    });
  });
});
