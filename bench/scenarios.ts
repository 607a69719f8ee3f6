// The runner's side of scenarios 1–5 and 8 and of the import-time measurement: it starts the
// server and client processes, interleaves the stacks within each repetition, and turns the
// replies into a RESULTS.md section, a console table and the figures the targets table needs.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Child, ServerProcess, type SubscribedReport } from './processes.js';
import { type Table, bytes, fmt, markdownTable, median, pairedDifferences, pairedRatios, ratioSpread, rotate, spread, textTable } from './report.js';
import { BUILT_IN_RECONNECT, STACK_LABELS, type StackId } from './stacks.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

export interface Context {
  readonly quick: boolean;
  /** Repetitions given on the command line; each scenario has its own default. */
  readonly reps: number | undefined;
  readonly stacks: readonly StackId[];
  readonly verbose: boolean;
  readonly log: (line: string) => void;
  /** Overrides N of scenarios 1 and 3 (`--messages`). */
  readonly messages: number | undefined;
  /** `file:` URL of the rxtether bundle built for this run (bench/rxtether.ts). */
  rxtetherUrl(): string;
  /** Starts a client worker for one stack (with `--expose-gc`, and `--cpu-prof` if asked). */
  startClient(id: StackId, name: string): Promise<Child>;
  /** One persistent worker per stack (started on first use), shared by scenarios 1, 2, 3 and 5. */
  workers(): Promise<ReadonlyMap<StackId, Child>>;
  /** The steady-state server of scenarios 1–4 (started on first use). */
  server(): Promise<{ readonly server: ServerProcess; readonly port: number }>;
}

/** A scenario's part of the results. */
export interface SectionResult {
  readonly markdown: string;
  readonly problems: readonly string[];
  /** Figures the targets table reads, by name. */
  readonly figures: Readonly<Record<string, number | undefined>>;
}

const label = (id: StackId, channels = 10): string =>
  channels === 1 && id === 'rxtether-client'
    ? 'rxtether createSocket, 1 channel'
    : channels === 1 && id === 'rxjs-share10'
      ? 'rxjs webSocket() + share(), 1 filter'
      : STACK_LABELS[id];

const check = (problems: readonly string[]): string => (problems.length === 0 ? 'ok' : '**WRONG**');

/** What every "× raw ws" column's note says about the range. */
const RATIO_RANGE = 'The ratio is the median of the per-repetition paired ratios; the range in parentheses is their min–max over repetitions.';

/**
 * A figure for the targets table from per-repetition values: `name` is their median,
 * `name.min` and `name.max` their range (absent with fewer than two).
 */
function rangeFigures(name: string, xs: readonly number[]): Record<string, number | undefined> {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return { [name]: undefined };
  if (finite.length === 1) return { [name]: finite[0] };
  return { [name]: median(finite), [`${name}.min`]: Math.min(...finite), [`${name}.max`]: Math.max(...finite) };
}

/** The section's heading, table and notes, also printed to the console. */
function section(ctx: Context, title: string, intro: string, table: Table, notes: string): string {
  ctx.log(`\n${title}\n${textTable(table)}`);
  return `## ${title}\n\n${intro}\n\n${markdownTable(table)}\n\n${notes}\n`;
}

