import type { Observer } from 'rxjs';

/**
 * An observer that hands each notification to `target`, which it only reads. rxjs 7's
 * deprecated `config.useDeprecatedNextContext` calls the methods of a subscribed observer on
 * an object that inherits from it: an object that keeps its state in fields and is subscribed
 * directly would then write that state to the copy. Subscribe `new Forward(target)` instead.
 * @internal Not part of the public API.
 */
export class Forward<T> implements Observer<T> {
  constructor(private readonly target: Observer<T>) {}

  next(value: T): void {
    this.target.next(value);
  }

  error(error: unknown): void {
    this.target.error(error);
  }

  complete(): void {
    this.target.complete();
  }
}
