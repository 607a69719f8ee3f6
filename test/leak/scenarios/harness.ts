/*
 * Shared by the leak-gate scenarios. Each scenario runs in its own child process, started by
 * `test/leak/leak.test.ts` as `node --expose-gc --import tsx <scenario>.ts`, and must exit on
 * its own: nothing here calls `process.exit`, so a handle that outlives the scenario keeps the
 * child alive and the parent kills it and fails.
 *
 * A scenario records four resource snapshots (`process.getActiveResourcesInfo()`, sorted):
 * - `base`: after imports, before the rig and the client exist;
 * - `rigUp`: the rig is up, no client yet;
 * - `clientClosed`: every client closed, the rig still up (so a leaked client socket cannot
 *   be hidden by the server tearing its side down);
 * - `end`: the rig disposed.
 * and heap figures (after `global.gc()`): `base`, `warm` (after N/10 iterations), `after` (after
 * N iterations) and `end`. The parent compares `clientClosed` with `rigUp`, `end` with `base`,
 * and `after − warm` with a bound.
 */
import { text } from 'node:stream/consumers';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { getHeapSnapshot } from 'node:v8';

// The stdio handles exist from here on, in every snapshot.
void process.stdout;
void process.stderr;

export const REPORT_MARKER = 'LEAK-REPORT ';

export interface HeapFigures {
  /** heapUsed after GC, bytes. */
  base: number;
  warm: number;
  after: number;
  end: number;
}

/** Bytes held by reachable objects (self sizes summed over a heap snapshot). */
export interface ReachableFigures {
  /** Taken at `base` (it also compiles the snapshot path, so `warm` does not pay for that). */
  base: number;
  warm: number;
  after: number;
}

export interface LeakReport {
  readonly scenario: string;
  readonly iterations: number;
  readonly warmupIterations: number;
  readonly handles: {
    readonly base: string[];
    readonly rigUp: string[];
    readonly clientClosed: string[];
    readonly end: string[];
  };
  /** How long the client-closed and end snapshots took to settle, ms. */
  readonly settleMs: { readonly clientClosed: number; readonly end: number };
  readonly heap: HeapFigures;
  readonly reachable: ReachableFigures;
  /** Scenario-specific figures and checks (already asserted in the child). */
  readonly checks: Record<string, unknown>;
  /** From the `base` snapshot to the report, ms. */
  readonly durationMs: number;
}

/** The active resources, sorted, so that two snapshots compare as multisets. */
export function resources(): string[] {
  return process.getActiveResourcesInfo().slice().sort();
}

export function sameResources(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((type, i) => type === b[i]);
}

/** Resolves after `ms` (its timer is gone by the time the caller runs again). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets pending I/O callbacks and closes run. */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

/**
 * Waits until the active resources equal `target` (as a multiset), polling every 10 ms, for at
 * most `timeoutMs`. Returns the last snapshot either way: the parent decides.
 */
export async function settle(target: readonly string[], timeoutMs = 3_000): Promise<{ resources: string[]; waitedMs: number }> {
  const start = performance.now();
  for (;;) {
    await turns();
    const now = resources();
    const waitedMs = Math.round(performance.now() - start);
    if (sameResources(now, target) || waitedMs >= timeoutMs) return { resources: now, waitedMs };
    await sleep(10);
  }
}

/**
 * Settles to `target` or throws, naming `what` and the resources left over. Returns how long
 * it took, ms (the parent bounds the slowest: a timer that outlives a close shows up there).
 */
export async function expectSettled(target: readonly string[], what: string): Promise<number> {
  const { resources: now, waitedMs } = await settle(target);
  if (!sameResources(now, target)) {
    throw new Error(`${what}: resources ${JSON.stringify(now)} did not return to ${JSON.stringify(target)} within ${waitedMs} ms`);
  }
  return waitedMs;
}

/** heapUsed after full GCs, bytes. Needs `--expose-gc`. */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') throw new Error('run the scenario with node --expose-gc');
  let used = Infinity;
  // Several rounds: finalizers and weak callbacks of the previous round free more.
  for (let i = 0; i < 4; i++) {
    gc();
    await turns(1);
    used = Math.min(used, process.memoryUsage().heapUsed);
  }
  return used;
}

