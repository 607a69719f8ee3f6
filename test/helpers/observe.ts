import type { Observable, Subscription } from 'rxjs';
import { AsyncQueue } from './queue.js';

export interface Observed<T> {
  readonly values: AsyncQueue<T>;
  /** Resolves with the error notification; never resolves if there is none. */
  readonly error: Promise<unknown>;
  readonly subscription: Subscription;
  /** Whether an error or complete notification arrived. */
  stopped(): boolean;
}

/** Subscribes and records every notification in queues a test can await. */
export function observe<T>(source: Observable<T>): Observed<T> {
  const values = new AsyncQueue<T>();
  let stopped = false;
  let rejectError: (e: unknown) => void = () => {};
  const error = new Promise<unknown>((resolve) => {
    rejectError = resolve;
  });
  const subscription = source.subscribe({
    next: (v) => values.push(v),
    error: (e) => {
      stopped = true;
      rejectError(e);
    },
    complete: () => {
      stopped = true;
    },
  });
  return { values, error, subscription, stopped: () => stopped };
}
