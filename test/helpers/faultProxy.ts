import { type AddressInfo, type Server, type Socket, connect as connectTcp, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AsyncQueue } from './queue.js';

/**
 * A TCP fault proxy (toxiproxy / `tc netem` stand-in, see FAULTS.md "The rig"): a `node:net`
 * relay on 127.0.0.1 whose behaviour can be switched at any time, mid-connection, per
 * direction. `'up'` is client → server, `'down'` is server → client.
 *
 * Modes apply per chunk as it is read, to every current and future connection:
 * - `pass`: forward at once (behind any chunk still delayed, so order is always kept).
 * - `latency(ms)`: forward each chunk `ms` after it was read, never before an earlier one.
 * - `blackhole`: read and discard; both TCP sockets stay open and a FIN read in that direction
 *   is swallowed too (the far side learns nothing). Chunks already delayed by `latency` were
 *   "on the wire" and are still delivered.
 * - `limit(bytes)`: each connection may forward `bytes` more bytes in that direction (counted
 *   from the first chunk read after `limit` was called, or from a new connection's first byte,
 *   HTTP upgrade included); the rest is discarded as in `blackhole` (default `then: 'blackhole'`), or, with
 *   `then: 'end'`, the connection is ended as by `end()` once the budget is used up (checked
 *   as data arrives), e.g. a FIN in the middle of a WebSocket frame.
 *
 * Actions: `reset()` RSTs both sockets of every current connection (pending delayed chunks are
 * dropped); `end()` FINs both sides after the chunks already read (no WebSocket close frame),
 * and discards anything read afterwards; `down()` stops listening and destroys every current
 * connection (new connects: ECONNREFUSED); `up()` listens again on the same port.
 *
 * Propagation: a FIN from either peer is forwarded in order (unless swallowed, see above); a
 * side that dies with an error (RST, refused target) is passed on as a RST to the other side.
 */

export type Direction = 'up' | 'down';
export type Directions = Direction | 'both';
/** What `limit` does once a connection's budget is used up. */
export type LimitThen = 'blackhole' | 'end';
export type FaultMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'latency'; readonly ms: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'limit'; readonly bytes: number; readonly then: LimitThen };
/** `received`: read from the source; `forwarded`: written to the other side; `discarded`: dropped. */
export type ByteCounter = 'received' | 'forwarded' | 'discarded';

/** One client connection relayed to the target. */
export interface ProxyConnection {
  /** 1, 2, 3… in accept order. */
  readonly id: number;
  /** The socket accepted from the client. */
  readonly client: Socket;
  /** The socket opened to the target. */
  readonly target: Socket;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Bytes counted so far in one direction. */
  bytes(direction: Direction, counter: ByteCounter): number;
  /** Resolves once `bytes(direction, counter) >= atLeast`: e.g. "the proxy swallowed the ping". */
  waitForBytes(direction: Direction, counter: ByteCounter, atLeast: number): Promise<void>;
  /** RST both sides (`socket.resetAndDestroy()`). */
  reset(): void;
  /** FIN both sides, after the chunks already read; no WebSocket close frame. */
  end(): void;
  /** Destroys both sockets (FIN, no delay). */
  destroy(): void;
}

export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
}

export interface FaultProxy {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Every accepted connection, in order: await "the client connected through the proxy". */
  readonly connectionsQueue: AsyncQueue<ProxyConnection>;
  /** The current mode of one direction. */
  mode(direction: Direction): FaultMode;
  setMode(mode: FaultMode, direction?: Directions): void;
  pass(direction?: Directions): void;
  latency(ms: number, direction?: Directions): void;
  blackhole(direction?: Directions): void;
  limit(bytes: number, direction?: Directions, then?: LimitThen): void;
  /** RST both sides of every current connection. */
  reset(): void;
  /** FIN both sides of every current connection (no close frame). */
  end(): void;
  /** Stops listening and destroys every current connection: new connects get ECONNREFUSED. */
  down(): Promise<void>;
  /** Listens again on the same port (retries EADDRINUSE a few times). */
  up(): Promise<void>;
  isUp(): boolean;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections with at least one socket still open. */
  active(): number;
  /** Current connections. */
  live(): ProxyConnection[];
  /** Stops listening, destroys every connection and timer. Idempotent. */
  close(): Promise<void>;
}

function isAddressInUse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EADDRINUSE';
}

/**
 * Listens on 127.0.0.1:`port` (0: any free port) and returns the port. EADDRINUSE (the port of
 * a server that is still closing) is retried up to `attempts` times, one `setImmediate` apart.
 */
