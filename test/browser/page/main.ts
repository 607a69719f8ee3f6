// Runs inside Chromium: bundled with rxtether's sources by harness.ts (esbuild) and exposed as
// `window.rxtetherTest`. Every socket here is the browser's native WebSocket (no
// WebSocketCtor is passed). Scenarios assert what only the page can see and report plain
// results; the Node test asserts on them and on what its servers saw.
import { type Observable, type Subscription, Subject, filter, firstValueFrom, fromEvent } from 'rxjs';
import {
  type RxSocket,
  type SocketStatus,
  assertValidClose,
  connect,
  createSocket,
  isDecodeError,
  isRetryableError,
} from '../../../src/index.js';
import type { ClientFrame, ServerFrame } from '../../helpers/protocolServer.js';
import { topic } from '../../helpers/protocolTopic.js';
import type {
  BinaryResult,
  ClientCloseResult,
  ClientOptions,
  ClientReport,
  CloseCase,
  CloseCaseResult,
  ConnectBasicsResult,
  ErrorSnapshot,
  PageApi,
  StatusMatch,
  StatusSnapshot,
} from './api.js';

/** A bound on every wait, so that a scenario that goes wrong fails with what it saw. */
const WAIT_MS = 10_000;

function within<T>(promise: Promise<T>, what: string, seen: () => unknown = () => undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`page: timed out waiting for ${what}; seen: ${JSON.stringify(seen())}`));
    }, WAIT_MS);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function snapshot(error: unknown): ErrorSnapshot {
  const e = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown; reason?: unknown; wasClean?: unknown; timeout?: unknown; cause?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : typeof error,
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof e.code === 'number' ? { code: e.code } : {}),
    ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
    ...(typeof e.wasClean === 'boolean' ? { wasClean: e.wasClean } : {}),
    ...(typeof e.timeout === 'number' ? { timeout: e.timeout } : {}),
    ...(e.cause !== undefined && e.cause !== null ? { causeType: (e.cause as object).constructor?.name ?? typeof e.cause } : {}),
    retryable: isRetryableError(error),
  };
}

function statusSnapshot(status: SocketStatus): StatusSnapshot {
  const base = { state: status.state, reconnects: status.reconnects, buffered: status.buffered, dropped: status.dropped };
  if (status.state === 'reconnecting') {
    return { ...base, attempt: status.attempt, delay: status.delay, ...(status.cause !== undefined ? { cause: snapshot(status.cause) } : {}) };
  }
  if (status.state === 'closed' && status.error !== undefined) return { ...base, cause: snapshot(status.error) };
  return base;
}

/** What `fn` threw (its name), or `'ok'`. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return (error as { name?: string } | null)?.name ?? String(error);
  }
}

/** The error of a `connect()` subscription, and the values it emitted before it. */
function errorOf<T>(source: Observable<T>): Promise<ErrorSnapshot> {
  return within(
    new Promise<ErrorSnapshot>((resolve) => {
      source.subscribe({ error: (error: unknown) => resolve(snapshot(error)) });
    }),
    'a connection error',
  );
}

const bytesOf = (data: unknown): number[] => (data instanceof ArrayBuffer ? [...new Uint8Array(data)] : []);
const typeOf = (value: unknown): string => (value === null ? 'null' : typeof value === 'object' ? (value as object).constructor.name : typeof value);

// ---- connect(): the cold observable on the native WebSocket --------------------------------

