import {
  BehaviorSubject,
  type MonoTypeOperatorFunction,
  Observable,
  type Observer,
  type SchedulerLike,
  Subject,
  type Subscriber,
  type TeardownLogic,
  Subscription,
  asyncScheduler,
  combineLatest,
  defer,
  distinctUntilChanged,
  endWith,
  filter,
  map,
  startWith,
} from 'rxjs';
import { fullJitterDelay } from '../operators/backoff.js';
import { heartbeatTimeoutWhile, sendPing } from '../operators/heartbeatTimeout.js';
import { type CursorValue, createResumeCursor, resumeFrom, type ResumeCursor } from '../operators/resumeFrom.js';
import { type RetryWithJitteredBackoffConfig, retryWithJitteredBackoff } from '../operators/retryWithJitteredBackoff.js';
import { assertValidClose } from './closeCodes.js';
import { type ConnectConfig, MISSING_WEBSOCKET, connect } from './connect.js';
import {
  ChannelRejectedError,
  ClientClosedError,
  type DecodeError,
  OutboxOverflowError,
  ResumeGapError,
  SessionTimeoutError,
  isConnectionClosedError,
  isRetryableError,
} from './errors.js';
import { Link } from './link.js';
import { reportHookError } from './report.js';
import { utf8Length } from './utf8.js';
import { OPEN, type PausableSocket, type WebSocketConstructorLike, type WebSocketLike } from './webSocketLike.js';
import { checkFunction, checkMs, checkScheduler } from './validate.js';

/** How a failed connection is handled: resume the session, start a fresh one, or stop. */
export type FailureAction = 'resume' | 'fresh' | 'stop';

/** The session handshake: what to send on open, and how the server says "ready". */
export interface SessionConfig<In, Out> {
  /**
   * Messages sent first on every open (`connection_init`, hello/identify, a resume request).
   * `resume.cursor` is the connection-wide position delivered before the drop, `undefined`
   * on a fresh session.
   */
  readonly hello: (resume: { readonly cursor: CursorValue | undefined }) => Iterable<Out>;
  /** Recognises the server's "ready" reply. Until it arrives nothing else is sent or emitted. */
  readonly isReady: (message: In) => boolean;
  /**
   * Called on the ready message when a resume was requested: `false` means the server started
   * a fresh session instead, so every resume position is reset and a `'gap'` event is emitted.
   * @defaultValue the server always resumes
   */
  readonly isResumed?: (message: In) => boolean;
  /**
   * Time, in ms, from open to ready; past it the attempt fails with `SessionTimeoutError`
   * (retried). 1 to 2^31−1.
   * @defaultValue `10000`
   */
  readonly timeout?: number;
}

/**
 * An application-level heartbeat: a ping message and a deadline for any reply, both counted
 * from open.
 *
 * With {@link SocketConfig.paused}: the deadline is suspended only while the socket is really
 * paused (a `ws` socket, which has `pause()`), and counts again from the resume; a socket that
 * cannot pause (browsers, Node's global `WebSocket`, `rxtether/testing`'s) keeps reading, so
 * its deadline keeps running. `message()` is sent on its interval whether paused or not: a
 * paused socket still writes.
 */
export interface ClientHeartbeatConfig<In, Out> {
  /** Silence, in ms, after which the connection is replaced. */
  readonly timeout: number;
  /**
   * Silence, in ms, after which `message()` is sent (and again each interval), paused or not.
   * Below `timeout`.
   */
  readonly interval?: number;
  /** The ping to send after `interval` of silence. Required with `interval`. */
  readonly message?: () => Out;
  /**
   * Which messages prove the server alive.
   * @defaultValue every message
   */
  readonly isAlive?: (message: In) => boolean;
}

/** Connection-wide resume: where each message stands in the server's stream. */
export interface ClientResumeConfig<In> {
  /** The message's position (a `seq`); `undefined` for messages outside the stream. */
  readonly cursorOf: (message: In) => CursorValue | undefined;
  /** Contiguity rule, e.g. `isNextInSequence`; a jump emits a `'gap'` event. */
  readonly isNext?: (previous: CursorValue, next: CursorValue) => boolean;
  /** The message's epoch (session id); a change resets the position and emits a `'gap'` event. */
  readonly epochOf?: (message: In) => unknown;
}

/** The outbox that holds `send()` while no session is ready. */
export interface OutboxConfig {
  /**
   * At most this many messages are held. 0 to 2^31−1.
   * @defaultValue `1000`
   */
  readonly maxMessages?: number;
  /**
   * At most this many bytes (UTF-8 of the serialized text, or the binary length) are held.
   * @defaultValue no byte limit
   */
  readonly maxBytes?: number;
  /**
   * What a full outbox does: drop its oldest message, drop the new one, or throw
   * `OutboxOverflowError` from `send()`. Every drop is reported on `events$`.
   * @defaultValue `'drop-oldest'`
   */
  readonly overflow?: 'drop-oldest' | 'drop-newest' | 'error';
  /**
   * Messages older than this, in ms, are not sent; each is reported as `'expired'` (checked
   * when the outbox is appended to or flushed).
   * @defaultValue no expiry
   */
  readonly ttl?: number;
}

/**
 * At-least-once delivery: how to match a sent message with the server's acknowledgement.
 * Messages not acknowledged when the socket drops are re-sent, in send order, after the
 * reconnect.
 */
export interface AckConfig<In, Out> {
  /**
   * The id of an outgoing message that expects an ack, `undefined` for one that does not.
   * An id sent again before its ack arrived does not replace the earlier message: both are
   * held, and each ack of that id confirms the oldest one still held (the server reads them
   * in order). A server that acknowledges a repeated id only once leaves the later message
   * held, so it is re-sent after a drop: a duplicate, never a loss.
   */
  readonly idOf: (message: Out) => string | number | undefined;
  /** The id an incoming message acknowledges, `undefined` when it is not an ack. */
  readonly ackOf: (message: In) => string | number | undefined;
}

/** Options of {@link createSocket}: the connection's, plus what the client adds around it. */
export interface SocketConfig<In, Out>
  extends Pick<
    ConnectConfig<In, Out>,
    | 'url'
    | 'protocols'
    | 'WebSocketCtor'
    | 'socketFactory'
    | 'deserialize'
    | 'serialize'
    | 'openTimeout'
    | 'closeTimeout'
    | 'ping'
    | 'paused'
  > {
  /** The session handshake; without it a socket is ready as soon as it opens. */
  readonly session?: SessionConfig<In, Out>;
  /** Application-level heartbeat (works in browsers, unlike the protocol `ping`). */
  readonly heartbeat?: ClientHeartbeatConfig<In, Out>;
  /** Connection-wide resume (a gateway's single `seq`). Per-channel positions go in {@link ChannelSpec}. */
  readonly resume?: ClientResumeConfig<In>;
  /**
   * Backoff between attempts; `shouldRetry`, `onRetry`, `onGiveUp`, `retryNow`, `scheduler`
   * and `random` are set by the client (use `classify`, `status$`, `retryNow` and the
   * top-level `scheduler`/`random`).
   * @defaultValue `initialDelay: 1000`, `maxDelay: 30000`, full jitter, unlimited retries
   */
  readonly backoff?: Omit<RetryWithJitteredBackoffConfig, 'shouldRetry' | 'onRetry' | 'onGiveUp' | 'retryNow' | 'scheduler' | 'random'>;
  /**
   * Classifies a failure: `'resume'` reconnects and resumes, `'fresh'` reconnects with every
   * resume position reset (e.g. your "invalid session" close code), `'stop'` ends the client
   * with the error.
   * @defaultValue `isRetryableError(error) ? 'resume' : 'stop'`
   */
  readonly classify?: (error: unknown) => FailureAction;
  /** Recognises a server message asking the client to reconnect now (close 1012 does too). */
  readonly isReconnectRequest?: (message: In) => boolean;
  /**
   * The key of the channel a message belongs to (e.g. `(m) => m.channel`), `undefined` for a
   * message of no channel. With it, each message goes straight to the channel with that
   * {@link ChannelSpec.key}: the cost per message stays the same however many channels are
   * open, and a channel's `matches` and `isRejection` are only asked about the messages of its
   * own key (`matches` becomes optional: every message of the key). Without it, every open
   * channel's `matches` is asked about every message.
   * @defaultValue none: messages are matched against every channel
   */
  readonly channelKeyOf?: (message: In) => string | undefined;
  /** "Retry now" signals (browser `online`, app foregrounded) that cut a backoff wait short. */
  readonly retryNow?: Observable<unknown>;
  /** Buffering of `send()` while no session is ready. */
  readonly outbox?: OutboxConfig;
  /** At-least-once delivery of sent messages; without it, unconfirmed sends are reported. */
  readonly ack?: AckConfig<In, Out>;
  /**
   * How long, in ms, the socket stays open after the last subscriber left, so that a quick
   * resubscribe reuses it.
   * @defaultValue `0`
   */
  readonly linger?: number;
  /** @defaultValue `asyncScheduler` */
  readonly scheduler?: SchedulerLike;
  /** Source of jitter, in `[0, 1)`. @defaultValue `Math.random` */
  readonly random?: () => number;
}

