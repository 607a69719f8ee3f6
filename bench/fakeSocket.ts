// An in-memory WebSocketLike for benchmarks: no network, no timers. It opens on a microtask
// (as a real socket opens on a later event) and then delivers whatever frames the benchmark
// pushes, synchronously, one `onmessage` call per frame.
import type { CloseEventLike, MessageEventLike, WebSocketData, WebSocketLike } from 'rxtether';

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  protocol = '';
  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: MessageEventLike) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: CloseEventLike) => void) | null = null;
  /** Frames sent by the client (a handshake, for instance). */
  sent = 0;
  /** The close code the client asked for, `undefined` while it has not closed. */
  closeCode: number | undefined;
  /** Resolves once `open` has been dispatched (or the socket was closed before it). */
  readonly opened: Promise<void>;

  constructor() {
    this.opened = new Promise<void>((resolve) => {
      queueMicrotask(() => {
        if (this.readyState === 0) {
          this.readyState = 1;
          this.onopen?.({ type: 'open' });
        }
        resolve();
      });
    });
  }

  send(_data: WebSocketData): void {
    if (this.readyState !== 1) throw new Error('FakeSocket: send() while not open');
    this.sent++;
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.closeCode = code;
    const onclose = this.onclose;
    if (onclose) queueMicrotask(() => onclose({ code, reason, wasClean: true }));
  }

  /**
   * Delivers `frames` as text messages, as fast as possible: one event object and one
   * `onmessage` call per frame, no timer. Stops early if the socket stops being open or
   * loses its handler (the pipeline unsubscribed). Returns how many frames were delivered.
   */
  push(frames: readonly string[], from = 0, to = frames.length): number {
    for (let i = from; i < to; i++) {
      const handler = this.onmessage;
      if (this.readyState !== 1 || handler === null) return i - from;
      handler({ data: frames[i] });
    }
    return to - from;
  }
}
