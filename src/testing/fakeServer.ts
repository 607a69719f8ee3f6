import { Observable, type Subscription, asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { utf8Length } from '../utf8.js';
import type { CloseEventLike, MessageEventLike, WebSocketData, WebSocketLike } from '../webSocketLike.js';
import { RESERVED_CHARS, type ScriptEvent, parseScript } from './script.js';

const WHERE = 'createFakeServer';

/**
 * What a connection's `#` does: the code (and reason) the client sees in its close event.
 *
 * - `1006` (the default) and `1015`: the connection fails, as a network drop, a TCP reset or a
 *   refused connection does. The socket fires `error`, then `close` with `wasClean: false` and
 *   reason `''`. The only kind of end a connection that never opened can have.
 * - `1005`: the server sent a close frame without a code.
 * - `1000`–`1003`, `1007`–`1014`, `3000`–`4999`: the server sent a close frame with this
 *   code and reason (`wasClean: true`).
 *
 * @example
 * ```ts
 * import type { ConnectionScript } from 'rxtether/testing';
 *
 * // The server restarts (1012) 5 ms after the open; the client sees a clean close frame.
 * const restart: ConnectionScript = { marbles: '-o----#', close: { code: 1012, reason: 'restart' } };
 * ```
 */
export interface ScriptedClose {
  readonly code: number;
  /**
   * At most 123 UTF-8 bytes; `''` for 1005, 1006 and 1015.
   * @defaultValue `''`
   */
  readonly reason?: string;
}

/**
 * One connection attempt, as the server plays it, in marbles counted from the moment the client
 * creates the socket (1 ms per character, as in `TestScheduler.run`):
 *
 * | marble | what the server does |
 * |---|---|
 * | `o` | accepts: the socket opens (`readyState` 1, then `open`) |
 * | a key of `values` | sends that message (after `o` only) |
 * | `#` | ends the connection as `close` says (default: fails with 1006) |
 * | `~` | freezes: sends nothing more and never answers the client's close frame |
 * | `-`, ` `, `(ab)`, `10ms` | time, as in rxjs marbles |
 *
 * A script that just ends leaves the connection open and silent; the server still answers a
 * close frame. `'--#'` is a refused connection, `'---'` (or `'~'`) one that never opens.
 *
 * @example
 * ```ts
 * import type { ConnectionScript } from 'rxtether/testing';
 *
 * const scripts: ConnectionScript[] = [
 *   { marbles: '--#' }, //                                refused (1006) at 2
 *   { marbles: '-o-a 100ms ~', values: { a: { n: 1 } } }, // opens, one message, then a frozen peer
 *   { marbles: '-o-#', close: { code: 4401, reason: 'token expired' } },
 *   { marbles: '-o', protocol: 'v2' }, //                  opens with subprotocol v2, stays open
 * ];
 * ```
 */
export interface ConnectionScript {
  /** The marbles, e.g. `'-o-a-b--#'`. */
  readonly marbles: string;
  /** Messages of this connection, over the server's `values`. */
  readonly values?: Readonly<Record<string, unknown>>;
  /**
   * What `#` does.
   * @defaultValue `{ code: 1006 }`: the connection fails
   */
  readonly close?: ScriptedClose;
  /**
   * The subprotocol the server selects when it opens. A protocol the client did not offer fails
   * the connection (1006), as browsers do.
   * @defaultValue `''`: none
   */
  readonly protocol?: string;
}

/**
 * Wraps a frame to send exactly as given, bypassing `encode`: a text frame that is not JSON (to
 * test decode errors) or binary data.
 *
 * @example
 * ```ts
 * import { connect } from 'rxtether';
 * import { createFakeServer, rawFrame } from 'rxtether/testing';
 * import { TestScheduler } from 'rxjs/testing';
 * import { expect, it } from 'vitest';
 *
 * it('should skip a frame that is not JSON', () => {
 *   const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
 *   testScheduler.run(({ expectObservable }) => {
 *     const server = createFakeServer(testScheduler, ['-o-x-a'], { values: { x: rawFrame('{oops'), a: { ok: true } } });
 *     const messages$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory, onDecodeError: () => {} });
 *     expectObservable(messages$).toBe('-----a', { a: { ok: true } });
 *   });
 * });
 * ```
 *
 * @param data - The frame: a string is sent as a text frame, binary data as a binary frame.
 * @returns A marker for a script's `values`.
 */
export function rawFrame(data: string | ArrayBuffer | ArrayBufferView): RawFrame {
  if (typeof data !== 'string' && !isBinary(data)) {
    throw new TypeError(`rawFrame: data must be a string, an ArrayBuffer or an ArrayBufferView, got ${describe(data)}`);
  }
  return { [RAW]: data };
}

const RAW: unique symbol = Symbol.for('rxtether.testing.rawFrame') as never;

/** A frame sent as is, made by {@link rawFrame} (see its example). */
export interface RawFrame {
  readonly [RAW]: string | ArrayBuffer | ArrayBufferView;
}

/**
 * Options of {@link createFakeServer}.
 *
 * @example
 * ```ts
 * import type { FakeServerOptions } from 'rxtether/testing';
 *
 * // A protocol of tab-separated text frames instead of JSON.
 * const options: FakeServerOptions<string[]> = {
 *   values: { a: ['price', 'ACME', '101'] },
 *   encode: (message) => (message as string[]).join('\t'),
 *   decode: (data) => (typeof data === 'string' ? data.split('\t') : []),
 * };
 * ```
 */
export interface FakeServerOptions<Sent = unknown> {
  /** The messages the scripts' characters stand for, shared by every connection. */
  readonly values?: Readonly<Record<string, unknown>>;
  /**
   * Encodes a scripted message into the frame the client receives. Messages are encoded when
   * the server is created, so an error names the character.
   * @defaultValue `JSON.stringify`; `ArrayBuffer` and views are sent as binary frames; a
   * {@link rawFrame} as is
   */
  readonly encode?: (message: unknown) => string | ArrayBuffer | ArrayBufferView;
  /**
   * Decodes what the client sends, for {@link FakeServer.sent} and
   * {@link FakeServer.expectSent}.
   * @defaultValue `JSON.parse` for text frames (the text itself when it is not JSON); binary
   * frames as an `ArrayBuffer` copy
   */
  readonly decode?: (data: string | ArrayBuffer) => Sent;
}

/**
 * A frame the client sent, decoded: an entry of {@link FakeServer.sent}.
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 *
 * declare const server: FakeServer<{ type: string }>;
 * // after scheduler.flush(): the subscribe frames of the second connection, with their times
 * const resubscribed = server.sent.filter((s) => s.connection === 1 && s.data.type === 'subscribe').map((s) => s.frame);
 * ```
 */
export interface SentFrame<Sent = unknown> {
  /** Virtual time of the `send()` call. */
  readonly frame: number;
  /** Index of the connection (0 for the first attempt). */
  readonly connection: number;
  readonly data: Sent;
}

/**
 * A `close()` call of the client on a connecting or open socket: an entry of
 * {@link FakeServer.closeRequests}.
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 * import { expect } from 'vitest';
 *
 * declare const server: FakeServer;
 * // createSocket replaced a dead connection without ending the session: 4000, not 1000
 * expect(server.closeRequests).toEqual([{ frame: 13, connection: 0, code: 4000, reason: 'reconnect' }]);
 * ```
 */
export interface RequestedClose {
  /** Virtual time of the call. */
  readonly frame: number;
  /** Index of the connection. */
  readonly connection: number;
  /** `undefined` when `close()` was called without a code (rxtether does so to abort a connecting socket). */
  readonly code: number | undefined;
  readonly reason: string | undefined;
}

/**
 * The fake socket: the part of the browser `WebSocket` rxtether uses (`on…` handlers, not
 * `addEventListener`), with the browser's `readyState` transitions, event order and errors
 * (see {@link createFakeServer}).
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 * import { expect } from 'vitest';
 *
 * declare const server: FakeServer;
 * expect(server.connections[0]?.socket.readyState).toBe(2); // CLOSING: the frozen peer never answered
 * ```
 */
export interface FakeWebSocket extends WebSocketLike {
  /** The URL the client passed. */
  readonly url: string;
  /** Always `''`. */
  readonly extensions: string;
  /** Always `0`: the fake sends at once. */
  readonly bufferedAmount: number;
}

/**
 * A constructor for `WebSocketCtor`: `new server.WebSocket(url, protocols)` is the next
 * connection.
 *
 * @example
 * ```ts
 * import { connect } from 'rxtether';
 * import type { FakeServer } from 'rxtether/testing';
 *
 * declare const server: FakeServer;
 * const messages$ = connect({ url: 'ws://test/', WebSocketCtor: server.WebSocket });
 * ```
 */
export interface FakeWebSocketConstructor {
  new (url: string | URL, protocols?: string | readonly string[]): FakeWebSocket;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/**
 * One connection the client made: an entry of {@link FakeServer.connections}.
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 * import { expect } from 'vitest';
 *
 * declare const server: FakeServer;
 * // every reconnect read a fresh token
 * expect(server.connections.map((c) => c.url)).toEqual(['ws://test/?token=1', 'ws://test/?token=2']);
 * ```
 */
export interface FakeConnection {
  /** 0 for the first attempt. */
  readonly index: number;
  readonly url: string;
  /** The subprotocols the client offered. */
  readonly protocols: readonly string[];
  /** Virtual time at which the client created the socket. */
  readonly createdAt: number;
  /** Virtual time at which the client closed the socket or the server ended it; `undefined` while it lasts. */
  readonly endedAt: number | undefined;
  /** The socket, e.g. to read its `readyState`. */
  readonly socket: FakeWebSocket;
}

/**
 * What {@link FakeServer.expectSent} asserts.
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 *
 * declare const server: FakeServer<{ type: string }>;
 * server.expectSent({ connection: 1, filter: (m) => m.type === 'subscribe' }).toBe('10ms s', { s: { type: 'subscribe' } });
 * ```
 */
export interface ExpectSentOptions<Sent = unknown> {
  /** Only the frames of this connection (its index). */
  readonly connection?: number;
  /** Only the frames this returns `true` for, e.g. `(m) => m.type === 'subscribe'`. */
  readonly filter?: (data: Sent) => boolean;
}

/**
 * The server of {@link createFakeServer}: sockets for the client, and what the client did
 * with them, as records (read them after `flush()`) and as marble assertions (set them up
 * before, as `expectObservable`).
 *
 * @example
 * ```ts
 * import type { FakeServer } from 'rxtether/testing';
 *
 * declare const server: FakeServer;
 * server.expectConnections().toBe(['^----!', '10ms ^']); // a drop at 5, a new socket at 10
 * server.expectSent().toBe('-s---------s', { s: { type: 'subscribe', channel: 'x' } });
 * ```
 */
export interface FakeServer<Sent = unknown> {
  /** Pass as `socketFactory` to `connect` or `createSocket`: every call is the next connection and plays the next script. */
  readonly socketFactory: (url: string | URL, protocols?: string | readonly string[]) => FakeWebSocket;
  /** The same as a constructor, for `WebSocketCtor`. */
  readonly WebSocket: FakeWebSocketConstructor;
  /** The `TestScheduler` the server plays in. */
  readonly scheduler: TestScheduler;
  /** Every connection the client made, in order. */
  readonly connections: readonly FakeConnection[];
  /** Every frame the client sent on an open socket (a frozen server's too), decoded, in order. */
  readonly sent: readonly SentFrame<Sent>[];
  /** Every `close()` the client called on a connecting or open socket, in order. */
  readonly closeRequests: readonly RequestedClose[];
  /**
   * Asserts, when the scheduler flushes, the frames the client sends as a marble diagram, like
   * `expectObservable`: each frame is a value at the virtual time of its `send()`. Call it
   * before `flush()`, as `expectObservable`.
   */
  expectSent(options?: ExpectSentOptions<Sent>): { toBe(marbles: string, values?: Readonly<Record<string, unknown>>): void };
  /**
   * Asserts, when the scheduler flushes, the life of every connection, like
   * `expectSubscriptions`: `^` when the client created the socket, `!` when the client closed
   * it or the server ended it.
   */
  expectConnections(): { toBe(marbles: string | readonly string[]): void };
}

interface Script {
  readonly events: readonly ScriptEvent[];
  readonly frames: ReadonlyMap<string, string | ArrayBuffer>;
  readonly close: Required<ScriptedClose>;
  readonly protocol: string | undefined;
}

type SubscriptionLog = ReturnType<typeof TestScheduler.parseMarblesAsSubscriptions>;

/**
 * A fake WebSocket server for marble tests of code that uses rxtether, inside
 * `TestScheduler.run`: no real socket, no real time. Each connection the client makes plays
 * the next of `scripts`; the server records what the client sent (decoded, with
 * its virtual time and connection index) and the closes it asked for.
 *
 * The sockets behave like a browser's: `readyState` 0 → 1 on `o`; a failure (`#` with 1006)
 * sets 3 and fires `error` then `close`; `close()` sets 2 at once and fires `close` later in
 * the same frame (never, if the server froze); `close()` while connecting fails the
 * connection (1006); `send()` while connecting throws an `InvalidStateError`, after `close()`
 * it is silently discarded; `close()` with a code other than 1000 or 3000–4999 throws an
 * `InvalidAccessError`. Messages are delivered only while open.
 *
 * A connection beyond the scripts throws a `RangeError` from the socket factory and fails
 * `flush()`: script every attempt the client makes (a last `'-o'` stays open), or unsubscribe
 * before it.
 *
 * @example
 * ```ts
 * import { connect } from 'rxtether';
 * import { createFakeServer } from 'rxtether/testing';
 * import { TestScheduler } from 'rxjs/testing';
 * import { expect, it } from 'vitest';
 *
 * it('should subscribe on open', () => {
 *   const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
 *   testScheduler.run(({ expectObservable }) => {
 *     const server = createFakeServer(testScheduler, ['-o-a-b-#'], { values: { a: { n: 1 }, b: { n: 2 } } });
 *     const messages$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory, handshake: () => [{ op: 'subscribe' }] });
 *     expectObservable(messages$).toBe('---a-b-#', { a: { n: 1 }, b: { n: 2 } }, expect.objectContaining({ code: 1006 }));
 *     server.expectSent().toBe('-s', { s: { op: 'subscribe' } });
 *     server.expectConnections().toBe('^------!');
 *   });
 * });
 * ```
 *
 * @param scheduler - The `TestScheduler` whose `run()` is under way.
 * @param scripts - One script per connection attempt, in order: marbles, or a
 *   {@link ConnectionScript} for per-connection values, close code or subprotocol.
 * @param options - Messages shared by every script, and how frames are encoded and decoded.
 * @returns The server: `socketFactory`/`WebSocket` for the client, records and assertions.
 * @throws TypeError outside `TestScheduler.run`, for marbles a server could not play (an
 *   unknown character, a message before `o`, anything after `#`) or a message `encode` cannot
 *   encode; RangeError for an invalid close code or reason. Messages name the argument.
 * @see createTestSocket to run `createSocket` against it.
 */
export function createFakeServer<Sent = unknown>(
  scheduler: TestScheduler,
  scripts: ReadonlyArray<string | ConnectionScript>,
  options: FakeServerOptions<Sent> = {},
): FakeServer<Sent> {
  const s = scheduler as Partial<TestScheduler> | null;
  if (typeof s !== 'object' || s === null || typeof s.expectObservable !== 'function' || typeof s.expectSubscriptions !== 'function' || typeof s.schedule !== 'function') {
    throw new TypeError(`${WHERE}: scheduler must be a TestScheduler, got ${describe(scheduler)}`);
  }
  if (TestScheduler.frameTimeFactor !== 1 || asyncScheduler.now() !== scheduler.now()) {
    throw new TypeError(`${WHERE}: call it inside scheduler.run(...): scripts count 1 ms per character, as marbles do there`);
  }
  if (!Array.isArray(scripts)) {
    throw new TypeError(`${WHERE}: scripts must be an array (one script per connection attempt), got ${describe(scripts)}`);
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`${WHERE}: options must be an object, got ${describe(options)}`);
  const { encode, decode = defaultDecode as (data: string | ArrayBuffer) => Sent } = options;
  if (encode !== undefined && typeof encode !== 'function') throw new TypeError(`${WHERE}: options.encode must be a function`);
  if (typeof decode !== 'function') throw new TypeError(`${WHERE}: options.decode must be a function`);
  checkValues(options.values, 'options.values');
  const plays = scripts.map((script, i) => normalizeScript(script, i, options.values, encode));

  const sent: SentFrame<Sent>[] = [];
  const closeRequests: RequestedClose[] = [];
  const records: FakeConnection[] = [];
  const logs: SubscriptionLog[] = [];
  const listeners = new Set<(frame: SentFrame<Sent>) => void>();

  function newConnection(url: string | URL, protocols?: string | readonly string[]): FakeWebSocket {
    const index = records.length;
    const script = plays[index];
    if (!script) {
      const error = new RangeError(
        `${WHERE}: scripts has ${plays.length} script${plays.length === 1 ? '' : 's'}, none for connection ${index} ` +
          `(attempt ${index + 1}); add one, or end the test before the client reconnects`,
      );
      // Thrown to the client, and again from flush(), so that the test fails whatever the client does with it.
      scheduler.schedule(() => {
        throw error;
      });
      throw error;
    }
    const offered = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols];
    const createdAt = scheduler.now();
    const log = TestScheduler.parseMarblesAsSubscriptions(null);
    log.subscribedFrame = createdAt;
    logs.push(log);
    let readyState = 0;
    let protocol = '';
    let binaryType = 'blob';
    let frozen = false;
    let endedAt: number | undefined;
    const timers: Subscription[] = [];

    /** The connection is over for the script: cancel what is left of it. */
    function finish(): void {
      if (endedAt === undefined) {
        endedAt = scheduler.now();
        log.unsubscribedFrame = endedAt;
      }
      for (const timer of timers.splice(0)) timer.unsubscribe();
    }

    function fireClose(code: number, reason: string, wasClean: boolean): void {
      readyState = 3;
      if (!wasClean) socket.onerror?.({ type: 'error', target: socket });
      const event: CloseEventLike & { type: string; target: FakeWebSocket } = { type: 'close', target: socket, code, reason, wasClean };
      socket.onclose?.(event);
    }

    function play(event: ScriptEvent): void {
      switch (event.kind) {
        case 'open':
          if (readyState !== 0) return;
          if (script!.protocol !== undefined && script!.protocol !== '' && !offered.includes(script!.protocol)) {
            finish();
            return fireClose(1006, '', false);
          }
          readyState = 1;
          protocol = script!.protocol ?? '';
          socket.onopen?.({ type: 'open', target: socket });
          return;
        case 'message': {
          if (readyState !== 1) return;
          const frame = script!.frames.get(event.key)!;
          const data = typeof frame === 'string' ? frame : binaryType === 'blob' && typeof Blob === 'function' ? new Blob([frame]) : frame.slice(0);
          const message: MessageEventLike & { type: string; target: FakeWebSocket } = { type: 'message', target: socket, data };
          socket.onmessage?.(message);
          return;
        }
        case 'close': {
          if (readyState >= 2) return;
          finish();
          const { code, reason } = script!.close;
          return fireClose(code, reason, !isAbnormal(code));
        }
        case 'freeze':
          frozen = true;
          return;
      }
    }

    const socket: FakeWebSocket = {
      url: String(url),
      extensions: '',
      bufferedAmount: 0,
      get readyState() {
        return readyState;
      },
      get protocol() {
        return protocol;
      },
      get binaryType() {
        return binaryType;
      },
      set binaryType(value: string) {
        // As browsers do, an unknown type is ignored.
        if (value === 'blob' || value === 'arraybuffer') binaryType = value;
      },
      onopen: null,
      onmessage: null,
      onerror: null,
      onclose: null,
      send(data: WebSocketData): void {
        if (readyState === 0) throw domException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
        // Browsers discard data sent after close() without an error.
        if (readyState !== 1) return;
        const record: SentFrame<Sent> = { frame: scheduler.now(), connection: index, data: decode(toFrame(data)) };
        sent.push(record);
        for (const listener of [...listeners]) listener(record);
      },
      close(code?: number, reason?: string): void {
        if (code !== undefined && (!Number.isInteger(code) || (code !== 1000 && (code < 3000 || code > 4999)))) {
          throw domException(
            `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${String(code)} is neither.`,
            'InvalidAccessError',
          );
        }
        if (reason !== undefined && utf8Length(String(reason)) > 123) {
          throw domException("Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.", 'SyntaxError');
        }
        if (readyState >= 2) return;
        closeRequests.push({ frame: scheduler.now(), connection: index, code, reason: reason === undefined ? undefined : String(reason) });
        const wasConnecting = readyState === 0;
        readyState = 2;
        finish();
        // The close event comes later, in the same frame: the peer's answer, or the browser
        // failing a connection that had not opened (which needs no answer).
        if (wasConnecting) scheduler.schedule(() => fireClose(1006, '', false));
        else if (!frozen) scheduler.schedule(() => fireClose(code ?? 1005, reason === undefined ? '' : String(reason), true));
      },
    };

    const byFrame = new Map<number, ScriptEvent[]>();
    for (const event of script.events) {
      const list = byFrame.get(event.frame) ?? [];
      list.push(event);
      byFrame.set(event.frame, list);
    }
    for (const [frame, events] of byFrame) {
      timers.push(
        scheduler.schedule(() => {
          for (const event of events) {
            if (endedAt !== undefined) return;
            play(event);
          }
        }, frame),
      );
    }
    records.push({
      index,
      url: socket.url,
      protocols: offered,
      createdAt,
      get endedAt() {
        return endedAt;
      },
      socket,
    });
    return socket;
  }

  const WebSocket = function FakeWebSocket(this: unknown, url: string | URL, protocols?: string | readonly string[]) {
    if (new.target === undefined) throw new TypeError("Failed to construct 'WebSocket': Please use the 'new' operator.");
    return newConnection(url, protocols);
  } as unknown as FakeWebSocketConstructor;
  Object.assign(WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });

  return {
    socketFactory: (url, protocols) => newConnection(url, protocols),
    WebSocket,
    scheduler,
    connections: records,
    sent,
    closeRequests,
    expectSent(expectOptions: ExpectSentOptions<Sent> = {}) {
      if (typeof expectOptions !== 'object' || expectOptions === null) {
        throw new TypeError(`${WHERE}: expectSent(options): options must be an object, got ${describe(expectOptions)}`);
      }
      const { connection, filter } = expectOptions;
      if (connection !== undefined && !(Number.isInteger(connection) && connection >= 0)) {
        throw new RangeError(`${WHERE}: expectSent(options): options.connection must be a connection index (an integer ≥ 0), got ${String(connection)}`);
      }
      if (filter !== undefined && typeof filter !== 'function') throw new TypeError(`${WHERE}: expectSent(options): options.filter must be a function`);
      const wanted = (frame: SentFrame<Sent>): boolean =>
        (connection === undefined || frame.connection === connection) && (filter === undefined || filter(frame.data));
      const now = scheduler.now();
      const missed = sent.find((frame) => frame.frame < now && wanted(frame));
      if (missed) {
        throw new Error(
          `${WHERE}: expectSent() called at frame ${now}, after the client sent at frame ${missed.frame}: ` +
            'call it before flush(), as expectObservable (or assert server.sent)',
        );
      }
      // Subscribed at this frame by expectObservable: replays what was sent in it already.
      const sent$ = new Observable<Sent>((subscriber) => {
        for (const frame of sent) if (wanted(frame)) subscriber.next(frame.data);
        const listener = (frame: SentFrame<Sent>): void => {
          if (wanted(frame)) subscriber.next(frame.data);
        };
        listeners.add(listener);
        return () => listeners.delete(listener);
      });
      const expectation = scheduler.expectObservable(sent$);
      return { toBe: (marbles, values) => expectation.toBe(marbles, values) };
    },
    expectConnections() {
      const expectation = scheduler.expectSubscriptions(logs);
      return { toBe: (marbles) => expectation.toBe(typeof marbles === 'string' ? marbles : [...marbles]) };
    },
  };
}

