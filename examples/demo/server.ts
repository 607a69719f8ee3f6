/**
 * The demo's embedded server: a tiny ticker broker on a real `ws` server on 127.0.0.1 that can
 * misbehave on command. Its log (every message of every channel) survives its own restarts,
 * like a broker backed by a durable log, so a client that resumes can always catch up.
 *
 * Protocol, one JSON object per text frame:
 *
 *   client → server                          server → client
 *   { type: 'hello', session? }              { type: 'ready', session, resumed }
 *   { type: 'subscribe', channel, after }    { type: 'msg', channel, seq, data }   (from the log, then live)
 *   { type: 'unsubscribe', channel }
 *   { type: 'order', id, ticker, qty }       { type: 'ack', id }
 *   { type: 'ping' }                         { type: 'pong' }
 *
 * A resuming subscribe (`after > 0`) is answered from a little before `after` (`overlap`, 2
 * messages), as brokers that resume from a coarse checkpoint do: the client must drop those.
 *
 * The faults it can play (see `FAULT_KINDS`):
 *
 * - `drop`      every live connection dies with a TCP RST (`resetAndDestroy`), no close frame
 * - `freeze`    the process hangs: nothing is sent on live connections (TCP stays open) and new
 *               handshakes are held, until the frozen connections are gone or a bound passes;
 *               then what was held goes out in order
 * - `restart`   close 1001 `restart` to everyone, stop listening, listen again on the same port
 * - `refuse`    the process is down: connections reset, and the port refuses connections
 *               (ECONNREFUSED) for a while
 * - `slowstart` close 1012 `service restart`, then for a while each handshake (the 101) and each
 *               `ready` is answered late
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

export const FAULT_KINDS = ['drop', 'freeze', 'restart', 'refuse', 'slowstart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type ClientFrame =
  | { readonly type: 'hello'; readonly session?: string }
  | { readonly type: 'subscribe'; readonly channel: string; readonly after: number }
  | { readonly type: 'unsubscribe'; readonly channel: string }
  | { readonly type: 'order'; readonly id: string; readonly ticker: string; readonly qty: number }
  | { readonly type: 'ping' };

export interface TickMsg {
  readonly type: 'msg';
  readonly channel: string;
  readonly seq: number;
  readonly data: { readonly price: number };
}

export type ServerFrame =
  | { readonly type: 'ready'; readonly session: string; readonly resumed: boolean }
  | TickMsg
  | { readonly type: 'ack'; readonly id: string }
  | { readonly type: 'pong' };

/** mulberry32: a tiny seeded PRNG, numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Conn {
  readonly subs = new Set<string>();
  /** Output held while the server is frozen, sent in order on thaw. */
  held: string[] | undefined;
  ready = false;
  readonly closed: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  send(frame: ServerFrame): void {
    const text = JSON.stringify(frame);
    if (this.held) this.held.push(text);
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  thaw(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const text of held) if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }
}

export interface UnstableServerOptions {
  /** Seeds the handshake and ready delays during a `slowstart`. */
  readonly random: () => number;
  /** On a resume (`after > 0`), also re-send this many messages before `after`. @defaultValue 2 */
  readonly overlap?: number;
}

