/**
 * The gateway example: the client of client.ts against the server of server.ts, through every
 * reconnection path of seed 000, with the tally counted on both sides.
 *
 *   npx tsx examples/gateway/main.ts
 *
 * Exits with status 1 if an event was duplicated, delivered out of order, or lost from a
 * session the client could resume.
 */
import { pathToFileURL } from 'node:url';
import { isConnectionClosedError, type SocketStatus } from 'rxtether';
import { createGatewayClient } from './client.js';
import { GatewayServer } from './server.js';

export interface SessionTally {
  readonly session: string;
  readonly dispatched: number;
  readonly delivered: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Dispatched but never delivered. */
  readonly undelivered: number;
  /** Why the session ended (`open` if it did not). */
  readonly ended: string;
}

export interface GatewayReport {
  readonly sessions: readonly SessionTally[];
  readonly connections: number;
  readonly identifies: number;
  readonly resumes: number;
  readonly heartbeats: number;
  readonly reconnects: number;
  /** How the client ended: the terminal error's close code. */
  readonly finalCode: number | undefined;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const describeStatus = (s: SocketStatus): string => {
  if (s.state === 'reconnecting') {
    const cause = s.cause === undefined ? 'server request' : isConnectionClosedError(s.cause) ? `close ${s.cause.code}` : (s.cause as Error).name;
    return `reconnecting (attempt ${s.attempt}, ${Math.round(s.delay)} ms, cause: ${cause})`;
  }
  if (s.state === 'closed') return `closed (${s.reason}${isConnectionClosedError(s.error) ? `, ${s.error.code}` : ''})`;
  return s.state;
};

export async function runGateway(options: { log?: (line: string) => void } = {}): Promise<GatewayReport> {
  const log = options.log ?? console.log;
  const start = Date.now();
  const say = (line: string) => log(`${String(Date.now() - start).padStart(5)} ms  ${line}`);

  const server = await GatewayServer.start({ heartbeatInterval: 100 });
  server.on('connection', (c) => say(`server: connection #${c.id}`));
  server.on('identify', (c, s) => say(`server: #${c.id} IDENTIFY → READY, session ${s.id.slice(0, 6)}`));
  server.on('resume', (c, r) => say(`server: #${c.id} RESUME seq=${r.seq} → ${r.replayed} replayed, RESUMED`));
  server.on('invalid-resume', (c, seq) => say(`server: #${c.id} RESUME seq=${seq} of an unknown session → INVALID_SESSION`));
  server.on('close', (c) => say(`server: #${c.id} closed (the ${c.closedBy} closed first; code received ${c.closeCode})`));

  const client = createGatewayClient({
    url: server.url,
    token: 'secret',
    heartbeatInterval: 100,
    heartbeatTimeout: 300,
    initialDelay: 100,
    maxDelay: 1000,
  });
  let reconnects = 0;
  client.status$.subscribe((s) => {
    reconnects = s.reconnects;
    say(`client: ${describeStatus(s)}`);
  });
  client.events$.subscribe((e) => e.type === 'gap' && say(`client: gap (${e.error.kind}): the old session's position is dropped`));

  // Delivered events, per session id, counted on the client's side.
  const delivered = new Map<string, number[]>();
  let finalError: unknown;
  const done = new Promise<void>((resolve) =>
    client.dispatch$.subscribe({
      next: (event) => {
        const list = delivered.get(client.sessionId ?? '?') ?? [];
        list.push(event.s);
        delivered.set(client.sessionId ?? '?', list);
      },
      error: (error: unknown) => {
        finalError = error;
        say(`client: dispatch$ ended: ${String(error)}`);
        resolve();
      },
      complete: () => resolve(),
    }),
  );

  let n = 0;
  const ticker = setInterval(() => server.dispatch('MESSAGE_CREATE', { n: ++n }), 20);
  const fault = async (name: string, act: () => unknown, settle = 400) => {
    say(`--- ${name}`);
    await act();
    await wait(settle);
  };

  await wait(300);
  await fault('TCP drop (no close frame): resume with the last seq delivered', () => server.dropConnections());
  await fault('RECONNECT (op 7) immediately followed by a server close 1000: one reconnect', () => {
    server.sendReconnect();
    server.closeWith(1000);
  });
  await fault('INVALID_SESSION (op 9, not resumable): identify a fresh session', () => server.invalidateSession(false));
  await fault('zombie: the server stops acking heartbeats', () => server.stopAcking(), 700);
  await fault('close 4009 (session timed out): fresh session', () => server.closeWith(4009));
  await fault('server restarts and forgets its sessions: RESUME refused, IDENTIFY', () => server.restart({ forgetSessions: true }), 600);

  clearInterval(ticker);
  const current = server.sessionLog[server.sessionLog.length - 1];
  const deadline = Date.now() + 2000;
  while (current && (delivered.get(current.id)?.length ?? 0) < current.log.length && Date.now() < deadline) await wait(10);
  await fault('close 4004 (authentication failed): terminal, no reconnect', () => server.closeWith(4004), 0);
  await done;
  await wait(300); // long enough for a reconnect that should not happen to show up
  say(`server: ${server.counters.connections} connections in all`);

  const sessions = server.sessionLog.map((session): SessionTally => {
    const seqs = delivered.get(session.id) ?? [];
    const unique = new Set(seqs);
    let outOfOrder = 0;
    for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) outOfOrder++;
    return {
      session: session.id.slice(0, 6),
      dispatched: session.log.length,
      delivered: seqs.length,
      duplicated: seqs.length - unique.size,
      outOfOrder,
      undelivered: session.log.filter((m) => !unique.has(m.s)).length,
      ended: session.ended ?? 'open',
    };
  });
  const report: GatewayReport = {
    sessions,
    ...server.counters,
    reconnects,
    finalCode: isConnectionClosedError(finalError) ? finalError.code : undefined,
  };
  await server.close();
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const report = await runGateway();
  const { sessions, ...totals } = report;
  console.table(sessions);
  console.table(totals);
  // A session that ended by a refusal (invalid session, 4009, a restart) cannot be resumed:
  // what it had not delivered would be gone by design. The last session was waited for.
  const bad = sessions.reduce((sum, s) => sum + s.duplicated + s.outOfOrder, 0) + (sessions.at(-1)?.undelivered ?? 1);
  process.exitCode = bad === 0 && report.finalCode === 4004 ? 0 : 1;
}
