/**
 * The resilient proxy of seed 002, built on rxtether's `createSocket`: each downstream client
 * gets its own upstream connection to the target, and that upstream, not the client, absorbs
 * the target's crashes and freezes.
 *
 * Per downstream client (a "session"), one `createSocket` client to the target:
 *
 * - **reconnects** with capped exponential backoff and full jitter (`backoff`);
 * - **detects a frozen target** by protocol ping/pong (`ping`): a target that stops answering
 *   while TCP stays open is terminated and replaced;
 * - **re-sends what the target has not acknowledged** (`ack`): every message the client sent
 *   that the target has not acked when the upstream drops goes first on the next connection,
 *   and what the client sends while the upstream is down waits in the outbox (FIFO, bounded).
 *   This is at-least-once: a message the target read but whose ack was lost is sent again, so
 *   the target can see an id twice.
 *
 * The downstream socket is never closed because of the target, only when the client leaves
 * (its upstream is closed with it), when the upstream fails for good (a terminal close code:
 * 1014), or when the session's outbox is full (1013).
 *
 *   npx tsx examples/resilient-proxy/proxy.ts --target ws://127.0.0.1:8080 [--port 8081]
 *
 * Compared with the anchor proxy of the seed: no state is shared between downstream clients
 * (everything is per session, created in `accept`; the proxy itself only holds the set of live
 * sessions), and nothing is added per reconnect (the downstream listeners are attached once per
 * client; each upstream socket is created, listened to and released by rxtether).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type RxSocket, type SocketStatus, createSocket, isConnectionClosedError, isOutboxOverflowError } from 'rxtether';
import { Subscription } from 'rxjs';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/** A JSON value as it crosses the proxy. */
export type Frame = unknown;

export interface ProxyOptions {
  /** The target's URL, e.g. `ws://127.0.0.1:8080`. */
  readonly target: string;
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  /**
   * The id of a client message that the target acknowledges; `undefined` for messages that are
   * forwarded without tracking (at most once).
   * @defaultValue `message.id` when it is a string or a number
   */
  readonly idOf?: (message: Frame) => string | number | undefined;
  /**
   * The id a target message acknowledges, `undefined` when it is not an ack.
   * @defaultValue `message.id` when `message.type === 'ack'`
   */
  readonly ackOf?: (message: Frame) => string | number | undefined;
  /** Protocol ping after this much upstream silence, ms. @defaultValue 5000 */
  readonly pingInterval?: number;
  /** No pong (or any frame) this long after a ping: the target is frozen, ms. @defaultValue 5000 */
  readonly pingTimeout?: number;
  /** The upstream handshake must finish within this, ms (a frozen target never answers it). @defaultValue 5000 */
  readonly openTimeout?: number;
  /** First reconnect delay ceiling, ms (full jitter below it). @defaultValue 500 */
  readonly initialDelay?: number;
  /** @defaultValue 10000 */
  readonly maxDelay?: number;
  /**
   * Messages one session holds while its upstream is down (un-acked re-sends come on top).
   * Past it, the client is closed with 1013 rather than losing a message.
   * @defaultValue 10000
   */
  readonly maxBuffered?: number;
}

/** One downstream client and its own upstream. */
export interface ProxySession {
  /** `session-1`, `session-2`… per proxy; sent upstream as the `x-proxy-session` header. */
  readonly id: string;
  readonly downstream: WebSocket;
  /** The upstream client (status, events). */
  readonly upstream: RxSocket<Frame, Frame>;
  /** The current upstream WebSocket, `undefined` between connections. */
  readonly upstreamSocket: WebSocket | undefined;
  /** Upstream WebSockets created so far for this session. */
  readonly upstreamsCreated: number;
  /** The latest upstream status. */
  readonly status: SocketStatus;
  /** Resolves once the session has ended and both its sockets are closed. */
  readonly closed: Promise<void>;
}

export interface ResilientProxy {
  readonly port: number;
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** The live sessions. */
  readonly sessions: ReadonlySet<ProxySession>;
  /**
   * `session` (ProxySession), `status` (ProxySession, SocketStatus), `upstream` (ProxySession,
   * WebSocket: each upstream socket as it is created), `session-end` (ProxySession, code).
   */
  readonly events: EventEmitter;
  /** Closes every session (downstream 1001, upstream 1000) and stops listening. */
  close(): Promise<void>;
}

const defaultIdOf = (message: Frame): string | number | undefined => {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
};
const defaultAckOf = (message: Frame): string | number | undefined =>
  (message as { type?: unknown } | null)?.type === 'ack' ? defaultIdOf(message) : undefined;

/** Resolves once `ws` is closed. */
const socketClosed = (ws: WebSocket): Promise<void> =>
  ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise((resolve) => ws.once('close', () => resolve()));

