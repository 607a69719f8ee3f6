// A client worker: one child process per stack (`client.ts <stack id> <rxtether bundle URL>`),
// forked by the runner with --expose-gc. It loads that stack only (rxtether from the bundle the
// runner built, bench/rxtether.ts), runs the client side of a scenario when asked
// over IPC, and measures it in its own process: wall time with performance.now(), CPU with
// process.cpuUsage() (user + system), heap and RSS with process.memoryUsage() after gc().
//
// Requests (each with `rid`; the reply carries the same `rid`, or `error`):
//   push      { url, n, subscribers }             server push: msgs/s, CPU µs/msg, order check
//   rtt       { url, n, warmup, subscribers }     sequential echo round trips: percentiles
//   send      { url, n, burst }                   client send: msgs/s until the server's count
//   idle      { url, connections, subscribers }   heap and RSS per open connection
//   open      { url, mode, channels, subscribers }  one connection kept for the reconnect scenario
//   attempts  {}                                  sockets constructed so far, opens so far
//   close     {}                                  closes what `open` or `storm` opened
//   storm     { url, clients, jitter }            many full clients, one channel each, all open
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { type Rxtether, importRxtether } from './rxtether.js';
import { type ConnectOptions, type ReconnectMode, type Stack, type StackConnection, type StackId, STACK_IDS, loadStack } from './stacks.js';
import { type Msg, makeSinks } from './wire.js';

const gc = (globalThis as { gc?: () => void }).gc;

function fullGc(): void {
  gc?.();
  gc?.();
}

/** Sockets constructed through {@link CountingWebSocket}: one per connection attempt. */
let attempts = 0;

/** ws's WebSocket, counting constructions (connection attempts); used where attempts matter. */
const CountingWebSocket = class extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    attempts++;
  }
} as unknown as typeof WebSocket;

/** Resolves on `done()`; rejects when `progress()` has not been called for `stallMs`. */
function progressWatch(stallMs: number, what: () => string): { done: Promise<void>; finish: () => void; fail: (e: unknown) => void; progress: () => void } {
  let last = performance.now();
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => ((finish = res), (fail = rej)));
  const timer = setInterval(() => {
    if (performance.now() - last > stallMs) fail(new Error(`stalled for ${stallMs} ms: ${what()}`));
  }, 250);
  void done.then(
    () => clearInterval(timer),
    () => clearInterval(timer),
  );
  return { done, finish, fail, progress: () => (last = performance.now()) };
}

/** Waits for the run to end; a stall or failure becomes a problem of the run, not a throw. */
async function settled(done: Promise<void>, problems: string[]): Promise<void> {
  try {
    await done;
  } catch (e) {
    problems.push(String(e));
  }
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

/** Opens one connection and resolves once it is open (its subscribes written). */
async function openOne(
  stack: Stack,
  options: { url: string; subscribers: readonly ((m: Msg) => void)[]; channels: number; reconnect: ReconnectMode; Ctor?: typeof WebSocket },
  failures: string[],
): Promise<StackConnection> {
  let opened!: () => void;
  const open = new Promise<void>((res) => (opened = res));
  const connection = stack.connect({
    url: options.url,
    WebSocketCtor: options.Ctor ?? WebSocket,
    subscribers: options.subscribers,
    channels: options.channels,
    reconnect: options.reconnect,
    onOpen: () => opened(),
    onFailure: (e) => failures.push(`failed: ${String(e)}`),
  });
  try {
    await withTimeout(open, 20_000, 'did not open within 20 s');
  } catch (e) {
    connection.close();
    throw e;
  }
  return connection;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(message)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

// ---------------------------------------------------------------------------------------------
// Scenarios, client side

/** Scenario 1: the server pushes seq 1..n; every subscriber checks count and order. */
async function push(stack: Stack, r: { url: string; n: number; subscribers: number }): Promise<object> {
  const problems: string[] = [];
  const sinks = makeSinks(r.n, stack.fanOut ? r.subscribers : 1);
  let received = 0;
  const watch = progressWatch(5_000, () => `${received} of ${r.n} messages received`);
  const subscribers = sinks.map((sink) => (m: Msg): void => {
    sink.receive(m);
    if (++received === r.n) watch.finish();
    else if ((received & 1023) === 0) watch.progress();
  });
  const connection = await openOne(stack, { url: r.url, subscribers, channels: 0, reconnect: 'off' }, problems);
  await nextTurn();
  fullGc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  connection.send({ type: 'go', n: r.n });
  await settled(watch.done, problems);
  const ms = performance.now() - t0;
  const cpuUs = cpuMicros(cpu0);
  connection.close();
  for (const sink of sinks) {
    const p = sink.problem();
    if (p !== undefined) problems.push(p);
  }
  return { ms, cpuUs, problems };
}

/** Scenario 2: `warmup + n` sequential echo round trips; latencies of the last n, in µs. */
async function rtt(stack: Stack, r: { url: string; n: number; warmup: number; subscribers: number }): Promise<object> {
  const problems: string[] = [];
  const total = r.warmup + r.n;
  const sinks = makeSinks(total, stack.fanOut ? r.subscribers : 1);
  const latencies = new Float64Array(r.n);
  let seq = 0;
  let sentAt = 0;
  let connection: StackConnection | undefined;
  const watch = progressWatch(5_000, () => `${seq} of ${total} round trips`);
  const sendNext = (): void => {
    seq++;
    sentAt = performance.now();
    connection!.send({ type: 'msg', channel: `t${seq % 10}`, seq });
  };
  const subscribers = sinks.map((sink) => (m: Msg): void => {
    const now = performance.now();
    if (!sink.receive(m) || m.seq !== seq) {
      watch.fail(new Error(`unexpected echo ${JSON.stringify(m).slice(0, 80)} while waiting for seq ${seq}`));
      return;
    }
    if (seq > r.warmup) latencies[seq - r.warmup - 1] = (now - sentAt) * 1000;
    if (seq === total) watch.finish();
    else {
      if ((seq & 255) === 0) watch.progress();
      sendNext();
    }
  });
  connection = await openOne(stack, { url: r.url, subscribers, channels: 0, reconnect: 'off' }, problems);
  await nextTurn();
  fullGc();
  sendNext();
  await settled(watch.done, problems);
  connection.close();
  for (const sink of sinks) {
    const p = sink.problem();
    if (p !== undefined) problems.push(p);
  }
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), problems };
}

