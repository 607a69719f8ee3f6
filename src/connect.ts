import { Observable, type SchedulerLike, type Subscriber, type Subscription, asyncScheduler } from 'rxjs';
import { assertValidClose } from './closeCodes.js';
import {
  ConnectionClosedError,
  DecodeError,
  HandshakeRejectedError,
  HeartbeatTimeoutError,
  OpenTimeoutError,
} from './errors.js';
import { Link } from './link.js';
import { reportHookError } from './report.js';
import { MAX_TIMER_DELAY, checkFunction, checkMs, checkScheduler } from './validate.js';
import {
  CONNECTING,
  type CloseEventLike,
  type MessageEventLike,
  type NodeWebSocketExtras,
  type PausableSocket,
  OPEN,
  type WebSocketConstructorLike,
  type WebSocketData,
  type WebSocketLike,
  nodeExtras,
} from './webSocketLike.js';

/** A value, or a function called on every subscription (so every reconnect) that returns it. */
export type Resolvable<T> = T | (() => T | PromiseLike<T>);

/** A close frame to send: code 1000 or 3000–4999, reason ≤ 123 UTF-8 bytes. */
export interface CloseRequest {
  /** @defaultValue `1000` */
  readonly code?: number;
  /** @defaultValue `''` */
  readonly reason?: string;
  /**
   * Send the close frame, then terminate the connection at once instead of waiting for the
   * peer's close frame: for a socket being replaced because the peer looks dead. With `ws`,
   * frames sent before it that are not written yet (being compressed by permessage-deflate,
   * or queued behind one that is) are written first: the termination waits for them, at
   * most `closeTimeout`. Where the socket cannot be terminated (browsers), the close frame
   * alone is sent.
   * @defaultValue `false`: wait up to `closeTimeout` for the close handshake
   */
  readonly terminate?: boolean;
}

/** Passed to {@link ConnectConfig.onOpen} and {@link ConnectConfig.handshake}. */
export interface ConnectionOpenInfo {
  /** The subprotocol the server selected, `''` when none. */
  readonly protocol: string;
}

/** Passed to {@link ConnectConfig.onClose} exactly once per subscription, as it ends (see there for when). */
export interface ConnectionCloseInfo {
  /**
   * The close code: from the close event; the code this side sent when the subscriber
   * unsubscribed; 1006 when the attempt was aborted (timeout, error without close).
   */
  readonly code: number;
  /** The close reason, `''` when none. */
  readonly reason: string;
  /** Whether the socket had opened. */
  readonly wasOpen: boolean;
  /**
   * The error the subscriber receives (a {@link ConnectionClosedError},
   * {@link OpenTimeoutError}, …), or `undefined` when the subscriber unsubscribed.
   */
  readonly error: unknown;
}

/** Protocol-level ping/pong settings (Node `ws` only: browsers expose no ping API). */
export interface PingConfig {
  /** Silence, in ms, after which a ping is sent. 1 to 2^31−1. */
  readonly interval: number;
  /** Time, in ms, to wait for a pong (or any frame) after a ping before giving up. 1 to 2^31−1. */
  readonly timeout: number;
}

/**
 * Options of {@link connect}.
 *
 * @typeParam In - Type of decoded incoming messages.
 * @typeParam Out - Type of outgoing messages before `serialize`.
 */
