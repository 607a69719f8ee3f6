/**
 * Brand shared by every rxtether error (the same `Symbol.for` key as `src/errors.ts`), so that
 * the guard works across duplicate copies of the package.
 */
const BRAND: unique symbol = Symbol.for('rxtether.error') as never;

/**
 * A consumer's buffer reached `maxBuffered` with `overflow: 'error'`: the source did not stop
 * when it was asked to pause (a browser socket, a `Subject`, a source that was not given
 * `paused$`). The consumer receives the messages buffered before it, then this error; the
 * source is unsubscribed at once (its socket closed).
 *
 * @example
 * ```ts
 * import { isBackpressureOverflowError } from 'rxtether/node';
 *
 * try {
 *   for await (const message of flow.iterate(messages$)) handle(message);
 * } catch (e) {
 *   if (isBackpressureOverflowError(e)) console.error('source ignored pause past', e.maxBuffered);
 * }
 * ```
 */
export class BackpressureOverflowError extends Error {
  override readonly name = 'BackpressureOverflowError' as const;
  /** The bound that was reached, in messages. */
  readonly maxBuffered: number;

  constructor(maxBuffered: number, options?: { readonly cause?: unknown }) {
    super(`The consumer's buffer reached maxBuffered (${maxBuffered} messages)`, options);
    this.maxBuffered = maxBuffered;
    Object.defineProperty(this, BRAND, { value: this.name, enumerable: false });
  }
}

/** Guard for {@link BackpressureOverflowError}, safe across duplicate package copies. */
export function isBackpressureOverflowError(error: unknown): error is BackpressureOverflowError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { [BRAND]?: unknown })[BRAND] === 'BackpressureOverflowError'
  );
}
