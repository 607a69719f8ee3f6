// Scenario 7 of the benchmark plan: the reconnect storm, in virtual time. runStorm() runs the
// strategies for each fleet size, writes one SVG chart per size into outDir and returns the
// RESULTS.md section; bench/storm/main.ts runs it on its own.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderStormChart } from './chart.js';
import {
  BUCKET_MS,
  RXTETHER_DEFAULT_BACKOFF,
  type StormConfig,
  type StormResult,
  type StormStrategy,
  floorOnlyHintStrategy,
  simulateStorm,
  stormStrategies,
} from './simulate.js';

export type { StormConfig, StormResult, StormStrategy } from './simulate.js';
export { simulateStorm, stormStrategies, floorOnlyHintStrategy } from './simulate.js';
export { renderStormChart } from './chart.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Options of {@link runStorm}; everything but `quick` and `outDir` has a default. */
export interface RunStormOptions {
  /** 10,000 clients at 500/s (same shape, a tenth of the size, well under 3 s), no what-if table. */
  readonly quick: boolean;
  /** Where the SVG charts go (created if missing). */
  readonly outDir: string;
  /** Fleet sizes to run. @defaultValue `[100_000, 1_000_000]`, `[10_000]` when quick */
  readonly clients?: readonly number[];
  /** Outage, in s. @defaultValue `10` */
  readonly downSeconds?: number;
  /** Handshakes per second once up. @defaultValue `5000`, `500` when quick */
  readonly capacityPerSecond?: number;
  /** PRNG seed. @defaultValue `1` */
  readonly seed?: number;
  /** Called with a line of progress per simulation. */
  readonly log?: (line: string) => void;
}

/** What {@link runStorm} returns: the RESULTS.md section and the charts it wrote. */
export interface StormReport {
  readonly markdown: string;
  readonly chartFiles: string[];
  /** Every run, for callers that want the figures themselves. */
  readonly results: StormResult[];
}

const TARGET_WITH_HINTS = 1.3;
const TARGET_WITHOUT_HINTS = 1.6;

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const sizeName = (n: number): string => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));

function pick(id: string, options: typeof RXTETHER_DEFAULT_BACKOFF): StormStrategy {
  const spec = stormStrategies(options).find((s) => s.id === id);
  if (spec === undefined) throw new Error(`storm: no strategy ${id}`);
  return spec;
}

function ratioOf(result: StormResult): number | undefined {
  return result.drainedAtMs === undefined ? undefined : result.drainedAtMs / result.boundMs;
}

function row(result: StormResult): string {
  const n = result.config.clients;
  const ratio = ratioOf(result);
  const drained = result.drainedAtMs === undefined ? `not by ${seconds(result.config.maxSimulatedMs ?? 0)}` : seconds(result.drainedAtMs);
  return `| ${result.strategy.label} | ${drained} | ${ratio === undefined ? '–' : `${ratio.toFixed(2)}×`} | ${(result.attempts / n).toFixed(2)} | ${int(result.maxAttemptsPerClient)} | ${int(result.peakAttempts)} at ${(result.peakAtMs / 1000).toFixed(1)} s | ${int(result.peakAttemptsUp)} | ${int(result.refused)} | ${int(result.rejected)} |`;
}

const TABLE_HEAD = `| strategy | all reconnected at | × bound | attempts per client | max per client | peak attempts / 100 ms | peak once up | refused while down | rejected over capacity |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`;

/**
 * Runs scenario 7 and writes its charts.
 *
 * @param options - `quick` for a smoke run, `outDir` for the charts; see {@link RunStormOptions}.
 * @returns The RESULTS.md section (chart links relative to `bench/`) and the chart paths.
 */
