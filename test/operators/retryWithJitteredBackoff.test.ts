import {
  BehaviorSubject,
  type Observable,
  Subject,
  VirtualTimeScheduler,
  defer,
  map,
  of,
  take,
  throwError,
  Observable as RxObservable,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConnectionClosedError,
  HandshakeRejectedError,
  type RetryAttemptInfo,
  type RetryGiveUpInfo,
  type RetryWithJitteredBackoffConfig,
  isConnectionClosedError,
  retryAttemptsOf,
  retryWithJitteredBackoff,
} from '../../operators/index.js';

const createTestScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

/** Deterministic jitter: every draw is 0.5. */
const half = (): number => 0.5;

/** Hands out one cold observable per subscription, like successive connection attempts. */
function attempts<T>(...connections: Observable<T>[]): Observable<T> {
  let n = 0;
  return defer(() => {
    const next = connections[n++];
    if (next === undefined) throw new Error('test: no more connections scripted');
    return next;
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('retryWithJitteredBackoff', () => {
  describe('delay schedule', () => {
    it('should follow the full-jitter schedule with a fixed random, then pass the last error', () => {
      const error = new Error('refused');
      const retries: RetryAttemptInfo[] = [];
      const giveUps: RetryGiveUpInfo[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('---#', undefined, error);
        // ceilings 20, 40, 80, 100 (capped), 100 → waits 10, 20, 40, 50
        const subs = [
          '                  ^--!',
          '                  13ms ^--!',
          '                  36ms ^--!',
          '                  79ms ^--!',
          '                  132ms ^--!',
        ];
        const expected = ' 135ms #';
        const result = source.pipe(
          retryWithJitteredBackoff({
            initialDelay: 20,
            maxDelay: 100,
            maxRetries: 4,
            random: half,
            onRetry: (info) => retries.push(info),
            onGiveUp: (info) => giveUps.push(info),
          }),
        );
        expectObservable(result).toBe(expected, undefined, error);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
      expect(retries).toEqual([
        { attempt: 1, delay: 10, error, hint: undefined },
        { attempt: 2, delay: 20, error, hint: undefined },
        { attempt: 3, delay: 40, error, hint: undefined },
        { attempt: 4, delay: 50, error, hint: undefined },
      ]);
      expect(giveUps).toEqual([{ error, retries: 4, reason: 'maxRetries' }]);
      expect(retryAttemptsOf(error)).toBe(4);
    });

    it('should wait exactly initialDelay before the first retry without jitter (not twice it)', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('---#');
        const subs = [
          '                  ^--!',
          '                  5ms ^--!',
          '                  12ms ^--!',
          '                  23ms ^--!',
        ];
        const expected = ' 26ms #';
        const result = source.pipe(retryWithJitteredBackoff({ initialDelay: 2, jitter: 'none', maxRetries: 3 }));
        expectObservable(result).toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('should use the default schedule with the shorthand: 1000 ms, factor 2, full jitter, Math.random', () => {
      vi.spyOn(Math, 'random').mockReturnValue(0.5);
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-#');
        const subs = ['^!', '501ms ^!', '1502ms ^!'];
        expectObservable(source.pipe(retryWithJitteredBackoff(2))).toBe('1503ms #');
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('should call a custom strategy with the attempt, options, random and its previous delay', () => {
      const calls: unknown[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-#');
        const result = source.pipe(
          retryWithJitteredBackoff({
            initialDelay: 3,
            maxDelay: 9,
            factor: 3,
            maxRetries: 2,
            random: half,
            jitter: (attempt, options, random, previousDelay) => {
              calls.push([attempt, options, random(), previousDelay]);
              return attempt * 4;
            },
          }),
        );
        expectObservable(result).toBe('15ms #');
        expectSubscriptions(source.subscriptions).toBe(['^!', '5ms ^!', '14ms ^!']);
      });
      const options = { initialDelay: 3, maxDelay: 9, factor: 3 };
      expect(calls).toEqual([
        [1, options, 0.5, undefined],
        [2, options, 0.5, 4],
      ]);
    });

    it('should error with a RangeError when a custom strategy returns NaN or a negative delay', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const result = cold('-#').pipe(retryWithJitteredBackoff({ jitter: () => Number.NaN }));
        expectObservable(result).toBe(
          '-#',
          undefined,
          new RangeError('retryWithJitteredBackoff: the jitter strategy returned NaN for attempt 1'),
        );
      });
    });
  });

  describe('reset rule', () => {
    it('should reset the attempt counter when a subscription emits', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--a--#');
        const subs = ['^----!', '15ms ^----!', '30ms ^---!'];
        const expected = '--a 14ms a 14ms a';
        const result = source.pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none' }));
        expectObservable(result, '^ 33ms !').toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('should keep backing off when resetOnValue is false', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--a--#');
        const subs = ['^----!', '15ms ^----!', '40ms ^---!'];
        const expected = '--a 14ms a 24ms a';
        const result = source.pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', resetOnValue: false }));
        expectObservable(result, '^ 43ms !').toBe(expected);
        expectSubscriptions(source.subscriptions).toBe(subs);
      });
    });

    it('should not reset for a flapping source until it stays up for stableAfter ms (flap guard)', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const flap1 = cold('-a-#'); //        up 2 ms after its value: no reset
        const flap2 = cold('-a-#');
        const stable = cold('-a-------#'); // up 8 ms after its value: counter resets at +5
        const flap3 = cold('-a-#');
        const result = attempts(flap1, flap2, stable, flap3).pipe(
          retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', stableAfter: 5 }),
        );
        // waits: 10 (attempt 1), 20 (attempt 2), then 10 again (attempt 1 after the reset)
        expectObservable(result, '^ 69ms !').toBe('-a 12ms a 22ms a 18ms a');
        expectSubscriptions(flap1.subscriptions).toBe('^--!');
        expectSubscriptions(flap2.subscriptions).toBe('13ms ^--!');
        expectSubscriptions(stable.subscriptions).toBe('36ms ^--------!');
        expectSubscriptions(flap3.subscriptions).toBe('55ms ^--!');
      });
    });

    it('should count the stable period from subscription when resetOnValue is false', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const short = cold('---#');
        const long = cold('------#');
        const after = cold('---#');
        const result = attempts(short, long, after).pipe(
          retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', resetOnValue: false, stableAfter: 5 }),
        );
        expectObservable(result, '^ 40ms !').toBe('');
        expectSubscriptions(short.subscriptions).toBe('^--!');
        expectSubscriptions(long.subscriptions).toBe('13ms ^-----!');
        // `long` stayed up 6 ms ≥ 5: the next wait is attempt 1 again (10 ms), not 20 ms
        expectSubscriptions(after.subscriptions).toBe('29ms ^--!');
      });
    });
  });

  describe('shouldRetry', () => {
    it('should pass a terminal close code through at once with the default classifier', () => {
      const terminal = new ConnectionClosedError(1008, 'bad token', true);
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('--#', undefined, new ConnectionClosedError(1006, '', false));
        const second = cold('---#', undefined, terminal);
        const result = attempts(first, second).pipe(retryWithJitteredBackoff({ initialDelay: 4, jitter: 'none' }));
        expectObservable(result).toBe('9ms #', undefined, terminal);
        expectSubscriptions(first.subscriptions).toBe('^-!');
        expectSubscriptions(second.subscriptions).toBe('6ms ^--!');
      });
      expect(retryAttemptsOf(terminal)).toBe(1);
    });

    it('should never retry a rejected handshake with bad credentials (401)', () => {
      const rejected = new HandshakeRejectedError(401, undefined);
      const giveUps: RetryGiveUpInfo[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--#', undefined, rejected);
        const result = source.pipe(retryWithJitteredBackoff({ onGiveUp: (info) => giveUps.push(info) }));
        expectObservable(result).toBe('--#', undefined, rejected);
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
      expect(giveUps).toEqual([{ error: rejected, retries: 0, reason: 'notRetryable' }]);
      expect(retryAttemptsOf(rejected)).toBe(0);
    });

    it('should ask a custom shouldRetry with the attempt that would follow', () => {
      const seen: number[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-#');
        const result = source.pipe(
          retryWithJitteredBackoff({
            initialDelay: 1,
            jitter: 'none',
            shouldRetry: (_error, { attempt }) => {
              seen.push(attempt);
              return attempt <= 2;
            },
          }),
        );
        expectObservable(result).toBe('6ms #');
        expectSubscriptions(source.subscriptions).toBe(['^!', '2ms ^!', '5ms ^!']);
      });
      expect(seen).toEqual([1, 2, 3]);
    });

    it('should pass the original error, not a wrapper, when maxRetries is spent', () => {
      const errors = [new Error('one'), new Error('two'), new Error('three')];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const result = attempts(...errors.map((e) => cold('-#', undefined, e))).pipe(
          retryWithJitteredBackoff({ initialDelay: 1, jitter: 'none', maxRetries: 2 }),
        );
        expectObservable(result).toBe('6ms #', undefined, errors[2]);
      });
      expect(retryAttemptsOf(errors[2])).toBe(2);
      expect(retryAttemptsOf('a string error')).toBeUndefined();
    });

    it('should pass the first error through when maxRetries is 0', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--a-#');
        expectObservable(source.pipe(retryWithJitteredBackoff(0))).toBe('--a-#');
        expectSubscriptions(source.subscriptions).toBe('^---!');
      });
    });

    it('should turn a throwing shouldRetry into the stream error', () => {
      const bug = new Error('classifier bug');
      createTestScheduler().run(({ cold, expectObservable }) => {
        const result = cold('-#').pipe(
          retryWithJitteredBackoff({
            shouldRetry: () => {
              throw bug;
            },
          }),
        );
        expectObservable(result).toBe('-#', undefined, bug);
      });
    });
  });

  describe('server hints', () => {
    it('should wait at least the Retry-After of a rejected handshake, then resume the schedule', () => {
      const busy = new HandshakeRejectedError(503, 30);
      const retries: number[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-#', undefined, busy);
        const second = cold('-#');
        const third = cold('-|');
        const result = attempts(first, second, third).pipe(
          retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', onRetry: ({ delay }) => retries.push(delay) }),
        );
        expectObservable(result).toBe('53ms |');
        expectSubscriptions(first.subscriptions).toBe('^!');
        expectSubscriptions(second.subscriptions).toBe('31ms ^!'); // max(10, 30)
        expectSubscriptions(third.subscriptions).toBe('52ms ^!'); //  attempt 2: 20
      });
      expect(retries).toEqual([30, 20]);
    });

    it('should honour a hint above maxDelay and ignore a hint smaller than the strategy delay', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-#', undefined, { retryAfter: 50 });
        const second = cold('-#', undefined, { retryAfter: 1 });
        const third = cold('-|');
        const result = attempts(first, second, third).pipe(
          retryWithJitteredBackoff({ initialDelay: 10, maxDelay: 20, jitter: 'none', shouldRetry: () => true }),
        );
        expectObservable(result).toBe('73ms |');
        expectSubscriptions(second.subscriptions).toBe('51ms ^!'); // the hint: 50 > maxDelay
        expectSubscriptions(third.subscriptions).toBe('72ms ^!'); //  attempt 2: 20, the hint 1 is below
      });
    });

    it('should read a hint the application extracts from a close reason, ignoring invalid ones', () => {
      const hinted = new ConnectionClosedError(1013, 'retry-after=40', true);
      const garbage = new ConnectionClosedError(1013, 'retry-after=soon', true);
      const hints: (number | undefined)[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-#', undefined, hinted);
        const second = cold('-#', undefined, garbage);
        const third = cold('-|');
        const result = attempts(first, second, third).pipe(
          retryWithJitteredBackoff({
            initialDelay: 10,
            jitter: 'none',
            retryAfter: (error) =>
              isConnectionClosedError(error) ? Number(/retry-after=(\w+)/.exec(error.reason)?.[1]) : undefined,
            onRetry: ({ hint }) => hints.push(hint),
          }),
        );
        expectObservable(result).toBe('63ms |');
        expectSubscriptions(second.subscriptions).toBe('41ms ^!');
        expectSubscriptions(third.subscriptions).toBe('62ms ^!'); // NaN hint ignored: 20 ms
      });
      expect(hints).toEqual([40, undefined]);
    });
  });

  describe('retry now', () => {
    it('should cut the current wait short and ignore signals while the source is subscribed', () => {
      createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = cold('--#');
        const retryNow = hot('-------xx----x');
        const result = source.pipe(
          retryWithJitteredBackoff({ initialDelay: 100, jitter: 'none', maxRetries: 2, retryNow }),
        );
        expectObservable(result).toBe('15ms #');
        // x at 7 cuts the first wait; x at 8 arrives while subscribed: no second subscription
        expectSubscriptions(source.subscriptions).toBe(['^-!', '7ms ^-!', '13ms ^-!']);
        // the notifier is only subscribed during waits
        expectSubscriptions(retryNow.subscriptions).toBe(['--^----!', '9ms ^---!']);
      });
    });

    it('should open one subscription when a reconnect message and the close arrive together', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const reconnect = new Subject<void>();
        // the server says "reconnect" and then closes: both ask for a new connection
        const wire = cold('--r#');
        const source = wire.pipe(
          map((message) => {
            reconnect.next();
            return message;
          }),
        );
        const result = source.pipe(
          retryWithJitteredBackoff({ initialDelay: 5, jitter: 'none', maxRetries: 1, resetOnValue: false, retryNow: reconnect }),
        );
        expectObservable(result).toBe('--r 7ms r#');
        expectSubscriptions(wire.subscriptions).toBe(['^--!', '8ms ^--!']);
      });
    });

    it('should ignore a value the notifier replays on subscription (no hot loop)', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('#');
        const retryNow = new BehaviorSubject<boolean>(true);
        const result = source.pipe(
          retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', maxRetries: 2, retryNow }),
        );
        expectObservable(result).toBe('30ms #');
        expectSubscriptions(source.subscriptions).toBe(['(^!)', '10ms (^!)', '30ms (^!)']);
      });
    });

    it("should pass the notifier's error to the subscriber and ignore its completion", () => {
      const offline = new Error('notifier failed');
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-#');
        const completes = cold('--|'); // completes mid-wait: must not cut it short
        expectObservable(
          source.pipe(retryWithJitteredBackoff({ initialDelay: 3, jitter: 'none', maxRetries: 1, retryNow: completes })),
        ).toBe('5ms #');
        const fails = cold('--#', undefined, offline);
        expectObservable(
          source.pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', retryNow: fails })),
        ).toBe('---#', undefined, offline);
      });
    });
  });

  describe('lifecycle', () => {
    it('should not wait or resubscribe when the consumer unsubscribes inside onRetry', () => {
      const scheduler = new VirtualTimeScheduler();
      const retryNow = new Subject<void>();
      let subscriptions = 0;
      const connection = new Subject<never>();
      const source = defer(() => {
        subscriptions++;
        return connection;
      });
      const sub = source
        .pipe(retryWithJitteredBackoff({ scheduler, initialDelay: 5, retryNow, onRetry: () => sub.unsubscribe() }))
        .subscribe();
      connection.error(new Error('drop')); // after subscribe() returned, as a socket would
      expect(sub.closed).toBe(true);
      expect(scheduler.actions.length).toBe(0); // no wait was started
      expect(retryNow.observed).toBe(false);
      scheduler.flush();
      expect(subscriptions).toBe(1);
    });

    it("should call onGiveUp with reason 'error' when a hook throws or retryNow errors", () => {
      const gaveUp: RetryGiveUpInfo[] = [];
      const hookBug = new Error('onRetry bug');
      const errors: unknown[] = [];
      throwError(() => new Error('drop'))
        .pipe(
          retryWithJitteredBackoff({
            onRetry: () => {
              throw hookBug;
            },
            onGiveUp: (info) => gaveUp.push(info),
          }),
        )
        .subscribe({ error: (e: unknown) => errors.push(e) });
      expect(errors).toEqual([hookBug]);
      expect(gaveUp).toEqual([{ error: hookBug, retries: 0, reason: 'error' }]);

      const offline = new Error('notifier failed');
      const retryNow = new Subject<void>();
      const scheduler = new VirtualTimeScheduler();
      throwError(() => new Error('drop'))
        .pipe(retryWithJitteredBackoff({ scheduler, retryNow, onGiveUp: (info) => gaveUp.push(info) }))
        .subscribe({ error: (e: unknown) => errors.push(e) });
      retryNow.error(offline);
      expect(errors).toEqual([hookBug, offline]);
      expect(gaveUp[1]).toEqual({ error: offline, retries: 1, reason: 'error' });
    });

    it('should cap a server hint at 2^31-1 ms, so a huge hint cannot become a 1 ms hot loop', () => {
      const delays: number[] = [];
      const sub = throwError(() => ({ retryAfter: 2 ** 40 }))
        .pipe(
          retryWithJitteredBackoff({
            scheduler: new VirtualTimeScheduler(),
            shouldRetry: () => true,
            onRetry: (info) => delays.push(info.delay),
          }),
        )
        .subscribe();
      sub.unsubscribe();
      expect(delays).toEqual([2 ** 31 - 1]);
    });

    it('should cancel the wait on unsubscribe: no resubscription afterwards', () => {
      createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = cold('-a#');
        const retryNow = hot('------------x');
        const result = source.pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', retryNow }));
        expectObservable(result, '^------!').toBe('-a-----');
        expectSubscriptions(source.subscriptions).toBe('^-!');
        expectSubscriptions(retryNow.subscriptions).toBe('--^----!');
      });
    });

    it('should pass completion through without retrying', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--a--|');
        expectObservable(source.pipe(retryWithJitteredBackoff())).toBe('--a--|');
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('should leave no scheduled action after unsubscribe during a wait or a stable period', () => {
      const scheduler = new VirtualTimeScheduler();
      const failing = throwError(() => new Error('down'));
      const waiting = failing.pipe(retryWithJitteredBackoff({ scheduler })).subscribe();
      expect(scheduler.actions.length).toBe(1);
      waiting.unsubscribe();
      expect(scheduler.actions.length).toBe(0);

      const up = new RxObservable<number>((s) => s.next(1));
      const stable = up.pipe(retryWithJitteredBackoff({ scheduler, stableAfter: 1000 })).subscribe();
      expect(scheduler.actions.length).toBe(1);
      stable.unsubscribe();
      expect(scheduler.actions.length).toBe(0);
    });
  });

  describe('synchronous re-entrancy', () => {
    it('should unsubscribe the source when the consumer leaves while the source is still subscribing', () => {
      const state$ = new BehaviorSubject(1); // emits synchronously on subscribe and stays open
      const seen: number[] = [];
      state$.pipe(retryWithJitteredBackoff(), take(1)).subscribe((v) => seen.push(v));
      expect(seen).toEqual([1]);
      expect(state$.observed).toBe(false);
    });

    it('should unsubscribe a re-subscribed source when the consumer leaves while it is still subscribing', () => {
      const scheduler = new VirtualTimeScheduler();
      const state$ = new BehaviorSubject(2);
      const seen: number[] = [];
      attempts<number>(throwError(() => new Error('drop')), state$)
        .pipe(retryWithJitteredBackoff({ scheduler, initialDelay: 5, jitter: 'none' }), take(1))
        .subscribe((v) => seen.push(v));
      scheduler.flush();
      expect(seen).toEqual([2]);
      expect(state$.observed).toBe(false);
    });

    it('should wait for the scheduler before re-subscribing to a source that fails synchronously', () => {
      const scheduler = new VirtualTimeScheduler();
      const log: string[] = [];
      let n = 0;
      const source = new RxObservable<number>((subscriber) => {
        const id = ++n;
        log.push(`subscribe ${id}`);
        subscriber.next(id);
        subscriber.error(new Error(`drop ${id}`));
      });
      source
        .pipe(
          retryWithJitteredBackoff({
            scheduler,
            initialDelay: 10,
            jitter: 'none',
            maxRetries: 2,
            resetOnValue: false,
            onRetry: ({ attempt, delay }) => log.push(`retry ${attempt} in ${delay}`),
          }),
        )
        .subscribe({
          next: (value) => log.push(`next ${value}`),
          error: (error: Error) => log.push(`error ${error.message} after ${retryAttemptsOf(error)}`),
        });
      expect(log).toEqual(['subscribe 1', 'next 1', 'retry 1 in 10']);
      scheduler.flush();
      expect(log).toEqual([
        'subscribe 1',
        'next 1',
        'retry 1 in 10',
        'subscribe 2',
        'next 2',
        'retry 2 in 20',
        'subscribe 3',
        'next 3',
        'error drop 3 after 2',
      ]);
      expect(scheduler.frame).toBe(30);
    });

    it('should not retry after the consumer unsubscribed synchronously inside next', () => {
      const scheduler = new VirtualTimeScheduler();
      let subscriptions = 0;
      const source = new RxObservable<number>((subscriber) => {
        subscriptions++;
        subscriber.next(1);
        subscriber.error(new Error('drop'));
      });
      const values: number[] = [];
      let retries = 0;
      source
        .pipe(retryWithJitteredBackoff({ scheduler, onRetry: () => retries++ }), take(1))
        .subscribe((v) => values.push(v));
      scheduler.flush();
      expect({ subscriptions, values, retries, pending: scheduler.actions.length }).toEqual({
        subscriptions: 1,
        values: [1],
        retries: 0,
        pending: 0,
      });
    });

    it('should keep one subscription when retryNow fires from inside onRetry', () => {
      const scheduler = new VirtualTimeScheduler();
      const now = new Subject<void>();
      let subscriptions = 0;
      const source = defer(() => {
        subscriptions++;
        return throwError(() => new Error('drop'));
      });
      source
        .pipe(
          retryWithJitteredBackoff({
            scheduler,
            maxRetries: 1,
            retryNow: now,
            // fired before the wait starts: nothing is waiting yet, so it is ignored
            onRetry: () => now.next(),
          }),
        )
        .subscribe({ error: () => undefined });
      expect(subscriptions).toBe(1);
      now.next();
      expect(subscriptions).toBe(2);
      now.next();
      expect(subscriptions).toBe(2);
      expect(scheduler.actions.length).toBe(0);
    });
  });

  describe('validation', () => {
    const invalid: [RetryWithJitteredBackoffConfig | number | null, typeof TypeError | typeof RangeError, RegExp][] = [
      [{ initialDelay: -1 }, RangeError, /initialDelay.*\[0, 2147483647\].*-1/],
      [{ initialDelay: Number.NaN }, RangeError, /initialDelay.*NaN/],
      [{ initialDelay: Infinity }, RangeError, /initialDelay.*Infinity/],
      [{ initialDelay: 2 ** 31 }, RangeError, /initialDelay/],
      [{ initialDelay: '10' as unknown as number }, TypeError, /initialDelay.*string/],
      [{ initialDelay: 100, maxDelay: 50 }, RangeError, /maxDelay must be at least initialDelay \(100\), got 50/],
      [{ maxDelay: Infinity }, RangeError, /maxDelay/],
      [{ maxDelay: -5 }, RangeError, /maxDelay/],
      [{ factor: 0.5 }, RangeError, /factor.*\[1, Infinity\).*0\.5/],
      [{ factor: Number.NaN }, RangeError, /factor/],
      [{ factor: Infinity }, RangeError, /factor/],
      [{ maxRetries: 1.5 }, RangeError, /maxRetries.*non-negative integer or Infinity.*1\.5/],
      [{ maxRetries: -1 }, RangeError, /maxRetries/],
      [{ maxRetries: Number.NaN }, RangeError, /maxRetries/],
      [-2, RangeError, /maxRetries/],
      [{ maxRetries: '3' as unknown as number }, TypeError, /maxRetries/],
      [{ jitter: 'half' as 'full' }, TypeError, /jitter must be 'full', 'equal', 'decorrelated', 'none' or a function, got "half"/],
      [{ jitter: 'toString' as 'full' }, TypeError, /jitter/],
      [{ stableAfter: -1 }, RangeError, /stableAfter/],
      [{ resetOnValue: 'yes' as unknown as boolean }, TypeError, /resetOnValue/],
      [{ random: 0.5 as unknown as () => number }, TypeError, /random must be a function/],
      [{ shouldRetry: true as unknown as () => boolean }, TypeError, /shouldRetry/],
      [{ onRetry: {} as unknown as () => void }, TypeError, /onRetry/],
      [{ scheduler: {} as unknown as VirtualTimeScheduler }, TypeError, /scheduler/],
      [{ retryNow: 5 as unknown as Observable<unknown> }, TypeError, /retryNow/],
      // a promise resolves right after each wait starts: it would remove all backoff
      [{ retryNow: Promise.resolve() as unknown as Observable<unknown> }, TypeError, /retryNow must be an observable/],
      [null, TypeError, /config must be an object/],
    ];

    it.each(invalid)('should reject %o at creation', (config, type, message) => {
      const create = (): unknown => retryWithJitteredBackoff(config as RetryWithJitteredBackoffConfig);
      expect(create).toThrow(type);
      expect(create).toThrow(message);
    });

    it('should accept the edges of every range', () => {
      expect(() =>
        retryWithJitteredBackoff({ initialDelay: 0, maxDelay: 0, factor: 1, maxRetries: 0, stableAfter: 0 }),
      ).not.toThrow();
      expect(() => retryWithJitteredBackoff({ initialDelay: 2 ** 31 - 1, maxRetries: Infinity })).not.toThrow();
      // maxDelay defaults to initialDelay when that is above 30 s
      expect(() => retryWithJitteredBackoff({ initialDelay: 60_000 })).not.toThrow();
      expect(() => of(1).pipe(retryWithJitteredBackoff())).not.toThrow();
    });
  });
});
