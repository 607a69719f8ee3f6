import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { AsyncQueue } from '../helpers/queue.js';

/** A message of the feed: which connection, its position on that connection, and padding. */
export interface FeedMessage {
  readonly conn: number;
  readonly seq: number;
  readonly pad: string;
}

/** One connection of the feed server, pumping messages as fast as the client reads them. */
export interface FeedConnection {
  readonly id: number;
  readonly socket: WebSocket;
  /** The TCP socket under it. */
  readonly tcp: Socket;
  /** Messages sent so far. */
  sent(): number;
  /**
   * Resolves with `sent()` the first time the server's own write buffer held `cap` bytes
   * that TCP would not take: the client had stopped reading.
   */
  readonly blocked: Promise<number>;
  /** How many times the server found itself blocked so far. */
  blocks(): number;
  /** Resolves with the client's close code (1006 when the TCP connection just ended). */
  readonly closed: Promise<number>;
  /** Stops pumping. */
  stop(): void;
}

export interface FeedServer {
  readonly url: string;
  readonly connections: AsyncQueue<FeedConnection>;
  /** Bytes of one frame on the wire (header included), for slack bounds. */
  readonly frameBytes: number;
  close(): Promise<void>;
}

/**
 * A `ws` server on 127.0.0.1, port 0, that sends each client numbered messages as fast as
 * its socket takes them: it sends in batches, one batch per event-loop turn, until `cap`
 * bytes wait in its own write buffer (TCP's buffers are full: the client is not reading),
 * then waits for 'drain'. It never buffers more than `cap` plus one batch itself.
 */
export async function startFeedServer({
  payloadBytes = 4000,
  cap = 1 << 20,
  batch = 16,
  limit = Infinity,
  session = false,
}: {
  payloadBytes?: number;
  cap?: number;
  batch?: number;
  limit?: number;
  /** Wait for the client's first message, answer `{ type: 'ready' }`, then pump. */
  session?: boolean;
} = {}): Promise<FeedServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
  const { port } = wss.address() as AddressInfo;
  const connections = new AsyncQueue<FeedConnection>();
  const pad = 'x'.repeat(payloadBytes);
  let count = 0;
  wss.on('connection', (socket) => {
    const id = ++count;
    const tcp = (socket as unknown as { _socket: Socket })._socket;
    let seq = 0;
    let blocks = 0;
    let stopped = false;
    let onBlocked: (sent: number) => void = () => {};
    const blocked = new Promise<number>((resolve) => (onBlocked = resolve));
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('error', () => {});
    const pump = (): void => {
      if (stopped || socket.readyState !== socket.OPEN) return;
      for (let i = 0; i < batch && seq < limit; i++) {
        socket.send(JSON.stringify({ conn: id, seq: ++seq, pad }));
      }
      if (seq >= limit) return;
      if (socket.bufferedAmount < cap) {
        setImmediate(pump);
        return;
      }
      blocks++;
      onBlocked(seq);
      tcp.once('drain', pump);
    };
    socket.on('close', () => {
      stopped = true;
    });
    connections.push({
      id,
      socket,
      tcp,
      sent: () => seq,
      blocked,
      blocks: () => blocks,
      closed,
      stop: () => {
        stopped = true;
      },
    });
    if (!session) setImmediate(pump);
    else {
      socket.once('message', () => {
        socket.send(JSON.stringify({ type: 'ready' }));
        setImmediate(pump);
      });
    }
  });
  const frameBytes = Buffer.byteLength(JSON.stringify({ conn: 1, seq: 1_000_000, pad })) + 4;
  return {
    url: `ws://127.0.0.1:${port}`,
    connections,
    frameBytes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
