// `npm run bench`: every scenario of issue 6, against the same stacks, on this machine, in one
// run, written to bench/RESULTS.md with the machine, the versions and a targets table.
//
//   npm run bench                                  # everything, a few minutes
//   npm run bench -- --quick                       # a smoke run: small N, 1 repetition
//   npm run bench -- --scenario 1,3 --stacks ws,rxtether-client --reps 3
//   npm run bench -- --scenario 1 --stacks rxtether-client --cpu-prof   # profiles in bench/.out/profiles/
//
// Scenarios: 1 push throughput, 2 round-trip latency, 3 send throughput, 4 idle memory,
// 5 reconnect time, 6 pipeline overhead (no network), 7 storm simulator (virtual time),
// 8 real storm on loopback, import (import time). Stacks: see bench/stacks.ts; raw ws always
// runs, since every ratio is to it.
//
// Processes: the server always runs in its own process (bench/server.ts), each stack's client
// in its own worker (bench/client.ts), scenario 6 in its own process (bench/pipeline.ts); this
// one only orchestrates and writes.
//
// rxtether is measured as users get it: at the start of every run (unless only scenario 7 is
// run), this process bundles the current sources with esbuild as tsup builds dist/ (no
// keepNames: tsx's `__name()` wrappers would add ~256 B and a call to every named closure) into
// bench/.out/rxtether-<pid>/, and the workers, scenario 6 and the import-time children import
// that bundle (bench/rxtether.ts). The competitors load from node_modules as they are. The
// bundle is deleted when the run ends.
//
// Only a full run writes bench/RESULTS.md by default; a quick or partial run writes
// bench/.out/RESULTS-quick.md or bench/.out/RESULTS-partial.md. The exit status is 1 when any
// stack delivered a wrong result (missing, duplicated or reordered messages, a failed
// connection), which the tables flag as WRONG.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fork } from 'node:child_process';
import { listFlag, numberFlag, readFlags } from './args.js';
import { Child, ServerProcess, withTimeout } from './processes.js';
import { type RxtetherBuild, buildRxtether } from './rxtether.js';
import { type Context, type SectionResult, scenarioIdle, scenarioImport, scenarioLatency, scenarioPush, scenarioReconnect, scenarioSend, scenarioStorm } from './scenarios.js';
import { OPT_IN, STACK_IDS, type StackId } from './stacks.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const SCENARIOS = ['1', '2', '3', '4', '5', '6', '7', '8', 'import'] as const;
type ScenarioId = (typeof SCENARIOS)[number];

interface Options {
  quick: boolean;
  scenarios: ScenarioId[];
  stacks: StackId[];
  reps: number | undefined;
  out: string;
  messages: number | undefined;
  cpuProf: boolean;
  verbose: boolean;
  args: string[];
}

