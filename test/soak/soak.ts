/**
 * The soak run: one `createSocket` client (session, per-channel resume, acks, app heartbeat,
 * jittered backoff) against the rig's protocol server behind the fault proxy, while the server
 * publishes `messages` messages over `channels` channels and a seeded schedule injects `faults`
 * transport faults, cycling through every kind:
 *
 * - `reset`     proxy RSTs both sides of the live connection
 * - `end`       proxy sends FIN both ways, no close frame
 * - `blackhole` proxy discards both directions (TCP kept open) until the client's heartbeat
 *               gives up on the silent connection, then passes again
 * - `freeze`    the server freezes the live connection (reads nothing, holds its output) until
 *               the client's heartbeat gives up on it, then thaws it
 * - `restart`   the server closes with 1001, stops listening, restarts on the same port
 * - `refuse`    the proxy stops listening (ECONNREFUSED) for a while, then listens again
 *
 * Messages are published while each fault is active too (they must come back by resume).
 * The schedule is sequential and deterministic for a seed: publish up to the fault's position,
 * inject it, wait for the client to be `open` again, go on. Only the exact timing of I/O
 * varies between runs.
 *
 * Every message's `data` is a unique id `channel:seq:epoch`, so the client side counts, per
 * channel, what was delivered, lost, duplicated and out of order. Client `send`s (one per 100
 * messages received) are counted at the server (acks on: at-least-once, so duplicates at the
 * server are expected and reported separately).
 */
import { WebSocket } from 'ws';
import {
  type ChannelSpec,
  type SocketEvent,
  type SocketStatus,
  createSocket,
  isNextInSequence,
} from '../../src/index.js';
import { type FaultProxy, startFaultProxy } from '../helpers/faultProxy.js';
import {
  type ClientFrame,
  type MsgFrame,
  type ProtocolServer,
  type ServerFrame,
  startProtocolServer,
} from '../helpers/protocolServer.js';

export const FAULT_KINDS = ['reset', 'end', 'blackhole', 'freeze', 'restart', 'refuse'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SoakOptions {
  /** Messages the server publishes, over all channels. */
  messages: number;
  /** Faults injected, spread over the run, kinds cycling through {@link FAULT_KINDS}. */
  faults: number;
  /** Seeds the schedule (positions, channels, fault durations) and the client's jitter. */
  seed: number;
  /** Channels the messages are spread over. @defaultValue 4 */
  channels?: number;
  /** One line per fault, plus anomalies. */
  log?: (line: string) => void;
  /** Hard bound on the whole run; past it `runSoak` throws. @defaultValue 600 */
  maxSeconds?: number;
}

export interface ChannelTally {
  readonly channel: string;
  readonly published: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
}

export interface SoakReport {
  readonly seed: number;
  readonly published: number;
  /** Deliveries to the client's channel subscribers (duplicates included). */
  readonly delivered: number;
  /** Published, never delivered. */
  readonly lost: number;
  /** Deliveries of a message already delivered. */
  readonly duplicated: number;
  /** First deliveries that were not the next seq of their channel (or carried a wrong epoch or channel). */
  readonly outOfOrder: number;
  readonly perChannel: readonly ChannelTally[];
  readonly sends: {
    /** `socket.send` calls. */
    readonly queued: number;
    /** Distinct ids the server received. */
    readonly delivered: number;
    /** `'dropped'` events (outbox policy). */
    readonly droppedByPolicy: number;
    /** Extra copies received by the server (at-least-once re-sends): expected, not an error. */
    readonly duplicatedAtServer: number;
    /** queued − delivered − dropped: neither delivered nor reported. Must be 0. */
    readonly unaccounted: number;
  };
  /** `status$` `reconnects` counter at the end. */
  readonly reconnects: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly faultsInjected: number;
  /** Slowest detection of a silent connection (blackhole, freeze), from fault to `reconnecting`. */
  readonly maxDetectionMs: number;
  /** Slowest recovery, from fault to `open` again. */
  readonly maxRecoveryMs: number;
  /** Reconnects by the name of their cause (`server-request` when there was none). */
  readonly reconnectCauses: Readonly<Record<string, number>>;
  /** Reconnects scheduled while no fault was being injected or recovered from (false alarms). */
  readonly unprovokedReconnects: number;
  /** `'gap'` events on `events$` (none expected: the server keeps its epoch and history). */
  readonly gapEvents: number;
  /** The server's epoch at the end (1: no session was ever refused). */
  readonly serverEpoch: number;
  readonly connectionsAccepted: number;
  /** TCPSocketWrap + TCPServerWrap + Timeout handles still active after close, above the baseline. */
  readonly leakedHandles: number;
  readonly leakedDetail: Readonly<Record<string, number>>;
  readonly wallSeconds: number;
}

// ---- seeded randomness ---------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- handles ------------------------------------------------------------------------------

const COUNTED_HANDLES = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'] as const;

function countHandles(): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(COUNTED_HANDLES.map((k) => [k, 0]));
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]!++;
  return counts;
}

