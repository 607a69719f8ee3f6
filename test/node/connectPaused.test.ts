import { BehaviorSubject, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type WebSocketLike, connect, createSocket } from 'rxtether';

/** An already-open socket double that logs pause(), resume() and close(). */
function fakeSocket(options: { pausable?: boolean } = {}): { socket: WebSocketLike & { readyState: number }; log: string[] } {
  const log: string[] = [];
  const socket = {
    readyState: 1,
    protocol: '',
    binaryType: 'blob',
    onopen: null,
    onmessage: null,
    onerror: null,
    onclose: null,
    send: () => {},
    close: (code?: number) => log.push(`close ${code}`),
    ...(options.pausable === false
      ? {}
      : { pause: () => log.push('pause'), resume: () => log.push('resume') }),
  };
  return { socket, log };
}

describe('connect: paused', () => {
  it('should reject a paused option that is not an Observable, in connect and in createSocket', () => {
    expect(() => connect({ url: 'ws://x', paused: true as never })).toThrow(TypeError);
    expect(() => connect({ url: 'ws://x', paused: true as never })).toThrow(/paused must be an Observable<boolean>/);
    expect(() => createSocket({ url: 'ws://x', paused: {} as never })).toThrow(/createSocket: paused must be an Observable<boolean>/);
  });

  it("should call pause() on true and resume() on false, once per change, and resume before closing", () => {
    const { socket, log } = fakeSocket();
    const paused = new BehaviorSubject(false);
    const sub = connect({ url: 'ws://x', socketFactory: () => socket, paused }).subscribe({ error: () => {} });
    paused.next(true);
    paused.next(true);
    expect(log).toEqual(['pause']);
    paused.next(false);
    paused.next(true);
    expect(log).toEqual(['pause', 'resume', 'pause']);
    sub.unsubscribe();
    // Paused, the close handshake could not complete: read again first.
    expect(log).toEqual(['pause', 'resume', 'pause', 'resume', 'close 1000']);
    expect(paused.observed).toBe(false);
  });

  it('should apply the latest value when the socket opens', () => {
    const { socket, log } = fakeSocket();
    const sub = connect({ url: 'ws://x', socketFactory: () => socket, paused: new BehaviorSubject(true) }).subscribe();
    expect(log).toEqual(['pause']);
    sub.unsubscribe();
  });

  it('should resume reading when paused completes, and end the connection with its error', () => {
    const { socket, log } = fakeSocket();
    const paused = new Subject<boolean>();
    const sub = connect({ url: 'ws://x', socketFactory: () => socket, paused }).subscribe();
    paused.next(true);
    paused.complete();
    expect(log).toEqual(['pause', 'resume']);
    sub.unsubscribe();

    const second = fakeSocket();
    const failing = new Subject<boolean>();
    const errors: unknown[] = [];
    connect({ url: 'ws://x', socketFactory: () => second.socket, paused: failing }).subscribe({ error: (e) => errors.push(e) });
    const boom = new Error('boom');
    failing.error(boom);
    expect(errors).toEqual([boom]);
  });

  it('should ignore paused for a socket without pause()/resume() (browsers)', () => {
    const { socket, log } = fakeSocket({ pausable: false });
    const paused = new BehaviorSubject(true);
    const values: unknown[] = [];
    const sub = connect({ url: 'ws://x', socketFactory: () => socket, paused }).subscribe({
      next: (v) => values.push(v),
      error: (e) => values.push(e),
    });
    paused.next(false);
    paused.next(true);
    socket.onmessage?.({ data: '1' });
    expect(values).toEqual([1]);
    expect(log).toEqual([]);
    sub.unsubscribe();
  });

  it('should not pause a closing socket (it must read the peer close frame)', () => {
    const { socket, log } = fakeSocket();
    const paused = new BehaviorSubject(false);
    const sub = connect({ url: 'ws://x', socketFactory: () => socket, paused }).subscribe({ error: () => {} });
    socket.readyState = 2;
    paused.next(true);
    expect(log).toEqual([]);
    sub.unsubscribe();
  });
});
