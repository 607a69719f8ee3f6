import {
  type MonoTypeOperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  Observable,
  type Subscriber,
  Subscription,
  asyncScheduler,
} from 'rxjs';
import { isRetryableError, retryAfterOf } from '../src/errors.js';
import { Link } from '../src/link.js';
import { type BackoffOptions, type BackoffStrategy, type JitterMode, backoffStrategies, delayWithHint } from './backoff.js';
import { checkBoolean, checkConfig, checkFunction, checkMs, checkScheduler } from '../src/validate.js';

const WHERE = 'retryWithJitteredBackoff';

/** Passed to `shouldRetry`: the retry that would follow if it returns `true`. */
export interface ShouldRetryInfo {
  /** The number of the retry being considered: `1` after the first failure of a chain. */
  readonly attempt: number;
}

/** Passed to `onRetry` before each wait. */
export interface RetryAttemptInfo {
  /** The number of this retry since the counter was last reset, from `1`. */
  readonly attempt: number;
  /**
   * How long the operator waits before re-subscribing, in ms: the strategy's delay; with a
   * `hint` of 1000 ms or more, the hint plus a draw in `[0, 1000)` instead (even when shorter
   * than the strategy's delay); with a shorter hint, the larger of the two. At most `2^31−1`.
   */
  readonly delay: number;
  /** The error that ended the previous subscription. */
  readonly error: unknown;
  /** The server's wait read by `retryAfter`, in ms; `undefined` when there was none (or it was invalid). */
  readonly hint: number | undefined;
}

/** Why the operator stopped retrying. */
export type RetryGiveUpReason = 'notRetryable' | 'maxRetries' | 'error';

/** Passed to `onGiveUp` just before the error reaches the subscriber. */
export interface RetryGiveUpInfo {
  /** The error that reaches the subscriber: the last real error, never wrapped. */
  readonly error: unknown;
  /** How many retries were made since the counter was last reset (`0` if none). */
  readonly retries: number;
  /**
   * `'notRetryable'` when `shouldRetry` said no, `'maxRetries'` when the budget was spent,
   * `'error'` when a hook, the strategy or `retryNow` threw or errored (`error` is that error).
   */
  readonly reason: RetryGiveUpReason;
}