export async function listenOn(server: Server, port: number, attempts = 20): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => {
          server.off('listening', onListening);
          reject(error);
        };
        const onListening = (): void => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(port, '127.0.0.1');
      });
      return (server.address() as AddressInfo).port;
    } catch (error) {
      if (!isAddressInUse(error) || attempt >= attempts) throw error;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

function resetSocket(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

interface Queued {
  readonly at: number;
  /** `undefined`: a FIN. */
  readonly chunk: Buffer | undefined;
}

/** One direction of one connection: applies the mode to each chunk, keeps order, counts bytes. */
class Pipe {
  private readonly counts: Record<ByteCounter, number> = { received: 0, forwarded: 0, discarded: 0 };
  private readonly waiters: Array<{ counter: ByteCounter; atLeast: number; resolve: () => void }> = [];
  private readonly queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private limitMode: FaultMode | undefined;
  private remaining = 0;
  /** No more forwarding: the connection was ended, reset or destroyed. */
  private stopped = false;
  private waitingForDrain = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly modeOf: () => FaultMode,
    private readonly onLimitEnd: () => void,
  ) {}

  count(counter: ByteCounter): number {
    return this.counts[counter];
  }

  waitFor(counter: ByteCounter, atLeast: number): Promise<void> {
    if (this.counts[counter] >= atLeast) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ counter, atLeast, resolve }));
  }

  onData(chunk: Buffer): void {
    this.add('received', chunk.length);
    if (this.stopped) {
      this.add('discarded', chunk.length);
      return;
    }
    const mode = this.modeOf();
    switch (mode.kind) {
      case 'pass':
        this.enqueue(chunk, 0);
        return;
      case 'latency':
        this.enqueue(chunk, mode.ms);
        return;
      case 'blackhole':
        this.add('discarded', chunk.length);
        return;
      case 'limit': {
        const take = Math.min(this.budget(mode), chunk.length);
        this.remaining -= take;
        if (take > 0) this.enqueue(take === chunk.length ? chunk : chunk.subarray(0, take), 0);
        if (take < chunk.length) this.add('discarded', chunk.length - take);
        if (this.remaining === 0 && mode.then === 'end') this.onLimitEnd();
        return;
      }
    }
  }

  /** The source sent FIN: forward it in order, unless this direction swallows everything. */
  onEnd(): void {
    if (this.stopped) return;
    const mode = this.modeOf();
    if (mode.kind === 'blackhole' || (mode.kind === 'limit' && this.budget(mode) === 0)) return;
    this.enqueueEnd(mode.kind === 'latency' ? mode.ms : 0);
  }

  /** Stops forwarding new data and sends FIN after what is already queued. */
  finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.enqueueEnd(0);
  }

  /** Stops forwarding and drops whatever is queued. */
  cancel(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private budget(mode: Extract<FaultMode, { kind: 'limit' }>): number {
    if (this.limitMode !== mode) {
      this.limitMode = mode;
      this.remaining = mode.bytes;
    }
    return this.remaining;
  }

  private add(counter: ByteCounter, n: number): void {
    this.counts[counter] += n;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (this.counts[waiter.counter] >= waiter.atLeast) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private enqueue(chunk: Buffer, delay: number): void {
    if (this.queue.length === 0 && delay <= 0) {
      this.write(chunk);
      return;
    }
    this.push(chunk, delay);
  }

  private enqueueEnd(delay: number): void {
    if (this.queue.length === 0 && delay <= 0) this.endTarget();
    else this.push(undefined, delay);
  }

  private push(chunk: Buffer | undefined, delay: number): void {
    const at = Math.max(performance.now() + delay, this.lastAt);
    this.lastAt = at;
    this.queue.push({ at, chunk });
    this.schedule();
  }

  private schedule(): void {
    const head = this.queue[0];
    if (this.timer !== undefined || head === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, Math.max(0, head.at - performance.now()));
  }

  /** Delivers the head (its timer fired) and every other entry that is due. */
  private drain(): void {
    let first = true;
    const now = performance.now();
    for (let head = this.queue[0]; head !== undefined && (first || head.at <= now); head = this.queue[0]) {
      first = false;
      this.queue.shift();
      if (head.chunk === undefined) this.endTarget();
      else this.write(head.chunk);
    }
    this.schedule();
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed || this.to.writableEnded) {
      this.add('discarded', chunk.length);
      return;
    }
    const ok = this.to.write(chunk);
    this.add('forwarded', chunk.length);
    if (!ok && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.from.pause();
      this.to.once('drain', () => {
        this.waitingForDrain = false;
        this.from.resume();
      });
    }
  }

  private endTarget(): void {
    if (!this.to.destroyed && !this.to.writableEnded) this.to.end();
  }
}

