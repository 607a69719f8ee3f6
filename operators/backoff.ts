import { MAX_TIMER_DELAY } from '../src/validate.js';

export { MAX_TIMER_DELAY };

/** What a backoff strategy needs to know about the schedule. All values in ms except `factor`. */
export interface BackoffOptions {
  /** The delay the first retry is based on, in ms. */
  readonly initialDelay: number;
  /** No delay exceeds this, in ms (and none exceeds {@link MAX_TIMER_DELAY} either). */
  readonly maxDelay: number;
  /** Growth per attempt: the ceiling for attempt `n` is `initialDelay × factor^(n−1)`. */
  readonly factor: number;
}

/**
 * A backoff strategy: a pure function from the attempt number to a delay in ms.
 *
 * @param attempt - The retry about to be made: `1` for the first retry after a failure.
 * @param options - The schedule's bounds.
 * @param random - A source of numbers in `[0, 1)`; strategies draw from nothing else.
 * @param previousDelay - The delay this strategy returned for the previous attempt of the
 *   same chain, `undefined` for the first one (only decorrelated jitter uses it).
 * @returns A finite delay in `[0, min(maxDelay, MAX_TIMER_DELAY)]`.
 */
export type BackoffStrategy = (
  attempt: number,
  options: BackoffOptions,
  random: () => number,
  previousDelay?: number,
) => number;

/** The built-in strategies by name: the `jitter` option of `retryWithJitteredBackoff`. */
export type JitterMode = 'full' | 'equal' | 'decorrelated' | 'none';

/** The largest delay allowed by `options`; `0` when `maxDelay` is not a usable number. */
function capOf(options: BackoffOptions): number {
  const { maxDelay } = options;
  return maxDelay >= 0 ? Math.min(maxDelay, MAX_TIMER_DELAY) : 0;
}

/** Pins `delay` into `[0, cap]`; NaN becomes 0. */
function clamp(delay: number, cap: number): number {
  if (delay > cap) return cap;
  return delay >= 0 ? delay : 0;
}

/** One draw from `random`, forced into `[0, 1]` so that a faulty source cannot break a bound. */
function draw(random: () => number): number {
  const r = random();
  return r > 0 ? Math.min(r, 1) : 0;
}

/**
 * Capped exponential backoff without jitter: `min(maxDelay, initialDelay × factor^(attempt−1))`.
 *
 * Attempt 1 waits exactly `initialDelay`; attempt 2 waits `initialDelay × factor`, and so on
 * until the cap. The power is never evaluated past the cap, so attempt `10^6` or
 * `Number.MAX_SAFE_INTEGER` gives `maxDelay`, not `Infinity` (`2 ** 1024` is infinite).
 * Attempts below 1 (or NaN) count as 1. Deterministic: `random` is not called.
 *
 * Without jitter, clients that failed together retry together; prefer {@link fullJitterDelay}.
 *
 * @param attempt - The retry about to be made, from 1.
 * @param options - `initialDelay`, `maxDelay` and `factor`.
 * @returns The delay in ms, within `[0, min(maxDelay, MAX_TIMER_DELAY)]`.
 *
 * @example
 * ```ts
 * import { exponentialDelay } from 'rxtether';
 *
 * const options = { initialDelay: 1000, maxDelay: 30_000, factor: 2 };
 * [1, 2, 3, 6, 1e6].map((n) => exponentialDelay(n, options)); // [1000, 2000, 4000, 30000, 30000]
 * ```
 * @see {@link fullJitterDelay}
 */
export function exponentialDelay(attempt: number, options: BackoffOptions): number {
  const cap = capOf(options);
  const { initialDelay, factor } = options;
  if (!(initialDelay > 0)) return 0;
  if (initialDelay >= cap) return cap;
  const exponent = attempt >= 1 ? Math.floor(attempt) - 1 : 0;
  if (exponent === 0 || !(factor > 1)) return initialDelay;
  // Compare in log space first, so the power is only evaluated when its result stays below
  // the cap: factor^exponent ≤ cap / initialDelay ≤ 2^31 / initialDelay.
  if (exponent * Math.log(factor) >= Math.log(cap / initialDelay)) return cap;
  return clamp(initialDelay * factor ** exponent, cap);
}

