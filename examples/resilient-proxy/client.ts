/**
 * The downstream client of seed 002: one plain connection to the proxy, deliberately without
 * any reconnect logic, so that it is a witness. It is rxtether's bare `connect()`: every close
 * it did not ask for is an error notification, so "the client saw no disconnect" means
 * "`disconnects` stayed 0".
 *
 * It sends `{ type: 'msg', id: '<name>-<n>', body }` frames and counts the target's acks, which
 * the proxy forwards. Acks can come twice for one id: the proxy re-sends what the target had
 * not acknowledged when its upstream dropped (at least once), and the target acks every copy.
 *
 *   npx tsx examples/resilient-proxy/client.ts --url ws://127.0.0.1:8081 [--every 100] [--name c1]
 */
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from 'rxtether';
import { Subject } from 'rxjs';
import { WebSocket } from 'ws';
import type { TargetAck, TargetMessage } from './unstable-target.js';

export interface ProxyClient {
  readonly name: string;
  /** Ids sent, in order. */
  readonly sent: readonly string[];
  /** How many acks arrived per id (more than 1: the target read it more than once). */
  readonly acked: ReadonlyMap<string, number>;
  /** Sent ids not acked yet. */
  readonly pending: number;
  /** Closes this client did not ask for: 0 as long as the proxy kept it connected. */
  readonly disconnects: number;
  /** `ack` (id, count), `disconnect` (error): for tests and logs. */
  readonly events: EventEmitter;
  /** Sends the next message and returns its id. Throws once disconnected. */
  send(body?: unknown): string;
  /** Resolves once every id sent so far has been acked at least once. */
  allAcked(): Promise<void>;
  /** Closes with 1000; resolves once the socket is closed. */
  close(): Promise<void>;
}

export interface ProxyClientOptions {
  /** The proxy's URL. */
  readonly url: string;
  /** Prefix of the message ids. @defaultValue 'client' */
  readonly name?: string;
}

/** Connects to the proxy; resolves once the socket is open. */
export async function startClient(options: ProxyClientOptions): Promise<ProxyClient> {
  const name = options.name ?? 'client';
  const events = new EventEmitter();
  const outgoing = new Subject<TargetMessage>();
  const sent: string[] = [];
  const unacked = new Set<string>();
  const acked = new Map<string, number>();
  let disconnects = 0;
  let disconnected: unknown;
  let waiters: Array<() => void> = [];
  // connect() reports an unsubscribe at once; `close()` also waits for the socket itself.
  let socket: WebSocket | undefined;

  let onOpen: () => void = () => {};
  let onError: (error: unknown) => void = () => {};
  const opened = new Promise<void>((resolve, reject) => {
    onOpen = resolve;
    onError = reject;
  });

  const subscription = connect<TargetAck, TargetMessage>({
    url: options.url,
    socketFactory: (url, protocols) => (socket = new WebSocket(url, protocols)),
    outgoing,
    onOpen: () => onOpen(),
  }).subscribe({
    next: (message) => {
      if (message.type !== 'ack') return;
      const count = (acked.get(message.id) ?? 0) + 1;
      acked.set(message.id, count);
      unacked.delete(message.id);
      events.emit('ack', message.id, count);
      if (unacked.size === 0) {
        const ready = waiters;
        waiters = [];
        for (const resolve of ready) resolve();
      }
    },
    error: (error: unknown) => {
      disconnects++;
      disconnected = error;
      onError(error);
      events.emit('disconnect', error);
    },
  });
  await opened;

  return {
    name,
    sent,
    acked,
    get pending() {
      return unacked.size;
    },
    get disconnects() {
      return disconnects;
    },
    events,
    send(body?: unknown): string {
      if (disconnected !== undefined) throw new Error(`${name}: disconnected`, { cause: disconnected });
      const id = `${name}-${sent.length + 1}`;
      sent.push(id);
      unacked.add(id);
      outgoing.next({ type: 'msg', id, ...(body !== undefined ? { body } : {}) });
      return id;
    },
    allAcked() {
      return unacked.size === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      const ws = socket;
      const closed = ws && ws.readyState !== WebSocket.CLOSED ? new Promise((resolve) => ws.once('close', resolve)) : undefined;
      subscription.unsubscribe();
      outgoing.complete();
      await closed;
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:8081' },
      every: { type: 'string', default: '100' },
      name: { type: 'string', default: 'c1' },
    },
  });
  const client = await startClient({ url: values.url, name: values.name });
  console.log(`client: connected to ${values.url}`);
  client.events.on('disconnect', (error: Error) => console.log(`client: DISCONNECTED (${error.name})`));
  const ticker = setInterval(() => client.send({ at: new Date().toISOString() }), Number(values.every));
  const progress = setInterval(() => console.log(`client: sent ${client.sent.length}, acked ${client.acked.size}, waiting ${client.pending}`), 1000);
  process.once('SIGINT', async () => {
    clearInterval(ticker);
    clearInterval(progress);
    console.log(`client: stopped sending; waiting up to 5 s for ${client.pending} acks`);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([client.allAcked(), new Promise((resolve) => (grace = setTimeout(resolve, 5000)))]);
    clearTimeout(grace);
    await client.close();
    const twice = [...client.acked.values()].filter((n) => n > 1).length;
    console.log(`client: sent ${client.sent.length}, acked ${client.acked.size} (${twice} twice), unacked ${client.pending}, disconnects ${client.disconnects}`);
  });
}
