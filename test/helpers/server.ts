import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createTcpServer } from 'node:net';
import { type RawData, type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import { AsyncQueue } from './queue.js';

/** What a server-side connection saw; every stream is a queue, so nothing is missed. */
export interface ServerConnection {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
  /** Text frames as strings, binary frames as Buffers, in arrival order. */
  readonly messages: AsyncQueue<string | Buffer>;
  /** Resolves with the close the client sent (or 1006 when the TCP connection died). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Sends a JSON-encoded value. */
  sendJson(value: unknown): void;
}

export interface TestServer {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly wss: WebSocketServer;
  /** Every accepted connection, in order. */
  readonly connections: AsyncQueue<ServerConnection>;
  /** Count of connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** A real `ws` server on 127.0.0.1, port 0. */
export async function startServer(options: Omit<ServerOptions, 'port' | 'host' | 'server'> = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ ...options, host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port } = wss.address() as AddressInfo;
  const connections = new AsyncQueue<ServerConnection>();
  let accepted = 0;
  wss.on('connection', (socket, request) => {
    accepted++;
    const messages = new AsyncQueue<string | Buffer>();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      messages.push(isBinary ? (data as Buffer) : data.toString());
    });
    socket.on('error', () => {});
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    connections.push({ socket, request, messages, closed, sendJson: (v) => socket.send(JSON.stringify(v)) });
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    wss,
    connections,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A TCP connection as seen by a raw server, with a promise for its end. */
export interface RawConnection {
  readonly socket: Socket;
  /** Resolves when the peer closed or reset the TCP connection. */
  readonly closed: Promise<void>;
  /** Resolves once the peer sent its first bytes. */
  readonly firstData: Promise<void>;
  /** Everything the peer sent so far. */
  received(): Buffer;
}

export interface RawServer {
  readonly url: string;
  readonly port: number;
  readonly connections: AsyncQueue<RawConnection>;
  close(): Promise<void>;
}

function trackRaw(socket: Socket, initial?: Buffer): RawConnection {
  const chunks: Buffer[] = initial && initial.length > 0 ? [initial] : [];
  let onData: () => void = () => {};
  const firstData = new Promise<void>((resolve) => {
    onData = resolve;
    if (chunks.length > 0) resolve();
  });
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    onData();
  });
  socket.on('error', () => {});
  // http.Server sockets allow half-open connections: the peer's FIN is 'end', not 'close'.
  socket.on('end', () => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, closed, firstData, received: () => Buffer.concat(chunks) };
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Listens on 127.0.0.1, port 0. `setup` wires the server's events and calls `accept` for each
 * connection to record; `close()` destroys every recorded connection and stops listening.
 */
async function startRaw(
  server: Server | ReturnType<typeof createTcpServer>,
  setup: (accept: (socket: Socket, head?: Buffer) => void) => void,
): Promise<RawServer> {
  const connections = new AsyncQueue<RawConnection>();
  const sockets = new Set<Socket>();
  setup((socket, head) => {
    sockets.add(socket);
    connections.push(trackRaw(socket, head));
  });
  const port = await listen(server);
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that accepts connections and never answers: the WebSocket handshake hangs. */
export function startSilentServer(): Promise<RawServer> {
  const server = createTcpServer();
  return startRaw(server, (accept) => server.on('connection', (socket) => accept(socket)));
}

/** An HTTP server whose upgrade handler answers with `status` and `headers` instead of 101. */
export function startRejectingServer(status: number, headers: Record<string, string> = {}): Promise<RawServer> {
  const server = createServer();
  return startRaw(server, (accept) =>
    server.on('upgrade', (_request, socket: Socket, head: Buffer) => {
      accept(socket, head);
      const lines = [`HTTP/1.1 ${status} Rejected`, 'Connection: close', 'Content-Length: 0'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n`);
    }),
  );
}

/**
 * An HTTP server that completes the WebSocket upgrade (101) and then ignores every byte:
 * the peer never answers a close frame, a ping or a message.
 */
export function startDeafServer(): Promise<RawServer> {
  const server = createServer();
  return startRaw(server, (accept) =>
    server.on('upgrade', (request, socket: Socket, head: Buffer) => {
      const key = request.headers['sec-websocket-key'] ?? '';
      const accepted = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accepted}\r\n\r\n`,
      );
      accept(socket, head);
    }),
  );
}