async function connectBasics(urls: { command: string; refused: string; silent: string; unauthorized: string }): Promise<ConnectBasicsResult> {
  const opens: string[] = [];
  const closes: ConnectBasicsResult['closes'] = [];
  const hooks = {
    onOpen: (info: { protocol: string }) => opens.push(info.protocol),
    onClose: (info: { code: number; reason: string; wasOpen: boolean; error: unknown }) =>
      closes.push({
        code: info.code,
        reason: info.reason,
        wasOpen: info.wasOpen,
        ...(info.error !== undefined ? { error: snapshot(info.error).name } : {}),
      }),
  };

  // A handshake message and an outgoing one, both echoed; then unsubscribe (the server sees 1000).
  const outgoing = new Subject<unknown>();
  const echo$ = connect({ url: urls.command, handshake: () => [{ op: 'echo', payload: 'handshake' }], outgoing, ...hooks });
  const echoed: unknown[] = [];
  const firstEcho = new Promise<void>((resolve) => {
    const sub: Subscription = echo$.subscribe((message) => {
      echoed.push(message);
      if (echoed.length === 1) outgoing.next({ op: 'echo', payload: 'outgoing' });
      if (echoed.length === 2) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  await within(firstEcho, 'two echoes', () => echoed);

  // The server closes with a code and reason; then it destroys the TCP connection.
  const serverClose = await errorOf(connect({ url: urls.command, handshake: () => [{ op: 'close', code: 4321, reason: 'bye' }], ...hooks }));
  const serverCloseNoStatus = await errorOf(connect({ url: urls.command, handshake: () => [{ op: 'close' }], ...hooks }));
  const invalidUtf8 = await errorOf(connect({ url: urls.command, handshake: () => [{ op: 'invalid-utf8' }], ...hooks }));
  const unauthorized = await errorOf(connect({ url: urls.unauthorized, ...hooks }));
  const serverTerminate = await errorOf(connect({ url: urls.command, handshake: () => [{ op: 'terminate' }], ...hooks }));
  const refused = await errorOf(connect({ url: urls.refused, ...hooks }));
  const openTimeout = await errorOf(connect({ url: urls.silent, openTimeout: 300, ...hooks }));
  const badUrl = await errorOf(connect({ url: () => 'ftp://example.com/feed', ...hooks }));

  return {
    nativeWebSocket: String(WebSocket).includes('[native code]'),
    echoed,
    opens,
    closes,
    serverClose,
    serverCloseNoStatus,
    invalidUtf8,
    unauthorized,
    serverTerminate,
    refused,
    openTimeout,
    badUrl,
  };
}

async function relativeUrl(): Promise<{ echoed: unknown; notAUrl: string }> {
  const echoed = await within(firstValueFrom(connect({ url: '/echo', handshake: () => ['relative'] })), 'an echo from /echo');
  return { echoed, notAUrl: outcome(() => connect('not a url')) };
}

// ---- binary frames --------------------------------------------------------------------------

async function binaryFrames(url: string): Promise<BinaryResult> {
  const outgoing = new Subject<unknown>();
  const serialize = (value: unknown) =>
    value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? value : JSON.stringify(value);
  const messages: unknown[] = [];
  const arrived = new Subject<void>();
  const sub = connect({ url, outgoing, serialize, handshake: () => [{ op: 'binary', bytes: [0, 1, 2, 127, 128, 255] }] }).subscribe((m) => {
    messages.push(m);
    arrived.next();
  });
  const next = async (send: unknown): Promise<unknown> => {
    const count = messages.length;
    const got = firstValueFrom(arrived);
    outgoing.next(send);
    await within(got, 'a frame', () => messages.length);
    return messages[count];
  };
  // The handshake asks for the first binary frame, so that it is sent as soon as the socket opens.
  await within(firstValueFrom(arrived), 'the first binary frame');
  const fromServer = messages[0];
  messages.length = 0;
  const echoedView = await next(new Uint8Array([9, 8, 7]));
  const big = new Uint8Array(70_000).map((_, i) => i % 251);
  const large = await next(big.buffer);
  sub.unsubscribe();

  // Binary where only text is accepted: a DecodeError with the raw ArrayBuffer, the stream survives.
  const strict = new Subject<unknown>();
  const decodeErrors: unknown[] = [];
  const strictValues: unknown[] = [];
  const afterDecode = new Promise<unknown>((resolve) => {
    const s = connect({
      url,
      outgoing: strict,
      serialize,
      handshake: () => [{ op: 'binary', bytes: [1, 2, 3] }, { op: 'echo', payload: 'still here' }],
      deserialize: (data) => {
        if (typeof data !== 'string') throw new TypeError('text frames only');
        return JSON.parse(data) as unknown;
      },
      onDecodeError: (error) => decodeErrors.push(error),
    }).subscribe((m) => {
      strictValues.push(m);
      s.unsubscribe();
      resolve(m);
    });
  });
  const afterDecodeError = await within(afterDecode, 'the echo after the binary frame', () => strictValues);
  const decodeError = decodeErrors[0] as { name: string; data: unknown } | undefined;
  const sum = (data: unknown) => bytesOf(data).reduce((a, b) => (a * 31 + b) % 1_000_003, 0);
  return {
    fromServer: { type: typeOf(fromServer), bytes: bytesOf(fromServer) },
    echoedView: { type: typeOf(echoedView), bytes: bytesOf(echoedView) },
    large: { type: typeOf(large), length: large instanceof ArrayBuffer ? large.byteLength : -1, sum: sum(large) },
    decodeError: {
      name: isDecodeError(decodeError) ? decodeError.name : String(decodeError),
      dataType: typeOf(decodeError?.data),
      bytes: bytesOf(decodeError?.data),
    },
    afterDecodeError,
  };
}

// ---- close codes: rxtether's rule against the browser's own ---------------------------------

function openNative(url: string): Promise<WebSocket> {
  return within(
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('page: a probe socket failed to open'));
    }),
    'a probe socket to open',
  );
}

async function closeCodes(url: string, cases: readonly CloseCase[]): Promise<CloseCaseResult[]> {
  const results: CloseCaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const rx = outcome(() => (c.reason === null ? assertValidClose(c.code as number) : assertValidClose(c.code as number, c.reason)));
    const socketId = `case=${i}`;
    const ws = await openNative(`${url}?${socketId}`);
    const browser = outcome(() => {
      if (c.code === null && c.reason === null) ws.close();
      else if (c.reason === null) ws.close(c.code as number);
      else ws.close(c.code as number, c.reason);
    });
    if (browser !== 'ok') ws.close(1000, 'rejected'); // the probe socket is still open
    results.push({ label: c.label, rxtether: rx, browser, socketId: browser === 'ok' ? socketId : undefined });
  }
  return results;
}