function handlesAbove(baseline: Record<string, number>): Record<string, number> {
  const now = countHandles();
  const above: Record<string, number> = {};
  for (const kind of COUNTED_HANDLES) {
    const extra = now[kind]! - baseline[kind]!;
    if (extra > 0) above[kind] = extra;
  }
  return above;
}

const sum = (record: Readonly<Record<string, number>>): number => Object.values(record).reduce((a, b) => a + b, 0);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

// ---- the run ------------------------------------------------------------------------------

const BURST = 500; // messages per publish burst
const WINDOW = 4_000; // at most this many published and not yet seen by the client
const SEND_EVERY = 100; // one client send per this many messages received
const HEARTBEAT = { interval: 50, timeout: 150 } as const;
const DETECTION_BOUND_MS = 5_000; // a silent connection must be noticed well within this
const RECOVERY_BOUND_MS = 15_000;
const DRAIN_BOUND_MS = 10_000;
const QUIET_MS = 250; // > backoff maxDelay (100 ms)

interface ChannelCounter {
  readonly name: string;
  published: number;
  delivered: number;
  duplicated: number;
  outOfOrder: number;
  unique: number;
  /** Highest seq delivered. */
  high: number;
  /** Last seq delivered (for ordering). */
  last: number;
  seen: Uint8Array;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { messages, faults, seed } = options;
  const channelCount = options.channels ?? 4;
  const log = options.log ?? (() => {});
  const maxSeconds = options.maxSeconds ?? 600;
  if (!Number.isInteger(messages) || messages < 1) throw new RangeError('runSoak: messages must be an integer >= 1');
  if (!Number.isInteger(faults) || faults < 0) throw new RangeError('runSoak: faults must be an integer >= 0');
  if (!Number.isInteger(channelCount) || channelCount < 1) throw new RangeError('runSoak: channels must be an integer >= 1');

  const startedAt = performance.now();
  const deadline = startedAt + maxSeconds * 1000;
  const schedule = mulberry32(seed);
  const jitter = mulberry32((seed ^ 0x9e3779b9) >>> 0);

  const baseline = countHandles();

  const counters: ChannelCounter[] = Array.from({ length: channelCount }, (_, i) => ({
    name: `ch${i}`,
    published: 0,
    delivered: 0,
    duplicated: 0,
    outOfOrder: 0,
    unique: 0,
    high: 0,
    last: 0,
    seen: new Uint8Array(messages + 2),
  }));
  let published = 0;
  let progress = 0; // sum of the channels' highest delivered seq: never stalls on a loss
  let received = 0;
  let sendsQueued = 0;
  let droppedByPolicy = 0;
  let gapEvents = 0;
  const faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  let faultsInjected = 0;
  let maxDetectionMs = 0;
  let maxRecoveryMs = 0;

  let server: ProtocolServer | undefined;
  let proxy: FaultProxy | undefined;
  let socket: ReturnType<typeof createSocket<ServerFrame, ClientFrame>> | undefined;
  const subscriptions: Array<{ unsubscribe(): void }> = [];

  const checkDeadline = (what: string): void => {
    if (performance.now() <= deadline) return;
    throw new Error(
      `soak: exceeded maxSeconds=${maxSeconds} while ${what} ` +
        `(published ${published}/${messages}, progress ${progress}, faults ${faultsInjected}/${faults}, client ${state})`,
    );
  };

  // Client status, followed synchronously.
  let state: SocketStatus['state'] = 'idle';
  let opens = 0;
  let reconnects = 0;
  let onLeaveOpen: (() => void) | undefined;
  let faultActive = false;
  let unprovokedReconnects = 0;
  const reconnectCauses: Record<string, number> = {};