/** Options of {@link retryWithJitteredBackoff}. Every field is optional. */
export interface RetryWithJitteredBackoffConfig {
  /**
   * The delay the first retry is based on, in ms: exactly this without jitter, a draw in
   * `[0, initialDelay)` with full jitter. Finite, in `[0, 2^31−1]`.
   * @defaultValue `1000`
   */
  readonly initialDelay?: number;
  /**
   * The largest delay the strategy may produce, in ms; at least `initialDelay`, at most `2^31−1`.
   * A wait set by a server hint (see `retryAfter`) may exceed it.
   * @defaultValue `30000`, or `initialDelay` when that is larger
   */
  readonly maxDelay?: number;
  /**
   * How much the delay ceiling grows per attempt: attempt `n` is based on
   * `initialDelay × factor^(n−1)`. Finite, at least `1` (`1` gives a constant ceiling).
   * @defaultValue `2`
   */
  readonly factor?: number;
  /**
   * How delays are spread: `'full'` (uniform in `[0, ceiling)`), `'equal'` (`[ceiling/2, ceiling)`),
   * `'decorrelated'`, `'none'` (exactly the ceiling), or your own {@link BackoffStrategy}.
   * @defaultValue `'full'`
   */
  readonly jitter?: JitterMode | BackoffStrategy;
  /**
   * How many retries are allowed since the counter was last reset: a non-negative integer or
   * `Infinity`. `0` passes the first error straight through.
   * @defaultValue `Infinity`
   */
  readonly maxRetries?: number;
  /**
   * Decides whether an error is worth a retry; `false` passes it to the subscriber at once.
   * Runs before the `maxRetries` check.
   * @defaultValue `isRetryableError` (terminal close codes, 401/403 handshakes, decode and
   *   resume-gap errors and programming errors are not retried)
   */
  readonly shouldRetry?: (error: unknown, info: ShouldRetryInfo) => boolean;
  /**
   * Reads the server's wait from an error, in ms (a `Retry-After` header, a delay found in a
   * close reason or a "reconnect" message). A hint of 1000 ms or more *is* the next wait, plus
   * a uniform draw in `[0, 1000)` from `random` (`Retry-After` counts whole seconds, and
   * clients told the same second must not return in the same millisecond): it replaces the
   * strategy's delay whether that is shorter or longer, and may exceed `maxDelay`. A shorter
   * hint is only a floor, `max(strategy delay, hint)`, so `Retry-After: 0` cannot switch the
   * backoff off. Either way the wait is capped at `2^31−1`, the attempt counter still
   * advances, and the strategy's own delay (not the hint) is what decorrelated jitter builds
   * on next. Results that are not finite non-negative numbers are ignored.
   * @defaultValue `retryAfterOf` (a numeric `retryAfter` field on the error)
   */
  readonly retryAfter?: (error: unknown) => number | undefined;
  /**
   * Whether a subscription that emits proves the source healthy. With `stableAfter` at `0`,
   * the first value resets the attempt counter; with `stableAfter`, it starts the stable period.
   * When `false`, the stable period starts at subscription instead (and with `stableAfter`
   * at `0` the counter never resets).
   * @defaultValue `true`
   */
  readonly resetOnValue?: boolean;
  /**
   * How long, in ms, a subscription must stay up after it proved healthy before the attempt
   * counter resets. A flapping server (accepts, sends, drops) then keeps backing off.
   * @defaultValue `0` (reset as soon as it proved healthy)
   */
  readonly stableAfter?: number;
  /**
   * A "retry now" signal (network back online, app foregrounded, a reconnect button). A value
   * cuts the current wait short and re-subscribes at once. It is subscribed only during waits,
   * so values while the source is subscribed are ignored and never open a second
   * subscription; a value delivered synchronously on subscription (a `BehaviorSubject`'s
   * current value) is ignored too. It must be an Observable of real events: a promise would
   * resolve right after each wait starts and cut every wait short, so it is rejected. Its
   * completion is ignored; its error reaches the subscriber (and `onGiveUp`, reason `'error'`).
   * @defaultValue none
   */
  readonly retryNow?: Observable<unknown>;
  /** Called before each wait, for status streams and logs. A throw becomes the stream's error. */
  readonly onRetry?: (info: RetryAttemptInfo) => void;
  /**
   * Called just before the final error reaches the subscriber. A throw does not replace the
   * error: it is reported as unhandled.
   */
  readonly onGiveUp?: (info: RetryGiveUpInfo) => void;
  /**
   * Source of numbers in `[0, 1)` for jitter: the strategy's draw, then, after a hint of 1 s
   * or more, the draw added to the hint.
   * @defaultValue `Math.random`
   */
  readonly random?: () => number;
  /**
   * Schedules the waits and the stable period.
   * @defaultValue `asyncScheduler`
   */
  readonly scheduler?: SchedulerLike;
}

/** Retries made before an error was passed on, by error object (primitives cannot be keys). */
const retriesByError = new WeakMap<object, number>();

/**
 * How many retries {@link retryWithJitteredBackoff} made before it passed `error` to its
 * subscriber (`0` when the first error was not retryable or `maxRetries` was `0`).
 *
 * @param error - An error received from a `retryWithJitteredBackoff` pipeline.
 * @returns The retry count, or `undefined` when the error did not come through the operator
 *   or is a primitive (use `onGiveUp` for those).
 *
 * @example
 * ```ts
 * import { retryAttemptsOf, retryWithJitteredBackoff } from 'rxtether';
 *
 * source$.pipe(retryWithJitteredBackoff({ maxRetries: 5 })).subscribe({
 *   error: (e) => console.error(`gave up after ${retryAttemptsOf(e)} retries`, e),
 * });
 * ```
 * @see {@link RetryWithJitteredBackoffConfig.onGiveUp}
 */
export function retryAttemptsOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? retriesByError.get(error) : undefined;
}

function defaultShouldRetry(error: unknown): boolean {
  return isRetryableError(error);
}

function isStrategyName(value: unknown): value is JitterMode {
  return typeof value === 'string' && Object.hasOwn(backoffStrategies, value);
}

