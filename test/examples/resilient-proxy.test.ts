// examples/resilient-proxy (seed 002): the unstable target, the proxy and a witness client,
// all three in this process on 127.0.0.1 port 0 (the target restarts on the port it got).
// The target crashes and freezes; the client must never see a disconnect, and the target must
// have read exactly the set of ids the client sent. Duplicates at the target are allowed: the
// proxy re-sends what was not acked (at least once); each test counts them and logs the count.
// No sleeps: every wait is on an event or a condition.
import { type SocketStatus, isConnectionClosedError, isHeartbeatTimeoutError } from 'rxtether';
import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type ProxyClient, startClient } from '../../examples/resilient-proxy/client.js';
import { runDemo } from '../../examples/resilient-proxy/main.js';
import { type ProxyOptions, type ProxySession, type ResilientProxy, startProxy } from '../../examples/resilient-proxy/proxy.js';
import { type TargetConnection, type UnstableTarget, startUnstableTarget } from '../../examples/resilient-proxy/unstable-target.js';
import { useDisposer } from '../helpers/dispose.js';

const defer = useDisposer();

/** Short timers: a frozen target is noticed within ~170 ms, reconnects wait at most 40 ms. */
const TIMING: Omit<ProxyOptions, 'target'> = { pingInterval: 20, pingTimeout: 150, openTimeout: 500, initialDelay: 5, maxDelay: 40 };

type Reconnecting = Extract<SocketStatus, { state: 'reconnecting' }>;

/** Resolves with the arguments of the next `name` event (from now on) that `test` accepts. */
function when<A extends unknown[]>(emitter: EventEmitter, name: string, test: (...args: A) => boolean = () => true): Promise<A> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!test(...(args as A))) return;
      emitter.off(name, listener);
      resolve(args as A);
    };
    emitter.on(name, listener);
  });
}

/** The next reconnect of `session` whose cause `test` accepts. */
const reconnecting = (proxy: ResilientProxy, session: ProxySession, test: (cause: unknown) => boolean): Promise<Reconnecting> =>
  when<[ProxySession, SocketStatus]>(proxy.events, 'status', (s, status) => s === session && status.state === 'reconnecting' && test(status.cause)).then(
    ([, status]) => status as Reconnecting,
  );

const refused = (cause: unknown): boolean =>
  isConnectionClosedError(cause) && (cause.cause as { code?: unknown } | undefined)?.code === 'ECONNREFUSED';

/** Target reads beyond the first, per id. */
const duplicatesAt = (target: UnstableTarget): number => [...target.received.values()].reduce((sum, n) => sum + n - 1, 0);

/** The target read exactly the ids the clients sent (at least once each), and the clients never lost their socket. */
function expectDelivered(target: UnstableTarget, clients: readonly ProxyClient[], label: string): void {
  const sent = clients.flatMap((c) => c.sent);
  expect(new Set(target.received.keys())).toEqual(new Set(sent));
  for (const client of clients) {
    expect(client.disconnects).toBe(0);
    expect(client.pending).toBe(0);
    // Every ack the client got answers a read at the target (the proxy invents none).
    for (const [id, acks] of client.acked) expect(acks).toBeLessThanOrEqual(target.received.get(id) ?? 0);
  }
  console.info(`${label}: ${sent.length} sent, ${target.received.size} read by the target, ${duplicatesAt(target)} duplicates (at least once)`);
}

async function rig(clientNames: readonly string[] = ['c']) {
  const target = await startUnstableTarget();
  defer(() => target.close());
  const proxy = await startProxy({ target: target.url, ...TIMING });
  defer(() => proxy.close());
  const clients: ProxyClient[] = [];
  const sessions: ProxySession[] = [];
  for (const name of clientNames) {
    const session = when<[ProxySession]>(proxy.events, 'session');
    const client = await startClient({ url: proxy.url, name });
    defer(() => client.close());
    clients.push(client);
    sessions.push((await session)[0]);
  }
  return { target, proxy, clients, sessions };
}

/** Sends `n` messages from `client` and waits until all it ever sent are acked. */
async function sendAndSettle(client: ProxyClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) client.send({ i });
  await client.allAcked();
}

/** Counts the listeners that a per-reconnect leak would grow. */
function listenerCounts(session: ProxySession) {
  const upstream = session.upstreamSocket!;
  const names = ['message', 'close', 'error', 'open', 'ping', 'pong'] as const;
  return {
    upstream: Object.fromEntries(names.map((n) => [n, upstream.listenerCount(n)])),
    downstream: Object.fromEntries(names.map((n) => [n, session.downstream.listenerCount(n)])),
  };
}