/** A topic subscription multiplexed over the client's one socket. */
export interface ChannelSpec<In, Out, T = In> {
  /** Identifies the server subscription: local subscribers with the same key share it. */
  readonly key: string;
  /**
   * The subscribe message, sent when the first local subscriber arrives and after every
   * reconnect, with the channel's position: the cursor of its last delivered message, or
   * `undefined` when it has delivered none yet. If your server treats "no position" as "live
   * only", messages published between the first subscribe and a drop that came before any
   * delivery are not replayed: send an explicit start position (e.g. `cursor ?? 0`) if they
   * matter.
   */
  readonly subscribe: (cursor: CursorValue | undefined) => Out;
  /** The unsubscribe message, sent when the last local subscriber leaves (only on a live socket). */
  readonly unsubscribe?: () => Out;
  /**
   * Whether an incoming message belongs to this channel. Required unless the client has
   * {@link SocketConfig.channelKeyOf}; with it, only messages of this channel's key are asked.
   * @defaultValue with `channelKeyOf`: every message of this channel's key
   */
  readonly matches?: (message: In) => boolean;
  /** Maps the channel's messages for its subscribers. @defaultValue identity */
  readonly project?: (message: In) => T;
  /** This channel's own resume position (a broker's per-topic offset), sent in `subscribe`. */
  readonly cursorOf?: (message: In) => CursorValue | undefined;
  /** With `cursorOf`: the contiguity rule (e.g. `isNextInSequence`); a jump emits a `'gap'` event. */
  readonly isNext?: (previous: CursorValue, next: CursorValue) => boolean;
  /** With `cursorOf`: the message's epoch; a change resets the channel's position and emits a `'gap'` event. */
  readonly epochOf?: (message: In) => unknown;
  /** Recognises the server's rejection of this channel: its subscribers get `ChannelRejectedError`. */
  readonly isRejection?: (message: In) => boolean;
}

/** Counters carried by every status, for telemetry. */
export interface SocketCounters {
  /** Reconnects scheduled since the client was created. */
  readonly reconnects: number;
  /** Messages waiting in the outbox. */
  readonly buffered: number;
  /** Messages dropped by the outbox (overflow, expiry, close). */
  readonly dropped: number;
}

/** The client's state, as a discriminated union on `state`. */
export type SocketStatus = SocketCounters &
  (
    | { readonly state: 'idle' }
    | { readonly state: 'connecting' }
    | { readonly state: 'open' }
    | {
        readonly state: 'reconnecting';
        /** The retry about to be made, from 1. */
        readonly attempt: number;
        /** The wait before it, in ms. */
        readonly delay: number;
        /** The error that ended the previous connection (`undefined` for a server's reconnect request). */
        readonly cause: unknown;
        /** When the next attempt starts, in the scheduler's clock (ms since epoch by default). */
        readonly nextAttemptAt: number;
      }
    | {
        readonly state: 'closed';
        /** `'client'`: `close()` was called; `'error'`: a terminal failure, in `error`. */
        readonly reason: 'client' | 'error';
        readonly error: unknown;
      }
  );

/** What the client reports on its side channel, `events$`. */
export type SocketEvent<Out> =
  | { readonly type: 'decode-error'; readonly error: DecodeError }
  | { readonly type: 'dropped'; readonly message: Out; readonly reason: 'overflow' | 'expired' | 'closed' }
  | {
      /** Without an ack rule: messages written to a socket that then failed, after the last frame it received. */
      readonly type: 'unconfirmed';
      readonly messages: readonly Out[];
    }
  | { readonly type: 'gap'; readonly error: ResumeGapError; readonly channel: string | undefined }
  | {
      /**
       * A hook of yours threw on an incoming message (e.g. `m.type` on a `null` frame): the
       * hook counted as "no" for that message (not this channel, not ready, not an ack…), and
       * the connection and the other subscribers went on.
       */
      readonly type: 'handler-error';
      readonly error: unknown;
      /** The channel whose hook threw; `undefined` for a client-level hook. */
      readonly channel: string | undefined;
      readonly message: unknown;
    };

/** The client returned by {@link createSocket}. */
export interface RxSocket<In, Out> {
  /** Every message after the session is ready, multicast over one socket. */
  readonly messages$: Observable<In>;
  /** A topic subscription; see {@link ChannelSpec}. */
  channel<T = In>(spec: ChannelSpec<In, Out, T>): Observable<T>;
  /** Sends now when a session is ready, else holds in the outbox. Throws `ClientClosedError` after close. */
  send(message: Out): void;
  /** The current state and counters; replays the latest to new subscribers. */
  readonly status$: Observable<SocketStatus>;
  /** Decode errors, outbox drops and expiries, unconfirmed sends, resume gaps, hooks that threw. */
  readonly events$: Observable<SocketEvent<Out>>;
  /** Closes for good: no reconnect afterwards, subscribers complete, `send` throws. */
  close(code?: number, reason?: string): void;
}

/** A sent message awaiting its ack; `later` is the next one sent with the same id. */
interface InFlight<Out> {
  readonly message: Out;
  /** Send order, for the re-send after a drop. */
  readonly order: number;
  later: InFlight<Out> | undefined;
}

interface Queued<Out> {
  readonly message: Out;
  readonly at: number;
  readonly bytes: number;
}

/**
 * One server channel, shared by every local subscriber of its key: it is also their multicast
 * (no `share()` and `Subject` per channel). An activation begins with the first subscriber and
 * ends with the last one's unsubscribe, or with an error or completion for all of them.
 */
