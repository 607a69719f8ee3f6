import { BehaviorSubject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type WebSocketLike, createSocket } from 'rxtether';
import { type FakeServer, createFakeServer, createTestSocket } from 'rxtether/testing';

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
/** Virtual times at which the client created each socket. */
const created = (server: FakeServer) => server.connections.map((c) => c.createdAt);

/** The fake server's sockets with `ws`'s pause()/resume(), each call logged with its time. */
function pausableSockets(server: FakeServer, log: string[]) {
  return (url: string, protocols: string[] | undefined): WebSocketLike =>
    Object.assign(server.socketFactory(url, protocols), {
      pause: () => log.push(`pause@${server.scheduler.now()}`),
      resume: () => log.push(`resume@${server.scheduler.now()}`),
    });
}

describe('createSocket heartbeat with paused', () => {
  it('should still detect a frozen server when the socket cannot pause (browsers, the fake socket)', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      // a message at 3, then silence (~: the server freezes)
      const server = createFakeServer(scheduler, ['-o-a~', '-o'], { values: { a: { n: 1 } } });
      const paused = new BehaviorSubject(true); // a consumer that is behind, from the start
      const socket = createTestSocket(server, { heartbeat: { timeout: 10 }, backoff: { initialDelay: 10 }, paused });
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 25); // before the second socket's own deadline
      scheduler.flush();
      // The socket kept reading: the deadline ran, 10 ms after the message at 3; the retry
      // waits 5 (half of initialDelay), so the second socket comes at 18, as without paused.
      expect(created(server)).toEqual([0, 18]);
    });
  });

  it('should suspend the deadline while a socket with pause() is paused, and count again from the resume', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o-a~', '-o'], { values: { a: { n: 1 } } });
      const log: string[] = [];
      const paused = new BehaviorSubject(true);
      const socket = createSocket({
        url: 'ws://test/',
        socketFactory: pausableSockets(server, log),
        scheduler,
        random: () => 0.5,
        heartbeat: { timeout: 10 },
        backoff: { initialDelay: 10 },
        paused,
      });
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => paused.next(false), 50);
      scheduler.schedule(() => sub.unsubscribe(), 70);
      scheduler.flush();
      // Paused from open (1) to 50: no deadline. From 50: timeout at 60, the next socket at 65.
      expect(log).toEqual(['pause@1', 'resume@50']);
      expect(created(server)).toEqual([0, 65]);
    });
  });

  it.each([false, true])('should keep sending heartbeat.message on its interval (paused from 5: %s)', (behind) => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o']);
      const log: string[] = [];
      const paused = new BehaviorSubject(false);
      const socket = createSocket<unknown, { op: string }>({
        url: 'ws://test/',
        socketFactory: pausableSockets(server, log),
        scheduler,
        heartbeat: { timeout: 1000, interval: 10, message: () => ({ op: 'ping' }) },
        paused,
      });
      const sub = socket.messages$.subscribe();
      if (behind) scheduler.schedule(() => paused.next(true), 5); // the consumer falls behind at 5
      scheduler.schedule(() => sub.unsubscribe(), 45);
      scheduler.flush();
      expect(log).toEqual(behind ? ['pause@5', 'resume@45'] : []);
      // A paused socket still writes: a server that requires the client's heartbeat keeps
      // getting it through a consumer's stall. Silence since the open at 1: pings every 10.
      expect(server.sent.map((s) => [s.frame, s.data])).toEqual([11, 21, 31, 41].map((frame) => [frame, { op: 'ping' }]));
    });
  });

  it('should count ping intervals from the last message that isAlive accepts, asking isAlive once per message', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const values = { d: { type: 'data' }, p: { type: 'pong' } };
      // data at 5 (not alive), a pong at 15
      const server = createFakeServer(scheduler, [{ marbles: '-o---d---------p', values }]);
      const asked: string[] = [];
      const socket = createTestSocket<{ type: string }, { type: string }>(server, {
        heartbeat: {
          timeout: 30,
          interval: 10,
          message: () => ({ type: 'ping' }),
          isAlive: (m) => (asked.push(m.type), m.type === 'pong'),
        },
      });
      const sub = socket.messages$.subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 40);
      scheduler.flush();
      // pings 10 after open (11), then 10 and 20 after the pong (25, 35); no timeout
      expect(server.sent.map((s) => s.frame)).toEqual([11, 25, 35]);
      expect(created(server)).toEqual([0]);
      expect(asked).toEqual(['data', 'pong']);
    });
  });

  it('should reject a heartbeat interval that is not below its timeout', () => {
    const heartbeat = { timeout: 10, interval: 10, message: () => 'ping' };
    expect(() => createSocket({ url: 'ws://test/', heartbeat })).toThrow(RangeError);
    expect(() => createSocket({ url: 'ws://test/', heartbeat })).toThrow(/heartbeat\.interval/);
  });
});
