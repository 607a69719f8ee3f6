import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { listenOn } from './faultProxy.js';
import { AsyncQueue } from './queue.js';

/*
 * A scriptable pub/sub server speaking a small JSON protocol (one JSON object per text frame)
 * on a real `ws` server on 127.0.0.1. See FAULTS.md "The rig".
 *
 * Sequences: every `publish` gets `seq` (1, 2, 3… per channel) and `gseq` (1, 2, 3… across
 * channels), both restarting at 1 in each epoch (`epoch` starts at 1).
 *
 * Sessions: a `hello` without `session` always creates a new session in the current epoch
 * (`resumed: false`, epoch unchanged). A `hello` with `session` is a resume request; it
 * succeeds (`resumed: true`, same session, same epoch) when the session is known in the current
 * epoch and its `after` (if any; see below) is covered by the history. Otherwise — unknown
 * session (e.g. after `newEpoch()`), or history no longer covers `after` (`expireHistory()`,
 * `historyLimit` evictions, or `after` beyond the last gseq) — the server starts a NEW epoch for
 * everybody (history cleared, sequences back to 1, all sessions forgotten) and answers
 * `resumed: false` with a new session.
 *
 * Replay paths (`options.resume`):
 * - `'channel'` (default): `hello.after` is only checked (never replayed). Each
 *   `subscribe { channel, after }` is answered with `subscribed`, then the retained messages of
 *   that channel with `seq > after`, then live ones. If the channel history no longer covers
 *   `after`, nothing is replayed (the client sees the `seq` jump). No `after`: live only.
 * - `'connection'`: `hello.after` (default 0) is the last gseq seen. On a successful resume the
 *   session's subscriptions are restored on the new connection (no `subscribed` frames) and every
 *   retained message of those channels with `gseq > after` is replayed in gseq order right
 *   after `ready`. `subscribe.after` is ignored; re-subscribing a restored channel only answers
 *   `subscribed`.
 *
 * Freezing (`freeze()`, `connection.freeze()`) models a blocked process: the connection stops
 * reading (`ws.pause()`), and everything it would send (msgs, acks, pongs, ws-level pongs —
 * the server runs with `autoPong: false` and answers pings itself) is held, then sent in order
 * on `thaw()` before input is read again. While the server is frozen, new WebSocket handshakes
 * are held too (TCP accepted, no 101) until `thaw()`. A frozen connection does not notice the
 * client leaving until it is thawed or closed by the server (`closeAll`, `stop`, `close`…),
 * which drop its held output.
 */

// ---- Client → server ----
export interface HelloFrame {
  readonly type: 'hello';
  readonly session?: string;
  /** Last gseq the client saw. */
  readonly after?: number;
}
export interface SubscribeFrame {
  readonly type: 'subscribe';
  readonly channel: string;
  /** Last per-channel seq the client saw. */
  readonly after?: number;
}
export interface UnsubscribeFrame {
  readonly type: 'unsubscribe';
  readonly channel: string;
}
export interface PublishFrame {
  readonly type: 'publish';
  readonly id: string;
  readonly channel: string;
  readonly data: unknown;
}
export interface PingFrame {
  readonly type: 'ping';
}
export type ClientFrame = HelloFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | PingFrame;

// ---- Server → client ----
export interface ReadyFrame {
  readonly type: 'ready';
  readonly session: string;
  readonly epoch: number;
  readonly resumed: boolean;
}
export interface SubscribedFrame {
  readonly type: 'subscribed';
  readonly channel: string;
}
export interface RejectedFrame {
  readonly type: 'rejected';
  readonly channel: string;
  readonly reason: string;
}
export interface MsgFrame {
  readonly type: 'msg';
  readonly channel: string;
  readonly seq: number;
  readonly gseq: number;
  readonly epoch: number;
  readonly data: unknown;
}
export interface AckFrame {
  readonly type: 'ack';
  readonly id: string;
}
export interface PongFrame {
  readonly type: 'pong';
}
export interface ReconnectFrame {
  readonly type: 'reconnect';
  /** Only present when `requestReconnect({ retryAfter })` set it: minimum wait in ms. */
  readonly retryAfter?: number;
}
export type ServerFrame = ReadyFrame | SubscribedFrame | RejectedFrame | MsgFrame | AckFrame | PongFrame | ReconnectFrame;

