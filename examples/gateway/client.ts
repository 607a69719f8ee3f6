/**
 * A Discord-style gateway client built only from rxtether's public API (`createSocket`).
 *
 * What rxtether does for it: one socket at a time (however many signals ask for a reconnect),
 * the RESUME position (`resume.cursorOf` → `session.hello({ cursor })`: the last seq delivered
 * BEFORE the drop), replayed duplicates dropped, the heartbeat deadline, close 4000 (never
 * 1000/1001) on a replaced socket, and `close()` being final.
 *
 * What this file adds: the session id, and the mapping of the gateway's opcodes and close
 * codes onto createSocket's hooks (see the table in README.md).
 */
import {
  type FailureAction,
  type RxSocket,
  type SocketEvent,
  type SocketStatus,
  createSocket,
  isConnectionClosedError,
  isNextInSequence,
  isRetryableError,
} from 'rxtether';
import { type Observable, filter, share, tap } from 'rxjs';
import { WebSocket } from 'ws';
import { type GatewayCommand, type GatewayMessage, Op } from './server.js';

/** An application event: a DISPATCH with a sequence number. */
export type DispatchEvent = Extract<GatewayMessage, { s: number }>;

/** Close codes after which the client stops for good (4004 authentication failed, 4010–4014). */
export const STOP_CODES: readonly number[] = [4004, 4010, 4011, 4012, 4013, 4014];
/** Close codes after which the session cannot be resumed: identify again (4007 invalid seq, 4009 timed out). */
export const FRESH_CODES: readonly number[] = [4007, 4009];

export interface GatewayClientOptions {
  readonly url: string;
  readonly token: string;
  /**
   * Heartbeat period, ms. createSocket's heartbeat is configured once, so this is fixed: the
   * HELLO's `heartbeat_interval` is only recorded (`helloInterval`), not applied per socket.
   * @defaultValue 41250
   */
  readonly heartbeatInterval?: number;
  /** No HEARTBEAT_ACK for this long → zombie: the socket is replaced and resumed. @defaultValue 2.5 × interval */
  readonly heartbeatTimeout?: number;
  /** From open to READY/RESUMED. @defaultValue 10000 */
  readonly sessionTimeout?: number;
  /** @defaultValue 1000 */
  readonly initialDelay?: number;
  /** @defaultValue 30000 */
  readonly maxDelay?: number;
}

export interface GatewayClient {
  /** DISPATCH events in order, each once, across resumes. Subscribing connects; errors on a terminal close (4004). */
  readonly dispatch$: Observable<DispatchEvent>;
  readonly status$: Observable<SocketStatus>;
  /** rxtether's side channel: `gap` when a session was lost (fresh READY after a resume attempt), decode errors… */
  readonly events$: Observable<SocketEvent<GatewayCommand>>;
  /** The current session id (`undefined` before READY or once the session is known to be gone). */
  readonly sessionId: string | undefined;
  /** The last `heartbeat_interval` a HELLO announced. */
  readonly helloInterval: number | undefined;
  /** Closes with 1000 (ends the session server-side); nothing reconnects afterwards. */
  close(): void;
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const interval = options.heartbeatInterval ?? 41_250;
  let sessionId: string | undefined;
  let helloInterval: number | undefined;
  /** The last seq delivered, for HEARTBEAT's payload (null on a fresh session). */
  let lastSeq: number | null = null;

  /** Forget the session: the next hello is an IDENTIFY. */
  const forgetSession = (): void => {
    sessionId = undefined;
  };

  const socket: RxSocket<GatewayMessage, GatewayCommand> = createSocket<GatewayMessage, GatewayCommand>({
    url: options.url,
    WebSocketCtor: WebSocket,
    session: {
      // Sent the moment the socket opens, independently of the server's HELLO (which the
      // server sends first; it accepts IDENTIFY/RESUME before or after it). `cursor` is the
      // seq of the last dispatch delivered before the drop, kept by rxtether.
      hello: ({ cursor }) =>
        sessionId === undefined
          ? [{ op: Op.Identify, d: { token: options.token } }]
          : [{ op: Op.Resume, d: { token: options.token, session_id: sessionId, seq: Number(cursor ?? 0) } }],
      // The gate drops everything before the ready message, and a resuming gateway replays
      // the missed dispatches BEFORE its RESUMED. So the first replayed dispatch is "ready"
      // too (a dispatch proves the session is live), or the replay would be swallowed.
      // A pre-ready INVALID_SESSION (the answer to a refused RESUME) is "ready" as well: the
      // gate holds no hook to end the attempt on it, so we identify on the same socket (below).
      isReady: (m) => {
        if (m.op === Op.Hello) helloInterval = m.d.heartbeat_interval; // pre-ready chatter: only peeked at
        return m.op === Op.Dispatch || m.op === Op.InvalidSession;
      },
      // READY (or a refused RESUME) after a resume attempt: rxtether resets the position and
      // emits a 'gap' event, so that the new session's seq 1 is not taken for a replay.
      isResumed: (m) => !(m.op === Op.Dispatch && m.s === null && m.t === 'READY') && m.op !== Op.InvalidSession,
      timeout: options.sessionTimeout ?? 10_000,
    },
    resume: {
      cursorOf: (m) => (m.op === Op.Dispatch && m.s !== null ? m.s : undefined),
      isNext: isNextInSequence, // a hole in the seq shows as a 'gap' event
    },
    heartbeat: {
      interval,
      timeout: options.heartbeatTimeout ?? Math.round(interval * 2.5),
      message: () => ({ op: Op.Heartbeat, d: lastSeq }),
      // Only an ACK proves the link: a socket that still dispatches but never acks is a zombie.
      isAlive: (m) => m.op === Op.HeartbeatAck,
    },
    // op 7, and an INVALID_SESSION on a ready socket: close it with 4000 and reconnect once.
    // A non-resumable one also forgets the session id, so that the reconnect IDENTIFIES;
    // rxtether then sees READY answer a resume position and resets it (a 'gap' event).
    isReconnectRequest: (m) => {
      if (m.op === Op.InvalidSession) {
        if (!m.d) forgetSession();
        return true;
      }
      return m.op === Op.Reconnect;
    },
    classify: (error): FailureAction => {
      if (isConnectionClosedError(error)) {
        if (STOP_CODES.includes(error.code)) return 'stop';
        if (FRESH_CODES.includes(error.code)) {
          forgetSession(); // rxtether resets the seq for 'fresh'; the session id is ours
          return 'fresh';
        }
      }
      return isRetryableError(error) ? 'resume' : 'stop';
    },
    backoff: { initialDelay: options.initialDelay ?? 1000, maxDelay: options.maxDelay ?? 30_000 },
  });

  const dispatch$ = socket.messages$.pipe(
    tap((m) => {
      if (m.op === Op.Dispatch && m.s === null && m.t === 'READY') {
        sessionId = m.d.session_id;
        lastSeq = null;
      } else if (m.op === Op.Dispatch && m.s !== null) {
        lastSeq = m.s;
      } else if (m.op === Op.InvalidSession) {
        // Only a pre-ready one gets here (on a ready socket it is a reconnect request): the
        // RESUME was refused. rxtether already reset the position; identify on this socket.
        forgetSession();
        socket.send({ op: Op.Identify, d: { token: options.token } });
      }
    }),
    filter((m): m is DispatchEvent => m.op === Op.Dispatch && m.s !== null),
    share(),
  );

  return {
    dispatch$,
    status$: socket.status$,
    events$: socket.events$,
    get sessionId() {
      return sessionId;
    },
    get helloInterval() {
      return helloInterval;
    },
    close: () => socket.close(),
  };
}
