import { type SchedulerLike, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type SocketConfig, connect } from 'rxtether';
import { createFakeServer, createTestSocket, rawFrame } from 'rxtether/testing';

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('createTestSocket', () => {
  // The @example of createTestSocket, as written there.
  it('should reconnect after the backoff and subscribe again', () => {
    const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    testScheduler.run(({ expectObservable }) => {
      const server = createFakeServer(testScheduler, ['-o-a-#', '-o-b'], {
        values: { a: { topic: 'x', n: 1 }, b: { topic: 'x', n: 2 } },
      });
      // Full jitter with random 0.5: the retry waits 5 ms (half of initialDelay).
      const socket = createTestSocket<{ topic: string; n: number }, object>(server, { backoff: { initialDelay: 10 } });
      const x$ = socket.channel({ key: 'x', subscribe: () => ({ sub: 'x' }), matches: (m) => m.topic === 'x' });
      expectObservable(x$).toBe('---a---------b', { a: { topic: 'x', n: 1 }, b: { topic: 'x', n: 2 } });
      server.expectSent().toBe('-s---------s', { s: { sub: 'x' } }); // at 1 and 11
      server.expectConnections().toBe(['^----!', '10ms ^']); // dropped at 5, back at 10
    });
  });

  it('should take random from the config, and call a url function on every attempt', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-#', '-#', '-o']);
      let token = 0;
      const socket = createTestSocket(server, {
        url: () => `ws://test/?token=${++token}`,
        backoff: { initialDelay: 100 },
        random: () => 0.25, // full jitter: 25 of 100, then 50 of 200
      });
      socket.messages$.subscribe(); // connecting before status$ is observed (at 0, by flush)
      const states$ = socket.status$.pipe(map((s) => (s.state === 'reconnecting' ? s.delay : s.state)));
      expectObservable(states$).toBe('cr 24ms cR 49ms co', { c: 'connecting', r: 25, R: 50, o: 'open' });
      scheduler.flush();
      expect(server.connections.map((c) => [c.createdAt, c.url])).toEqual([
        [0, 'ws://test/?token=1'],
        [26, 'ws://test/?token=2'],
        [77, 'ws://test/?token=3'],
      ]);
    });
  });

  it('should replace the socket and scheduler options of a production config, and default to random 0.5 and its own url', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-#', '-o']);
      const forbidden = (): never => {
        throw new Error('a production option was used');
      };
      const production: SocketConfig<unknown, unknown> = {
        url: 'wss://prod.example.com/',
        WebSocketCtor: forbidden as never,
        socketFactory: forbidden,
        scheduler: { now: forbidden, schedule: forbidden } as SchedulerLike,
        backoff: { initialDelay: 1000 },
      };
      const { url: _url, ...withoutUrl } = production;
      const socket = createTestSocket(server, withoutUrl);
      const delays: number[] = [];
      socket.status$.subscribe((s) => s.state === 'reconnecting' && delays.push(s.delay));
      socket.messages$.subscribe();
      scheduler.flush();
      expect(delays).toEqual([500]); // full jitter × 0.5
      expect(server.connections.map((c) => [c.createdAt, c.url])).toEqual([
        [0, 'ws://rxtether.test/'],
        [501, 'ws://rxtether.test/'],
      ]);
    });
  });

  it('should detect a frozen server with the heartbeat, and leave its socket closing', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-o-a~', '-o'], { values: { a: { n: 1 } } });
      const socket = createTestSocket(server, { heartbeat: { timeout: 10 }, backoff: { initialDelay: 10 } });
      // Leave at 26, before the second connection's own deadline (it is silent too).
      expectObservable(socket.messages$, '^ 25ms !').toBe('---a', { a: { n: 1 } });
      // the deadline: 10 ms of silence after 'a' at 3; then 5 ms of backoff
      expectObservable(socket.status$.pipe(map((s) => s.state[0]))).toBe('co 11ms r 4ms co 6ms i');
      server.expectConnections().toBe(['^------------!', '18ms ^-------!']);
      scheduler.flush();
      expect(server.closeRequests).toEqual([
        { frame: 13, connection: 0, code: 4000, reason: 'reconnect' },
        { frame: 26, connection: 1, code: 4000, reason: 'reconnect' },
      ]);
      expect(server.connections[0]!.socket.readyState).toBe(2); // a frozen peer never answers the close
    });
  });

  it('should reject a server that is not a fake server, and a config that is not an object', () => {
    expect(() => createTestSocket({} as never)).toThrow(new TypeError('createTestSocket: server must be the result of createFakeServer(...)'));
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, []);
      expect(() => createTestSocket(server, null as never)).toThrow(new TypeError('createTestSocket: config must be an object'));
      expect(() => createTestSocket(server, { random: 1 as never })).toThrow(/random must be a function/);
    });
  });
});

describe('the @examples of createFakeServer and rawFrame', () => {
  it('should subscribe on open', () => {
    const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    testScheduler.run(({ expectObservable }) => {
      const server = createFakeServer(testScheduler, ['-o-a-b-#'], { values: { a: { n: 1 }, b: { n: 2 } } });
      const messages$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory, handshake: () => [{ op: 'subscribe' }] });
      expectObservable(messages$).toBe('---a-b-#', { a: { n: 1 }, b: { n: 2 } }, expect.objectContaining({ code: 1006 }));
      server.expectSent().toBe('-s', { s: { op: 'subscribe' } });
      server.expectConnections().toBe('^------!');
    });
  });

  it('should skip a frame that is not JSON (the @example of rawFrame)', () => {
    const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    testScheduler.run(({ expectObservable }) => {
      const server = createFakeServer(testScheduler, ['-o-x-a'], { values: { x: rawFrame('{oops'), a: { ok: true } } });
      const messages$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory, onDecodeError: () => {} });
      expectObservable(messages$).toBe('-----a', { a: { ok: true } });
    });
  });
});
