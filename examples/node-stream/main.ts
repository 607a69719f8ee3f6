/**
 * Node stream processing with real backpressure: a local server sends a feed as fast as its
 * socket takes it; an rxtether client (createSocket) consumes it slowly, once with
 * `for await` and once as a Readable piped into a slow Writable. With backpressure, the
 * client pauses its socket whenever the consumer is `highWaterMark` messages behind, TCP
 * pushes back on the server, and the client's heap stays flat. With `--no-backpressure`, the
 * client reads everything as it comes and holds the backlog in memory.
 *
 *   npx tsx --expose-gc examples/node-stream/main.ts [--messages 100000] [--payload 1024] [--no-backpressure] [--quick]
 *
 * Exits with status 1 if a message was lost, duplicated or out of order.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Socket, AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createSocket } from 'rxtether';
import { createBackpressure } from 'rxtether/node';
import { type Observable, takeWhile } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';

interface Tick {
  readonly seq: number;
  readonly data: string;
}

export interface NodeStreamOptions {
  /** Messages per run. @defaultValue 100000 */
  readonly messages?: number;
  /** Bytes of padding per message. @defaultValue 1024 */
  readonly payload?: number;
  /** Pause the socket when the consumer is behind. @defaultValue true */
  readonly backpressure?: boolean;
  readonly log?: (line: string) => void;
}

export interface RunReport {
  readonly mode: 'for-await' | 'pipe';
  readonly delivered: number;
  readonly inOrder: boolean;
  /** Most messages the client held at once, received and not yet consumed. */
  readonly peakBuffered: number;
  /** Peak V8 heap used during the run, in MiB (the server runs in this process too). */
  readonly peakHeapMiB: number;
  /** V8 heap used before the run, in MiB. */
  readonly baseHeapMiB: number;
  /** Times the server found the client not reading (its own write buffer full). */
  readonly serverBlocked: number;
  readonly seconds: number;
}

/**
 * A feed server: on each connection, sends `messages` ticks in batches of 32 per event-loop
 * turn while its own write buffer holds less than 1 MiB, else waits for 'drain'. Its own
 * memory is therefore bounded: whatever the client does not read stays in TCP's buffers and
 * then in the server's socket, never in an unbounded queue.
 */
async function startServer(messages: number, payload: number): Promise<{ url: string; blocked: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
  const data = 'x'.repeat(payload);
  let blocked = 0;
  wss.on('connection', (socket) => {
    const tcp = (socket as unknown as { _socket: Socket })._socket;
    let seq = 0;
    socket.on('error', () => {});
    const pump = (): void => {
      if (socket.readyState !== socket.OPEN) return;
      for (let i = 0; i < 32 && seq < messages; i++) socket.send(JSON.stringify({ seq: ++seq, data }));
      if (seq >= messages) return;
      if (socket.bufferedAmount < 1 << 20) setImmediate(pump);
      else {
        blocked++;
        tcp.once('drain', pump);
      }
    };
    setImmediate(pump);
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    blocked: () => blocked,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

const MiB = 1024 * 1024;
/** A slow consumer: one message per event-loop turn (the server sends 32 per turn). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function runOnce(mode: RunReport['mode'], options: Required<Omit<NodeStreamOptions, 'log'>>): Promise<RunReport> {
  const { messages, payload, backpressure } = options;
  const server = await startServer(messages, payload);
  const flow = createBackpressure({
    highWaterMark: 1000,
    lowWaterMark: 100,
    // Without pausing, nothing bounds the backlog: hold it all, as a naive adapter would.
    ...(backpressure ? {} : { maxBuffered: Infinity }),
  });
  const client = createSocket<Tick, never>({
    url: server.url,
    WebSocketCtor: WebSocket,
    ...(backpressure ? { paused: flow.paused$ } : {}),
  });
  const ticks$: Observable<Tick> = client.messages$.pipe(takeWhile((tick) => tick.seq < messages, true));

  let delivered = 0;
  let inOrder = true;
  let peakBuffered = 0;
  // With --expose-gc, start each run from a collected heap, so that runs do not inherit garbage.
  (globalThis as { gc?: () => void }).gc?.();
  const baseHeap = process.memoryUsage().heapUsed;
  let peakHeap = baseHeap;
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  const sampler = setInterval(sample, 5);
  const consume = (tick: Tick): void => {
    if (tick.seq !== delivered + 1) inOrder = false;
    delivered++;
    peakBuffered = Math.max(peakBuffered, flow.buffered + 1);
  };
  const started = performance.now();

  try {
    if (mode === 'for-await') {
      for await (const tick of flow.iterate(ticks$)) {
        consume(tick);
        await turn();
      }
    } else {
      await pipeline(
        flow.readable(ticks$),
        new Writable({
          objectMode: true,
          highWaterMark: 1,
          write(tick: Tick, _encoding, callback) {
            consume(tick);
            setImmediate(callback);
          },
        }),
      );
    }
  } finally {
    clearInterval(sampler);
    sample();
    client.close();
    await server.close();
  }
  return {
    mode,
    delivered,
    inOrder,
    peakBuffered,
    peakHeapMiB: Math.round((peakHeap / MiB) * 10) / 10,
    baseHeapMiB: Math.round((baseHeap / MiB) * 10) / 10,
    serverBlocked: server.blocked(),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/** Runs the feed through `for await`, then through a Readable piped into a slow Writable. */
export async function runNodeStream(options: NodeStreamOptions = {}): Promise<RunReport[]> {
  const settings = { messages: options.messages ?? 100_000, payload: options.payload ?? 1024, backpressure: options.backpressure ?? true };
  const log = options.log ?? console.log;
  log(
    `${settings.messages} messages of ${settings.payload} bytes, backpressure ${settings.backpressure ? 'on' : 'off'}`,
  );
  const reports: RunReport[] = [];
  for (const mode of ['for-await', 'pipe'] as const) {
    const report = await runOnce(mode, settings);
    log(
      `${mode.padEnd(9)}: ${report.delivered} delivered${report.inOrder ? ', in order' : ', OUT OF ORDER'}; ` +
        `peak buffered ${report.peakBuffered} messages; heap ${report.baseHeapMiB} MiB before, ` +
        `${report.peakHeapMiB} MiB at peak; server blocked ${report.serverBlocked} times; ${report.seconds} s`,
    );
    reports.push(report);
  }
  return reports;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const index = process.argv.indexOf(name);
    return index > 0 ? process.argv[index + 1] : undefined;
  };
  const quick = process.argv.includes('--quick');
  const reports = await runNodeStream({
    messages: Number(arg('--messages') ?? (quick ? 5_000 : 100_000)),
    payload: Number(arg('--payload') ?? 1024),
    backpressure: !process.argv.includes('--no-backpressure'),
  });
  const expected = Number(arg('--messages') ?? (quick ? 5_000 : 100_000));
  process.exitCode = reports.every((r) => r.inOrder && r.delivered === expected) ? 0 : 1;
}