const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;

/**
 * TCP handles once the event loop has run its close callbacks: a closed server or socket
 * releases its handle a loop turn after its 'close'. Gives up (and returns the count) after
 * 20 turns: what is still open then is a leak.
 */
async function tcpHandlesSettled(baseline: number): Promise<number> {
  for (let turn = 0; turn < 20 && tcpHandles() > baseline; turn++) await new Promise((resolve) => setImmediate(resolve));
  return tcpHandles();
}

describe('examples/resilient-proxy (seed 002)', () => {
  it.each([
    ['abruptly (no close frame)', false, 1006],
    ['gracefully (close 1001)', true, 1001],
  ])('should keep the client connected and deliver every message when the target crashes %s and restarts on the same port', async (_, graceful, code) => {
    const { target, proxy, clients, sessions } = await rig();
    const [client] = clients as [ProxyClient];
    const [session] = sessions as [ProxySession];
    await sendAndSettle(client, 5);
    const port = target.port;

    const lost = reconnecting(proxy, session, () => true);
    const refusedOnce = reconnecting(proxy, session, refused);
    await target.crash({ graceful });
    for (let i = 0; i < 5; i++) client.send({ while: 'down' }); // held by the proxy
    const first = await lost;
    expect(isConnectionClosedError(first.cause) && first.cause.code).toBe(code);
    await refusedOnce; // the port really was closed: at least one attempt was refused
    await target.restart();
    expect(target.port).toBe(port);
    await client.allAcked();

    expectDelivered(target, clients, `crash ${graceful ? 'graceful' : 'abrupt'}`);
    expect(target.connections).toHaveLength(2); // one upstream before, one after
    expect([...target.live].map((c) => c.session)).toEqual([session.id]);
  });

  it('should detect a frozen target by ping/pong, reconnect, and re-send what it had not acknowledged', async () => {
    const { target, proxy, clients, sessions } = await rig();
    const [client] = clients as [ProxyClient];
    const [session] = sessions as [ProxySession];
    await sendAndSettle(client, 5);
    const [frozen] = [...target.live] as [TargetConnection];

    const timedOut = reconnecting(proxy, session, isHeartbeatTimeoutError);
    target.freeze(); // TCP open; nothing read, acked or ponged
    for (let i = 0; i < 5; i++) client.send({ while: 'frozen' }); // written to the frozen socket, never acked
    await timedOut;
    expect(frozen.received).toHaveLength(5); // those 5 were not read by the frozen target
    target.thaw();
    await client.allAcked();

    expectDelivered(target, clients, 'freeze');
    const sentWhileFrozen = client.sent.slice(5);
    // The thawed connection may still read its backlog (they count as duplicates); either way
    // the replacement connection got every one of them again.
    const replacement = target.connections.filter((c) => c !== frozen && c.received.length > 0);
    expect(replacement.flatMap((c) => c.received)).toEqual(expect.arrayContaining(sentWhileFrozen));
    expect(frozen.ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('should not grow listeners or sockets per reconnect, and leave no socket behind after close', async () => {
    const baseline = await tcpHandlesSettled(0); // what earlier tests closed is released first
    const target = await startUnstableTarget();
    const proxy = await startProxy({ target: target.url, ...TIMING });
    const upstreams: WebSocket[] = [];
    proxy.events.on('upstream', (_s: ProxySession, ws: WebSocket) => upstreams.push(ws));
    const snapshots: Array<ReturnType<typeof listenerCounts>> = [];
    const opens: number[] = [];
    let previous: SocketStatus['state'] = 'idle';
    proxy.events.on('status', (s: ProxySession, status: SocketStatus) => {
      // On each new connection (status$ also re-publishes a state when its counters change).
      const opened = status.state === 'open' && previous !== 'open';
      previous = status.state;
      if (!opened) return;
      snapshots.push(listenerCounts(s));
      // Every earlier upstream is closed or closing by the time a new one is open.
      opens.push(upstreams.filter((ws) => ws !== s.upstreamSocket && ws.readyState !== WebSocket.CLOSED && ws.readyState !== WebSocket.CLOSING).length);
    });
    const client = await startClient({ url: proxy.url, name: 'c' });
    const session = [...proxy.sessions][0]!;
    await sendAndSettle(client, 3);
    snapshots.push(listenerCounts(session));

    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const down = reconnecting(proxy, session, refused);
      await target.crash({ graceful: round % 2 === 1 });
      client.send({ round, while: 'down' });
      await down;
      await target.restart();
      await sendAndSettle(client, 3);

      const timedOut = reconnecting(proxy, session, isHeartbeatTimeoutError);
      target.freeze();
      client.send({ round, while: 'frozen' });
      await timedOut;
      target.thaw();
      await sendAndSettle(client, 3);
    }

    expectDelivered(target, [client], 'soak');
    expect(session.status.reconnects).toBeGreaterThanOrEqual(2 * rounds);
    expect(snapshots.length).toBeGreaterThan(2 * rounds);
    for (const snapshot of snapshots) expect(snapshot).toEqual(snapshots[0]);
    expect(opens.every((n) => n === 0)).toBe(true);
    expect(session.upstreamsCreated).toBe(upstreams.length);
    // The target holds one connection for this client, whatever happened before.
    expect([...target.live].filter((c) => c.session === session.id)).toHaveLength(1);

    await client.close();
    await session.closed;
    expect(proxy.sessions.size).toBe(0);
    expect(upstreams.every((ws) => ws.readyState === WebSocket.CLOSED)).toBe(true);
    await proxy.close();
    await target.close();
    expect(await tcpHandlesSettled(baseline)).toBe(baseline);
  });

  it('should give two clients their own upstreams: a fault on one never touches the other', async () => {
    const { target, proxy, clients, sessions } = await rig(['A', 'B']);
    const [a, b] = clients as [ProxyClient, ProxyClient];
    const [sessionA, sessionB] = sessions as [ProxySession, ProxySession];
    expect(sessionA.id).not.toBe(sessionB.id);
    await Promise.all([sendAndSettle(a, 3), sendAndSettle(b, 3)]);
    const connectionOf = (session: ProxySession) => [...target.live].filter((c) => c.session === session.id);
    expect(connectionOf(sessionA)).toHaveLength(1);
    expect(connectionOf(sessionB)).toHaveLength(1);
    const [upstreamB] = connectionOf(sessionB) as [TargetConnection];

    // Freeze only A's upstream connection: A's session reconnects, B's carries on.
    const timedOut = reconnecting(proxy, sessionA, isHeartbeatTimeoutError);
    target.freeze((c) => c.session === sessionA.id);
    for (let i = 0; i < 3; i++) a.send({ while: 'A frozen' });
    await sendAndSettle(b, 3); // acked while A's messages wait
    expect(a.pending).toBe(3);
    await timedOut;
    await a.allAcked();

    expect(sessionB.status).toMatchObject({ state: 'open', reconnects: 0 });
    expect(connectionOf(sessionB)).toEqual([upstreamB]);
    expect(upstreamB.received).toEqual(b.sent); // only B's messages, in order, on one connection
    for (const c of target.connections.filter((c) => c.session === sessionA.id)) expect(c.received.every((id) => id.startsWith('A-'))).toBe(true);
    expect([...a.acked.keys()].every((id) => id.startsWith('A-'))).toBe(true);
    expect([...b.acked.keys()].every((id) => id.startsWith('B-'))).toBe(true);

    // A leaves: its upstream is closed (1000), B's is not. (The frozen connection is still
    // open at the target: a frozen process does not notice that its peer left.)
    const currentA = connectionOf(sessionA).at(-1)!;
    expect(currentA.id).toBeGreaterThan(upstreamB.id);
    const closedA = when<[TargetConnection]>(target.events, 'close', (c) => c === currentA);
    await a.close();
    await sessionA.closed;
    expect((await closedA)[0].closeCode).toBe(1000);
    expect([...proxy.sessions]).toEqual([sessionB]);
    await sendAndSettle(b, 3);
    expect(connectionOf(sessionB)).toEqual([upstreamB]);
    expectDelivered(target, clients, 'two clients');
  });

  it('main.ts (the demo): crashes and freezes on a schedule, zero disconnects, every message delivered', async () => {
    const lines: string[] = [];
    const report = await runDemo({ seconds: 1.5, clients: 2, log: (line) => lines.push(line) });
    expect(report.sent).toBeGreaterThan(0);
    expect(report).toMatchObject({ disconnects: 0, unacked: 0, lost: 0, unexpected: 0, readByTarget: report.sent });
    expect(report.faults).toBeGreaterThanOrEqual(2);
    console.info(`demo: ${report.sent} sent, ${report.duplicates} duplicates at the target, ${report.reconnects} upstream reconnects`);
  }, 15_000);
});
