// The reconnect-storm simulator: N clients lose their connection at t = 0, the server is down
// for D ms, then accepts at most C handshakes per second. Virtual time, no timers, no rxjs;
// every client delay comes from rxtether's own backoff functions, combined with a server hint
// by the very function retryWithJitteredBackoff calls (delayWithHint, see clientDelay).
import {
  type BackoffOptions,
  type BackoffStrategy,
  MAX_TIMER_DELAY,
  decorrelatedJitterDelay,
  equalJitterDelay,
  exponentialDelay,
  fullJitterDelay,
} from 'rxtether/operators';
// Internal, not in the package's API: the one definition of how the operator uses a hint.
import { delayWithHint } from '../../operators/backoff.js';

/**
 * The schedule `retryWithJitteredBackoff()` and `createSocket()` use when given no backoff
 * options. The operator does not export its defaults; test/bench/storm.test.ts checks these
 * against the operator itself in virtual time.
 */
export const RXTETHER_DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialDelay: 1000, maxDelay: 30_000, factor: 2 });

/** Width of a capacity window and of a chart bucket, in ms. */
export const BUCKET_MS = 100;

/** How a client combines its own delay with a server's `Retry-After`. */
export type HintHandling =
  /**
   * What retryWithJitteredBackoff does, by calling its own `delayWithHint`: a hint of at
   * least 1 s is the wait, plus a uniform draw in `[0, 1 s)` (the resolution of
   * `Retry-After`); a shorter hint is a floor.
   */
  | 'operator'
  /**
   * For comparison only, never the operator's rule since hints became the wait: every hint
   * only a floor, `max(strategy delay, hint)`, as rxtether did before.
   */
  | 'floor-only';

/** One client configuration to compare. */
export interface StormStrategy {
  /** Short id for tables, file names and CLI output. */
  readonly id: string;
  /** What the chart legend and the table say. */
  readonly label: string;
  /** One of rxtether's backoff functions. */
  readonly strategy: BackoffStrategy;
  /** The options passed to it. */
  readonly options: BackoffOptions;
  /**
   * `true` when `strategy` draws no randomness (fixed interval, exponential without jitter).
   * Clients that failed together then stay in lockstep forever, so the simulator moves them
   * as one group and splits off only the ones the server accepts: exact, and it keeps a
   * million synchronized clients (a billion attempts) cheap.
   */
  readonly deterministic: boolean;
  /** Whether the server's rejections carry a `Retry-After`, and how the client uses it. */
  readonly hints?: HintHandling;
  /** The server's policy when `hints` is set. @defaultValue `'queue'` */
  readonly hintPolicy?: HintPolicyName;
}

/** The storm: who drops, for how long the server is away, how fast it then accepts. */
export interface StormConfig {
  /** Clients that lose their connection at t = 0. */
  readonly clients: number;
  /** The server refuses every connection before this time, in ms (no process, no hint). */
  readonly downMs: number;
  /** Handshakes per second the server completes once up; the rest are rejected with 503. */
  readonly capacityPerSecond: number;
  /** Seed of the PRNG all jitter draws come from. */
  readonly seed: number;
  /** Give up simulating past this time, in ms. @defaultValue 24 h */
  readonly maxSimulatedMs?: number;
  /** The longest `Retry-After` the server sends, in ms. @defaultValue 300000 */
  readonly maxRetryAfterMs?: number;
}

/** One handshake attempt (or a group's attempt) as seen by a `trace` callback. */
export interface StormAttempt {
  /** The client, or the first client of a group of lockstep clients. */
  readonly client: number;
  /** Clients making this attempt together (1 unless the strategy is deterministic). */
  readonly count: number;
  /** When the attempt reaches the server, in ms. */
  readonly timeMs: number;
  /** The number of this attempt for these clients, from 1. */
  readonly attempt: number;
  /** How many of `count` the server accepted; the rest were refused or rejected. */
  readonly accepted: number;
  /** `'down'` before the server is up (connection refused), `'up'` after. */
  readonly server: 'down' | 'up';
  /** The `Retry-After` sent with the rejection, in ms, when there was one. */
  readonly hintMs: number | undefined;
}