function normalizeScript(
  input: string | ConnectionScript,
  i: number,
  shared: Readonly<Record<string, unknown>> | undefined,
  encode: FakeServerOptions['encode'],
): Script {
  const where = `${WHERE}: scripts[${i}]`;
  const script: ConnectionScript = typeof input === 'string' ? { marbles: input } : input;
  if (typeof script !== 'object' || script === null) {
    throw new TypeError(`${where} must be marbles or { marbles, values?, close?, protocol? }, got ${describe(input)}`);
  }
  checkValues(script.values, `scripts[${i}].values`);
  const values = { ...shared, ...script.values };
  const events = parseScript(script.marbles, (c) => Object.prototype.hasOwnProperty.call(values, c), where);
  const close = checkClose(script.close, `scripts[${i}].close`);
  if (!isAbnormal(close.code) && events.some((e) => e.kind === 'close') && !events.some((e) => e.kind === 'open')) {
    throw new RangeError(
      `${WHERE}: scripts[${i}].close.code ${close.code} needs an 'o' before '#': a connection that never opened can only fail (1006)`,
    );
  }
  if (script.protocol !== undefined && typeof script.protocol !== 'string') {
    throw new TypeError(`${WHERE}: scripts[${i}].protocol must be a string, got ${describe(script.protocol)}`);
  }
  const frames = new Map<string, string | ArrayBuffer>();
  for (const event of events) {
    if (event.kind === 'message' && !frames.has(event.key)) {
      frames.set(event.key, encodeMessage(values[event.key], encode, `${where}: message '${event.key}'`));
    }
  }
  return { events, frames, close, protocol: script.protocol };
}

