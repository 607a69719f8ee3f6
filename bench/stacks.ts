// The client stacks the benchmark compares, each written the way its documentation shows, all
// with `ws` as the WebSocket implementation. A stack is loaded only inside its own client
// worker process (bench/client.ts), so no stack's code shapes another one's JIT or heap.
// The competitors come from node_modules as they are; rxtether comes from the bundle the
// runner builds from the current sources as dist is built (bench/rxtether.ts), never from
// the TypeScript sources through tsx.
import type { WebSocket as WsWebSocket } from 'ws';
import type { Rxtether } from './rxtether.js';
import type { Msg } from './wire.js';
import { subscribeMessage } from './wire.js';

export type WsConstructor = typeof WsWebSocket;

/**
 * How a stack reconnects:
 * - `'off'`: as configured for the steady-state scenarios (nothing drops there);
 * - `'min'`: its smallest delays (raw `ws` and rxjs: user code that reconnects at once);
 * - `'default'`: its own defaults, for stacks that have some (see {@link Stack.builtInReconnect}).
 */
export type ReconnectMode = 'off' | 'min' | 'default';

export interface ConnectOptions {
  readonly url: string;
  readonly WebSocketCtor: WsConstructor;
  /**
   * The subscribers. One receives every message. A fan-out stack ({@link Stack.fanOut}) may
   * get ten: subscriber k receives channel `t${k}` (through a filter, or a channel of the
   * full client).
   */
  readonly subscribers: readonly ((message: Msg) => void)[];
  /**
   * Channels to (re-)subscribe on every open, by user code in the open handler (or by
   * rxtether's `handshake`): `{ type: 'subscribe', channel: 't<k>' }` for k < channels. The full
   * client ignores it: its channels are its subscribers, and it subscribes them itself.
   */
  readonly channels: number;
  readonly reconnect: ReconnectMode;
  /** Called on every open, once the subscribe messages are written. */
  readonly onOpen: () => void;
  /** Called when the stack gives up or errors for good. */
  readonly onFailure: (error: unknown) => void;
}

export interface StackConnection {
  /** Sends one message, JSON-encoded, through the stack's own send path. */
  send(message: object): void;
  /** Closes for good (no reconnect). */
  close(): void;
}

export interface Stack {
  readonly id: StackId;
  readonly label: string;
  /** Takes ten subscribers, each with its own filter or channel. */
  readonly fanOut: boolean;
  /** Has a reconnect policy of its own, hence a default configuration worth testing. */
  readonly builtInReconnect: boolean;
  connect(options: ConnectOptions): StackConnection;
}

export const STACK_IDS = ['ws', 'rxjs', 'rxjs-share10', 'rws', 'partysocket', 'rxtether-connect', 'rxtether-client', 'fused'] as const;
export type StackId = (typeof STACK_IDS)[number];

/** Labels, for the runner (which does not load the stacks). */
export const STACK_LABELS: Readonly<Record<StackId, string>> = {
  ws: 'raw ws',
  rxjs: 'rxjs webSocket()',
  'rxjs-share10': 'rxjs webSocket() + share(), 10 filters',
  rws: 'reconnecting-websocket',
  partysocket: 'partysocket',
  'rxtether-connect': 'rxtether connect()',
  'rxtether-client': 'rxtether createSocket, 10 channels',
  fused: 'hand-fused floor (no library)',
};

export const FAN_OUT: ReadonlySet<StackId> = new Set(['rxjs-share10', 'rxtether-client', 'fused']);
/**
 * Stacks run only when `--stacks` names them, with the scenarios each is meant for: references,
 * not something an application would pick.
 */
export const OPT_IN: ReadonlyMap<StackId, readonly string[]> = new Map([['fused', ['1', '2', '4']]]);
export const BUILT_IN_RECONNECT: ReadonlySet<StackId> = new Set(['rws', 'partysocket', 'rxtether-connect', 'rxtether-client']);

function subscribes(channels: number): { type: 'subscribe'; channel: string }[] {
  return Array.from({ length: channels }, (_, k) => subscribeMessage(k));
}

function single(o: ConnectOptions): (message: Msg) => void {
  if (o.subscribers.length !== 1) throw new Error(`bench: this stack takes one subscriber, got ${o.subscribers.length}`);
  return o.subscribers[0]!;
}

// ---------------------------------------------------------------------------------------------
// raw ws: the floor. Its EventEmitter API (no event object per message); reconnecting, when
// asked to, is a new WebSocket from the close handler, at once.

