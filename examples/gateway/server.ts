/**
 * A small Discord-style gateway on `ws` (127.0.0.1), for the gateway example and its test.
 *
 * Protocol (one JSON object per text frame, `{ op, d, s, t }` as Discord):
 *
 * | op | name            | direction | payload |
 * |----|-----------------|-----------|---------|
 * | 10 | HELLO           | s → c     | `{ heartbeat_interval }`, sent as soon as a socket connects |
 * |  2 | IDENTIFY        | c → s     | `{ token }` → `READY`, a new session |
 * |  6 | RESUME          | c → s     | `{ token, session_id, seq }` → the missed dispatches (`s > seq`), then `RESUMED` |
 * |  1 | HEARTBEAT       | c → s     | the client's last seq → `HEARTBEAT_ACK` (op 11) |
 * |  0 | DISPATCH        | s → c     | `{ s, t, d }`; `READY` and `RESUMED` are dispatches with `s: null` |
 * |  7 | RECONNECT       | s → c     | "reconnect and resume" |
 * |  9 | INVALID_SESSION | s → c     | `d`: whether the session can be resumed; also the answer to a RESUME of an unknown session |
 *
 * IDENTIFY and RESUME are accepted before or after HELLO. A client closing with 1000/1001 ends
 * its session (as Discord does), any other close keeps it for a resume. Close codes sent by the
 * server: 4001 unknown opcode, 4002 decode error, 4003 not authenticated, 4004 authentication
 * failed, 4005 already authenticated, 4007 invalid seq, 4009 session timed out; after 4004,
 * 4007 and 4009 the session is gone.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  Resume: 6,
  Reconnect: 7,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Server → client frames. */
export type GatewayMessage =
  | { readonly op: 0; readonly s: number; readonly t: string; readonly d: unknown }
  | { readonly op: 0; readonly s: null; readonly t: 'READY'; readonly d: { readonly session_id: string } }
  | { readonly op: 0; readonly s: null; readonly t: 'RESUMED'; readonly d: null }
  | { readonly op: 7; readonly d: null }
  | { readonly op: 9; readonly d: boolean }
  | { readonly op: 10; readonly d: { readonly heartbeat_interval: number } }
  | { readonly op: 11; readonly d: null };

/** Client → server frames. */
export type GatewayCommand =
  | { readonly op: 1; readonly d: number | null }
  | { readonly op: 2; readonly d: { readonly token: string } }
  | { readonly op: 6; readonly d: { readonly token: string; readonly session_id: string; readonly seq: number } };

/** Close codes after which the session cannot be resumed. */
export const SESSION_ENDING_CODES: readonly number[] = [4004, 4007, 4009];

export interface Session {
  readonly id: string;
  /** Dispatches of this session, in order (their `s` is 1, 2, 3…). */
  readonly log: Array<Extract<GatewayMessage, { s: number }>>;
  connection: Connection | undefined;
  /** Why it ended, `undefined` while it can still be resumed. */
  ended: string | undefined;
}

/** What the server knows of one accepted socket. */
export interface Connection {
  /** 1, 2, 3… in accept order. */
  readonly id: number;
  readonly ws: WebSocket;
  session: Session | undefined;
  /** False after `stopAcking()`: heartbeats are read but never acknowledged (a zombie link). */
  acking: boolean;
  /** The IDENTIFY/RESUME frames this socket received, in order. */
  readonly commands: Array<'identify' | 'resume'>;
  /** The close code the server saw (1006: no close frame), `undefined` while open. */
  closeCode: number | undefined;
  /** Who sent the close frame first. */
  closedBy: 'client' | 'server' | undefined;
}

export interface GatewayServerOptions {
  /** Sent in HELLO. @defaultValue 41250 */
  readonly heartbeatInterval?: number;
  /** The token IDENTIFY and RESUME must carry. @defaultValue 'secret' */
  readonly token?: string;
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
}

