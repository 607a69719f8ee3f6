import { isPlatformBrowser } from '@angular/common';
import { DOCUMENT, DestroyRef, Injectable, InjectionToken, PLATFORM_ID, type Signal, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { BehaviorSubject, EMPTY, NEVER, type Observable, defer, filter, fromEvent, map, merge, of, switchMap } from 'rxjs';
import { type RxSocket, type SocketStatus, createSocket, isNextInSequence } from 'rxtether';

/** What the server sends (see server/unstable-server.ts). */
export type ServerFrame = TickFrame | { readonly type: 'pong' };
type TickFrame = { readonly type: 'tick'; readonly channel: string; readonly seq: number; readonly at: number };

/** What the app sends. */
export type ClientFrame =
  | { readonly type: 'subscribe'; readonly channel: string; readonly after?: number }
  | { readonly type: 'unsubscribe'; readonly channel: string }
  | { readonly type: 'ping' };

/** One message of a channel. */
export interface Tick {
  readonly seq: number;
  /** When the server published it, ms since epoch. */
  readonly at: number;
}

/**
 * The server's URL: `?ws=ws://host:port/` in the page's address, else port 8787 on the page's
 * host (where `npm run server` listens).
 */
export const FEED_URL = new InjectionToken<string>('FEED_URL', {
  providedIn: 'root',
  factory: () => {
    const location = inject(DOCUMENT).location as Location | null | undefined;
    return new URLSearchParams(location?.search ?? '').get('ws') ?? `ws://${location?.hostname || 'localhost'}:8787/`;
  },
});

const IDLE: SocketStatus = { state: 'idle', reconnects: 0, buffered: 0, dropped: 0 };

/**
 * The app's one WebSocket, wrapping rxtether's `createSocket`: channels as observables, the
 * connection status as a signal.
 *
 * - Lazy: injecting it constructs nothing; the client is created by the first `channel()`
 *   subscription in a browser, and the socket opens then (and closes after the last one leaves).
 * - SSR-safe: on the server `channel()` never emits and `status` stays `idle`, so pages render
 *   their initial state and no socket or timer is ever created.
 * - Stability: zoneless, and nothing here is a `PendingTask`, so `ApplicationRef.whenStable()`
 *   resolves while the socket connects or reconnects.
 * - Teardown: when the application is destroyed, the client is closed for good (close 1000).
 */
@Injectable({ providedIn: 'root' })
export class FeedSocket {
  private readonly browser = isPlatformBrowser(inject(PLATFORM_ID));
  private readonly document = inject(DOCUMENT);
  private readonly url = inject(FEED_URL);
  /** `undefined` until the first channel subscription. */
  private readonly client$ = new BehaviorSubject<RxSocket<ServerFrame, ClientFrame> | undefined>(undefined);
  private destroyed = false;

  /** The connection's state and counters, `idle` until the first channel subscription. */
  readonly status$: Observable<SocketStatus> = this.client$.pipe(switchMap((client) => client?.status$ ?? of(IDLE)));

  /** {@link status$} as a signal. */
  readonly status: Signal<SocketStatus> = toSignal(this.status$, { requireSync: true });

  constructor() {
    inject(DestroyRef).onDestroy(() => {
      this.destroyed = true;
      this.client$.value?.close();
      this.client$.complete();
    });
  }

  /**
   * The ticks of one channel. The first subscriber opens the socket; after a reconnect the
   * channel resumes after the last tick it delivered, so none is missed or repeated.
   */
  channel(name: string): Observable<Tick> {
    if (!this.browser) return NEVER;
    return defer(() =>
      this.destroyed
        ? EMPTY
        : this.client().channel({
            key: name,
            subscribe: (after) => ({ type: 'subscribe', channel: name, ...(after === undefined ? {} : { after: Number(after) }) }),
            unsubscribe: () => ({ type: 'unsubscribe', channel: name }),
            matches: (m) => m.type === 'tick' && m.channel === name,
            cursorOf: (m) => (m.type === 'tick' ? m.seq : undefined),
            isNext: isNextInSequence,
          }),
    ).pipe(
      filter((m): m is TickFrame => m.type === 'tick'),
      map(({ seq, at }) => ({ seq, at })),
    );
  }

  private client(): RxSocket<ServerFrame, ClientFrame> {
    const existing = this.client$.value;
    if (existing) return existing;
    const window = this.document.defaultView;
    const client = createSocket<ServerFrame, ClientFrame>({
      url: this.url,
      heartbeat: { interval: 5_000, timeout: 15_000, message: () => ({ type: 'ping' }) },
      backoff: { initialDelay: 1_000, maxDelay: 8_000 },
      // A route change that re-subscribes within a second reuses the socket; and when the app
      // is destroyed, its components leave first, so the socket is still there for close(1000).
      linger: 1_000,
      // Back online, or the tab is visible again: retry now instead of waiting out the backoff.
      retryNow: window
        ? merge(
            fromEvent(window, 'online'),
            fromEvent(this.document, 'visibilitychange').pipe(filter(() => this.document.visibilityState === 'visible')),
          )
        : NEVER,
    });
    this.client$.next(client);
    return client;
  }
}