async function rawWs(): Promise<Stack> {
  return {
    id: 'ws',
    label: STACK_LABELS.ws,
    fanOut: false,
    builtInReconnect: false,
    connect(o) {
      const next = single(o);
      let ws: WsWebSocket;
      let closed = false;
      const open = (): void => {
        const socket = new o.WebSocketCtor(o.url);
        ws = socket;
        socket.on('open', () => {
          for (const m of subscribes(o.channels)) socket.send(JSON.stringify(m));
          o.onOpen();
        });
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (!isBinary) next(JSON.parse(data.toString()) as Msg);
        });
        socket.on('error', () => {});
        socket.on('close', (code) => {
          if (closed) return;
          if (o.reconnect === 'off') o.onFailure(new Error(`closed with ${code}`));
          else open();
        });
      };
      open();
      return {
        send: (m) => ws.send(JSON.stringify(m)),
        close: () => {
          closed = true;
          ws.close();
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// rxjs webSocket(): the subject with ws as its constructor; subscribes from openObserver;
// reconnecting is retry() with no delay. With share(): ten subscribers, each filtering a channel.

async function rxjsWebSocket(shared: boolean): Promise<Stack> {
  const { filter, retry, share, Subscription } = await import('rxjs');
  const { webSocket } = await import('rxjs/webSocket');
  const id = shared ? 'rxjs-share10' : 'rxjs';
  return {
    id,
    label: STACK_LABELS[id],
    fanOut: shared,
    builtInReconnect: false,
    connect(o) {
      const subject = webSocket<Msg>({
        url: o.url,
        WebSocketCtor: o.WebSocketCtor as unknown as typeof globalThis.WebSocket,
        openObserver: {
          next: () => {
            for (const m of subscribes(o.channels)) subject.next(m as unknown as Msg);
            o.onOpen();
          },
        },
      });
      const source = o.reconnect === 'off' ? subject : subject.pipe(retry());
      const subscription = new Subscription();
      const error = (e: unknown): void => o.onFailure(e);
      if (!shared) {
        subscription.add(source.subscribe({ next: single(o), error }));
      } else {
        const all = source.pipe(share());
        o.subscribers.forEach((next, k) => {
          const channel = `t${k}`;
          subscription.add(all.pipe(filter((m) => m.channel === channel)).subscribe({ next, error }));
        });
      }
      return {
        send: (m) => subject.next(m as Msg),
        close: () => subscription.unsubscribe(),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// reconnecting-websocket and partysocket: the same API (partysocket started as a fork). Their
// smallest delays: minReconnectionDelay = maxReconnectionDelay = 0.

interface ReconnectingLike {
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
  send(data: string): void;
  close(): void;
}
type ReconnectingCtor = new (url: string, protocols: string[] | undefined, options: Record<string, unknown>) => ReconnectingLike;

function reconnecting(id: 'rws' | 'partysocket', Ctor: ReconnectingCtor): Stack {
  return {
    id,
    label: STACK_LABELS[id],
    fanOut: false,
    builtInReconnect: true,
    connect(o) {
      const next = single(o);
      const rws = new Ctor(o.url, undefined, {
        WebSocket: o.WebSocketCtor,
        ...(o.reconnect === 'min' ? { minReconnectionDelay: 0, maxReconnectionDelay: 0 } : {}),
      });
      rws.addEventListener('open', () => {
        for (const m of subscribes(o.channels)) rws.send(JSON.stringify(m));
        o.onOpen();
      });
      rws.addEventListener('message', (event) => next(JSON.parse(event.data as string) as Msg));
      rws.addEventListener('error', () => {});
      return {
        send: (m) => rws.send(JSON.stringify(m)),
        close: () => rws.close(),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// rxtether

async function rxtetherConnect(rxtether: Rxtether): Promise<Stack> {
  const { Subject } = await import('rxjs');
  const { connect, retryWithJitteredBackoff } = rxtether;
  return {
    id: 'rxtether-connect',
    label: STACK_LABELS['rxtether-connect'],
    fanOut: false,
    builtInReconnect: true,
    connect(o) {
      const next = single(o);
      const outgoing = new Subject<object>();
      const channels = subscribes(o.channels);
      const connection$ = connect<Msg, object>({
        url: o.url,
        WebSocketCtor: o.WebSocketCtor,
        handshake: () => channels,
        outgoing,
        onOpen: () => queueMicrotask(o.onOpen), // after the handshake is written
      });
      const source =
        o.reconnect === 'off'
          ? connection$
          : connection$.pipe(retryWithJitteredBackoff(o.reconnect === 'min' ? { initialDelay: 0, maxDelay: 0 } : {}));
      const subscription = source.subscribe({ next, error: o.onFailure });
      return {
        send: (m) => outgoing.next(m),
        close: () => subscription.unsubscribe(),
      };
    },
  };
}

async function rxtetherClient(rxtether: Rxtether): Promise<Stack> {
  const { Subscription } = await import('rxjs');
  const { createSocket, isNextInSequence } = rxtether;
  return {
    id: 'rxtether-client',
    label: STACK_LABELS['rxtether-client'],
    fanOut: true,
    builtInReconnect: true,
    connect(o) {
      const socket = createSocket<Msg, object>({
        url: o.url,
        WebSocketCtor: o.WebSocketCtor,
        heartbeat: { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) },
        resume: { cursorOf: (m) => (m.type === 'msg' ? m.seq : undefined), isNext: isNextInSequence },
        channelKeyOf: (m) => m.channel, // route by key: one lookup per message, however many channels
        ...(o.reconnect === 'min' ? { backoff: { initialDelay: 0, maxDelay: 0 } } : {}),
      });
      const subscription = new Subscription();
      subscription.add(
        socket.status$.subscribe((s) => {
          if (s.state === 'open') o.onOpen();
          else if (s.state === 'closed' && s.reason === 'error') o.onFailure(s.error);
        }),
      );
      o.subscribers.forEach((next, k) => {
        const channel = `t${k}`;
        subscription.add(
          socket
            .channel({
              key: channel,
              subscribe: () => subscribeMessage(k),
              unsubscribe: () => ({ type: 'unsubscribe', channel }),
            })
            .subscribe({ next, error: o.onFailure }),
        );
      });
      return {
        send: (m) => socket.send(m),
        close: () => {
          socket.close();
          subscription.unsubscribe();
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The hand-fused floor (opt-in, `--stacks fused`; scenarios 1, 2 and 4): what the full client
// does per received message, written as one function on raw `ws`, with no stage between:
// decode, one clock read (a heartbeat deadline needs it), the checks of connection-wide resume
// (a message of type 'msg' carries the cursor; a replay is dropped, a gap noticed), routing by
// channel key, and an rxjs Subject per channel for its subscriber. Without a reconnect loop,
// timers, status or outbox, it shows how close fusing rxtether's stages could get at best on
// receive and in idle memory. It sends as raw `ws` does (so scenario 3 is not for it).

async function handFused(): Promise<Stack> {
  const { Subject } = await import('rxjs');
  return {
    id: 'fused',
    label: STACK_LABELS.fused,
    fanOut: true,
    builtInReconnect: false,
    connect(o) {
      if (o.reconnect !== 'off') throw new Error('bench: the hand-fused floor does not reconnect (scenarios 1, 2 and 4 only)');
      const routes = new Map<string, InstanceType<typeof Subject<Msg>>>();
      o.subscribers.forEach((subscriber, k) => {
        const subject = new Subject<Msg>();
        subject.subscribe(subscriber);
        routes.set(`t${k}`, subject);
      });
      let last: number | undefined;
      let gaps = 0;
      let lastAlive = 0;
      const ws = new o.WebSocketCtor(o.url);
      ws.on('open', () => {
        for (const m of subscribes(o.channels)) ws.send(JSON.stringify(m));
        o.onOpen();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const m = JSON.parse(data.toString()) as Msg;
        lastAlive = Date.now();
        if (m.type === 'msg' && m.seq !== undefined) {
          if (last !== undefined && m.seq <= last) return;
          if (last !== undefined && m.seq !== last + 1) gaps++;
          last = m.seq;
        }
        routes.get(m.channel ?? '')?.next(m);
      });
      ws.on('error', () => {});
      ws.on('close', (code) => o.onFailure(new Error(`closed with ${code} (last message at ${lastAlive}, ${gaps} gaps)`)));
      return {
        send: (m) => ws.send(JSON.stringify(m)),
        close: () => {
          ws.removeAllListeners('close');
          ws.close();
        },
      };
    },
  };
}

/**
 * Loads one stack (and only its modules). `rxtether`: the bundle the runner built
 * (bench/rxtether.ts, loaded with `importRxtether`), required by the rxtether stacks.
 */
export async function loadStack(id: StackId, rxtetherModule: Rxtether | undefined): Promise<Stack> {
  const rxtether = (): Rxtether => {
    if (rxtetherModule === undefined) throw new Error(`bench: stack ${id} needs the rxtether bundle`);
    return rxtetherModule;
  };
  switch (id) {
    case 'ws':
      return rawWs();
    case 'rxjs':
      return rxjsWebSocket(false);
    case 'rxjs-share10':
      return rxjsWebSocket(true);
    case 'rws': {
      const { default: ReconnectingWebSocket } = await import('reconnecting-websocket');
      return reconnecting('rws', ReconnectingWebSocket as unknown as ReconnectingCtor);
    }
    case 'partysocket': {
      const { default: ReconnectingWebSocket } = await import('partysocket/ws');
      return reconnecting('partysocket', ReconnectingWebSocket as unknown as ReconnectingCtor);
    }
    case 'rxtether-connect':
      return rxtetherConnect(rxtether());
    case 'rxtether-client':
      return rxtetherClient(rxtether());
    case 'fused':
      return handFused();
  }
}