export interface ProtocolServerOptions {
  /** Ignore (and count in `premature`) every frame before `hello`. Default `true`. */
  readonly requireHello?: boolean;
  /** With `requireHello`: close with this code on the first premature frame (e.g. 4401). */
  readonly prematureClose?: number;
  /** Which replay path resumes use (see the module comment). Default `'channel'`. */
  readonly resume?: 'channel' | 'connection';
  /** Messages retained per channel. Default 10 000. */
  readonly historyLimit?: number;
  /** `false`: never ack publishes. Default `true`. */
  readonly ack?: boolean;
  /** Channels whose `subscribe` gets `rejected`. */
  readonly rejectChannels?: Iterable<string>;
  /** Also publish every client `publish` to its channel. Default `false`. */
  readonly relayPublishes?: boolean;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** One accepted WebSocket connection, with everything it did. */
export interface ProtocolConnection {
  /** 1, 2, 3… in accept order. */
  readonly id: number;
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
  /** Every well-formed client frame, in arrival order (premature ones included). */
  readonly received: ClientFrame[];
  /** The same frames as a queue to await. */
  readonly frames: AsyncQueue<ClientFrame>;
  /** Frames that were not a well-formed `ClientFrame` (binary frames as `<binary N bytes>`). */
  readonly invalid: string[];
  /** Frames ignored because they came before `hello` (with `requireHello`). */
  readonly premature: ClientFrame[];
  /** Publish ids in arrival order. */
  readonly publishIds: string[];
  /** Frames actually written to the socket, in order. */
  readonly sent: ServerFrame[];
  /** Resolves with the close code and reason (1006 when the TCP connection died). */
  readonly closed: Promise<CloseInfo>;
  /** The session of the last `hello`, if any. */
  session(): string | undefined;
  /** Current subscriptions (a copy). */
  subscriptions(): Set<string>;
  /** `subscribe` frames processed (rejected ones included), for one channel or all. */
  subscribeCount(channel?: string): number;
  /** Sends a frame (held while frozen). */
  send(frame: ServerFrame): void;
  /** Sends any text, e.g. malformed JSON (held while frozen). */
  sendRaw(text: string): void;
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** Outputs held by a freeze. */
  held(): number;
  /** Closes with a close frame; held output is dropped. */
  close(code?: number, reason?: string): void;
  /** Destroys the TCP connection (the client sees 1006). */
  terminate(): void;
}

export interface StopOptions {
  /** Close every connection with this code first (e.g. 1001), then terminate stragglers. */
  readonly code?: number;
  readonly reason?: string;
}

export interface ProtocolServer {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Every accepted connection, in order. */
  readonly connections: AsyncQueue<ProtocolConnection>;
  /** Every WebSocket upgrade request received (also the ones held by a freeze), in order. */
  readonly upgrades: AsyncQueue<IncomingMessage>;
  /** Connections accepted so far. */
  accepted(): number;
  /** Open connections. */
  live(): ProtocolConnection[];
  /** Publish ids from every connection, in arrival order (duplicates kept). */
  receivedPublishIds(): string[];
  /** Ids received more than once, each listed once, in order of their first duplicate. */
  duplicatePublishIds(): string[];
  /** Subscriptions summed over open connections. */
  activeSubscriptions(): number;
  epoch(): number;
  /** Publishes to the history and to every connection subscribed to `channel`. */
  publish(channel: string, data: unknown): MsgFrame;
  /** Retained messages of one channel, or of all channels in gseq order. */
  history(channel?: string): MsgFrame[];
  /** Sends `{ type: 'reconnect' }` (plus `retryAfter` if given) to every open connection. */
  requestReconnect(options?: { readonly retryAfter?: number }): void;
  /** Closes every open connection with `code`; resolves once they are closed. */
  closeAll(code: number, reason?: string): Promise<void>;
  /** Destroys every open connection; resolves once they are closed. */
  terminateAll(): Promise<void>;
  /** Freezes every connection and holds new handshakes until `thaw()`. */
  freeze(): void;
  /** Thaws every connection (flushing held output in order) and releases held handshakes. */
  thaw(): void;
  isFrozen(): boolean;
  /** Handshakes held by `freeze()`. */
  heldHandshakes(): number;
  /** Stops listening (ECONNREFUSED) and ends every connection; state is kept. */
  stop(options?: StopOptions): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** A planned restart: `stop(options)` then `start()`; history, sessions, epoch are kept. */
  restart(options?: StopOptions): Promise<void>;
  isListening(): boolean;
  /** Forgets the retained history: any resume needing it fails (new epoch). */
  expireHistory(): void;
  /** Starts a new epoch: sequences restart at 1, history and sessions are forgotten. */
  newEpoch(): number;
  /** Future `subscribe`s to `name` get `rejected` (current subscriptions stay). */
  rejectChannel(name: string, reason?: string): void;
  allowChannel(name: string): void;
  /** Withholds acks (they are kept per connection). */
  pauseAcks(): void;
  /** Sends the withheld acks to the connections still open, in order, and acks again. */
  resumeAcks(): void;
  /** Stops everything. Idempotent. */
  close(): Promise<void>;
}

type Output =
  | { readonly kind: 'frame'; readonly frame: ServerFrame }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'pong'; readonly data: Buffer };