/** Starts a fault proxy on 127.0.0.1, port 0, relaying to `target`. Starts in `pass` mode. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { target } = options;
  const modes: Record<Direction, FaultMode> = { up: { kind: 'pass' }, down: { kind: 'pass' } };
  const connectionsQueue = new AsyncQueue<ProxyConnection>();
  const live = new Set<ProxyConnection>();
  let accepted = 0;
  let server: Server | undefined;
  let closed = false;

  const onConnection = (client: Socket): void => {
    accepted++;
    const id = accepted;
    client.setNoDelay(true);
    client.on('error', () => {});
    const targetSocket = connectTcp({ host: target.host, port: target.port, allowHalfOpen: true });
    targetSocket.setNoDelay(true);
    targetSocket.on('error', () => {});

    let clientClosed = false;
    let targetClosed = false;
    let resolveClosed: () => void = () => {};
    const closedPromise = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });

    const connection: ProxyConnection = {
      id,
      client,
      target: targetSocket,
      closed: closedPromise,
      isClosed: () => clientClosed && targetClosed,
      bytes: (direction, counter) => pipes[direction].count(counter),
      waitForBytes: (direction, counter, atLeast) => pipes[direction].waitFor(counter, atLeast),
      reset: () => {
        upPipe.cancel();
        downPipe.cancel();
        resetSocket(client);
        resetSocket(targetSocket);
      },
      end: () => {
        upPipe.finish();
        downPipe.finish();
      },
      destroy: () => {
        upPipe.cancel();
        downPipe.cancel();
        client.destroy();
        targetSocket.destroy();
      },
    };
    const upPipe = new Pipe(client, targetSocket, () => modes.up, () => connection.end());
    const downPipe = new Pipe(targetSocket, client, () => modes.down, () => connection.end());
    const pipes: Record<Direction, Pipe> = { up: upPipe, down: downPipe };

    client.on('data', (chunk: Buffer) => upPipe.onData(chunk));
    client.on('end', () => upPipe.onEnd());
    targetSocket.on('data', (chunk: Buffer) => downPipe.onData(chunk));
    targetSocket.on('end', () => downPipe.onEnd());

    const settle = (): void => {
      if (!clientClosed || !targetClosed) return;
      live.delete(connection);
      resolveClosed();
    };
    // A side that dies with an error (RST, refused) takes the other one down with a RST.
    client.on('close', (hadError: boolean) => {
      clientClosed = true;
      if (hadError) {
        upPipe.cancel();
        downPipe.cancel();
        resetSocket(targetSocket);
      }
      settle();
    });
    targetSocket.on('close', (hadError: boolean) => {
      targetClosed = true;
      if (hadError) {
        upPipe.cancel();
        downPipe.cancel();
        resetSocket(client);
      }
      settle();
    });

    live.add(connection);
    connectionsQueue.push(connection);
  };

  const createProxyServer = (): Server => {
    const s = createServer({ allowHalfOpen: true }, onConnection);
    s.on('error', () => {});
    return s;
  };

  server = createProxyServer();
  const port = await listenOn(server, 0);

  const setMode = (mode: FaultMode, direction: Directions = 'both'): void => {
    if (direction === 'up' || direction === 'both') modes.up = mode;
    if (direction === 'down' || direction === 'both') modes.down = mode;
  };

  const down = async (): Promise<void> => {
    const s = server;
    if (s === undefined) return;
    server = undefined;
    const stopped = new Promise<void>((resolve) => s.close(() => resolve()));
    const connections = [...live];
    for (const connection of connections) connection.destroy();
    await Promise.all([stopped, ...connections.map((c) => c.closed)]);
  };

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connectionsQueue,
    mode: (direction) => modes[direction],
    setMode,
    pass: (direction) => setMode({ kind: 'pass' }, direction),
    latency: (ms, direction) => {
      if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`latency must be a finite ms >= 0, got ${ms}`);
      setMode({ kind: 'latency', ms }, direction);
    },
    blackhole: (direction) => setMode({ kind: 'blackhole' }, direction),
    limit: (bytes, direction, then = 'blackhole') => {
      if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`limit must be an integer >= 0, got ${bytes}`);
      setMode({ kind: 'limit', bytes, then }, direction);
    },
    reset: () => {
      for (const connection of [...live]) connection.reset();
    },
    end: () => {
      for (const connection of [...live]) connection.end();
    },
    down,
    up: async () => {
      if (closed) throw new Error('the fault proxy is closed');
      if (server !== undefined) return;
      const s = createProxyServer();
      server = s;
      try {
        await listenOn(s, port);
      } catch (error) {
        server = undefined;
        throw error;
      }
    },
    isUp: () => server !== undefined,
    connections: () => accepted,
    active: () => live.size,
    live: () => [...live],
    close: async () => {
      closed = true;
      await down();
    },
  };
}