interface ChannelEntry<In, Out> {
  readonly spec: ChannelSpec<In, Out, unknown>;
  readonly cursor: ResumeCursor<In, CursorValue> | undefined;
  /** The channel's messages (filtered, deduplicated), shared by every local subscriber. */
  readonly stream$: Observable<In>;
  /** Set while the server refused it (or its subscribe() threw): never re-sent, no unsubscribe. */
  rejected: boolean;
  /** Its subscribe message went out on the current connection (so leaving sends an unsubscribe). */
  live: boolean;
  /** Whether an activation is running. */
  active: boolean;
  /** Counts activations: a cleanup after an ending skips one that a new activation replaced. */
  activation: number;
  /** The current activation's subscribers; replaced, never mutated (a delivery iterates it). */
  subscribers: Subscriber<In>[];
  /** With a cursor: feeds its resume filter, whose output reaches `subscribers`. */
  sink: Subscriber<In> | undefined;
  filter: Subscription | undefined;
  /**
   * `deliveries.issued` when the current activation began: a message being delivered then
   * (numbered up to this) predates the activation and is not routed to it.
   */
  attachedAt: number;
  /** `spec.matches` and `spec.isRejection`, guarded. */
  readonly matches: (message: In) => boolean;
  readonly isRejection: (message: In) => boolean;
}

const WHERE = 'createSocket';

// Defaults shared by every client (a closure per client each would be kept by every idle one).
const never = (): boolean => false;
const always = (): boolean => true;
const returnUndefined = (): undefined => undefined;
const defaultClassify = (error: unknown): FailureAction => (isRetryableError(error) ? 'resume' : 'stop');

/**
 * Sends `heartbeat.message` after `interval` ms without a sign of life, and again after each
 * further interval while the silence lasts, counted from open. Unlike the deadline, it goes
 * on while paused: a paused socket still writes, and a server that expects the client's
 * heartbeat must keep getting it through a consumer's stall. As in `heartbeatTimeout`, a
 * message only records the time (`alive`, called by the deadline with its clock reading);
 * the one pending check re-arms itself from that record.
 */
class Pinger {
  /** From open; `undefined` before. */
  private lastAlive: number | undefined = undefined;
  private pings = 0;
  private check: Subscription | undefined = undefined;
  private subscriber: Subscriber<unknown> | undefined = undefined;

  constructor(
    private readonly interval: number,
    private readonly scheduler: SchedulerLike,
    private readonly ping: () => void,
  ) {}

  /** A new attempt: errors of `ping` go to its `subscriber`. */
  attach(subscriber: Subscriber<unknown>): void {
    // An earlier attempt whose teardown has not run yet (a handler started this one) stops.
    this.check?.unsubscribe();
    this.check = this.lastAlive = undefined;
    this.subscriber = subscriber;
  }

  /** The socket opened: count from now. */
  start(): void {
    if (!this.subscriber) return;
    this.lastAlive = this.scheduler.now();
    this.pings = 0;
    this.arm(this.lastAlive);
  }

  alive(now: number): void {
    if (this.lastAlive === undefined) return;
    this.lastAlive = now;
    this.pings = 0;
  }

  /** The attempt of `subscriber` ended (a later attempt's pinger is left alone). */
  stop(subscriber: Subscriber<unknown>): void {
    if (this.subscriber !== subscriber) return;
    this.check?.unsubscribe();
    this.check = undefined;
    this.lastAlive = undefined;
    this.subscriber = undefined;
  }

  private arm(now: number): void {
    const at = this.lastAlive! + (this.pings + 1) * this.interval;
    this.check = this.scheduler.schedule(pingerCheck, Math.min(this.interval, Math.max(0, at - now)), this);
  }

  onCheck(): void {
    if (this.lastAlive === undefined) return;
    const now = this.scheduler.now();
    if (now < this.lastAlive) this.lastAlive = now; // a wall clock that stepped backwards
    const due = Math.floor((now - this.lastAlive) / this.interval);
    if (due > this.pings) {
      this.pings = due; // before the call: a reply delivered synchronously resets it
      if (!sendPing(this.ping, this.subscriber!)) return;
    }
    if (this.lastAlive !== undefined) this.arm(now);
  }
}

function pingerCheck(this: unknown, pinger?: Pinger): void {
  pinger!.onCheck();
}

/** Numbers what messages$ delivers, so the router can tell what predates a channel. */
interface Deliveries {
  /** Messages handed to messages$ subscribers so far. */
  issued: number;
  /** The number of the message being delivered (0 between deliveries). */
  current: number;
}

/** A subscriber of messages$, or the client's channel router. */
interface MessageObserver<T> {
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

/** What {@link SharedConnection} asks of its client. */
interface SharedConnectionHost {
  /** Whether the client was closed or failed: no reconnect, no lingering. */
  isFinal(): boolean;
  /**
   * The attempt completed (a server's reconnect request or close 1012): the delay before the
   * next one, counted and reported by the client; `undefined` when the client is final.
   */
  promptDelay(): number | undefined;
  /** The connection ended (error, completion, or the last subscriber gone). */
  ended(): void;
}

/**
 * messages$'s multicast, one object per client: one subscription to the attempts for every
 * subscriber, numbering each message it delivers (see {@link Deliveries}); kept `linger` ms
 * after the last subscriber leaves; subscribed again after `promptDelay` when the attempts
 * complete; ended at once by `close()`, for subscribers or not. (What `share()`, `repeat`,
 * `takeUntil` and `finalize` did, without their objects kept by every idle client.) After an
 * error or completion, the next subscriber starts anew.
 */
class SharedConnection<T> {
  private subscribers: MessageObserver<T>[] = [];
  /** Subscribed to the attempts, or waiting to subscribe again. */
  private running = false;
  private connection: Subscription | undefined = undefined;
  /** Counts subscriptions to the attempts: one that ended during subscribe is not kept. */
  private generation = 0;
  private subscribing = false;
  private completedWhileSubscribing = false;
  private repeatTimer: Subscription | undefined = undefined;
  private lingerTimer: Subscription | undefined = undefined;