  /** Waits (bounded) until `done()`, polling every `ms`. */
  const until = async (done: () => boolean, what: string, boundMs: number, ms = 1): Promise<boolean> => {
    const bound = performance.now() + boundMs;
    while (!done()) {
      checkDeadline(what);
      if (performance.now() > bound) return false;
      await sleep(ms);
    }
    return true;
  };

  try {
    server = await startProtocolServer({ historyLimit: messages + 1, ack: true });
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } });
    const epoch = server.epoch();

    let session: string | undefined;
    socket = createSocket<ServerFrame, ClientFrame>({
      url: proxy.url,
      WebSocketCtor: WebSocket,
      openTimeout: 2_000,
      session: {
        hello: () => [{ type: 'hello', ...(session !== undefined ? { session } : {}) }],
        isReady: (m) => {
          if (m.type !== 'ready') return false;
          session = m.session;
          return true;
        },
        isResumed: (m) => m.type === 'ready' && m.resumed,
        timeout: 2_000,
      },
      heartbeat: { ...HEARTBEAT, message: () => ({ type: 'ping' }) },
      backoff: { initialDelay: 5, maxDelay: 100, jitter: 'full' },
      ack: { idOf: (m) => (m.type === 'publish' ? m.id : undefined), ackOf: (m) => (m.type === 'ack' ? m.id : undefined) },
      random: jitter,
    });
    const client = socket;

    client.status$.subscribe((s) => {
      const previous = state;
      state = s.state;
      if (s.state === 'reconnecting' && s.reconnects > reconnects) {
        const cause = s.cause === undefined ? 'server-request' : ((s.cause as { name?: string } | null)?.name ?? 'unknown');
        reconnectCauses[cause] = (reconnectCauses[cause] ?? 0) + 1;
        if (!faultActive) {
          unprovokedReconnects++;
          log(`unprovoked reconnect (${cause}) at ${published} published, no fault active`);
        }
      }
      reconnects = s.reconnects;
      if (s.state === 'open' && previous !== 'open') opens++;
      if (previous === 'open' && s.state !== 'open' && onLeaveOpen) {
        const hook = onLeaveOpen;
        onLeaveOpen = undefined;
        hook();
      }
    });
    client.events$.subscribe((e: SocketEvent<ClientFrame>) => {
      if (e.type === 'dropped') droppedByPolicy++;
      else if (e.type === 'gap') {
        gapEvents++;
        log(`gap event on ${e.channel ?? '(connection)'}: ${e.error.kind} ${String(e.error.previous)} -> ${String(e.error.received)}`);
      }
    });

    const topic = (name: string): ChannelSpec<ServerFrame, ClientFrame, MsgFrame> => ({
      key: name,
      // No position yet: `after: 0`, i.e. from the first message (without `after` the server
      // sends live messages only, and whatever was published before the subscribe arrived
      // would be skipped by design, not lost by a fault).
      subscribe: (after) => ({ type: 'subscribe', channel: name, after: after === undefined ? 0 : Number(after) }),
      unsubscribe: () => ({ type: 'unsubscribe', channel: name }),
      matches: (m) => m.type === 'msg' && m.channel === name,
      cursorOf: (m) => (m.type === 'msg' ? m.seq : undefined),
      isNext: isNextInSequence,
      isRejection: (m) => m.type === 'rejected' && m.channel === name,
      project: (m) => m as MsgFrame,
    });

    const expectedEpoch = String(epoch);
    counters.forEach((counter) => {
      subscriptions.push(
        client.channel(topic(counter.name)).subscribe({
          next: (msg) => {
            counter.delivered++;
            const [name, seqText, epochText] = String(msg.data).split(':');
            const seq = Number(seqText);
            const valid = name === counter.name && epochText === expectedEpoch && seq === msg.seq && seq >= 1 && seq <= messages;
            if (!valid) counter.outOfOrder++;
            else if (counter.seen[seq] === 1) counter.duplicated++;
            else {
              counter.seen[seq] = 1;
              counter.unique++;
              if (seq !== counter.last + 1) counter.outOfOrder++;
              if (seq > counter.high) {
                progress += seq - counter.high;
                counter.high = seq;
              }
            }
            if (valid) counter.last = seq;
            received++;
            if (received % SEND_EVERY === 0) {
              sendsQueued++;
              client.send({ type: 'publish', id: `s${sendsQueued}`, channel: 'client', data: sendsQueued });
            }
          },
          error: (error: unknown) => log(`channel ${counter.name} errored: ${String(error)}`),
        }),
      );
    });

    const srv = server;
    const prx = proxy;

    /** Publishes `n` messages (fewer if the total is reached), on seeded random channels. */
    const publishNow = (n: number): void => {
      const count = Math.min(n, messages - published);
      for (let i = 0; i < count; i++) {
        const counter = counters[Math.floor(schedule() * channelCount)]!;
        const seq = counter.published + 1;
        const msg = srv.publish(counter.name, `${counter.name}:${seq}:${srv.epoch()}`);
        if (msg.seq !== seq) throw new Error(`soak: server seq ${msg.seq} on ${counter.name}, expected ${seq}`);
        counter.published = seq;
        published++;
      }
    };

    /** Publishes in bursts up to `target`, at most WINDOW ahead of the client. */
    const publishUntil = async (target: number): Promise<void> => {
      while (published < Math.min(target, messages)) {
        checkDeadline('publishing');
        const room = WINDOW - (published - progress);
        if (room <= 0) {
          await sleep(1);
          continue;
        }
        publishNow(Math.min(BURST, room, target - published));
        await breathe();
      }
    };

    /** Drops the rig's records of past connections, which would otherwise grow all run long. */
    const forgetConnections = (): void => {
      while (srv.connections.size > 0) void srv.connections.next();
      while (srv.upgrades.size > 0) void srv.upgrades.next();
      while (prx.connectionsQueue.size > 0) void prx.connectionsQueue.next();
    };

    /** Resolves once the client left `open` (the fault was noticed); bounded. */
    const noticed = (): { promise: Promise<void>; at: () => number } => {
      let at = 0;
      let resolve: () => void = () => {};
      const promise = new Promise<void>((r) => (resolve = r));
      onLeaveOpen = () => {
        at = performance.now();
        resolve();
      };
      return { promise, at: () => at };
    };

    const waitNoticed = async (signal: { promise: Promise<void>; at: () => number }, kind: FaultKind): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        signal.promise.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.min(DETECTION_BOUND_MS, deadline - performance.now())))),
      ]);
      clearTimeout(timer);
      if (!ok) {
        onLeaveOpen = undefined;
        checkDeadline(`waiting for the client to notice a ${kind}`);
        throw new Error(`soak: the client did not notice a ${kind} within ${DETECTION_BOUND_MS} ms (state ${state})`);
      }
    };

    const inject = async (kind: FaultKind, during: number): Promise<void> => {
      const t0 = performance.now();
      switch (kind) {
        case 'reset':
          prx.reset();
          publishNow(during);
          return;
        case 'end':
          prx.end();
          publishNow(during);
          return;
        case 'blackhole': {
          // Pass again as soon as the client gives up on the silent connection, before it can
          // dial again (the proxy's mode applies to new connections too).
          const signal = noticed();
          const previous = onLeaveOpen!;
          onLeaveOpen = () => {
            prx.pass();
            previous();
          };
          prx.blackhole();
          publishNow(during); // written by the server, discarded by the proxy
          await waitNoticed(signal, kind);
          maxDetectionMs = Math.max(maxDetectionMs, signal.at() - t0);
          return;
        }
        case 'freeze': {
          const signal = noticed();
          const frozen = srv.live();
          for (const conn of frozen) conn.freeze();
          publishNow(during); // held by the frozen connection
          await waitNoticed(signal, kind);
          maxDetectionMs = Math.max(maxDetectionMs, signal.at() - t0);
          for (const conn of frozen) conn.thaw();
          return;
        }
        case 'restart':
          await srv.stop({ code: 1001, reason: 'restart' });
          publishNow(during);
          await srv.start();
          return;
        case 'refuse':
          await prx.down();
          publishNow(during);
          await sleep(20 + Math.floor(schedule() * 100));
          await prx.up();
          return;
      }
    };

    // Positions (in messages published) at which the faults are injected.
    const positions = Array.from({ length: faults }, (_, i) => Math.floor((messages * (i + 0.25 + 0.5 * schedule())) / faults));

    if (!(await until(() => state === 'open', 'connecting', RECOVERY_BOUND_MS))) {
      throw new Error(`soak: the client never opened (state ${state})`);
    }

    for (let i = 0; i < faults; i++) {
      await publishUntil(positions[i]!);
      if (!(await until(() => state === 'open', 'waiting for open before a fault', RECOVERY_BOUND_MS))) {
        throw new Error(`soak: the client is not open before fault ${i + 1} (state ${state})`);
      }
      const kind = FAULT_KINDS[i % FAULT_KINDS.length]!;
      const during = Math.floor(schedule() * BURST);
      const opensBefore = opens;
      const t0 = performance.now();
      faultActive = true;
      await inject(kind, during);
      faultCounts[kind]++;
      faultsInjected++;
      const recovered = await until(() => opens > opensBefore && state === 'open', `recovering from ${kind}`, RECOVERY_BOUND_MS);
      if (!recovered) throw new Error(`soak: no recovery from fault ${i + 1} (${kind}) within ${RECOVERY_BOUND_MS} ms (state ${state})`);
      faultActive = false;
      const recoveryMs = performance.now() - t0;
      maxRecoveryMs = Math.max(maxRecoveryMs, recoveryMs);
      forgetConnections();
      log(
        `fault ${i + 1}/${faults} ${kind.padEnd(9)} at ${published} published: recovered in ${recoveryMs.toFixed(0)} ms, ` +
          `${reconnects} reconnects, ${((performance.now() - startedAt) / 1000).toFixed(1)} s`,
      );
    }
    await publishUntil(messages);

    // Drain: every message seen, every send delivered or reported (bounded: a loss never ends).
    const uniqueDelivered = () => counters.reduce((n, c) => n + c.unique, 0);
    const sendsSettled = () => new Set(srv.receivedPublishIds()).size + droppedByPolicy >= sendsQueued;
    const drained = await until(() => uniqueDelivered() >= published, 'draining messages', DRAIN_BOUND_MS, 5);
    if (!drained) log(`drain: ${published - uniqueDelivered()} messages still missing after ${DRAIN_BOUND_MS} ms`);
    const settled = await until(sendsSettled, 'draining sends', DRAIN_BOUND_MS, 5);
    if (!settled) log(`drain: client sends not all accounted for after ${DRAIN_BOUND_MS} ms`);
    forgetConnections();

    const ids = srv.receivedPublishIds();
    const distinct = new Set(ids).size;
    const serverEpoch = srv.epoch();
    const connectionsAccepted = srv.accepted();

    // Teardown, then the leak gate.
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    client.close();
    socket = undefined;
    await srv.close();
    await prx.close();
    server = undefined;
    proxy = undefined;
    // Sockets and servers close asynchronously: poll until nothing is above the baseline, then
    // check again after a quiet period longer than the client's longest backoff, so that a
    // reconnect loop caught between two attempts cannot pass for "nothing left".
    let leaked = handlesAbove(baseline);
    const settleBound = performance.now() + 3_000;
    for (;;) {
      while (sum(leaked) > 0 && performance.now() < settleBound) {
        await sleep(10);
        await breathe();
        leaked = handlesAbove(baseline);
      }
      if (sum(leaked) > 0) break;
      await sleep(QUIET_MS);
      await breathe();
      leaked = handlesAbove(baseline);
      if (sum(leaked) === 0 || performance.now() >= settleBound) break;
    }

    const perChannel: ChannelTally[] = counters.map((c) => ({
      channel: c.name,
      published: c.published,
      delivered: c.delivered,
      lost: c.published - c.unique,
      duplicated: c.duplicated,
      outOfOrder: c.outOfOrder,
    }));
    const total = (key: 'published' | 'delivered' | 'lost' | 'duplicated' | 'outOfOrder') =>
      perChannel.reduce((n, c) => n + c[key], 0);
    return {
      seed,
      published: total('published'),
      delivered: total('delivered'),
      lost: total('lost'),
      duplicated: total('duplicated'),
      outOfOrder: total('outOfOrder'),
      perChannel,
      sends: {
        queued: sendsQueued,
        delivered: distinct,
        droppedByPolicy,
        duplicatedAtServer: ids.length - distinct,
        unaccounted: sendsQueued - distinct - droppedByPolicy,
      },
      reconnects,
      faults: faultCounts,
      faultsInjected,
      maxDetectionMs: Math.round(maxDetectionMs),
      maxRecoveryMs: Math.round(maxRecoveryMs),
      reconnectCauses,
      unprovokedReconnects,
      gapEvents,
      serverEpoch,
      connectionsAccepted,
      leakedHandles: sum(leaked),
      leakedDetail: leaked,
      wallSeconds: Math.round((performance.now() - startedAt) / 100) / 10,
    };
  } finally {
    // Only on a failure path: the normal path has already cleared these.
    onLeaveOpen = undefined;
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    socket?.close();
    await server?.close();
    await proxy?.close();
  }
}
