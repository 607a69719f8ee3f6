import { BehaviorSubject, type Subscription, retry } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type CloseEventLike, type WebSocketLike, createSocket } from '../../src/index.js';
import { createFakeServer } from 'rxtether/testing';

// messages$'s shared connection and the per-attempt state of the client, at their edges: a
// subscriber that leaves, or a client closed, from a status or event handler while an attempt
// ends or starts. (Found by a review of the rewrite that replaced share() + repeat + takeUntil
// + finalize with one object per client; each failed on that rewrite.)

interface Frame {
  readonly type: string;
  readonly id?: number;
}

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A client whose first server asks it to reconnect at frame 3; `later` scripts the next connections. */
function askedToReconnect(scheduler: TestScheduler, later: number) {
  const server = createFakeServer(scheduler, [
    { marbles: '-o-r', values: { r: { type: 'reconnect' } } },
    ...Array.from({ length: later }, () => ({ marbles: '-o' })),
  ]);
  const socket = createSocket<Frame, Frame>({
    url: 'ws://test/',
    socketFactory: server.socketFactory,
    isReconnectRequest: (m) => m.type === 'reconnect',
    scheduler,
    random: () => 0.5,
  });
  return { server, socket };
}

describe('leaving during a server-requested reconnect (linger 0)', () => {
  it("should not reconnect when the last subscriber leaves on the 'reconnecting' status of a server's reconnect request", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const { server, socket } = askedToReconnect(scheduler, 1);
      const states: string[] = [];
      let sub: Subscription | undefined;
      socket.status$.subscribe((s) => {
        states.push(s.state);
        // "stop at the first drop"
        if (s.state === 'reconnecting') sub?.unsubscribe();
      });
      sub = socket.messages$.subscribe();
      scheduler.flush();
      scheduler.schedule(() => {}, 5000);
      scheduler.flush();
      // Nobody is subscribed: no second socket may be opened.
      expect(server.connections.length).toBe(1);
      expect(states[states.length - 1]).toBe('idle');
    });
  });

  it("should not leave a socket open when the last subscriber leaves on the 'connecting' status of the repeat attempt", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const { server, socket } = askedToReconnect(scheduler, 2);
      const states: string[] = [];
      let sub: Subscription | undefined;
      let seenReconnecting = false;
      socket.status$.subscribe((s) => {
        states.push(s.state);
        if (s.state === 'reconnecting') seenReconnecting = true;
        else if (s.state === 'connecting' && seenReconnecting) sub?.unsubscribe();
      });
      sub = socket.messages$.subscribe();
      scheduler.schedule(() => {}, 5000);
      scheduler.flush();
      // The second socket, if created, must have been closed again.
      for (const c of server.connections) expect(c.endedAt).not.toBe(undefined);
      expect(states[states.length - 1]).toBe('idle');
      // A later subscriber uses one socket, and leaving closes it.
      const again = socket.messages$.subscribe();
      scheduler.schedule(() => again.unsubscribe(), 10);
      scheduler.flush();
      for (const c of server.connections) expect(c.endedAt).not.toBe(undefined);
    });
  });
});

describe('close() on the reconnecting status of a server-requested reconnect', () => {
  it('should leave no timer scheduled', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const { server, socket } = askedToReconnect(scheduler, 1);
      let pending: number[] | undefined;
      socket.status$.subscribe((s) => {
        if (s.state === 'reconnecting') {
          socket.close();
          // Look once everything of this frame has run.
          scheduler.schedule(() => {
            pending = scheduler.actions.map((a) => (a as unknown as { delay: number }).delay - scheduler.frame);
          }, 1);
        }
      });
      socket.messages$.subscribe();
      scheduler.flush();
      expect(server.connections.length).toBe(1);
      expect(pending).toEqual([]);
    });
  });
});

describe("a server's reconnect request with messages awaiting acks / unconfirmed", () => {
  it("should publish one 'reconnecting' status carrying the re-queued messages", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o-R', values: { R: { type: 'reconnect' } } }, '-o']);
      const socket = createSocket<Frame, Frame>({
        url: 'ws://t/',
        socketFactory: server.socketFactory,
        scheduler,
        random: () => 0.5,
        isReconnectRequest: (m) => m.type === 'reconnect',
        ack: { idOf: (m) => m.id, ackOf: () => undefined },
      });
      const statuses: Array<[number, string, number]> = [];
      socket.status$.subscribe((s) => statuses.push([scheduler.now(), s.state, s.buffered]));
      socket.messages$.subscribe();
      scheduler.schedule(() => socket.send({ type: 'order', id: 1 }), 2);
      scheduler.schedule(() => socket.close(), 1000);
      scheduler.flush();
      // Up to the next attempt: one 'reconnecting', whose counters include the order awaiting
      // its ack, which is back in the outbox (as before the rewrite, and as after a drop).
      expect(statuses.filter(([t]) => t < 1000)).toEqual([
        [0, 'idle', 0],
        [0, 'connecting', 0],
        [1, 'open', 0],
        [3, 'reconnecting', 1],
        [503, 'connecting', 1],
        [504, 'open', 0],
      ]);
    });
  });
});