async function clientClose(url: string): Promise<ClientCloseResult> {
  const socket = createSocket<unknown, unknown>({ url });
  const statuses: SocketStatus[] = [];
  socket.status$.subscribe((st) => statuses.push(st));
  socket.messages$.subscribe({ error: () => {} });
  await within(firstValueFrom(socket.status$.pipe(filter((st) => st.state === 'open'))), 'open');
  const closeWith1001 = outcome(() => socket.close(1001));
  const statusAfterInvalidClose = statuses.at(-1)!.state;
  const connectWith1005 = outcome(() => connect({ url, closeOnUnsubscribe: { code: 1005 } }));
  socket.close(4001, 'bye');
  return {
    closeWith1001,
    statusAfterInvalidClose,
    connectWith1005,
    finalStatus: statusSnapshot(statuses.at(-1)!),
    sendAfterClose: outcome(() => socket.send('late')),
  };
}

// ---- createSocket against the protocol server ------------------------------------------------

interface ClientState {
  readonly socket: RxSocket<ServerFrame, ClientFrame>;
  readonly values: unknown[][];
  readonly errors: Array<ErrorSnapshot | null>;
  readonly subscriptions: Subscription[];
  readonly statuses: StatusSnapshot[];
  readonly events: string[];
  readonly changed: Subject<void>;
}

let client: ClientState | undefined;
const windowEvents: string[] = [];
const windowChanged = new Subject<void>();
for (const type of ['online', 'offline'] as const) {
  window.addEventListener(type, () => {
    windowEvents.push(type);
    windowChanged.next();
  });
}

