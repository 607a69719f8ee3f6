import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { type RxSocket, type SocketConfig, type SocketEvent, createSocket } from '../../src/index.js';
import { type ClientFrame, type ProtocolConnection, type ProtocolServerOptions, type ServerFrame, startProtocolServer } from './protocolServer.js';

/** A `createSocket` client for the protocol server: hello/ready sessions, per-channel offsets, acks. */
export function protocolClient(
  url: string,
  extra: Partial<SocketConfig<ServerFrame, ClientFrame>> = {},
): { socket: RxSocket<ServerFrame, ClientFrame>; events: SocketEvent<ClientFrame>[] } {
  let session: string | undefined;
  const socket = createSocket<ServerFrame, ClientFrame>({
    url,
    WebSocketCtor: WebSocket,
    session: {
      hello: ({ cursor }) => [
        { type: 'hello', ...(session ? { session } : {}), ...(cursor !== undefined ? { after: Number(cursor) } : {}) },
      ],
      isReady: (m) => {
        if (m.type !== 'ready') return false;
        session = m.session;
        return true;
      },
      isResumed: (m) => m.type === 'ready' && m.resumed,
    },
    backoff: { initialDelay: 1, maxDelay: 5 },
    ack: { idOf: (m) => (m.type === 'publish' ? m.id : undefined), ackOf: (m) => (m.type === 'ack' ? m.id : undefined) },
    ...extra,
  });
  const events: SocketEvent<ClientFrame>[] = [];
  socket.events$.subscribe((e) => events.push(e));
  return { socket, events };
}

/**
 * The protocol server and client of a test file, each closed after every test by `defer` (from
 * `useDisposer()`).
 */
export function disposedProtocolRig(defer: (dispose: () => unknown) => void) {
  return {
    protocolClient(url: string, extra: Partial<SocketConfig<ServerFrame, ClientFrame>> = {}) {
      const client = protocolClient(url, extra);
      defer(() => client.socket.close());
      return client;
    },
    async protocolServer(options?: ProtocolServerOptions) {
      const server = await startProtocolServer(options);
      defer(() => server.close());
      return server;
    },
  };
}

export { topic } from './protocolTopic.js';

/** Resolves when the client's status is next (or already) `open`. */
export function whenOpen(socket: RxSocket<ServerFrame, ClientFrame>): Promise<unknown> {
  return firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open')));
}

/** Waits until the connection has received `count` frames of `type`, and returns them all. */
export async function framesOf(conn: ProtocolConnection, type: ClientFrame['type'], count: number): Promise<ClientFrame[]> {
  while (conn.received.filter((f) => f.type === type).length < count) await conn.frames.next();
  return conn.received.filter((f) => f.type === type);
}

/** The next `n` items of a queue. */
export async function take<T>(queue: { next(): Promise<T> }, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await queue.next());
  return out;
}
