// Internal option checks shared by connect() and the operators; not part of the public API.

/**
 * The longest delay a JavaScript timer honours, in ms (2^31 − 1, about 24.8 days). Node and
 * browsers fire a longer timer (or one of NaN) after 1 ms instead, which turns an unvalidated
 * timeout into a hot loop, so every delay rxtether computes or accepts is capped here.
 */
export const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Throws unless `value` is a finite number of ms in `[min, MAX_TIMER_DELAY]` (or above `min`
 * when `exclusiveMin`).
 */
export function checkMs(where: string, option: string, value: unknown, min = 0, exclusiveMin = false): number {
  const range = `${exclusiveMin ? `(${min}` : `[${min}`}, ${MAX_TIMER_DELAY}]`;
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: ${option} must be a number of ms in ${range}, got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value < min || (exclusiveMin && value === min) || value > MAX_TIMER_DELAY) {
    throw new RangeError(`${where}: ${option} must be a finite number of ms in ${range}, got ${String(value)}`);
  }
  return value;
}

/** Throws unless `value` is a function (or `undefined`, when optional). */
export function checkFunction(where: string, option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${where}: ${option} must be a function, got ${value === null ? 'null' : typeof value}`);
  }
}

/** Throws unless `value` is a boolean (or `undefined`). */
export function checkBoolean(where: string, option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`${where}: ${option} must be a boolean, got ${value === null ? 'null' : typeof value}`);
  }
}

/** Throws unless `config` is a plain config object (or `undefined`). */
export function checkConfig(where: string, config: unknown): void {
  if (config !== undefined && (typeof config !== 'object' || config === null)) {
    throw new TypeError(`${where}: config must be an object, got ${config === null ? 'null' : typeof config}`);
  }
}

/** Throws unless `value` is a `SchedulerLike` (an object with `now()` and `schedule()`). */
export function checkScheduler(where: string, value: unknown): void {
  const s = value as { now?: unknown; schedule?: unknown } | null;
  if (typeof s !== 'object' || s === null || typeof s.schedule !== 'function' || typeof s.now !== 'function') {
    throw new TypeError(`${where}: scheduler must be a SchedulerLike (with now() and schedule())`);
  }
}
