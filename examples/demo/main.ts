/**
 * `npm run demo`: rxtether's client against an embedded server that misbehaves on a seeded
 * schedule, in one process, with a live status line and a final tally counted on both sides.
 *
 *   npm run demo                        # about 30 s
 *   npm run demo -- --seconds 120 --seed 7
 *
 * The server (./server.ts, `ws` on 127.0.0.1, a free port) publishes three tickers into a log
 * and, one after the other, drops connections (TCP reset), freezes (TCP open, nothing sent),
 * restarts (close 1001, same port), refuses connections, and starts slowly (close 1012, then
 * late handshakes). The client is one `createSocket` with a session, per-channel resume, an
 * app-level heartbeat, jittered backoff and acknowledged sends.
 *
 * Exits with status 1 if a message was lost, duplicated or out of order, or a send is
 * unaccounted for.
 */
import { pathToFileURL } from 'node:url';
import {
  type ChannelSpec,
  type SocketStatus,
  createSocket,
  isConnectionClosedError,
  isNextInSequence,
} from 'rxtether';
import { WebSocket } from 'ws';
import { type ClientFrame, FAULT_KINDS, type FaultKind, type ServerFrame, type TickMsg, UnstableServer, mulberry32 } from './server.js';
import { type DemoOutput, type Segment, Screen, number } from './ui.js';

export type { DemoOutput } from './ui.js';

export const TICKERS = ['BTC-USD', 'ETH-USD', 'SOL-USD'] as const;

/** The client's settings: short, so that a 30 s run shows many recoveries. */
const HEARTBEAT = { interval: 500, timeout: 1_500 } as const;
const OPEN_TIMEOUT = 1_000;
const SESSION_TIMEOUT = 1_000;
const BACKOFF = { initialDelay: 250, maxDelay: 4_000, jitter: 'full' } as const;

const PUBLISH_EVERY_MS = 10; // one tick on a random ticker: ~100 messages/s
const ORDER_EVERY_MS = 250; // the client sends an order (acknowledged by the server)
const PLAIN_STATUS_EVERY_MS = 2_000; // non-TTY: a status line this often
const LIVE_STATUS_EVERY_MS = 100; // TTY: the live line is redrawn this often
const RECOVERY_BOUND_MS = 10_000; // the next fault waits (at most this) for the client to be back
const DRAIN_BOUND_MS = 10_000;

export interface DemoOptions {
  /** How long the server publishes and misbehaves. @defaultValue 30 */
  readonly seconds?: number;
  /** Seeds the fault schedule, the prices, the slow handshakes and the client's jitter. @defaultValue 1 */
  readonly seed?: number;
  /** @defaultValue `process.stdout` */
  readonly out?: DemoOutput;
  /** `NO_COLOR` and `TERM` are honoured. @defaultValue `process.env` */
  readonly env?: Record<string, string | undefined>;
  /** Ends the run early (Ctrl-C): the tally is still printed. */
  readonly signal?: AbortSignal;
}

export interface ChannelTally {
  readonly channel: string;
  readonly published: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
}

export interface DemoTally {
  readonly seed: number;
  readonly seconds: number;
  /** Wall time, including the drain at the end. */
  readonly wallSeconds: number;
  /** Messages the server published (its log). */
  readonly published: number;
  /** Deliveries to the client's channel subscribers, duplicates included. */
  readonly delivered: number;
  /** Published, never delivered. */
  readonly lost: number;
  /** Deliveries of a message already delivered. */
  readonly duplicated: number;
  /** First deliveries that were not the next seq of their channel. */
  readonly outOfOrder: number;
  readonly perChannel: readonly ChannelTally[];
  /** Messages the server re-sent on resume that were already delivered (dropped by the client). */
  readonly overlapResent: number;
  readonly sends: {
    /** `socket.send` calls. */
    readonly queued: number;
    /** Distinct order ids the server received. */
    readonly delivered: number;
    /** Extra copies the server received (at-least-once re-sends after a drop cut off the ack). */
    readonly resent: number;
    /** `'dropped'` events (outbox policy, or close). */
    readonly dropped: number;
    /** queued − delivered − dropped: neither delivered nor reported. */
    readonly unaccounted: number;
  };
  /** `status$` reconnects counter at the end. */
  readonly reconnects: number;
  /** Reconnects by cause: the error's name, or `'server request'`. */
  readonly reconnectCauses: Readonly<Record<string, number>>;
  /** Reconnects by cause with details (close code, system error). */
  readonly reconnectDetails: Readonly<Record<string, number>>;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly faultsInjected: number;
  /** `'gap'` events on `events$` (none expected: the server's log covers every resume). */
  readonly gapEvents: number;
  readonly connectionsAccepted: number;
  /** No message lost, duplicated or out of order, and every send accounted for. */
  readonly ok: boolean;
}

