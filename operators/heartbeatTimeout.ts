import { type MonoTypeOperatorFunction, type SchedulerAction, type SchedulerLike, Observable, type Subscriber, type Subscription, asyncScheduler } from 'rxjs';
import { HeartbeatTimeoutError } from '../src/errors.js';
import { Link } from '../src/link.js';
import { checkConfig, checkFunction, checkMs, checkScheduler } from '../src/validate.js';

const WHERE = 'heartbeatTimeout';

/** Options of {@link heartbeatTimeout}. `timeout` is required. */
export interface HeartbeatTimeoutConfig<T> {
  /**
   * How long the source may stay silent, in ms, counted from subscription and from every
   * value that counts as liveness. Finite, in `(0, 2^31−1]`.
   */
  readonly timeout: number;
  /**
   * After this much silence, in ms, call `ping`, and again after each further `interval`
   * while the silence lasts. Must come with `ping`, and be less than `timeout`.
   * @defaultValue none (no pings)
   */
  readonly interval?: number;
  /**
   * A side effect that asks the peer for a sign of life, e.g. sends an application-level
   * ping. Called synchronously from the scheduler; a throw becomes the stream's error.
   * Must come with `interval`.
   * @defaultValue none
   */
  readonly ping?: () => void;
  /**
   * Which values count as liveness (e.g. only pongs). A value that does not count is still
   * passed on, unless the deadline has already passed when it arrives.
   * @defaultValue every value counts
   */
  readonly isAlive?: (value: T) => boolean;
  /**
   * Schedules the checks and provides `now()` for the deadline.
   * @defaultValue `asyncScheduler`
   */
  readonly scheduler?: SchedulerLike;
}

/**
 * Errors with {@link HeartbeatTimeoutError} when the source has been silent for `timeout` ms:
 * a frozen peer or a black-holed network path is detected even though TCP still looks open.
 * Optionally calls `ping()` every `interval` ms of silence to provoke an answer.
 *
 * ```
 * source:   --a---------b-----------
 * heartbeatTimeout({ timeout: 10, interval: 4, ping })
 * ping():   ------p---p-----p---p---      4 and 8 ms after the last value, twice per silence
 * output:   --a---------b---------#       HeartbeatTimeoutError, silentFor: 10
 * ```
 *
 * - **Deadline**: counted from subscription and from every value that `isAlive` accepts.
 * - **Late timers**: every check compares `scheduler.now()` with the last sign of life, so a
 *   timer that fired late (a throttled background tab, a suspended laptop) reports the overdue
 *   peer at once, with the real `silentFor`, instead of pinging and waiting another `timeout`.
 *   A value that does not count as liveness also triggers the check.
 * - **Error / complete**: the source's notifications pass through; a heartbeat timeout
 *   unsubscribes from the source before the error is delivered.
 * - **Unsubscribe**: no timer remains after unsubscribe, error or complete.
 *
 * Values do not re-arm a timer: each value only records the time (one `scheduler.now()`, the
 * price of a deadline counted exactly from the last value), and the one pending check re-arms
 * itself from that record, so a busy stream costs no scheduling per message.
 *
 * @param config - `timeout` (required), `interval` + `ping`, `isAlive`, `scheduler`.
 * @returns An operator that mirrors the source or errors with {@link HeartbeatTimeoutError}.
 * @throws TypeError or RangeError, at creation, when an option is invalid (the message names it).
 *
 * @example
 * ```ts
 * import { connect, heartbeatTimeout, retryWithJitteredBackoff } from 'rxtether';
 * import { Subject } from 'rxjs';
 *
 * const outgoing = new Subject<string>();
 * const messages$ = connect({ url: 'wss://example.com/feed', outgoing }).pipe(
 *   heartbeatTimeout({ timeout: 30_000, interval: 10_000, ping: () => outgoing.next('ping') }),
 *   retryWithJitteredBackoff(), // a HeartbeatTimeoutError is transient: reconnect
 * );
 * ```
 * @see {@link HeartbeatTimeoutError}
 */
export function heartbeatTimeout<T>(config: HeartbeatTimeoutConfig<T>): MonoTypeOperatorFunction<T>;
/**
 * Shorthand for `heartbeatTimeout({ timeout })`: errors after `timeout` ms without a value.
 *
 * @param timeout - How long the source may stay silent, in ms.
 * @returns An operator that mirrors the source or errors with {@link HeartbeatTimeoutError}.
 * @throws RangeError, at creation, when `timeout` is not a finite number in `(0, 2^31−1]`.
 *
 * @example
 * ```ts
 * import { heartbeatTimeout } from 'rxtether';
 *
 * source$.pipe(heartbeatTimeout(30_000));
 * ```
 */