/** What one strategy did in one storm. */
export interface StormResult {
  readonly strategy: StormStrategy;
  readonly config: StormConfig;
  /** `N / C + D`, in ms: no schedule can reconnect everyone sooner. */
  readonly boundMs: number;
  /** When the last client was accepted, in ms; `undefined` if some were still waiting at the horizon. */
  readonly drainedAtMs: number | undefined;
  /** Clients still not connected when the simulation stopped (0 when drained). */
  readonly pending: number;
  /** Handshake attempts, accepted or not. */
  readonly attempts: number;
  /** The most attempts any client made, the accepted one included. */
  readonly maxAttemptsPerClient: number;
  /** Attempts refused while the server was down. */
  readonly refused: number;
  /** Attempts rejected by an up server over capacity. */
  readonly rejected: number;
  /** The busiest 100 ms bucket: attempts and its start time in ms. */
  readonly peakAttempts: number;
  readonly peakAtMs: number;
  /** The busiest 100 ms bucket once the server is up (attempts that cost it a handshake or a 503). */
  readonly peakAttemptsUp: number;
  /** Per 100 ms bucket from t = 0: attempts and accepted handshakes. Length `buckets`. */
  readonly attemptsPerBucket: Float64Array;
  readonly acceptedPerBucket: Float64Array;
  readonly buckets: number;
  /** Wall-clock time the simulation took, in ms. */
  readonly elapsedMs: number;
}

/**
 * How many handshakes the server completes in 100 ms bucket `bucket` (from t = 0), once up.
 * Spreads a fractional `C / 10` exactly: the first k buckets hold `floor(k × C / 10)`.
 */
export function capacityOfBucket(bucket: number, capacityPerSecond: number): number {
  const perBucket = (capacityPerSecond * BUCKET_MS) / 1000;
  return Math.floor((bucket + 1) * perBucket) - Math.floor(bucket * perBucket);
}

/** Which `Retry-After` an overloaded server sends (see {@link createHintPolicy}). */
export type HintPolicyName = 'queue' | 'slots';

/**
 * The server's hint policies. Both answer one rejection with a `Retry-After` in whole seconds
 * (HTTP allows nothing finer), at least 1 s, at most `maxRetryAfterMs`.
 *
 * - `'queue'`: the server knows how many connections it held before it went down (its last
 *   connection count, or the load balancer's) and how many it accepted since, so
 *   `pending / C` is how long the queue takes to drain. Each rejected client is told a
 *   uniform draw in `[0, pending / C)` seconds, rounded up to whole seconds, at least 1 s, at
 *   most `maxRetryAfterMs` (300 s by default): server-side full jitter over the queue. The clients
 *   it turns away then come back at about `C` per second in total, and the window shrinks as
 *   the queue drains.
 * - `'slots'`: no knowledge of the fleet. Every rejection books the next free handshake slot
 *   (`1 / C` apart) and is told to come back then: `booked − now` is the queue of clients it
 *   turned away. A client that comes back after its slot and is turned away again books a
 *   second one, so under a floor the horizon runs ahead of the real queue.
 *
 * @param name - The policy.
 * @param config - The storm (`clients` is the fleet size `'queue'` knows).
 * @param random - The server's own PRNG, so its draws do not shift the clients'.
 * @returns `(nowMs, acceptedSoFar) => retryAfterMs`.
 */