export async function runStorm(options: RunStormOptions): Promise<StormReport> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const { quick, log = () => {} } = options;
  const outDir = resolve(options.outDir);
  const sizes = options.clients ?? (quick ? [10_000] : [100_000, 1_000_000]);
  const downMs = (options.downSeconds ?? 10) * 1000;
  const capacityPerSecond = options.capacityPerSecond ?? (quick ? 500 : 5000);
  const seed = options.seed ?? 1;
  const base = RXTETHER_DEFAULT_BACKOFF;
  const strategies: StormStrategy[] = stormStrategies(base);
  mkdirSync(outDir, { recursive: true });

  const results: StormResult[] = [];
  const chartFiles: string[] = [];
  const sections: string[] = [];
  const verdicts: string[] = [];
  const whatIf: string[] = [];

  for (const clients of sizes) {
    const config: StormConfig = { clients, downMs, capacityPerSecond, seed };
    const runs = strategies.map((spec) => {
      const result = simulateStorm(config, spec);
      log(`storm N=${int(clients)} ${spec.id}: ${result.drainedAtMs === undefined ? 'not drained' : seconds(result.drainedAtMs)} (${result.elapsedMs.toFixed(0)} ms)`);
      return result;
    });
    results.push(...runs);
    const boundMs = runs[0]!.boundMs;

    // The x axis ends a little after the last jittered strategy drained: the synchronized
    // ones can take hours and would squash everything else into the left edge.
    const jittered = runs.filter((r) => !r.strategy.deterministic);
    const lastMs = Math.max(boundMs, ...jittered.map((r) => r.drainedAtMs ?? boundMs * 3));
    const xMaxSeconds = Math.ceil((lastMs * 1.08) / 1000 / 10) * 10;
    const file = resolve(outDir, `storm-${sizeName(clients)}.svg`);
    const svg = renderStormChart(runs, {
      title: `Reconnect storm: ${int(clients)} clients, server down ${downMs / 1000} s, then ${int(capacityPerSecond)} handshakes/s`,
      xMaxSeconds,
      capacityPerBucket: (capacityPerSecond * BUCKET_MS) / 1000,
      markers: [
        { atSeconds: downMs / 1000, label: 'server up' },
        { atSeconds: boundMs / 1000, label: 'bound N/C + D' },
      ],
    });
    writeFileSync(file, svg);
    chartFiles.push(file);
    const link = relative(BENCH_DIR, file).split('\\').join('/');

    sections.push(`### N = ${int(clients)}: bound N/C + D = ${seconds(boundMs)}

${TABLE_HEAD}
${runs.map(row).join('\n')}

![Attempts per 100 ms, N = ${int(clients)}](${link})
`);

    const byId = new Map(runs.map((r) => [r.strategy.id, r]));
    const verdict = (id: string, target: number): string => {
      const r = byId.get(id)!;
      const ratio = ratioOf(r);
      const met = ratio !== undefined && ratio <= target;
      return `${ratio === undefined ? 'not drained' : `${ratio.toFixed(2)}×`} (target ≤ ${target}×: **${met ? 'met' : 'missed'}**)`;
    };
    verdicts.push(
      `- N = ${int(clients)}: without hints (full jitter, the default) ${verdict('full', TARGET_WITHOUT_HINTS)}; with server hints ${verdict('full-hints', TARGET_WITH_HINTS)}.`,
    );

    if (!quick) {
      // What-if runs: a shorter maxDelay, the other server policy, and the previous rule
      // (every hint only a floor) for comparison. At a million clients only the rows that
      // differ from the smaller fleet's story, to keep the full run within a minute.
      const shorter = { ...base, maxDelay: 20_000 };
      const between = { ...base, maxDelay: 25_000 };
      const large = clients >= 500_000;
      const variants: { label: string; spec: StormStrategy }[] = [
        { label: 'full jitter + hints as a floor only (the previous rule)', spec: floorOnlyHintStrategy(base) },
        { label: 'full jitter, maxDelay 25 s', spec: { ...pick('full', between), id: 'full-25s' } },
        { label: 'full jitter + server hints, maxDelay 25 s', spec: { ...pick('full-hints', between), id: 'full-hints-25s' } },
        { label: 'full jitter, maxDelay 20 s', spec: { ...pick('full', shorter), id: 'full-20s' } },
        ...(large
          ? []
          : [
              { label: 'full jitter + server hints, maxDelay 20 s', spec: { ...pick('full-hints', shorter), id: 'full-hints-20s' } },
              { label: 'full jitter + hints as a floor only, maxDelay 20 s', spec: { ...floorOnlyHintStrategy(shorter), id: 'floor-20s' } },
            ]),
        { label: "full jitter + server hints, 'slots' server policy", spec: { ...pick('full-hints', base), id: 'full-hints-slots', hintPolicy: 'slots' } },
        { label: "full jitter + hints as a floor only, 'slots' server policy", spec: { ...floorOnlyHintStrategy(base), id: 'floor-slots', hintPolicy: 'slots' } },
      ];
      for (const { label, spec } of variants) {
        const result = simulateStorm(config, { ...spec, label });
        log(`storm N=${int(clients)} what-if ${spec.id}: ${result.drainedAtMs === undefined ? 'not drained' : seconds(result.drainedAtMs)} (${result.elapsedMs.toFixed(0)} ms)`);
        whatIf.push(`| ${int(clients)} | ${label} | ${result.drainedAtMs === undefined ? '–' : seconds(result.drainedAtMs)} | ${ratioOf(result)?.toFixed(2) ?? '–'}× | ${(result.attempts / clients).toFixed(2)} | ${int(result.rejected)} |`);
      }
    }
  }

  const mainN = sizes[0]!;
  const floorRatio = (downMs + base.maxDelay) / ((mainN / capacityPerSecond) * 1000 + downMs);
  const markdown = `## Scenario 7: reconnect storm (virtual time)

N clients lose their connection at t = 0. The server is down for D seconds (every attempt is
refused, with no hint: nothing is listening), then completes at most C handshakes per second,
C/10 per 100 ms window, first come first served; the attempts over that are rejected with a
503 and back off again. No schedule can reconnect everyone before **N/C + D** (the bound).
Each client's delays come from rxtether's own backoff functions (\`rxtether/operators\`),
on rxtether's defaults, combined with a server hint by the function \`retryWithJitteredBackoff\`
itself calls (\`delayWithHint\` in \`operators/backoff.ts\`: a \`Retry-After\` of 1 s or more is
the wait, plus a uniform draw in [0, 1 s); a shorter one is a floor). A discrete-event
simulator in virtual time (\`bench/storm/\`): a calendar queue of 1 ms slots in typed arrays,
a seeded PRNG, deterministic; clients whose strategy draws no randomness stay in lockstep and
are simulated as one group, which is exact.

| parameter | value |
| --- | --- |
| clients N | ${sizes.map(int).join(' and ')} |
| outage D | ${downMs / 1000} s |
| capacity C | ${int(capacityPerSecond)} handshakes/s (${int((capacityPerSecond * BUCKET_MS) / 1000)} per 100 ms): ${quick ? 'quick mode keeps the full run\'s N/C = 20 s at a tenth of the size' : 'one gateway node doing TLS, auth and subscription replay; 100,000 clients take 20 s, 1,000,000 take 200 s'} |
| client backoff | rxtether defaults: \`initialDelay\` ${base.initialDelay} ms, \`maxDelay\` ${base.maxDelay} ms, \`factor\` ${base.factor}; fixed interval = \`exponentialDelay\` with \`factor: 1\` (a 1 s \`retry({ delay })\`) |
| server hints | \`'queue'\` policy: a rejection carries \`Retry-After\` = a uniform draw in [0, pending/C) seconds, rounded up to whole seconds, at least 1 s, capped at 300 s; pending = connections held before the outage − accepted since (never below 0) |
| seed | ${seed} |
| command | \`npx tsx bench/storm/main.ts${quick ? ' --quick' : ''}\` (${((performance.now() - started) / 1000).toFixed(1)} s wall, ${(cpuSeconds(cpuStarted)).toFixed(1)} s CPU for this section) |
| machine | ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version} |

"attempts per client" counts every handshake attempt, the accepted one included. "peak once
up" is the busiest 100 ms after the server came back: those attempts cost it a handshake or a
503, while a refused attempt costs only a TCP reset.

${sections.join('\n')}
### Targets (issue 6)

${verdicts.join('\n')}

### Reading the results

- **Synchronized schedules never stop storming.** With a fixed interval or exponential backoff
  without jitter, every client that failed together retries in the same millisecond: each
  spike is all N clients, the server accepts one window's worth (C/10) and rejects the rest,
  so the drain takes N/(C/10) spikes. That is rule 5 of the design ("full jitter by default").
- **The jittered schedules drain close to the bound when N/C is large**, and the tail comes
  from \`maxDelay\`: a client refused just before the server came back, already at the 30 s cap,
  may wait up to 30 s more. Nothing the server says can shorten that (it was not listening),
  so every client-side schedule has a floor of about **(D + maxDelay) / bound**, ${floorRatio.toFixed(2)}× for N = ${int(mainN)}.
- **Server hints are the wait.** A hint of at least 1 s replaces the client's own draw
  (never shorter than the hint, plus a uniform draw in [0, 1 s), because \`Retry-After\` has
  whole-second resolution and clients told the same second would otherwise return in the same
  millisecond), so the clients the server turns away come back on its schedule rather than
  up to \`maxDelay\` later. A shorter hint stays a floor, so a server answering
  \`Retry-After: 0\` cannot stop the backoff. Used only as a floor (the previous rule, in the
  table below), hints cut the rejected attempts but barely the drain: a client's own draw, up
  to \`maxDelay\`, still won over any shorter hint.
${
  whatIf.length > 0
    ? `
### What would change it

| N | variant | all reconnected at | × bound | attempts per client | rejected |
| --- | --- | ---: | ---: | ---: | ---: |
${whatIf.join('\n')}

A shorter \`maxDelay\` shortens the outage tail at the price of more attempts against a server
that is still down or full (compare the rejected column with the main table; during a long
outage each client tries every \`maxDelay\`/2 on average).

The \`'slots'\` policy is a server that does not know its fleet: it books each rejected client
into the next free handshake slot. With the hint as the wait, bookings are kept and it works;
with hints only a floor, a client that returns after its slot is rejected and booked again,
the book runs ahead of the real queue, and everyone is told to wait too long.
`
    : ''
}`;
  return { markdown, chartFiles, results };
}