export class UnstableServer {
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });
  private http: Server | undefined;
  private readonly rawSockets = new Set<Socket>();
  private readonly conns = new Set<Conn>();
  private readonly log = new Map<string, TickMsg[]>();
  private readonly sessions = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly wakeups = new Set<() => void>();
  private hurried = false;
  /** Handshakes held by a freeze. */
  private heldUpgrades: Array<{ request: IncomingMessage; socket: Duplex; head: Buffer }> = [];
  private frozen = false;
  private slowUntil = 0;
  private sessionCounter = 0;
  private readonly random: () => number;
  private readonly overlap: number;

  port = 0;
  /** Connections that completed the WebSocket handshake. */
  accepted = 0;
  /** Every `order` id received, duplicates included (at-least-once re-sends). */
  readonly orderIds: string[] = [];
  /** Messages re-sent on resume that the client had already delivered (the overlap). */
  overlapSent = 0;

  constructor(options: UnstableServerOptions) {
    this.random = options.random;
    this.overlap = options.overlap ?? 2;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Connections whose session is ready, i.e. a client that a fault would actually hit. */
  get readyConnections(): number {
    let n = 0;
    for (const conn of this.conns) if (conn.ready) n++;
    return n;
  }

  get listening(): boolean {
    return this.http !== undefined;
  }

  /** Messages published on `channel` so far (its last seq). */
  published(channel: string): number {
    return this.log.get(channel)?.length ?? 0;
  }

  async listen(): Promise<void> {
    if (this.http) return;
    const http = createServer((_request, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain' }).end('WebSocket only');
    });
    http.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.rawSockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => this.rawSockets.delete(socket));
    });
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
    http.on('clientError', (_error, socket: Duplex) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    http.on('error', () => {});
    this.http = http;
    this.port = (http.address() as AddressInfo).port;
  }

  /** Appends a tick to the channel's log and sends it to its live subscribers. */
  publish(channel: string, data: { price: number }): TickMsg {
    let entries = this.log.get(channel);
    if (!entries) this.log.set(channel, (entries = []));
    const msg: TickMsg = { type: 'msg', channel, seq: entries.length + 1, data };
    entries.push(msg);
    for (const conn of this.conns) if (conn.ready && conn.subs.has(channel)) conn.send(msg);
    return msg;
  }

  /**
   * Plays one fault and resolves when the server behaves again. `r` in [0, 1) picks the
   * fault's duration (drawn from the seeded schedule); `pace` scales the durations for short
   * runs; `note` receives one line when the fault starts and, for faults that last, one when
   * it ends.
   */
  async inject(kind: FaultKind, { r, pace, note }: { r: number; pace: number; note: (line: string) => void }): Promise<void> {
    const plural = (n: number) => `${n} connection${n === 1 ? '' : 's'}`;
    switch (kind) {
      case 'drop': {
        const n = this.conns.size;
        note(`TCP reset of ${plural(n)} (resetAndDestroy), no close frame`);
        for (const conn of this.conns) (conn.ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
        return;
      }
      case 'freeze': {
        const frozen = [...this.conns];
        // Hung until the client gives up on the frozen connections (its heartbeat), then a bit more.
        const extra = Math.round((300 + r * 900) * pace);
        note(`hangs: nothing sent on ${plural(frozen.length)} (TCP open), new handshakes held`);
        const started = Date.now();
        this.frozen = true;
        for (const conn of frozen) conn.held ??= [];
        await Promise.race([Promise.all(frozen.map((c) => c.closed)), this.sleep(5_000)]);
        await this.sleep(extra);
        this.thaw();
        note(`over after ${Date.now() - started} ms: held output and handshakes released`);
        return;
      }
      case 'restart': {
        const down = Math.round((150 + r * 600) * pace);
        note(`close 1001 to ${plural(this.conns.size)}, stops listening for ${down} ms`);
        await this.stop(1001, 'restart');
        await this.sleep(down);
        await this.listen();
        note(`listening again on :${this.port}`);
        return;
      }
      case 'refuse': {
        const down = Math.round((1_000 + r * 2_000) * pace);
        note(`crashes: ${plural(this.conns.size)} reset, port refuses connections for ${down} ms`);
        await this.stop();
        await this.sleep(down);
        await this.listen();
        note(`listening again on :${this.port}`);
        return;
      }
      case 'slowstart': {
        const warmup = Math.round((2_500 + r * 2_000) * pace);
        note(`close 1012 (service restart), then ${warmup} ms of slow handshakes (0.3-2.5 s) and slow ready (0-0.9 s)`);
        this.slowUntil = Date.now() + warmup;
        for (const conn of this.conns) conn.ws.close(1012, 'service restart');
        await this.sleep(warmup);
        this.slowUntil = 0;
        note('warmed up');
        return;
      }
    }
  }

  /** Stops for good: every connection, timer and the listener. */
  async close(): Promise<void> {
    this.thaw();
    await this.stop(1001, 'shutting down');
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.wss.close();
  }

  // ---- internals -------------------------------------------------------------------------

  /** Ends every fault's wait now (the run is over): a fault under way finishes at once. */
  hurry(): void {
    this.hurried = true;
    for (const wake of [...this.wakeups]) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.hurried) return resolve();
      const wake = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.timers.add(timer);
      this.wakeups.add(wake);
    });
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private thaw(): void {
    this.frozen = false;
    for (const conn of this.conns) conn.thaw();
    const held = this.heldUpgrades;
    this.heldUpgrades = [];
    for (const { request, socket, head } of held) this.accept(request, socket, head);
  }

  /** Stops listening; with a code, closes every connection with it first (bounded), then drops the rest. */
  private async stop(code?: number, reason?: string): Promise<void> {
    const http = this.http;
    if (!http) return;
    this.http = undefined;
    const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
    for (const { socket } of this.heldUpgrades) socket.destroy();
    this.heldUpgrades = [];
    const conns = [...this.conns];
    if (code !== undefined) {
      for (const conn of conns) {
        conn.held = undefined;
        conn.ws.close(code, reason);
      }
      await Promise.race([Promise.all(conns.map((c) => c.closed)), this.sleep(1_000)]);
    }
    for (const conn of this.conns) conn.ws.terminate();
    await Promise.all(conns.map((c) => c.closed));
    for (const socket of this.rawSockets) socket.destroy();
    await stopped;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.frozen) {
      this.heldUpgrades.push({ request, socket, head });
      return;
    }
    if (Date.now() < this.slowUntil) {
      this.later(Math.round(300 + this.random() * 2_200), () => this.accept(request, socket, head));
      return;
    }
    this.accept(request, socket, head);
  }

  private accept(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed || !this.http) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.accepted++;
      const conn = new Conn(ws);
      if (this.frozen) conn.held = [];
      this.conns.add(conn);
      ws.on('error', () => {});
      ws.once('close', () => this.conns.delete(conn));
      ws.on('message', (data: RawData) => this.handle(conn, data));
    });
  }

  private handle(conn: Conn, data: RawData): void {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(String(data)) as ClientFrame;
    } catch {
      conn.ws.close(1007, 'bad frame');
      return;
    }
    switch (frame.type) {
      case 'hello': {
        const resumed = frame.session !== undefined && this.sessions.has(frame.session);
        const session = resumed ? frame.session! : `s${++this.sessionCounter}`;
        this.sessions.add(session);
        const answer = () => {
          if (conn.ws.readyState !== WebSocket.OPEN) return;
          conn.ready = true;
          conn.send({ type: 'ready', session, resumed });
        };
        if (Date.now() < this.slowUntil) this.later(Math.round(this.random() * 900), answer);
        else answer();
        return;
      }
      case 'subscribe': {
        conn.subs.add(frame.channel);
        // Replay from the log, then live (publish() sends to subscribers). Like many brokers
        // resuming from a coarse checkpoint, a resume starts a little before `after`: the
        // client must drop those.
        const from = frame.after > 0 ? Math.max(0, frame.after - this.overlap) : 0;
        for (const msg of (this.log.get(frame.channel) ?? []).slice(from)) {
          if (msg.seq <= frame.after) this.overlapSent++;
          conn.send(msg);
        }
        return;
      }
      case 'unsubscribe':
        conn.subs.delete(frame.channel);
        return;
      case 'order':
        this.orderIds.push(frame.id);
        conn.send({ type: 'ack', id: frame.id });
        return;
      case 'ping':
        conn.send({ type: 'pong' });
        return;
    }
  }
}
