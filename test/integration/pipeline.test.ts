import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type RetryAttemptInfo,
  connect,
  createResumeCursor,
  heartbeatTimeout,
  isNextInSequence,
  resumeFrom,
  retryWithJitteredBackoff,
} from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { observe } from '../helpers/observe.js';
import { AsyncQueue } from '../helpers/queue.js';
import { type ServerConnection, startServer } from '../helpers/server.js';

const defer = useDisposer();

interface Tick {
  readonly seq: number;
}
type ClientFrame = { readonly op: 'resume'; readonly after: number } | { readonly op: 'ping' };

/**
 * A small feed server: publishes numbered ticks into a history, and answers a resume request
 * by replaying from two ticks *before* the requested position (an overlapping replay the
 * client must deduplicate) before going live.
 */
async function startFeed() {
  const server = await startServer();
  defer(() => server.close());
  const history: Tick[] = [];
  const live = new Set<ServerConnection>();
  const resumes: number[] = [];
  /** Connections that sent their resume request and got their replay: now live. */
  const resumed = new AsyncQueue<ServerConnection>();
  let frozen = false;
  void (async () => {
    for (;;) {
      const conn = await server.connections.next();
      conn.closed.then(() => live.delete(conn));
      void (async () => {
        const frame = JSON.parse(String(await conn.messages.next())) as ClientFrame;
        if (frame.op !== 'resume') return;
        resumes.push(frame.after);
        for (const tick of history.slice(Math.max(0, frame.after - 2))) conn.sendJson(tick);
        live.add(conn);
        resumed.push(conn);
      })();
    }
  })();
  return {
    server,
    resumes,
    resumed,
    publish(count: number): void {
      for (let i = 0; i < count; i++) {
        const tick = { seq: history.length + 1 };
        history.push(tick);
        if (!frozen) for (const conn of live) conn.sendJson(tick);
      }
    },
    /** Drops every live connection with a TCP reset. */
    reset(): void {
      for (const conn of live) (conn.socket as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
      live.clear();
    },
    /** Stops sending anything while keeping TCP open: a frozen peer. */
    freeze(): void {
      frozen = true;
    },
    thaw(): void {
      frozen = false;
    },
  };
}

/** The composed pipeline of DESIGN.md, as an application would write it. */
function feed(url: string, onRetry: (info: RetryAttemptInfo) => void) {
  const cursor = createResumeCursor({ cursorOf: (tick: Tick) => tick.seq, isNext: isNextInSequence });
  let closing = false;
  const ticks$ = connect<Tick, ClientFrame>({
    url,
    WebSocketCtor: WebSocket,
    // Read on every open: the last seq delivered downstream before the drop.
    handshake: () => [{ op: 'resume', after: cursor.current ?? 0 }],
    // A socket replaced after a heartbeat timeout must not close with 1000 (session kept).
    closeOnUnsubscribe: () => (closing ? { code: 1000 } : { code: 4000, reason: 'reconnect' }),
  }).pipe(
    heartbeatTimeout({ timeout: 150 }),
    resumeFrom(cursor),
    retryWithJitteredBackoff({ initialDelay: 1, maxDelay: 20, onRetry }),
  );
  return {
    cursor,
    ticks$,
    markClosing: () => {
      closing = true;
    },
  };
}

async function take<T>(queue: { next(): Promise<T> }, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await queue.next());
  return out;
}

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }));

describe('the composed pipeline: connect + heartbeatTimeout + resumeFrom + retryWithJitteredBackoff', () => {
  it('should deliver every tick exactly once, in order, across a reset, resuming from the last delivered seq', async () => {
    const f = await startFeed();
    const retries: RetryAttemptInfo[] = [];
    const { ticks$, cursor } = feed(f.server.url, (i) => retries.push(i));
    const o = observe(ticks$);
    defer(() => o.subscription.unsubscribe());

    await f.resumed.next();
    f.publish(5);
    expect(await take(o.values, 5)).toEqual(seqs(1, 5));

    f.reset();
    f.publish(3); // 6..8 published while the client is down
    await f.resumed.next(); // the reconnect replayed from seq 4 (overlap 4, 5) and is live
    f.publish(2); // 9, 10 live
    expect(await take(o.values, 5)).toEqual(seqs(6, 10));

    expect(f.resumes).toEqual([0, 5]); // the cursor from before the drop, not from the new socket
    expect(cursor.current).toBe(10);
    expect(retries.map((r) => r.attempt)).toEqual([1]); // exactly one reconnect for one drop
    expect(f.server.accepted()).toBe(2);
    expect(o.values.size).toBe(0); // nothing extra: no duplicates from the overlapping replay
    expect(o.stopped()).toBe(false);
  });

  it('should replace a frozen connection after the heartbeat deadline, closing it with 4000, and resume', async () => {
    const f = await startFeed();
    const retries: RetryAttemptInfo[] = [];
    const { ticks$, markClosing } = feed(f.server.url, (i) => retries.push(i));
    const o = observe(ticks$);
    const first = await f.resumed.next();
    f.publish(3);
    expect(await take(o.values, 3)).toEqual(seqs(1, 3));

    f.freeze();
    f.publish(2); // 4, 5 go into the history, not onto the frozen socket
    expect(await first.closed).toEqual({ code: 4000, reason: 'reconnect' });
    expect(retries).toHaveLength(1);
    expect(retries[0]?.error).toMatchObject({ name: 'HeartbeatTimeoutError', timeout: 150 });

    f.thaw();
    const second = await f.resumed.next();
    expect(await take(o.values, 2)).toEqual(seqs(4, 5));
    expect(f.resumes).toEqual([0, 3]);

    markClosing();
    o.subscription.unsubscribe();
    expect(await second.closed).toEqual({ code: 1000, reason: '' }); // the final close is a normal one
    expect(o.stopped()).toBe(false);
  });

  it('should stop with the typed error, without retrying, when the server closes with a terminal code', async () => {
    const f = await startFeed();
    const retries: RetryAttemptInfo[] = [];
    const o = observe(feed(f.server.url, (i) => retries.push(i)).ticks$);
    const conn = await f.resumed.next();
    conn.socket.close(1008, 'bad token');
    expect(await o.error).toMatchObject({ name: 'ConnectionClosedError', code: 1008, reason: 'bad token' });
    expect(retries).toEqual([]);
    expect(f.server.accepted()).toBe(1);
  });
});
