// Scenario 6: pipeline overhead with no network. How many ns per message each rxtether layer
// adds on top of what any client must do (JSON.parse each frame), measured with an in-memory
// socket (bench/fakeSocket.ts).
//
// The runner (bench/run.ts) forks this file with --expose-gc and receives its section of
// RESULTS.md over IPC:
//
//   npm run bench -- --scenario 6                   # N = 1,000,000 messages, R = 5 repetitions
//   npm run bench -- --scenario 6 --quick           # N = 20,000, R = 1 (a smoke run)
//
// Run on its own, it prints its table and writes nothing:
//   node --expose-gc --import tsx bench/pipeline.ts --messages 200000 --reps 3 --layers baseline,resume
//
// rxtether is the runner's bundle of the current sources (`--rxtether <file URL>`, see
// bench/rxtether.ts), built as dist is: no tsx `__name()` wrappers in the measured code. Run
// alone without `--rxtether`, this file builds such a bundle itself (and deletes it after).
//
// Every run checks that each subscriber received exactly the messages it should, in order;
// a wrong run is flagged in the table and reported to the runner as a problem.
import { type Observable, Subscription, filter, share } from 'rxjs';
import { FakeSocket } from './fakeSocket.js';
import { listFlag, numberFlag, readFlags } from './args.js';
import { type Rxtether, type RxtetherBuild, buildRxtether, importRxtether } from './rxtether.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  messages: number;
  reps: number;
  layers: string[] | undefined;
  verbose: boolean;
  rxtether: string | undefined;
}