/** Scenario 3: n small messages through the stack's send, `burst` per event-loop turn. */
async function send(stack: Stack, r: { url: string; n: number; burst: number }): Promise<object> {
  const problems: string[] = [];
  let count: Msg & { outOfOrder?: number } = { type: 'none' };
  const watch = progressWatch(10_000, () => 'no count from the server');
  const subscriber = (m: Msg): void => {
    if (m.type === 'count') {
      count = m;
      watch.finish();
    }
  };
  const subscribers = stack.fanOut ? Array.from({ length: 10 }, (_, k) => (k === 0 ? subscriber : () => {})) : [subscriber];
  const connection = await openOne(stack, { url: `${r.url}?n=${r.n}`, subscribers, channels: 0, reconnect: 'off' }, problems);
  await nextTurn();
  fullGc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let seq = 0;
  let sendError: unknown;
  try {
    while (seq < r.n) {
      const end = Math.min(r.n, seq + r.burst);
      while (seq < end) connection.send({ type: 'm', seq: ++seq });
      watch.progress();
      await nextTurn();
    }
  } catch (e) {
    sendError = e;
  }
  const sentMs = performance.now() - t0;
  if (sendError !== undefined) problems.push(`send threw: ${String(sendError)}`);
  else await settled(watch.done, problems);
  const ms = performance.now() - t0;
  const cpuUs = cpuMicros(cpu0);
  connection.close();
  if (count.type === 'count') {
    if (count.n !== r.n) problems.push(`the server counted ${String(count.n)} messages, expected ${r.n}`);
    if (count.outOfOrder) problems.push(`the server received ${count.outOfOrder} messages out of order`);
  }
  return { ms, sentMs, cpuUs, problems };
}

/** Scenario 4: `connections` open connections at once, idle; heap and RSS they take. */
async function idle(stack: Stack, r: { url: string; connections: number; subscribers: number }): Promise<object> {
  const problems: string[] = [];
  const noop = (): void => {};
  // One options object and one set of callbacks for every connection: what stays on the heap
  // per connection is the stack's, plus the returned StackConnection.
  let opened = 0;
  let target = 0;
  let wake: () => void = noop;
  const options: ConnectOptions = {
    url: r.url,
    WebSocketCtor: WebSocket,
    subscribers: Array.from({ length: stack.fanOut ? r.subscribers : 1 }, () => noop),
    channels: 0,
    reconnect: 'off',
    onOpen: () => {
      if (++opened === target) wake();
    },
    onFailure: (e) => problems.push(`failed: ${String(e)}`),
  };
  const openBatch = async (count: number, into: StackConnection[]): Promise<void> => {
    target += count;
    const all = new Promise<void>((res) => (wake = res));
    for (let i = 0; i < count; i++) into.push(stack.connect(options));
    await withTimeout(all, 60_000, `${opened - (target - count)} of ${count} connections opened within 60 s`);
  };
  // Warm-up: the stack's modules, first-use allocations and code, all before "before".
  const warm: StackConnection[] = [];
  await openBatch(20, warm);
  for (const c of warm) c.close();
  await new Promise((res) => setTimeout(res, 200));
  fullGc();
  const before = process.memoryUsage();
  const open: StackConnection[] = [];
  const BATCH = 100;
  try {
    for (let i = 0; i < r.connections; i += BATCH) await openBatch(Math.min(BATCH, r.connections - i), open);
  } catch (e) {
    problems.push(String(e));
  }
  // Let the last opens' writes and callbacks finish before measuring.
  await new Promise((res) => setTimeout(res, 200));
  fullGc();
  const after = process.memoryUsage();
  for (const c of open) c.close();
  await new Promise((res) => setTimeout(res, 100));
  return {
    heapPerConnection: (after.heapUsed - before.heapUsed) / r.connections,
    rssPerConnection: (after.rss - before.rss) / r.connections,
    externalPerConnection: (after.external - before.external) / r.connections,
    opened: opened - 20,
    problems,
  };
}

