import { type RxSocket, type SocketConfig, createSocket } from '../client.js';
import type { FakeServer } from './fakeServer.js';

/**
 * Options of {@link createTestSocket}: those of `createSocket`, without what the test kit
 * sets (`socketFactory`, `WebSocketCtor`, `scheduler`), and with defaults for `url` and
 * `random`. A production `SocketConfig` object fits as it is.
 *
 * @example
 * ```ts
 * import type { SocketConfig } from 'rxtether';
 * import { type FakeServer, createTestSocket } from 'rxtether/testing';
 *
 * declare const server: FakeServer;
 * declare const productionConfig: SocketConfig<unknown, unknown>; // url, backoff, heartbeat, session…
 * const socket = createTestSocket(server, productionConfig); // the same options, on fake sockets and virtual time
 * ```
 */
export interface TestSocketConfig<In, Out> extends Omit<SocketConfig<In, Out>, 'url' | 'socketFactory' | 'WebSocketCtor' | 'scheduler' | 'random'> {
  /**
   * Recorded in {@link FakeConnection.url}; a function is called on every attempt, as in production.
   * @defaultValue `'ws://rxtether.test/'`
   */
  readonly url?: SocketConfig<In, Out>['url'];
  /**
   * The jitter source. Fixed, so that every backoff delay is known: with the default full
   * jitter and `0.5`, attempt *n* waits half of `initialDelay × factor^(n−1)`.
   * @defaultValue `() => 0.5`
   */
  readonly random?: () => number;
}

const DEFAULT_URL = 'ws://rxtether.test/';
const half = (): number => 0.5;

/**
 * `createSocket` wired to a {@link createFakeServer} server, for `TestScheduler.run`: its
 * sockets come from the server, its timers run on the server's `TestScheduler`, and its
 * jitter is fixed (`random` is `() => 0.5` unless given), so that reconnects happen at frames
 * you can write in marbles.
 *
 * Pass your production options: `socketFactory`, `WebSocketCtor` and `scheduler` in them are
 * replaced.
 *
 * @example
 * ```ts
 * import { createFakeServer, createTestSocket } from 'rxtether/testing';
 * import { TestScheduler } from 'rxjs/testing';
 * import { expect, it } from 'vitest';
 *
 * it('should reconnect after the backoff and subscribe again', () => {
 *   const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
 *   testScheduler.run(({ expectObservable }) => {
 *     const server = createFakeServer(testScheduler, ['-o-a-#', '-o-b'], {
 *       values: { a: { topic: 'x', n: 1 }, b: { topic: 'x', n: 2 } },
 *     });
 *     // Full jitter with random 0.5: the retry waits 5 ms (half of initialDelay).
 *     const socket = createTestSocket<{ topic: string; n: number }, object>(server, { backoff: { initialDelay: 10 } });
 *     const x$ = socket.channel({ key: 'x', subscribe: () => ({ sub: 'x' }), matches: (m) => m.topic === 'x' });
 *     expectObservable(x$).toBe('---a---------b', { a: { topic: 'x', n: 1 }, b: { topic: 'x', n: 2 } });
 *     server.expectSent().toBe('-s---------s', { s: { sub: 'x' } }); // at 1 and 11
 *     server.expectConnections().toBe(['^----!', '10ms ^']); // dropped at 5, back at 10
 *   });
 * });
 * ```
 *
 * @param server - The fake server the client connects to.
 * @param config - `createSocket`'s options, less those the kit sets.
 * @returns The client, as `createSocket` returns it; nothing connects until something subscribes.
 * @throws TypeError for a `server` that is not one of {@link createFakeServer}'s, and whatever
 *   `createSocket` throws for an invalid option.
 */
export function createTestSocket<In = unknown, Out = unknown>(server: FakeServer, config: TestSocketConfig<In, Out> = {}): RxSocket<In, Out> {
  const s = server as Partial<FakeServer> | null;
  if (typeof s !== 'object' || s === null || typeof s.socketFactory !== 'function' || typeof s.scheduler?.schedule !== 'function') {
    throw new TypeError('createTestSocket: server must be the result of createFakeServer(...)');
  }
  if (typeof config !== 'object' || config === null) throw new TypeError('createTestSocket: config must be an object');
  // Production options may carry these: the kit's win.
  const { WebSocketCtor: _ctor, socketFactory: _factory, scheduler: _scheduler, ...rest } = config as SocketConfig<In, Out>;
  return createSocket<In, Out>({
    ...rest,
    url: config.url ?? DEFAULT_URL,
    socketFactory: server.socketFactory,
    scheduler: server.scheduler,
    random: config.random ?? half,
  });
}