/**
 * Re-subscribes to the source after an error, after a capped, jittered exponential delay.
 * Re-subscription is the only way it reconnects, so however many signals say "reconnect",
 * only one new subscription is ever open.
 *
 * ```
 * source (each subscription):  ---#
 * retryWithJitteredBackoff({ initialDelay: 2, jitter: 'none', maxRetries: 3 })
 * subscriptions:               ^--!
 *                              -----^--!                   attempt 1 waited 2
 *                              ------------^--!            attempt 2 waited 4
 *                              -----------------------^--! attempt 3 waited 8
 * output:                      --------------------------# the 4th error; retryAttemptsOf(e) === 3
 * ```
 *
 * - **Attempts**: `attempt` 1 is the first retry after a failure; without jitter it waits
 *   exactly `initialDelay`, attempt `n` waits `min(maxDelay, initialDelay × factor^(n−1))`.
 *   With full jitter (the default) the wait is a uniform draw below that ceiling.
 * - **Reset**: the counter goes back to 0 when a subscription proves healthy (its first
 *   value, by default), or only after it then stayed up for `stableAfter` ms.
 * - **Server hints**: a hint of 1 s or more from `retryAfter(error)` is the wait, plus up to
 *   1 s of jitter, even when the strategy would wait longer; a shorter hint is a floor.
 * - **Error**: when `shouldRetry` says no, or `maxRetries` is spent, the last real error
 *   reaches the subscriber unchanged; {@link retryAttemptsOf} and `onGiveUp` tell how many
 *   retries were made.
 * - **Complete**: the source's completion passes through; nothing is retried.
 * - **Unsubscribe**: cancels the current subscription, wait, `retryNow` subscription and
 *   stable timer; nothing is re-subscribed afterwards.
 *
 * @param config - Options, all optional; see {@link RetryWithJitteredBackoffConfig}.
 * @returns An operator that mirrors the source and re-subscribes to it after errors.
 * @throws TypeError or RangeError, at creation, when an option is invalid (the message names it).
 *
 * @example
 * ```ts
 * import { connect, isRetryableError, retryWithJitteredBackoff } from 'rxtether';
 * import { fromEvent } from 'rxjs';
 *
 * const messages$ = connect({ url: 'wss://example.com/feed' }).pipe(
 *   retryWithJitteredBackoff({
 *     initialDelay: 500,
 *     maxDelay: 30_000,
 *     stableAfter: 5_000,
 *     shouldRetry: (error) => isRetryableError(error, { terminalCodes: [4401] }),
 *     retryNow: fromEvent(window, 'online'),
 *     onRetry: ({ attempt, delay }) => console.log(`retry ${attempt} in ${delay} ms`),
 *   }),
 * );
 * ```
 * @see {@link fullJitterDelay} for the default schedule
 * @see {@link isRetryableError} for the default classifier
 */
export function retryWithJitteredBackoff<T>(config?: RetryWithJitteredBackoffConfig): MonoTypeOperatorFunction<T>;
/**
 * Shorthand for `retryWithJitteredBackoff({ maxRetries })`.
 *
 * @param maxRetries - How many retries are allowed since the counter was last reset.
 * @returns An operator that mirrors the source and re-subscribes to it after errors.
 * @throws RangeError, at creation, when `maxRetries` is not a non-negative integer or `Infinity`.
 *
 * @example
 * ```ts
 * import { retryWithJitteredBackoff } from 'rxtether';
 *
 * source$.pipe(retryWithJitteredBackoff(5));
 * ```
 */