/** Starts the proxy on 127.0.0.1. */
export async function startProxy(options: ProxyOptions): Promise<ResilientProxy> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
  const port = (wss.address() as AddressInfo).port;
  const events = new EventEmitter();
  const sessions = new Set<ProxySession>();
  const closing = new Set<Promise<void>>(); // sessions ended, sockets not closed yet
  let counter = 0; // per proxy, for session ids

  /** Everything below is per downstream client: nothing is shared between sessions. */
  function accept(downstream: WebSocket): void {
    const id = `session-${++counter}`;
    let upstreamSocket: WebSocket | undefined;
    let upstreamsCreated = 0;
    let ended = false;
    let onClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      onClosed = resolve;
    });

    const upstream = createSocket<Frame, Frame>({
      url: options.target,
      // Each attempt's socket: tagged with the session (for the target's logs) and tracked.
      socketFactory: (url, protocols) => {
        const ws = new WebSocket(url, protocols, { headers: { 'x-proxy-session': id } });
        upstreamSocket = ws;
        upstreamsCreated++;
        ws.once('close', () => {
          if (upstreamSocket === ws) upstreamSocket = undefined;
        });
        events.emit('upstream', session, ws);
        return ws;
      },
      ping: { interval: options.pingInterval ?? 5000, timeout: options.pingTimeout ?? 5000 },
      openTimeout: options.openTimeout ?? 5000,
      backoff: { initialDelay: options.initialDelay ?? 500, maxDelay: options.maxDelay ?? 10_000 },
      ack: { idOf: options.idOf ?? defaultIdOf, ackOf: options.ackOf ?? defaultAckOf },
      outbox: { maxMessages: options.maxBuffered ?? 10_000, overflow: 'error' },
    });
    let status: SocketStatus = { state: 'idle', reconnects: 0, buffered: 0, dropped: 0 };

    const session: ProxySession = {
      id,
      downstream,
      upstream,
      get upstreamSocket() {
        return upstreamSocket;
      },
      get upstreamsCreated() {
        return upstreamsCreated;
      },
      get status() {
        return status;
      },
      closed,
    };
    sessions.add(session);
    const subscriptions = new Subscription();

    /** Ends the session: the downstream is closed with `code` (unless it is gone), the upstream with 1000. */
    const end = (code: number, reason: string): void => {
      if (ended) return;
      ended = true;
      sessions.delete(session);
      const last = upstreamSocket;
      upstream.close(); // final, with 1000 (first: a mere unsubscribe would close with 4000 "reconnect")
      subscriptions.unsubscribe();
      if (downstream.readyState === WebSocket.OPEN || downstream.readyState === WebSocket.CONNECTING) downstream.close(code, reason);
      const done = Promise.all([socketClosed(downstream), last && socketClosed(last)]).then(() => {
        closing.delete(done);
        onClosed();
      });
      closing.add(done);
      events.emit('session-end', session, code);
    };

    subscriptions.add(
      upstream.status$.subscribe((next) => {
        status = next;
        events.emit('status', session, next);
      }),
    );
    // Upstream → downstream. Subscribing opens the upstream; rxtether keeps it open.
    subscriptions.add(
      upstream.messages$.subscribe({
        next: (message) => {
          if (downstream.readyState === WebSocket.OPEN) downstream.send(JSON.stringify(message));
        },
        // Only a terminal failure gets here (e.g. a 1008 close): retrying cannot help.
        error: (error: unknown) => end(1014, isConnectionClosedError(error) ? `upstream closed ${error.code}` : 'upstream failed'),
      }),
    );

    // Downstream → upstream. These listeners are attached once for the client's lifetime.
    downstream.on('message', (data: RawData, isBinary: boolean) => {
      let message: Frame;
      try {
        if (isBinary) throw new TypeError('binary frame');
        message = JSON.parse(String(data)) as Frame;
      } catch {
        end(1007, 'expected JSON text');
        return;
      }
      try {
        upstream.send(message); // now, or held until the upstream is back
      } catch (error) {
        if (!isOutboxOverflowError(error)) throw error;
        end(1013, 'upstream backlog full');
      }
    });
    downstream.on('error', () => {});
    downstream.on('close', () => end(1000, ''));
    events.emit('session', session);
  }

  wss.on('connection', accept);

  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    sessions,
    events,
    async close() {
      for (const ws of wss.clients) ws.close(1001, 'proxy shutting down');
      // Each downstream close ends its session, which closes the upstream.
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await Promise.all([...sessions].map((s) => s.closed));
      await Promise.all(closing);
      events.removeAllListeners();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { target: { type: 'string', default: 'ws://127.0.0.1:8080' }, port: { type: 'string', default: '8081' } },
  });
  const proxy = await startProxy({ target: values.target, port: Number(values.port), pingInterval: 250, pingTimeout: 500 });
  console.log(`proxy: listening on ${proxy.url}, target ${values.target}`);
  proxy.events.on('session', (s: ProxySession) => console.log(`proxy: ${s.id} connected`));
  proxy.events.on('session-end', (s: ProxySession, code: number) => console.log(`proxy: ${s.id} ended (${code})`));
  const last = new Map<ProxySession, SocketStatus['state']>();
  proxy.events.on('session-end', (s: ProxySession) => last.delete(s));
  proxy.events.on('status', (s: ProxySession, status: SocketStatus) => {
    if (last.get(s) === status.state) return; // only changes of state, not of counters
    last.set(s, status.state);
    const detail =
      status.state === 'reconnecting'
        ? ` in ${Math.round(status.delay)} ms (attempt ${status.attempt}, ${(status.cause as Error | undefined)?.name ?? 'request'})`
        : '';
    console.log(`proxy: ${s.id} upstream ${status.state}${detail}, buffered ${status.buffered}`);
  });
  process.once('SIGINT', () => void proxy.close());
}
