/**
 * The unstable target of seed 002: a `ws` server that acknowledges every message by id, and
 * can crash (every connection dropped, the port closed, then listening again on the same
 * port) and freeze (it stops reading, answering and pinging back while TCP stays open, as a
 * process whose event loop is blocked).
 *
 * Protocol, one JSON object per text frame:
 *
 * | frame | direction | meaning |
 * |---|---|---|
 * | `{ type: 'msg', id, body }` | in | a message; `id` is unique per sender |
 * | `{ type: 'ack', id }` | out | "I have `id`", sent as soon as it is read |
 *
 *   npx tsx examples/resilient-proxy/unstable-target.ts [--port 8080] [--chaos 3000]
 *
 * With `--chaos ms`, it crashes, freezes and restarts slowly in turn, one fault every `ms`.
 */
import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

/** A message from a client of the target. */
export interface TargetMessage {
  readonly type: 'msg';
  readonly id: string;
  readonly body?: unknown;
}

/** The target's acknowledgement of a message. */
export interface TargetAck {
  readonly type: 'ack';
  readonly id: string;
}

/** One accepted connection, as the target saw it. */
export interface TargetConnection {
  /** 1, 2, 3… in accept order, across restarts. */
  readonly id: number;
  /** The `x-proxy-session` request header, when a proxy set one. */
  readonly session: string | undefined;
  readonly ws: WebSocket;
  /** The TCP socket, paused while frozen. */
  readonly tcp: Socket;
  /** Message ids read on this connection, in order. */
  readonly received: string[];
  /** The close code seen (1006: no close frame), `undefined` while open. */
  closeCode: number | undefined;
}

export interface UnstableTarget {
  readonly port: number;
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** How many times each message id was read, across connections and restarts. */
  readonly received: ReadonlyMap<string, number>;
  /** Connections still open. */
  readonly live: ReadonlySet<TargetConnection>;
  /** Every connection accepted, in order. */
  readonly connections: readonly TargetConnection[];
  /**
   * `connection` (TargetConnection), `message` (TargetConnection, id), `close`
   * (TargetConnection), `crash` (), `restart` (), `freeze` (), `thaw` ().
   */
  readonly events: EventEmitter;
  /**
   * Crashes: every connection dropped (TCP destroyed, no close frame: the peer sees 1006; with
   * `graceful`, a 1001 close frame first, as a process shutting down), and the port closed.
   * Connecting fails with ECONNREFUSED until `restart()`.
   */
  crash(options?: { readonly graceful?: boolean }): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  /**
   * Stops reading the given connections (default: all, and every connection accepted until
   * `thaw()`): no acks, no pongs, no upgrade answered, TCP open. What the peers sent meanwhile
   * waits in the kernel and is read on `thaw()`, as a blocked process would on unblocking.
   */
  freeze(which?: (connection: TargetConnection) => boolean): void;
  thaw(): void;
  /** Stops for good: every connection dropped, the port closed. */
  close(): Promise<void>;
}

export interface UnstableTargetOptions {
  /** @defaultValue 0 (any free port; restarts reuse the port it got) */
  readonly port?: number;
}

