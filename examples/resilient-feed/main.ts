/**
 * A resilient feed: an rxtether pipeline against a local server that misbehaves on a fixed
 * schedule (a TCP reset, a freeze, a full restart on the same port), with the tally counted
 * on both sides.
 *
 *   npx tsx examples/resilient-feed/main.ts [--seconds 6]
 *
 * Exits with status 1 if a tick was lost, duplicated or out of order.
 */
import { type AddressInfo, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  type RetryAttemptInfo,
  connect,
  createResumeCursor,
  heartbeatTimeout,
  isNextInSequence,
  resumeFrom,
  retryWithJitteredBackoff,
} from 'rxtether';
import { share } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';

interface Tick {
  readonly seq: number;
}

interface ResumeRequest {
  readonly op: 'resume';
  readonly after: number;
}

/**
 * A feed server: publishes a tick every `periodMs` into a history, and answers a resume
 * request by replaying what the client missed (from two ticks earlier: an overlap the client
 * must deduplicate). It can reset, freeze and restart.
 */
class FeedServer {
  private wss: WebSocketServer | undefined;
  private readonly history: Tick[] = [];
  private readonly live = new Set<WebSocket>();
  /** Output held while frozen, sent in order on thaw, as a process unblocking would. */
  private held: Array<[WebSocket, string]> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  port = 0;
  accepted = 0;

  async start(port = 0): Promise<void> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    this.wss = wss;
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (socket) => {
      this.accepted++;
      socket.on('error', () => {});
      socket.once('message', (data) => {
        const request = JSON.parse(String(data)) as ResumeRequest;
        for (const tick of this.history.slice(Math.max(0, request.after - 2))) this.send(socket, tick);
        this.live.add(socket);
      });
      socket.on('close', () => this.live.delete(socket));
    });
  }

  publishEvery(periodMs: number): void {
    this.ticker = setInterval(() => {
      const tick = { seq: this.history.length + 1 };
      this.history.push(tick);
      for (const socket of this.live) this.send(socket, tick);
    }, periodMs);
  }

  private send(socket: WebSocket, tick: Tick): void {
    if (this.held) this.held.push([socket, JSON.stringify(tick)]);
    else socket.send(JSON.stringify(tick));
  }

  stopPublishing(): void {
    clearInterval(this.ticker);
  }

  get published(): number {
    return this.history.length;
  }

  /** Every live connection dies with a TCP RST. */
  reset(): void {
    for (const socket of this.live) (socket as unknown as { _socket: Socket })._socket.resetAndDestroy();
    this.live.clear();
  }

  /** Sends nothing while TCP stays open (a frozen peer, only a heartbeat can tell); on thaw, sends what it held. */
  freeze(frozen: boolean): void {
    const held = this.held;
    this.held = frozen ? (held ?? []) : undefined;
    if (!frozen && held) {
      for (const [socket, data] of held) if (socket.readyState === WebSocket.OPEN) socket.send(data);
    }
  }

  /** Stops listening and drops everyone; `start(port)` brings it back on the same port. */
  async stop(): Promise<void> {
    for (const socket of this.live) socket.terminate();
    this.live.clear();
    await new Promise<void>((resolve) => this.wss?.close(() => resolve()));
  }

  async dispose(): Promise<void> {
    this.stopPublishing();
    await this.stop();
  }
}

export interface FeedReport {
  readonly published: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly reconnects: number;
  /** Reconnects by the error that caused them, e.g. `{ ConnectionClosedError: 3, HeartbeatTimeoutError: 1 }`. */
  readonly reconnectCauses: Readonly<Record<string, number>>;
  readonly connectionsAccepted: number;
}

const causeOf = (info: RetryAttemptInfo): string => (info.error as { name?: string } | null)?.name ?? 'unknown';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the scenario for about `seconds` and returns the tally. */
export async function runFeed({ seconds = 6, log = console.log }: { seconds?: number; log?: (line: string) => void } = {}): Promise<FeedReport> {
  const server = new FeedServer();
  await server.start();
  server.publishEvery(10);

  const cursor = createResumeCursor({ cursorOf: (tick: Tick) => tick.seq, isNext: isNextInSequence });
  let closing = false;
  const retries: RetryAttemptInfo[] = [];
  const ticks$ = connect<Tick, ResumeRequest>({
    url: `ws://127.0.0.1:${server.port}/feed`,
    WebSocketCtor: WebSocket,
    handshake: () => [{ op: 'resume', after: cursor.current ?? 0 }],
    closeOnUnsubscribe: () => (closing ? { code: 1000 } : { code: 4000, reason: 'reconnect' }),
    openTimeout: 1000,
  }).pipe(
    heartbeatTimeout({ timeout: 300 }),
    resumeFrom(cursor),
    retryWithJitteredBackoff({
      initialDelay: 50,
      maxDelay: 1000,
      onRetry: (info) => {
        retries.push(info);
        log(`retry ${info.attempt} in ${Math.round(info.delay)} ms after ${causeOf(info)}`);
      },
    }),
    share(),
  );

  let delivered = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let last = 0;
  const seen = new Set<number>();
  const subscription = ticks$.subscribe({
    next: (tick) => {
      delivered++;
      if (seen.has(tick.seq)) duplicated++;
      else if (tick.seq !== last + 1) outOfOrder++;
      seen.add(tick.seq);
      last = Math.max(last, tick.seq);
    },
    error: (error: unknown) => log(`stream ended: ${String(error)}`),
  });

  // The fault schedule, spread over the run.
  const step = (seconds * 1000) / 6;
  await wait(step);
  log(`t=${Math.round(step)}ms: TCP reset`);
  server.reset();
  await wait(step);
  log(`t=${Math.round(2 * step)}ms: server freezes`);
  server.freeze(true);
  await wait(500); // past the 300 ms heartbeat deadline
  server.freeze(false);
  await wait(step);
  log(`t=${Math.round(4 * step)}ms: server restarts on port ${server.port}`);
  await server.stop();
  await wait(200);
  await server.start(server.port);
  await wait(step);

  // Stop publishing, let the client catch up, then close for good.
  server.stopPublishing();
  const published = server.published;
  const deadline = Date.now() + 3000;
  while (last < published && Date.now() < deadline) await wait(20);
  closing = true;
  subscription.unsubscribe();
  await server.dispose();

  const report: FeedReport = {
    published,
    delivered,
    lost: published - seen.size,
    duplicated,
    outOfOrder,
    reconnects: retries.length,
    reconnectCauses: Object.fromEntries(
      [...new Set(retries.map(causeOf))].map((cause) => [cause, retries.filter((r) => causeOf(r) === cause).length]),
    ),
    connectionsAccepted: server.accepted,
  };
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const index = process.argv.indexOf('--seconds');
  const seconds = index > 0 ? Number(process.argv[index + 1]) : 6;
  const report = await runFeed({ seconds });
  const { reconnectCauses, ...totals } = report;
  console.table(totals);
  console.log('reconnects by cause:', reconnectCauses);
  process.exitCode = report.lost + report.duplicated + report.outOfOrder === 0 ? 0 : 1;
}