/**
 * The self sizes of every object in a heap snapshot, summed: only reachable objects are in a
 * snapshot, so unlike `heapUsed` this does not move with fragmentation or unswept pages.
 */
export async function reachableBytes(): Promise<number> {
  const snapshot = JSON.parse(await text(getHeapSnapshot())) as {
    snapshot: { meta: { node_fields: string[] } };
    nodes: number[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let sum = 0;
  for (let i = selfSize; i < snapshot.nodes.length; i += fields.length) sum += snapshot.nodes[i]!;
  return sum;
}

/** Collects the snapshots of one scenario and prints the report as one JSON line. */
export class Recorder {
  private readonly start = performance.now();
  private readonly snapshots: { base: string[]; rigUp: string[]; clientClosed: string[]; end: string[] } = {
    base: [],
    rigUp: [],
    clientClosed: [],
    end: [],
  };
  private readonly settled = { clientClosed: -1, end: -1 };
  private readonly heap: HeapFigures = { base: 0, warm: 0, after: 0, end: 0 };
  private readonly reachable: ReachableFigures = { base: 0, warm: 0, after: 0 };
  readonly checks: Record<string, unknown> = {};

  private constructor(
    private readonly scenario: string,
    readonly iterations: number,
    /** After this many iterations, call `warm()`. */
    readonly warmupIterations: number,
  ) {}

  /** Takes the `base` snapshot and heap: call before the rig exists. */
  static async begin(scenario: string, iterations: number, warmupIterations = Math.round(iterations / 10)): Promise<Recorder> {
    await turns(5);
    await sleep(20); // the loader's own file reads finish
    await turns(5);
    const recorder = new Recorder(scenario, iterations, warmupIterations);
    recorder.snapshots.base = resources();
    recorder.heap.base = await heapAfterGc();
    recorder.reachable.base = await reachableBytes();
    return recorder;
  }

  /** The rig is up; no client exists yet. */
  async rigUp(): Promise<void> {
    await turns(5);
    this.snapshots.rigUp = resources();
  }

  /** A snapshot taken so far. */
  snapshot(name: 'base' | 'rigUp'): readonly string[] {
    return this.snapshots[name];
  }

  /**
   * The heap after N/10 iterations. Settles to `target` first (default: `rigUp`; pass the
   * snapshot taken while the client is open when it stays open; `null`: do not settle, timers
   * are running), so that in-flight closes do not count as retained heap. Returns the settled
   * snapshot.
   */
  async warm(target: readonly string[] | null = this.snapshots.rigUp): Promise<string[]> {
    const now = target === null ? resources() : (await settle(target)).resources;
    this.heap.warm = await heapAfterGc();
    this.reachable.warm = await reachableBytes();
    return now;
  }

  /** The heap after N iterations; see `warm`. */
  async after(target: readonly string[] | null = this.snapshots.rigUp): Promise<string[]> {
    const now = target === null ? resources() : (await settle(target)).resources;
    this.heap.after = await heapAfterGc();
    this.reachable.after = await reachableBytes();
    return now;
  }

  /** Every client is closed and the rig is still up. */
  async clientClosed(): Promise<void> {
    const { resources: now, waitedMs } = await settle(this.snapshots.rigUp);
    this.snapshots.clientClosed = now;
    this.settled.clientClosed = waitedMs;
  }

  /** The rig is disposed: prints the report. The process must then exit by itself. */
  async end(): Promise<void> {
    const { resources: now, waitedMs } = await settle(this.snapshots.base);
    this.snapshots.end = now;
    this.settled.end = waitedMs;
    this.heap.end = await heapAfterGc();
    const report: LeakReport = {
      scenario: this.scenario,
      iterations: this.iterations,
      warmupIterations: this.warmupIterations,
      handles: this.snapshots,
      settleMs: this.settled,
      heap: this.heap,
      reachable: this.reachable,
      checks: this.checks,
      durationMs: Math.round(performance.now() - this.start),
    };
    process.stdout.write(`${REPORT_MARKER}${JSON.stringify(report)}\n`);
  }
}