function usage(message: string): never {
  console.error(`bench: ${message}
usage: tsx bench/run.ts [--quick] [--scenario ids] [--stacks ids] [--reps R] [--messages N] [--out FILE] [--cpu-prof] [--verbose]
  --quick          small N, 1 repetition: checks that everything works, times mean nothing
  --scenario ids   only these, comma-separated: ${SCENARIOS.join(', ')} (default: all)
  --stacks ids     only these stacks (raw ws always runs): ${STACK_IDS.join(', ')}
                   (${[...OPT_IN].map(([id, s]) => `${id}: only when listed here, scenarios ${s.join(', ')}`).join('; ')})
  --reps R         repetitions of every timed scenario (default: per scenario, 1 with --quick)
  --out FILE       where to write the markdown (default: bench/RESULTS.md for a full run,
                   bench/.out/RESULTS-quick.md or RESULTS-partial.md otherwise)
  --messages N     N of scenarios 1, 3 and 6 (default 200000, 200000 and 1000000)
  --cpu-prof       client workers run with --cpu-prof: bench/.out/profiles/<stack>-<n>/, one
                   .cpuprofile per thread, the largest is the main thread (open in Chrome
                   DevTools or speedscope)
  --verbose        print every run`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const flags = readFlags(
    argv,
    {
      quick: { type: 'boolean' },
      scenario: { type: 'string' },
      scenarios: { type: 'string' },
      stacks: { type: 'string' },
      reps: { type: 'string' },
      out: { type: 'string' },
      messages: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    usage,
  );
  const quick = flags.quick ?? false;
  const scenarios = listFlag('--scenario', flags.scenario ?? flags.scenarios, SCENARIOS, usage);
  const stacks = listFlag('--stacks', flags.stacks, STACK_IDS, usage);
  const reps = numberFlag('--reps', flags.reps, (n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer', usage);
  const out = flags.out;
  const messages = numberFlag('--messages', flags.messages, (n) => Number.isSafeInteger(n) && n >= 10, 'an integer ≥ 10', usage);
  const cpuProf = flags['cpu-prof'] ?? false;
  const verbose = flags.verbose ?? false;
  const partial = scenarios !== undefined || stacks !== undefined || reps !== undefined || messages !== undefined || cpuProf;
  const chosenStacks = stacks ? STACK_IDS.filter((id) => id === 'ws' || stacks!.includes(id)) : STACK_IDS.filter((id) => !OPT_IN.has(id));
  const chosenScenarios = scenarios ? SCENARIOS.filter((s) => scenarios!.includes(s)) : [...SCENARIOS];
  for (const id of chosenStacks) {
    const allowed = OPT_IN.get(id);
    const others = allowed ? chosenScenarios.filter((s) => !allowed.includes(s)) : [];
    if (others.length > 0) usage(`--stacks ${id} is only for scenarios ${allowed!.join(', ')} (give --scenario; not ${others.join(', ')})`);
  }
  return {
    quick,
    scenarios: chosenScenarios,
    stacks: chosenStacks,
    reps,
    out: resolve(out ?? (quick ? resolve(HERE, '.out/RESULTS-quick.md') : partial ? resolve(HERE, '.out/RESULTS-partial.md') : resolve(HERE, 'RESULTS.md'))),
    messages,
    cpuProf,
    verbose,
    args: argv,
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios run in other processes: 6 (pipeline) and 7 (storm simulator)

async function scenarioPipeline(opts: Options, rxtether: RxtetherBuild): Promise<SectionResult> {
  const args = [
    '--rxtether',
    rxtether.indexUrl,
    ...(opts.quick ? ['--quick'] : []),
    ...(opts.reps ? ['--reps', String(opts.reps)] : []),
    ...(opts.messages ? ['--messages', String(opts.messages)] : []),
    ...(opts.verbose ? ['--verbose'] : []),
  ];
  const execArgv = [...process.execArgv.filter((a) => a !== '--expose-gc'), '--expose-gc'];
  const child = fork(resolve(HERE, 'pipeline.ts'), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = new Promise<{ markdown: string; problems: string[] }>((res, rej) => {
    child.once('message', (m: { markdown: string; problems: string[] }) => res(m));
    child.once('exit', (code) => rej(new Error(`bench/pipeline.ts exited with ${String(code)} before reporting`)));
  });
  try {
    const { markdown, problems } = await withTimeout(result, 600_000, 'bench/pipeline.ts took over 10 minutes');
    return { markdown, problems: problems.map((p) => `scenario 6: ${p}`), figures: {} };
  } finally {
    child.kill('SIGKILL');
  }
}

interface StormRun {
  readonly markdown: string;
  readonly chartFiles: string[];
  readonly results?: readonly { strategy: { id: string }; config: { clients: number }; drainedAtMs?: number | undefined; boundMs: number }[];
}

async function scenarioStormSimulator(opts: Options, log: (line: string) => void): Promise<SectionResult> {
  let runStorm: ((options: { quick: boolean; outDir: string; log?: (line: string) => void }) => Promise<StormRun>) | undefined;
  try {
    ({ runStorm } = (await import(pathToFileURL(resolve(HERE, 'storm/index.ts')).href)) as { runStorm: typeof runStorm });
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { markdown: `## Scenario 7: reconnect storm (virtual time)\n\nNot run: bench/storm/index.ts could not be loaded (${why}).\n`, problems: [], figures: {} };
  }
  const outDir = opts.out === resolve(HERE, 'RESULTS.md') ? resolve(HERE, 'storm/results') : resolve(dirname(opts.out), 'storm');
  const report = await runStorm!({ quick: opts.quick, outDir, log: opts.verbose ? log : () => {} });
  log(`\nScenario 7: storm simulator, ${report.chartFiles.length} chart(s): ${report.chartFiles.map((f) => relative(ROOT, f)).join(', ')}`);
  // The targets, for every fleet size: drain time over the bound, full jitter with and without hints.
  const figures: Record<string, number | undefined> = {};
  for (const r of report.results ?? []) {
    if (r.strategy.id === 'full' || r.strategy.id === 'full-hints') {
      figures[`storm.${r.strategy.id}.${r.config.clients}`] = r.drainedAtMs === undefined ? Infinity : r.drainedAtMs / r.boundMs;
    }
  }
  return { markdown: report.markdown, problems: [], figures };
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 6), judged on this run's figures

interface Target {
  readonly what: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | undefined;
}

function targets(f: Readonly<Record<string, number | undefined>>): Target[] {
  const has = (k: string): boolean => f[k] !== undefined && !Number.isNaN(f[k]);
  const judge = (k: string, ok: (x: number) => boolean): boolean | undefined => (has(k) ? ok(f[k]!) : undefined);
  // A paired ratio: its median, which the verdict uses, and its min–max over repetitions when reported.
  const x = (k: string): string =>
    has(k) ? `${f[k]!.toFixed(2)}×${has(`${k}.min`) && has(`${k}.max`) ? ` (${f[`${k}.min`]!.toFixed(2)}–${f[`${k}.max`]!.toFixed(2)}×)` : ''}` : 'not measured';
  // Scenario 7 reports one ratio per fleet size: the target is met when every size meets it.
  const storm = (id: string, what: string, goal: number): Target => {
    const sizes = Object.keys(f)
      .filter((k) => k.startsWith(`storm.${id}.`))
      .map((k) => Number(k.slice(`storm.${id}.`.length)))
      .sort((a, b) => a - b);
    const ratios = sizes.map((n) => f[`storm.${id}.${n}`]!);
    return {
      what: `storm drain, ${what}, vs the bound N/C + D (scenario 7)`,
      target: `≤ ${goal}×`,
      value: sizes.length ? sizes.map((n, i) => `N = ${n.toLocaleString('en-US')}: ${Number.isFinite(ratios[i]) ? `${ratios[i]!.toFixed(2)}×` : 'not drained'}`).join(', ') : 'not measured',
      met: sizes.length ? ratios.every((r) => r <= goal) : undefined,
    };
  };
  const list: Target[] = [
    {
      what: 'receive: full client, 10 channel subscribers, CPU per message vs raw ws (scenario 1)',
      target: '≤ 1.10×',
      value: `${x('receive.client')}${has('receive.rxjs-share10') ? ` (rxjs webSocket + share() + 10 filters: ${x('receive.rxjs-share10')})` : ''}`,
      met: judge('receive.client', (v) => v <= 1.1),
    },
    {
      what: 'send: full client throughput vs raw ws naive send (scenario 3)',
      target: '≥ 2.5×',
      value: `${x('send.client')}${has('send.connect') ? ` (bare connect: ${x('send.connect')})` : ''}`,
      met: judge('send.client', (v) => v >= 2.5),
    },
    {
      what: 'idle heap per connection: bare connect vs raw ws (scenario 4)',
      target: '≤ 1.3×',
      value: `${x('idle.connect')}${has('idle.ws') ? ` (raw ws: ${Math.round(f['idle.ws']!).toLocaleString('en-US')} B)` : ''}`,
      met: judge('idle.connect', (v) => v <= 1.3),
    },
    {
      what: 'idle heap per connection: full client with one channel (scenario 4)',
      target: '≤ 6 KB (6,144 B)',
      value: has('idle.client') ? `${Math.round(f['idle.client']!).toLocaleString('en-US')} B` : 'not measured',
      met: judge('idle.client', (v) => v <= 6144),
    },
    {
      what: 'reconnect: listening → open and 10 channels replayed, full client, minimum delays, p50 (scenario 5)',
      target: '≤ 10 ms',
      value: has('reconnect.client') ? `${f['reconnect.client']!.toFixed(1)} ms${has('reconnect.connect') ? ` (bare connect: ${f['reconnect.connect']!.toFixed(1)} ms)` : ''}` : 'not measured',
      met: judge('reconnect.client', (v) => v <= 10),
    },
    {
      what: `reconnect: the default config does not spin while the server is down: most connection attempts in a ${f['outage.seconds'] ?? '–'} s outage (scenario 5)`,
      target: '≤ 10 (a spinning client makes hundreds)',
      value: has('outage.client') ? `full client ${f['outage.client']}${has('outage.connect') ? `, bare connect + retryWithJitteredBackoff() ${f['outage.connect']}` : ''}` : 'not measured',
      met: has('outage.client') ? f['outage.client']! <= 10 && (!has('outage.connect') || f['outage.connect']! <= 10) : undefined,
    },
    storm('full-hints', 'full jitter with server hints', 1.3),
    storm('full', 'full jitter without hints (the default)', 1.6),
    {
      what: "`import('rxtether')` over importing rxjs alone (fresh processes)",
      target: '≤ 10 ms',
      value: has('import.added')
        ? `${f['import.added']!.toFixed(1)} ms${has('import.added.min') && has('import.added.max') ? ` (${f['import.added.min']!.toFixed(1)}–${f['import.added.max']!.toFixed(1)} ms)` : ''}, median of paired per-round differences`
        : 'not measured',
      met: judge('import.added', (v) => v <= 10),
    },
  ];
  return list;
}

// ---------------------------------------------------------------------------------------------
// Machine and versions

function version(pkg: string): string {
  try {
    const require = createRequire(resolve(ROOT, 'package.json'));
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    try {
      return (JSON.parse(readFileSync(resolve(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  }
}

function gitDescribe(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'operators'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return `${commit}${dirty ? ' + uncommitted changes in src/ or operators/' : ''}`;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const loadBefore = os.loadavg();
  const log = (line: string): void => console.log(line);
  if (loadBefore[0]! > os.cpus().length / 2) {
    console.warn(`bench: load average ${loadBefore[0]!.toFixed(1)} on ${os.cpus().length} cores: other work is running, timings will be noisy`);
  }
  console.log(
    `rxtether benchmarks${opts.quick ? ' (quick: a smoke run, the figures mean nothing)' : ''}: scenarios ${opts.scenarios.join(', ')}; stacks ${opts.stacks.join(', ')}`,
  );

  // rxtether as users get it: built once from the current sources, for every process that runs it.
  let rxtether: RxtetherBuild | undefined;
  if (opts.scenarios.some((s) => s !== '7')) {
    rxtether = await buildRxtether();
    process.on('exit', () => rxtether?.remove());
    console.log(`rxtether: ${rxtether.description}, into ${rxtether.shown}/; the other stacks from node_modules`);
  }
  const rxtetherUrl = (): string => {
    if (!rxtether) throw new Error('bench: the rxtether bundle was not built');
    return rxtether.indexUrl;
  };

  let workers: Promise<Map<StackId, Child>> | undefined;
  let server: Promise<{ server: ServerProcess; port: number }> | undefined;
  const profiles = resolve(HERE, '.out/profiles');
  if (opts.cpuProf) mkdirSync(profiles, { recursive: true });
  let profileCount = 0;
  const startClient = (id: StackId, name: string): Promise<Child> =>
    Child.start(name, 'client.ts', [id, rxtetherUrl()], {
      gc: true,
      // One directory per worker: each thread (tsx's loader runs in its own) writes a profile.
      execArgv: opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profiles, `${id}-${++profileCount}`)}`] : [],
    });
  const ctx: Context = {
    quick: opts.quick,
    reps: opts.reps,
    messages: opts.messages,
    stacks: opts.stacks,
    verbose: opts.verbose,
    log,
    rxtetherUrl,
    startClient,
    workers: () =>
      (workers ??= (async () => {
        const map = new Map<StackId, Child>();
        for (const id of opts.stacks) map.set(id, await startClient(id, `client ${id}`));
        return map;
      })()),
    server: () =>
      (server ??= (async () => {
        const s = await ServerProcess.start('server');
        return { server: s, port: await s.listen(0) };
      })()),
  };

  const sections: string[] = [];
  const problems: string[] = [];
  const figures: Record<string, number | undefined> = {};
  const durations: string[] = [];
  const runners: Record<ScenarioId, () => Promise<SectionResult>> = {
    '1': () => scenarioPush(ctx),
    '2': () => scenarioLatency(ctx),
    '3': () => scenarioSend(ctx),
    '4': () => scenarioIdle(ctx),
    '5': () => scenarioReconnect(ctx),
    '6': () => scenarioPipeline(opts, rxtether!),
    '7': () => scenarioStormSimulator(opts, log),
    '8': () => scenarioStorm(ctx),
    import: () => scenarioImport(ctx),
  };
  try {
    for (const id of opts.scenarios) {
      const t0 = performance.now();
      console.log(`\n— scenario ${id} …`);
      try {
        const result = await runners[id]();
        sections.push(result.markdown);
        problems.push(...result.problems);
        Object.assign(figures, result.figures);
      } catch (e) {
        const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
        problems.push(`scenario ${id} failed: ${message.split('\n')[0]}`);
        sections.push(`## Scenario ${id}\n\nFailed: ${message.split('\n')[0]}\n`);
        console.error(message);
      }
      durations.push(`${id}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    for (const w of (await workers?.catch(() => undefined))?.values() ?? []) await w.stop();
    await (await server?.catch(() => undefined))?.server.kill();
    rxtether?.remove();
  }

  const seconds = (performance.now() - started) / 1000;
  const loadAfter = os.loadavg();
  const cpus = os.cpus();
  const command = `npm run bench${opts.args.length ? ` -- ${opts.args.join(' ')}` : ''}`;
  const targetRows = targets(figures);
  const verdict = (m: boolean | undefined): string => (m === undefined ? 'not measured' : m ? 'met' : '**missed**');
  const targetTable = [
    '| target (issue 6) | goal | measured | |',
    '| --- | ---: | ---: | --- |',
    ...targetRows.map((t) => `| ${t.what} | ${t.target} | ${t.value} | ${verdict(t.met)} |`),
  ].join('\n');
  console.log(`\nTargets:\n${targetRows.map((t) => `  ${verdict(t.met).replaceAll('*', '').padEnd(12)} ${t.value.padEnd(14)} ${t.target.padEnd(10)} ${t.what}`).join('\n')}`);

  const md = `# rxtether benchmarks

Issue 6: rxtether against what a user would pick instead, on the same machine in the same run.
Generated by \`${command}\` (\`bench/run.ts\`); numbers vary between machines and runs, ratios to
raw \`ws\` from the same run much less. ${opts.quick ? '**Quick mode: a smoke run with tiny N and one repetition; these figures mean nothing.**' : ''}

| | |
| --- | --- |
| machine | ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} cores, ${os.platform()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM |
| load average (1 min) | ${loadBefore[0]!.toFixed(2)} at the start, ${loadAfter[0]!.toFixed(2)} at the end |
| runtime | Node ${process.version} |
| rxtether loaded as | ${rxtether ? `${rxtether.description}; imported by every rxtether client worker, scenario 6 and the import-time processes. The other stacks load from node_modules as they are` : 'no bundle built: only scenario 7 ran (virtual time, nothing timed; it imports rxtether/operators from the sources through tsx)'} |
| versions | rxtether ${version('rxtether')} (${gitDescribe()}), rxjs ${version('rxjs')}, ws ${version('ws')}, reconnecting-websocket ${version('reconnecting-websocket')}, partysocket ${version('partysocket')} |
| date | ${new Date().toISOString()} |
| scenarios | ${opts.scenarios.join(', ')} (${durations.join(', ')}); ${seconds.toFixed(0)} s in total |

Stacks, all with \`ws\` ${version('ws')} as the WebSocket implementation (\`bench/stacks.ts\`):

- **raw ws**: \`new WebSocket(url)\`, \`ws.on('message', (data) => JSON.parse(data.toString()))\`, \`ws.send(JSON.stringify(m))\`: the floor;
- **rxjs webSocket()**: \`webSocket({ url, WebSocketCtor: WebSocket })\`, one subscriber;
- **rxjs webSocket() + share(), 10 filters**: the same subject, \`share()\`, ten subscribers each \`filter\`ing one channel;
- **reconnecting-websocket** and **partysocket** (\`partysocket/ws\`): \`{ WebSocket }\` option, \`addEventListener('message')\`;
- **rxtether connect()**: \`connect({ url, WebSocketCtor })\`, sending through \`outgoing\`;
- **rxtether createSocket, 10 channels**: \`createSocket\` with heartbeat (15 s / 45 s), connection-wide resume (\`seq\`, \`isNextInSequence\`), default backoff, \`share\` inside, ten \`channel()\` subscribers (one per channel key) routed by \`channelKeyOf: (m) => m.channel\`, sending with \`socket.send\`.${opts.stacks.includes('fused') ? `
- **hand-fused floor (no library)**: not a stack an application would pick, only when asked for: the full client's work per received message as one function on raw \`ws\` (decode, one \`Date.now()\`, the resume sequence checks, routing by channel key, an rxjs \`Subject\` per channel), without a reconnect loop, timers, status or outbox: how close fusing rxtether's stages could get at best.` : ''}

The server is always another process (\`bench/server.ts\`, a minimal hand-written RFC 6455
server on 127.0.0.1 so that it costs less per message than any client); each stack's client
runs in its own worker process (\`bench/client.ts\`), and the runner interleaves the stacks
within each repetition, a different one first each time.

## Targets

${targetTable}

Ratio targets are judged on the median of the per-repetition paired ratios; the range in
parentheses is their min–max over repetitions. The import target is judged on the median of the
per-round paired differences (min–max in parentheses).

${sections.join('\n')}
${problems.length ? `## Problems\n\n${problems.map((p) => `- ${p}`).join('\n')}\n` : ''}`;
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, md);
  console.log(`\nwrote ${relative(ROOT, opts.out) || opts.out} (${seconds.toFixed(0)} s)`);
  if (opts.cpuProf) console.log(`CPU profiles of the client workers: ${relative(ROOT, profiles)}/`);
  if (problems.length) {
    console.error(`\nWRONG: ${problems.length} problem(s):`);
    for (const p of problems.slice(0, 30)) console.error(`  ${p}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
