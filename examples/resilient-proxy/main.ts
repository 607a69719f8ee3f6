/**
 * The resilient proxy demo: the unstable target, the proxy and a few clients in one process.
 * The target crashes, freezes and shuts down gracefully in turn while the clients send; then
 * the tally, counted on both sides.
 *
 *   npx tsx examples/resilient-proxy/main.ts [--seconds 6] [--clients 2]
 *
 * Exits with status 1 if a client was disconnected or a message never reached the target.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type SocketStatus, isConnectionClosedError } from 'rxtether';
import { type ProxyClient, startClient } from './client.js';
import { type ProxySession, startProxy } from './proxy.js';
import { startUnstableTarget } from './unstable-target.js';

export interface DemoOptions {
  /** How long the clients send while faults are injected. @defaultValue 6 */
  readonly seconds?: number;
  /** @defaultValue 2 */
  readonly clients?: number;
  /** One fault every this many ms. @defaultValue 400 */
  readonly period?: number;
  readonly log?: (line: string) => void;
}

export interface DemoReport {
  /** Messages sent by the clients. */
  readonly sent: number;
  /** Distinct sent ids the target read. */
  readonly readByTarget: number;
  /** Sent ids the target never read. */
  readonly lost: number;
  /** Ids the target read that no client sent. */
  readonly unexpected: number;
  /** Extra reads of an id at the target: at-least-once re-sends of messages whose ack was lost. */
  readonly duplicates: number;
  /** Sent ids a client had no ack for at the end. */
  readonly unacked: number;
  /** Closes the clients did not ask for. */
  readonly disconnects: number;
  readonly faults: number;
  /** Upstream reconnects, all sessions. */
  readonly reconnects: number;
  /** Upstream reconnects by cause. */
  readonly causes: Readonly<Record<string, number>>;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const causeOf = (cause: unknown): string => {
  if (cause === undefined) return 'server request';
  if (isConnectionClosedError(cause)) {
    const code = (cause.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `closed ${cause.code} (${code})` : `closed ${cause.code}`;
  }
  return (cause as Error).name;
};

export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const log = options.log ?? console.log;
  const period = options.period ?? 400;
  const start = Date.now();
  const say = (line: string) => log(`${String(Date.now() - start).padStart(5)} ms  ${line}`);

  const target = await startUnstableTarget();
  const proxy = await startProxy({ target: target.url, pingInterval: 50, pingTimeout: 150, openTimeout: 1000, initialDelay: 20, maxDelay: 300 });
  say(`target on ${target.url}, proxy on ${proxy.url}`);
  const causes: Record<string, number> = {};
  const previous = new Map<ProxySession, SocketStatus>();
  proxy.events.on('status', (session: ProxySession, status: SocketStatus) => {
    // status$ also re-publishes the current state when a counter (buffered…) changes.
    const last = previous.get(session);
    previous.set(session, status);
    if (last?.state === status.state && last.reconnects === status.reconnects) return;
    if (status.state === 'reconnecting') {
      const cause = causeOf(status.cause);
      causes[cause] = (causes[cause] ?? 0) + 1;
      say(`proxy: ${session.id} upstream lost (${cause}), attempt ${status.attempt} in ${Math.round(status.delay)} ms, ${status.buffered} held`);
    } else if (status.state === 'open') say(`proxy: ${session.id} upstream open, ${status.reconnects} reconnects so far`);
  });

  const clients: ProxyClient[] = [];
  for (let i = 1; i <= (options.clients ?? 2); i++) {
    const client = await startClient({ url: proxy.url, name: `c${i}` });
    client.events.on('disconnect', (error: Error) => say(`client ${client.name}: DISCONNECTED (${error.name})`));
    clients.push(client);
  }
  const sender = setInterval(() => {
    for (const client of clients) if (client.disconnects === 0) client.send({ at: Date.now() - start });
  }, 10);

  const faults: Array<[string, () => Promise<void> | void, () => Promise<void> | void]> = [
    ['target crashes (connections dropped, port closed)', () => target.crash(), () => target.restart()],
    ['target freezes (nothing read or answered, TCP open)', () => target.freeze(), () => target.thaw()],
    ['target shuts down (close 1001, port closed)', () => target.crash({ graceful: true }), () => target.restart()],
  ];
  let injected = 0;
  const end = start + (options.seconds ?? 6) * 1000;
  while (Date.now() + period <= end) {
    await wait(period / 2);
    const [name, fault, fix] = faults[injected++ % faults.length]!;
    say(`--- ${name}`);
    await fault();
    await wait(period / 2);
    say('--- target back');
    await fix();
  }
  clearInterval(sender);

  // Every message must end up acked; give it a bounded time before counting what is missing.
  const settled = await Promise.race([Promise.all(clients.map((c) => c.allAcked())).then(() => true), wait(5000).then(() => false)]);
  if (!settled) say('some messages were never acked');

  const sent = new Set(clients.flatMap((c) => c.sent));
  const read = target.received;
  const report: DemoReport = {
    sent: sent.size,
    readByTarget: [...sent].filter((id) => read.has(id)).length,
    lost: [...sent].filter((id) => !read.has(id)).length,
    unexpected: [...read.keys()].filter((id) => !sent.has(id)).length,
    duplicates: [...read.values()].reduce((sum, n) => sum + n - 1, 0),
    unacked: clients.reduce((sum, c) => sum + c.pending, 0),
    disconnects: clients.reduce((sum, c) => sum + c.disconnects, 0),
    faults: injected,
    reconnects: [...proxy.sessions].reduce((sum, s) => sum + s.status.reconnects, 0),
    causes,
  };
  await Promise.all(clients.map((c) => c.close()));
  await proxy.close();
  await target.close();
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, clients: { type: 'string', default: '2' } } });
  const { causes, ...report } = await runDemo({ seconds: Number(values.seconds), clients: Number(values.clients) });
  console.table(report);
  console.table(causes);
  process.exitCode = report.disconnects === 0 && report.lost === 0 && report.unacked === 0 && report.unexpected === 0 ? 0 : 1;
}
