/**
 * A handler type compared bivariantly, so that both the DOM `WebSocket` (whose handlers take a
 * `MessageEvent`) and `ws`'s (whose handlers take its own event classes) fit one interface.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a `message` event rxtether reads. */
export interface MessageEventLike {
  /** A `string` for text frames; an `ArrayBuffer` for binary frames (rxtether sets `binaryType`). */
  readonly data: unknown;
}

/** The part of a `close` event rxtether reads. */
export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** What rxtether can send: what both the browser `WebSocket` and `ws` accept. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView;

/**
 * The minimal WebSocket surface rxtether needs. The browser's `WebSocket`, Node 22's global
 * `WebSocket` and the `ws` package's `WebSocket` all satisfy it, and so does a test double.
 *
 * Where the object also has `ws`'s Node extras (`on`, `removeListener`, `ping`, `terminate`),
 * rxtether uses them for rejected handshakes, protocol pings and closing without waiting for
 * the close handshake.
 */
export interface WebSocketLike {
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  /** The subprotocol the server selected, `''` when none. */
  readonly protocol: string;
  /** rxtether sets it to `'arraybuffer'` so binary frames look the same everywhere. */
  binaryType: string;
  onopen: Handler<unknown> | null;
  onmessage: Handler<MessageEventLike> | null;
  onerror: Handler<unknown> | null;
  onclose: Handler<CloseEventLike> | null;
  send(data: WebSocketData): void;
  close(code?: number, reason?: string): void;
}

/** A constructor with the standard `WebSocket` signature, e.g. `ws`'s default export. */
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The `ws` extras rxtether uses when present, found by duck typing. */
export interface NodeWebSocketExtras {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  ping?(): void;
  terminate?(): void;
}

/** `ws`'s flow control, found by duck typing (connect pauses only a socket that has both). */
export interface PausableSocket {
  pause?(): void;
  resume?(): void;
}

export const CONNECTING = 0;
export const OPEN = 1;

export function nodeExtras(socket: WebSocketLike): (WebSocketLike & NodeWebSocketExtras) | undefined {
  const s = socket as WebSocketLike & Partial<NodeWebSocketExtras>;
  return typeof s.on === 'function' && typeof s.removeListener === 'function'
    ? (s as WebSocketLike & NodeWebSocketExtras)
    : undefined;
}