export interface ConnectConfig<In = unknown, Out = unknown> {
  /**
   * The server URL (`ws:`, `wss:`, `http:` or `https:`; no `#fragment`), or a function
   * (sync or async) called on every subscription, so every reconnect can carry a fresh
   * token. An invalid URL is a `TypeError`: thrown by `connect` for a static value, emitted as
   * the error for a function. Error messages never include the URL (tokens ride in it).
   */
  readonly url: Resolvable<string | URL>;
  /** Subprotocols, or a function (sync or async) called on every subscription. */
  readonly protocols?: Resolvable<string | readonly string[]>;
  /**
   * The WebSocket constructor: `ws`'s default export in Node < 22.
   * @defaultValue `globalThis.WebSocket`, read at subscription time
   */
  readonly WebSocketCtor?: WebSocketConstructorLike;
  /**
   * Creates the socket, for options a constructor cannot take (e.g. `ws`'s `headers`,
   * `maxPayload`, `lookup`). Wins over `WebSocketCtor`.
   */
  readonly socketFactory?: (url: string, protocols: string[] | undefined) => WebSocketLike;
  /**
   * Decodes one frame: a `string` for text frames, an `ArrayBuffer` for binary ones.
   * @defaultValue `JSON.parse` for text; binary frames are emitted as their `ArrayBuffer`
   */
  readonly deserialize?: (data: string | ArrayBuffer) => In;
  /**
   * Encodes one outgoing value.
   * @defaultValue `JSON.stringify`
   */
  readonly serialize?: (value: Out) => WebSocketData;
  /**
   * What happens when `deserialize` throws. `'error'` ends the subscription with the
   * {@link DecodeError}; a function receives it and the frame is skipped (the stream
   * survives).
   * @defaultValue a function that logs the error with `console.error`
   */
  readonly onDecodeError?: 'error' | ((error: DecodeError) => void);
  /**
   * Called on every open; the values it returns are sent first, in order, before anything
   * from `outgoing` (authentication, resume request, replayed subscriptions).
   */
  readonly handshake?: (info: ConnectionOpenInfo) => Iterable<Out> | undefined;
  /**
   * Values to send. Subscribed once the socket is open (after `handshake`), unsubscribed when
   * it closes; values it emits while no socket is open are not seen. Its error ends the
   * connection with that error; its completion does not.
   */
  readonly outgoing?: Observable<Out>;
  /**
   * Time, in ms, from subscription (including resolving `url` and `protocols`) to `open`;
   * past it the attempt is aborted with {@link OpenTimeoutError}. 1 to 2^31−1.
   * @defaultValue `10000`
   */
  readonly openTimeout?: number;
  /**
   * Time, in ms, to wait for the peer's close frame after this side closed, and for a
   * `close` event after an `error` event; past it the socket is terminated (where it can be)
   * and the attempt ends. Also the longest a `terminate` close request waits for the frames
   * sent before it to be written. 1 to 2^31−1.
   * @defaultValue `1000`
   */
  readonly closeTimeout?: number;
  /** Protocol ping/pong (`ws` only; ignored by sockets without `ping()`). Off by default. */
  readonly ping?: PingConfig;
  /**
   * Flow control: while the latest value is `true`, reading from the socket is suspended
   * (`ws`'s `pause()`), so TCP flow control pushes back on the server; `false` resumes it
   * (`resume()`). Subscribed when the socket opens, unsubscribed when it closes, like
   * `outgoing`: give an observable that replays its latest value (a `BehaviorSubject`, or
   * `createBackpressure().paused$` from `rxtether/node`) so that the state also applies to the
   * socket of every reconnect. Its error ends the connection with that error; its completion
   * resumes reading. Sockets without `pause()`/`resume()` (browsers, Node's global
   * `WebSocket`) ignore it.
   *
   * - Messages `ws` had already read when it paused are still emitted: at most one socket
   *   read (64 KiB) of frames after the `true`.
   * - While paused, pongs cannot be read either, so the `ping` deadline is suspended and
   *   counts again from the resume. The server's pings go unanswered meanwhile: a server
   *   heartbeat must tolerate a consumer's stall.
   * - Unsubscribing resumes reading first, so that the close handshake completes.
   * - `createSocket` applies it once the session is ready (the handshake is always read),
   *   and suspends its `heartbeat` deadline while the socket is really paused (never for a
   *   socket without `pause()`); `heartbeat.message` keeps going out.
   * @defaultValue none: the socket is always read
   */
  readonly paused?: Observable<boolean>;
  /**
   * The close frame sent when the subscriber unsubscribes from an open socket. A function is
   * called at that moment: return a non-1000 code (e.g. `{ code: 4000 }`) when the socket is
   * being replaced, since gateways invalidate a session closed with 1000/1001.
   * @defaultValue `{ code: 1000, reason: '' }`
   */
  readonly closeOnUnsubscribe?: CloseRequest | (() => CloseRequest);
  /** Called when the socket opens, before `handshake`. */
  readonly onOpen?: (info: ConnectionOpenInfo) => void;
  /**
   * Called exactly once per subscription, synchronously, as the subscription ends, which is
   * not when the connection is gone:
   * - after an error (a close event, a timeout, a refused or failed attempt, a throwing hook),
   *   right after the subscriber received it. After a close event the socket is closed; otherwise
   *   connect has just aborted it (`ws`'s `terminate()`, else `close()`), and the TCP connection
   *   may not be released yet.
   * - on unsubscribe, during the teardown: right after the close frame was sent (`code` is the
   *   one sent), or after the attempt was aborted (`code` 1006) if it had not opened. The close
   *   handshake has not completed (nor `closeTimeout` run out), and the TCP connection is
   *   still held.
   *
   * A throw is reported as unhandled.
   */
  readonly onClose?: (info: ConnectionCloseInfo) => void;
  /**
   * Scheduler for the open, close and ping timers.
   * @defaultValue `asyncScheduler`
   */
  readonly scheduler?: SchedulerLike;
}

/** `closeOnUnsubscribe` by default: code 1000, no reason. */
const DEFAULT_CLOSE: CloseRequest = Object.freeze({});

/** The close code used when an attempt is aborted and the socket cannot be terminated (browsers). */
const ABORT_CODE = 4000;

/** @internal Also thrown by createSocket's own socket factory. */
export const MISSING_WEBSOCKET =
  "connect: no WebSocket implementation: globalThis.WebSocket is undefined (Node < 22). Install 'ws' and pass it: " +
  "import { WebSocket } from 'ws'; connect({ url, WebSocketCtor: WebSocket })";

const noop = (): void => {};

/** `ws`'s send with a callback, called once the frame is written (or could not be). */
interface WsSend {
  send(data: WebSocketData, options: object, cb: (error?: Error) => void): void;
}

/** ws copies its send options: one empty object serves every send. */
const NO_SEND_OPTIONS = {};

/** The `net.Socket` (or `tls.TLSSocket`) under a `ws` client, found on its `upgrade` response. */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

/** A `ws` client, by duck typing: its EventEmitter events then carry what rxtether needs. */
function isWs(socket: WebSocketLike): boolean {
  const s = socket as WebSocketLike & { [name: string]: unknown };
  return ['on', 'removeListener', 'terminate', 'ping', 'pause', 'resume'].every((name) => typeof s[name] === 'function');
}

/**
 * Whether `on`, `removeListener` and `emit` are those of an EventEmitter prototype (Node's, or
 * the `events` package's), not overridden: only then are listeners called with the socket as
 * `this`, which the shared `ws*` listeners need. A wrapper that forwards `on` to an inner
 * socket fails this and gets listeners of its own.
 */