describe('an attempt started from within the previous one\'s teardown', () => {
  it('should keep its own socket for the paused heartbeat deadline', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o', '-o', '-o', '-o']);
      // A socket that can pause (as ws's): the heartbeat deadline is off while it is paused.
      const socketFactory = (url: string, protocols?: string[]) =>
        Object.assign(server.socketFactory(url, protocols), { pause() {}, resume() {} });
      const socket = createSocket<Frame, Frame>({
        url: 'ws://t/',
        socketFactory,
        scheduler,
        heartbeat: { timeout: 5 },
        paused: new BehaviorSubject(true),
        backoff: { initialDelay: 2, jitter: 'none' },
      });
      let again = false;
      socket.events$.subscribe((e) => {
        // Subscribed again while the previous connection is being torn down.
        if (e.type === 'unconfirmed' && !again) {
          again = true;
          socket.messages$.subscribe();
        }
      });
      const first = socket.messages$.subscribe();
      scheduler.schedule(() => socket.send({ type: 'order' }), 3);
      scheduler.schedule(() => first.unsubscribe(), 4);
      scheduler.schedule(() => socket.close(), 40);
      scheduler.flush();
      // The second connection (created at 4) is paused from its open: no heartbeat timeout.
      expect(server.connections.map((c) => c.createdAt)).toEqual([0, 4]);
    });
  });
});

describe('channels after the client ended', () => {
  it('should complete a channel subscribed after close(), and error one subscribed after a terminal failure, at once', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o', { marbles: '-o-#', close: { code: 4401, reason: 'no' } }]);
      const spec = { key: 'a', subscribe: () => ({ type: 'subscribe' }) };
      const closed = createSocket<Frame, Frame>({ url: 'ws://test/', socketFactory: server.socketFactory, scheduler, channelKeyOf: () => 'a' });
      const failed = createSocket<Frame, Frame>({
        url: 'ws://test/',
        socketFactory: server.socketFactory,
        scheduler,
        channelKeyOf: () => 'a',
        classify: () => 'stop',
      });
      const log: string[] = [];
      const watch = (name: string, socket: typeof closed) =>
        socket.channel(spec).subscribe({
          error: (error: unknown) => log.push(`${name} error ${String((error as { code?: number }).code)} at ${scheduler.now()}`),
          complete: () => log.push(`${name} complete at ${scheduler.now()}`),
        });
      watch('closed, first', closed);
      watch('failed, first', failed);
      // Re-subscribed from its error handler by retry(): ends again, at once.
      failed
        .channel(spec)
        .pipe(retry(1))
        .subscribe({ error: (error: unknown) => log.push(`retried error ${String((error as { code?: number }).code)} at ${scheduler.now()}`) });
      scheduler.schedule(() => closed.close(), 5);
      scheduler.schedule(() => {
        // Both clients have ended: a new channel ends at once, as messages$ would.
        watch('closed, again', closed);
        watch('failed, again', failed);
      }, 10);
      scheduler.flush();
      expect(log).toEqual([
        'failed, first error 4401 at 3',
        'retried error 4401 at 3',
        'closed, first complete at 5',
        'closed, again complete at 10',
        'failed, again error 4401 at 10',
      ]);
    });
  });
});

/** A socket that is already open when the factory returns it (connect supports this: readyState 1 at creation). */
class OpenSocket implements WebSocketLike {
  readyState = 1;
  protocol = '';
  binaryType = 'blob';
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  onclose: ((e: CloseEventLike) => void) | null = null;
  readonly sent: unknown[] = [];
  send(data: unknown): void {
    this.sent.push(JSON.parse(data as string));
  }
  close(): void {
    this.readyState = 3;
  }
}

describe('an attempt started from a handler while the retried attempt is still subscribing', () => {
  it("should not let the replaced attempt's late teardown mark the new, open connection as lost", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const sockets: OpenSocket[] = [];
      const socket = createSocket<unknown, { n: number }>({
        url: 'ws://test/',
        scheduler,
        random: () => 0.5,
        backoff: { initialDelay: 2 },
        socketFactory: () => {
          const s = new OpenSocket();
          sockets.push(s);
          return s;
        },
      });
      let sub: Subscription | undefined;
      let opens = 0;
      socket.status$.subscribe((s) => {
        // The second open (after a drop): "start over", leave and subscribe again.
        if (s.state === 'open' && ++opens === 2) {
          sub!.unsubscribe();
          sub = socket.messages$.subscribe();
        }
      });
      sub = socket.messages$.subscribe();
      // The first connection drops at 5.
      scheduler.schedule(() => {
        const s0 = sockets[0]!;
        s0.readyState = 3;
        s0.onclose?.({ code: 1006, reason: '', wasClean: false });
      }, 5);
      scheduler.flush();
      expect(sockets.length).toBe(3);
      expect(sockets[1]!.readyState).toBe(3); // replaced
      expect(sockets[2]!.readyState).toBe(1); // the live connection
      const states: string[] = [];
      socket.status$.subscribe((s) => states.push(s.state));
      socket.send({ n: 1 });
      // The client reports 'open' on socket 2: a send must go out there, not sit in the outbox.
      expect(states).toEqual(['open']);
      expect(sockets[2]!.sent).toEqual([{ n: 1 }]);
    });
  });
});
