import { NEVER, Observable, type SchedulerLike, Subject, VirtualTimeScheduler, VirtualAction, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { heartbeatTimeoutWhile } from '../../operators/heartbeatTimeout.js';
import { type HeartbeatTimeoutConfig, HeartbeatTimeoutError, heartbeatTimeout, isHeartbeatTimeoutError } from '../../operators/index.js';

const createTestScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

/**
 * A clock whose `now()` can jump ahead without firing timers: what a suspended laptop or a
 * throttled background tab looks like to the code that wakes up afterwards.
 */
function suspendableClock(base: SchedulerLike): { clock: SchedulerLike; suspend: (ms: number) => void } {
  let skew = 0;
  return {
    clock: { now: () => base.now() + skew, schedule: base.schedule.bind(base) },
    suspend: (ms) => {
      skew += ms;
    },
  };
}

interface Frame {
  readonly type: 'pong' | 'data';
}
const frames: Record<'p' | 'd', Frame> = { p: { type: 'pong' }, d: { type: 'data' } };

describe('heartbeatTimeout', () => {
  describe('deadline', () => {
    it('should error when nothing arrives within timeout of subscription', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-');
        expectObservable(source.pipe(heartbeatTimeout(10))).toBe('10ms #', undefined, new HeartbeatTimeoutError(10, 10));
        expectSubscriptions(source.subscriptions).toBe('^ 9ms !');
      });
    });

    it('should count the deadline from every value', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('--a--b-------');
        const expected = '   --a--b 9ms #';
        expectObservable(source.pipe(heartbeatTimeout({ timeout: 10 }))).toBe(expected, undefined, new HeartbeatTimeoutError(10, 10));
        expectSubscriptions(source.subscriptions).toBe('^ 14ms !');
      });
    });

    it('should never time out a source that keeps talking, and pass its notifications through', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('-a-b-c-d-e-f-|').pipe(heartbeatTimeout(3))).toBe('-a-b-c-d-e-f-|');
        const error = new Error('closed');
        expectObservable(cold('--a--#', undefined, error).pipe(heartbeatTimeout(10))).toBe('--a--#', undefined, error);
      });
    });

    it('should count the deadline from a value that arrives exactly at the deadline', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        // The check due at 10 ms runs before the value of the same frame; it looks again
        // (a macrotask later in real time, the same frame here) and finds the value.
        const source = cold('10ms a 19ms -');
        expectObservable(source.pipe(heartbeatTimeout(10))).toBe('10ms a 9ms #', undefined, new HeartbeatTimeoutError(10, 10));
        expectSubscriptions(source.subscriptions).toBe('^ 19ms !');
      });
    });

    it('should time out at the deadline when the value comes one frame late', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('11ms a');
        expectObservable(source.pipe(heartbeatTimeout(10))).toBe('10ms #', undefined, new HeartbeatTimeoutError(10, 10));
      });
    });

    it('should count only the values isAlive accepts, and still deliver the others', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold<Frame>('--p--d--d--d-----', frames);
        const result = source.pipe(heartbeatTimeout<Frame>({ timeout: 10, isAlive: (frame) => frame.type === 'pong' }));
        expectObservable(result).toBe('--p--d--d--d#', frames, new HeartbeatTimeoutError(10, 10));
      });
    });
  });

  describe('ping', () => {
    it('should ping after interval of silence and again each interval, restarting after a value', () => {
      const testScheduler = createTestScheduler();
      const pings: number[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold('--a---------b-----------');
        const result = source.pipe(heartbeatTimeout({ timeout: 10, interval: 4, ping: () => pings.push(testScheduler.now()) }));
        expectObservable(result).toBe('--a 9ms b 9ms #', undefined, new HeartbeatTimeoutError(10, 10));
      });
      expect(pings).toEqual([6, 10, 16, 20]);
    });

    it('should keep pinging while silent and not ping at the deadline', () => {
      const testScheduler = createTestScheduler();
      const pings: number[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const result = cold('-').pipe(heartbeatTimeout({ timeout: 20, interval: 5, ping: () => pings.push(testScheduler.now()) }));
        expectObservable(result).toBe('20ms #', undefined, new HeartbeatTimeoutError(20, 20));
      });
      expect(pings).toEqual([5, 10, 15]);
    });

    it('should keep pinging while only non-liveness values arrive', () => {
      const testScheduler = createTestScheduler();
      const pings: number[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<Frame>('--p-d-d-d-p-----', frames);
        const result = source.pipe(
          heartbeatTimeout<Frame>({
            timeout: 10,
            interval: 3,
            isAlive: (frame) => frame.type === 'pong',
            ping: () => pings.push(testScheduler.now()),
          }),
        );
        expectObservable(result, '^ 15ms !').toBe('--p-d-d-d-p-----', frames);
      });
      // pong at 2: pings at 5 and 8 despite the data; pong at 10: the next ping is due at 13
      expect(pings).toEqual([5, 8, 13]);
    });

    it('should turn a throwing ping into the stream error', () => {
      const broken = new Error('socket not open');
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-');
        const result = source.pipe(
          heartbeatTimeout({
            timeout: 10,
            interval: 4,
            ping: () => {
              throw broken;
            },
          }),
        );
        expectObservable(result).toBe('4ms #', undefined, broken);
        expectSubscriptions(source.subscriptions).toBe('^ 3ms !');
      });
    });
  });

  describe('a ping answered synchronously', () => {
    it('should count the next ping from the reply delivered during the ping call', () => {
      const testScheduler = createTestScheduler();
      const pings: number[] = [];
      testScheduler.run(({ expectObservable }) => {
        const source = new Subject<string>();
        const result = source.pipe(
          heartbeatTimeout({
            timeout: 10,
            interval: 4,
            ping: () => {
              pings.push(testScheduler.now());
              source.next('pong'); // an in-process peer answers before ping() returns
            },
          }),
        );
        expectObservable(result, '^ 13ms !').toBe('----p---p---p-', { p: 'pong' });
      });
      // Each reply restarts the silence: one ping per interval, never a burst.
      expect(pings).toEqual([4, 8, 12]);
    });
  });

  describe('late timers (suspended laptop, throttled tab)', () => {
    it('should report an overdue peer at the first late check instead of pinging again', () => {
      const testScheduler = createTestScheduler();
      const pings: number[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const { clock, suspend } = suspendableClock(testScheduler);
        testScheduler.schedule(() => suspend(100), 25);
        const result = cold('-').pipe(
          heartbeatTimeout({ timeout: 50, interval: 10, ping: () => pings.push(testScheduler.now()), scheduler: clock }),
        );
        // the check due at 30 runs after a 100 ms sleep: 130 ms of silence, error at once
        expectObservable(result).toBe('30ms #', undefined, new HeartbeatTimeoutError(130, 50));
      });
      expect(pings).toEqual([10, 20]);
    });

    it('should report an overdue peer when a non-liveness value arrives after the sleep', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable }) => {
        const { clock, suspend } = suspendableClock(testScheduler);
        testScheduler.schedule(() => suspend(100), 25);
        const result = cold<Frame>('30ms d', frames).pipe(
          heartbeatTimeout<Frame>({ timeout: 50, isAlive: (frame) => frame.type === 'pong', scheduler: clock }),
        );
        expectObservable(result).toBe('30ms #', frames, new HeartbeatTimeoutError(130, 50));
      });
    });

    it('should not time out when a liveness value did arrive after the sleep (busy event loop)', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable }) => {
        const { clock, suspend } = suspendableClock(testScheduler);
        testScheduler.schedule(() => suspend(100), 25);
        const result = cold('30ms a').pipe(heartbeatTimeout({ timeout: 50, scheduler: clock }));
        expectObservable(result).toBe('30ms a 49ms #', undefined, new HeartbeatTimeoutError(50, 50));
      });
    });
  });

  describe('a really busy event loop', () => {
    it('should not time out when a value was queued behind the overdue check', async () => {
      // Real timers: block the event loop past the deadline while a value waits in the queue.
      // The block runs in the check phase, so the next loop iteration runs the overdue timer
      // first and the queued value (an immediate, like a socket read) only after it.
      const wire = new Subject<string>();
      const seen: string[] = [];
      const errors: unknown[] = [];
      const sub = wire.pipe(heartbeatTimeout({ timeout: 30 })).subscribe({
        next: (v) => seen.push(v),
        error: (e: unknown) => errors.push(e),
      });
      await new Promise<void>((resolve) => {
        setImmediate(() => {
          setImmediate(() => wire.next('arrived while busy'));
          const until = performance.now() + 60; // the check falls due during this busy spell
          while (performance.now() < until) {
            // busy: no timer, no I/O, no immediate runs
          }
          setImmediate(() => setImmediate(resolve));
        });
      });
      expect(seen).toEqual(['arrived while busy']);
      expect(errors).toEqual([]);
      sub.unsubscribe();
    });
  });

  describe('timers and re-entrancy', () => {
    it('should leave no scheduled action after unsubscribe, complete, error or a timeout', () => {
      const scheduler = new VirtualTimeScheduler();
      const config: HeartbeatTimeoutConfig<unknown> = { timeout: 10, interval: 3, ping: () => undefined, scheduler };

      const unsubscribed = NEVER.pipe(heartbeatTimeout(config)).subscribe();
      expect(scheduler.actions.length).toBe(1);
      unsubscribed.unsubscribe();
      expect(scheduler.actions.length).toBe(0);

      const completing = new Subject<number>();
      completing.pipe(heartbeatTimeout(config)).subscribe();
      completing.complete();
      expect(scheduler.actions.length).toBe(0);

      const erroring = new Subject<number>();
      erroring.pipe(heartbeatTimeout(config)).subscribe({ error: () => undefined });
      erroring.error(new Error('drop'));
      expect(scheduler.actions.length).toBe(0);

      of(1, 2, 3).pipe(heartbeatTimeout(config)).subscribe();
      expect(scheduler.actions.length).toBe(0);

      const silent = new Subject<number>();
      const errors: unknown[] = [];
      silent.pipe(heartbeatTimeout(config)).subscribe({ error: (e: unknown) => errors.push(e) });
      scheduler.flush();
      expect(errors.length).toBe(1);
      expect(isHeartbeatTimeoutError(errors[0])).toBe(true);
      expect(silent.observed).toBe(false);
      expect(scheduler.actions.length).toBe(0);
    });

    it('should stop pinging when ping itself unsubscribes the consumer', () => {
      const scheduler = new VirtualTimeScheduler();
      let pings = 0;
      const sub = NEVER.pipe(
        heartbeatTimeout({
          timeout: 100,
          interval: 10,
          scheduler,
          ping: () => {
            pings++;
            sub.unsubscribe();
          },
        }),
      ).subscribe();
      scheduler.flush();
      expect(pings).toBe(1);
      expect(scheduler.actions.length).toBe(0);
    });

    it('should still detect silence within timeout after the wall clock stepped backwards', () => {
      const scheduler = new VirtualTimeScheduler();
      let skew = 0;
      const clock: SchedulerLike = { now: () => scheduler.now() + skew, schedule: scheduler.schedule.bind(scheduler) };
      const errors: unknown[] = [];
      NEVER.pipe(heartbeatTimeout({ timeout: 30, scheduler: clock })).subscribe({ error: (e: unknown) => errors.push(e) });
      scheduler.schedule(() => {
        skew = -3_600_000; // an NTP correction of one hour backwards
      }, 10);
      scheduler.flush();
      expect(errors).toHaveLength(1);
      expect(isHeartbeatTimeoutError(errors[0])).toBe(true);
      // Detected within one timeout of the step (the clock restarted at 10 ms): not an hour later.
      expect(scheduler.now()).toBeLessThanOrEqual(10 + 30 + 30);
    });

    it('should treat a pong sent synchronously from ping as liveness', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 40);
      const wire = new Subject<string>();
      const log: string[] = [];
      wire
        .pipe(
          heartbeatTimeout({
            timeout: 10,
            interval: 4,
            scheduler,
            ping: () => {
              log.push(`ping ${scheduler.now()}`);
              wire.next('pong');
            },
          }),
        )
        .subscribe({ next: (v) => log.push(`${v} ${scheduler.now()}`), error: () => log.push('timeout') });
      scheduler.flush();
      expect(log).toEqual(
        [4, 8, 12, 16, 20, 24, 28, 32, 36, 40].flatMap((t) => [`ping ${t}`, `pong ${t}`]),
      );
    });
  });

  describe('heartbeatTimeoutWhile (internal: the client deadline, off while paused)', () => {
    it('should run the deadline only while active$ says true, counted anew from each true', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const watch = heartbeatTimeoutWhile<string>({ timeout: 5 });
        const active = hot('  t---f------t---------', { t: true, f: false });
        // a at 1 restarts the deadline (due 6); paused from 4 to 11, then due 16
        expectObservable(cold('-a-------------------').pipe(watch(active))).toBe('-a--------------#', undefined, new HeartbeatTimeoutError(5, 5));
        // b at 14 restarts it: due 19
        expectObservable(cold('-a------------b------').pipe(watch(active))).toBe('-a------------b----#', undefined, new HeartbeatTimeoutError(5, 5));
      });
    });

    it('should pass values through while inactive, and error with active$', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const error = new Error('status failed');
        const source = cold('-a-b-c-');
        const active = hot('  f----#', { f: false }, error);
        expectObservable(source.pipe(heartbeatTimeoutWhile<string>({ timeout: 1 })(active))).toBe('-a-b-#', undefined, error);
      });
    });

    it('should leave no scheduled action when active$ starts the deadline and errors while subscribing', () => {
      const scheduler = new VirtualTimeScheduler();
      const source = new Subject<string>();
      const errors: unknown[] = [];
      const failing = new Error('status failed');
      const active$ = new Observable<boolean>((subscriber) => {
        subscriber.next(true);
        subscriber.error(failing);
      });
      source.pipe(heartbeatTimeoutWhile<string>({ timeout: 10, scheduler })(active$)).subscribe({ error: (e: unknown) => errors.push(e) });
      expect(errors).toEqual([failing]);
      expect(source.observed).toBe(false);
      expect(scheduler.actions.length).toBe(0);
    });
  });

  describe('validation', () => {
    const invalid: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      [0, RangeError, /timeout must be a finite number of ms in \(0, 2147483647\], got 0/],
      [-1, RangeError, /timeout/],
      [Number.NaN, RangeError, /timeout.*NaN/],
      [Infinity, RangeError, /timeout.*Infinity/],
      [2 ** 31, RangeError, /timeout/],
      [{ timeout: '10' }, TypeError, /timeout must be a number/],
      [{}, TypeError, /timeout/],
      [undefined, TypeError, /config with a timeout is required/],
      [null, TypeError, /config must be an object/],
      [{ timeout: 10, interval: 5 }, TypeError, /interval and ping must be given together/],
      [{ timeout: 10, ping: () => undefined }, TypeError, /interval and ping must be given together/],
      [{ timeout: 10, interval: 10, ping: () => undefined }, RangeError, /interval must be less than timeout \(10\), got 10/],
      [{ timeout: 10, interval: 0, ping: () => undefined }, RangeError, /interval/],
      [{ timeout: 10, interval: 5, ping: 'ping' }, TypeError, /ping must be a function/],
      [{ timeout: 10, isAlive: true }, TypeError, /isAlive must be a function/],
      [{ timeout: 10, scheduler: {} }, TypeError, /scheduler/],
    ];

    it.each(invalid)('should reject %o at creation', (config, type, message) => {
      const create = (): unknown => heartbeatTimeout(config as HeartbeatTimeoutConfig<unknown>);
      expect(create).toThrow(type);
      expect(create).toThrow(message);
    });
  });
});
