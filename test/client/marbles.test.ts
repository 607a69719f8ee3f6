import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type SocketStatus, createSocket } from '../../src/index.js';
import { scriptedSockets } from '../helpers/scriptedSocket.js';

interface Frame {
  readonly type: string;
  readonly channel?: string;
  readonly n?: number;
}

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('createSocket in virtual time', () => {
  it('should reconnect on the backoff schedule, replay channels at open, and report each status', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const sockets = scriptedSockets(scheduler, cold, [
        { marbles: '-o-a--#', values: { a: { type: 'msg', channel: 'x', n: 1 } } }, // drops at 6 (1006)
        { marbles: '-o-b', values: { b: { type: 'msg', channel: 'x', n: 2 } } },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: sockets.factory,
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
      expect(sockets.created).toEqual([0, 16]);
      expect(sockets.sent).toEqual([
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
    scheduler.run(({ cold, expectObservable }) => {
      const sockets = scriptedSockets(scheduler, cold, [
        { marbles: '--#' }, // refused: fails at 2
        { marbles: '--#' },
        { marbles: '-o-a--#', values: { a: { type: 'hello' } } }, // healthy (a message), then drops
        { marbles: '-o' },
      ]);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: sockets.factory,
        backoff: { initialDelay: 4, factor: 2, jitter: 'none' },
      });
      const delays: number[] = [];
      socket.status$.subscribe((st) => st.state === 'reconnecting' && delays.push(st.delay));
      expectObservable(socket.messages$, '^ 60ms !').toBe('19ms a', { a: { type: 'hello' } });
      scheduler.flush();
      // fail at 2 → wait 4 → attempt at 6, fail at 8 → wait 8 → attempt at 16, open 17, 'a' at 19
      // (the counter resets), drop at 22 → wait 4 (not 16) → attempt at 26
      expect(sockets.created).toEqual([0, 6, 16, 26]);
      expect(delays).toEqual([4, 8, 4]);
    });
  });
});
