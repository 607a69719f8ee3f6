import { Observable, Subscription, UnsubscriptionError, asyncScheduler, config } from 'rxjs';
import type { ObservableNotification, Observer, Subscriber, SubscriptionLike, TeardownLogic, Unsubscribable } from 'rxjs';

type Finalizer = Unsubscribable | (() => void);

/**
 * The subscriber with which one of rxtether's stages subscribes to its source: it hands each
 * notification to `target`, which it only reads, and is itself the subscription.
 *
 * rxjs 7 uses an object that is both an Observer and a Subscription (`closed`, `add`,
 * `remove`, `unsubscribe`) as the subscriber itself, as it does for a `Subscriber` from another
 * copy of rxjs. A plain observer would be wrapped in a `SafeSubscriber`, a `ConsumerObserver`
 * and a 17-slot finalizer array: about 300 bytes per stage per connection. A `Link` keeps the
 * rules that wrapper keeps:
 * - nothing reaches `target` after an error, a completion or `unsubscribe`; such a late
 *   notification goes to rxjs's `config.onStoppedNotification`, and the link lets go of
 *   `target` once unsubscribed;
 * - an error or a completion is delivered, and then the link unsubscribes (its source's
 *   teardown runs);
 * - a throw from `target` is reported the way rxjs reports one from a subscriber
 *   (`config.onUnhandledError` or a throw from a timeout, in virtual time under
 *   `TestScheduler.run`; with `useDeprecatedSynchronousErrorHandling`, from the outermost
 *   `subscribe` or `next`), never thrown into the source;
 * - what the source adds to it (its teardown, an operator's subscribers) runs in the order it
 *   was added, and is let go of once it has closed, so a source that adds a subscriber per
 *   value (`concatMap`, `repeat`) does not make it grow: the first one is held in a field and
 *   replaced when a later one arrives after it closed and before any other; the others go to
 *   an rxjs `Subscription`, which lets go of each as it closes. As rxjs does, only a
 *   `Subscription` (or a link) is trusted to say it is `closed`.
 *
 * Callers keep what `subscribe` returns and unsubscribe that: it is the link itself, or, if an
 * rxjs ever stopped recognising it, the wrapper around it. The target being only read, rxjs's
 * deprecated `config.useDeprecatedNextContext` (which calls an observer's methods on a copy of
 * it) cannot lose a write either way.
 * @internal Not part of the public API.
 */
export class Link<T> implements Observer<T>, SubscriptionLike {
  closed = false;
  private stopped = false;
  /** The first finalizer (the usual and often the only one). */
  private first: Finalizer | undefined = undefined;
  /** Any others. */
  private more: Subscription | undefined = undefined;

  constructor(private target: Observer<T>) {}

  next(value: T): void {
    if (this.stopped) {
      reportStopped(this, 'N', value);
      return;
    }
    try {
      this.target.next(value);
    } catch (error) {
      reportUnhandled(error);
    }
  }

  error(error: unknown): void {
    if (this.stopped) {
      reportStopped(this, 'E', undefined, error);
      return;
    }
    this.stopped = true;
    try {
      this.target.error(error);
    } catch (thrown) {
      reportUnhandled(thrown);
    }
    this.unsubscribe();
  }

  complete(): void {
    if (this.stopped) {
      reportStopped(this, 'C');
      return;
    }
    this.stopped = true;
    try {
      this.target.complete();
    } catch (thrown) {
      reportUnhandled(thrown);
    }
    this.unsubscribe();
  }

  add(teardown: TeardownLogic): void {
    if (!teardown || teardown === this) return;
    const finalizer = teardown as Finalizer;
    if (this.closed) {
      runFinalizer(finalizer);
      return;
    }
    if (isClosed(finalizer)) return;
    const first = this.first;
    if (finalizer === first && first instanceof Subscription) return; // as rxjs: once per parent
    // Into the field only while nothing else waits, so that the order of adding is kept.
    if (this.more === undefined && (first === undefined || isClosed(first))) this.first = finalizer;
    else (this.more ??= new Subscription()).add(finalizer);
  }

  remove(teardown: Exclude<TeardownLogic, void>): void {
    if (this.first === teardown) this.first = undefined;
    else this.more?.remove(teardown);
  }

  unsubscribe(): void {
    if (this.closed) return;
    this.closed = this.stopped = true;
    this.target = RELEASED;
    const { first, more } = this;
    this.first = this.more = undefined;
    // As a Subscription does: every finalizer runs, then their errors are thrown together.
    let errors: unknown[] | undefined;
    if (first !== undefined) errors = runCollecting(first, errors);
    if (more !== undefined) errors = runCollecting(more, errors);
    if (errors) throw new UnsubscriptionError(errors);
  }
}

/** Whether a finalizer says it has closed, trusted, as rxjs does, only from a Subscription. */
function isClosed(finalizer: Finalizer): boolean {
  return (finalizer instanceof Subscription || finalizer instanceof Link) && finalizer.closed;
}

function runFinalizer(finalizer: Finalizer): void {
  if (typeof finalizer === 'function') finalizer();
  else finalizer.unsubscribe();
}

/** Runs a finalizer; what it throws (an UnsubscriptionError's errors, flattened) joins `errors`. */
function runCollecting(finalizer: Finalizer, errors: unknown[] | undefined): unknown[] | undefined {
  try {
    runFinalizer(finalizer);
  } catch (error) {
    (errors ??= []).push(...(error instanceof UnsubscriptionError ? error.errors : [error]));
  }
  return errors;
}

const noop = (): void => {};
/** What a link's `target` becomes once it is unsubscribed, so that it no longer keeps the stage. */
const RELEASED: Observer<unknown> = { next: noop, error: noop, complete: noop };

/**
 * A notification that reached a link after its error, completion or unsubscribe goes to rxjs's
 * `config.onStoppedNotification`, with the link as the subscriber, a macrotask later (in virtual
 * time under `TestScheduler.run`), as rxjs does for its own subscribers.
 */
function reportStopped(link: SubscriptionLike, kind: 'N' | 'E' | 'C', value?: unknown, error?: unknown): void {
  const hook = config.onStoppedNotification;
  if (!hook) return;
  // The shape rxjs gives its notifications: all three fields, whatever the kind.
  const notification = { kind, value, error } as ObservableNotification<unknown>;
  asyncScheduler.schedule(() => hook(notification, link as unknown as Subscriber<unknown>));
}

const rethrow = {
  next(error: unknown): never {
    throw error;
  },
};

/**
 * Reports an error thrown by a link's target through rxjs's own path for an error thrown by a
 * subscriber, by having an rxjs subscriber throw it.
 */
function reportUnhandled(error: unknown): void {
  try {
    new Observable<unknown>((subscriber) => subscriber.next(error)).subscribe(rethrow);
  } catch {
    // useDeprecatedSynchronousErrorHandling outside any subscribe or next: rxjs drops the
    // error there too (it has nowhere to throw it).
  }
}