export function retryWithJitteredBackoff<T>(maxRetries: number): MonoTypeOperatorFunction<T>;
export function retryWithJitteredBackoff<T>(
  configOrMaxRetries?: RetryWithJitteredBackoffConfig | number,
): MonoTypeOperatorFunction<T> {
  const config: RetryWithJitteredBackoffConfig | undefined =
    typeof configOrMaxRetries === 'number' ? { maxRetries: configOrMaxRetries } : configOrMaxRetries;
  checkConfig(WHERE, config);
  const {
    initialDelay = 1000,
    factor = 2,
    jitter = 'full',
    maxRetries = Infinity,
    shouldRetry = defaultShouldRetry,
    retryAfter = retryAfterOf,
    resetOnValue = true,
    stableAfter = 0,
    retryNow,
    onRetry,
    onGiveUp,
    random = Math.random,
    scheduler = asyncScheduler,
  } = config ?? {};

  // Normalise and validate everything now: a bad option is a programming error, and an
  // unvalidated NaN or > 2^31−1 delay turns into a 1 ms hot loop in every runtime.
  checkMs(WHERE, 'initialDelay', initialDelay);
  const maxDelay = checkMs(WHERE, 'maxDelay', config?.maxDelay ?? Math.max(30_000, initialDelay));
  if (maxDelay < initialDelay) {
    throw new RangeError(`${WHERE}: maxDelay must be at least initialDelay (${initialDelay}), got ${maxDelay}`);
  }
  if (typeof factor !== 'number') {
    throw new TypeError(`${WHERE}: factor must be a number in [1, Infinity), got ${typeof factor}`);
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`${WHERE}: factor must be a finite number in [1, Infinity), got ${String(factor)}`);
  }
  if (typeof maxRetries !== 'number') {
    throw new TypeError(`${WHERE}: maxRetries must be a non-negative integer or Infinity, got ${typeof maxRetries}`);
  }
  if (maxRetries !== Infinity && !(Number.isInteger(maxRetries) && maxRetries >= 0)) {
    throw new RangeError(`${WHERE}: maxRetries must be a non-negative integer or Infinity, got ${String(maxRetries)}`);
  }
  let strategy: BackoffStrategy;
  if (typeof jitter === 'function') strategy = jitter;
  else if (isStrategyName(jitter)) strategy = backoffStrategies[jitter];
  else {
    throw new TypeError(
      `${WHERE}: jitter must be 'full', 'equal', 'decorrelated', 'none' or a function, got ${typeof jitter === 'string' ? JSON.stringify(jitter) : typeof jitter}`,
    );
  }
  checkMs(WHERE, 'stableAfter', stableAfter);
  checkBoolean(WHERE, 'resetOnValue', resetOnValue);
  checkFunction(WHERE, 'shouldRetry', shouldRetry);
  checkFunction(WHERE, 'retryAfter', retryAfter);
  checkFunction(WHERE, 'onRetry', onRetry);
  checkFunction(WHERE, 'onGiveUp', onGiveUp);
  checkFunction(WHERE, 'random', random);
  checkScheduler(WHERE, scheduler);
  // A promise (or any thenable) resolves once, a microtask after each wait starts: it would
  // cut every wait short. Only an Observable of real events can be a retry-now signal.
  if (retryNow !== undefined && (retryNow === null || typeof (retryNow as { subscribe?: unknown }).subscribe !== 'function')) {
    throw new TypeError(`${WHERE}: retryNow must be an observable, got ${retryNow === null ? 'null' : typeof retryNow}`);
  }
  const settings: RetrySettings = {
    strategy,
    options: { initialDelay, maxDelay, factor },
    maxRetries,
    shouldRetry,
    retryAfter,
    resetOnValue,
    stableAfter,
    retryNow,
    onRetry,
    onGiveUp,
    random,
    scheduler,
  };
  return (source) =>
    new Observable<T>((subscriber) => {
      const chain = new RetryChain(source, subscriber, settings);
      chain.subscribeToSource();
      return chain;
    });
}

/** The validated options every subscription of one operator shares. */
interface RetrySettings {
  readonly strategy: BackoffStrategy;
  readonly options: BackoffOptions;
  readonly maxRetries: number;
  readonly shouldRetry: (error: unknown, info: ShouldRetryInfo) => boolean;
  readonly retryAfter: (error: unknown) => number | undefined;
  readonly resetOnValue: boolean;
  readonly stableAfter: number;
  readonly retryNow: Observable<unknown> | undefined;
  readonly onRetry: ((info: RetryAttemptInfo) => void) | undefined;
  readonly onGiveUp: ((info: RetryGiveUpInfo) => void) | undefined;
  readonly random: () => number;
  readonly scheduler: SchedulerLike;
}

/**
 * The retry chain of one subscriber: the observer of every attempt (attempts are sequential:
 * an attempt has errored before the next one is subscribed), its counters, and its teardown
 * (`unsubscribe`). Fields of one object rather than closures, so that a connected, idle chain
 * retains this object besides what `source.subscribe` allocates.
 */
class RetryChain<T> {
  /** Retries made since the counter was last reset. */
  private retries = 0;
  /** The strategy's delay before the last retry, for decorrelated jitter. */
  private previousDelay: number | undefined = undefined;
  /** Counts attempts, so that a late-returning `subscribe` does not overwrite a newer one. */
  private generation = 0;
  /** Whether the current attempt proved healthy (emitted, with `resetOnValue`). */
  private healthy = false;
  private attemptSub: Subscription | undefined = undefined;
  private waitSub: Subscription | undefined = undefined;
  private stableSub: Subscription | undefined = undefined;

  constructor(
    private readonly source: Observable<T>,
    private readonly subscriber: Subscriber<T>,
    private readonly settings: RetrySettings,
  ) {}