/** Starts the target on 127.0.0.1. */
export async function startUnstableTarget(options: UnstableTargetOptions = {}): Promise<UnstableTarget> {
  const events = new EventEmitter();
  const received = new Map<string, number>();
  const live = new Set<TargetConnection>();
  const connections: TargetConnection[] = [];
  const frozen = new Set<Socket>();
  let freezeNew = false;
  const sockets = new Set<Socket>(); // every TCP connection of the current run
  let running: { readonly http: Server; readonly wss: WebSocketServer } | undefined;
  let port = options.port ?? 0;

  const onMessage = (connection: TargetConnection, data: RawData, isBinary: boolean): void => {
    let message: Partial<TargetMessage>;
    try {
      if (isBinary) throw new TypeError('binary frame');
      message = JSON.parse(String(data)) as Partial<TargetMessage>;
    } catch {
      connection.ws.close(1007, 'expected JSON text');
      return;
    }
    if (message?.type !== 'msg' || typeof message.id !== 'string') return;
    connection.received.push(message.id);
    received.set(message.id, (received.get(message.id) ?? 0) + 1);
    const ack: TargetAck = { type: 'ack', id: message.id };
    if (connection.ws.readyState === connection.ws.OPEN) connection.ws.send(JSON.stringify(ack));
    events.emit('message', connection, message.id);
  };

  const accept = (ws: WebSocket, request: IncomingMessage): void => {
    const header = request.headers['x-proxy-session'];
    const connection: TargetConnection = {
      id: connections.length + 1,
      session: typeof header === 'string' ? header : undefined,
      ws,
      tcp: request.socket,
      received: [],
      closeCode: undefined,
    };
    connections.push(connection);
    live.add(connection);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => onMessage(connection, data, isBinary));
    ws.on('close', (code) => {
      connection.closeCode = code;
      live.delete(connection);
      frozen.delete(connection.tcp);
      events.emit('close', connection);
    });
    events.emit('connection', connection);
  };

  const listen = async (): Promise<void> => {
    const http = createServer();
    const server = new WebSocketServer({ server: http });
    await new Promise<void>((resolve, reject) => http.once('error', reject).listen(port, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
    http.on('connection', (tcp: Socket) => {
      sockets.add(tcp);
      tcp.once('close', () => sockets.delete(tcp));
      // A frozen process does not read a new connection's upgrade request either.
      if (freezeNew) {
        tcp.pause();
        frozen.add(tcp);
      }
    });
    server.on('connection', accept);
    running = { http, wss: server };
  };

  /** Drops every TCP connection (upgraded or not) and stops listening. */
  const stop = async (graceful: boolean): Promise<void> => {
    const current = running;
    if (!current) return;
    running = undefined;
    for (const tcp of sockets) {
      const connection = [...live].find((c) => c.tcp === tcp);
      if (graceful && connection && !frozen.has(tcp)) {
        // A process shutting down: a close frame, then FIN once it is written; no waiting for
        // the peer's answer.
        connection.ws.close(1001, 'going away');
        tcp.end(() => tcp.destroy());
      } else tcp.destroy();
    }
    frozen.clear();
    // Every TCP socket's own 'close' (its handle is released), not only the server's.
    const socketsClosed = [...sockets].map((tcp) => new Promise((resolve) => (tcp.closed ? resolve(undefined) : tcp.once('close', resolve))));
    current.wss.close();
    await new Promise<void>((resolve) => current.http.close(() => resolve()));
    await Promise.all(socketsClosed);
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    received,
    live,
    connections,
    events,
    async crash(crashOptions = {}) {
      freezeNew = false;
      await stop(crashOptions.graceful ?? false);
      events.emit('crash');
    },
    async restart() {
      if (running) return;
      await listen();
      events.emit('restart');
    },
    freeze(which) {
      if (!which) freezeNew = true;
      for (const connection of live) {
        if (which && !which(connection)) continue;
        connection.tcp.pause();
        frozen.add(connection.tcp);
      }
      events.emit('freeze');
    },
    thaw() {
      freezeNew = false;
      for (const tcp of frozen) tcp.resume();
      frozen.clear();
      events.emit('thaw');
    },
    async close() {
      await stop(false);
      events.removeAllListeners();
    },
  };
}

/**
 * Faults in turn, one every `period` ms, until `stop()`: crash (restart after `period / 3`),
 * freeze (thaw after `period / 3`), graceful crash. Logs each one.
 */
export function runChaos(target: UnstableTarget, period: number, log: (line: string) => void = console.log): { stop(): void } {
  const faults: Array<[string, () => Promise<void> | void, () => Promise<void> | void]> = [
    ['crash (connections dropped, port closed)', () => target.crash(), () => target.restart()],
    ['freeze (nothing read or answered, TCP open)', () => target.freeze(), () => target.thaw()],
    ['graceful crash (close 1001, port closed)', () => target.crash({ graceful: true }), () => target.restart()],
  ];
  let n = 0;
  let recover: NodeJS.Timeout | undefined;
  const tick = setInterval(() => {
    const [name, fault, fix] = faults[n++ % faults.length]!;
    log(`target: ${name}`);
    void Promise.resolve(fault()).then(() => {
      recover = setTimeout(() => {
        log('target: back');
        void fix();
      }, period / 3);
    });
  }, period);
  return {
    stop() {
      clearInterval(tick);
      clearTimeout(recover);
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, chaos: { type: 'string' } } });
  const target = await startUnstableTarget({ port: Number(values.port) });
  console.log(`target: listening on ${target.url}`);
  target.events.on('connection', (c: TargetConnection) => console.log(`target: connection #${c.id} (${c.session ?? 'no session header'})`));
  target.events.on('close', (c: TargetConnection) => console.log(`target: connection #${c.id} closed (${c.closeCode}), ${c.received.length} messages`));
  const chaos = values.chaos ? runChaos(target, Number(values.chaos)) : undefined;
  process.once('SIGINT', () => {
    chaos?.stop();
    const duplicates = [...target.received.values()].reduce((sum, n) => sum + n - 1, 0);
    console.log(`target: ${target.received.size} distinct messages, ${duplicates} duplicates`);
    void target.close();
  });
}