function isPlainEventEmitter(socket: object): boolean {
  const s = socket as { on?: unknown; removeListener?: unknown; emit?: unknown };
  let proto: object | null = Object.getPrototypeOf(socket) as object | null;
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, 'emit')) {
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  const owner = proto as { constructor?: { name?: unknown }; on?: unknown; removeListener?: unknown; emit?: unknown } | null;
  return (
    owner !== null &&
    owner.constructor?.name === 'EventEmitter' &&
    s.on === owner.on &&
    s.removeListener === owner.removeListener &&
    s.emit === owner.emit
  );
}

/**
 * `ws` fails the connection itself when a message exceeds `maxPayload`, then reports close
 * code 1006 although it sent the peer 1009. Recover that code so that the classifier sees it:
 * retried, the same oversize message would be replayed forever. Other protocol failures
 * (invalid UTF-8, bad frames) stay 1006, as browsers report them, so both runtimes handle
 * them alike (a reconnect).
 */
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
};

function protocolErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? WS_ERROR_CLOSE_CODES[code] : undefined;
}
const defaultDecodeErrorHandler = (error: DecodeError): void => console.error(error);
const defaultDeserialize = (data: string | ArrayBuffer): unknown => (typeof data === 'string' ? JSON.parse(data) : data);
const defaultSerialize = (value: unknown): WebSocketData => {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`connect: cannot serialize a value of type ${typeof value} as JSON`);
  return text;
};

/**
 * Opens a WebSocket as a **cold observable**: each subscription opens exactly one socket and
 * emits its decoded messages; unsubscribing closes it (also while it is still connecting)
 * and leaves no socket, timer or listener behind.
 *
 * ```
 * subscribe ──open──a──b──c──(server closes 1006)
 *                   a  b  c  #ConnectionClosedError{code:1006}
 * ```
 *
 * - **Errors**: every close the subscriber did not ask for is an error — a
 *   {@link ConnectionClosedError} with `code`, `reason` and `wasClean` (a server's clean 1000
 *   too, so the retry layer decides), {@link OpenTimeoutError}, {@link HandshakeRejectedError}
 *   (HTTP status and `Retry-After`, Node only), {@link HeartbeatTimeoutError} (missing pong),
 *   or {@link DecodeError} when `onDecodeError` is `'error'`. An `error` event that is never
 *   followed by `close` still ends the attempt after `closeTimeout`.
 * - **Complete**: never; a WebSocket stream ends by unsubscribe or error.
 * - **Unsubscribe**: an open socket is closed with `closeOnUnsubscribe` (1000 by default),
 *   then terminated if the close handshake takes longer than `closeTimeout`; a connecting one
 *   is aborted. Attempts that fail are aborted without waiting for the close handshake
 *   (`ws`'s `terminate()`; elsewhere `close(4000)`).
 *
 * - **Sending** (`ws` in Node, also through `socketFactory`): the frames sent in one tick
 *   (handshake, `outgoing`) are written to the TCP socket together at the end of that tick (a
 *   microtask), in order, as separate frames: one write instead of one per frame. Closing or
 *   terminating writes them first: a termination waits, at most `closeTimeout`, until the
 *   frames sent before it are written (with permessage-deflate, `ws` compresses frames of
 *   1 KiB and more, by default, asynchronously). Browsers and other sockets send each frame
 *   as it comes.
 *
 * Nothing happens until subscribe: importing rxtether or calling `connect` touches no global
 * and starts no timer, so it is safe under server-side rendering.
 *
 * @example
 * ```ts
 * import { connect } from 'rxtether';
 * import { WebSocket } from 'ws'; // Node < 22 only
 *
 * const prices$ = connect<{ symbol: string; price: number }>({
 *   url: () => `wss://example.com/prices?token=${getToken()}`,
 *   WebSocketCtor: WebSocket,
 *   handshake: () => [{ type: 'subscribe', symbol: 'ACME' }],
 * });
 * const sub = prices$.subscribe((p) => console.log(p.symbol, p.price));
 * sub.unsubscribe(); // closes the socket with 1000
 * ```
 *
 * @param config - The connection options, or the URL alone.
 * @returns A cold observable of decoded messages.
 * @throws TypeError or RangeError, synchronously, for an invalid option (named in the message).
 * @see retryWithJitteredBackoff to reconnect, heartbeatTimeout for app-level liveness.
 */
export function connect<In = unknown, Out = unknown>(config: ConnectConfig<In, Out> | string | URL): Observable<In> {
  const c = normalize<In, Out>(typeof config === 'string' || config instanceof URL ? { url: config } : config);
  return new Observable<In>((subscriber) => {
    const connection = new Connection(c, subscriber);
    connection.start();
    return connection;
  });
}