  subscribeToSource(): void {
    const id = ++this.generation;
    this.healthy = false;
    if (!this.settings.resetOnValue && this.settings.stableAfter > 0) this.provedHealthy();
    const sub = this.source.subscribe(new Link(this));
    // The consumer may have left while the source was still subscribing (a synchronous
    // value into take(1)): the teardown already ran, so this subscription is ours to end.
    if (this.subscriber.closed) sub.unsubscribe();
    // A synchronous scheduler may already have started the next attempt.
    else if (id === this.generation) this.attemptSub = sub;
  }

  next(value: T): void {
    if (!this.healthy && this.settings.resetOnValue) {
      this.healthy = true;
      this.provedHealthy();
    }
    this.subscriber.next(value);
  }

  /** An attempt failed: retry after a delay, or give up. */
  error(error: unknown): void {
    this.stableSub?.unsubscribe();
    // The consumer may have left synchronously while the source kept going.
    if (this.subscriber.closed) return;
    const { shouldRetry, maxRetries } = this.settings;
    const attempt = this.retries + 1;
    let stop: RetryGiveUpReason | undefined;
    let delay = 0;
    try {
      if (!shouldRetry(error, { attempt })) stop = 'notRetryable';
      else if (attempt > maxRetries) stop = 'maxRetries';
      else delay = this.nextDelay(error, attempt);
    } catch (thrown) {
      this.giveUp(thrown, 'error');
      return;
    }
    // A hook (onRetry, shouldRetry, retryAfter) may have unsubscribed the consumer.
    if (this.subscriber.closed) return;
    if (stop === undefined) this.wait(delay);
    else this.giveUp(error, stop);
  }

  complete(): void {
    this.subscriber.complete();
  }

  /** The teardown. */
  unsubscribe(): void {
    this.attemptSub?.unsubscribe();
    this.waitSub?.unsubscribe();
    this.stableSub?.unsubscribe();
  }

  resetCounter(): void {
    this.retries = 0;
    this.previousDelay = undefined;
  }

  private provedHealthy(): void {
    const { stableAfter, scheduler } = this.settings;
    if (stableAfter > 0) this.stableSub = scheduler.schedule(resetWhenStable, stableAfter, this);
    else this.resetCounter();
  }

  private giveUp(error: unknown, reason: RetryGiveUpReason): void {
    const { retries } = this;
    if (typeof error === 'object' && error !== null) retriesByError.set(error, retries);
    try {
      this.settings.onGiveUp?.({ error, retries, reason });
    } finally {
      this.subscriber.error(error);
    }
  }

  private wait(delay: number): void {
    if (this.subscriber.closed) return;
    const { retryNow, scheduler } = this.settings;
    let done = false;
    const sub = new Subscription();
    this.waitSub = sub;
    const resume = (): void => {
      if (done) return;
      done = true;
      sub.unsubscribe();
      this.subscribeToSource();
    };
    sub.add(scheduler.schedule(resume, delay));
    if (retryNow !== undefined && !done) {
      // A value delivered while we subscribe is state (a BehaviorSubject), not a new
      // signal; acting on it would turn a synchronously failing source into a hot loop.
      let subscribing = true;
      sub.add(
        retryNow.subscribe({
          next: () => {
            if (!subscribing) resume();
          },
          error: (error: unknown) => {
            sub.unsubscribe();
            this.giveUp(error, 'error');
          },
        }),
      );
      subscribing = false;
    }
  }

  /** The wait before `attempt`; counts the attempt only after its delay was computed. */
  private nextDelay(error: unknown, attempt: number): number {
    const { strategy, options, random, retryAfter, onRetry } = this.settings;
    const base = strategy(attempt, options, random, this.previousDelay);
    if (typeof base !== 'number' || Number.isNaN(base) || base < 0) {
      throw new RangeError(`${WHERE}: the jitter strategy returned ${String(base)} for attempt ${attempt}`);
    }
    const rawHint = retryAfter(error);
    const hint = typeof rawHint === 'number' && Number.isFinite(rawHint) && rawHint >= 0 ? rawHint : undefined;
    const delay = delayWithHint(base, hint, random);
    onRetry?.({ attempt, delay, error, hint });
    // Counted only now: after the delay was computed from the previous value, and once
    // nothing can stop this retry from being made.
    this.previousDelay = base;
    this.retries = attempt;
    return delay;
  }
}

/** The scheduled end of a stable period (the chain is the action's state). */
function resetWhenStable<T>(this: SchedulerAction<RetryChain<T>>, chain: RetryChain<T>): void {
  chain.resetCounter();
}