function usage(message: string): never {
  console.error(`bench pipeline: ${message}
usage: node --expose-gc --import tsx bench/pipeline.ts [--quick] [--messages N] [--reps R] [--layers id,id,...] [--rxtether URL] [--verbose]
  --quick        N = 20000, R = 1
  --messages N   messages per timed run (default 1000000)
  --reps R       measured repetitions per layer (default 5), after one warm-up round
  --layers ids   only these layers (${LAYER_IDS.join(', ')})
  --rxtether URL file: URL of the runner's rxtether bundle (default: build one, bench/rxtether.ts)
  --verbose      print every timed run`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const flags = readFlags(
    argv,
    {
      quick: { type: 'boolean' },
      messages: { type: 'string' },
      reps: { type: 'string' },
      layers: { type: 'string' },
      rxtether: { type: 'string' },
      verbose: { type: 'boolean' },
    },
    usage,
  );
  const positiveInt = (n: number): boolean => Number.isSafeInteger(n) && n >= 1;
  const quick = flags.quick ?? false;
  const messages = numberFlag('--messages', flags.messages, positiveInt, 'a positive integer', usage);
  const reps = numberFlag('--reps', flags.reps, positiveInt, 'a positive integer', usage);
  const layers = listFlag('--layers', flags.layers, LAYER_IDS, usage);
  const verbose = flags.verbose ?? false;
  const rxtether = flags.rxtether;
  return {
    messages: messages ?? (quick ? 20_000 : 1_000_000),
    reps: reps ?? (quick ? 1 : 5),
    layers,
    verbose,
    rxtether,
  };
}

// ---------------------------------------------------------------------------------------------
// Frames: {"seq":n,"topic":"t<n mod 10>","price":…} ≈ 100 bytes, deterministic.

interface Tick {
  readonly seq: number;
  readonly topic: string;
  readonly price: number;
  readonly size: number;
  readonly side: string;
  readonly ts: number;
  readonly venue: string;
}

const TOPICS = 10;

function makeFrames(n: number): string[] {
  const frames = new Array<string>(n);
  let x = 0x2545f491; // xorshift32 state: same frames on every run
  for (let seq = 1; seq <= n; seq++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = x >>> 0;
    // JSON.stringify yields flat strings: JSON.parse never has to flatten a rope first.
    frames[seq - 1] = JSON.stringify({
      seq,
      topic: `t${seq % TOPICS}`,
      price: 100 + (r % 100_000) / 1000,
      size: 100 * (1 + (r % 50)),
      side: r & 1 ? 'buy' : 'sell',
      ts: 1_700_000_000_000 + seq,
      venue: 'XNAS',
    });
  }
  return frames;
}

/** How many of seq 1..n have seq % TOPICS === topic. */
function topicCount(n: number, topic: number): number {
  const first = topic === 0 ? TOPICS : topic;
  return n >= first ? Math.floor((n - first) / TOPICS) + 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Sinks: count and check order, identically in every layer.

class Sink {
  count = 0;
  private expected: number;
  firstBad: string | undefined;
  constructor(
    readonly name: string,
    first: number,
    private readonly step: number,
    readonly expectedCount: number,
  ) {
    this.expected = first;
  }
  readonly next = (m: Tick): void => {
    if (m.seq !== this.expected && this.firstBad === undefined) {
      this.firstBad = `${this.name}: message #${this.count} has seq ${m.seq}, expected ${this.expected}`;
    }
    this.expected += this.step;
    this.count++;
  };
  problem(): string | undefined {
    if (this.firstBad !== undefined) return this.firstBad;
    if (this.count !== this.expectedCount) return `${this.name}: received ${this.count} messages, expected ${this.expectedCount}`;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Layers

interface Started {
  readonly sinks: readonly Sink[];
  stop(): void;
}

interface Layer {
  readonly id: string;
  readonly label: string;
  /** Whether unsubscribing must close the socket (every layer built on connect()). */
  readonly usesConnect: boolean;
  start(socket: FakeSocket, n: number, report: (problem: string) => void): Started;
}

const URL_ = 'ws://bench.invalid/feed';

/** The rxtether bundle, loaded by main() before any layer starts. */
let rx: Rxtether;

function source(socket: FakeSocket, depth: number): Observable<Tick> {
  const { connect, createResumeCursor, heartbeatTimeout, isNextInSequence, resumeFrom, retryWithJitteredBackoff } = rx;
  let created = false;
  let o = connect<Tick>({
    url: URL_,
    socketFactory: () => {
      if (created) throw new Error('bench: the pipeline asked for a second socket (it reconnected)');
      created = true;
      return socket;
    },
    onDecodeError: 'error',
  });
  if (depth >= 3) o = o.pipe(heartbeatTimeout({ timeout: 60_000 }));
  if (depth >= 4) {
    o = o.pipe(resumeFrom(createResumeCursor({ cursorOf: (m: Tick) => m.seq, isNext: isNextInSequence })));
  }
  if (depth >= 5) o = o.pipe(retryWithJitteredBackoff());
  return o;
}

function single(depth: number) {
  return (socket: FakeSocket, n: number, report: (problem: string) => void): Started => {
    const sink = new Sink('subscriber', 1, 1, n);
    const sub = source(socket, depth).subscribe({
      next: sink.next,
      error: (e: unknown) => report(`error: ${String(e)}`),
      complete: () => report('completed'),
    });
    return { sinks: [sink], stop: () => sub.unsubscribe() };
  };
}

const LAYERS: readonly Layer[] = [
  {
    id: 'baseline',
    label: 'baseline: JSON.parse + counter',
    usesConnect: false,
    start(socket, n) {
      const sink = new Sink('subscriber', 1, 1, n);
      const next = sink.next;
      socket.onmessage = (event) => next(JSON.parse(event.data as string) as Tick);
      return { sinks: [sink], stop: () => socket.close() };
    },
  },
  { id: 'connect', label: 'connect()', usesConnect: true, start: single(2) },
  { id: 'heartbeat', label: '+ heartbeatTimeout', usesConnect: true, start: single(3) },
  { id: 'resume', label: '+ resumeFrom(cursor)', usesConnect: true, start: single(4) },
  { id: 'retry', label: '+ retryWithJitteredBackoff', usesConnect: true, start: single(5) },
  {
    id: 'share10',
    label: '+ share(), 10 × filter(topic)',
    usesConnect: true,
    start(socket, n, report) {
      const shared = source(socket, 5).pipe(share());
      const subs = new Subscription();
      const sinks: Sink[] = [];
      for (let k = 0; k < TOPICS; k++) {
        const topic = `t${k}`;
        const sink = new Sink(`subscriber ${topic}`, k === 0 ? TOPICS : k, TOPICS, topicCount(n, k));
        sinks.push(sink);
        subs.add(
          shared.pipe(filter((m) => m.topic === topic)).subscribe({
            next: sink.next,
            error: (e: unknown) => report(`${topic} error: ${String(e)}`),
            complete: () => report(`${topic} completed`),
          }),
        );
      }
      return { sinks, stop: () => subs.unsubscribe() };
    },
  },
];
const LAYER_IDS = LAYERS.map((l) => l.id);

// ---------------------------------------------------------------------------------------------
// Measurement

const gc = (globalThis as { gc?: () => void }).gc;

function fullGc(): void {
  gc!();
  gc!();
}

/** Messages pushed into one pipeline before switching to the next one. */
const CHUNK = 10_000;

interface Running {
  readonly layer: Layer;
  readonly socket: FakeSocket;
  readonly started: Started;
  readonly problems: string[];
  ns: bigint;
  delivered: number;
}

/**
 * One repetition: every layer gets its own socket and subscription and receives all of
 * `frames`, in order. The frames are pushed CHUNK at a time, round-robin over the layers
 * (starting with a different layer each chunk), so that a noisy neighbour or a slow phase of
 * the machine, which lasts seconds, costs every layer alike. Returns ns/msg per layer.
 */
async function runRound(layers: readonly Layer[], frames: readonly string[]): Promise<Map<Layer, { nsPerMsg: number; problems: string[] }>> {
  const running: Running[] = layers.map((layer) => {
    const problems: string[] = [];
    const socket = new FakeSocket();
    const started = layer.start(socket, frames.length, (p) => problems.push(p));
    return { layer, socket, started, problems, ns: 0n, delivered: 0 };
  });
  await Promise.all(running.map((r) => r.socket.opened));
  for (const r of running) if (r.socket.onmessage === null) r.problems.push('no message handler after open');
  fullGc();
  let turn = 0;
  for (let from = 0; from < frames.length; from += CHUNK) {
    const to = Math.min(frames.length, from + CHUNK);
    for (let i = 0; i < running.length; i++) {
      const r = running[(i + turn) % running.length]!;
      const t0 = process.hrtime.bigint();
      const delivered = r.socket.push(frames, from, to);
      r.ns += process.hrtime.bigint() - t0;
      r.delivered += delivered;
    }
    turn++;
  }
  const results = new Map<Layer, { nsPerMsg: number; problems: string[] }>();
  for (const r of running) {
    const { layer, socket, started, problems } = r;
    started.stop();
    if (r.delivered !== frames.length) problems.push(`the socket delivered ${r.delivered} of ${frames.length} frames`);
    for (const sink of started.sinks) {
      const p = sink.problem();
      if (p !== undefined) problems.push(p);
    }
    if (layer.usesConnect) {
      if (socket.closeCode !== 1000) problems.push(`unsubscribe closed the socket with ${String(socket.closeCode)}, expected 1000`);
      if (socket.onmessage !== null) problems.push('the message handler is still attached after unsubscribe');
    }
    results.set(layer, { nsPerMsg: Number(r.ns) / frames.length, problems });
  }
  return results;
}

interface MemoryResult {
  readonly before: number;
  readonly open: number;
  readonly half: number;
  readonly held: number;
  readonly after: number;
  readonly messages: number;
  readonly problems: string[];
}

/** Heap after GC around one full-pipeline subscription that stays subscribed through N messages. */
async function measureMemory(layer: Layer, frames: readonly string[]): Promise<MemoryResult> {
  const problems: string[] = [];
  fullGc();
  const before = process.memoryUsage().heapUsed;
  const socket = new FakeSocket();
  const started = layer.start(socket, frames.length, (p) => problems.push(p));
  await socket.opened;
  fullGc();
  const open = process.memoryUsage().heapUsed;
  const halfway = frames.length >> 1;
  let delivered = socket.push(frames, 0, halfway);
  fullGc();
  const half = process.memoryUsage().heapUsed;
  delivered += socket.push(frames, halfway);
  fullGc();
  const held = process.memoryUsage().heapUsed; // still subscribed
  started.stop();
  await new Promise((r) => setImmediate(r));
  fullGc();
  const after = process.memoryUsage().heapUsed;
  if (delivered !== frames.length) problems.push(`the socket delivered ${delivered} of ${frames.length} frames`);
  for (const sink of started.sinks) {
    const p = sink.problem();
    if (p !== undefined) problems.push(p);
  }
  return { before, open, half, held, after, messages: frames.length, problems };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Row {
  readonly layer: Layer;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly added: number | undefined;
  readonly ratio: number | undefined;
  readonly problems: readonly string[];
}

const f1 = (x: number): string => x.toFixed(1);
const signed = (x: number | undefined): string => (x === undefined ? '–' : `${x >= 0 ? '+' : '−'}${f1(Math.abs(x))}`);
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const signedBytes = (bytes: number): string => `${bytes >= 0 ? '+' : '−'}${kib(Math.abs(bytes))}`;

function cells(r: Row): string[] {
  return [
    r.layer.label,
    f1(r.median),
    `${f1(r.min)}–${f1(r.max)}`,
    signed(r.added),
    r.ratio === undefined ? '–' : `${r.ratio.toFixed(2)}×`,
    r.problems.length === 0 ? 'ok' : 'WRONG',
  ];
}

const HEADERS = ['layer', 'median ns/msg', 'min–max', 'added vs previous', '× baseline', 'check'];

function textTable(rows: readonly string[][]): string {
  const all = [HEADERS, ...rows];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(rows: readonly string[][]): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(HEADERS), `|${HEADERS.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!gc) usage('run with --expose-gc');
  let ownBuild: RxtetherBuild | undefined;
  if (opts.rxtether === undefined) {
    ownBuild = await buildRxtether();
    console.log(`rxtether: ${ownBuild.description}`);
  }
  try {
    rx = await importRxtether(opts.rxtether ?? ownBuild!.indexUrl);
  } finally {
    ownBuild?.remove();
  }
  const layers = opts.layers ? LAYERS.filter((l) => opts.layers!.includes(l.id)) : LAYERS;
  const n = opts.messages;
  const started = performance.now();

  const frames = makeFrames(n);
  const avgBytes = frames.reduce((sum, f) => sum + f.length, 0) / n;
  const warmFrames = frames.slice(0, Math.min(n, 100_000));
  console.log(
    `rxtether pipeline overhead, no network: N = ${n.toLocaleString('en-US')} messages (${avgBytes.toFixed(1)} bytes avg), ` +
      `R = ${opts.reps} (+1 warm-up of ${warmFrames.length.toLocaleString('en-US')})`,
  );
  console.log(`example frame: ${frames[0]}`);

  const problems = new Map<string, string[]>(layers.map((l) => [l.id, []]));
  const times = new Map<string, number[]>(layers.map((l) => [l.id, []]));
  const round = async (what: string, input: readonly string[]): Promise<void> => {
    const results = await runRound(layers, input);
    for (const layer of layers) {
      const result = results.get(layer)!;
      for (const p of result.problems) problems.get(layer.id)!.push(`${what}: ${p}`);
      if (what === 'warm-up') continue;
      times.get(layer.id)!.push(result.nsPerMsg);
      if (opts.verbose) console.log(`  ${what} ${layer.id.padEnd(9)} ${f1(result.nsPerMsg).padStart(7)} ns/msg`);
    }
  };

  // Warm-up: every layer once, so the shared rxjs code has seen every layer's shapes.
  await round('warm-up', warmFrames);
  for (let r = 0; r < opts.reps; r++) await round(`rep ${r + 1}`, frames);

  const full = layers.at(-1)!;
  const memory = await measureMemory(full, frames);
  const seconds = (performance.now() - started) / 1000;

  // "added" and "× baseline" pair the layers within each repetition (they ran interleaved),
  // then take the median over repetitions: steadier than comparing medians.
  const baseline = layers[0]?.id === 'baseline' ? times.get('baseline')! : undefined;
  const rows: Row[] = [];
  for (const [k, layer] of layers.entries()) {
    const t = times.get(layer.id)!;
    const prev = k > 0 ? times.get(layers[k - 1]!.id)! : undefined;
    rows.push({
      layer,
      median: median(t),
      min: Math.min(...t),
      max: Math.max(...t),
      added: prev === undefined ? undefined : median(t.map((x, r) => x - prev[r]!)),
      ratio: baseline === undefined ? undefined : median(t.map((x, r) => x / baseline[r]!)),
      problems: problems.get(layer.id)!,
    });
  }
  const table = rows.map(cells);
  const secondHalf = memory.messages - (memory.messages >> 1);
  const memoryLines = [
    `heap used after GC, one "${full.label}" subscription (the ${n.toLocaleString('en-US')} frames are alive throughout):`,
    `  before subscribe             ${mib(memory.before)}`,
    `  open, 0 messages             ${mib(memory.open)}  ${signedBytes(memory.open - memory.before)}  the subscription itself`,
    `  after N/2 messages, held     ${mib(memory.half)}  ${signedBytes(memory.half - memory.open)}`,
    `  after N messages, held       ${mib(memory.held)}  ${signedBytes(memory.held - memory.half)}  → ${((memory.held - memory.half) / secondHalf).toFixed(4)} bytes retained per message over the second half`,
    `                                          (${((memory.held - memory.open) / memory.messages).toFixed(4)} bytes per message over all N, one-time JIT code included)`,
    `  after unsubscribe            ${mib(memory.after)}  ${signedBytes(memory.after - memory.before)} vs before subscribe`,
  ];
  const allProblems = [
    ...rows.flatMap((r) => r.problems.map((p) => `${r.layer.id}: ${p}`)),
    ...memory.problems.map((p) => `memory run: ${p}`),
  ];

  console.log();
  console.log(textTable(table));
  console.log();
  console.log(memoryLines.join('\n'));
  console.log(`\n${seconds.toFixed(1)} s in total`);

  const md = `## Scenario 6: pipeline overhead, no network

The cost of each rxtether layer per message, with an in-memory socket (\`bench/fakeSocket.ts\`)
instead of a network: ${n.toLocaleString('en-US')} messages per run, ${avgBytes.toFixed(1)} bytes each on
average, ${opts.reps} measured repetition(s) after 1 warm-up round of ${warmFrames.length.toLocaleString('en-US')}
messages per layer, ${seconds.toFixed(1)} s. Run alone: \`npm run bench -- --scenario 6\`.

Example frame: \`${frames[0]}\`

${markdownTable(table)}

ns/msg is the time spent in the socket's \`onmessage\` calls for all N frames, divided by
N (median of R repetitions, min–max alongside). "added vs previous" and "× baseline" compare
layers within the same repetition (they ran interleaved, see below), then take the median
over repetitions. Each layer adds one stage to the previous one:

1. **baseline**: the fake socket's loop with \`onmessage\` set to \`JSON.parse\` and the
   order-checking counter; what any client must do.
2. **connect()**: \`connect({ url, socketFactory })\` returning the fake socket (decode + emit).
3. **+ heartbeatTimeout**: \`heartbeatTimeout({ timeout: 60_000 })\`.
4. **+ resumeFrom**: \`resumeFrom(createResumeCursor({ cursorOf: (m) => m.seq, isNext: isNextInSequence }))\`.
5. **+ retryWithJitteredBackoff**: \`retryWithJitteredBackoff()\` with its defaults.
6. **+ share()**: \`share()\` and 10 subscribers, each \`filter\`ing one of 10 topics.

Every run (warm-up included) checks that each subscriber received exactly the messages it
should, in order, that unsubscribing closed the socket with 1000 and detached its handler;
a wrong run shows as WRONG and counts as a problem of the whole run.

Within a repetition all layers are subscribed at once, each to its own fake socket, and the
N frames are pushed ${CHUNK.toLocaleString('en-US')} at a time, round-robin over the layers (a
different layer first each chunk). A slow phase of the machine (a noisy neighbour on a
shared VM lasts seconds) then costs every layer alike, so the differences between layers
are far steadier than the absolute numbers. One full GC runs before each repetition; GC
during it (scavenges of the parsed messages) is counted in the layer that triggered it.

Heap:

\`\`\`
${memoryLines.join('\n')}
\`\`\`
${allProblems.length ? `\nProblems:\n\n${allProblems.map((p) => `- ${p}`).join('\n')}\n` : ''}`;
  if (allProblems.length) {
    console.error(`\nWRONG: ${allProblems.length} problem(s):`);
    for (const p of allProblems.slice(0, 20)) console.error(`  ${p}`);
  }
  // Forked by the runner: hand it the section; run alone: the table above is the output.
  if (process.send) {
    await new Promise<void>((res) => process.send!({ markdown: md, problems: allProblems }, () => res()));
    process.disconnect();
  } else if (allProblems.length) {
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
