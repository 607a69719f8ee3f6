import { type Observable, of, share } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type ConnectionCloseInfo,
  type WebSocketConstructorLike,
  connect,
  createResumeCursor,
  heartbeatTimeout,
  resumeFrom,
  retryWithJitteredBackoff,
} from '../../src/index.js';

interface Tick {
  readonly seq: number;
}

describe('connect types', () => {
  it('should be Observable<unknown> from a URL alone', () => {
    expectTypeOf(connect('wss://example.com')).toEqualTypeOf<Observable<unknown>>();
  });

  it('should keep In through the whole resilient pipeline', () => {
    const cursor = createResumeCursor({ cursorOf: (t: Tick) => t.seq });
    const ticks$ = connect<Tick>({ url: 'wss://example.com', WebSocketCtor: WebSocket }).pipe(
      heartbeatTimeout({ timeout: 1000 }),
      resumeFrom(cursor),
      retryWithJitteredBackoff(),
      share(),
    );
    expectTypeOf(ticks$).toEqualTypeOf<Observable<Tick>>();
  });

  it('should type outgoing values, the handshake and the hooks by Out', () => {
    connect<Tick, { op: string }>({
      url: () => Promise.resolve('wss://example.com'),
      handshake: () => [{ op: 'auth' }],
      outgoing: of({ op: 'x' }),
      onClose: (info) => expectTypeOf(info).toEqualTypeOf<ConnectionCloseInfo>(),
    });
    // @ts-expect-error: outgoing values must be Out
    connect<Tick, { op: string }>({ url: 'wss://x', outgoing: of(1) });
    // @ts-expect-error: handshake values must be Out
    connect<Tick, { op: string }>({ url: 'wss://x', handshake: () => [42] });
  });

  it('should accept both ws and the DOM WebSocket as WebSocketCtor', () => {
    expectTypeOf(WebSocket).toMatchTypeOf<WebSocketConstructorLike>();
    expectTypeOf(globalThis.WebSocket).toMatchTypeOf<WebSocketConstructorLike>();
  });
});