function checkValues(values: unknown, name: string): void {
  if (values === undefined) return;
  if (typeof values !== 'object' || values === null) throw new TypeError(`${WHERE}: ${name} must be an object, got ${describe(values)}`);
  for (const c of RESERVED_CHARS) {
    if (Object.prototype.hasOwnProperty.call(values, c)) {
      throw new TypeError(`${WHERE}: ${name} cannot use '${c}': it has a meaning of its own in a connection's marbles`);
    }
  }
}

function checkClose(close: ScriptedClose | undefined, name: string): Required<ScriptedClose> {
  if (close === undefined) return { code: 1006, reason: '' };
  if (typeof close !== 'object' || close === null) throw new TypeError(`${WHERE}: ${name} must be { code, reason? }, got ${describe(close)}`);
  const { code, reason = '' } = close;
  if (typeof code !== 'number') throw new TypeError(`${WHERE}: ${name}.code must be a number, got ${describe(code)}`);
  const valid = Number.isInteger(code) && ((code >= 1000 && code <= 1015 && code !== 1004) || (code >= 3000 && code <= 4999));
  if (!valid) {
    throw new RangeError(`${WHERE}: ${name}.code must be 1000–1003, 1005–1015 or 3000–4999 (a code a client can receive), got ${String(code)}`);
  }
  if (typeof reason !== 'string') throw new TypeError(`${WHERE}: ${name}.reason must be a string, got ${describe(reason)}`);
  if (reason !== '' && (code === 1005 || isAbnormal(code))) {
    throw new RangeError(`${WHERE}: ${name}.reason must be '' with code ${code}: no close frame carries it`);
  }
  if (utf8Length(reason) > 123) throw new RangeError(`${WHERE}: ${name}.reason must be at most 123 UTF-8 bytes, got ${utf8Length(reason)}`);
  return { code, reason };
}