export function heartbeatTimeout<T>(timeout: number): MonoTypeOperatorFunction<T>;
export function heartbeatTimeout<T>(configOrTimeout: HeartbeatTimeoutConfig<T> | number): MonoTypeOperatorFunction<T> {
  const watch = heartbeatWatch(configOrTimeout);
  return (source) => watch(source, undefined);
}

/**
 * {@link heartbeatTimeout} whose deadline runs only while the latest value of `active$` is
 * `true`, counted anew from each `true` (the client's: from open, off while paused). Values
 * pass through either way; `active$` is subscribed with the source, its error is the stream's.
 * `onAlive` receives the clock reading of every sign of life (active or not), so that a
 * caller timing something else by the same signs (the client's pinger) needs no clock read
 * of its own per value.
 * @internal Not exported from the package.
 */
export function heartbeatTimeoutWhile<T>(
  config: HeartbeatTimeoutConfig<T>,
  onAlive?: (now: number) => void,
): (active$: Observable<boolean>) => MonoTypeOperatorFunction<T> {
  const watch = heartbeatWatch(config, onAlive);
  return (active$) => (source) => watch(source, active$);
}

function heartbeatWatch<T>(
  configOrTimeout: HeartbeatTimeoutConfig<T> | number,
  onAlive?: (now: number) => void,
): (source: Observable<T>, active$: Observable<boolean> | undefined) => Observable<T> {
  const config: HeartbeatTimeoutConfig<T> =
    typeof configOrTimeout === 'number' ? { timeout: configOrTimeout } : configOrTimeout;
  if (config === undefined) throw new TypeError(`${WHERE}: config with a timeout is required`);
  checkConfig(WHERE, config);
  const { timeout, interval, ping, isAlive, scheduler = asyncScheduler } = config;
  checkMs(WHERE, 'timeout', timeout, 0, true);
  checkFunction(WHERE, 'ping', ping);
  checkFunction(WHERE, 'isAlive', isAlive);
  if ((interval === undefined) !== (ping === undefined)) {
    throw new TypeError(`${WHERE}: interval and ping must be given together`);
  }
  if (interval !== undefined) {
    checkMs(WHERE, 'interval', interval, 0, true);
    if (interval >= timeout) {
      throw new RangeError(`${WHERE}: interval must be less than timeout (${timeout}), got ${interval}`);
    }
  }
  checkScheduler(WHERE, scheduler);

  const settings: HeartbeatSettings<T> = { timeout, interval, ping, isAlive, scheduler, onAlive };
  return (source, active$) =>
    new Observable<T>((subscriber) => {
      const watch = new HeartbeatWatch(subscriber, settings, active$ === undefined);
      if (active$ === undefined) watch.arm(watch.lastAlive);
      else watch.activity = active$.subscribe(new Link(new ActivityObserver(watch)));
      if (!subscriber.closed) watch.source = source.subscribe(new Link(watch));
      // Closed already (timed out, errored, or the consumer left while subscribing): the
      // Observable runs this teardown at once.
      return watch;
    });
}

/** The validated options every subscription of one operator shares. */
interface HeartbeatSettings<T> {
  readonly timeout: number;
  readonly interval: number | undefined;
  readonly ping: (() => void) | undefined;
  readonly isAlive: ((value: T) => boolean) | undefined;
  readonly scheduler: SchedulerLike;
  readonly onAlive: ((now: number) => void) | undefined;
}

/**
 * One subscription of the heartbeat: the observer of the source, the state of its deadline,
 * and its teardown (`unsubscribe`). Fields of one object rather than closures, so that an idle
 * subscription retains this object and its one pending check.
 */
class HeartbeatWatch<T> {
  /** When the last sign of life arrived (or the deadline started), by the scheduler's clock. */
  lastAlive: number;
  /** Pings sent since `lastAlive`; the next one is due at lastAlive + (pings + 1) × interval. */
  pings = 0;
  /** The one pending check. */
  check: Subscription | undefined = undefined;
  source: Subscription | undefined = undefined;
  activity: Subscription | undefined = undefined;
  timedOut = false;
  /** The deadline looked passed: one more look, a macrotask later, before erroring. */
  confirming = false;

  constructor(
    readonly subscriber: Subscriber<T>,
    readonly settings: HeartbeatSettings<T>,
    /** Whether the deadline runs (always, unless `active$` says otherwise). */
    public active: boolean,
  ) {
    this.lastAlive = settings.scheduler.now();
  }

