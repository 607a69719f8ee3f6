import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type LeakReport, REPORT_MARKER } from './scenarios/harness.js';

/*
 * The leak gate (FAULTS.md "The rig", P7, rows 31–33): every lifecycle scenario runs in its own
 * child process, so that nothing vitest holds can hide or cause a leak, and must exit on its
 * own: the scenarios never call process.exit, so a socket or timer left behind keeps the child
 * alive and the parent kills it after CHILD_TIMEOUT and fails.
 *
 * In the child: `process.getActiveResourcesInfo()` before the rig, with the rig up, after every
 * client closed (rig still up) and after the rig is disposed; heap after `global.gc()` at the
 * start, after N/10 iterations (warm) and after N. See scenarios/harness.ts.
 *
 * Heap bounds, from measurements on this machine (Node 20, 5 runs of each scenario):
 * - The children run with `--max-opt=0` (interpreter only). With the optimizing tiers on,
 *   heapUsed grows by 0.5–1.1 MB between N/10 and N for the first few thousand iterations and
 *   then levels off; heap-snapshot diffs show it is all JIT code and deopt data, not objects. It
 *   would hide a leak of up to ~1 KB per connect cycle.
 * - Interpreter only, heapUsed after GC still moves by one page, −0.3 to +0.3 MB, between runs
 *   (unswept or fragmented pages): HEAP_BOUND is 1 MB.
 * - Reachable bytes (self sizes summed over a heap snapshot, which holds only live objects) grow
 *   by a fixed 30–45 KB (feedback vectors, inline caches of paths first taken after warm-up),
 *   the same for 300 or 3,000 iterations; 140–165 KB for the heartbeat scenario, whose warm
 *   point comes after 2 replacements. REACHABLE_BOUND is 128 KB (256 KB for that one): over
 *   9,000 channel cycles that is ~14 bytes per cycle, over 900 connects ~140 bytes each.
 */

const CHILD_TIMEOUT = 20_000;
const HEAP_BOUND = 1024 * 1024;
/** Slowest return to the rig's own resources after a close; a closeTimeout (1 s) left running would exceed it. */
const SETTLE_BOUND = 500;

interface Scenario {
  readonly name: string;
  readonly file: string;
  readonly reachableBound: number;
}

const scenarios: readonly Scenario[] = [
  { name: 'row 32: 1,000 connect/unsubscribe cycles, including in the same tick', file: 'connect-cycles.ts', reachableBound: 128 * 1024 },
  { name: 'row 32: 10,000 channel subscribe/unsubscribe cycles on one socket', file: 'channel-cycles.ts', reachableBound: 128 * 1024 },
  { name: 'row 31: close() during backoff, during the handshake and while open', file: 'close-states.ts', reachableBound: 128 * 1024 },
  { name: 'a retry chain against a refused port until maxRetries', file: 'retry-terminal.ts', reachableBound: 128 * 1024 },
  { name: '20 heartbeat-replaced connections (frozen server), then close', file: 'heartbeat-replace.ts', reachableBound: 256 * 1024 },
];

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  /** From the report line to the child's exit: how long it took to wind down by itself. */
  readonly exitLagMs: number | undefined;
}

function runScenario(file: string): Promise<ChildResult> {
  const path = fileURLToPath(new URL(`./scenarios/${file}`, import.meta.url));
  const cwd = fileURLToPath(new URL('../../', import.meta.url));
  const env = { ...process.env };
  delete env['LEAK_ITERATIONS'];
  delete env['NODE_OPTIONS'];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--max-opt=0', '--import', 'tsx', path], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let reportedAt: number | undefined;
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (reportedAt === undefined && stdout.includes(REPORT_MARKER)) reportedAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const end = performance.now();
      resolve({
        code,
        signal,
        killed,
        stdout,
        stderr,
        wallMs: Math.round(end - start),
        exitLagMs: reportedAt === undefined ? undefined : Math.round(end - reportedAt),
      });
    });
  });
}

function parseReport(stdout: string): LeakReport | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(REPORT_MARKER));
  return line === undefined ? undefined : (JSON.parse(line.slice(REPORT_MARKER.length)) as LeakReport);
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

describe('leak gate (child processes)', () => {
  it.each(scenarios)('should leave no handle and retain no heap: $name', async ({ file, reachableBound }) => {
    const result = await runScenario(file);
    const context = `${file}: exit ${result.code} ${result.signal ?? ''}\n${result.stderr.slice(-4000)}`;
    expect(result.killed, `${context}\nkilled after ${CHILD_TIMEOUT} ms: something kept the process alive`).toBe(false);
    expect(result.code, context).toBe(0);
    const report = parseReport(result.stdout);
    expect(report, `${context}\nno report on stdout`).toBeDefined();
    const { handles, heap, reachable, settleMs } = report!;

    console.info(
      `[leak] ${report!.scenario}: ${report!.iterations} iterations in ${report!.durationMs} ms (wall ${result.wallMs} ms, exit lag ${result.exitLagMs} ms); ` +
        `handles base ${JSON.stringify(handles.base)} rig ${JSON.stringify(handles.rigUp)} closed ${JSON.stringify(handles.clientClosed)} end ${JSON.stringify(handles.end)}; ` +
        `heapUsed warm→after ${kb(heap.after - heap.warm)} (base ${kb(heap.base)}, end ${kb(heap.end)}); reachable warm→after ${kb(reachable.after - reachable.warm)}; ` +
        `checks ${JSON.stringify(report!.checks)}`,
    );

    // Compared as multisets (both sorted): nothing extra, nothing missing.
    expect(handles.clientClosed, 'every client closed, the rig still up').toEqual(handles.rigUp);
    expect(handles.end, 'the rig disposed').toEqual(handles.base);
    expect(settleMs.clientClosed).toBeLessThan(SETTLE_BOUND);
    expect(settleMs.end).toBeLessThan(SETTLE_BOUND);
    const maxSettleMs = report!.checks['maxSettleMs'];
    if (typeof maxSettleMs === 'number') expect(maxSettleMs, 'slowest settle after a close').toBeLessThan(SETTLE_BOUND);
    expect(heap.after - heap.warm, 'heapUsed growth between N/10 and N iterations').toBeLessThan(HEAP_BOUND);
    expect(reachable.after - reachable.warm, 'reachable bytes growth between N/10 and N iterations').toBeLessThan(reachableBound);
  }, CHILD_TIMEOUT + 10_000);
});