/** 1006 and 1015 are never sent in a close frame: they report a connection that failed. */
function isAbnormal(code: number): boolean {
  return code === 1006 || code === 1015;
}

function encodeMessage(value: unknown, encode: FakeServerOptions['encode'], where: string): string | ArrayBuffer {
  let data: unknown;
  const raw = typeof value === 'object' && value !== null && RAW in value ? (value as { [RAW]: unknown })[RAW] : undefined;
  if (raw !== undefined) data = raw;
  else if (encode) data = encode(value);
  else if (isBinary(value)) data = value;
  else {
    data = JSON.stringify(value);
    if (data === undefined) throw new TypeError(`${where}: ${describe(value)} cannot be encoded as JSON; use options.encode or rawFrame()`);
  }
  if (typeof data === 'string') return data;
  if (isBinary(data)) return copyBytes(data);
  throw new TypeError(`${where}: options.encode must return a string or binary data, got ${describe(data)}`);
}

function defaultDecode(data: string | ArrayBuffer): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** What the server receives: text as is, binary data as an ArrayBuffer copy, anything else as its string (as browsers send it). */
function toFrame(data: unknown): string | ArrayBuffer {
  if (typeof data === 'string') return data;
  if (isBinary(data)) return copyBytes(data);
  return String(data);
}

function isBinary(value: unknown): value is ArrayBufferLike | ArrayBufferView {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)
  );
}

function copyBytes(data: ArrayBufferLike | ArrayBufferView): ArrayBuffer {
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  return bytes.slice().buffer;
}

function domException(message: string, name: string): Error {
  if (typeof DOMException === 'function') return new DOMException(message, name);
  return Object.assign(new Error(message), { name });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : typeof value;
}
