import { Subject, config as rxjsConfig, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type ConnectionCloseInfo,
  HeartbeatTimeoutError,
  connect,
  createResumeCursor,
  heartbeatTimeout,
  resumeFrom,
  retryWithJitteredBackoff,
} from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { startServer } from '../helpers/server.js';

// rxjs 7's deprecated `config.useDeprecatedNextContext` (still honoured, for apps coming from
// rxjs 6) calls a subscribed observer's methods on an object that inherits from it. rxtether's
// per-subscription objects keep their state in fields: each must be subscribed through an
// observer that only reads, or its writes land on that copy and are lost.

const defer = useDisposer();

afterEach(() => {
  rxjsConfig.useDeprecatedNextContext = false;
});

const createTestScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

describe('with rxjs useDeprecatedNextContext', () => {
  it('connect: an outgoing error ends the connection with onClose called exactly once', async () => {
    rxjsConfig.useDeprecatedNextContext = true;
    const s = await startServer();
    defer(() => s.close());
    const closes: ConnectionCloseInfo[] = [];
    const outgoing = new Subject<unknown>();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing, onOpen: () => opened(), onClose: (i) => closes.push(i) }));
    await s.connections.next();
    await open;
    const boom = new Error('boom');
    outgoing.error(boom);
    expect(await o.error).toBe(boom);
    expect(closes.map((c) => [c.code, c.error === boom])).toEqual([[1006, true]]);
  });

  it('connect: a value sent just before unsubscribe reaches the server, then close 1000', async () => {
    rxjsConfig.useDeprecatedNextContext = true;
    const s = await startServer();
    defer(() => s.close());
    const outgoing = new Subject<unknown>();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing, closeTimeout: 5_000, onOpen: () => opened() }));
    const conn = await s.connections.next();
    await open;
    outgoing.next({ n: 1 });
    o.subscription.unsubscribe();
    // Written in order: the frame, then the close frame (a lost `corked` would hold both).
    expect(await conn.messages.next()).toBe('{"n":1}');
    expect(await conn.closed).toEqual({ code: 1000, reason: '' });
  });

  it('heartbeatTimeout: values still restart the deadline', () => {
    rxjsConfig.useDeprecatedNextContext = true;
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('5ms a 5ms b 9ms c');
      expectObservable(source.pipe(heartbeatTimeout(10))).toBe('5ms a 5ms b 9ms c 9ms #', undefined, new HeartbeatTimeoutError(10, 10));
    });
  });

  it('resumeFrom: replayed values are still dropped', () => {
    rxjsConfig.useDeprecatedNextContext = true;
    createTestScheduler().run(({ cold, expectObservable }) => {
      const cursor = createResumeCursor({ cursorOf: (n: number) => n });
      // Two subscriptions in turn, as two connections: the second replays 2 and 3.
      const values = { 1: 1, 2: 2, 3: 3, 4: 4 };
      expectObservable(cold('1 2 3|', values).pipe(resumeFrom(cursor))).toBe('1 2 3|', values);
      expectObservable(cold('2 3 4|', values).pipe(resumeFrom(cursor)), '10ms ^').toBe('10ms --4|', values);
    });
  });

  it('retryWithJitteredBackoff: the attempt counter still resets after a value', () => {
    rxjsConfig.useDeprecatedNextContext = true;
    createTestScheduler().run(({ cold, expectObservable }) => {
      // Each attempt emits then fails: with the counter reset by the value, every retry waits
      // the initial delay (10 ms); a lost reset would double it each time.
      const source = cold('a#');
      expectObservable(
        source.pipe(retryWithJitteredBackoff({ initialDelay: 10, maxDelay: 1_000, jitter: 'none', resetOnValue: true }), take(4)),
      ).toBe('a 10ms a 10ms a 10ms (a|)');
    });
  });

  it('retryWithJitteredBackoff: unsubscribing ends the attempt that is running', () => {
    rxjsConfig.useDeprecatedNextContext = true;
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 5ms #');
      expectObservable(source.pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none' })), '^ 19ms !').toBe('a 15ms a');
      // The retry runs from the failed attempt's error: its subscription must be the one
      // the teardown ends (at 20 ms), not left to run.
      expectSubscriptions(source.subscriptions).toBe(['^ 5ms !', '16ms ^ 3ms !']);
    });
  });
});