export function createHintPolicy(
  name: HintPolicyName,
  config: StormConfig,
  random: () => number,
): (nowMs: number, accepted: number) => number {
  const { capacityPerSecond, clients } = config;
  const maxRetryAfterMs = config.maxRetryAfterMs ?? 300_000;
  const seconds = (ms: number): number => Math.min(Math.max(1, Math.ceil(ms / 1000)) * 1000, maxRetryAfterMs);
  if (name === 'queue') {
    return (_nowMs, accepted) => seconds(random() * (Math.max(0, clients - accepted) / capacityPerSecond) * 1000);
  }
  let booked = 0; // capacity is promised up to this time, in ms
  const slot = 1000 / capacityPerSecond;
  return (nowMs) => {
    booked = Math.min(Math.max(booked, nowMs) + slot, nowMs + maxRetryAfterMs);
    return seconds(booked - nowMs);
  };
}

/**
 * The wait before a retry, as retryWithJitteredBackoff computes it (its `nextDelay`): the
 * strategy's delay for `attempt`, then `delayWithHint` with the server's hint (unless
 * `spec.hints` is `'floor-only'`), capped at 2^31−1 ms. `base` becomes the next
 * `previousDelay`, the hint never does.
 */
export function clientDelay(
  spec: StormStrategy,
  attempt: number,
  previousDelay: number | undefined,
  hintMs: number | undefined,
  random: () => number,
): { readonly base: number; readonly delay: number } {
  const base = spec.strategy(attempt, spec.options, random, previousDelay);
  return { base, delay: combine(spec, base, hintMs, random) };
}

function combine(spec: StormStrategy, base: number, hintMs: number | undefined, random: () => number): number {
  if (spec.hints === 'floor-only') return Math.min(MAX_TIMER_DELAY, hintMs === undefined ? base : Math.max(base, hintMs));
  return delayWithHint(base, hintMs, random);
}

/**
 * A seeded PRNG (sfc32, seeded through splitmix32): numbers in `[0, 1)`, the same sequence
 * for the same seed on every platform.
 */