/**
 * Full jitter, the default: a uniform draw in `[0, ceiling)` where the ceiling is
 * {@link exponentialDelay} for the attempt. Spreads clients that failed together over the
 * whole window, which is what breaks a reconnect storm.
 *
 * @param attempt - The retry about to be made, from 1.
 * @param options - `initialDelay`, `maxDelay` and `factor`.
 * @param random - A source of numbers in `[0, 1)`, called once.
 * @returns The delay in ms, within `[0, exponentialDelay(attempt, options)]`.
 *
 * @example
 * ```ts
 * import { fullJitterDelay } from 'rxtether';
 *
 * fullJitterDelay(3, { initialDelay: 1000, maxDelay: 30_000, factor: 2 }, () => 0.5); // 2000
 * ```
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  return clamp(draw(random) * exponentialDelay(attempt, options), capOf(options));
}

/**
 * Equal jitter: half of the {@link exponentialDelay} ceiling is fixed, the other half is drawn
 * uniformly, so the delay lies in `[ceiling / 2, ceiling)`. Never retries "at once", at the
 * price of less spreading than full jitter.
 *
 * @param attempt - The retry about to be made, from 1.
 * @param options - `initialDelay`, `maxDelay` and `factor`.
 * @param random - A source of numbers in `[0, 1)`, called once.
 * @returns The delay in ms, within `[ceiling / 2, ceiling]`.
 *
 * @example
 * ```ts
 * import { equalJitterDelay } from 'rxtether';
 *
 * equalJitterDelay(1, { initialDelay: 1000, maxDelay: 30_000, factor: 2 }, () => 0.5); // 750
 * ```
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function equalJitterDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = exponentialDelay(attempt, options);
  const half = ceiling / 2;
  // min(): with subnormal delays, rounding could otherwise step past the ceiling.
  return clamp(Math.min(ceiling, half + draw(random) * half), capOf(options));
}

/**
 * Decorrelated jitter: each delay is drawn uniformly between `initialDelay` and three times
 * the previous delay, then capped. The first attempt (no `previousDelay`) draws in
 * `[initialDelay, 3 × initialDelay)`. Grows roughly exponentially without tracking the attempt
 * number; `factor` is not used.
 *
 * @param attempt - The retry about to be made, from 1 (not used by the formula).
 * @param options - `initialDelay` and `maxDelay`.
 * @param random - A source of numbers in `[0, 1)`, called once.
 * @param previousDelay - What this strategy returned for the previous attempt of the chain.
 * @returns The delay in ms, within `[min(initialDelay, maxDelay), min(maxDelay, 3 × previousDelay)]`.
 *
 * @example
 * ```ts
 * import { decorrelatedJitterDelay } from 'rxtether';
 *
 * const options = { initialDelay: 1000, maxDelay: 30_000, factor: 2 };
 * const first = decorrelatedJitterDelay(1, options, () => 0.5); // 2000
 * decorrelatedJitterDelay(2, options, () => 0.5, first); // 3500
 * ```
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function decorrelatedJitterDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number,
  previousDelay?: number,
): number {
  const cap = capOf(options);
  const low = clamp(options.initialDelay, cap);
  const previous = previousDelay !== undefined && previousDelay >= low ? previousDelay : low;
  const high = Math.min(cap, previous * 3);
  return clamp(Math.min(high, low + draw(random) * (high - low)), cap);
}

/**
 * The built-in strategies, keyed by the names the `jitter` option accepts.
 *
 * @example
 * ```ts
 * import { backoffStrategies } from 'rxtether';
 *
 * const delay = backoffStrategies.equal(2, { initialDelay: 100, maxDelay: 5000, factor: 2 }, Math.random);
 * ```
 * @see {@link BackoffStrategy}
 */
export const backoffStrategies: Readonly<Record<JitterMode, BackoffStrategy>> = Object.freeze({
  none: exponentialDelay,
  full: fullJitterDelay,
  equal: equalJitterDelay,
  decorrelated: decorrelatedJitterDelay,
});

/**
 * The resolution of `Retry-After` (whole seconds), in ms: a server hint at least this long is
 * the wait, plus a uniform draw in `[0, RETRY_AFTER_RESOLUTION)`; a shorter one is a floor.
 * @internal Not re-exported from the package; shared by the operator and bench/storm.
 */
export const RETRY_AFTER_RESOLUTION = 1000;

/**
 * How `retryWithJitteredBackoff` combines its strategy's delay with a server hint; the single
 * definition the operator and the reconnect-storm simulator (bench/storm) both call.
 *
 * - no hint: `base`;
 * - a hint of at least {@link RETRY_AFTER_RESOLUTION} (1 s): the hint replaces `base`, plus a
 *   uniform draw in `[0, 1 s)`, so clients told the same whole second do not come back in
 *   the same millisecond. The hint wins even when `base` is longer: the server's schedule is
 *   followed, not just used as a floor;
 * - a shorter hint (`Retry-After: 0`, a 200 ms hint in a close reason): a floor,
 *   `max(base, hint)`, so a server cannot turn the backoff off.
 *
 * Always capped at {@link MAX_TIMER_DELAY}. `random` is called once, and only in the second
 * case, after the strategy's own draw.
 *
 * @param base - The strategy's delay, in ms (a number ≥ 0).
 * @param hint - The server's wait, in ms: a finite number ≥ 0, or `undefined` when none.
 * @param random - A source of numbers in `[0, 1)`.
 * @returns The wait in ms, within `[0, MAX_TIMER_DELAY]`.
 * @internal Not re-exported from the package.
 */
export function delayWithHint(base: number, hint: number | undefined, random: () => number): number {
  if (hint === undefined) return Math.min(MAX_TIMER_DELAY, base);
  if (hint >= RETRY_AFTER_RESOLUTION) return Math.min(MAX_TIMER_DELAY, hint + draw(random) * RETRY_AFTER_RESOLUTION);
  return Math.min(MAX_TIMER_DELAY, Math.max(base, hint));
}
