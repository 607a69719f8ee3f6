import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Sink, makeSinks } from '../../bench/wire.js';

/*
 * `npm run bench -- --quick` in a child process, as a smoke test: every scenario runs with a
 * tiny N and one repetition, against real server and client processes on 127.0.0.1. It checks
 * that the run completes, that no stack was flagged WRONG (every message counted, in order,
 * every connection opened and re-subscribed) and that the results file is written. It also
 * covers how rxtether is loaded: the run bundles the current sources as dist is built (no tsx
 * keepNames) and every rxtether worker imports that bundle (bench/rxtether.ts), which checks the
 * loaded code for `__name(` wrappers and a second rxjs copy; the header says so, and the
 * bundle is gone after the run. No figure is asserted: timings on a shared machine mean
 * nothing here.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A safety net for a hung child, not a timing assertion: the quick run takes well under it. */
const CHILD_TIMEOUT = 240_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

function runBench(args: readonly string[]): Promise<Run> {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), CHILD_TIMEOUT);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtether-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'should run every scenario, flag no stack as wrong and write the results file',
    async () => {
      const out = join(dir, 'RESULTS.md');
      const run = await runBench(['--quick', '--out', out]);
      expect(run.output).not.toMatch(/WRONG/);
      expect({ code: run.code, signal: run.signal }, run.output.slice(-4000)).toEqual({ code: 0, signal: null });

      const md = readFileSync(out, 'utf8');
      for (const heading of [
        '## Targets',
        '## Scenario 1: server push throughput',
        '## Scenario 2: round-trip latency',
        '## Scenario 3: client send throughput',
        '## Scenario 4: idle memory',
        '## Scenario 5: reconnect time',
        '## Scenario 6: pipeline overhead, no network',
        '## Scenario 7: reconnect storm (virtual time)',
        '## Scenario 8: real reconnect storm on loopback',
        '## Import time',
      ]) {
        expect(md).toContain(heading);
      }
      expect(md).not.toContain('## Problems');
      // rxtether came from the run's fresh bundle, not from the sources through tsx.
      expect(md).toMatch(/^\| rxtether loaded as \| esbuild bundle of the current sources .*no keepNames.* \|$/m);
      const bundleDir = /^rxtether: esbuild bundle .*, into (\S+)\/;/m.exec(run.output)?.[1];
      expect(bundleDir, run.output.slice(0, 2000)).toMatch(/^bench\/\.out\/rxtether-\d+$/);
      expect(existsSync(join(ROOT, bundleDir!))).toBe(false);
      expect(md).not.toMatch(/\| (\*\*)?WRONG(\*\*)? \|/);
      // Every stack has a row in the push table, each one checked.
      const push = md.slice(md.indexOf('## Scenario 1'), md.indexOf('## Scenario 2'));
      for (const stack of ['raw ws', 'rxjs webSocket()', 'reconnecting-websocket', 'partysocket', 'rxtether connect()', 'rxtether createSocket, 10 channels']) {
        expect(push).toMatch(new RegExp(`\\| ${stack.replace(/[()]/g, '\\$&')} \\|.*\\| ok \\|`));
      }
      // The opt-in reference stack runs only when asked for.
      expect(md).not.toContain('hand-fused');
    },
    CHILD_TIMEOUT + 10_000,
  );

  it('should refuse the hand-fused floor for a scenario it is not meant for, before running anything', async () => {
    const out = join(dir, 'refused.md');
    const run = await runBench(['--quick', '--stacks', 'fused', '--scenario', '1,3', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.output).toContain('--stacks fused is only for scenarios 1, 2, 4 (give --scenario; not 3)');
    expect(existsSync(out)).toBe(false);
  });
});

describe('the benchmark\'s order check (bench/wire.ts)', () => {
  const feed = (sinks: Sink[], seqs: number[]): void => {
    for (const seq of seqs) {
      const k = sinks.length === 1 ? 0 : seq % 10;
      sinks[k]!.receive({ type: 'msg', channel: `t${seq % 10}`, seq });
    }
  };

  it('should pass a subscriber that got every seq once, in order', () => {
    const sinks = makeSinks(25, 1);
    feed(sinks, Array.from({ length: 25 }, (_, i) => i + 1));
    expect(sinks.map((s) => s.problem())).toEqual([undefined]);
  });

  it('should pass ten channel subscribers that each got every tenth seq', () => {
    const sinks = makeSinks(25, 10);
    feed(sinks, Array.from({ length: 25 }, (_, i) => i + 1));
    expect(sinks.map((s) => s.problem())).toEqual(Array.from({ length: 10 }, () => undefined));
  });

  it('should flag a gap, a duplicate, a swap and a short count', () => {
    const cases: number[][] = [
      [1, 2, 4, 5],
      [1, 2, 2, 3, 4, 5],
      [1, 3, 2, 4, 5],
      [1, 2, 3, 4],
    ];
    for (const seqs of cases) {
      const sinks = makeSinks(5, 1);
      feed(sinks, seqs);
      expect(sinks[0]!.problem(), seqs.join(',')).toBeDefined();
    }
  });

  it('should flag a message of another type', () => {
    const sink = makeSinks(1, 1)[0]!;
    sink.receive({ type: 'pong' });
    expect(sink.problem()).toMatch(/pong/);
  });
});