export function createRandom(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * The strategies compared in scenario 7, all on `base` (rxtether's defaults unless told):
 * a fixed 1 s interval (`exponentialDelay` with `factor: 1`, what `retry({ delay: 1000 })`
 * does), exponential without jitter, full, equal and decorrelated jitter, and full jitter
 * with the server's `Retry-After` used as retryWithJitteredBackoff uses it.
 */
export function stormStrategies(base: BackoffOptions = RXTETHER_DEFAULT_BACKOFF): StormStrategy[] {
  return [
    { id: 'fixed', label: 'fixed 1 s interval', strategy: exponentialDelay, options: { ...base, factor: 1 }, deterministic: true },
    { id: 'exponential', label: 'exponential, no jitter', strategy: exponentialDelay, options: base, deterministic: true },
    { id: 'full', label: 'full jitter (default)', strategy: fullJitterDelay, options: base, deterministic: false },
    { id: 'equal', label: 'equal jitter', strategy: equalJitterDelay, options: base, deterministic: false },
    { id: 'decorrelated', label: 'decorrelated jitter', strategy: decorrelatedJitterDelay, options: base, deterministic: false },
    { id: 'full-hints', label: 'full jitter + server hints', strategy: fullJitterDelay, options: base, deterministic: false, hints: 'operator' },
  ];
}

/**
 * A comparison, not rxtether's behaviour: full jitter with every hint only a floor,
 * `max(strategy delay, hint)`, the rule before a hint of 1 s or more became the wait.
 */
export function floorOnlyHintStrategy(base: BackoffOptions = RXTETHER_DEFAULT_BACKOFF): StormStrategy {
  return {
    id: 'full-hints-floor',
    label: 'full jitter + hints as a floor only',
    strategy: fullJitterDelay,
    options: base,
    deterministic: false,
    hints: 'floor-only',
  };
}

/** Derives a per-strategy seed, so adding a strategy does not change the others' draws. */
export function strategySeed(seed: number, id: string): number {
  let h = seed >>> 0 || 1;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Runs one storm for one strategy.
 *
 * Every client's retry chain starts at t = 0 with attempt 1, like retryWithJitteredBackoff
 * after the connection error. An attempt before `downMs` is refused (no hint: nothing is
 * listening). After it, the server completes at most `capacityOfBucket` handshakes per
 * 100 ms bucket, first come first served (to the ms; within one ms in an arbitrary but
 * fixed order), and rejects the rest, with a `Retry-After` from the slot policy when
 * `strategy.hints` is set. Rejected and refused clients back off again; accepted ones stay.
 * Handshakes take no time.
 *
 * The event queue is a calendar of 1 ms slots (a ring of linked lists in typed arrays), so
 * each attempt costs O(1) however many clients wait.
 *
 * @param config - The storm.
 * @param spec - The client strategy.
 * @param trace - Called for every attempt (tests use it; it slows a big run down).
 * @returns Drain time, attempts, peaks and the per-100 ms series.
 */
export function simulateStorm(config: StormConfig, spec: StormStrategy, trace?: (attempt: StormAttempt) => void): StormResult {
  const started = performance.now();
  const { clients, downMs, capacityPerSecond } = config;
  if (!Number.isSafeInteger(clients) || clients < 1) throw new RangeError(`storm: clients must be a positive integer, got ${clients}`);
  if (!(downMs >= 0) || !Number.isFinite(downMs)) throw new RangeError(`storm: downMs must be a finite number ≥ 0, got ${downMs}`);
  if (!(capacityPerSecond > 0) || !Number.isFinite(capacityPerSecond)) {
    throw new RangeError(`storm: capacityPerSecond must be a finite number > 0, got ${capacityPerSecond}`);
  }
  const maxSimulatedMs = config.maxSimulatedMs ?? 24 * 3600_000;
  const maxRetryAfterMs = config.maxRetryAfterMs ?? 300_000;
  const random = createRandom(strategySeed(config.seed, spec.id));
  const hintOf =
    spec.hints !== undefined ? createHintPolicy(spec.hintPolicy ?? 'queue', config, createRandom(strategySeed(config.seed, `server:${spec.id}`))) : undefined;
  // Lockstep clients move as one entity; a hint is per client, so hints need one each.
  const grouped = spec.deterministic && hintOf === undefined;
  const entities = grouped ? 1 : clients;
  let groupSize = grouped ? clients : 1;

  // The calendar: slot s (ms) lives at ring[s & mask]; a delay must stay below the ring span.
  const longest = Math.min(MAX_TIMER_DELAY, spec.options.maxDelay) + (hintOf ? maxRetryAfterMs + spec.options.initialDelay : 0);
  let span = 1024;
  while (span <= longest + 2) span *= 2;
  if (span > 1 << 26) throw new RangeError(`storm: delays up to ${longest} ms need too large a calendar`);
  const mask = span - 1;
  const ring = new Int32Array(span).fill(-1);
  // One entity's state in one 32-byte record, so an attempt touches one cache line:
  // [time of the next attempt, attempts made so far, last strategy delay (NaN: none), next in slot].
  const TIME = 0;
  const ATTEMPT = 1;
  const PREVIOUS = 2;
  const NEXT = 3;
  const state = new Float64Array(entities * 4);

  let attemptsPerBucket = new Float64Array(1024);
  let acceptedPerBucket = new Float64Array(1024);
  let buckets = 0;
  const grow = (bucket: number): void => {
    let length = attemptsPerBucket.length;
    while (length <= bucket) length *= 2;
    const a = new Float64Array(length);
    a.set(attemptsPerBucket);
    attemptsPerBucket = a;
    const b = new Float64Array(length);
    b.set(acceptedPerBucket);
    acceptedPerBucket = b;
  };

  // The retry about to be made is attempt + 1: the counter is read before it is incremented.
  const schedule = (entity: number, nowMs: number, hintMs: number | undefined): void => {
    const at0 = entity * 4;
    const attempt = state[at0 + ATTEMPT]! + 1;
    const previous = state[at0 + PREVIOUS]!;
    const base = spec.strategy(attempt, spec.options, random, Number.isNaN(previous) ? undefined : previous);
    const at = nowMs + combine(spec, base, hintMs, random);
    const slot = Math.floor(at);
    if (slot - Math.floor(nowMs) >= span) throw new RangeError(`storm: a delay of ${at - nowMs} ms overflows the calendar`);
    state[at0 + TIME] = at;
    state[at0 + ATTEMPT] = attempt;
    state[at0 + PREVIOUS] = base;
    state[at0 + NEXT] = ring[slot & mask]!;
    ring[slot & mask] = entity;
  };

  for (let e = 0; e < entities; e++) {
    state[e * 4 + PREVIOUS] = Number.NaN;
    schedule(e, 0, undefined);
  }

  let pending = clients;
  let accepted = 0;
  let attempts = 0;
  let refused = 0;
  let rejected = 0;
  let maxAttempts = 0;
  let lastAcceptedMs = 0;
  let bucket = -1;
  let tokens = 0;
  const lastSlot = Math.ceil(maxSimulatedMs);
  for (let slot = 0; pending > 0 && slot <= lastSlot; slot++) {
    const index = slot & mask;
    let entity = ring[index]!;
    if (entity === -1) continue;
    const slotBucket = Math.floor(slot / BUCKET_MS);
    if (slotBucket !== bucket) {
      bucket = slotBucket;
      tokens = capacityOfBucket(bucket, capacityPerSecond);
      if (bucket >= attemptsPerBucket.length) grow(bucket);
      buckets = bucket + 1;
    }
    // An attempt rescheduled with a delay under 1 ms lands in this slot again: drain it until empty.
    while (entity !== -1) {
      ring[index] = -1;
      while (entity !== -1) {
        const at0 = entity * 4;
        const following = state[at0 + NEXT]!;
        const at = state[at0 + TIME]!;
        const attempt = state[at0 + ATTEMPT]!;
        const count = groupSize;
        attempts += count;
        attemptsPerBucket[bucket] = attemptsPerBucket[bucket]! + count;
        if (at < downMs) {
          refused += count;
          trace?.({ client: entity, count, timeMs: at, attempt, accepted: 0, server: 'down', hintMs: undefined });
          schedule(entity, at, undefined);
        } else {
          const taken = tokens < count ? tokens : count;
          const left = count - taken;
          if (taken > 0) {
            tokens -= taken;
            pending -= taken;
            accepted += taken;
            acceptedPerBucket[bucket] = acceptedPerBucket[bucket]! + taken;
            lastAcceptedMs = at;
            if (attempt > maxAttempts) maxAttempts = attempt;
          }
          const hintMs = left > 0 && hintOf ? hintOf(at, accepted) : undefined;
          trace?.({ client: entity, count, timeMs: at, attempt, accepted: taken, server: 'up', hintMs });
          if (left > 0) {
            rejected += left;
            if (grouped) groupSize = left;
            schedule(entity, at, hintMs);
          }
        }
        entity = following;
      }
      entity = ring[index]!;
    }
  }

  let peakAttempts = 0;
  let peakBucket = 0;
  let peakAttemptsUp = 0;
  const firstUpBucket = Math.ceil(downMs / BUCKET_MS);
  for (let b = 0; b < buckets; b++) {
    const value = attemptsPerBucket[b]!;
    if (value > peakAttempts) {
      peakAttempts = value;
      peakBucket = b;
    }
    if (b >= firstUpBucket && value > peakAttemptsUp) peakAttemptsUp = value;
  }
  return {
    strategy: spec,
    config,
    boundMs: (clients / capacityPerSecond) * 1000 + downMs,
    drainedAtMs: pending === 0 ? lastAcceptedMs : undefined,
    pending,
    attempts,
    maxAttemptsPerClient: maxAttempts,
    refused,
    rejected,
    peakAttempts,
    peakAtMs: peakBucket * BUCKET_MS,
    peakAttemptsUp,
    attemptsPerBucket: attemptsPerBucket.subarray(0, buckets),
    acceptedPerBucket: acceptedPerBucket.subarray(0, buckets),
    buckets,
    elapsedMs: performance.now() - started,
  };
}
