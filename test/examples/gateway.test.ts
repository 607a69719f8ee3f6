// examples/gateway: one test per reconnection path of a Discord-style gateway (seed 000),
// end to end through the example client (createSocket) and the example server on 127.0.0.1.
// No sleeps: every wait is on an event. "Nothing else happens" is checked after a few of the
// client's own heartbeat round trips (30 ms each, longer than any reconnect delay used here),
// or, once the client is closed, of an independent witness client's.
import { isConnectionClosedError, isHeartbeatTimeoutError, type SocketEvent, type SocketStatus } from 'rxtether';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type DispatchEvent, type GatewayClientOptions, createGatewayClient } from '../../examples/gateway/client.js';
import { runGateway } from '../../examples/gateway/main.js';
import { type Connection, type GatewayCommand, GatewayServer, type Session } from '../../examples/gateway/server.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { AsyncQueue } from '../helpers/queue.js';

const defer = useDisposer();
const HEARTBEAT = 30;
const NEVER_CLOSED = [1000, 1001];

/** Every emission of `name`, queued from now on (its arguments as a tuple). */
function queueOf<T extends unknown[]>(server: GatewayServer, name: string): AsyncQueue<T> {
  const queue = new AsyncQueue<T>();
  server.on(name, (...args: unknown[]) => queue.push(args as T));
  return queue;
}

/** Resolves after `n` more heartbeats reach `server`. */
function heartbeats(server: GatewayServer, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onHeartbeat = (): void => {
      if (++seen < n) return;
      server.off('heartbeat', onHeartbeat);
      resolve();
    };
    server.on('heartbeat', onHeartbeat);
  });
}

async function take<T>(queue: AsyncQueue<T>, n: number): Promise<T[]> {
  const items: T[] = [];
  while (items.length < n) items.push(await queue.next());
  return items;
}

const brief = (events: DispatchEvent[]) => events.map((e) => `${e.t}#${e.s}`);

async function rig(options: Partial<GatewayClientOptions> = {}) {
  const server = await GatewayServer.start({ heartbeatInterval: HEARTBEAT });
  defer(() => server.close());
  const q = {
    identify: queueOf<[Connection, Session]>(server, 'identify'),
    resume: queueOf<[Connection, { session_id: string; seq: number; replayed: number }]>(server, 'resume'),
    invalidResume: queueOf<[Connection, number]>(server, 'invalid-resume'),
    close: queueOf<[Connection]>(server, 'close'),
  };
  const client = createGatewayClient({
    url: server.url,
    token: 'secret',
    heartbeatInterval: HEARTBEAT,
    heartbeatTimeout: 300,
    sessionTimeout: 2000,
    initialDelay: 20,
    maxDelay: 200,
    ...options,
  });
  defer(() => client.close());
  const statuses: SocketStatus[] = [];
  client.status$.subscribe((s) => statuses.push(s));
  const events: SocketEvent<GatewayCommand>[] = [];
  client.events$.subscribe((e) => events.push(e));
  const dispatches = observe(client.dispatch$);
  defer(() => dispatches.subscription.unsubscribe());
  const [first, session] = await q.identify.next();
  const last = () => statuses[statuses.length - 1]!;
  const retries = () => statuses.filter((s): s is Extract<SocketStatus, { state: 'reconnecting' }> => s.state === 'reconnecting');
  return { server, client, q, statuses, events, dispatches, first, session, last, retries };
}

/** A clock made of events: `n` heartbeat round trips of an independent client and server. */
async function witness(n: number): Promise<void> {
  const server = await GatewayServer.start({ heartbeatInterval: HEARTBEAT });
  const client = createGatewayClient({ url: server.url, token: 'secret', heartbeatInterval: HEARTBEAT, heartbeatTimeout: 300 });
  const sub = client.dispatch$.subscribe();
  await heartbeats(server, n);
  client.close();
  sub.unsubscribe();
  await server.close();
}

