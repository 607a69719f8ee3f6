import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Observable, Subject, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  BackpressureOverflowError,
  createBackpressure,
  isBackpressureOverflowError,
} from 'rxtether/node';

/** Records every value of `paused$`. */
function pausedLog(flow: ReturnType<typeof createBackpressure>): boolean[] {
  const log: boolean[] = [];
  flow.paused$.subscribe((value) => log.push(value));
  return log;
}

/** A source that counts its subscriptions and unsubscriptions. */
function tracked<T>(): { subject: Subject<T>; source$: Observable<T>; subscribed: () => number; unsubscribed: () => number } {
  const subject = new Subject<T>();
  let subscribed = 0;
  let unsubscribed = 0;
  const source$ = new Observable<T>((subscriber) => {
    subscribed++;
    const sub = subject.subscribe(subscriber);
    return () => {
      unsubscribed++;
      sub.unsubscribe();
    };
  });
  return { subject, source$, subscribed: () => subscribed, unsubscribed: () => unsubscribed };
}

describe('createBackpressure', () => {
  describe('options', () => {
    it.each([
      [{ highWaterMark: 0 }, RangeError, /highWaterMark must be an integer in \[1, 2147483647\], got 0/],
      [{ highWaterMark: 1.5 }, RangeError, /highWaterMark/],
      [{ highWaterMark: Number.NaN }, RangeError, /highWaterMark/],
      [{ highWaterMark: Infinity }, RangeError, /highWaterMark/],
      [{ highWaterMark: '10' }, TypeError, /highWaterMark/],
      [{ highWaterMark: 10, lowWaterMark: 10 }, RangeError, /lowWaterMark must be an integer in \[0, 9\], got 10/],
      [{ lowWaterMark: -1 }, RangeError, /lowWaterMark/],
      [{ highWaterMark: 10, maxBuffered: 9 }, RangeError, /maxBuffered must be an integer in \[10, 2147483647\] or Infinity, got 9/],
      [{ overflow: 'drop' }, TypeError, /overflow must be 'error', 'drop-oldest' or 'drop-newest'/],
      [{ onDrop: 1 }, TypeError, /onDrop must be a function/],
    ])('should reject %j with a %o naming the option', (config, type, message) => {
      expect(() => createBackpressure(config as never)).toThrow(type);
      expect(() => createBackpressure(config as never)).toThrow(message);
    });

    it('should reject a config that is not an object, and a source that is not an Observable', () => {
      expect(() => createBackpressure(null as never)).toThrow(TypeError);
      const flow = createBackpressure();
      expect(() => flow.iterate({} as never)).toThrow(/iterate\(source\$\) expects an Observable/);
      expect(() => flow.readable(undefined as never)).toThrow(/readable\(source\$\) expects an Observable/);
    });

    it('should accept maxBuffered: Infinity', () => {
      expect(() => createBackpressure({ maxBuffered: Infinity })).not.toThrow();
    });
  });

  describe('iterate', () => {
    it('should subscribe on the first next(), not before', async () => {
      const flow = createBackpressure();
      const { subject, source$, subscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      expect(subscribed()).toBe(0);
      const first = iterator.next();
      expect(subscribed()).toBe(1);
      subject.next(1);
      await expect(first).resolves.toEqual({ value: 1, done: false });
      await iterator.return?.();
    });

    it('should pause at highWaterMark and resume at lowWaterMark, delivering everything in order', async () => {
      const flow = createBackpressure({ highWaterMark: 4, lowWaterMark: 1 });
      const log = pausedLog(flow);
      const { subject, source$ } = tracked<number>();
      const iterator = flow.iterate(source$);
      const first = iterator.next();
      for (let i = 1; i <= 5; i++) subject.next(i);
      // 1 went straight to the waiting next(); 2..5 are held.
      await expect(first).resolves.toEqual({ value: 1, done: false });
      expect(flow.buffered).toBe(4);
      expect(log).toEqual([false, true]);
      await expect(iterator.next()).resolves.toEqual({ value: 2, done: false }); // 3 held
      await expect(iterator.next()).resolves.toEqual({ value: 3, done: false }); // 2 held
      expect(log).toEqual([false, true]);
      await expect(iterator.next()).resolves.toEqual({ value: 4, done: false }); // 1 held: resume
      expect(log).toEqual([false, true, false]);
      subject.next(6);
      subject.complete();
      const rest: number[] = [];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
      expect(rest).toEqual([5, 6]);
      expect(flow.buffered).toBe(0);
    });

    it('should yield the messages received before an error, then throw it', async () => {
      const flow = createBackpressure();
      const boom = new Error('boom');
      const seen: number[] = [];
      const source$ = new Observable<number>((subscriber) => {
        subscriber.next(1);
        subscriber.next(2);
        subscriber.error(boom);
      });
      await expect(
        (async () => {
          for await (const value of flow.iterate(source$)) seen.push(value);
        })(),
      ).rejects.toBe(boom);
      expect(seen).toEqual([1, 2]);
    });

    it('should unsubscribe and drop what it holds when the loop breaks (return())', async () => {
      const flow = createBackpressure({ highWaterMark: 2, lowWaterMark: 0 });
      const log = pausedLog(flow);
      const { subject, source$, unsubscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      const first = iterator.next();
      for (let i = 1; i <= 5; i++) subject.next(i);
      await first;
      expect(flow.buffered).toBe(4);
      expect(log).toEqual([false, true]);
      await iterator.return?.();
      expect(unsubscribed()).toBe(1);
      expect(flow.buffered).toBe(0);
      expect(log).toEqual([false, true, false]);
    });

    it('should close at once when return() is called while a next() waits, and end that next()', async () => {
      const flow = createBackpressure();
      const { source$, unsubscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      const pending = iterator.next(); // the feed is quiet
      const returned = iterator.return?.();
      // An abort (a timeout, an AbortSignal, a SIGINT handler) closes the socket now, not at the next message.
      expect(unsubscribed()).toBe(1);
      await expect(returned).resolves.toEqual({ done: true, value: undefined });
      await expect(pending).resolves.toEqual({ done: true, value: undefined });
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
      expect(unsubscribed()).toBe(1);
    });

    it('should close at once when throw() is called while a next() waits, and reject with its error', async () => {
      const flow = createBackpressure();
      const { source$, unsubscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      const pending = iterator.next();
      const stop = new Error('stop');
      const thrown = iterator.throw?.(stop);
      expect(unsubscribed()).toBe(1);
      await expect(thrown).rejects.toBe(stop);
      await expect(pending).resolves.toEqual({ done: true, value: undefined });
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    });

    it('should not subscribe when return() comes before the first next()', async () => {
      const flow = createBackpressure();
      const { source$, subscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      await expect(iterator.return?.()).resolves.toEqual({ done: true, value: undefined });
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
      expect(subscribed()).toBe(0);
    });

    it('should answer several pending next() calls in order, then end them all', async () => {
      const flow = createBackpressure();
      const { subject, source$ } = tracked<number>();
      const iterator = flow.iterate(source$);
      const pending = [iterator.next(), iterator.next(), iterator.next(), iterator.next()];
      subject.next(1);
      subject.next(2);
      subject.complete();
      await expect(Promise.all(pending)).resolves.toEqual([
        { done: false, value: 1 },
        { done: false, value: 2 },
        { done: true, value: undefined },
        { done: true, value: undefined },
      ]);
    });

    it('should yield null messages (valid JSON) like any other', async () => {
      const flow = createBackpressure();
      const seen: unknown[] = [];
      for await (const value of flow.iterate(of<unknown[]>(1, null, 2))) seen.push(value);
      expect(seen).toEqual([1, null, 2]);
    });

    it('should pause while any of several consumers is behind', async () => {
      const flow = createBackpressure({ highWaterMark: 2, lowWaterMark: 0 });
      const log = pausedLog(flow);
      const subject = new Subject<number>();
      const fast = flow.iterate(subject);
      const slow = flow.iterate(subject);
      const f1 = fast.next();
      const s1 = slow.next();
      subject.next(1);
      await Promise.all([f1, s1]);
      subject.next(2);
      subject.next(3); // both hold 2: paused
      expect(log).toEqual([false, true]);
      await fast.next();
      await fast.next(); // fast is drained, slow still holds 2
      expect(log).toEqual([false, true]);
      await slow.next();
      await slow.next();
      expect(log).toEqual([false, true, false]);
      await fast.return?.();
      await slow.return?.();
    });
  });

  describe('overflow', () => {
    it("should end with BackpressureOverflowError after the held messages ('error', the default)", async () => {
      const flow = createBackpressure({ highWaterMark: 2, maxBuffered: 3 });
      const { subject, source$, unsubscribed } = tracked<number>();
      const iterator = flow.iterate(source$);
      const first = iterator.next();
      for (let i = 1; i <= 10; i++) subject.next(i); // a source that ignores paused$
      expect(unsubscribed()).toBe(1);
      const values = [(await first).value];
      let error: unknown;
      try {
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) values.push(r.value);
      } catch (e) {
        error = e;
      }
      // 1 went straight to the waiting next(); 2..4 are held, 5 overflows.
      expect(values).toEqual([1, 2, 3, 4]);
      expect(error).toBeInstanceOf(BackpressureOverflowError);
      expect(isBackpressureOverflowError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'BackpressureOverflowError', maxBuffered: 3 });
    });

    it.each(['iterate', 'readable'] as const)(
      'should stop a synchronous source at the overflow, while it emits (%s)',
      async (kind) => {
        const flow = createBackpressure({ highWaterMark: 2, maxBuffered: 3 });
        let emitted = 0;
        // A well-behaved synchronous source: it stops once its subscriber is closed (as take(n)
        // downstream would make it). Capped so that the test ends without the fix.
        const source$ = new Observable<number>((subscriber) => {
          while (!subscriber.closed && emitted < 100_000) subscriber.next(emitted++);
        });
        const seen: unknown[] = [];
        let error: unknown;
        try {
          for await (const value of kind === 'iterate' ? flow.iterate(source$) : flow.readable(source$)) seen.push(value);
        } catch (e) {
          error = e;
        }
        expect(isBackpressureOverflowError(error)).toBe(true);
        expect(seen).toEqual([0, 1, 2]);
        expect(emitted).toBe(4); // 0..2 held, 3 overflowed: the source saw its subscriber closed
        expect(flow.buffered).toBe(0);
      },
    );

    it.each([
      // 1 goes straight to the waiting next(); the buffer of 3 then takes 2..10.
      ['drop-oldest', [1, 8, 9, 10], [2, 3, 4, 5, 6, 7]],
      ['drop-newest', [1, 2, 3, 4], [5, 6, 7, 8, 9, 10]],
    ] as const)('should %s and report each dropped message to onDrop', async (overflow, kept, dropped) => {
      const seen: unknown[] = [];
      const flow = createBackpressure({ highWaterMark: 2, maxBuffered: 3, overflow, onDrop: (m) => seen.push(m) });
      const subject = new Subject<number>();
      const iterator = flow.iterate(subject);
      const first = iterator.next();
      for (let i = 1; i <= 10; i++) subject.next(i);
      subject.complete();
      const values = [(await first).value];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) values.push(r.value);
      expect(values).toEqual(kept);
      expect(seen).toEqual(dropped);
    });
  });

  describe('readable', () => {
    it('should subscribe when first read, and deliver everything through a slow Writable', async () => {
      const flow = createBackpressure({ highWaterMark: 3, lowWaterMark: 1 });
      const log = pausedLog(flow);
      const { subject, source$, subscribed } = tracked<number>();
      const readable = flow.readable(source$);
      expect(subscribed()).toBe(0);
      const written: number[] = [];
      let peak = 0;
      const done = pipeline(
        readable,
        new Writable({
          objectMode: true,
          highWaterMark: 1,
          write(value: number, _encoding, callback) {
            written.push(value);
            peak = Math.max(peak, flow.buffered);
            setImmediate(callback);
          },
        }),
      );
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(subscribed()).toBe(1);
      for (let i = 1; i <= 20; i++) subject.next(i); // a burst: the source ignores paused$
      subject.complete();
      await done;
      expect(written).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(log.slice(0, 3)).toEqual([false, true, false]);
      expect(log.at(-1)).toBe(false);
      expect(peak).toBeLessThanOrEqual(20);
    });

    it('should push the messages received before an error, then destroy the stream with it', async () => {
      const flow = createBackpressure();
      const boom = new Error('boom');
      const written: number[] = [];
      const source$ = new Observable<number>((subscriber) => {
        subscriber.next(1);
        subscriber.next(2);
        subscriber.error(boom);
      });
      await expect(
        pipeline(
          flow.readable(source$),
          new Writable({
            objectMode: true,
            write(value: number, _encoding, callback) {
              written.push(value);
              callback();
            },
          }),
        ),
      ).rejects.toBe(boom);
      expect(written).toEqual([1, 2]);
    });

    it('should unsubscribe when destroyed, also by breaking out of for await', async () => {
      const flow = createBackpressure();
      const { subject, source$, unsubscribed } = tracked<number>();
      const readable = flow.readable(source$);
      const seen: number[] = [];
      const loop = (async () => {
        for await (const value of readable) {
          seen.push(value as number);
          if (value === 2) break;
        }
      })();
      await new Promise<void>((resolve) => setImmediate(resolve));
      subject.next(1);
      subject.next(2);
      subject.next(3);
      await loop;
      expect(seen).toEqual([1, 2]);
      expect(readable.destroyed).toBe(true);
      expect(unsubscribed()).toBe(1);
      expect(flow.buffered).toBe(0);
    });

    it('should stop pushing when a data listener destroys the stream', () => {
      const flow = createBackpressure();
      const { subject, source$, unsubscribed } = tracked<number>();
      const readable = flow.readable(source$);
      const seen: number[] = [];
      const errors: unknown[] = [];
      readable.on('error', (e) => errors.push(e));
      readable.read(); // subscribes
      readable.on('data', (value: number) => {
        seen.push(value);
        readable.destroy();
      });
      subject.next(1);
      subject.next(2);
      subject.complete();
      expect(seen).toEqual([1]);
      expect(unsubscribed()).toBe(1);
      expect(errors).toEqual([]);
    });

    it('should push the messages before a null one, then destroy the stream with a TypeError', async () => {
      const flow = createBackpressure();
      let unsubscribed = 0;
      const source$ = new Observable<number | null>((subscriber) => {
        subscriber.next(1);
        subscriber.next(null); // push(null) would end the stream and lose 2 in silence
        subscriber.next(2);
        return () => unsubscribed++;
      });
      const seen: unknown[] = [];
      let error: unknown;
      try {
        for await (const value of flow.readable(source$)) seen.push(value);
      } catch (e) {
        error = e;
      }
      expect(seen).toEqual([1]);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({
        code: 'ERR_STREAM_NULL_VALUES',
        message: expect.stringMatching(/readable\(source\$\) received a null message.*map it to another value first/),
      });
      expect(unsubscribed).toBe(1);
      expect(flow.buffered).toBe(0);
    });

    it('should end when the source completes', async () => {
      const flow = createBackpressure();
      const seen: unknown[] = [];
      for await (const value of flow.readable(of('a', 'b'))) seen.push(value);
      expect(seen).toEqual(['a', 'b']);
    });
  });
});