// Scenario 5 and 8: long-lived connections the runner drops by killing the server.

let kept: StackConnection[] = [];
let opens = 0;

async function keepOpen(stack: Stack, r: { url: string; mode: ReconnectMode; channels: number; subscribers: number }): Promise<object> {
  const problems: string[] = [];
  const subscribers = Array.from({ length: stack.fanOut ? r.subscribers : 1 }, () => () => {});
  let first!: () => void;
  const firstOpen = new Promise<void>((res) => (first = res));
  const connection = stack.connect({
    url: r.url,
    WebSocketCtor: CountingWebSocket,
    subscribers,
    channels: r.channels,
    reconnect: r.mode,
    onOpen: () => {
      opens++;
      first();
    },
    onFailure: (e) => problems.push(`failed: ${String(e)}`),
  });
  kept.push(connection);
  await withTimeout(firstOpen, 20_000, 'did not open within 20 s');
  return { problems };
}

async function storm(stack: Stack, r: { url: string; clients: number; jitter: 'full' | 'none' }): Promise<object> {
  if (stack.id !== 'rxtether-client' || !rxtether) throw new Error('the storm runs the rxtether client only');
  const { createSocket } = rxtether;
  let open = 0;
  let allOpen!: () => void;
  const all = new Promise<void>((res) => (allOpen = res));
  for (let k = 0; k < r.clients; k++) {
    const socket = createSocket<Msg, object>({
      url: `${r.url}&id=${k}`,
      WebSocketCtor: CountingWebSocket,
      heartbeat: { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) },
      channelKeyOf: (m) => m.channel,
      ...(r.jitter === 'none' ? { backoff: { jitter: 'none' as const } } : {}),
    });
    let wasOpen = false;
    socket.status$.subscribe((s) => {
      if (s.state === 'open' && !wasOpen) {
        wasOpen = true;
        if (++open === r.clients) allOpen();
      }
    });
    socket
      .channel({ key: 't0', subscribe: () => ({ type: 'subscribe', channel: 't0' }) })
      .subscribe({ error: () => {} });
    kept.push({ send: (m) => socket.send(m), close: () => socket.close() });
  }
  await withTimeout(all, 120_000, `only ${open} of ${r.clients} clients opened within 120 s`);
  return { problems: [] };
}

// ---------------------------------------------------------------------------------------------
// IPC

type Request =
  | { rid: number; cmd: 'push'; url: string; n: number; subscribers: number }
  | { rid: number; cmd: 'rtt'; url: string; n: number; warmup: number; subscribers: number }
  | { rid: number; cmd: 'send'; url: string; n: number; burst: number }
  | { rid: number; cmd: 'idle'; url: string; connections: number; subscribers: number }
  | { rid: number; cmd: 'open'; url: string; mode: ReconnectMode; channels: number; subscribers: number }
  | { rid: number; cmd: 'storm'; url: string; clients: number; jitter: 'full' | 'none' }
  | { rid: number; cmd: 'attempts' }
  | { rid: number; cmd: 'close' };

async function handle(stack: Stack, request: Request): Promise<object> {
  switch (request.cmd) {
    case 'push':
      return push(stack, request);
    case 'rtt':
      return rtt(stack, request);
    case 'send':
      return send(stack, request);
    case 'idle':
      return idle(stack, request);
    case 'open':
      return keepOpen(stack, request);
    case 'storm':
      return storm(stack, request);
    case 'attempts':
      return { attempts, opens };
    case 'close':
      for (const c of kept) c.close();
      kept = [];
      return {};
  }
}

/** The rxtether bundle (bench/rxtether.ts), in the rxtether stacks' workers only. */
let rxtether: Rxtether | undefined;

async function main(): Promise<void> {
  const id = process.argv[2] as StackId;
  const rxtetherUrl = process.argv[3];
  if (!STACK_IDS.includes(id)) throw new Error(`bench client: unknown stack ${String(id)}`);
  if (!gc) throw new Error('bench client: run with --expose-gc');
  if (id.startsWith('rxtether')) {
    if (rxtetherUrl === undefined) throw new Error(`bench client: stack ${id} needs the rxtether bundle's URL`);
    rxtether = await importRxtether(rxtetherUrl);
  }
  const stack = await loadStack(id, rxtether);
  // One request at a time: the runner never overlaps them, and a measurement must not share
  // the process with another.
  let queue = Promise.resolve();
  process.on('message', (request: Request) => {
    queue = queue.then(async () => {
      try {
        process.send?.({ rid: request.rid, ...(await handle(stack, request)) });
      } catch (e) {
        process.send?.({ rid: request.rid, error: e instanceof Error ? e.message : String(e) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