describe('examples/gateway (seed 000)', () => {
  it('1. TCP drop: RESUME carries the seq delivered before the drop; the missed events are replayed once', async () => {
    const { server, q, dispatches, events, session } = await rig();
    for (let i = 1; i <= 3; i++) server.dispatch('MESSAGE_CREATE', i);
    expect(brief(await take(dispatches.values, 3))).toEqual(['MESSAGE_CREATE#1', 'MESSAGE_CREATE#2', 'MESSAGE_CREATE#3']);
    server.dropConnections(); // no close frame: the client sees 1006
    server.dispatch('MISSED', 4); // logged in the session, not sent: the socket is gone
    server.dispatch('MISSED', 5);
    const [second, resume] = await q.resume.next();
    expect(resume).toEqual({ session_id: session.id, seq: 3, replayed: 2 });
    expect(second.commands).toEqual(['resume']);
    server.dispatch('LIVE', 6);
    expect(brief(await take(dispatches.values, 3))).toEqual(['MISSED#4', 'MISSED#5', 'LIVE#6']);
    await heartbeats(server, 3);
    expect(dispatches.values.size).toBe(0); // no duplicate came later
    expect(server.counters).toMatchObject({ connections: 2, identifies: 1, resumes: 1 });
    expect(events).toEqual([]); // no gap
  });

  it('2. RECONNECT (op 7): exactly one new connection, resumed; the old socket closed with 4000, not 1000/1001', async () => {
    const { server, q, dispatches, first, session, last } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    server.sendReconnect();
    const [closed] = await q.close.next();
    expect(closed).toBe(first);
    expect(closed).toMatchObject({ closedBy: 'client', closeCode: 4000 });
    expect(NEVER_CLOSED).not.toContain(closed.closeCode);
    const [second, resume] = await q.resume.next();
    expect(resume).toEqual({ session_id: session.id, seq: 1, replayed: 0 });
    expect(second.commands).toEqual(['resume']);
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#2']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 1, resumes: 1 });
    expect(last()).toMatchObject({ state: 'open', reconnects: 1 });
  });

  it('3. INVALID_SESSION (non-resumable): a fresh IDENTIFY, seq restarts at 1, no resume loop', async () => {
    const { server, client, q, dispatches, events, session } = await rig();
    server.dispatch('A');
    expect(brief([await dispatches.values.next()])).toEqual(['A#1']);
    server.invalidateSession(false);
    const [second, fresh] = await q.identify.next();
    expect(second.commands).toEqual(['identify']);
    expect(fresh.id).not.toBe(session.id);
    server.dispatch('B'); // the new session's #1: not mistaken for a replay of the old #1
    expect(brief([await dispatches.values.next()])).toEqual(['B#1']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 2, resumes: 0 });
    expect(client.sessionId).toBe(fresh.id);
    expect(events).toEqual([expect.objectContaining({ type: 'gap', error: expect.objectContaining({ kind: 'epoch', previous: 1 }) })]);
  });

  it('3b. INVALID_SESSION (resumable): one reconnect that resumes the same session', async () => {
    const { server, q, dispatches, session } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    server.invalidateSession(true);
    const [, resume] = await q.resume.next();
    expect(resume).toEqual({ session_id: session.id, seq: 1, replayed: 0 });
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#2']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 1, resumes: 1 });
  });

  it('3c. RESUME refused (server restarted without its sessions): INVALID_SESSION, then IDENTIFY on the same socket', async () => {
    const { server, q, dispatches } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    await server.restart({ forgetSessions: true });
    const [refused, seq] = await q.invalidResume.next();
    expect(seq).toBe(1);
    const [identified] = await q.identify.next();
    expect(identified).toBe(refused);
    expect(identified.commands).toEqual(['resume', 'identify']);
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#1']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 2, resumes: 1 });
  });

  it('4. missing HEARTBEAT_ACK (zombie): the connection is replaced and resumed', async () => {
    const { server, q, dispatches, first, session, retries } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    server.stopAcking(); // heartbeats are read, never acknowledged; dispatches still flow
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#2']);
    const [, resume] = await q.resume.next();
    expect(resume).toEqual({ session_id: session.id, seq: 2, replayed: 0 });
    expect(first.closedBy).toBe('client');
    expect(NEVER_CLOSED).not.toContain(first.closeCode);
    expect(retries()).toHaveLength(1);
    expect(isHeartbeatTimeoutError(retries()[0]!.cause)).toBe(true);
    server.dispatch('C');
    expect(brief([await dispatches.values.next()])).toEqual(['C#3']);
    await heartbeats(server, 3); // the new socket is acked
    expect(server.counters).toMatchObject({ connections: 2, identifies: 1, resumes: 1 });
  });

  it.each([4007, 4009])('5a. close %i: a fresh session (IDENTIFY), never a RESUME', async (code) => {
    const { server, q, dispatches, session, retries } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    server.closeWith(code);
    const [second, fresh] = await q.identify.next();
    expect(second.commands).toEqual(['identify']);
    expect(fresh.id).not.toBe(session.id);
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#1']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 2, resumes: 0 });
    expect(retries().map((r) => (isConnectionClosedError(r.cause) ? r.cause.code : r.cause))).toEqual([code]);
  });

  it('5b. close 4004 (authentication failed): terminal error on dispatch$, status closed, no reconnect', async () => {
    const { server, q, dispatches, first, last } = await rig();
    server.closeWith(4004);
    const error = await dispatches.error;
    expect(isConnectionClosedError(error) && error.code).toBe(4004);
    expect(last()).toMatchObject({ state: 'closed', reason: 'error', error, reconnects: 0 });
    const [closed] = await q.close.next();
    expect(closed).toBe(first);
    await witness(10);
    expect(server.counters).toMatchObject({ connections: 1, identifies: 1, resumes: 0 });
  });

  it.each([
    ['close 4000', (server: GatewayServer) => server.closeWith(4000)],
    ['close 1000', (server: GatewayServer) => server.closeWith(1000)],
    ['TCP drop', (server: GatewayServer) => server.dropConnections()],
  ])('6. RECONNECT immediately followed by %s: still exactly one reconnect (the seed-000 double reconnect)', async (_, thenClose) => {
    const { server, q, dispatches, session, last } = await rig();
    server.dispatch('A');
    await dispatches.values.next();
    server.sendReconnect();
    thenClose(server);
    const [, resume] = await q.resume.next();
    expect(resume).toEqual({ session_id: session.id, seq: 1, replayed: 0 });
    server.dispatch('B');
    expect(brief([await dispatches.values.next()])).toEqual(['B#2']);
    await heartbeats(server, 3);
    expect(server.counters).toMatchObject({ connections: 2, identifies: 1, resumes: 1 });
    expect(last()).toMatchObject({ state: 'open', reconnects: 1 });
  });

  it('7a. close() during a reconnect wait: no reconnect, whatever the server does', async () => {
    const { server, client, dispatches, last } = await rig({ initialDelay: 100 });
    server.dropConnections();
    await firstValueFrom(client.status$.pipe(filter((s) => s.state === 'reconnecting')));
    client.close();
    expect(last()).toMatchObject({ state: 'closed', reason: 'client' });
    expect(dispatches.stopped()).toBe(true);
    await server.restart();
    server.sendReconnect();
    server.dispatch('A');
    await witness(10); // > maxDelay (200 ms)
    expect(server.counters.connections).toBe(1);
    expect(dispatches.values.size).toBe(0);
  });

  it('7b. close() while a RECONNECT is in flight: closed with 1000, no reconnect', async () => {
    const { server, client, q, first, dispatches } = await rig();
    server.sendReconnect();
    client.close();
    const [closed] = await q.close.next();
    expect(closed).toBe(first);
    expect(closed).toMatchObject({ closedBy: 'client', closeCode: 1000 });
    server.invalidateSession(true);
    server.dispatch('A');
    await witness(10);
    expect(server.counters.connections).toBe(1);
    expect(dispatches.values.size).toBe(0);
  });

  it('main.ts (the demo): every path in one run, one connection per reconnect, nothing duplicated or reordered', async () => {
    const lines: string[] = [];
    const report = await runGateway({ log: (line) => lines.push(line) });
    expect(report.finalCode).toBe(4004);
    // drop, reconnect+close, invalid session, zombie, 4009, restart: one new connection each.
    expect(report).toMatchObject({ connections: 7, identifies: 4, resumes: 4 });
    expect(report.sessions.map((s) => s.ended)).toEqual(['invalid session', 'closed 4009', 'server restarted', 'closed 4004']);
    for (const session of report.sessions) {
      expect(session).toMatchObject({ duplicated: 0, outOfOrder: 0, delivered: session.dispatched - session.undelivered });
      // Only a restart that forgets its sessions can take undelivered events with it.
      if (session.ended !== 'server restarted') expect(session.undelivered).toBe(0);
    }
  }, 10_000);
});