function current(): ClientState {
  if (!client) throw new Error('page: startClient() first');
  return client;
}


function startClient(options: ClientOptions): void {
  if (client) throw new Error('page: one client per page');
  let session: string | undefined;
  const socket = createSocket<ServerFrame, ClientFrame>({
    url: options.url,
    session: {
      hello: ({ cursor }) => [
        { type: 'hello', ...(session ? { session } : {}), ...(cursor !== undefined ? { after: Number(cursor) } : {}) },
      ],
      isReady: (m) => m.type === 'ready' && ((session = m.session), true),
      isResumed: (m) => m.type === 'ready' && m.resumed,
    },
    ack: { idOf: (m) => (m.type === 'publish' ? m.id : undefined), ackOf: (m) => (m.type === 'ack' ? m.id : undefined) },
    backoff: options.backoff,
    ...(options.heartbeat
      ? { heartbeat: { ...options.heartbeat, message: (): ClientFrame => ({ type: 'ping' }) } }
      : {}),
    // The README's way: the browser's `online` event ends a backoff wait.
    ...(options.retryNowOnOnline ? { retryNow: fromEvent(window, 'online') } : {}),
  });
  const state: ClientState = {
    socket,
    values: options.subscribers.map(() => []),
    errors: options.subscribers.map(() => null),
    subscriptions: [],
    statuses: [],
    events: [],
    changed: new Subject<void>(),
  };
  client = state;
  socket.status$.subscribe((st) => {
    state.statuses.push(statusSnapshot(st));
    state.changed.next();
  });
  socket.events$.subscribe((e) => state.events.push(e.type === 'gap' ? `gap:${e.channel ?? ''}` : e.type));
  options.subscribers.forEach((name, i) => {
    state.subscriptions.push(
      socket.channel(topic(name)).subscribe({
        next: (value) => {
          state.values[i]!.push(value);
          state.changed.next();
        },
        error: (error: unknown) => {
          state.errors[i] = snapshot(error);
          state.changed.next();
        },
      }),
    );
  });
}

/** Resolves once `check()` returns a value other than `undefined`, re-checking on every change. */
function until<T>(changed: Observable<void>, check: () => T | undefined, what: string, seen: () => unknown): Promise<T> {
  const now = check();
  if (now !== undefined) return Promise.resolve(now);
  return within(
    new Promise<T>((resolve) => {
      const sub = changed.subscribe(() => {
        const value = check();
        if (value === undefined) return;
        sub.unsubscribe();
        resolve(value);
      });
    }),
    what,
    seen,
  );
}

function report(): ClientReport {
  const c = current();
  return {
    values: c.values,
    errors: c.errors,
    statuses: c.statuses,
    events: c.events,
    windowEvents,
    onLine: navigator.onLine,
  };
}

const api: PageApi = {
  connectBasics,
  relativeUrl,
  binaryFrames,
  closeCodes,
  clientClose,
  startClient,
  waitValues: (index, count) => {
    const c = current();
    return until(c.changed, () => (c.values[index]!.length >= count ? [...c.values[index]!] : undefined), `${count} values on subscriber ${index}`, report);
  },
  waitStatus: (match: StatusMatch, from = 0) => {
    const c = current();
    const check = () => {
      for (let i = from; i < c.statuses.length; i++) {
        const st = c.statuses[i]!;
        if (st.state === match.state && (match.attempt === undefined || st.attempt === match.attempt)) return { ...st, index: i };
      }
      return undefined;
    };
    return until(c.changed, check, `status ${JSON.stringify(match)} from #${from}`, () => c.statuses);
  },
  waitWindowEvent: (type, count = 1) =>
    until(windowChanged, () => (windowEvents.filter((e) => e === type).length >= count ? true : undefined), `${count} '${type}' events`, () => windowEvents).then(() => undefined),
  unsubscribe: (index) => current().subscriptions[index]!.unsubscribe(),
  send: (frame) => current().socket.send(frame),
  report,
};

window.rxtetherTest = api;