  next(value: T): void {
    if (this.timedOut) return;
    const { isAlive, scheduler } = this.settings;
    let alive = true;
    if (isAlive !== undefined) {
      try {
        alive = isAlive(value);
      } catch (error) {
        this.subscriber.error(error);
        return;
      }
    }
    const now = scheduler.now();
    if (alive) {
      // The pending check fires no later than the new schedule needs it and re-arms from
      // here: a value costs a clock read, not a timer.
      this.lastAlive = now;
      this.pings = 0;
      this.settings.onAlive?.(now);
    } else if (this.active && this.overdue(now)) {
      return;
    }
    this.subscriber.next(value);
  }

  error(error: unknown): void {
    this.subscriber.error(error);
  }

  complete(): void {
    this.subscriber.complete();
  }

  /** The teardown: no timer remains. */
  unsubscribe(): void {
    this.check?.unsubscribe();
    this.activity?.unsubscribe();
    this.source?.unsubscribe();
  }

  /** Starts or stops the deadline (`active$`); a start counts anew from now. */
  activate(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.check?.unsubscribe();
    this.check = undefined;
    this.confirming = false;
    if (active) {
      this.lastAlive = this.settings.scheduler.now();
      this.pings = 0;
      this.arm(this.lastAlive);
    }
  }

  /** Errors if the deadline has passed; `true` when it did. */
  overdue(now: number): boolean {
    const silentFor = now - this.lastAlive;
    const { timeout } = this.settings;
    if (silentFor < timeout) return false;
    this.timedOut = true;
    this.check?.unsubscribe();
    this.source?.unsubscribe();
    this.subscriber.error(new HeartbeatTimeoutError(silentFor, timeout));
    return true;
  }

  /** Runs when the pending check fires: detect, maybe ping, and arm the next check. */
  onCheck(): void {
    const { timeout, interval, ping, scheduler } = this.settings;
    const now = scheduler.now();
    // A wall clock that stepped backwards would otherwise postpone the deadline by the step.
    if (now < this.lastAlive) this.lastAlive = now;
    if (!this.confirming && now - this.lastAlive >= timeout) {
      // Timers run before I/O: after a busy event loop, values that arrived meanwhile are
      // delivered only after this check. Look once more, one macrotask later, before
      // declaring the peer dead (in virtual time this is the same frame).
      this.confirming = true;
      this.check = scheduler.schedule(runCheck, 0, this);
      return;
    }
    this.confirming = false;
    if (this.overdue(now)) return;
    if (interval !== undefined && ping !== undefined) {
      const due = Math.floor((now - this.lastAlive) / interval);
      if (due > this.pings) {
        this.pings = due; // before the call: a reply delivered synchronously resets it
        if (!sendPing(ping, this.subscriber)) return;
      }
    }
    this.arm(now);
  }

  /** Schedules the one pending check for the next ping or the deadline, whichever is first. */
  arm(now: number): void {
    const { timeout, interval, scheduler } = this.settings;
    let at = this.lastAlive + timeout;
    if (interval !== undefined) at = Math.min(at, this.lastAlive + (this.pings + 1) * interval);
    // Never wait longer than `timeout`, whatever the clock did: a check that finds time
    // left simply re-arms.
    this.check = scheduler.schedule(runCheck, Math.min(timeout, Math.max(0, at - now)), this);
  }
}

/** The scheduled work of a {@link HeartbeatWatch}'s check (the watch is the action's state). */
function runCheck<T>(this: SchedulerAction<HeartbeatWatch<T>>, watch: HeartbeatWatch<T>): void {
  watch.onCheck();
}

/** The observer of `active$`: starts and stops the deadline; its error is the stream's. */
class ActivityObserver<T> {
  constructor(private readonly watch: HeartbeatWatch<T>) {}

  next(active: boolean): void {
    this.watch.activate(active);
  }

  error(error: unknown): void {
    this.watch.subscriber.error(error);
  }

  complete(): void {
    // The deadline stays as the last value left it.
  }
}

/**
 * Calls `ping()`; a throw goes to `subscriber` as its error. Returns whether the subscriber is
 * still open afterwards. Shared by `heartbeatTimeout` and `createSocket`'s heartbeat (which
 * keeps pinging while paused).
 * @internal
 */
export function sendPing(ping: () => void, subscriber: Subscriber<unknown>): boolean {
  try {
    ping();
  } catch (error) {
    subscriber.error(error);
    return false;
  }
  return !subscriber.closed;
}
