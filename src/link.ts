import { config, UnsubscriptionError } from 'rxjs';
import type { Observer, SubscriptionLike, TeardownLogic, Unsubscribable } from 'rxjs';

type Finalizer = Unsubscribable | (() => void);

/**
 * The subscriber with which one of rxtether's stages subscribes to its source: it hands each
 * notification to `target`, which it only reads, and is itself the subscription.
 *
 * rxjs 7 uses an object that is both an Observer and a Subscription (`closed`, `add`,
 * `remove`, `unsubscribe`) as the subscriber itself, as it does for a `Subscriber` from another
 * copy of rxjs. A plain observer would be wrapped in a `SafeSubscriber`, a `ConsumerObserver`
 * and a 17-slot finalizer array: about 300 bytes per stage per connection, and three more
 * calls per value. A `Link` keeps the rules that wrapper keeps:
 * - nothing reaches `target` after an error, a completion or `unsubscribe`;
 * - an error or a completion is delivered, and then the link unsubscribes (its source's
 *   teardown runs);
 * - a throw from `target` is reported as rxjs reports one from a subscriber
 *   (`config.onUnhandledError`, or thrown from a timeout), never into the source.
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
  /** One finalizer in the field itself (the usual case), or several in an array. */
  private finalizers: Finalizer | Finalizer[] | undefined = undefined;

  constructor(private readonly target: Observer<T>) {}

  next(value: T): void {
    if (this.stopped) return;
    try {
      this.target.next(value);
    } catch (error) {
      reportUnhandled(error);
    }
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.target.error(error);
    } catch (thrown) {
      reportUnhandled(thrown);
    }
    this.unsubscribe();
  }

  complete(): void {
    if (this.stopped) return;
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
    if ((finalizer as Partial<SubscriptionLike>).closed === true) return;
    const finalizers = this.finalizers;
    if (finalizers === undefined) this.finalizers = finalizer;
    else if (Array.isArray(finalizers)) finalizers.push(finalizer);
    else this.finalizers = [finalizers, finalizer];
  }

  remove(teardown: Exclude<TeardownLogic, void>): void {
    const finalizers = this.finalizers;
    if (finalizers === teardown) this.finalizers = undefined;
    else if (Array.isArray(finalizers)) {
      const index = finalizers.indexOf(teardown as Finalizer);
      if (index >= 0) finalizers.splice(index, 1);
    }
  }

  unsubscribe(): void {
    if (this.closed) return;
    this.closed = this.stopped = true;
    const finalizers = this.finalizers;
    this.finalizers = undefined;
    if (finalizers === undefined) return;
    // As a Subscription does: every finalizer runs, then their errors are thrown together.
    let errors: unknown[] | undefined;
    for (const finalizer of Array.isArray(finalizers) ? finalizers : [finalizers]) {
      try {
        runFinalizer(finalizer);
      } catch (error) {
        (errors ??= []).push(...(error instanceof UnsubscriptionError ? error.errors : [error]));
      }
    }
    if (errors) throw new UnsubscriptionError(errors);
  }
}

function runFinalizer(finalizer: Finalizer): void {
  if (typeof finalizer === 'function') finalizer();
  else finalizer.unsubscribe();
}

/** As rxjs reports an error thrown by a subscriber: out of the producer's call stack. */
function reportUnhandled(error: unknown): void {
  setTimeout(() => {
    const onUnhandledError = config.onUnhandledError;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
