// The contract between the Node test (browser.test.ts) and the code bundled into the page
// (page/main.ts): what the page exposes as `window.rxtetherTest`, and the plain, serializable
// results it reports back. Types only: both sides import it with `import type`.
import type { ClientFrame } from '../../helpers/protocolServer.js';

/** An error as the page saw it, reduced to fields that survive `page.evaluate`. */
export interface ErrorSnapshot {
  readonly name: string;
  readonly message: string;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
  readonly timeout?: number;
  /** `cause`'s constructor name (e.g. `Event` for a browser socket's error event). */
  readonly causeType?: string;
  readonly retryable: boolean;
}

/** A `SocketStatus`, with its `cause` reduced to an {@link ErrorSnapshot}. */
export interface StatusSnapshot {
  readonly state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
  readonly attempt?: number;
  readonly delay?: number;
  readonly cause?: ErrorSnapshot;
  readonly reconnects: number;
  readonly buffered: number;
  readonly dropped: number;
}

export interface ConnectBasicsResult {
  /** `WebSocket.toString()` says `[native code]`: the page uses the browser's own class. */
  readonly nativeWebSocket: boolean;
  /** The handshake's message, echoed by the server, then a message sent through `outgoing`. */
  readonly echoed: unknown[];
  /** `onOpen`'s protocol and `onClose` infos, in order, over the whole scenario. */
  readonly opens: string[];
  readonly closes: Array<{ code: number; reason: string; wasOpen: boolean; error?: string }>;
  /** The server closed with 4321 'bye'. */
  readonly serverClose: ErrorSnapshot;
  /** The server sent a close frame without a status code. */
  readonly serverCloseNoStatus: ErrorSnapshot;
  /** The server sent a text frame that is not UTF-8. */
  readonly invalidUtf8: ErrorSnapshot;
  /** The server answered the upgrade with HTTP 401: browsers hide the status. */
  readonly unauthorized: ErrorSnapshot;
  /** The server destroyed the TCP connection. */
  readonly serverTerminate: ErrorSnapshot;
  /** Nothing listens on the port. */
  readonly refused: ErrorSnapshot;
  /** The server accepts TCP and never answers the upgrade (`openTimeout: 300`). */
  readonly openTimeout: ErrorSnapshot;
  /** A malformed URL from a `url` function. */
  readonly badUrl: ErrorSnapshot;
}

export interface BinaryResult {
  /** A binary frame the server sent: its type in the page and its bytes. */
  readonly fromServer: { readonly type: string; readonly bytes: number[] };
  /** A `Uint8Array` the page sent, echoed back by the server. */
  readonly echoedView: { readonly type: string; readonly bytes: number[] };
  /** A 70 000-byte `ArrayBuffer` (64-bit frame length) echoed back: its length and a checksum. */
  readonly large: { readonly type: string; readonly length: number; readonly sum: number };
  /** A binary frame where only text is accepted: the DecodeError's data type, then the stream went on. */
  readonly decodeError: { readonly name: string; readonly dataType: string; readonly bytes: number[] };
  readonly afterDecodeError: unknown;
}

/** One close call to try: `code` is `null` for "no code", `reason` `null` for "no reason". */
export interface CloseCase {
  readonly label: string;
  readonly code: number | null;
  readonly reason: string | null;
}

export interface CloseCaseResult {
  readonly label: string;
  /** `'ok'` or the error's name, from rxtether's `assertValidClose`. */
  readonly rxtether: string;
  /** `'ok'` or the DOMException's name, from the browser's own `WebSocket.close`. */
  readonly browser: string;
  /** For `browser: 'ok'`: the query string that identifies the socket to the server. */
  readonly socketId: string | undefined;
}

export interface ClientCloseResult {
  /** `createSocket(...).close(1001)`: what it threw; the client stayed usable. */
  readonly closeWith1001: string;
  readonly statusAfterInvalidClose: string;
  /** `connect({ closeOnUnsubscribe: { code: 1005 } })`: what `connect` threw. */
  readonly connectWith1005: string;
  /** The final status after `close(4001, 'bye')`. */
  readonly finalStatus: StatusSnapshot;
  readonly sendAfterClose: string;
}

export interface ClientOptions {
  readonly url: string;
  /** One local subscriber per entry, subscribed in order to that channel. */
  readonly subscribers: readonly string[];
  readonly heartbeat?: { readonly interval: number; readonly timeout: number };
  readonly backoff: {
    readonly initialDelay: number;
    readonly maxDelay: number;
    readonly factor?: number;
    readonly jitter?: 'none' | 'full';
  };
  /** `retryNow: fromEvent(window, 'online')`, as the README shows. */
  readonly retryNowOnOnline?: boolean;
}

export interface ClientReport {
  /** Values per subscriber (the projected `data`), in delivery order. */
  readonly values: unknown[][];
  /** Each subscriber's error, `null` while none. */
  readonly errors: Array<ErrorSnapshot | null>;
  readonly statuses: StatusSnapshot[];
  /** `events$`, reduced to their type (and channel for gaps). */
  readonly events: string[];
  /** `online` / `offline` events the window fired, and `navigator.onLine` now. */
  readonly windowEvents: string[];
  readonly onLine: boolean;
}

export interface StatusMatch {
  readonly state: StatusSnapshot['state'];
  readonly attempt?: number;
}

/** `window.rxtetherTest`. Every wait is bounded and rejects with what it saw so far. */
export interface PageApi {
  connectBasics(urls: { readonly command: string; readonly refused: string; readonly silent: string; readonly unauthorized: string }): Promise<ConnectBasicsResult>;
  /** `connect({ url: '/echo' })`, resolved against the page's own origin; and `connect('not a url')`. */
  relativeUrl(): Promise<{ readonly echoed: unknown; readonly notAUrl: string }>;
  binaryFrames(url: string): Promise<BinaryResult>;
  closeCodes(url: string, cases: readonly CloseCase[]): Promise<CloseCaseResult[]>;
  clientClose(url: string): Promise<ClientCloseResult>;

  startClient(options: ClientOptions): void;
  /** Resolves with subscriber `index`'s values once it has at least `count`. */
  waitValues(index: number, count: number): Promise<unknown[]>;
  /** Resolves with the first status at or after position `from` in the history that matches. */
  waitStatus(match: StatusMatch, from?: number): Promise<StatusSnapshot & { readonly index: number }>;
  /** Resolves once the window has fired `type` (`online` / `offline`) at least `count` times. */
  waitWindowEvent(type: 'online' | 'offline', count?: number): Promise<void>;
  unsubscribe(index: number): void;
  send(frame: ClientFrame): void;
  report(): ClientReport;
}

declare global {
  interface Window {
    rxtetherTest?: PageApi;
  }
}