interface ChannelState {
  seq: number;
  /** Highest seq no longer retained. */
  floor: number;
  history: MsgFrame[];
}

interface SessionState {
  readonly subscriptions: Set<string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalNumber(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

/** Parses one text frame, or returns `undefined` if it is not a well-formed `ClientFrame`. */
export function parseClientFrame(text: string): ClientFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  switch (value['type']) {
    case 'hello': {
      const { session, after } = value;
      if ((session !== undefined && typeof session !== 'string') || !optionalNumber(after)) return undefined;
      return { type: 'hello', ...(session === undefined ? {} : { session }), ...(after === undefined ? {} : { after }) };
    }
    case 'subscribe': {
      const { channel, after } = value;
      if (typeof channel !== 'string' || !optionalNumber(after)) return undefined;
      return { type: 'subscribe', channel, ...(after === undefined ? {} : { after }) };
    }
    case 'unsubscribe':
      return typeof value['channel'] === 'string' ? { type: 'unsubscribe', channel: value['channel'] } : undefined;
    case 'publish': {
      const { id, channel, data } = value;
      if (typeof id !== 'string' || typeof channel !== 'string') return undefined;
      return { type: 'publish', id, channel, data };
    }
    case 'ping':
      return { type: 'ping' };
    default:
      return undefined;
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Resolves with `promise`, or after `ms` with `undefined`; the timer never outlives it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts a protocol server on 127.0.0.1, port 0. */
export async function startProtocolServer(options: ProtocolServerOptions = {}): Promise<ProtocolServer> {
  const requireHello = options.requireHello ?? true;
  const resumeMode = options.resume ?? 'channel';
  const historyLimit = options.historyLimit ?? 10_000;
  if (!Number.isInteger(historyLimit) || historyLimit < 0) throw new RangeError('historyLimit must be an integer >= 0');
  const acksEnabled = options.ack ?? true;
  const relay = options.relayPublishes ?? false;
  const rejected = new Map<string, string>();
  for (const name of options.rejectChannels ?? []) rejected.set(name, 'rejected');

  // Stream state (kept across stop/start/restart).
  let epoch = 1;
  let gseq = 0;
  /** Highest gseq no longer retained (by any channel). */
  let globalFloor = 0;
  const channels = new Map<string, ChannelState>();
  const sessions = new Map<string, SessionState>();
  let sessionCounter = 0;

  const wss = new WebSocketServer({ noServer: true, autoPong: false, clientTracking: false });
  const connections = new AsyncQueue<ProtocolConnection>();
  const upgrades = new AsyncQueue<IncomingMessage>();
  const live = new Set<Conn>();
  const rawSockets = new Set<Duplex>();
  let pendingUpgrades: Array<{ request: IncomingMessage; socket: Duplex; head: Buffer }> = [];
  const publishIds: string[] = [];
  let accepted = 0;
  let serverFrozen = false;
  let acksPaused = false;
  let httpServer: Server | undefined;
  let closedForGood = false;

  const channelState = (name: string): ChannelState => {
    let state = channels.get(name);
    if (state === undefined) {
      state = { seq: 0, floor: 0, history: [] };
      channels.set(name, state);
    }
    return state;
  };

  const isCovered = (after: number, last: number, floor: number): boolean =>
    Number.isInteger(after) && after >= floor && after <= last;

  const newSession = (): string => {
    sessionCounter++;
    const id = `session-${sessionCounter}`;
    sessions.set(id, { subscriptions: new Set() });
    return id;
  };

  const newEpoch = (): number => {
    epoch++;
    gseq = 0;
    globalFloor = 0;
    channels.clear();
    sessions.clear();
    return epoch;
  };

  class Conn implements ProtocolConnection {
    readonly received: ClientFrame[] = [];
    readonly frames = new AsyncQueue<ClientFrame>();
    readonly invalid: string[] = [];
    readonly premature: ClientFrame[] = [];
    readonly publishIds: string[] = [];
    readonly sent: ServerFrame[] = [];
    readonly closed: Promise<CloseInfo>;
    private readonly subs = new Set<string>();
    private readonly subscribeCounts = new Map<string, number>();
    private heldOutput: Output[] = [];
    private withheldAcks: string[] = [];
    private frozen = false;
    private greeted = false;
    private sessionId: string | undefined;

    constructor(
      readonly id: number,
      readonly socket: WebSocket,
      readonly request: IncomingMessage,
    ) {
      this.closed = new Promise((resolve) => {
        socket.on('close', (code: number, reason: Buffer) => {
          live.delete(this);
          this.heldOutput = [];
          resolve({ code, reason: reason.toString() });
        });
      });
      socket.on('error', () => {});
      socket.on('ping', (data: Buffer) => this.output({ kind: 'pong', data }));
      socket.on('message', (data: RawData, isBinary: boolean) => {
        const buffer = toBuffer(data);
        if (isBinary) {
          this.invalid.push(`<binary ${buffer.length} bytes>`);
          return;
        }
        const text = buffer.toString();
        const frame = parseClientFrame(text);
        if (frame === undefined) this.invalid.push(text);
        else this.handle(frame);
      });
    }

    session(): string | undefined {
      return this.sessionId;
    }
    subscriptions(): Set<string> {
      return new Set(this.subs);
    }
    subscriptionCount(): number {
      return this.subs.size;
    }
    isSubscribed(channel: string): boolean {
      return this.subs.has(channel);
    }
    subscribeCount(channel?: string): number {
      if (channel !== undefined) return this.subscribeCounts.get(channel) ?? 0;
      let total = 0;
      for (const n of this.subscribeCounts.values()) total += n;
      return total;
    }
    send(frame: ServerFrame): void {
      this.output({ kind: 'frame', frame });
    }
    sendRaw(text: string): void {
      this.output({ kind: 'raw', text });
    }
    freeze(): void {
      this.frozen = true;
      this.socket.pause();
    }
    thaw(): void {
      if (!this.frozen) return;
      this.frozen = false;
      const held = this.heldOutput;
      this.heldOutput = [];
      for (const out of held) this.write(out);
      this.socket.resume();
    }
    isFrozen(): boolean {
      return this.frozen;
    }
    held(): number {
      return this.heldOutput.length;
    }
    close(code?: number, reason?: string): void {
      this.unfreezeDropping();
      this.socket.close(code, reason);
    }
    terminate(): void {
      this.unfreezeDropping();
      this.socket.terminate();
    }
    flushAcks(): void {
      const ids = this.withheldAcks;
      this.withheldAcks = [];
      for (const id of ids) this.send({ type: 'ack', id });
    }

    /** Resumes reading and drops held output, so that a close handshake can complete. */
    private unfreezeDropping(): void {
      this.heldOutput = [];
      if (!this.frozen) return;
      this.frozen = false;
      this.socket.resume();
    }

    private output(out: Output): void {
      if (this.frozen) this.heldOutput.push(out);
      else this.write(out);
    }

    private write(out: Output): void {
      if (this.socket.readyState !== WebSocket.OPEN) return;
      switch (out.kind) {
        case 'frame':
          this.socket.send(JSON.stringify(out.frame));
          this.sent.push(out.frame);
          return;
        case 'raw':
          this.socket.send(out.text);
          return;
        case 'pong':
          this.socket.pong(out.data);
          return;
      }
    }

    private handle(frame: ClientFrame): void {
      this.received.push(frame);
      this.frames.push(frame);
      if (requireHello && !this.greeted && frame.type !== 'hello') {
        this.premature.push(frame);
        if (options.prematureClose !== undefined) this.close(options.prematureClose, 'hello required');
        return;
      }
      switch (frame.type) {
        case 'hello':
          this.greeted = true;
          this.hello(frame);
          return;
        case 'subscribe':
          this.subscribe(frame);
          return;
        case 'unsubscribe':
          this.subs.delete(frame.channel);
          if (this.sessionId !== undefined) sessions.get(this.sessionId)?.subscriptions.delete(frame.channel);
          return;
        case 'publish':
          this.publishIds.push(frame.id);
          publishIds.push(frame.id);
          if (acksEnabled) {
            if (acksPaused) this.withheldAcks.push(frame.id);
            else this.send({ type: 'ack', id: frame.id });
          }
          if (relay) publish(frame.channel, frame.data);
          return;
        case 'ping':
          this.send({ type: 'pong' });
          return;
      }
    }

    private hello(frame: HelloFrame): void {
      if (frame.session === undefined) {
        this.sessionId = newSession();
        this.send({ type: 'ready', session: this.sessionId, epoch, resumed: false });
        return;
      }
      const session = sessions.get(frame.session);
      const after = frame.after ?? (resumeMode === 'connection' ? 0 : undefined);
      if (session === undefined || (after !== undefined && !isCovered(after, gseq, globalFloor))) {
        newEpoch();
        this.sessionId = newSession();
        this.send({ type: 'ready', session: this.sessionId, epoch, resumed: false });
        return;
      }
      this.sessionId = frame.session;
      this.send({ type: 'ready', session: frame.session, epoch, resumed: true });
      if (resumeMode !== 'connection' || after === undefined) return;
      const replay: MsgFrame[] = [];
      for (const channel of session.subscriptions) {
        if (rejected.has(channel)) continue;
        this.subs.add(channel);
        for (const msg of channels.get(channel)?.history ?? []) if (msg.gseq > after) replay.push(msg);
      }
      replay.sort((a, b) => a.gseq - b.gseq);
      for (const msg of replay) this.send(msg);
    }

    private subscribe(frame: SubscribeFrame): void {
      const { channel } = frame;
      this.subscribeCounts.set(channel, (this.subscribeCounts.get(channel) ?? 0) + 1);
      const reason = rejected.get(channel);
      if (reason !== undefined) {
        this.send({ type: 'rejected', channel, reason });
        return;
      }
      this.subs.add(channel);
      if (this.sessionId !== undefined) sessions.get(this.sessionId)?.subscriptions.add(channel);
      this.send({ type: 'subscribed', channel });
      if (resumeMode !== 'channel' || frame.after === undefined) return;
      const state = channels.get(channel);
      const last = state?.seq ?? 0;
      const floor = state?.floor ?? 0;
      if (!isCovered(frame.after, last, floor)) return;
      for (const msg of state?.history ?? []) if (msg.seq > frame.after) this.send(msg);
    }
  }

  const publish = (channel: string, data: unknown): MsgFrame => {
    const state = channelState(channel);
    gseq++;
    state.seq++;
    const msg: MsgFrame = { type: 'msg', channel, seq: state.seq, gseq, epoch, data };
    state.history.push(msg);
    while (state.history.length > historyLimit) {
      const evicted = state.history.shift()!;
      state.floor = evicted.seq;
      globalFloor = Math.max(globalFloor, evicted.gseq);
    }
    for (const conn of live) if (conn.isSubscribed(channel)) conn.send(msg);
    return msg;
  };

  const accept = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (socket.destroyed) return;
    wss.handleUpgrade(request, socket, head, (ws) => {
      accepted++;
      const conn = new Conn(accepted, ws, request);
      live.add(conn);
      if (serverFrozen) conn.freeze();
      connections.push(conn);
    });
  };

  const createHttpServer = (): Server => {
    const server = createServer((_request, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain' });
      response.end('WebSocket only');
    });
    server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      rawSockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => rawSockets.delete(socket));
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgrades.push(request);
      if (serverFrozen) pendingUpgrades.push({ request, socket, head });
      else accept(request, socket, head);
    });
    server.on('clientError', (_error, socket: Duplex) => socket.destroy());
    server.on('error', () => {});
    return server;
  };

  httpServer = createHttpServer();
  const port = await listenOn(httpServer, 0);

  const terminateAll = async (): Promise<void> => {
    const conns = [...live];
    for (const conn of conns) conn.terminate();
    await Promise.all(conns.map((c) => c.closed));
  };

  const stop = async (stopOptions: StopOptions = {}): Promise<void> => {
    const server = httpServer;
    if (server === undefined) return;
    httpServer = undefined;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const pending of pendingUpgrades) pending.socket.destroy();
    pendingUpgrades = [];
    if (stopOptions.code !== undefined) {
      const conns = [...live];
      for (const conn of conns) conn.close(stopOptions.code, stopOptions.reason);
      // A peer that never answers the close frame is terminated after a bounded wait.
      await within(Promise.all(conns.map((c) => c.closed)), 2_000);
    }
    await terminateAll();
    for (const socket of rawSockets) socket.destroy();
    await stopped;
  };

  const start = async (): Promise<void> => {
    if (closedForGood) throw new Error('the protocol server is closed');
    if (httpServer !== undefined) return;
    const server = createHttpServer();
    httpServer = server;
    try {
      await listenOn(server, port);
    } catch (error) {
      httpServer = undefined;
      throw error;
    }
  };

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    upgrades,
    accepted: () => accepted,
    live: () => [...live],
    receivedPublishIds: () => [...publishIds],
    duplicatePublishIds: () => {
      const seen = new Set<string>();
      const duplicates = new Set<string>();
      for (const id of publishIds) {
        if (seen.has(id)) duplicates.add(id);
        seen.add(id);
      }
      return [...duplicates];
    },
    activeSubscriptions: () => {
      let total = 0;
      for (const conn of live) total += conn.subscriptionCount();
      return total;
    },
    epoch: () => epoch,
    publish,
    history: (channel) => {
      if (channel !== undefined) return [...(channels.get(channel)?.history ?? [])];
      const all: MsgFrame[] = [];
      for (const state of channels.values()) all.push(...state.history);
      return all.sort((a, b) => a.gseq - b.gseq);
    },
    requestReconnect: (reconnectOptions = {}) => {
      const { retryAfter } = reconnectOptions;
      const frame: ReconnectFrame = retryAfter === undefined ? { type: 'reconnect' } : { type: 'reconnect', retryAfter };
      for (const conn of live) conn.send(frame);
    },
    closeAll: async (code, reason) => {
      const conns = [...live];
      for (const conn of conns) conn.close(code, reason);
      await Promise.all(conns.map((c) => c.closed));
    },
    terminateAll,
    freeze: () => {
      serverFrozen = true;
      for (const conn of live) conn.freeze();
    },
    thaw: () => {
      serverFrozen = false;
      for (const conn of [...live]) conn.thaw();
      const pending = pendingUpgrades;
      pendingUpgrades = [];
      for (const { request, socket, head } of pending) accept(request, socket, head);
    },
    isFrozen: () => serverFrozen,
    heldHandshakes: () => pendingUpgrades.length,
    stop,
    start,
    restart: async (stopOptions) => {
      await stop(stopOptions);
      await start();
    },
    isListening: () => httpServer !== undefined,
    expireHistory: () => {
      for (const state of channels.values()) {
        state.floor = state.seq;
        state.history = [];
      }
      globalFloor = gseq;
    },
    newEpoch,
    rejectChannel: (name, reason = 'rejected') => {
      rejected.set(name, reason);
    },
    allowChannel: (name) => {
      rejected.delete(name);
    },
    pauseAcks: () => {
      acksPaused = true;
    },
    resumeAcks: () => {
      acksPaused = false;
      for (const conn of live) conn.flushAcks();
    },
    close: async () => {
      if (closedForGood) return;
      closedForGood = true;
      serverFrozen = false;
      await stop();
      wss.close();
    },
  };
}
