import {
  BehaviorSubject,
  type Observable,
  Subject,
  VirtualAction,
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

    it('should count the stable period from the first value of an attempt, not restart it on later values', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const failing = cold('#');
        const chatty = cold('-a--a---#'); // stable from 1 ms: the counter resets at 6, before the drop at 8
        const after = cold('---#');
        const result = attempts(failing, chatty, after).pipe(retryWithJitteredBackoff({ initialDelay: 10, jitter: 'none', stableAfter: 5 }));
        expectObservable(result, '^ 40ms !').toBe('11ms a--a');
        expectSubscriptions(chatty.subscriptions).toBe('10ms ^-------!');
        // the wait after `chatty` is attempt 1 again (10 ms), not attempt 2 (20 ms)
        expectSubscriptions(after.subscriptions).toBe('28ms ^--!');
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
    // A hint under 1 s is a floor: these three tests use ms-sized hints (30, 50, 1, 40 ms), so
    // they pass unchanged under the rule that a hint of 1 s or more is the wait itself.
    it('should wait at least a sub-second hint of a rejected handshake, then resume the schedule', () => {
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

    it('should honour a sub-second hint above maxDelay and ignore one smaller than the strategy delay', () => {
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

    it('should wait a hint of 1 s or more plus up to 1 s of jitter, even when the strategy would wait longer', () => {
      const retries: Omit<RetryAttemptInfo, 'error'>[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const refused = [cold('-#'), cold('-#'), cold('-#')];
        const busy = cold('-#', undefined, new HandshakeRejectedError(503, 2000));
        const refusedAgain = cold('-#');
        const open = cold('-|');
        const result = attempts(...refused, busy, refusedAgain, open).pipe(
          retryWithJitteredBackoff({
            initialDelay: 8000,
            maxDelay: 30_000,
            jitter: 'none',
            random: half,
            onRetry: ({ attempt, delay, hint }) => retries.push({ attempt, delay, hint }),
          }),
        );
        expectObservable(result).toBe('86506ms |');
        expectSubscriptions(refused[1]!.subscriptions).toBe('8001ms ^!'); //  attempt 1: 8 s
        expectSubscriptions(refused[2]!.subscriptions).toBe('24002ms ^!'); // attempt 2: 16 s
        expectSubscriptions(busy.subscriptions).toBe('54003ms ^!'); //       attempt 3: 30 s (maxDelay)
        // attempt 4: the strategy says 30 s, the server says 2 s: 2000 + 0.5 × 1000, not 30 s.
        expectSubscriptions(refusedAgain.subscriptions).toBe('56504ms ^!');
        expectSubscriptions(open.subscriptions).toBe('86505ms ^!'); //       attempt 5: 30 s again
      });
      expect(retries).toEqual([
        { attempt: 1, delay: 8000, hint: undefined },
        { attempt: 2, delay: 16_000, hint: undefined },
        { attempt: 3, delay: 30_000, hint: undefined },
        { attempt: 4, delay: 2500, hint: 2000 },
        { attempt: 5, delay: 30_000, hint: undefined },
      ]);
    });

    it('should add the jitter to a hint of 1 s or more above a shorter strategy delay, and floor a shorter hint', () => {
      const retries: number[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-#', undefined, { retryAfter: 2000 });
        const second = cold('-#', undefined, { retryAfter: 1000 });
        const third = cold('-#', undefined, { retryAfter: 999 });
        const fourth = cold('-#', undefined, { retryAfter: 0 });
        const fifth = cold('-|');
        const result = attempts(first, second, third, fourth, fifth).pipe(
          retryWithJitteredBackoff({
            initialDelay: 100,
            jitter: 'none',
            random: half,
            shouldRetry: () => true,
            onRetry: ({ delay }) => retries.push(delay),
          }),
        );
        expectObservable(result).toBe('5804ms |');
        expectSubscriptions(second.subscriptions).toBe('2501ms ^!'); // 2000 + 500, not the floor's 2000
        expectSubscriptions(third.subscriptions).toBe('4002ms ^!'); //  exactly 1 s is a wait: 1000 + 500
        expectSubscriptions(fourth.subscriptions).toBe('5002ms ^!'); // 999 is a floor: max(400, 999)
        expectSubscriptions(fifth.subscriptions).toBe('5803ms ^!'); //  0 is a floor: the strategy's 800
      });
      expect(retries).toEqual([2500, 1500, 999, 800]);
    });

    it('should draw the hint jitter from random after the strategy, and keep the strategy delay as the previous one', () => {
      const run = (config: RetryWithJitteredBackoffConfig, hints: (number | undefined)[], draws: number[]) => {
        let calls = 0;
        const delays: number[] = [];
        const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
        let n = 0;
        defer(() => throwError(() => ({ retryAfter: hints[n++] })))
          .pipe(
            retryWithJitteredBackoff({
              ...config,
              maxRetries: hints.length,
              shouldRetry: () => true,
              scheduler,
              random: () => draws[calls++]!,
              onRetry: ({ delay }) => delays.push(delay),
            }),
          )
          .subscribe({ error: () => {} });
        scheduler.flush();
        return { delays, calls };
      };
      // Full jitter: attempt 1 draws 0.25 for the strategy (1000 of 4000) and 0.75 for the hint;
      // the 500 ms hint and no hint draw once each (ceilings 8000 and 16000).
      expect(run({ initialDelay: 4000 }, [3000, 500, undefined], [0.25, 0.75, 0.5, 0.5])).toEqual({
        delays: [3750, 4000, 8000],
        calls: 4,
      });
      // Decorrelated jitter builds on its own previous delay (200), never on the hint (5000):
      // attempt 2 draws in [100, 600), not in [100, 15000).
      expect(run({ initialDelay: 100, jitter: 'decorrelated' }, [5000, undefined], [0.5, 0.5, 0.5])).toEqual({
        delays: [5500, 350],
        calls: 3,
      });
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
      // The second hint is under the cap, and only its jitter would take it over.
      for (const retryAfter of [2 ** 40, 2 ** 31 - 1 - 100]) {
        const delays: number[] = [];
        const sub = throwError(() => ({ retryAfter }))
          .pipe(
            retryWithJitteredBackoff({
              scheduler: new VirtualTimeScheduler(),
              shouldRetry: () => true,
              random: half,
              onRetry: (info) => delays.push(info.delay),
            }),
          )
          .subscribe();
        sub.unsubscribe();
        expect(delays, String(retryAfter)).toEqual([2 ** 31 - 1]);
      }
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
