/// <reference types="node" />
import { Readable } from 'node:stream';
import { BehaviorSubject, Observable, Subscription, distinctUntilChanged } from 'rxjs';
import { reportHookError } from '../report.js';
import { BackpressureOverflowError } from './errors.js';

const WHERE = 'createBackpressure';
const MAX_COUNT = 2_147_483_647;
/**
 * What a paused `ws` socket may still deliver: the rest of the read it was parsing when it
 * paused, and the read its close flushes, each at most 64 KiB, of frames of at least 2 bytes.
 */
const PAUSE_SLACK = 65_536;

/** What a full buffer does with the next message. */
export type BackpressureOverflow = 'error' | 'drop-oldest' | 'drop-newest';

/** Options of {@link createBackpressure}. Counts are messages, not bytes. */
export interface BackpressureConfig {
  /**
   * When a consumer holds this many messages it has not taken yet, `paused$` emits `true`.
   * An integer from 1 to 2^31−1.
   * @defaultValue `1000`
   */
  readonly highWaterMark?: number;
  /**
   * When every consumer that was above `highWaterMark` is back to this many messages or
   * fewer, `paused$` emits `false`. An integer from 0 to `highWaterMark − 1`.
   * @defaultValue `Math.floor(highWaterMark / 2)`
   */
  readonly lowWaterMark?: number;
  /**
   * The hard bound of each consumer's buffer, for sources that cannot pause (a browser
   * socket, a `Subject`): at this many messages, `overflow` applies. A paused `ws` socket
   * stays far below the default (see {@link Backpressure.paused$}). An integer from
   * `highWaterMark` to 2^31−1, or `Infinity` for no bound.
   * @defaultValue `highWaterMark + 65536`
   */
  readonly maxBuffered?: number;
  /**
   * What a full buffer does: `'error'` ends that consumer with
   * {@link BackpressureOverflowError} after the messages it holds (and unsubscribes the
   * source); `'drop-oldest'` / `'drop-newest'` drop a message and pass it to `onDrop`.
   * @defaultValue `'error'`
   */
  readonly overflow?: BackpressureOverflow;
  /** Receives every message an overflow dropped. A throw is reported, not propagated. */
  readonly onDrop?: (message: unknown) => void;
}

/** A flow-control link between slow Node consumers and a socket that can pause. */
export interface Backpressure {
  /**
   * `true` while any consumer holds `highWaterMark` messages or more (until it is back to
   * `lowWaterMark`), `false` otherwise; replays its current value and emits only changes.
   * Pass it as `paused` to `connect` or `createSocket`: `ws` then stops reading the socket,
   * TCP's window closes, and the server's writes back up on its side. What `ws` had already
   * read when it paused is still delivered: at most 64 KiB of frames per consumer above
   * `highWaterMark`.
   */
  readonly paused$: Observable<boolean>;
  /** Messages received and not yet taken, over every open consumer. */
  readonly buffered: number;
  /**
   * An async iterable of the source's messages for `for await`. Subscribes to the source on
   * the first `next()`; messages wait in a buffer until taken.
   *
   * - **Error**: the messages received before it are yielded, then the loop throws it.
   * - **Complete**: the messages received are yielded, then the loop ends.
   * - **`break` / `return` / a throw in the loop body**: unsubscribes from the source (with
   *   `connect` or `createSocket`, the socket closes) and drops what was buffered.
   * - **`return()` / `throw()` while a `next()` is pending** (an abort on a quiet feed): close
   *   the same way at once, and the pending `next()` resolves `{ done: true, value: undefined }`,
   *   as with `events.on()`. `throw(error)` then rejects with `error`.
   *
   * A `next()` called while nothing is held receives the next message as it arrives: that
   * message is taken at once and does not count against the buffer.
   */
  iterate<T>(source$: Observable<T>): AsyncIterableIterator<T>;
  /**
   * A `Readable` in object mode of the source's messages. Subscribes to the source when the
   * stream is first read (`pipe`, `pipeline`, `for await`, a `'data'` listener).
   *
   * - **Error**: the messages received before it are pushed, then the stream is destroyed
   *   with it (use `stream.pipeline` to pass it on to the destination).
   * - **Complete**: the messages received are pushed, then the stream ends.
   * - **A `null` message**: a `Readable` cannot carry it (`push(null)` means end-of-stream), so
   *   the messages before it are pushed, then the stream is destroyed with a `TypeError`
   *   (`code` `'ERR_STREAM_NULL_VALUES'`, as `Readable.from()` does) and the source is
   *   unsubscribed. `null` is valid JSON: map it to another value first, or use `iterate`,
   *   which yields it.
   * - **`destroy()`** (also `break` out of `for await`, and `pipeline` on the destination's
   *   failure): unsubscribes from the source.
   */
  readable<T>(source$: Observable<T>): Readable;
}