function problemList(problems: readonly string[]): string {
  if (problems.length === 0) return '';
  return `\nProblems (each makes its stack's check WRONG):\n\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
}

/** Per-stack series and problems, in a fixed stack order. */
class Series {
  private readonly values = new Map<string, number[]>();
  readonly problems = new Map<StackId, string[]>();

  constructor(private readonly scenario: string) {}

  add(id: StackId, metric: string, value: number): void {
    const key = `${id} ${metric}`;
    const list = this.values.get(key) ?? [];
    list.push(value);
    this.values.set(key, list);
  }

  get(id: StackId, metric: string): number[] {
    return this.values.get(`${id} ${metric}`) ?? [];
  }

  problem(id: StackId, problem: string): void {
    const list = this.problems.get(id) ?? [];
    if (list.length < 5) list.push(problem);
    this.problems.set(id, list);
  }

  of(id: StackId): string[] {
    return this.problems.get(id) ?? [];
  }

  all(): string[] {
    return [...this.problems.entries()].flatMap(([id, ps]) => ps.map((p) => `scenario ${this.scenario}, ${STACK_LABELS[id]}: ${p}`));
  }
}

interface Reply {
  readonly problems: readonly string[];
}

/** A worker request whose failure (an exception, a timeout) becomes a problem of its stack. */
async function ask<T extends Reply>(series: Series, id: StackId, worker: Child, body: object, timeoutMs: number): Promise<T | undefined> {
  try {
    const reply = await worker.request<T>(body, timeoutMs);
    for (const p of reply.problems) series.problem(id, p);
    return reply;
  } catch (e) {
    series.problem(id, e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Server push throughput

export async function scenarioPush(ctx: Context): Promise<SectionResult> {
  const n = ctx.messages ?? (ctx.quick ? 5_000 : 200_000);
  const warm = Math.min(n, ctx.quick ? 1_000 : 50_000);
  const reps = ctx.reps ?? (ctx.quick ? 1 : 5);
  const { server, port } = await ctx.server();
  await server.prepare(n);
  await server.prepare(warm);
  const workers = await ctx.workers();
  const url = `ws://127.0.0.1:${port}/push`;
  const s = new Series('1');
  const run = async (id: StackId, count: number, record: boolean): Promise<void> => {
    const reply = await ask<Reply & { ms: number; cpuUs: number }>(s, id, workers.get(id)!, { cmd: 'push', url, n: count, subscribers: 10 }, 120_000);
    if (!record) return;
    s.add(id, 'rate', reply ? count / (reply.ms / 1000) : NaN);
    s.add(id, 'cpu', reply ? reply.cpuUs / count : NaN);
    if (ctx.verbose && reply) ctx.log(`  push ${id}: ${fmt(count / (reply.ms / 1000))} msg/s, ${fmt(reply.cpuUs / count)} µs/msg`);
  };
  for (const id of ctx.stacks) await run(id, warm, false);
  for (let r = 0; r < reps; r++) for (const id of rotate(ctx.stacks, r)) await run(id, n, true);

  const raw = ctx.stacks.includes('ws') ? s.get('ws', 'cpu') : undefined;
  const table: Table = {
    headers: ['stack', 'messages/s', 'client CPU µs/msg', 'CPU × raw ws', 'check'],
    rows: ctx.stacks.map((id) => [label(id), spread(s.get(id, 'rate')), spread(s.get(id, 'cpu')), ratioSpread(pairedRatios(s.get(id, 'cpu'), raw)), check(s.of(id))]),
  };
  const markdown = section(
    ctx,
    'Scenario 1: server push throughput',
    `The server pushes ${n.toLocaleString('en-US')} JSON messages of ~100 bytes (\`{"type":"msg","channel":"t3","seq":13,…}\`)
in one write, as fast as loopback takes them; the client decodes each and hands it to its
subscribers, which check that every seq arrives once and in order (the fan-out stacks: ten
subscribers, one per channel, each gets every tenth seq). Time from sending \`go\` to the last
message; client CPU (user + system, \`process.cpuUsage()\`) over the same interval.
${reps} repetition(s) after one warm-up of ${warm.toLocaleString('en-US')} messages per stack; median (min–max).`,
    table,
    `"CPU × raw ws" is, per repetition, each stack's CPU per message divided by raw \`ws\`'s in the
same repetition: the median of those ratios, and in parentheses their min–max over repetitions.${problemList(s.all())}`,
  );
  return {
    markdown,
    problems: s.all(),
    figures: {
      ...rangeFigures('receive.client', pairedRatios(s.get('rxtether-client', 'cpu'), raw)),
      ...rangeFigures('receive.connect', pairedRatios(s.get('rxtether-connect', 'cpu'), raw)),
      ...rangeFigures('receive.rxjs-share10', pairedRatios(s.get('rxjs-share10', 'cpu'), raw)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Round-trip latency

export async function scenarioLatency(ctx: Context): Promise<SectionResult> {
  const n = ctx.quick ? 500 : 20_000;
  const warmup = ctx.quick ? 100 : 2_000;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 3);
  const { port } = await ctx.server();
  const workers = await ctx.workers();
  const url = `ws://127.0.0.1:${port}/echo`;
  const s = new Series('2');
  // A warm-up round over every stack first, unrecorded: the first tens of thousands of round
  // trips between two processes are much slower here (~3×), whichever stack makes them.
  for (const id of ctx.stacks) await ask(s, id, workers.get(id)!, { cmd: 'rtt', url, n: warmup * 2, warmup, subscribers: 10 }, 300_000);
  for (let r = 0; r < reps; r++) {
    for (const id of rotate(ctx.stacks, r)) {
      const reply = await ask<Reply & { p50: number; p99: number; p999: number }>(s, id, workers.get(id)!, { cmd: 'rtt', url, n, warmup, subscribers: 10 }, 300_000);
      for (const q of ['p50', 'p99', 'p999'] as const) s.add(id, q, reply ? reply[q] : NaN);
      if (ctx.verbose && reply) ctx.log(`  rtt ${id}: p50 ${fmt(reply.p50)} µs, p99 ${fmt(reply.p99)} µs`);
    }
  }
  const raw = ctx.stacks.includes('ws') ? s.get('ws', 'p50') : undefined;
  const table: Table = {
    headers: ['stack', 'p50 µs', 'p99 µs', 'p99.9 µs', 'p50 × raw ws', 'check'],
    rows: ctx.stacks.map((id) => [
      label(id),
      spread(s.get(id, 'p50')),
      spread(s.get(id, 'p99')),
      spread(s.get(id, 'p999')),
      ratioSpread(pairedRatios(s.get(id, 'p50'), raw)),
      check(s.of(id)),
    ]),
  };
  const markdown = section(
    ctx,
    'Scenario 2: round-trip latency',
    `${n.toLocaleString('en-US')} sequential round trips per run (after ${warmup.toLocaleString('en-US')} unmeasured ones): the client sends
\`{"type":"msg","channel":"t<seq mod 10>","seq":…}\` through the stack's send path, the server echoes
it, and the next one goes out when the echo reaches its subscriber. Latency from the send call
to the subscriber's callback. One unrecorded round over all stacks first, then ${reps} repetition(s); each percentile is the median over repetitions (min–max).`,
    table,
    `The server answers in the same process turn for every stack, so differences are the client's.
"p50 × raw ws" divides each stack's p50 by raw \`ws\`'s p50 in the same repetition. ${RATIO_RANGE}${problemList(s.all())}`,
  );
  return { markdown, problems: s.all(), figures: rangeFigures('latency.client', pairedRatios(s.get('rxtether-client', 'p50'), raw)) };
}

// ---------------------------------------------------------------------------------------------
// 3. Client send throughput

export async function scenarioSend(ctx: Context): Promise<SectionResult> {
  const n = ctx.messages ?? (ctx.quick ? 5_000 : 200_000);
  const burst = 1_000;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 5);
  const { port } = await ctx.server();
  const workers = await ctx.workers();
  const url = `ws://127.0.0.1:${port}/count`;
  const s = new Series('3');
  const run = async (id: StackId, count: number, record: boolean): Promise<void> => {
    const reply = await ask<Reply & { ms: number; cpuUs: number }>(s, id, workers.get(id)!, { cmd: 'send', url, n: count, burst }, 120_000);
    if (!record) return;
    s.add(id, 'rate', reply ? count / (reply.ms / 1000) : NaN);
    s.add(id, 'cpu', reply ? reply.cpuUs / count : NaN);
    if (ctx.verbose && reply) ctx.log(`  send ${id}: ${fmt(count / (reply.ms / 1000))} msg/s`);
  };
  for (const id of ctx.stacks) await run(id, Math.min(n, 50_000), false);
  for (let r = 0; r < reps; r++) for (const id of rotate(ctx.stacks, r)) await run(id, n, true);

  const raw = ctx.stacks.includes('ws') ? s.get('ws', 'rate') : undefined;
  const table: Table = {
    headers: ['stack', 'messages/s', 'client CPU µs/msg', 'throughput × raw ws', 'check'],
    rows: ctx.stacks.map((id) => [label(id), spread(s.get(id, 'rate')), spread(s.get(id, 'cpu')), ratioSpread(pairedRatios(s.get(id, 'rate'), raw)), check(s.of(id))]),
  };
  const markdown = section(
    ctx,
    'Scenario 3: client send throughput',
    `The client sends ${n.toLocaleString('en-US')} messages \`{"type":"m","seq":…}\` (~20 bytes) through the stack's send
path, ${burst.toLocaleString('en-US')} per event-loop turn (a loop of \`send()\` calls, then \`setImmediate\`), as an
application with a burst to write would; the server counts them, checks their order and
replies when it has all. Time from the first send to that reply; client CPU over the same
interval. ${reps} repetition(s) after one warm-up per stack; median (min–max).`,
    table,
    `The server parses frames by hand (no JSON.parse, no ws) so that it is never what limits the
rate. "× raw ws" pairs each stack with raw \`ws\` (one \`ws.send(JSON.stringify(m))\` per message)
within a repetition. ${RATIO_RANGE}${problemList(s.all())}`,
  );
  return {
    markdown,
    problems: s.all(),
    figures: {
      ...rangeFigures('send.client', pairedRatios(s.get('rxtether-client', 'rate'), raw)),
      ...rangeFigures('send.connect', pairedRatios(s.get('rxtether-connect', 'rate'), raw)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Idle memory

export async function scenarioIdle(ctx: Context): Promise<SectionResult> {
  const connections = ctx.quick ? 50 : 2_000;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 2);
  const { port } = await ctx.server();
  const url = `ws://127.0.0.1:${port}/idle`;
  const s = new Series('4');
  for (let r = 0; r < reps; r++) {
    for (const id of rotate(ctx.stacks, r)) {
      // A fresh process per stack and repetition: nothing of another stack or an earlier
      // scenario is on its heap.
      let worker: Child | undefined;
      try {
        worker = await ctx.startClient(id, `client ${id} (idle)`);
        const reply = await ask<Reply & { heapPerConnection: number; rssPerConnection: number; opened: number }>(
          s,
          id,
          worker,
          { cmd: 'idle', url, connections, subscribers: 1 },
          300_000,
        );
        s.add(id, 'heap', reply ? reply.heapPerConnection : NaN);
        s.add(id, 'rss', reply ? reply.rssPerConnection : NaN);
        if (reply && reply.opened !== connections) s.problem(id, `${reply.opened} of ${connections} connections opened`);
        if (ctx.verbose && reply) ctx.log(`  idle ${id}: ${bytes(reply.heapPerConnection)} heap, ${bytes(reply.rssPerConnection)} RSS per connection`);
      } catch (e) {
        s.problem(id, e instanceof Error ? e.message : String(e));
      } finally {
        await worker?.stop();
      }
    }
  }
  const raw = ctx.stacks.includes('ws') ? s.get('ws', 'heap') : undefined;
  const table: Table = {
    headers: ['stack', 'heap per connection', 'RSS per connection', 'heap × raw ws', 'check'],
    rows: ctx.stacks.map((id) => [
      label(id, 1),
      spread(s.get(id, 'heap').map(Math.round), 0) + ' B',
      spread(s.get(id, 'rss').map(Math.round), 0) + ' B',
      ratioSpread(pairedRatios(s.get(id, 'heap'), raw)),
      check(s.of(id)),
    ]),
  };
  const markdown = section(
    ctx,
    'Scenario 4: idle memory',
    `${connections.toLocaleString('en-US')} connections open at once from one client process, idle, each with one subscriber (the
fan-out stacks: one filter, one channel). Each stack runs in its own fresh process (\`--expose-gc\`):
20 connections opened and closed first (module and first-use costs), then two full GCs and
\`process.memoryUsage()\`, then the ${connections.toLocaleString('en-US')} connections, opened 100 at a time, 200 ms of quiet, two
full GCs and \`process.memoryUsage()\` again. Per connection: the difference divided by ${connections.toLocaleString('en-US')}.
${reps} repetition(s); median (min–max).`,
    table,
    `Heap is V8's \`heapUsed\`. RSS also counts what lives outside V8's heap (Buffers, libuv handles,
malloc arenas) and grows in pages and arenas, so it is the coarser of the two. "heap × raw ws"
divides each stack's heap per connection by raw \`ws\`'s in the same repetition. ${RATIO_RANGE}${problemList(s.all())}`,
  );
  const heap = (id: StackId): number | undefined => {
    const xs = s.get(id, 'heap').filter(Number.isFinite);
    return xs.length ? median(xs) : undefined;
  };
  return {
    markdown,
    problems: s.all(),
    figures: {
      ...rangeFigures('idle.connect', pairedRatios(s.get('rxtether-connect', 'heap'), raw)),
      'idle.client': heap('rxtether-client'),
      'idle.ws': heap('ws'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 5. Reconnect time

/**
 * Servers on one port, killed and replaced. The replacement process is started before the
 * kill (`standby()`), so that the outage is what the scenario says and no process start-up
 * competes for the CPU while the client reconnects.
 */
class ServerChain {
  private next: ServerProcess | undefined;
  /** Subscribed connections the current server had already counted. */
  private seen = 0;

  private constructor(
    private current: ServerProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<ServerChain> {
    const server = await ServerProcess.start('server');
    return new ServerChain(server, await server.listen(0));
  }

  /** Waits until `count` connections are subscribed on the current server, or `timeout` ms. */
  async subscribed(count: number, timeout: number): Promise<SubscribedReport> {
    const report = await this.current.waitSubscribed(count, timeout);
    this.seen = report.subscribed;
    return report;
  }

  /** Waits for the next connection to be subscribed on the current server. */
  async nextSubscribed(timeout: number): Promise<SubscribedReport> {
    return this.subscribed(this.seen + 1, timeout);
  }

  /** Starts the process that {@link restart} will make listen. */
  async standby(): Promise<void> {
    this.next ??= await ServerProcess.start('server (standby)');
  }

  async kill(): Promise<void> {
    await this.current.kill();
  }

  /** The standby listens on the port: the restarted server. */
  async restart(): Promise<void> {
    await this.standby();
    this.current = this.next!;
    this.next = undefined;
    this.seen = 0;
    await this.current.listen(this.port);
  }

  async dispose(): Promise<void> {
    await this.current.kill();
    await this.next?.kill();
  }
}

export async function scenarioReconnect(ctx: Context): Promise<SectionResult> {
  const downMs = ctx.quick ? 50 : 100;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 7);
  const outageMs = ctx.quick ? 1_000 : 3_000;
  const outageReps = ctx.quick ? 1 : 2;
  const workers = await ctx.workers();
  const chain = await ServerChain.start();
  const url = `ws://127.0.0.1:${chain.port}/sub?subs=10`;
  const s = new Series('5');
  try {
    // Minimum delays: time from listening again to the 10 subscribes.
    for (let r = 0; r < reps; r++) {
      for (const id of rotate(ctx.stacks, r)) {
        const worker = workers.get(id)!;
        try {
          await worker.request({ cmd: 'open', url, mode: 'min', channels: 10, subscribers: 10 }, 30_000);
          const before = await chain.nextSubscribed(10_000);
          if (before.lastMs === undefined) throw new Error('the first connection never subscribed its 10 channels');
          await chain.standby();
          const a0 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
          await chain.kill();
          await sleep(downMs);
          await chain.restart();
          const after = await chain.nextSubscribed(10_000);
          const a1 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
          if (after.lastMs === undefined) s.problem(id, `not re-subscribed within 10 s of the restart`);
          s.add(id, 'ms', after.lastMs ?? NaN);
          s.add(id, 'attempts', a1.attempts - a0.attempts);
          if (ctx.verbose) ctx.log(`  reconnect ${id}: ${fmt(after.lastMs)} ms, ${a1.attempts - a0.attempts} attempts`);
        } catch (e) {
          s.problem(id, e instanceof Error ? e.message : String(e));
          s.add(id, 'ms', NaN);
        } finally {
          await worker.request({ cmd: 'close' }, 10_000).catch(() => {});
        }
      }
    }
    // Defaults: connection attempts while the server is down (is anything spinning?).
    const withDefaults = ctx.stacks.filter((id) => BUILT_IN_RECONNECT.has(id));
    for (let r = 0; r < outageReps; r++) {
      for (const id of rotate(withDefaults, r)) {
        const worker = workers.get(id)!;
        let killed = false;
        try {
          await worker.request({ cmd: 'open', url, mode: 'default', channels: 10, subscribers: 10 }, 30_000);
          await chain.nextSubscribed(10_000);
          await chain.standby();
          const a0 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
          await chain.kill();
          killed = true;
          await sleep(outageMs);
          const a1 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
          s.add(id, 'outage', a1.attempts - a0.attempts);
          if (ctx.verbose) ctx.log(`  outage ${id}: ${a1.attempts - a0.attempts} attempts in ${outageMs} ms`);
        } catch (e) {
          s.problem(id, e instanceof Error ? e.message : String(e));
        } finally {
          await worker.request({ cmd: 'close' }, 10_000).catch(() => {});
          if (killed) await chain.restart();
        }
      }
    }
  } finally {
    await chain.dispose();
  }
  const raw = ctx.stacks.includes('ws') ? s.get('ws', 'ms') : undefined;
  const table: Table = {
    headers: ['stack', 'minimum delays', 'listening → 10 channels re-subscribed, ms', '× raw ws', `attempts, kill → 10th subscribe (${downMs} ms down)`, `defaults: attempts in a ${outageMs / 1000} s outage`, 'check'],
    rows: ctx.stacks.map((id) => [
      label(id),
      MIN_DELAYS[id],
      spread(s.get(id, 'ms')),
      ratioSpread(pairedRatios(s.get(id, 'ms'), raw)),
      spread(s.get(id, 'attempts'), 0),
      BUILT_IN_RECONNECT.has(id) ? spread(s.get(id, 'outage'), 0) : 'no built-in reconnect',
      check(s.of(id)),
    ]),
  };
  const markdown = section(
    ctx,
    'Scenario 5: reconnect time',
    `One connection with 10 channels (\`{"type":"subscribe","channel":"t<k>"}\` on every open: sent by
user code from the open handler, by \`connect\`'s \`handshake\`, or by the full client's channels).
The server process is killed (SIGKILL), and ${downMs} ms later a new server process, started in
advance, listens on the same port. Measured in the new server's clock: from listening to the
10th subscribe of the new connection. Each stack with its smallest delays (below);
${reps} repetition(s), median (min–max). Then, for stacks with their own reconnect policy, on their
defaults: how many connection attempts (sockets constructed) they make while the server stays
down for ${outageMs / 1000} s (${outageReps} repetition(s)).`,
    table,
    `"× raw ws" divides each stack's time by raw \`ws\`'s in the same repetition. ${RATIO_RANGE}
"Attempts, kill → 10th subscribe" counts the sockets the stack constructed between a count
taken just before the kill and one taken after the new server saw the 10th subscribe: the
${downMs} ms the port was closed, plus the time to kill the old process and make the standby
listen, plus the time to reconnect and re-subscribe; the successful attempt is included.
A stack that reconnects with no delay tries again as soon as each refusal arrives, so it
learns about the restart within one refusal; that is the floor, and the price is a busy loop
while the server is away (the attempts column). The defaults column is the
"never spins" check: an exponential schedule makes a handful of attempts in ${outageMs / 1000} s.${problemList(s.all())}`,
  );
  const outage = (id: StackId): number | undefined => {
    const xs = s.get(id, 'outage');
    return xs.length ? Math.max(...xs) : undefined;
  };
  const ms = (id: StackId): number | undefined => {
    const xs = s.get(id, 'ms').filter(Number.isFinite);
    return xs.length === s.get(id, 'ms').length && xs.length ? median(xs) : undefined;
  };
  return {
    markdown,
    problems: s.all(),
    figures: {
      'reconnect.client': ms('rxtether-client'),
      'reconnect.connect': ms('rxtether-connect'),
      'outage.client': outage('rxtether-client'),
      'outage.connect': outage('rxtether-connect'),
      'outage.seconds': outageMs / 1000,
    },
  };
}

const MIN_DELAYS: Readonly<Record<StackId, string>> = {
  ws: 'new WebSocket in the close handler',
  rxjs: '`retry()`, no delay',
  'rxjs-share10': '`retry()`, no delay',
  rws: '`minReconnectionDelay: 0, maxReconnectionDelay: 0`',
  partysocket: '`minReconnectionDelay: 0, maxReconnectionDelay: 0`',
  'rxtether-connect': '`retryWithJitteredBackoff({ initialDelay: 0, maxDelay: 0 })`',
  'rxtether-client': '`backoff: { initialDelay: 0, maxDelay: 0 }`',
  fused: 'none (it does not reconnect)',
};

// ---------------------------------------------------------------------------------------------
// 8. Real storm on loopback

export async function scenarioStorm(ctx: Context): Promise<SectionResult> {
  const clients = ctx.quick ? 100 : 2_000;
  const downMs = ctx.quick ? 300 : 2_000;
  const reps = ctx.reps ?? (ctx.quick ? 1 : 3);
  const capMs = ctx.quick ? 20_000 : 60_000;
  const configs = [
    { id: 'full', label: 'defaults (full jitter, `initialDelay` 1 s)' },
    { id: 'none', label: "`backoff: { jitter: 'none' }`" },
  ] as const;
  const s = new Series('8');
  const id: StackId = 'rxtether-client';
  for (let r = 0; r < reps; r++) {
    for (const config of rotate(configs, r)) {
      let worker: Child | undefined;
      let chain: ServerChain | undefined;
      const metric = (name: string, value: number): void => s.add(id, `${config.id} ${name}`, value);
      try {
        chain = await ServerChain.start();
        worker = await ctx.startClient(id, `client ${id} (storm ${config.id})`);
        const url = `ws://127.0.0.1:${chain.port}/sub?subs=1`;
        await worker.request({ cmd: 'storm', url, clients, jitter: config.id }, 180_000);
        const all = await chain.subscribed(clients, 60_000);
        if (all.subscribed < clients) throw new Error(`only ${all.subscribed} of ${clients} clients subscribed before the restart`);
        await chain.standby();
        const a0 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
        await chain.kill();
        await sleep(downMs);
        await chain.restart();
        const after = await chain.subscribed(clients, capMs);
        const a1 = await worker.request<{ attempts: number }>({ cmd: 'attempts' }, 10_000);
        const buckets = new Map<number, number>();
        for (const t of after.handshakesMs) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
        const peak = Math.max(0, ...buckets.values());
        if (after.lastMs === undefined) s.problem(id, `${config.id}: ${after.subscribed} of ${clients} re-subscribed within ${capMs / 1000} s of the restart`);
        metric('drain', after.lastMs ?? NaN);
        metric('peak', peak);
        metric('attempts', (a1.attempts - a0.attempts) / clients);
        if (ctx.verbose) ctx.log(`  storm ${config.id}: all re-subscribed at ${fmt(after.lastMs)} ms, peak ${peak} handshakes/100 ms`);
      } catch (e) {
        s.problem(id, `${config.id}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await worker?.request({ cmd: 'close' }, 10_000).catch(() => {});
        await worker?.stop();
        await chain?.dispose();
      }
    }
  }
  const table: Table = {
    headers: ['client backoff', 'peak handshakes per 100 ms', 'listening → all re-subscribed, ms', 'attempts per client', 'check'],
    rows: configs.map((c) => [
      c.label,
      spread(s.get(id, `${c.id} peak`), 0),
      spread(s.get(id, `${c.id} drain`), 0),
      spread(s.get(id, `${c.id} attempts`)),
      check(s.of(id).filter((p) => p.startsWith(`${c.id}:`))),
    ]),
  };
  const markdown = section(
    ctx,
    'Scenario 8: real reconnect storm on loopback',
    `${clients.toLocaleString('en-US')} rxtether clients (\`createSocket\`, one channel each, heartbeat on) in one process,
all connected and subscribed; the server process is killed, and ${downMs / 1000} s later a new one listens
on the same port. It accepts every handshake (no capacity limit: loopback, one process) and
counts, in its own clock from listening: accepted handshakes per 100 ms, and when the last
client's subscribe arrived. Attempts per client count every socket constructed from the kill
to that moment (refused ones included). ${reps} repetition(s), median (min–max).`,
    table,
    `Without jitter every client waits exactly \`initialDelay\` × 2^(attempt−1) from the same
moment, so all ${clients.toLocaleString('en-US')} clients *attempt* in the same millisecond. That does not mean they
all *complete* in the same 100 ms: one client process and one server process get through only
about as many handshakes per 100 ms as the measured peak, and attempts beyond that wait and are
accepted in the following windows. That throughput also caps the no-jitter peak, so the peak
understates how concentrated the attempts are. Full jitter spreads the attempts themselves
over the backoff window. Scenario 7 simulates the same rules
at scale, with a server that has a capacity.${problemList(s.all())}`,
  );
  return {
    markdown,
    problems: s.all(),
    figures: {
      'loopback-storm.full.peak': median(s.get(id, 'full peak')),
      'loopback-storm.none.peak': median(s.get(id, 'none peak')),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// import('rxtether') vs import('rxjs')

export async function scenarioImport(ctx: Context): Promise<SectionResult> {
  const reps = ctx.reps ?? (ctx.quick ? 3 : 15);
  // The package as the current sources build it (dist/ may be stale): the run's bundle
  // (bench/rxtether.ts), rxjs external, as tsup builds dist/index.js.
  const bundle = ctx.rxtetherUrl();
  const targets = [
    { id: 'rxjs', specifier: 'rxjs' },
    { id: 'rxtether', specifier: bundle },
  ] as const;
  const times = new Map<string, number[]>(targets.map((t) => [t.id, []]));
  // Per measured round, both imports' times (NaN for a failed one), for the paired differences.
  const rounds = new Map<string, number[]>(targets.map((t) => [t.id, []]));
  const problems: string[] = [];
  for (let r = 0; r < reps + 1; r++) {
    for (const t of rotate(targets, r)) {
      const code = `const t0 = performance.now(); await import(${JSON.stringify(t.specifier)}); process.stdout.write(String(performance.now() - t0));`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      const ms = Number(child.stdout);
      if (child.status !== 0 || !Number.isFinite(ms)) {
        problems.push(`import ${t.id}: exit ${String(child.status)} ${child.stderr.slice(0, 200)}`);
        if (r > 0) rounds.get(t.id)!.push(NaN);
        continue;
      }
      if (r > 0) {
        // the first round warms the disk cache
        times.get(t.id)!.push(ms);
        rounds.get(t.id)!.push(ms);
      }
    }
  }
  const rx = times.get('rxjs')!;
  const rt = times.get('rxtether')!;
  // Paired within a round: the two processes ran back to back, so a slow moment hits both.
  const diffs = pairedDifferences(rounds.get('rxtether')!, rounds.get('rxjs')!);
  const table: Table = {
    headers: ['import', 'ms', 'added over rxjs alone, ms'],
    rows: [
      ['`import("rxjs")`', spread(rx), '–'],
      ['`import("rxtether")` (which imports rxjs)', spread(rt), spread(diffs)],
    ],
  };
  const markdown = section(
    ctx,
    'Import time',
    `Time for \`await import(…)\` in a fresh \`node\` process (no loader), measured inside the
process with \`performance.now()\`: rxjs alone, then rxtether as the run's bundle of the current
sources (esbuild, ESM, no keepNames, rxjs external, as \`dist/index.js\`; see the header). ${reps} processes each, alternating, after one
unmeasured round; median (min–max).`,
    table,
    `"Added" is, for each round, rxtether's time minus rxjs's time in the same round (the two ran
back to back): the median of those ${diffs.length} paired differences, and in parentheses their min–max
over rounds. The target is judged on that paired median.${problemList(problems)}`,
  );
  return { markdown, problems: problems.map((p) => `import time: ${p}`), figures: rangeFigures('import.added', diffs) };
}

