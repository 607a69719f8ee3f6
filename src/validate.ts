/**
 * The longest delay a JavaScript timer honours: Node fires a `setTimeout` of more than
 * 2^31−1 ms (or of NaN) after 1 ms, which turns an unvalidated timeout into a hot loop.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Throws unless `value` is a number of milliseconds in `[min, 2^31−1]`.
 * @internal
 */
export function assertDuration(name: string, value: unknown, min = 0): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number of milliseconds, got ${typeof value}`);
  }
  if (!(value >= min && value <= MAX_TIMER_DELAY)) {
    throw new RangeError(`${name} must be a finite number of milliseconds in [${min}, ${MAX_TIMER_DELAY}], got ${value}`);
  }
}

/** @internal */
export function assertFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${typeof value}`);
}
