import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BackoffOptions,
  type BackoffStrategy,
  MAX_TIMER_DELAY,
  backoffStrategies,
  decorrelatedJitterDelay,
  equalJitterDelay,
  exponentialDelay,
  fullJitterDelay,
} from '../../operators/index.js';
import * as operators from '../../operators/index.js';
import { RETRY_AFTER_RESOLUTION, delayWithHint } from '../../operators/backoff.js';

const options: BackoffOptions = { initialDelay: 1000, maxDelay: 30_000, factor: 2 };
const half = (): number => 0.5;

/** Valid options: delays in [0, 2^31−1], maxDelay ≥ initialDelay, factor ≥ 1. */
const optionsArb: fc.Arbitrary<BackoffOptions> = fc
  .tuple(
    fc.oneof(fc.double({ min: 0, max: MAX_TIMER_DELAY, noNaN: true }), fc.integer({ min: 0, max: 10_000 })),
    fc.oneof(fc.double({ min: 0, max: MAX_TIMER_DELAY, noNaN: true }), fc.constant(MAX_TIMER_DELAY)),
    fc.oneof(fc.double({ min: 1, max: 1e12, noNaN: true }), fc.constantFrom(1, 1.5, 2, 3, 10)),
  )
  .map(([a, b, factor]) => ({ initialDelay: Math.min(a, b), maxDelay: Math.max(a, b), factor }));

/** Any attempt, with weight on the ones that overflow a naive `2 ** n`. */
const attemptArb = fc.oneof(
  fc.integer({ min: 1, max: 1_000_000 }),
  fc.integer({ min: 1, max: 64 }),
  fc.constantFrom(1023, 1024, 1025, 1_000_000, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat().map((n) => n + 1),
);

const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

const strategies = Object.entries(backoffStrategies) as [string, BackoffStrategy][];

describe('exponentialDelay', () => {
  it('should wait exactly initialDelay before the first retry, then grow by factor up to maxDelay', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => exponentialDelay(n, options))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
  });

  it('should treat attempts below 1 and NaN as the first retry', () => {
    expect([0, -5, 0.5, Number.NaN].map((n) => exponentialDelay(n, options))).toEqual([1000, 1000, 1000, 1000]);
  });

  it('should stay at maxDelay for attempts where 2 ** n overflows to Infinity', () => {
    for (const n of [1024, 1025, 10_000, 1e6, Number.MAX_SAFE_INTEGER, Infinity]) {
      expect(exponentialDelay(n, options)).toBe(30_000);
    }
  });

  it('should never exceed 2^31−1 even when maxDelay allows it', () => {
    const wide = { initialDelay: 1000, maxDelay: MAX_TIMER_DELAY, factor: 2 };
    expect(exponentialDelay(1025, wide)).toBe(MAX_TIMER_DELAY);
    expect(exponentialDelay(Number.MAX_SAFE_INTEGER, wide)).toBe(MAX_TIMER_DELAY);
  });

  it('should be constant with factor 1 and 0 with initialDelay 0', () => {
    expect(exponentialDelay(1e6, { ...options, factor: 1 })).toBe(1000);
    expect(exponentialDelay(50, { ...options, initialDelay: 0 })).toBe(0);
  });

  it('should not call random', () => {
    let calls = 0;
    backoffStrategies.none(3, options, () => ++calls);
    expect(calls).toBe(0);
  });
});

describe('jittered strategies', () => {
  it('should draw full jitter uniformly below the exponential ceiling', () => {
    expect([1, 2, 3].map((n) => fullJitterDelay(n, options, half))).toEqual([500, 1000, 2000]);
    expect(fullJitterDelay(1, options, () => 0)).toBe(0);
  });

  it('should keep half of the ceiling fixed with equal jitter', () => {
    expect([1, 2, 3].map((n) => equalJitterDelay(n, options, half))).toEqual([750, 1500, 3000]);
    expect(equalJitterDelay(2, options, () => 0)).toBe(1000);
  });

  it('should draw decorrelated jitter between initialDelay and three times the previous delay', () => {
    const first = decorrelatedJitterDelay(1, options, half);
    expect(first).toBe(2000);
    const second = decorrelatedJitterDelay(2, options, half, first);
    expect(second).toBe(3500);
    expect(decorrelatedJitterDelay(3, options, () => 0, second)).toBe(1000);
    // The upper bound 3 × 20000 is capped at maxDelay before the draw: 1000 + 0.5 × 29000.
    expect(decorrelatedJitterDelay(9, options, half, 20_000)).toBe(15_500);
  });

  it('should keep every bound when random misbehaves (NaN, negative, ≥ 1)', () => {
    for (const value of [Number.NaN, -1, 1, 7, Infinity]) {
      for (const [, strategy] of strategies) {
        const delay = strategy(4, options, () => value, 5000);
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(options.maxDelay);
      }
    }
  });

  it('should map every jitter name to its strategy', () => {
    expect(backoffStrategies).toEqual({
      none: exponentialDelay,
      full: fullJitterDelay,
      equal: equalJitterDelay,
      decorrelated: decorrelatedJitterDelay,
    });
    expect(Object.isFrozen(backoffStrategies)).toBe(true);
  });
});