/**
 * Events, for tests and logs: `connection` (Connection), `identify` (Connection, Session),
 * `resume` (Connection, { session_id, seq, replayed }), `invalid-resume` (Connection, seq),
 * `heartbeat` (Connection), `close` (Connection).
 */
export class GatewayServer extends EventEmitter {
  readonly counters = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0 };
  /** Every connection ever accepted, in order. */
  readonly connectionLog: Connection[] = [];
  /** Every session ever created, in order (ended ones included). */
  readonly sessionLog: Session[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly live = new Set<Connection>();
  private wss: WebSocketServer | undefined;
  private readonly heartbeatInterval: number;
  private readonly token: string;
  port: number;

  private constructor(options: GatewayServerOptions) {
    super();
    this.heartbeatInterval = options.heartbeatInterval ?? 41_250;
    this.token = options.token ?? 'secret';
    this.port = options.port ?? 0;
  }

  static async start(options: GatewayServerOptions = {}): Promise<GatewayServer> {
    const server = new GatewayServer(options);
    await server.listen();
    return server;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/?v=10&encoding=json`;
  }

  // ---- test-facing controls ---------------------------------------------------------------

  /** Appends an event to every live session and sends it where a socket is attached. */
  dispatch(t: string, d: unknown = null): void {
    for (const session of this.sessions.values()) {
      const message = { op: Op.Dispatch, s: session.log.length + 1, t, d } as const;
      session.log.push(message);
      const connection = session.connection;
      if (connection) this.send(connection, message);
    }
  }

  /** op 7 on every open socket: "reconnect and resume". */
  sendReconnect(): void {
    for (const connection of this.live) this.send(connection, { op: Op.Reconnect, d: null });
  }

  /** op 9 on every open socket with a session; a non-resumable one forgets the session. */
  invalidateSession(resumable: boolean): void {
    for (const connection of this.live) {
      const session = connection.session;
      if (!session) continue;
      if (!resumable) {
        this.endSession(session, 'invalid session');
        connection.session = undefined;
      }
      this.send(connection, { op: Op.InvalidSession, d: resumable });
    }
  }

  /** The open sockets stop acknowledging heartbeats (they still read and dispatch): a zombie. */
  stopAcking(): void {
    for (const connection of this.live) connection.acking = false;
  }

  /** Closes every open socket with `code`; 4004, 4007 and 4009 also end their sessions. */
  closeWith(code: number, reason = ''): void {
    for (const connection of this.live) {
      if (connection.session && SESSION_ENDING_CODES.includes(code)) this.endSession(connection.session, `closed ${code}`);
      connection.closedBy ??= 'server';
      connection.ws.close(code, reason);
    }
  }

  /** Drops every TCP connection without a close frame (the client sees 1006); sessions survive. */
  dropConnections(): void {
    for (const connection of this.live) {
      connection.closedBy ??= 'server';
      this.detach(connection);
      connection.ws.terminate();
    }
  }

  /** Drops every connection, stops listening, and listens again on the same port. */
  async restart(options: { forgetSessions?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.forgetSessions) for (const session of [...this.sessions.values()]) this.endSession(session, 'server restarted');
    await this.listen();
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop();
    this.removeAllListeners();
  }

  // ---- protocol ---------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: this.port });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    this.wss = wss;
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => this.accept(ws));
  }

  private async stop(): Promise<void> {
    const wss = this.wss;
    if (!wss) return;
    this.wss = undefined;
    for (const connection of this.live) {
      connection.closedBy ??= 'server';
      this.detach(connection);
      connection.ws.terminate();
    }
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  private accept(ws: WebSocket): void {
    this.counters.connections++;
    const connection: Connection = {
      id: this.counters.connections,
      ws,
      session: undefined,
      acking: true,
      commands: [],
      closeCode: undefined,
      closedBy: undefined,
    };
    this.connectionLog.push(connection);
    this.live.add(connection);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => this.receive(connection, data, isBinary));
    ws.on('close', (code) => {
      connection.closeCode = code;
      connection.closedBy ??= 'client';
      this.live.delete(connection);
      // 1000/1001 from the client end the session, as on Discord; anything else keeps it.
      if (connection.session && connection.closedBy === 'client' && (code === 1000 || code === 1001)) {
        this.endSession(connection.session, `client closed ${code}`);
      }
      this.detach(connection);
      this.emit('close', connection);
    });
    this.emit('connection', connection);
    this.send(connection, { op: Op.Hello, d: { heartbeat_interval: this.heartbeatInterval } });
  }

  private receive(connection: Connection, data: RawData, isBinary: boolean): void {
    let command: GatewayCommand;
    try {
      if (isBinary) throw new Error('binary');
      command = JSON.parse(String(data)) as GatewayCommand;
    } catch {
      this.fail(connection, 4002, 'decode error');
      return;
    }
    switch (command.op) {
      case Op.Heartbeat:
        this.counters.heartbeats++;
        this.emit('heartbeat', connection);
        if (connection.acking) this.send(connection, { op: Op.HeartbeatAck, d: null });
        return;
      case Op.Identify:
        this.identify(connection, command.d);
        return;
      case Op.Resume:
        this.resume(connection, command.d);
        return;
      default:
        this.fail(connection, 4001, 'unknown opcode');
    }
  }

  private identify(connection: Connection, d: { token: string }): void {
    connection.commands.push('identify');
    if (d?.token !== this.token) return this.fail(connection, 4004, 'authentication failed');
    if (connection.session) return this.fail(connection, 4005, 'already authenticated');
    this.counters.identifies++;
    const session: Session = { id: randomBytes(8).toString('hex'), log: [], connection: undefined, ended: undefined };
    this.sessions.set(session.id, session);
    this.sessionLog.push(session);
    this.attach(connection, session);
    this.send(connection, { op: Op.Dispatch, s: null, t: 'READY', d: { session_id: session.id } });
    this.emit('identify', connection, session);
  }

  private resume(connection: Connection, d: { token: string; session_id: string; seq: number }): void {
    connection.commands.push('resume');
    if (d?.token !== this.token) return this.fail(connection, 4004, 'authentication failed');
    if (connection.session) return this.fail(connection, 4005, 'already authenticated');
    this.counters.resumes++;
    const session = this.sessions.get(d.session_id);
    if (!session) {
      // Unknown or ended session: the socket stays open, waiting for an IDENTIFY.
      this.emit('invalid-resume', connection, d.seq);
      this.send(connection, { op: Op.InvalidSession, d: false });
      return;
    }
    if (!Number.isInteger(d.seq) || d.seq < 0 || d.seq > session.log.length) {
      this.endSession(session, 'invalid seq');
      return this.fail(connection, 4007, 'invalid seq');
    }
    const replay = session.log.slice(d.seq);
    this.attach(connection, session);
    for (const message of replay) this.send(connection, message);
    this.send(connection, { op: Op.Dispatch, s: null, t: 'RESUMED', d: null });
    this.emit('resume', connection, { session_id: session.id, seq: d.seq, replayed: replay.length });
  }

  private attach(connection: Connection, session: Session): void {
    // A session lives on one socket: a resume moves it to the new one.
    if (session.connection && session.connection !== connection) session.connection.session = undefined;
    session.connection = connection;
    connection.session = session;
  }

  private detach(connection: Connection): void {
    if (connection.session?.connection === connection) connection.session.connection = undefined;
  }

  private endSession(session: Session, why: string): void {
    session.ended = why;
    this.sessions.delete(session.id);
    if (session.connection) session.connection.session = undefined;
    session.connection = undefined;
  }

  private fail(connection: Connection, code: number, reason: string): void {
    if (connection.session && SESSION_ENDING_CODES.includes(code)) this.endSession(connection.session, `closed ${code}`);
    connection.closedBy ??= 'server';
    connection.ws.close(code, reason);
  }

  private send(connection: Connection, message: GatewayMessage): void {
    if (connection.ws.readyState === WebSocket.OPEN) connection.ws.send(JSON.stringify(message));
  }
}