  constructor(
    private readonly source: Observable<T>,
    private readonly host: SharedConnectionHost,
    private readonly deliveries: Deliveries,
    private readonly linger: number,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** A subscriber of messages$: joins the current connection, or starts one. */
  add(subscriber: Subscriber<T>): TeardownLogic {
    this.join(subscriber);
    return () => this.remove(subscriber);
  }

  /** An observer joins, as a subscriber would; `remove` is its unsubscribe. */
  join(observer: MessageObserver<T>): void {
    this.lingerTimer?.unsubscribe();
    this.lingerTimer = undefined;
    const subscribers = this.subscribers;
    // A literal when alone: a spread would reserve 17 slots.
    this.subscribers = subscribers.length === 0 ? [observer] : [...subscribers, observer];
    if (!this.running) {
      this.running = true;
      this.subscribeSource();
    }
  }

  remove(subscriber: MessageObserver<T>): void {
    const subscribers = this.subscribers;
    if (!subscribers.includes(subscriber)) return; // one an ending already let go
    this.subscribers = subscribers.length === 1 ? [] : subscribers.filter((s) => s !== subscriber);
    if (this.subscribers.length > 0 || !this.running) return;
    if (this.host.isFinal() || this.linger === 0) this.stop();
    else this.lingerTimer = this.scheduler.schedule(lingerWork, this.linger, this as SharedConnection<unknown>);
  }

  subscribeSource(): void {
    this.repeatTimer = undefined;
    const generation = ++this.generation;
    this.subscribing = true;
    this.completedWhileSubscribing = false;
    const connection = this.source.subscribe(new Link(this));
    this.subscribing = false;
    // Ended (stop, close, an error) or left by everyone while subscribing: not ours to keep.
    if (generation !== this.generation || !this.running) connection.unsubscribe();
    else if (this.completedWhileSubscribing) {
      connection.unsubscribe();
      this.repeatOrComplete();
    } else this.connection = connection;
  }

  /** Stops without notifying anyone: nobody is subscribed (linger over). */
  stop(): void {
    if (!this.running) return;
    const connection = this.reset();
    connection?.unsubscribe(); // the socket closes
    this.ended();
  }

  /** close(): subscribers complete, then the socket closes. */
  close(): void {
    if (!this.running) return;
    const subscribers = this.subscribers;
    const connection = this.reset();
    for (const subscriber of subscribers) subscriber.complete();
    connection?.unsubscribe();
    this.ended();
  }

  next(value: T): void {
    const deliveries = this.deliveries;
    const outer = deliveries.current; // a message delivered from within a delivery
    deliveries.current = ++deliveries.issued;
    const subscribers = this.subscribers;
    for (let i = 0; i < subscribers.length; i++) subscribers[i]!.next(value);
    deliveries.current = outer;
  }

  error(error: unknown): void {
    if (!this.running) return;
    const subscribers = this.subscribers;
    this.reset(); // first: a subscriber may subscribe again from its handler
    for (const subscriber of subscribers) subscriber.error(error);
    this.ended();
  }

  /** The attempts completed: again after the client's delay, or complete when it is final. */
  complete(): void {
    if (!this.running) return;
    if (this.subscribing) {
      this.completedWhileSubscribing = true; // handled once subscribe() returns
      return;
    }
    // The finished attempt's teardown first (its unacked messages back to the outbox), then
    // the status that announces the next one, as `repeat` does.
    const connection = this.connection;
    this.connection = undefined;
    connection?.unsubscribe();
    this.repeatOrComplete();
  }

  private repeatOrComplete(): void {
    if (!this.running) return;
    const delay = this.host.promptDelay();
    // A status subscriber may have left or closed the client meanwhile.
    if (!this.running) return;
    if (delay !== undefined) {
      this.repeatTimer = this.scheduler.schedule(repeatWork, delay, this as SharedConnection<unknown>);
      return;
    }
    const subscribers = this.subscribers;
    this.reset();
    for (const subscriber of subscribers) subscriber.complete();
    this.ended();
  }

  /** Back to idle; returns the subscription to the attempts, for the caller to end. */
  private reset(): Subscription | undefined {
    const connection = this.connection;
    this.running = false;
    this.generation++;
    this.subscribers = [];
    this.connection = undefined;
    this.repeatTimer?.unsubscribe();
    this.lingerTimer?.unsubscribe();
    this.repeatTimer = this.lingerTimer = undefined;
    return connection;
  }

  /** The client's hook, unless a subscriber has already started a new connection. */
  private ended(): void {
    if (!this.running) this.host.ended();
  }
}

function lingerWork(this: unknown, shared?: SharedConnection<unknown>): void {
  shared!.stop();
}

function repeatWork(this: unknown, shared?: SharedConnection<unknown>): void {
  shared!.subscribeSource();
}

/**
 * How a socket being replaced (or left idle) is closed: not 1000/1001, so that a gateway keeps
 * the session, and without waiting for a peer that may be dead to answer.
 */
const RECONNECT_CLOSE = { code: 4000, reason: 'reconnect', terminate: true } as const;

/** Size of a serialized message for the outbox's byte bound: UTF-8 bytes of text, else its byteLength. */
function byteLength(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  return (data as { byteLength?: number } | null)?.byteLength ?? 0;
}

/**
 * A WebSocket client for applications: one shared socket with channels, resume, an outbox
 * and a status stream, composed from {@link connect} and the three operators.
 *
 * ```
 * connect ─ session gate ─ heartbeatTimeout ─ resumeFrom ─ retryWithJitteredBackoff ─ shared connection
 *                                                         (failures)                 (multicast, linger,
 *                                                                                     server "reconnect")
 * ```
 *
 * The socket opens with the first subscriber of `messages$` or a channel and closes after the
 * last one leaves (after `linger`). After every (re)connect and session ready, each active
 * channel's subscribe message is sent exactly once, then the outbox is flushed in order.
 *
 * @example
 * ```ts
 * import { createSocket } from 'rxtether';
 *
 * const socket = createSocket<{ type: string; channel?: string; seq?: number }, object>({ url: 'wss://example.com' });
 * socket.status$.subscribe((s) => console.log(s.state));
 * const prices$ = socket.channel({
 *   key: 'prices',
 *   subscribe: () => ({ type: 'subscribe', channel: 'prices' }),
 *   unsubscribe: () => ({ type: 'unsubscribe', channel: 'prices' }),
 *   matches: (m) => m.channel === 'prices',
 * });
 * const sub = prices$.subscribe(console.log);
 * socket.send({ type: 'order', qty: 1 });
 * socket.close();
 * ```
 *
 * @param config - Connection, session, resume, heartbeat, backoff, outbox and ack options.
 * @returns The client; nothing connects until something subscribes.
 * @throws TypeError or RangeError, at creation, for an invalid option.
 */
export function createSocket<In = unknown, Out = unknown>(config: SocketConfig<In, Out>): RxSocket<In, Out> {
  if (typeof config !== 'object' || config === null) throw new TypeError(`${WHERE}: config must be an object`);
  const scheduler = config.scheduler ?? asyncScheduler;
  const random = config.random ?? Math.random;
  checkScheduler(WHERE, scheduler);
  checkFunction(WHERE, 'random', random);
  const linger = checkMs(WHERE, 'linger', config.linger ?? 0);
  const sessionTimeout = checkMs(WHERE, 'session.timeout', config.session?.timeout ?? 10_000, 1);
  const maxMessages = checkMs(WHERE, 'outbox.maxMessages', config.outbox?.maxMessages ?? 1000);
  const maxBytes = config.outbox?.maxBytes === undefined ? Infinity : checkMs(WHERE, 'outbox.maxBytes', config.outbox.maxBytes);
  const ttl = config.outbox?.ttl === undefined ? Infinity : checkMs(WHERE, 'outbox.ttl', config.outbox.ttl, 1);
  const overflow = config.outbox?.overflow ?? 'drop-oldest';
  if (overflow !== 'drop-oldest' && overflow !== 'drop-newest' && overflow !== 'error') {
    throw new TypeError(`${WHERE}: outbox.overflow must be 'drop-oldest', 'drop-newest' or 'error'`);
  }
  const classify = config.classify ?? defaultClassify;
  checkFunction(WHERE, 'classify', classify);
  checkFunction(WHERE, 'isReconnectRequest', config.isReconnectRequest);
  if (config.paused !== undefined && typeof config.paused?.subscribe !== 'function') {
    throw new TypeError(`${WHERE}: paused must be an Observable<boolean>`);
  }
  if (config.session) {
    checkFunction(WHERE, 'session.hello', config.session.hello);
    checkFunction(WHERE, 'session.isReady', config.session.isReady);
  }
  if (config.ack) {
    checkFunction(WHERE, 'ack.idOf', config.ack.idOf);
    checkFunction(WHERE, 'ack.ackOf', config.ack.ackOf);
  }
  const serialize = config.serialize ?? (JSON.stringify as (value: Out) => string);
  const initialDelay = config.backoff?.initialDelay ?? 1000;

  // ---- state the client owns ------------------------------------------------------------
  let final = false;
  let finalError: unknown;
  let closeRequest = { code: 1000, reason: '' };
  let ready = false;
  let wire: Subscriber<Out> | undefined; // connect's observer of `outgoing`, while the socket is open
  let healthy = false; // the current connection delivered data (not only its ready message)
  let promptStreak = 0; // server-requested reconnects since a connection last delivered data
  const outbox: Queued<Out>[] = [];
  let outboxBytes = 0;
  // Sent, awaiting an ack, by id: the oldest message with that id first (an id may be reused
  // before its ack), each numbered in send order for the re-send after a drop.
  // Only with acks (an empty Map is kept by every idle client otherwise).
  const inflight = config.ack ? new Map<string | number, InFlight<Out>>() : undefined;
  let sentCount = 0;
  let unconfirmed: Out[] = []; // without acks: written since the last frame received
  const channels = new Map<string, ChannelEntry<In, Out>>();
  // One observer of messages$ feeds every channel: by key with channelKeyOf, else by asking
  // each open channel. `attached` are the channels with an activation to feed.
  const attached = new Set<ChannelEntry<In, Out>>();
  let routing = false; // the router is one of messages$'s observers
  let routes: ChannelEntry<In, Out>[] | undefined; // attached as an array, rebuilt after a change
  const deliveries: Deliveries = { issued: 0, current: 0 };
  const counters = { reconnects: 0, dropped: 0 };
  const events = new Subject<SocketEvent<Out>>();
  const status = new BehaviorSubject<SocketStatus>({ state: 'idle', ...countersNow() });
  const resume = config.resume;
  const positionOf = resume ? guarded(resume.cursorOf, undefined) : undefined;
  const cursor =
    resume && positionOf
      ? createResumeCursor<In, CursorValue>({
          cursorOf: positionOf,
          ...(resume.isNext ? { isNext: resume.isNext } : {}),
          ...(resume.epochOf ? { epochOf: resume.epochOf } : {}),
        })
      : undefined;

  function countersNow(): SocketCounters {
    return { reconnects: counters.reconnects, buffered: outbox.length, dropped: counters.dropped };
  }
  type StatusState = SocketStatus extends infer S ? (S extends SocketStatus ? Omit<S, keyof SocketCounters> : never) : never;
  function setStatus(next: StatusState): void {
    if (status.value.state === 'closed') return;
    status.next({ ...next, ...countersNow() } as SocketStatus);
  }
  /**
   * Re-publishes the current state with fresh counters (a closed status included). Not an
   * `open` whose connection is gone: the status that follows the loss (`reconnecting`, `idle`
   * or `closed`) carries the counters.
   */
  function touchCounters(): void {
    if (!ready && status.value.state === 'open') return;
    status.next({ ...status.value, ...countersNow() });
  }

  /** The message's size for the byte bound: only computed when there is one. */
  function sizeOf(message: Out): number {
    return maxBytes === Infinity ? 0 : byteLength(serialize(message));
  }

  /** Reports drops only once the outbox is consistent, so a handler may call send() again. */
  function report(dropped: readonly Queued<Out>[], reason: 'overflow' | 'expired' | 'closed'): void {
    if (dropped.length === 0) return;
    counters.dropped += dropped.length;
    touchCounters();
    for (const item of dropped) events.next({ type: 'dropped', message: item.message, reason });
  }

  /**
   * Runs a hook of yours on an incoming message; a throw is reported as a 'handler-error'
   * event and answers `fallback`, so that one odd frame cannot break the connection.
   */
  function guarded<A, R>(hook: (arg: A) => R, fallback: R, channel?: string): (arg: A) => R {
    return (arg) => {
      try {
        return hook(arg);
      } catch (error) {
        events.next({ type: 'handler-error', error, channel, message: arg });
        return fallback;
      }
    };
  }

  function takeOldest(): Queued<Out> {
    const item = outbox.shift()!;
    outboxBytes -= item.bytes;
    return item;
  }

  function expire(now: number): void {
    const expired: Queued<Out>[] = [];
    while (outbox.length > 0 && now - outbox[0]!.at >= ttl) expired.push(takeOldest());
    report(expired, 'expired');
  }

  /** Writes to the live socket; tracks the message for acks or unconfirmed reporting. */
  function write(message: Out, track: boolean): void {
    if (track) {
      const id = config.ack?.idOf(message);
      if (id !== undefined) awaitAck(id, message);
      else if (!config.ack) unconfirmed.push(message);
    }
    wire!.next(message);
  }

  /**
   * Holds a sent message until its ack. An id reused before its ack keeps both messages: each
   * ack of the id confirms the oldest one still held with it (the server reads them in order).
   */
  function awaitAck(id: string | number, message: Out): void {
    const entry: InFlight<Out> = { message, order: sentCount++, later: undefined };
    let last = inflight!.get(id);
    if (last === undefined) {
      inflight!.set(id, entry);
      return;
    }
    while (last.later) last = last.later;
    last.later = entry;
  }

  /** An ack of `id`: the oldest message held with that id is delivered. */
  function acknowledge(id: string | number): void {
    const oldest = inflight!.get(id);
    if (oldest === undefined) return;
    if (oldest.later) inflight!.set(id, oldest.later);
    else inflight!.delete(id);
  }

  /** Every message awaiting an ack, in send order; clears them. */
  function takeInflight(): Out[] {
    const entries: InFlight<Out>[] = [];
    for (const first of inflight!.values()) {
      for (let e: InFlight<Out> | undefined = first; e; e = e.later) entries.push(e);
    }
    inflight!.clear();
    // With unique ids the map is already in send order (the sort then costs one pass); a
    // reused id is held at its first send's place.
    entries.sort((x, y) => x.order - y.order);
    return entries.map((e) => e.message);
  }

  /** True once any resume position (connection-wide or a channel's) exists. */
  function hasPosition(): boolean {
    if (cursor?.current !== undefined) return true;
    for (const entry of channels.values()) if (entry.cursor?.current !== undefined) return true;
    return false;
  }

  function resetResume(): void {
    cursor?.reset();
    for (const entry of channels.values()) entry.cursor?.reset();
  }

  /** Sends a channel's subscribe message; a throwing `subscribe()` fails that channel only. */
  function subscribeChannel(entry: ChannelEntry<In, Out>): void {
    let frame: Out;
    try {
      frame = entry.spec.subscribe(entry.cursor?.current);
    } catch (error) {
      entry.rejected = true;
      endChannel(entry, error, true);
      return;
    }
    write(frame, false);
    entry.live = true;
  }

  /** The session is ready: replay channels, then flush the outbox, in order. */
  function becomeReady(): void {
    ready = true;
    for (const entry of [...channels.values()]) {
      if (!ready) return; // the socket went away during the replay
      // A hook run by an earlier channel may have removed this one meanwhile.
      if (channels.get(entry.spec.key) === entry && !entry.rejected) subscribeChannel(entry);
    }
    expire(scheduler.now());
    while (ready && outbox.length > 0) {
      write(outbox[0]!.message, true); // a throwing ack.idOf leaves the message queued, not lost
      takeOldest();
    }
    if (ready) setStatus({ state: 'open' });
  }

  /** The socket is gone: at-least-once messages go back to the front of the outbox. */
  function connectionLost(): void {
    ready = false;
    for (const entry of channels.values()) entry.live = false;
    wire = undefined;
    if (inflight !== undefined && inflight.size > 0) {
      const now = scheduler.now();
      const resend = takeInflight().map((message) => ({ message, at: now, bytes: sizeOf(message) }));
      if (final) report(resend, 'closed');
      else {
        // At-least-once: these go first, even past the outbox bounds; being the oldest, they
        // are the first a 'drop-oldest' overflow evicts (and reports).
        outbox.unshift(...resend);
        for (const item of resend) outboxBytes += item.bytes;
        touchCounters();
      }
    }
    if (unconfirmed.length > 0) {
      const messages = unconfirmed;
      unconfirmed = [];
      events.next({ type: 'unconfirmed', messages });
    }
  }

  // ---- the pipeline ---------------------------------------------------------------------
  const session = config.session;
  const ackOf = config.ack ? guarded(config.ack.ackOf, undefined) : returnUndefined;
  const isReady = session ? guarded(session.isReady, false) : never;
  const isResumed = session?.isResumed ? guarded(session.isResumed, true) : always;
  const isReconnectRequest = config.isReconnectRequest ? guarded(config.isReconnectRequest, false) : never;

  // The gate, per attempt: hold everything until the session is ready; turn server requests
  // into completion. Its observer is made once per client and serves the current attempt,
  // whose state is in these variables; a replaced attempt's late teardown leaves the next one's.
  let gateSubscriber: Subscriber<In> | undefined;
  let sessionTimer: Subscription | undefined;
  let requestedResume = false;

  /** Ends the attempt; close 1012 (service restart) is a request to come back soon, like a reconnect message. */
  function failAttempt(error: unknown): void {
    const subscriber = gateSubscriber;
    if (!subscriber) return;
    if (isConnectionClosedError(error) && error.code === 1012) subscriber.complete();
    else subscriber.error(error);
  }

  const sessionExpired = (): void => failAttempt(new SessionTimeoutError(sessionTimeout));

  /** The session timeout runs from open (when the outgoing stream is subscribed) to ready. */
  function armSessionTimeout(): void {
    sessionTimer?.unsubscribe();
    sessionTimer = scheduler.schedule(sessionExpired, sessionTimeout);
  }

  const gateObserver: Observer<In> = {
    next: (message) => {
      const subscriber = gateSubscriber;
      if (!subscriber) return;
      // Hooks are guarded (a throw counts as "no" and is reported); anything else that
      // throws here (a status or events$ subscriber) ends this attempt with that error.
      try {
        if (!config.ack) {
          if (unconfirmed.length > 0) unconfirmed = []; // the peer was alive after those
        } else {
          const acked = ackOf(message);
          if (acked !== undefined) acknowledge(acked);
        }
        if (!ready) {
          if (!isReady(message)) {
            // Handshake chatter is the session's own; but a message with a resume position
            // is stream data that a resuming server replays before saying "ready".
            if (positionOf?.(message) !== undefined) subscriber.next(message);
            return;
          }
          sessionTimer?.unsubscribe();
          sessionTimer = undefined;
          if (requestedResume && !isResumed(message)) {
            const previous = cursor?.current;
            resetResume();
            events.next({ type: 'gap', error: new ResumeGapError('epoch', previous, undefined), channel: undefined });
          }
          becomeReady();
        } else if (isReconnectRequest(message)) {
          subscriber.complete();
          return;
        } else if (!healthy) {
          healthy = true;
          promptStreak = 0;
        }
      } catch (error) {
        failAttempt(error);
        return;
      }
      subscriber.next(message);
    },
    error: failAttempt,
    complete: () => gateSubscriber?.complete(),
  };

  const gate: MonoTypeOperatorFunction<In> = (source) =>
    new Observable<In>((subscriber) => {
      gateSubscriber = subscriber;
      requestedResume = hasPosition();
      healthy = false;
      const sub = source.subscribe(new Link(gateObserver));
      return () => {
        if (gateSubscriber === subscriber) {
          // Not a later attempt's, started by a handler before this teardown ran.
          gateSubscriber = undefined;
          sessionTimer?.unsubscribe();
          sessionTimer = undefined;
        }
        sub.unsubscribe();
      };
    });

  // What `write` sends goes straight to connect's observer of this stream (no Subject per
  // connection); a closed subscriber ignores it, as a Subject without observers would.
  const outgoing = new Observable<Out>((subscriber) => {
    wire = subscriber;
    // Registered first: a hook that throws during the flush (ack.idOf) ends this connection,
    // whose cleanup must still run (what it wrote unacknowledged goes back to the outbox). A
    // handler may start the next attempt before a replaced one's teardown ends (a socket open
    // at creation): that late teardown must not mark the new connection as lost.
    subscriber.add(() => {
      if (wire === subscriber) connectionLost();
    });
    if (session) armSessionTimeout();
    else becomeReady();
  });

  // Flow control applies once the session is ready (status 'open'): the handshake must be read.
  const paused = config.paused;
  const pausedWhenReady$ = paused
    ? combineLatest([paused.pipe(startWith(false), endWith(false)), status]).pipe(
        map(([value, current]) => value === true && current.state === 'open'),
        distinctUntilChanged(),
      )
    : undefined;

  const heartbeat = config.heartbeat;
  const isAliveHook = heartbeat?.isAlive ? guarded(heartbeat.isAlive, true) : undefined;
  const pingEvery = heartbeat?.interval !== undefined && heartbeat.message ? heartbeat.interval : undefined;
  // The pinger learns of each sign of life from the deadline, which has just read the clock
  // for it (one clock read per message, not two).
  const pinger =
    heartbeat && pingEvery !== undefined
      ? new Pinger(pingEvery, scheduler, () => ready && write(heartbeat.message!(), false))
      : undefined;
  const watchHeartbeat = heartbeat
    ? heartbeatTimeoutWhile<In>(
        { timeout: heartbeat.timeout, scheduler, ...(isAliveHook ? { isAlive: isAliveHook } : {}) },
        pinger ? (now) => pinger.alive(now) : undefined,
      )
    : undefined;
  if (heartbeat && pingEvery !== undefined) {
    checkFunction(WHERE, 'heartbeat.message', heartbeat.message);
    checkMs(WHERE, 'heartbeat.interval', pingEvery, 0, true);
    if (pingEvery >= heartbeat.timeout) {
      throw new RangeError(`${WHERE}: heartbeat.interval must be less than heartbeat.timeout (${heartbeat.timeout}), got ${pingEvery}`);
    }
  }

  // connect pauses only a socket that can (`ws`); the deadline must agree, so with both a
  // heartbeat and `paused` the current attempt's socket is kept to ask it.
  let attemptSocket: (WebSocketLike & PausableSocket) | undefined;
  let attempts = 0; // numbers the attempts, so that a late teardown leaves the next one alone
  const keepSocket = watchHeartbeat !== undefined && pausedWhenReady$ !== undefined;
  const reallyPaused = (): boolean => {
    const socket = attemptSocket;
    return socket !== undefined && typeof socket.pause === 'function' && typeof socket.resume === 'function' && socket.readyState === OPEN;
  };
  // The deadline runs from open (so that a slow handshake is judged by openTimeout and
  // session.timeout, not mistaken for a dead peer). A paused socket reads nothing: the deadline
  // is off while the socket is really paused and counts again from the resume. A socket without
  // pause() (browsers, Node's global WebSocket) goes on reading: its deadline keeps running, so
  // a frozen server is still detected. Subscribed by each attempt's deadline; `heartbeatOnOpen`
  // starts the current one.
  let heartbeatOnOpen: (() => void) | undefined;
  const heartbeatActive$ = new Observable<boolean>((subscriber) => {
    let inner: Subscription | undefined;
    const start = (): void => {
      heartbeatOnOpen = undefined;
      if (!pausedWhenReady$) {
        subscriber.next(true);
        subscriber.complete();
        return;
      }
      inner = pausedWhenReady$.subscribe(
        new Link<boolean>({
          next: (isPaused) => subscriber.next(!(isPaused && reallyPaused())),
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      );
      if (subscriber.closed) inner.unsubscribe();
    };
    heartbeatOnOpen = start;
    return () => {
      if (heartbeatOnOpen === start) heartbeatOnOpen = undefined;
      inner?.unsubscribe();
    };
  });

  // One connect() for every attempt: what differs between attempts lives in the variables
  // above, which the current attempt uses; each teardown below checks it is still current (a
  // handler may start the next attempt before a replaced one's teardown has run).
  const connection$ = connect<In, Out>({
    url: config.url,
    ...(config.protocols !== undefined ? { protocols: config.protocols } : {}),
    ...(config.WebSocketCtor ? { WebSocketCtor: config.WebSocketCtor } : {}),
    ...(config.socketFactory ? { socketFactory: config.socketFactory } : {}),
    ...(keepSocket
      ? {
          socketFactory: (url: string, protocols: string[] | undefined) => {
            const create = socketCreator(); // globalThis.WebSocket is read at each attempt
            if (!create) throw new TypeError(MISSING_WEBSOCKET);
            return (attemptSocket = create(url, protocols));
          },
        }
      : {}),
    ...(config.deserialize ? { deserialize: config.deserialize } : {}),
    ...(config.serialize ? { serialize: config.serialize } : {}),
    ...(config.openTimeout !== undefined ? { openTimeout: config.openTimeout } : {}),
    ...(config.closeTimeout !== undefined ? { closeTimeout: config.closeTimeout } : {}),
    ...(config.ping ? { ping: config.ping } : {}),
    ...(pausedWhenReady$ ? { paused: pausedWhenReady$ } : {}),
    handshake: () => (session ? session.hello({ cursor: cursor?.current }) : undefined),
    outgoing,
    onDecodeError: (error) => events.next({ type: 'decode-error', error }),
    ...(watchHeartbeat
      ? {
          onOpen: () => {
            pinger?.start();
            heartbeatOnOpen?.();
          },
        }
      : {}),
    closeOnUnsubscribe: () => (final ? closeRequest : RECONNECT_CLOSE),
    scheduler,
  }).pipe(
    gate, // also turns close 1012 into completion
    watchHeartbeat ? watchHeartbeat(heartbeatActive$) : (source) => source,
  );

  const attempt$ = new Observable<In>((subscriber) => {
    if (final) return subscriber.complete();
    setStatus({ state: 'connecting' });
    if (final) return subscriber.complete(); // a status subscriber may have closed the client
    attemptSocket = undefined;
    const attempt = ++attempts;
    // The pinger is no stage of the pipeline (it sees messages through the deadline's
    // onAlive): the attempt's subscriber is handed on as it is, and the pinger runs beside.
    pinger?.attach(subscriber);
    const sub = connection$.subscribe(subscriber);
    return () => {
      pinger?.stop(subscriber);
      sub.unsubscribe();
      // A handler may have started the next attempt before this teardown ended.
      if (attempts === attempt) attemptSocket = undefined;
    };
  });

  /**
   * What connect does to create a socket, as a factory, so the client can keep the socket;
   * `undefined` when there is no WebSocket (connect then reports it).
   */
  function socketCreator(): ((url: string, protocols: string[] | undefined) => WebSocketLike) | undefined {
    if (config.socketFactory) return config.socketFactory;
    const Ctor = config.WebSocketCtor ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    return typeof Ctor === 'function' ? (url, protocols) => new Ctor(url, protocols) : undefined;
  }

  const backoffOptions = {
    initialDelay,
    maxDelay: config.backoff?.maxDelay ?? Math.max(30_000, initialDelay),
    factor: config.backoff?.factor ?? 2,
  };
  const attempts$ = attempt$.pipe(
    cursor ? resumeFrom(cursor, { onGap: (error) => events.next({ type: 'gap', error, channel: undefined }) }) : (source) => source,
    retryWithJitteredBackoff<In>({
      ...config.backoff,
      scheduler,
      random,
      ...(config.retryNow !== undefined ? { retryNow: config.retryNow } : {}),
      shouldRetry: (error) => {
        if (final) return false;
        const action = classify(error);
        if (action === 'fresh') resetResume();
        return action !== 'stop';
      },
      onRetry: ({ attempt, delay, error }) => {
        counters.reconnects++;
        setStatus({ state: 'reconnecting', attempt, delay, cause: error, nextAttemptAt: scheduler.now() + delay });
      },
      onGiveUp: ({ error }) => {
        if (!final) end(error);
      },
    }),
  );
  const shared = new SharedConnection<In>(
    attempts$,
    {
      isFinal: () => final,
      // A server's reconnect request (or 1012) completes the attempt: come back promptly, with
      // full jitter so that a restarting server is not stormed, and backing off like any retry
      // while connections keep ending that way before they delivered anything.
      promptDelay: () => {
        if (final) return undefined;
        promptStreak++;
        const delay = fullJitterDelay(promptStreak, backoffOptions, random);
        counters.reconnects++;
        setStatus({ state: 'reconnecting', attempt: promptStreak, delay, cause: undefined, nextAttemptAt: scheduler.now() + delay });
        return delay;
      },
      ended: () => {
        if (!final) setStatus({ state: 'idle' });
      },
    },
    deliveries,
    linger,
    scheduler,
  );

  const messages$ = new Observable<In>((subscriber) => {
    if (!final) return shared.add(subscriber);
    if (finalError !== undefined) subscriber.error(finalError);
    else subscriber.complete();
    return undefined;
  });

  /** Terminal: everything ends with `error` (a failure) or completes (`close()`). */
  function end(error: unknown): void {
    final = true;
    finalError = error;
    ready = false; // channel teardowns that follow send no unsubscribe: the socket is closing
    const dropped = outbox.splice(0);
    outboxBytes = 0;
    counters.dropped += dropped.length;
    status.next({ state: 'closed', reason: error === undefined ? 'client' : 'error', error, ...countersNow() });
    for (const item of dropped) events.next({ type: 'dropped', message: item.message, reason: 'closed' });
  }

  const channelKeyOf = config.channelKeyOf ? guarded(config.channelKeyOf, undefined) : undefined;

  /** Hands a message to one channel: its rejection, or its data if it matches. */
  function deliver(entry: ChannelEntry<In, Out>, message: In): void {
    if (!entry.active) return;
    if (entry.isRejection(message)) {
      entry.rejected = true;
      endChannel(entry, new ChannelRejectedError(entry.spec.key, message), true);
    } else if (entry.matches(message)) {
      if (entry.sink) entry.sink.next(message);
      else fanOut(entry, message);
    }
  }

  /** To every subscriber of the activation, as a Subject would: joiners from the next value. */
  function fanOut(entry: ChannelEntry<In, Out>, message: In): void {
    const subscribers = entry.subscribers;
    for (let i = 0; i < subscribers.length; i++) subscribers[i]!.next(message);
  }

  /** The router's observer: each message to the channels that were open when it was delivered. */
  function route(message: In): void {
    // A channel opened during this delivery (by a messages$ subscriber before the router) did
    // not exist when the message arrived: its subscribe had not even been written.
    const current = deliveries.current;
    if (channelKeyOf) {
      const key = channelKeyOf(message);
      const entry = key === undefined ? undefined : channels.get(key);
      if (entry && entry.attachedAt < current) deliver(entry, message);
      return;
    }
    routes ??= [...attached];
    for (const entry of routes) {
      if (entry.attachedAt < current) deliver(entry, message);
    }
  }

  const router: MessageObserver<In> = {
    next: (message) => {
      try {
        route(message);
      } catch (error) {
        reportHookError(error); // as a subscriber's would be: the next observer still gets it
      }
    },
    error: (error) => endChannels(error, true),
    complete: () => endChannels(undefined, false),
  };

  /** messages$ ended (a terminal failure or close()): so do the channels fed at that moment. */
  function endChannels(error: unknown, failed: boolean): void {
    routing = false; // a channel re-subscribed from its error handler needs the router again
    for (const entry of [...attached]) endChannel(entry, error, failed);
  }

  /**
   * Ends the activation for all its subscribers, with an error or completion. The entry is
   * reset first, so a subscriber may re-subscribe from its handler (retry()): a new activation
   * then starts, and the cleanup of this one leaves it alone.
   */
  function endChannel(entry: ChannelEntry<In, Out>, error: unknown, failed: boolean): void {
    if (!entry.active) return;
    const subscribers = entry.subscribers;
    const activation = entry.activation;
    stopFeeding(entry);
    for (const subscriber of subscribers) {
      if (failed) subscriber.error(error);
      else subscriber.complete();
    }
    if (entry.activation === activation) detach(entry);
  }

  /** Stops deliveries to the activation; a new subscriber starts a new one. */
  function stopFeeding(entry: ChannelEntry<In, Out>): void {
    entry.active = false;
    entry.subscribers = [];
    const filter = entry.filter;
    entry.filter = entry.sink = undefined;
    filter?.unsubscribe();
  }

  /** The activation is over: the channel leaves the router, and the server is told. */
  function detach(entry: ChannelEntry<In, Out>): void {
    const { spec } = entry;
    attached.delete(entry);
    routes = undefined;
    if (channels.get(spec.key) === entry) channels.delete(spec.key);
    const wasLive = entry.live;
    entry.live = false;
    // Written before leaving messages$: when this is the last channel (and linger is 0),
    // leaving closes the socket. After close(), `ready` is false: no unsubscribe.
    if (ready && wasLive && !entry.rejected && spec.unsubscribe) {
      try {
        write(spec.unsubscribe(), false);
      } catch (error) {
        reportHookError(error);
      }
    }
    if (attached.size === 0 && routing) {
      routing = false;
      shared.remove(router);
    }
  }

  /** The first subscriber: the channel joins the router and, once ready, the server. */
  function activate(entry: ChannelEntry<In, Out>): void {
    const { spec } = entry;
    entry.active = true;
    entry.rejected = false;
    const activation = ++entry.activation;
    if (entry.cursor) {
      const cursor = entry.cursor;
      const feed = new Observable<In>((sink) => {
        entry.sink = sink;
        return () => {
          if (entry.sink === sink) entry.sink = undefined;
        };
      });
      const filter = feed
        .pipe(resumeFrom(cursor, { onGap: (error) => events.next({ type: 'gap', error, channel: spec.key }) }))
        .subscribe(
          new Link<In>({
            next: (message) => fanOut(entry, message),
            error: (error: unknown) => endChannel(entry, error, true),
            complete: () => endChannel(entry, undefined, false),
          }),
        );
      if (entry.activation === activation && entry.active) entry.filter = filter;
      else filter.unsubscribe();
    }
    entry.attachedAt = deliveries.issued;
    attached.add(entry);
    routes = undefined;
    if (!routing) {
      // Set before joining: joining may connect, become ready (which replays `channels`, which
      // this one joins only afterwards) or end, all synchronously. The router is an observer
      // of messages$ among its subscribers (same order, same refcount), without a subscription.
      routing = true;
      if (!final) shared.join(router);
      else if (finalError !== undefined) endChannels(finalError, true);
      else endChannels(undefined, false);
    }
    if (entry.activation === activation && entry.active) {
      channels.set(spec.key, entry);
      if (ready) subscribeChannel(entry);
    }
  }

  function channelEntry(spec: ChannelSpec<In, Out, unknown>): ChannelEntry<In, Out> {
    const existing = channels.get(spec.key);
    if (existing) return existing;
    const entryCursor = spec.cursorOf
      ? createResumeCursor<In, CursorValue>({
          cursorOf: guarded(spec.cursorOf, undefined, spec.key),
          ...(spec.isNext ? { isNext: spec.isNext } : {}),
          ...(spec.epochOf ? { epochOf: spec.epochOf } : {}),
        })
      : undefined;
    const entry: ChannelEntry<In, Out> = {
      spec,
      cursor: entryCursor,
      rejected: false,
      live: false,
      active: false,
      activation: 0,
      subscribers: [],
      sink: undefined,
      filter: undefined,
      attachedAt: 0,
      matches: spec.matches ? guarded(spec.matches, false, spec.key) : always,
      isRejection: spec.isRejection ? guarded(spec.isRejection, false, spec.key) : never,
      stream$: new Observable<In>((subscriber) => {
        const subscribers = entry.subscribers;
        // A literal when alone: a spread would reserve 17 slots.
        entry.subscribers = subscribers.length === 0 ? [subscriber] : [...subscribers, subscriber];
        if (!entry.active) activate(entry);
        return () => {
          const current = entry.subscribers;
          const index = current.indexOf(subscriber);
          if (index < 0) return; // an ended activation's subscriber
          if (current.length > 1) {
            entry.subscribers = current.filter((s) => s !== subscriber);
            return;
          }
          stopFeeding(entry);
          detach(entry);
        };
      }),
    };
    return entry;
  }

  return {
    messages$,
    status$: status.asObservable(),
    events$: events.asObservable(),
    channel<T = In>(spec: ChannelSpec<In, Out, T>): Observable<T> {
      if (typeof spec !== 'object' || spec === null || typeof spec.key !== 'string') {
        throw new TypeError(`${WHERE}: channel spec must have a string key`);
      }
      checkFunction(`${WHERE}: channel`, 'subscribe', spec.subscribe);
      if (!channelKeyOf && typeof spec.matches !== 'function') {
        throw new TypeError(`${WHERE}: channel matches must be a function (or give the client channelKeyOf)`);
      }
      checkFunction(`${WHERE}: channel`, 'matches', spec.matches);
      checkFunction(`${WHERE}: channel`, 'project', spec.project);
      // The server subscription (and its resume position) is shared by key; the projection
      // belongs to each channel() call. A projection that throws skips that message.
      const skip = Symbol('skip');
      const project = spec.project ? guarded<In, T | typeof skip>(spec.project, skip, spec.key) : undefined;
      return defer(() => {
        const stream$ = channelEntry(spec as ChannelSpec<In, Out, unknown>).stream$;
        if (!project) return stream$ as unknown as Observable<T>;
        return stream$.pipe(
          map(project),
          filter((value): value is T => value !== skip),
        );
      });
    },
    send(message: Out): void {
      if (final) throw new ClientClosedError(finalError === undefined ? undefined : { cause: finalError });
      if (ready && outbox.length === 0) {
        write(message, true);
        return;
      }
      const now = scheduler.now();
      expire(now);
      const bytes = sizeOf(message);
      const item: Queued<Out> = { message, at: now, bytes };
      if (maxMessages === 0 || bytes > maxBytes) {
        // It could never fit: reject it without evicting what is held.
        if (overflow === 'error') throw new OutboxOverflowError(message);
        report([item], 'overflow');
        return;
      }
      const evicted: Queued<Out>[] = [];
      while (outbox.length >= maxMessages || outboxBytes + bytes > maxBytes) {
        if (overflow === 'error') throw new OutboxOverflowError(message);
        if (overflow === 'drop-newest') {
          report([item], 'overflow');
          return;
        }
        evicted.push(takeOldest());
      }
      outbox.push(item);
      outboxBytes += bytes;
      touchCounters();
      report(evicted, 'overflow');
    },
    close(code = 1000, reason = ''): void {
      if (final) return;
      assertValidClose(code, reason);
      closeRequest = { code, reason };
      end(undefined);
      shared.close(); // at once, even while nobody is subscribed during linger
    },
  };
}