describe('backoff properties', () => {
  it('should give a finite delay in [0, min(maxDelay, 2^31−1)] for any attempt, for every strategy', () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, randomArb, fc.option(fc.double({ min: 0, max: MAX_TIMER_DELAY, noNaN: true })), (opts, attempt, r, previous) => {
        for (const [, strategy] of strategies) {
          const delay = strategy(attempt, opts, () => r, previous ?? undefined);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(opts.maxDelay);
          expect(delay).toBeLessThanOrEqual(MAX_TIMER_DELAY);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('should start the exponential schedule at initialDelay and never decrease it (monotone cap)', () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, attemptArb, (opts, a, b) => {
        expect(exponentialDelay(1, opts)).toBe(opts.initialDelay);
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(exponentialDelay(low, opts)).toBeLessThanOrEqual(exponentialDelay(high, opts));
      }),
      { numRuns: 2000 },
    );
  });

  it('should reach maxDelay and stay there once the ceiling passes it', () => {
    fc.assert(
      fc.property(optionsArb, fc.integer({ min: 0, max: 1000 }), (opts, extra) => {
        fc.pre(opts.factor >= 1.5 && opts.initialDelay >= 1);
        // log_1.5(2^31) < 54: past that, every attempt is capped.
        expect(exponentialDelay(60 + extra, opts)).toBe(opts.maxDelay);
        expect(exponentialDelay(1e6 + extra, opts)).toBe(opts.maxDelay);
      }),
    );
  });

  it('should keep full jitter below and equal jitter in the upper half of the ceiling', () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, randomArb, (opts, attempt, r) => {
        const ceiling = exponentialDelay(attempt, opts);
        const full = fullJitterDelay(attempt, opts, () => r);
        const equal = equalJitterDelay(attempt, opts, () => r);
        expect(full).toBeLessThanOrEqual(ceiling);
        expect(full).toBeCloseTo(r * ceiling, 3);
        expect(equal).toBeGreaterThanOrEqual(ceiling / 2);
        expect(equal).toBeLessThanOrEqual(ceiling);
      }),
      { numRuns: 1000 },
    );
  });

  it('should keep decorrelated jitter between initialDelay and min(maxDelay, 3 × previous)', () => {
    fc.assert(
      fc.property(optionsArb, randomArb, fc.double({ min: 0, max: MAX_TIMER_DELAY, noNaN: true }), (opts, r, previous) => {
        const delay = decorrelatedJitterDelay(7, opts, () => r, previous);
        expect(delay).toBeGreaterThanOrEqual(opts.initialDelay);
        expect(delay).toBeLessThanOrEqual(Math.min(opts.maxDelay, 3 * Math.max(previous, opts.initialDelay)));
      }),
      { numRuns: 1000 },
    );
  });

  it('should be pure: the same inputs give the same delay and random is called at most once', () => {
    fc.assert(
      fc.property(optionsArb, attemptArb, randomArb, (opts, attempt, r) => {
        for (const [name, strategy] of strategies) {
          let calls = 0;
          const random = (): number => {
            calls++;
            return r;
          };
          expect(strategy(attempt, opts, random, 100)).toBe(strategy(attempt, opts, () => r, 100));
          expect(calls).toBe(name === 'none' ? 0 : 1);
        }
      }),
    );
  });
});

describe('delayWithHint (internal: how retryWithJitteredBackoff combines a server hint)', () => {
  const hintArb = fc.oneof(
    fc.double({ min: 0, max: 2 ** 40, noNaN: true }),
    fc.double({ min: 0, max: 2000, noNaN: true }),
    fc.constantFrom(0, 999, 999.999, 1000, 2000, MAX_TIMER_DELAY, 2 ** 40),
  );
  const baseArb = fc.double({ min: 0, max: MAX_TIMER_DELAY, noNaN: true });

  it('should wait a hint of 1 s or more plus a draw in [0, 1 s), floor a shorter one, and pass the base without one', () => {
    expect(RETRY_AFTER_RESOLUTION).toBe(1000);
    expect(delayWithHint(30_000, 2000, half)).toBe(2500);
    expect(delayWithHint(100, 2000, half)).toBe(2500);
    expect(delayWithHint(100, 1000, () => 0)).toBe(1000);
    expect(delayWithHint(100, 999, half)).toBe(999);
    expect(delayWithHint(2000, 999, half)).toBe(2000);
    expect(delayWithHint(1234, 0, half)).toBe(1234);
    expect(delayWithHint(1234, undefined, half)).toBe(1234);
    expect(delayWithHint(0, 2 ** 40, half)).toBe(MAX_TIMER_DELAY);
  });

  it('should stay within its bounds for any base, hint and draw, even from a faulty random', () => {
    const drawArb = fc.oneof(randomArb, fc.constantFrom(Number.NaN, -1, 1, 2, Infinity, -Infinity));
    fc.assert(
      fc.property(baseArb, fc.option(hintArb, { nil: undefined }), drawArb, (base, hint, r) => {
        let calls = 0;
        const delay = delayWithHint(base, hint, () => {
          calls++;
          return r;
        });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(MAX_TIMER_DELAY);
        if (hint === undefined) {
          expect(delay).toBe(base);
          expect(calls).toBe(0);
        } else if (hint < 1000) {
          expect(delay).toBe(Math.max(base, hint));
          expect(calls).toBe(0);
        } else {
          expect(calls).toBe(1);
          if (hint + 1000 <= MAX_TIMER_DELAY) {
            expect(delay).toBeGreaterThanOrEqual(hint);
            // ≤, not <: hint + 0.9999… × 1000 can round up to hint + 1000 in floating point.
            expect(delay).toBeLessThanOrEqual(hint + 1000);
          } else expect(delay).toBeGreaterThanOrEqual(Math.min(hint, MAX_TIMER_DELAY));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('should not be part of the public API', () => {
    expect(Object.keys(operators)).not.toContain('delayWithHint');
    expect(Object.keys(operators)).not.toContain('RETRY_AFTER_RESOLUTION');
  });
});
