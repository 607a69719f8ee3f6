/**
 * The Angular example's local server: a ticker on a real `ws` server that can be dropped,
 * stopped and restarted on command. Its log survives its own restarts, like a broker backed by
 * a durable log, so a client that resumes from its last `seq` never misses a tick.
 *
 * Protocol, one JSON object per text frame:
 *
 *   client → server                          server → client
 *   { type: 'subscribe', channel, after? }   { type: 'tick', channel, seq, at }  (the log after `after`, then live)
 *   { type: 'unsubscribe', channel }
 *   { type: 'ping' }                         { type: 'pong' }
 *
 * Without `after` a subscription is live only. Every channel name shares one log.
 *
 * Faults, on command:
 *
 * - `drop()`    every live connection is cut (no close frame: the browser sees 1006); the port stays open
 * - `stop()`    close 1001 `restart` to everyone, stop listening: connections are refused
 * - `start()`   listen again on the same port
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

export type ClientFrame =
  | { readonly type: 'subscribe'; readonly channel: string; readonly after?: number }
  | { readonly type: 'unsubscribe'; readonly channel: string }
  | { readonly type: 'ping' };

export type ServerFrame =
  | { readonly type: 'tick'; readonly channel: string; readonly seq: number; readonly at: number }
  | { readonly type: 'pong' };

export interface UnstableServerOptions {
  /** Port to listen on; `0` picks a free one, kept across `stop()`/`start()`. @defaultValue `0` */
  readonly port?: number;
  /** @defaultValue `'127.0.0.1'` */
  readonly host?: string;
  /** Time between ticks, in ms. @defaultValue `250` */
  readonly interval?: number;
}

export interface UnstableServer {
  /** `ws://host:port/`, valid across restarts. */
  readonly url: string;
  readonly port: number;
  /** The `seq` of the last tick published (ticks go on while the server is stopped). */
  readonly published: number;
  /** Whether the port accepts connections. */
  readonly listening: boolean;
  /** Connections currently open. */
  readonly connections: number;
  /** Resolves once the tick `seq` has been published. */
  untilPublished(seq: number): Promise<void>;
  /** Resolves with the close code of the next connection that ends (1006 when cut). */
  nextClose(): Promise<number>;
  /** Cuts every live connection without a close frame; new connections are accepted. */
  drop(): void;
  /** Closes every connection (1001) and stops listening: the port refuses connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops and disposes everything. */
  close(): Promise<void>;
}

interface Conn {
  readonly ws: WebSocket;
  readonly channels: Set<string>;
}

const LOG_LIMIT = 100_000;

function parse(data: RawData): ClientFrame | undefined {
  try {
    const value: unknown = JSON.parse(String(data));
    if (typeof value === 'object' && value !== null && 'type' in value) return value as ClientFrame;
  } catch {
    // Not JSON: ignored, like any frame the protocol does not know.
  }
  return undefined;
}

/** Starts the server and its ticker; resolves once it listens. */
export async function startUnstableServer(options: UnstableServerOptions = {}): Promise<UnstableServer> {
  const host = options.host ?? '127.0.0.1';
  const interval = options.interval ?? 250;
  const log: { seq: number; at: number }[] = [];
  const conns = new Set<Conn>();
  const closeWaiters: ((code: number) => void)[] = [];
  const seqWaiters: { seq: number; resolve: () => void }[] = [];
  let seq = 0;
  let port = options.port ?? 0;
  let http: Server | undefined;
  let wss: WebSocketServer | undefined;
  let stopping: Promise<void> | undefined;

  const send = (conn: Conn, frame: ServerFrame): void => {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(frame));
  };

  const ticker = setInterval(() => {
    const entry = { seq: ++seq, at: Date.now() };
    log.push(entry);
    if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);
    for (const conn of conns) {
      for (const channel of conn.channels) send(conn, { type: 'tick', channel, ...entry });
    }
    for (const waiter of seqWaiters.filter((w) => w.seq <= seq)) {
      seqWaiters.splice(seqWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }, interval);

  const onConnection = (ws: WebSocket): void => {
    const conn: Conn = { ws, channels: new Set() };
    conns.add(conn);
    ws.on('error', () => {
      // A reset connection reports here, then 'close'.
    });
    ws.on('close', (code) => {
      conns.delete(conn);
      for (const resolve of closeWaiters.splice(0)) resolve(code);
    });
    ws.on('message', (data) => {
      const frame = parse(data);
      if (frame?.type === 'ping') send(conn, { type: 'pong' });
      else if (frame?.type === 'unsubscribe') conn.channels.delete(frame.channel);
      else if (frame?.type === 'subscribe' && typeof frame.channel === 'string') {
        conn.channels.add(frame.channel);
        if (typeof frame.after === 'number') {
          for (const entry of log) if (entry.seq > frame.after) send(conn, { type: 'tick', channel: frame.channel, ...entry });
        }
      }
    });
  };

  const start = async (): Promise<void> => {
    await stopping;
    if (http) return;
    const server = createServer((_req, res) => res.writeHead(426).end('WebSocket only\n'));
    const wsServer = new WebSocketServer({ server });
    wsServer.on('connection', onConnection);
    wsServer.on('error', () => {
      // The HTTP server's own 'error' (EADDRINUSE…) rejects below; ws re-emits it here.
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as AddressInfo).port;
    http = server;
    wss = wsServer;
  };

  const shutDown = async (): Promise<void> => {
    const server = http;
    const wsServer = wss;
    if (!server || !wsServer) return;
    http = undefined;
    wss = undefined;
    for (const conn of conns) conn.ws.close(1001, 'restart');
    // A peer that does not answer the close frame within a second is cut off.
    const cutoff = setTimeout(() => {
      for (const conn of conns) conn.ws.terminate();
    }, 1000);
    await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(cutoff);
  };

  /** One shutdown at a time; `start()` waits for it. */
  const stop = (): Promise<void> => (stopping ??= shutDown().finally(() => (stopping = undefined)));

  await start();

  return {
    get url() {
      return `ws://${host}:${port}/`;
    },
    get port() {
      return port;
    },
    get published() {
      return seq;
    },
    get listening() {
      return http !== undefined;
    },
    get connections() {
      return conns.size;
    },
    untilPublished: (target) =>
      new Promise<void>((resolve) => (target <= seq ? resolve() : seqWaiters.push({ seq: target, resolve }))),
    nextClose: () => new Promise<number>((resolve) => closeWaiters.push(resolve)),
    drop: () => {
      for (const conn of conns) conn.ws.terminate();
    },
    stop,
    start,
    close: async () => {
      clearInterval(ticker);
      await stop();
    },
  };
}