interface Normalized<In, Out> {
  readonly url: ConnectConfig<In, Out>['url'];
  readonly protocols: ConnectConfig<In, Out>['protocols'];
  readonly WebSocketCtor: WebSocketConstructorLike | undefined;
  readonly socketFactory: ConnectConfig<In, Out>['socketFactory'];
  readonly deserialize: (data: string | ArrayBuffer) => In;
  readonly serialize: (value: Out) => WebSocketData;
  readonly onDecodeError: 'error' | ((error: DecodeError) => void);
  readonly handshake: ConnectConfig<In, Out>['handshake'];
  readonly outgoing: Observable<Out> | undefined;
  readonly openTimeout: number;
  readonly closeTimeout: number;
  readonly ping: PingConfig | undefined;
  readonly paused: Observable<boolean> | undefined;
  readonly closeOnUnsubscribe: CloseRequest | (() => CloseRequest);
  readonly onOpen: ((info: ConnectionOpenInfo) => void) | undefined;
  readonly onClose: ((info: ConnectionCloseInfo) => void) | undefined;
  readonly scheduler: SchedulerLike;
}

function normalize<In, Out>(config: ConnectConfig<In, Out>): Normalized<In, Out> {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('connect: expected a config object or a URL string');
  }
  const { url, protocols, openTimeout = 10_000, closeTimeout = 1_000, ping, closeOnUnsubscribe = DEFAULT_CLOSE } = config;
  if (typeof url !== 'function') normalizeUrl(url);
  if (protocols !== undefined && typeof protocols !== 'function') normalizeProtocols(protocols);
  for (const name of ['WebSocketCtor', 'socketFactory', 'deserialize', 'serialize', 'handshake', 'onOpen', 'onClose'] as const) {
    checkFunction('connect', name, config[name]);
  }
  if (config.onDecodeError !== undefined && config.onDecodeError !== 'error') {
    checkFunction('connect', "onDecodeError (or 'error')", config.onDecodeError);
  }
  if (config.outgoing !== undefined && typeof config.outgoing?.subscribe !== 'function') {
    throw new TypeError('connect: outgoing must be an Observable');
  }
  if (config.paused !== undefined && typeof config.paused?.subscribe !== 'function') {
    throw new TypeError('connect: paused must be an Observable<boolean>');
  }
  checkMs('connect', 'openTimeout', openTimeout, 1);
  checkMs('connect', 'closeTimeout', closeTimeout, 1);
  if (ping !== undefined) {
    if (typeof ping !== 'object' || ping === null) throw new TypeError('connect: ping must be { interval, timeout }');
    checkMs('connect', 'ping.interval', ping.interval, 1);
    checkMs('connect', 'ping.timeout', ping.timeout, 1);
  }
  if (config.scheduler !== undefined) checkScheduler('connect', config.scheduler);
  if (typeof closeOnUnsubscribe !== 'function') {
    if (typeof closeOnUnsubscribe !== 'object' || closeOnUnsubscribe === null) {
      throw new TypeError('connect: closeOnUnsubscribe must be { code, reason } or a function returning it');
    }
    assertValidClose(closeOnUnsubscribe.code ?? 1000, closeOnUnsubscribe.reason ?? '');
  }
  return {
    url,
    protocols,
    WebSocketCtor: config.WebSocketCtor,
    socketFactory: config.socketFactory,
    deserialize: config.deserialize ?? (defaultDeserialize as (data: string | ArrayBuffer) => In),
    serialize: config.serialize ?? defaultSerialize,
    onDecodeError: config.onDecodeError ?? defaultDecodeErrorHandler,
    handshake: config.handshake,
    outgoing: config.outgoing,
    openTimeout,
    closeTimeout,
    ping,
    paused: config.paused,
    closeOnUnsubscribe,
    onOpen: config.onOpen,
    onClose: config.onClose,
    scheduler: config.scheduler ?? asyncScheduler,
  };
}

