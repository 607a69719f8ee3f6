import { defer, of, throwError, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { retryWithJitteredBackoff } from '../../operators/index.js';
import { renderStormChart } from '../../bench/storm/chart.js';
import { runStorm } from '../../bench/storm/index.js';
import {
  BUCKET_MS,
  RXTETHER_DEFAULT_BACKOFF,
  type StormAttempt,
  type StormConfig,
  type StormStrategy,
  capacityOfBucket,
  clientDelay,
  createRandom,
  floorOnlyHintStrategy,
  simulateStorm,
  stormStrategies,
  strategySeed,
} from '../../bench/storm/simulate.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const all = (): StormStrategy[] => [...stormStrategies(), floorOnlyHintStrategy()];
const byId = (id: string): StormStrategy => all().find((s) => s.id === id)!;
const small: StormConfig = { clients: 2000, downMs: 5000, capacityPerSecond: 125, seed: 7 };

/** Runs with a trace; returns the attempts in the order they were made. */
function traced(config: StormConfig, spec: StormStrategy): { result: ReturnType<typeof simulateStorm>; events: StormAttempt[] } {
  const events: StormAttempt[] = [];
  const result = simulateStorm(config, spec, (event) => events.push(event));
  return { result, events };
}

describe('storm simulator', () => {
  it('should reconnect every client exactly once, and never try again after that', () => {
    for (const spec of all()) {
      const { result, events } = traced(small, spec);
      expect(result.pending, spec.id).toBe(0);
      expect(result.drainedAtMs, spec.id).toBeGreaterThan(0);
      const acceptedOf = new Float64Array(small.clients);
      let attempts = 0;
      let cameBack = 0;
      for (const event of events) {
        // A client (or a lockstep group) that was fully accepted must not come back.
        if (acceptedOf[event.client]! + event.count > (spec.deterministic ? small.clients : 1)) cameBack++;
        acceptedOf[event.client] = acceptedOf[event.client]! + event.accepted;
        attempts += event.count;
      }
      expect(cameBack, spec.id).toBe(0);
      const total = acceptedOf.reduce((sum, n) => sum + n, 0);
      expect(total, spec.id).toBe(small.clients);
      if (!spec.deterministic) expect([...acceptedOf].every((n) => n === 1), spec.id).toBe(true);
      expect(attempts, spec.id).toBe(result.attempts);
      expect(result.acceptedPerBucket.reduce((sum, n) => sum + n, 0), spec.id).toBe(small.clients);
      expect(result.refused + result.rejected + small.clients, spec.id).toBe(result.attempts);
    }
  });

  it('should accept no attempt while the server is down', () => {
    for (const spec of all()) {
      const { result, events } = traced(small, spec);
      const down = events.filter((e) => e.timeMs < small.downMs);
      expect(down.length, spec.id).toBeGreaterThan(0);
      expect(down.every((e) => e.accepted === 0 && e.server === 'down' && e.hintMs === undefined), spec.id).toBe(true);
      expect(events.filter((e) => e.timeMs >= small.downMs).every((e) => e.server === 'up'), spec.id).toBe(true);
      const firstUpBucket = small.downMs / BUCKET_MS;
      expect(result.acceptedPerBucket.subarray(0, firstUpBucket).every((n) => n === 0), spec.id).toBe(true);
      expect(result.refused, spec.id).toBe(down.reduce((sum, e) => sum + e.count, 0));
    }
  });

  it('should never accept more than the capacity of a 100 ms bucket', () => {
    // 125/s is 12.5 per bucket: buckets alternate 12 and 13, 125 per second exactly.
    expect([0, 1, 2, 3].map((b) => capacityOfBucket(b, 125))).toEqual([12, 13, 12, 13]);
    for (const spec of all()) {
      const { result, events } = traced(small, spec);
      const recount = new Map<number, number>();
      for (const e of events) {
        const bucket = Math.floor(e.timeMs / BUCKET_MS);
        recount.set(bucket, (recount.get(bucket) ?? 0) + e.accepted);
      }
      let saturated = 0;
      for (const [bucket, accepted] of recount) {
        expect(accepted, `${spec.id} bucket ${bucket}`).toBeLessThanOrEqual(capacityOfBucket(bucket, small.capacityPerSecond));
        expect(result.acceptedPerBucket[bucket], `${spec.id} bucket ${bucket}`).toBe(accepted);
        if (accepted === capacityOfBucket(bucket, small.capacityPerSecond)) saturated++;
      }
      // Not vacuous: the storm does fill buckets to capacity.
      expect(saturated, spec.id).toBeGreaterThan(5);
    }
  });

  it('should show a fixed interval without jitter as synchronized spikes of all N clients', () => {
    const config: StormConfig = { clients: 1000, downMs: 5500, capacityPerSecond: 1000, seed: 1 };
    const fixed = simulateStorm(config, byId('fixed'));
    expect(fixed.peakAttempts).toBe(1000);
    expect(fixed.peakAtMs).toBe(1000);
    // Every second while down: all N at once, nothing in between.
    for (let b = 0; b < 55; b++) expect(fixed.attemptsPerBucket[b], `bucket ${b}`).toBe(b > 0 && b % 10 === 0 ? 1000 : 0);
    // Up at 5.5 s: the spike at 6 s gets one bucket's worth (100) in, the next one the rest of them.
    expect(fixed.acceptedPerBucket[60]).toBe(100);
    expect(fixed.attemptsPerBucket[70]).toBe(900);
    expect(fixed.drainedAtMs).toBe(15_000);
    // Exponential without jitter: spikes at 1, 3, 7, 15 s.
    const exponential = simulateStorm(config, byId('exponential'));
    for (const at of [1, 3]) expect(exponential.attemptsPerBucket[at * 10]).toBe(1000);
    expect(exponential.attemptsPerBucket[70]).toBe(1000);
    expect(exponential.acceptedPerBucket[70]).toBe(100);
    expect(exponential.attemptsPerBucket[150]).toBe(900);
    // Full jitter spreads the same clients: no bucket sees a quarter of them.
    expect(simulateStorm(config, byId('full')).peakAttempts).toBeLessThan(250);
  });

  it('should drain near the bound with server hints', () => {
    // The headline million-client shape (N/C = 200 s, D = 10 s) at a twentieth of the size.
    const config: StormConfig = { clients: 50_000, downMs: 10_000, capacityPerSecond: 250, seed: 3 };
    const full = simulateStorm(config, byId('full'));
    const hinted = simulateStorm(config, byId('full-hints'));
    const floorOnly = simulateStorm(config, byId('full-hints-floor'));
    expect(hinted.boundMs).toBe(210_000);
    expect(hinted.drainedAtMs! / hinted.boundMs).toBeLessThanOrEqual(1.1);
    expect(hinted.drainedAtMs!).toBeGreaterThanOrEqual(hinted.boundMs - 1000);
    // Hints as a floor only (the previous rule) still drain within 1.3×, but later.
    expect(floorOnly.drainedAtMs! / floorOnly.boundMs).toBeLessThanOrEqual(1.3);
    expect(hinted.drainedAtMs!).toBeLessThan(floorOnly.drainedAtMs!);
    // Hints also spare the server most of the rejected handshakes.
    expect(hinted.rejected * 3).toBeLessThan(full.rejected);
    // The hints the server sent follow its queue: up to pending / C, in whole seconds.
    const { events } = traced({ ...config, clients: 5000, capacityPerSecond: 25 }, byId('full-hints'));
    const hints = events.flatMap((e) => (e.hintMs === undefined ? [] : [e.hintMs]));
    expect(hints.length).toBeGreaterThan(100);
    expect(hints.every((h) => h >= 1000 && h <= 200_000 && h % 1000 === 0)).toBe(true);
    expect(Math.max(...hints)).toBeGreaterThan(100_000);
  });

  it('should be deterministic for a seed', () => {
    for (const spec of all()) {
      const a = simulateStorm(small, spec);
      const b = simulateStorm(small, spec);
      expect([a.drainedAtMs, a.attempts, a.rejected, a.maxAttemptsPerClient], spec.id).toEqual([b.drainedAtMs, b.attempts, b.rejected, b.maxAttemptsPerClient]);
      expect(Array.from(a.attemptsPerBucket), spec.id).toEqual(Array.from(b.attemptsPerBucket));
      if (!spec.deterministic) {
        const c = simulateStorm({ ...small, seed: 8 }, spec);
        expect(Array.from(c.attemptsPerBucket), spec.id).not.toEqual(Array.from(a.attemptsPerBucket));
      }
    }
  });

  it('should reconnect a client at the times retryWithJitteredBackoff with its defaults would', () => {
    // One client, a server down for 90 s: the operator with no backoff options, on the same
    // random sequence, must re-subscribe exactly when the simulator says the client tries.
    // This pins RXTETHER_DEFAULT_BACKOFF to the operator's real defaults.
    for (const id of ['full', 'equal', 'decorrelated']) {
      const config: StormConfig = { clients: 1, downMs: 90_000, capacityPerSecond: 10, seed: 11 };
      const spec = byId(id);
      const { events } = traced(config, spec);
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const subscribedAt: number[] = [];
      defer(() => {
        subscribedAt.push(scheduler.now());
        return scheduler.now() < config.downMs ? throwError(() => new Error('ECONNREFUSED')) : of('open');
      })
        .pipe(
          retryWithJitteredBackoff({
            ...(id === 'full' ? {} : { jitter: id as 'equal' | 'decorrelated' }),
            shouldRetry: () => true,
            random: createRandom(strategySeed(config.seed, spec.id)),
            scheduler,
          }),
        )
        .subscribe();
      scheduler.flush();
      expect(events.length, id).toBeGreaterThan(5);
      // The first subscription is the connection that dropped at t = 0.
      expect(subscribedAt.slice(1), id).toEqual(events.map((e) => e.timeMs));
    }
    expect(RXTETHER_DEFAULT_BACKOFF).toEqual({ initialDelay: 1000, maxDelay: 30_000, factor: 2 });
  });

  it('should combine a server hint with the strategy as retryWithJitteredBackoff does', () => {
    // The simulator calls the operator's own delayWithHint; this runs both on the same draws.
    const hints = [0, 50_000, 200, undefined, 45_000, 1000, 90_000, 3000];
    for (const spec of [byId('full-hints'), { ...byId('full-hints'), id: 'dec', strategy: byId('decorrelated').strategy }]) {
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const delays: number[] = [];
      let n = 0;
      defer(() => throwError(() => ({ retryAfter: hints[n++ % hints.length] })))
        .pipe(
          retryWithJitteredBackoff({
            jitter: spec.strategy,
            maxRetries: hints.length,
            shouldRetry: () => true,
            random: createRandom(5),
            scheduler,
            onRetry: ({ delay }) => delays.push(delay),
          }),
        )
        .subscribe({ error: () => {} });
      scheduler.flush();
      const random = createRandom(5);
      let previous: number | undefined;
      const expected = hints.map((hint, i) => {
        const { base, delay } = clientDelay(spec, i + 1, previous, hint, random);
        previous = base;
        return delay;
      });
      expect(delays, spec.id).toEqual(expected);
      // Every branch was compared: hints of 1 s or more became the wait (plus under 1 s of
      // jitter) even where the strategy drew longer, and a sub-second hint lost to the strategy.
      const isWait = (d: number, h: number | undefined): boolean => h !== undefined && h >= 1000 && d >= h && d < h + 1000;
      expect(expected.every((d, i) => (hints[i] ?? 0) < 1000 || isWait(d, hints[i])), spec.id).toBe(true);
      expect(expected.some((d, i) => hints[i] !== undefined && hints[i]! < 1000 && d > hints[i]!), spec.id).toBe(true);
    }
  });

  it('should let a hint of 1 s or more be the wait, even below the strategy delay, and floor a shorter one', () => {
    const spec = byId('full-hints');
    const random = createRandom(9);
    let shortened = 0;
    for (let attempt = 1; attempt <= 12; attempt++) {
      for (const hint of [3000, 45_000]) {
        const { base, delay } = clientDelay(spec, attempt, undefined, hint, random);
        expect(delay).toBeGreaterThanOrEqual(hint);
        expect(delay).toBeLessThan(hint + 1000);
        if (base > delay) shortened++;
      }
      const { base, delay } = clientDelay(spec, attempt, undefined, 0, random);
      expect(delay).toBe(base);
    }
    // The server's 3 s replaced longer draws of the strategy (a floor would have kept those).
    expect(shortened).toBeGreaterThan(0);
    // The previous rule, kept for comparison: every hint only a floor.
    const floorOnly = byId('full-hints-floor');
    for (const hint of [0, 500, 3000, 45_000]) {
      const { base, delay } = clientDelay(floorOnly, 6, undefined, hint, random);
      expect(delay).toBe(Math.max(base, hint));
    }
  });
});

describe('storm chart and report', () => {
  it('should write a well-formed SVG with one path per strategy', () => {
    const runs = all().map((spec) => simulateStorm(small, spec));
    const svg = renderStormChart(runs, {
      title: 'Storm <test> & co',
      xMaxSeconds: 60,
      capacityPerBucket: 12.5,
      markers: [{ atSeconds: 5, label: 'server up' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    expect(svg).toContain('Storm &lt;test&gt; &amp; co');
    const paths = svg.match(/<path\b[^>]*\bd="M[^"]+"/g) ?? [];
    expect(paths.length).toBe(runs.length);
    expect((svg.match(/<path\b/g) ?? []).length).toBe(runs.length);
    for (const spec of all()) expect(svg).toContain(`>${spec.label}<`);
    expect(svg).toContain('log scale');
    // Tags balance: every opened element is closed in order.
    const stack: string[] = [];
    for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^>]*?(\/?)>/g)) {
      if (closing) expect(stack.pop()).toBe(name);
      else if (!selfClosing) stack.push(name!);
    }
    expect(stack).toEqual([]);
  });

  it('should return a RESULTS.md section and the chart it wrote (quick mode)', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'storm-'));
    try {
      const report = await runStorm({ quick: true, outDir });
      expect(report.chartFiles).toEqual([join(outDir, 'storm-10k.svg')]);
      expect(readFileSync(report.chartFiles[0]!, 'utf8').startsWith('<svg')).toBe(true);
      expect(report.markdown.startsWith('## Scenario 7')).toBe(true);
      for (const spec of stormStrategies()) expect(report.markdown).toContain(`| ${spec.label} |`);
      // The floor-only comparison is a what-if row of the full run, never a main-table row.
      expect(report.markdown).not.toContain(floorOnlyHintStrategy().label);
      expect(report.markdown).not.toContain('proposed');
      expect(report.markdown).toMatch(/!\[[^\]]*\]\([^)]*storm-10k\.svg\)/);
      expect(report.markdown).toContain('bound N/C + D = 30.0 s');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