/** One consumer's buffer: a queue with a head index, so a take costs O(1). */
interface Consumer<T> {
  readonly size: number;
  /** Set once the source ended: `failed` with `error`, or completed. */
  readonly ended: { readonly failed: boolean; readonly error: unknown } | undefined;
  take(): T;
  /** Unsubscribes and drops what is held. */
  close(): void;
}

function checkCount(option: string, value: unknown, min: number, max: number, allowInfinity = false): number {
  const range = `an integer in [${min}, ${max}]${allowInfinity ? ' or Infinity' : ''}`;
  if (typeof value !== 'number') throw new TypeError(`${WHERE}: ${option} must be ${range}, got ${typeof value}`);
  if (!(allowInfinity && value === Infinity) && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${WHERE}: ${option} must be ${range}, got ${String(value)}`);
  }
  return value;
}

/**
 * What destroys a `readable()` whose source emits `null`: Node's own `Readable.from()` fails
 * the same way (a `TypeError` with this `code`) rather than end the stream early.
 */
function nullMessageError(): TypeError {
  const error = new TypeError(
    `${WHERE}: readable(source$) received a null message, and a Readable cannot carry null (push(null) ends the stream): ` +
      'map it to another value first (e.g. wrap each message in an object), or use iterate(), which yields null',
  );
  return Object.assign(error, { code: 'ERR_STREAM_NULL_VALUES' });
}

function checkSource(where: string, source$: unknown): void {
  if (typeof (source$ as { subscribe?: unknown } | null)?.subscribe !== 'function') {
    throw new TypeError(`${WHERE}: ${where}(source$) expects an Observable`);
  }
}

/**
 * Connects slow Node consumers (`for await`, a `Readable` piped into a slow `Writable`) to a
 * socket with **real backpressure**: when a consumer falls `highWaterMark` messages behind,
 * `paused$` turns `true` and a `connect`/`createSocket` given it as `paused` stops reading
 * the socket (`ws`'s `pause()`), so TCP flow control holds the rest on the server and memory
 * stays bounded; below `lowWaterMark` it reads again.
 *
 * ```
 * messages held:  0 1 2 3 4 4 3 2 1 2 3 …   highWaterMark: 4, lowWaterMark: 1
 * paused$:        f       t       f         true at 4: ws pause(); false at 1: resume()
 * ```
 *
 * Several consumers may share one controller (and one socket): it pauses while any of them
 * is behind. A source that cannot pause is held to `maxBuffered` per consumer, then
 * `overflow` applies.
 *
 * @example
 * ```ts
 * import { createSocket } from 'rxtether';
 * import { createBackpressure } from 'rxtether/node';
 * import { WebSocket } from 'ws';
 *
 * const flow = createBackpressure({ highWaterMark: 1000, lowWaterMark: 100 });
 * const feed = createSocket<{ seq: number }>({ url: 'wss://example.com/feed', WebSocketCtor: WebSocket, paused: flow.paused$ });
 * for await (const tick of flow.iterate(feed.messages$)) {
 *   await store(tick); // slow: the socket pauses instead of buffering the whole feed
 * }
 * ```
 *
 * @param config - Water marks (in messages), the hard bound and its overflow policy.
 * @returns The controller: `paused$` for the socket, `iterate` and `readable` for consumers.
 * @throws TypeError or RangeError, at creation, for an invalid option (named in the message).
 * @see ConnectConfig.paused
 */
export function createBackpressure(config: BackpressureConfig = {}): Backpressure {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError(`${WHERE}: config must be an object, got ${config === null ? 'null' : typeof config}`);
  }
  const highWaterMark = checkCount('highWaterMark', config.highWaterMark ?? 1000, 1, MAX_COUNT);
  const lowWaterMark = checkCount(
    'lowWaterMark',
    config.lowWaterMark ?? Math.floor(highWaterMark / 2),
    0,
    highWaterMark - 1,
  );
  const maxBuffered = checkCount(
    'maxBuffered',
    config.maxBuffered ?? Math.min(highWaterMark + PAUSE_SLACK, MAX_COUNT),
    highWaterMark,
    MAX_COUNT,
    true,
  );
  const overflow = config.overflow ?? 'error';
  if (overflow !== 'error' && overflow !== 'drop-oldest' && overflow !== 'drop-newest') {
    throw new TypeError(`${WHERE}: overflow must be 'error', 'drop-oldest' or 'drop-newest'`);
  }
  const { onDrop } = config;
  if (onDrop !== undefined && typeof onDrop !== 'function') {
    throw new TypeError(`${WHERE}: onDrop must be a function, got ${onDrop === null ? 'null' : typeof onDrop}`);
  }

  const paused = new BehaviorSubject(false);
  const consumers = new Set<Consumer<unknown>>();
  let behind = 0; // consumers between highWaterMark and their way back to lowWaterMark

  function setBehind(delta: number): void {
    behind += delta;
    if (paused.value !== behind > 0) paused.next(behind > 0);
  }

  function drop(message: unknown): void {
    try {
      onDrop?.(message);
    } catch (error) {
      reportHookError(error);
    }
  }

  /** Subscribes to the source into a buffer; `wake` is called after every change a reader waits for. */
  function open<T>(source$: Observable<T>, wake: () => void): Consumer<T> {
    let items: T[] = [];
    let head = 0;
    let isBehind = false;
    let ended: Consumer<T>['ended'];
    let subscription = Subscription.EMPTY; // the source's own subscriber, once subscribed

    const size = (): number => items.length - head;
    const setIsBehind = (value: boolean): void => {
      if (value === isBehind) return;
      isBehind = value;
      setBehind(value ? 1 : -1);
    };
    const finish = (failed: boolean, error: unknown): void => {
      if (ended) return;
      ended = { failed, error };
      subscription.unsubscribe();
      setIsBehind(false); // nothing more will arrive: no reason to hold a socket paused
      wake();
    };
    const shift = (): T => {
      const item = items[head]!;
      items[head++] = undefined as T; // release it for the garbage collector
      if (head === items.length) {
        items = [];
        head = 0;
      } else if (head >= 1024 && head * 2 >= items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    };

    const consumer: Consumer<T> = {
      get size() {
        return size();
      },
      get ended() {
        return ended;
      },
      take() {
        const item = shift();
        if (isBehind && size() <= lowWaterMark) setIsBehind(false);
        if (size() === 0 && ended) consumers.delete(consumer);
        return item;
      },
      close() {
        ended ??= { failed: false, error: undefined };
        subscription.unsubscribe();
        items = [];
        head = 0;
        setIsBehind(false);
        consumers.delete(consumer);
      },
    };
    consumers.add(consumer);
    // The source gets a subscriber we hold before subscribe() returns, so that an overflow
    // closes it while a synchronous source is still emitting (it stops when it sees `closed`).
    new Observable<T>((subscriber) => {
      subscription = subscriber;
      return source$.subscribe(subscriber);
    }).subscribe({
      next: (value) => {
        if (ended) return;
        if (size() >= maxBuffered) {
          if (overflow === 'error') return finish(true, new BackpressureOverflowError(maxBuffered));
          if (overflow === 'drop-newest') return drop(value);
          drop(shift());
        }
        items.push(value);
        if (!isBehind && size() >= highWaterMark) setIsBehind(true);
        wake();
      },
      error: (error: unknown) => finish(true, error),
      complete: () => finish(false, undefined),
    });
    return consumer;
  }

  return {
    paused$: paused.pipe(distinctUntilChanged()),
    get buffered() {
      let total = 0;
      for (const consumer of consumers) total += consumer.size;
      return total;
    },

    iterate<T>(source$: Observable<T>): AsyncIterableIterator<T> {
      checkSource('iterate', source$);
      // Hand-written rather than an async generator: a generator queues return() and throw()
      // behind a pending next(), so a loop waiting on a quiet feed could not be closed.
      type Reader = { resolve(result: IteratorResult<T, undefined>): void; reject(error: unknown): void };
      const readers: Reader[] = []; // pending next() calls, oldest first; only while nothing is held
      let consumer: Consumer<T> | undefined;
      let done = false;

      const end = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
      /** Unsubscribes, drops what is held and answers every pending next() with the end. */
      function close(): void {
        done = true;
        consumer?.close();
        for (const reader of readers.splice(0)) reader.resolve(end());
      }
      /** Answers pending next() calls from the buffer, in order: the messages, then the end. */
      function settle(): void {
        // A synchronous source emits while open() runs: next() settles once it has returned.
        if (consumer === undefined) return;
        while (readers.length > 0) {
          if (consumer.size > 0) {
            readers.shift()!.resolve({ done: false, value: consumer.take() });
          } else if (consumer.ended) {
            const { failed, error } = consumer.ended;
            const first = readers.shift()!;
            if (failed) first.reject(error);
            else first.resolve(end());
            close();
          } else return;
        }
      }

      const iterator: AsyncIterableIterator<T> = {
        next() {
          if (done) return Promise.resolve(end());
          const result = new Promise<IteratorResult<T, undefined>>((resolve, reject) => readers.push({ resolve, reject }));
          if (consumer === undefined) {
            consumer = open(source$, settle);
            if (done) consumer.close(); // the source called return() while it was subscribed
          }
          settle();
          return result;
        },
        return() {
          close();
          return Promise.resolve(end());
        },
        throw(error: unknown) {
          close();
          return Promise.reject(error);
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },

    readable<T>(source$: Observable<T>): Readable {
      checkSource('readable', source$);
      let consumer: Consumer<T> | undefined;
      let wanted = false; // the stream asked for data that was not there yet

      function flush(): void {
        wanted = false;
        const c = consumer!;
        while (c.size > 0) {
          const message = c.take();
          // push(null) would end the stream: the messages after it would be lost in silence.
          if (message === null) {
            stream.destroy(nullMessageError());
            return;
          }
          // push() answers false once the stream holds enough: it asks again with read(). A
          // 'data' listener may also have destroyed the stream meanwhile.
          if (!stream.push(message) || stream.destroyed) return;
        }
        if (stream.destroyed) return;
        // The stream's own buffer is empty here, so ending it loses nothing.
        if (c.ended?.failed) stream.destroy(c.ended.error as Error);
        else if (c.ended) stream.push(null);
        else wanted = true;
      }

      const stream = new Readable({
        objectMode: true,
        // The buffer that counts is the consumer's: the stream holds at most one message.
        highWaterMark: 1,
        read() {
          consumer ??= open(source$, () => {
            if (wanted) flush();
          });
          flush();
        },
        destroy(error, callback) {
          consumer?.close();
          callback(error);
        },
      });
      return stream;
    },
  };
}