/** Parses and checks a WebSocket URL. Messages never echo the URL: it may carry a token. */
function normalizeUrl(input: unknown): string {
  if (typeof input !== 'string' && !(input instanceof URL)) {
    throw new TypeError(`connect: url must be a string or URL, got ${input === null ? 'null' : typeof input}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(String(input), (globalThis as { location?: { href?: string } }).location?.href);
  } catch {
    throw new TypeError('connect: url is not a valid absolute URL (expected e.g. wss://host/path)');
  }
  const scheme = parsed.protocol;
  if (scheme === 'http:') parsed.protocol = 'ws:';
  else if (scheme === 'https:') parsed.protocol = 'wss:';
  else if (scheme !== 'ws:' && scheme !== 'wss:') {
    throw new TypeError(`connect: url must use ws:, wss:, http: or https:, got ${JSON.stringify(scheme.slice(0, 20))}`);
  }
  if (parsed.href.includes('#')) throw new TypeError('connect: url must not contain a #fragment');
  return parsed.href;
}

function normalizeProtocols(input: unknown): string[] | undefined {
  if (input === undefined) return undefined;
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) {
    throw new TypeError('connect: protocols must be a string or an array of strings');
  }
  return list.length > 0 ? [...list] : undefined;
}

/** Converts a `Retry-After` header (seconds or an HTTP date) to ms from `now`. @internal */
function parseRetryAfter(header: string | readonly string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY);
}

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}

function resolve<T>(value: Resolvable<T> | undefined): T | undefined | PromiseLike<T> {
  return typeof value === 'function' ? (value as () => T | PromiseLike<T>)() : value;
}

/**
 * The property under which a `ws` client carries its {@link Connection}, so that the event
 * listeners (called with the socket as `this` by `ws`'s EventEmitter) are plain module
 * functions shared by every connection instead of closures kept by each idle one.
 */
const CONNECTION = Symbol('rxtether.connection');

/** A `ws` client as rxtether drives it: its events, its extras, and the connection it serves. */
type WsSocket = WebSocketLike &
  NodeWebSocketExtras &
  PausableSocket & { [CONNECTION]?: Connection<unknown, unknown> | undefined };

// `ws`'s listeners: `this` is the socket (EventEmitter calls listeners with the emitter).
function wsOpen(this: WsSocket): void {
  this[CONNECTION]?.onOpen();
}
function wsMessage(this: WsSocket, data: { toString(): string } | ArrayBuffer, isBinary: boolean): void {
  // `ws`'s own 'message' event: no `MessageEvent` per frame. Binary data is an ArrayBuffer (binaryType).
  this[CONNECTION]?.receive(isBinary ? (data as ArrayBuffer) : data.toString());
}
function wsError(this: WsSocket, error: unknown): void {
  this[CONNECTION]?.onError(error);
}
function wsClose(this: WsSocket, event: CloseEventLike): void {
  // Through `onclose`: only ws's CloseEvent knows wasClean (close frame received and sent).
  this[CONNECTION]?.onClose(event);
}
function wsPong(this: WsSocket): void {
  this[CONNECTION]?.onPong();
}
function wsUpgrade(this: WsSocket, response: UpgradeResponseLike): void {
  this[CONNECTION]?.onUpgrade(response);
}
function wsUnexpectedResponse(this: WsSocket, _request: unknown, response: HttpResponseLike): void {
  this[CONNECTION]?.onUnexpectedResponse(response);
}

/** `ws`'s 'upgrade' event: the handshake response, which carries the TCP (or TLS) socket. */
interface UpgradeResponseLike {
  socket?: Partial<CorkableSocket> | null;
}

interface HttpResponseLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * `ws`'s events for a socket that looks like `ws` but is not a plain EventEmitter (a wrapper, a
 * subclass): its listeners may be called with another `this`, so they are closures of their own.
 */
interface WsEventListeners {
  readonly open: () => void;
  readonly message: (data: { toString(): string } | ArrayBuffer, isBinary: boolean) => void;
  readonly error: (error: unknown) => void;
}

interface GenericListeners {
  /** `ws`'s events, when they were listened to with `on` rather than `on…` properties. */
  readonly wsEvents: WsEventListeners | undefined;
  readonly unexpectedResponse: (request: unknown, response: HttpResponseLike) => void;
  readonly upgrade: (response: UpgradeResponseLike) => void;
  readonly pong: () => void;
}

// Timer work: the connection rides as the action's state, so no closure is kept per timer.
type Work = (this: unknown, connection?: Connection<unknown, unknown>) => void;
const openTimeoutWork: Work = (connection) => connection!.fail(new OpenTimeoutError(connection!.c.openTimeout));
const graceWork: Work = (connection) =>
  connection!.fail(new ConnectionClosedError(1006, '', false, { cause: connection!.errorEvent }));
const pingWork: Work = (connection) => connection!.checkPing();
const terminateClosingWork: Work = (connection) => connection!.node?.terminate?.();

// The observers below are subscribed through a Link (see src/link.ts), which is the
// subscription itself; they only read `this`.

/** Forwards `outgoing` to the socket: its values are sent, its error ends the connection. */
class OutgoingObserver<Out> {
  constructor(private readonly connection: Connection<unknown, Out>) {}
  next(value: Out): void {
    this.connection.send(value);
  }
  error(error: unknown): void {
    this.connection.fail(error);
  }
  complete(): void {
    // Nothing more to send; the connection stays open.
  }
}

/** Applies `paused` to the socket. */
class PausedObserver {
  constructor(private readonly connection: Connection<unknown, unknown>) {}
  next(value: boolean): void {
    this.connection.setPaused(value === true);
  }
  error(error: unknown): void {
    this.connection.fail(error);
  }
  complete(): void {
    this.connection.setPaused(false);
  }
}

/**
 * One subscription's socket: opens it, relays its frames, and tears it down. It is also the
 * subscription's teardown (`unsubscribe`). One object with its state in fields and its
 * behaviour on the prototype: an idle connection keeps no closure of its own.
 */
class Connection<In, Out> {
  state: 'resolving' | 'connecting' | 'open' | 'ended' = 'resolving';
  socket: WebSocketLike | undefined = undefined;
  /** The socket's `ws` extras (`on`, `terminate`, `ping`), when it has them. */
  node: (WebSocketLike & NodeWebSocketExtras) | undefined = undefined;
  /** Whether the shared `ws*` listeners serve the socket (a plain `ws`; see isPlainEventEmitter). */
  sharedListeners = false;
  /** Otherwise, the socket's own listeners, kept to be removed. */
  generic: GenericListeners | undefined = undefined;
  openTimer: Subscription | undefined = undefined;
  graceTimer: Subscription | undefined = undefined;
  pingTimer: Subscription | undefined = undefined;
  outgoing: Subscription | undefined = undefined;
  pausedSub: Subscription | undefined = undefined;
  errorEvent: unknown = undefined;
  lastAlive = 0;
  pingSentAt: number | undefined = undefined;
  confirmingTimeout = false;
  readingPaused = false;
  // `ws` only: the TCP socket, corked from the first send of a tick to the end of that tick.
  tcp: CorkableSocket | undefined = undefined;
  corked = false;
  // `ws` with `tcp` only: frames handed to ws whose send callback has not run, i.e. not yet
  // written to `tcp` (with permessage-deflate, ws compresses a large frame asynchronously and
  // queues later frames, and the close frame, behind it). A terminate waits for them.
  unsent = 0;
  drained: (() => void) | undefined = undefined;
  /** ws's send callback for this connection, made on the first send. */
  sentCallback: (() => void) | undefined = undefined;
  flushCallback: (() => void) | undefined = undefined;

  constructor(
    readonly c: Normalized<In, Out>,
    readonly subscriber: Subscriber<In>,
  ) {}

  start(): void {
    const { c } = this;
    this.openTimer = c.scheduler.schedule(openTimeoutWork, c.openTimeout, this as Connection<unknown, unknown>);
    // Resolve url and protocols: synchronously when both are plain values, so that the socket
    // exists by the time subscribe() returns.
    try {
      const url = resolve(c.url);
      const protocols = resolve(c.protocols);
      if (isPromiseLike(url) || isPromiseLike(protocols)) {
        Promise.all([url, protocols]).then(
          ([u, p]) => {
            if (this.state !== 'resolving') return;
            try {
              this.create(normalizeUrl(u), normalizeProtocols(p));
            } catch (error) {
              this.fail(error);
            }
          },
          (error: unknown) => this.fail(error),
        );
      } else {
        this.create(normalizeUrl(url), normalizeProtocols(protocols));
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Stops every timer and listener of this subscription and hands back the socket, if any. */
  release(): WebSocketLike | undefined {
    this.state = 'ended';
    this.openTimer?.unsubscribe();
    this.graceTimer?.unsubscribe();
    this.pingTimer?.unsubscribe();
    this.outgoing?.unsubscribe();
    this.pausedSub?.unsubscribe();
    this.openTimer = this.graceTimer = this.pingTimer = this.outgoing = this.pausedSub = undefined;
    const s = this.socket;
    this.socket = undefined;
    this.flush(); // frames sent this tick go out before any close frame or termination
    this.tcp = undefined;
    if (s) {
      // A paused socket could not read the peer's close frame: read again (what arrives is dropped).
      if (this.readingPaused) this.resumeReading(s);
      s.onopen = s.onmessage = s.onclose = null;
      // `ws` throws on an 'error' event without a listener; the aborted socket may still emit one.
      s.onerror = noop;
      const { node, generic } = this;
      if (node && this.sharedListeners) {
        const ws = node as WsSocket;
        ws[CONNECTION] = undefined;
        ws.removeListener('open', wsOpen);
        ws.removeListener('message', wsMessage);
        ws.removeListener('error', wsError);
        ws.removeListener('unexpected-response', wsUnexpectedResponse);
        ws.removeListener('upgrade', wsUpgrade);
        ws.removeListener('pong', wsPong);
        ws.removeListener('ping', wsPong);
      } else if (node && generic) {
        const { wsEvents } = generic;
        if (wsEvents) {
          node.removeListener('open', wsEvents.open);
          node.removeListener('message', wsEvents.message);
          node.removeListener('error', wsEvents.error);
        }
        node.removeListener('unexpected-response', generic.unexpectedResponse);
        node.removeListener('upgrade', generic.upgrade);
        node.removeListener('pong', generic.pong);
        node.removeListener('ping', generic.pong);
      }
    }
    return s;
  }

  resumeReading(s: WebSocketLike & PausableSocket): void {
    this.readingPaused = false;
    try {
      s.resume?.();
    } catch {
      // A socket that cannot resume is closed already.
    }
  }

  /**
   * Applies `paused` to the open socket (`ws`'s pause()/resume(); others have neither). While
   * paused no pong can be read, so the ping deadline is suspended and counts again from resume.
   */
  setPaused(value: boolean): void {
    const s = this.socket as (WebSocketLike & PausableSocket) | undefined;
    if (this.state !== 'open' || !s || value === this.readingPaused) return;
    if (typeof s.pause !== 'function' || typeof s.resume !== 'function') return;
    if (value) {
      // A closing socket must go on reading to receive the peer's close frame.
      if (s.readyState !== OPEN) return;
      try {
        s.pause();
      } catch (error) {
        return this.fail(error);
      }
      this.readingPaused = true;
    } else {
      this.resumeReading(s);
    }
    const { ping, scheduler } = this.c;
    if (ping && this.node?.ping) {
      this.pingTimer?.unsubscribe();
      this.pingTimer = this.pingSentAt = undefined;
      this.confirmingTimeout = false;
      if (!value) {
        this.lastAlive = scheduler.now();
        this.armPing(ping.interval);
      }
    }
  }

  /** Closes without waiting for the close handshake: `ws`'s terminate(), else close(). */
  abort(s: WebSocketLike): void {
    try {
      if (this.node?.terminate) this.node.terminate();
      else if (s.readyState === CONNECTING) s.close();
      else if (s.readyState === OPEN) s.close(ABORT_CODE, 'abort');
    } catch {
      // A socket that refuses to close is already closing; nothing is left to release.
    }
  }

  end(error: unknown, code: number, reason: string): void {
    const wasOpen = this.state === 'open';
    const s = this.release();
    if (s) this.abort(s); // a no-op when the socket already closed
    this.subscriber.error(error);
    try {
      this.c.onClose?.({ code, reason, wasOpen, error });
    } catch (hookError) {
      reportHookError(hookError);
    }
  }

  fail(error: unknown): void {
    if (this.state !== 'ended') this.end(error, 1006, '');
  }

  send(value: Out): void {
    if (this.state !== 'open') return;
    const { tcp } = this;
    try {
      if (tcp && !this.corked) {
        // Every frame sent in this tick goes out in one write at its end (a microtask), not
        // one write syscall per frame: the order is ws's, nothing waits for a later event.
        this.corked = true;
        tcp.cork();
        queueMicrotask((this.flushCallback ??= () => this.flush()));
      }
      const data = this.c.serialize(value);
      if (tcp) {
        this.unsent++;
        (this.socket as WebSocketLike & WsSend).send(data, NO_SEND_OPTIONS, (this.sentCallback ??= () => this.onSent()));
      } else {
        this.socket?.send(data);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  onSent(): void {
    if (--this.unsent === 0) this.drained?.();
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.tcp?.uncork();
  }

  /** The socket the connection will use, for corking (see `send`). */
  onUpgrade(response: UpgradeResponseLike): void {
    const t = response?.socket;
    if (typeof t?.cork === 'function' && typeof t.uncork === 'function') this.tcp = t as CorkableSocket;
  }

  onPong(): void {
    this.lastAlive = this.c.scheduler.now();
  }

  onUnexpectedResponse(response: HttpResponseLike): void {
    this.fail(new HandshakeRejectedError(response.statusCode ?? 0, parseRetryAfter(response.headers?.['retry-after'], Date.now())));
  }

  armPing(delay: number): void {
    this.pingTimer = this.c.scheduler.schedule(pingWork, Math.max(0, delay), this as Connection<unknown, unknown>);
  }

  /** Sends a ping after `interval` of silence; fails when neither a pong nor a frame follows within `timeout`. */
  checkPing(): void {
    const { c, socket } = this;
    const { interval, timeout } = c.ping!;
    if (socket && socket.readyState !== OPEN) {
      // The peer sent a close frame and `ws` now waits (up to 30 s) for TCP to end. Pinging a
      // closing socket would turn the peer's close code into a heartbeat timeout: end it after
      // closeTimeout instead, and let the close event report the peer's code.
      this.pingTimer = c.scheduler.schedule(terminateClosingWork, c.closeTimeout, this as Connection<unknown, unknown>);
      return;
    }
    const now = c.scheduler.now();
    const { pingSentAt } = this;
    if (pingSentAt !== undefined) {
      if (this.lastAlive >= pingSentAt) {
        this.pingSentAt = undefined;
        this.confirmingTimeout = false;
      } else if (now - pingSentAt >= timeout) {
        // The timer may have run late because the event loop was busy; frames that arrived
        // meanwhile are read in the next I/O phase. Look once more before declaring death.
        if (!this.confirmingTimeout) {
          this.confirmingTimeout = true;
          return this.armPing(0);
        }
        return this.fail(new HeartbeatTimeoutError(now - this.lastAlive, timeout));
      } else {
        return this.armPing(pingSentAt + timeout - now);
      }
    }
    const silent = now - this.lastAlive;
    if (silent < interval) return this.armPing(interval - silent);
    this.pingSentAt = now;
    try {
      this.node!.ping!();
    } catch (error) {
      return this.fail(error);
    }
    this.armPing(timeout);
  }

  onOpen(): void {
    const { c, socket } = this;
    if (this.state !== 'connecting' || !socket) return;
    this.openTimer?.unsubscribe();
    this.openTimer = undefined;
    this.state = 'open';
    if (this.sharedListeners) {
      // The handshake's events cannot come again, and no message can come before 'open' (ws
      // reads the first frame in a later tick): an idle connection then has as few event
      // names as raw `ws` use (5 or fewer fit the smallest table EventEmitter keeps them in).
      const ws = socket as WsSocket;
      ws.removeListener('open', wsOpen);
      ws.removeListener('unexpected-response', wsUnexpectedResponse);
      ws.removeListener('upgrade', wsUpgrade);
      ws.on('message', wsMessage);
    }
    const info: ConnectionOpenInfo = { protocol: socket.protocol ?? '' };
    try {
      c.onOpen?.(info);
      if (this.state !== 'open') return;
      for (const value of c.handshake?.(info) ?? []) {
        if (this.state !== 'open') return;
        this.send(value);
      }
    } catch (error) {
      return this.fail(error);
    }
    if (this.state !== 'open') return;
    const { node } = this;
    if (c.ping && node?.ping) {
      this.lastAlive = c.scheduler.now();
      const pong = this.sharedListeners ? wsPong : this.generic!.pong;
      node.on('pong', pong);
      node.on('ping', pong);
      this.armPing(c.ping.interval);
    }
    // Either source may end the connection before subscribe() returns (a value that fails to
    // serialize, a re-entrant unsubscribe): release() then could not stop it, so stop it here.
    if (c.paused) {
      const subscription = c.paused.subscribe(new Link(new PausedObserver(this as Connection<unknown, unknown>)));
      if (this.state !== 'open') return subscription.unsubscribe();
      this.pausedSub = subscription;
    }
    if (c.outgoing) {
      const subscription = c.outgoing.subscribe(new Link(new OutgoingObserver(this as Connection<unknown, Out>)));
      if (this.state !== 'open') return subscription.unsubscribe();
      this.outgoing = subscription;
    }
  }

  receive(data: string | ArrayBuffer): void {
    const { c } = this;
    if (c.ping) this.lastAlive = c.scheduler.now();
    let value: In;
    try {
      value = c.deserialize(data);
    } catch (cause) {
      const error = new DecodeError(data, { cause });
      if (c.onDecodeError === 'error') return this.fail(error);
      try {
        c.onDecodeError(error);
      } catch (handlerError) {
        this.fail(handlerError);
      }
      return;
    }
    this.subscriber.next(value);
  }

  onError(event: unknown): void {
    this.errorEvent = (event as { error?: unknown } | null)?.error ?? event;
    // Some implementations fire `error` and never `close`: do not wait forever.
    this.graceTimer ??= this.c.scheduler.schedule(graceWork, this.c.closeTimeout, this as Connection<unknown, unknown>);
  }

  onClose(event: CloseEventLike): void {
    if (this.state === 'ended') return;
    const reported = typeof event.code === 'number' ? event.code : 1006;
    const code = (reported === 1006 && protocolErrorCode(this.errorEvent)) || reported;
    const reason = typeof event.reason === 'string' ? event.reason : '';
    const options = this.errorEvent === undefined ? undefined : { cause: this.errorEvent };
    this.end(new ConnectionClosedError(code, reason, event.wasClean === true, options), code, reason);
  }

  create(url: string, protocols: string[] | undefined): void {
    if (this.state !== 'resolving') return;
    const { c } = this;
    const Ctor = c.WebSocketCtor ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (!c.socketFactory && typeof Ctor !== 'function') return this.fail(new TypeError(MISSING_WEBSOCKET));
    let s: WebSocketLike;
    try {
      s = c.socketFactory ? c.socketFactory(url, protocols) : new Ctor!(url, protocols);
    } catch (error) {
      return this.fail(error);
    }
    this.socket = s;
    this.state = 'connecting';
    const node = (this.node = nodeExtras(s));
    try {
      s.binaryType = 'arraybuffer';
    } catch {
      // A socket without binaryType support delivers binary frames in its own type.
    }
    if (node && isWs(s) && isPlainEventEmitter(s) && (s as WsSocket)[CONNECTION] === undefined) {
      // `ws`'s own events, with listeners shared by every connection: no DOM-style event
      // object per frame, and nothing per handler kept by every idle connection.
      const ws = s as WsSocket;
      this.sharedListeners = true;
      ws[CONNECTION] = this as Connection<unknown, unknown>;
      ws.on('open', wsOpen);
      ws.on('error', wsError);
      ws.onclose = wsClose;
      ws.on('unexpected-response', wsUnexpectedResponse);
      ws.on('upgrade', wsUpgrade);
    } else {
      // `ws`-like, but its listeners may be called on another `this` (a wrapper, a subclass).
      const wsEvents: WsEventListeners | undefined =
        node !== undefined && isWs(s)
          ? {
              open: () => this.onOpen(),
              message: (data, isBinary) => this.receive(isBinary ? (data as ArrayBuffer) : data.toString()),
              error: (error) => this.onError(error),
            }
          : undefined;
      if (node && wsEvents) {
        node.on('open', wsEvents.open);
        node.on('message', wsEvents.message);
        node.on('error', wsEvents.error);
      } else {
        s.onopen = () => this.onOpen();
        s.onmessage = (event: MessageEventLike) => this.receive(event.data as string | ArrayBuffer);
        s.onerror = (event: unknown) => this.onError(event);
      }
      s.onclose = (event: CloseEventLike) => this.onClose(event);
      if (node) {
        const generic: GenericListeners = (this.generic = {
          wsEvents,
          unexpectedResponse: (_request, response) => this.onUnexpectedResponse(response),
          upgrade: (response) => this.onUpgrade(response),
          pong: () => this.onPong(),
        });
        node.on('unexpected-response', generic.unexpectedResponse);
        node.on('upgrade', generic.upgrade);
      }
    }
    if (s.readyState === OPEN) this.onOpen();
  }

  /** The subscription's teardown. */
  unsubscribe(): void {
    if (this.state === 'ended') return;
    const { c, node } = this;
    const wasOpen = this.state === 'open';
    let request: CloseRequest = DEFAULT_CLOSE;
    let invalid: unknown;
    try {
      request = typeof c.closeOnUnsubscribe === 'function' ? c.closeOnUnsubscribe() : c.closeOnUnsubscribe;
      assertValidClose(request.code ?? 1000, request.reason ?? '');
    } catch (error) {
      invalid = error;
    }
    const s = this.release();
    const code = request.code ?? 1000;
    const reason = request.reason ?? '';
    if (s && s.readyState === OPEN && invalid === undefined) {
      try {
        s.close(code, reason);
      } catch {
        this.abort(s);
      }
      if (node?.terminate) {
        const terminate = node.terminate.bind(node);
        if (request.terminate === true && this.unsent === 0) terminate();
        else {
          // Wait for the close handshake or, with `terminate`, only until the frames sent
          // before it are written (the close frame is queued behind them): closeTimeout at most.
          const timer = c.scheduler.schedule(terminate, c.closeTimeout);
          s.onclose = () => {
            timer.unsubscribe();
            this.drained = undefined;
          };
          if (request.terminate === true) {
            this.drained = () => {
              this.drained = undefined;
              timer.unsubscribe();
              terminate();
            };
          }
        }
      }
    } else if (s) {
      this.abort(s);
    }
    try {
      c.onClose?.({ code: wasOpen && invalid === undefined ? code : 1006, reason, wasOpen, error: undefined });
    } catch (hookError) {
      reportHookError(hookError);
    }
    if (invalid !== undefined) throw invalid;
  }
}