interface Counter {
  readonly channel: string;
  delivered: number;
  duplicated: number;
  outOfOrder: number;
  last: number;
  readonly seen: Set<number>;
}

function causeOf(cause: unknown): { name: string; detail: string } {
  if (cause === undefined) return { name: 'server request', detail: 'server request' };
  const name = (cause as { name?: unknown } | null)?.name;
  const label = typeof name === 'string' ? name : 'unknown';
  if (!isConnectionClosedError(cause)) return { name: label, detail: label };
  const system = (cause.cause as { code?: unknown } | undefined)?.code;
  const extra = typeof system === 'string' ? ` ${system}` : cause.reason ? ` "${cause.reason}"` : '';
  return { name: label, detail: `${label} ${cause.code}${extra}` };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What the live line says about the server while a fault plays. */
const SERVER_STATE: Record<FaultKind, string> = {
  drop: 'dropping',
  freeze: 'frozen',
  restart: 'restarting',
  refuse: 'refusing',
  slowstart: 'slow start',
};

const list = (record: Readonly<Record<string, number>>): string =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${number(n)}`)
    .join(', ') || 'none';

/** Runs the demo for about `seconds` (plus a short drain), prints as it goes, returns the tally. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoTally> {
  const seconds = options.seconds ?? 30;
  const seed = options.seed ?? 1;
  if (!(seconds > 0 && seconds <= 86_400)) throw new RangeError('runDemo: seconds must be in (0, 86400]');
  if (!Number.isInteger(seed)) throw new RangeError('runDemo: seed must be an integer');
  const screen = new Screen(options.out ?? process.stdout, options.env ?? process.env);

  // Separate seeded streams, so that the fault schedule does not depend on I/O timing.
  const schedule = mulberry32(seed);
  const prices = mulberry32(seed ^ 0x51ed270b);
  const jitter = mulberry32(seed ^ 0x9e3779b9);
  const server = new UnstableServer({ random: mulberry32(seed ^ 0x2545f491) });

  const startedAt = performance.now();
  const elapsed = () => (performance.now() - startedAt) / 1000;
  const stamp = (): Segment => [`${elapsed().toFixed(1).padStart(6)}s  `, 'dim'];

  // ---- timers that all end with the run ------------------------------------------------
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  const wakeups = new Set<() => void>();
  /** Sleeps `ms`, or less if the run is stopping. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        timers.delete(timer);
        wakeups.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timers.add(timer);
      wakeups.add(done);
    });
  const stop = () => {
    stopping = true;
    for (const wake of [...wakeups]) wake();
  };
  /** Polls until `done()` or `boundMs` passed (not shortened by stopping). */
  const until = async (done: () => boolean, boundMs: number): Promise<boolean> => {
    const bound = performance.now() + boundMs;
    while (!done()) {
      if (performance.now() > bound) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, 10);
        timers.add(timer);
      });
    }
    return true;
  };
  const every = (ms: number, run: () => void): NodeJS.Timeout => {
    const timer = setInterval(run, ms);
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout) => {
    clearInterval(timer);
    timers.delete(timer);
  };
  options.signal?.addEventListener('abort', stop, { once: true });

  // ---- counters ----------------------------------------------------------------------
  const counters = new Map<string, Counter>(
    TICKERS.map((channel) => [channel, { channel, delivered: 0, duplicated: 0, outOfOrder: 0, last: 0, seen: new Set<number>() }]),
  );
  let sendsQueued = 0;
  let sendsDropped = 0;
  let gapEvents = 0;
  const reconnectCauses: Record<string, number> = {};
  const reconnectDetails: Record<string, number> = {};
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  let faultsInjected = 0;
  let currentFault: FaultKind | undefined;
  let phase: 'running' | 'draining' | 'done' = 'running';
  let status: SocketStatus = { state: 'idle', reconnects: 0, buffered: 0, dropped: 0 };
  let attempt = 0;
  let lastResumed: boolean | undefined;
  let spin = 0;

  const published = () => TICKERS.reduce((n, t) => n + server.published(t), 0);
  const delivered = () => [...counters.values()].reduce((n, c) => n + c.delivered, 0);
  const unique = () => [...counters.values()].reduce((n, c) => n + c.seen.size, 0);

  // ---- the status line ---------------------------------------------------------------
  // Most telling first, so that a narrow terminal cuts the least useful end.
  const statusSegments = (): Segment[] => {
    const s = status;
    const spinner = '◐◓◑◒'[spin++ % 4]!;
    const head: Segment[] =
      s.state === 'open'
        ? [[' ● open ', 'green']]
        : s.state === 'reconnecting'
          ? [[` ${spinner} reconnecting, attempt ${s.attempt}, next retry in ${Math.max(0, Math.round(s.nextAttemptAt - Date.now()))} ms `.padEnd(49), 'yellow']]
          : s.state === 'connecting'
            ? [[` ${spinner} connecting${attempt > 0 ? `, attempt ${attempt}` : ''} `, 'cyan']]
            : [[` ○ ${s.state} `, 'dim']];
    return [
      ...head,
      ['│ delivered ', 'dim'],
      [number(delivered()), 'bold'],
      [` of ${number(published())} `],
      ['│ reconnects ', 'dim'],
      [`${number(s.reconnects)} `, 'bold'],
      ['│ buffered sends ', 'dim'],
      [`${s.buffered} `, s.buffered > 0 ? 'yellow' : 'bold'],
      ['│ server ', 'dim'],
      currentFault ? [`${SERVER_STATE[currentFault]} `, 'magenta'] : ['ok ', 'green'],
      ['│ ', 'dim'],
      [phase === 'draining' ? 'draining' : `${elapsed().toFixed(1)}/${seconds} s`, 'dim'],
    ];
  };
  const plainStatus = (): Segment[] => {
    const s = status;
    const state =
      s.state === 'reconnecting'
        ? `reconnecting, attempt ${s.attempt}, next retry in ${Math.max(0, Math.round(s.nextAttemptAt - Date.now()))} ms`
        : s.state === 'connecting' && attempt > 0
          ? `connecting, attempt ${attempt}`
          : s.state;
    return [
      stamp(),
      ['status   '],
      [
        `${state} | delivered ${number(delivered())} of ${number(published())} | reconnects ${s.reconnects} | ` +
          `buffered sends ${s.buffered} | server ${currentFault ? SERVER_STATE[currentFault] : 'ok'}${phase === 'draining' ? ' | draining' : ''}`,
      ],
    ];
  };
  const redraw = () => {
    if (screen.live && phase !== 'done') screen.setStatus(statusSegments());
  };
  const renderTimer = screen.live ? every(LIVE_STATUS_EVERY_MS, redraw) : every(PLAIN_STATUS_EVERY_MS, () => screen.line(...plainStatus()));

  /** Undone in reverse order when the run ends, however it ends: nothing is left open. */
  const closers: Array<() => unknown> = [];
  try {
    screen.line(
      ['rxtether demo', 'bold'],
      [`  seed ${seed}, ${seconds} s: a createSocket client and an unstable server in one process${screen.live ? ' (Ctrl-C ends early)' : ''}`, 'dim'],
    );

    // ---- the server and the client -----------------------------------------------------
    closers.push(() => server.close());
    await server.listen();
    screen.line(stamp(), ['server   ', 'magenta'], [`listening on ${server.url}: ${TICKERS.join(', ')}, ~${1000 / PUBLISH_EVERY_MS} msg/s`]);

    let session: string | undefined;
    const socket = createSocket<ServerFrame, ClientFrame>({
      url: server.url,
      WebSocketCtor: WebSocket,
      openTimeout: OPEN_TIMEOUT,
      session: {
        hello: () => [{ type: 'hello', ...(session !== undefined ? { session } : {}) }],
        isReady: (m) => {
          if (m.type !== 'ready') return false;
          session = m.session;
          lastResumed = m.resumed;
          return true;
        },
        isResumed: (m) => m.type === 'ready' && m.resumed,
        timeout: SESSION_TIMEOUT,
      },
      heartbeat: { ...HEARTBEAT, message: () => ({ type: 'ping' }) },
      backoff: BACKOFF,
      ack: {
        idOf: (m) => (m.type === 'order' ? m.id : undefined),
        ackOf: (m) => (m.type === 'ack' ? m.id : undefined),
      },
      random: jitter,
    });
    closers.push(() => socket.close());

    const statusSub = socket.status$.subscribe((s) => {
      const previous = status;
      status = s;
      redraw();
      if (s.state === 'reconnecting' && s.reconnects > previous.reconnects) {
        attempt = s.attempt;
        const { name, detail } = causeOf(s.cause);
        reconnectCauses[name] = (reconnectCauses[name] ?? 0) + 1;
        reconnectDetails[detail] = (reconnectDetails[detail] ?? 0) + 1;
        screen.line(stamp(), ['client   ', 'cyan'], [`${detail}: reconnect attempt ${s.attempt} in ${Math.round(s.delay)} ms`]);
      } else if (s.state === 'open' && previous.state !== 'open') {
        attempt = 0;
        screen.line(
          stamp(),
          ['client   ', 'cyan'],
          ['open', 'green'],
          [lastResumed ? `, session ${session} resumed` : `, new session ${session}`],
        );
      } else if (s.state === 'closed' && s.reason === 'error') {
        screen.line(stamp(), ['client   ', 'red'], [`closed by an error: ${String(s.error)}`, 'red']);
      }
    });
    const eventsSub = socket.events$.subscribe((e) => {
      if (e.type === 'dropped') sendsDropped++;
      else if (e.type === 'gap') {
        gapEvents++;
        screen.line(stamp(), ['client   ', 'red'], [`gap on ${e.channel ?? 'the connection'}: ${e.error.message}`, 'red']);
      } else if (e.type !== 'unconfirmed') {
        screen.line(stamp(), ['client   ', 'red'], [`${e.type}: ${String(e.error)}`, 'red']);
      }
    });

    const ticker = (name: string): ChannelSpec<ServerFrame, ClientFrame, TickMsg> => ({
      key: name,
      // No position yet: from the start of the log (`after: 0`), so that nothing published
      // before the first subscribe reached the server is skipped.
      subscribe: (after) => ({ type: 'subscribe', channel: name, after: after === undefined ? 0 : Number(after) }),
      unsubscribe: () => ({ type: 'unsubscribe', channel: name }),
      matches: (m) => m.type === 'msg' && m.channel === name,
      cursorOf: (m) => (m.type === 'msg' ? m.seq : undefined),
      isNext: isNextInSequence,
      project: (m) => m as TickMsg,
    });
    closers.push(() => statusSub.unsubscribe(), () => eventsSub.unsubscribe());
    const channelSubs = TICKERS.map((name) => {
      const counter = counters.get(name)!;
      return socket.channel(ticker(name)).subscribe({
        next: (msg) => {
          counter.delivered++;
          if (counter.seen.has(msg.seq)) counter.duplicated++;
          else {
            if (msg.seq !== counter.last + 1) counter.outOfOrder++;
            counter.seen.add(msg.seq);
          }
          counter.last = Math.max(counter.last, msg.seq);
        },
        error: (error: unknown) => screen.line(stamp(), ['client   ', 'red'], [`${name} ended: ${String(error)}`, 'red']),
      });
    });

    closers.push(() => channelSubs.forEach((sub) => sub.unsubscribe()));

    // The server publishes; the client sends orders.
    const price = new Map<string, number>(TICKERS.map((t, i) => [t, [64_000, 3_100, 140][i]!]));
    const publisher = every(PUBLISH_EVERY_MS, () => {
      const name = TICKERS[Math.floor(prices() * TICKERS.length)]!;
      const next = Math.round(price.get(name)! * (1 + (prices() - 0.5) / 500) * 100) / 100;
      price.set(name, next);
      server.publish(name, { price: next });
    });
    const orders = every(ORDER_EVERY_MS, () => {
      sendsQueued++;
      socket.send({ type: 'order', id: `order-${sendsQueued}`, ticker: TICKERS[sendsQueued % TICKERS.length]!, qty: 1 });
    });

    // ---- the fault schedule ------------------------------------------------------------
    // Short runs compress the durations and gaps (down to 0.3×), so that a few seconds still
    // show several kinds of faults. Every round plays each kind once, in a seeded order.
    const pace = Math.min(1, Math.max(0.3, seconds / 30));
    const runEnd = seconds * 1000;
    const lastFaultAt = runEnd - 2_500 * pace; // a fault may outlast its start by a few seconds
    const faultLoop = (async () => {
      let order: FaultKind[] = [];
      while (!stopping) {
        // Wait for the client to be back, then let it run a while.
        const back = await until(() => stopping || server.readyConnections > 0, RECOVERY_BOUND_MS);
        if (!back) screen.line(stamp(), ['server   ', 'red'], [`no client came back within ${RECOVERY_BOUND_MS} ms`, 'red']);
        await pause(Math.round((500 + schedule() * 1_500) * pace));
        if (stopping || performance.now() - startedAt > lastFaultAt) return;
        if (server.readyConnections === 0) continue;
        if (order.length === 0) order = shuffled(FAULT_KINDS, schedule);
        const kind = order.shift()!;
        currentFault = kind;
        faults[kind]++;
        faultsInjected++;
        redraw();
        await server.inject(kind, {
          r: schedule(),
          pace,
          note: (line) => screen.line(stamp(), ['fault    ', 'magenta'], [kind.padEnd(10), 'magenta'], [line]),
        });
        currentFault = undefined;
        redraw();
      }
    })();

    // ---- run, stop, drain, close -------------------------------------------------------
    if (!stopping) await pause(runEnd);
    stop();
    cancel(publisher);
    cancel(orders);
    phase = 'draining';
    screen.line(stamp(), ['demo     ', 'bold'], ['publishing stopped; waiting for the client to catch up']);
    server.hurry(); // a fault under way ends now
    await faultLoop;
    const caughtUp = () =>
      TICKERS.every((t) => counters.get(t)!.seen.size >= server.published(t)) &&
      new Set(server.orderIds).size + sendsDropped >= sendsQueued;
    const drained = await until(caughtUp, DRAIN_BOUND_MS);
    if (!drained) screen.line(stamp(), ['demo     ', 'red'], [`not caught up after ${DRAIN_BOUND_MS} ms`, 'red']);
  } finally {
    stop();
    server.hurry();
    phase = 'done';
    for (const close of closers.reverse()) await close();
    cancel(renderTimer);
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    options.signal?.removeEventListener('abort', stop);
    screen.end();
  }

  // ---- the tally ---------------------------------------------------------------------
  const perChannel: ChannelTally[] = TICKERS.map((t) => {
    const c = counters.get(t)!;
    const pub = server.published(t);
    return { channel: t, published: pub, delivered: c.delivered, lost: pub - c.seen.size, duplicated: c.duplicated, outOfOrder: c.outOfOrder };
  });
  const sum = (key: 'published' | 'delivered' | 'lost' | 'duplicated' | 'outOfOrder') => perChannel.reduce((n, c) => n + c[key], 0);
  const distinctOrders = new Set(server.orderIds).size;
  const sends = {
    queued: sendsQueued,
    delivered: distinctOrders,
    resent: server.orderIds.length - distinctOrders,
    dropped: sendsDropped,
    unaccounted: sendsQueued - distinctOrders - sendsDropped,
  };
  const tally: DemoTally = {
    seed,
    seconds,
    wallSeconds: Math.round(elapsed() * 10) / 10,
    published: sum('published'),
    delivered: sum('delivered'),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    outOfOrder: sum('outOfOrder'),
    perChannel,
    overlapResent: server.overlapSent,
    sends,
    reconnects: status.reconnects,
    reconnectCauses,
    reconnectDetails,
    faults,
    faultsInjected,
    gapEvents,
    connectionsAccepted: server.accepted,
    ok: sum('lost') === 0 && sum('duplicated') === 0 && sum('outOfOrder') === 0 && sends.unaccounted === 0,
  };
  printTally(screen, tally, unique());
  return tally;
}

function printTally(screen: Screen, t: DemoTally, uniqueDelivered: number): void {
  const zero = (n: number): Segment => [number(n), n === 0 ? 'green' : 'red'];
  const label = (text: string): Segment => [`  ${text.padEnd(11)}`, 'bold'];
  const pad = (): Segment => [''.padEnd(13)];
  screen.line();
  screen.line(['tally', 'bold'], [` after ${t.wallSeconds} s (seed ${t.seed}; counted on both sides)`, 'dim']);
  screen.line(label('messages'), [`published ${number(t.published)} (server) | delivered ${number(t.delivered)} (client, ${number(uniqueDelivered)} distinct)`]);
  screen.line(pad(), ['lost '], zero(t.lost), [' | duplicated '], zero(t.duplicated), [' | out of order '], zero(t.outOfOrder), [` | gaps reported ${t.gapEvents}`]);
  screen.line(pad(), [t.perChannel.map((c) => `${c.channel} ${number(c.delivered)}/${number(c.published)}`).join(' | '), 'dim'], [' (delivered/published)', 'dim']);
  screen.line(pad(), [`re-sent by the server on resume though already delivered (the client drops them): ${number(t.overlapResent)}`, 'dim']);
  screen.line(
    label('sends'),
    [`queued ${number(t.sends.queued)} (client) | delivered ${number(t.sends.delivered)} (server, distinct ids) | `],
    [`re-sent ${number(t.sends.resent)} | dropped ${number(t.sends.dropped)} | unaccounted `],
    zero(t.sends.unaccounted),
  );
  screen.line(label('reconnects'), [`${number(t.reconnects)}: ${list(t.reconnectCauses)}`]);
  screen.line(pad(), [list(t.reconnectDetails), 'dim']);
  screen.line(label('faults'), [`${number(t.faultsInjected)}: ${list(t.faults)}`]);
  screen.line(label('server'), [`${number(t.connectionsAccepted)} connections accepted`]);
  screen.line();
  if (t.ok) screen.line(['  ✔ nothing lost, nothing duplicated, every send accounted for', 'green']);
  else screen.line(['  ✘ delivery was not exactly once: see the red numbers above', 'red']);
}

function parseArgs(argv: readonly string[]): { seconds?: number; seed?: number; help?: boolean } {
  const out: { seconds?: number; seed?: number; help?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--seconds') out.seconds = value();
    else if (flag === '--seed') out.seed = value();
    else if (flag === '--help' || flag === '-h') out.help = true;
    else throw new RangeError(`unknown argument ${arg} (try --help)`);
  }
  return out;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
    if (args.seconds !== undefined && !(args.seconds > 0 && args.seconds <= 86_400)) throw new RangeError('--seconds must be in (0, 86400]');
    if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new RangeError('--seed must be an integer');
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: npm run demo -- [--seconds 30] [--seed 1]`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    console.log('usage: npm run demo -- [--seconds 30] [--seed 1]');
    return;
  }
  // Ctrl-C ends the run early; the tally is still printed.
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const tally = await runDemo({ ...args, signal: controller.signal });
    process.exitCode = tally.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
