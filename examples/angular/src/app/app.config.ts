import { type ApplicationConfig, provideBrowserGlobalErrorListeners, provideZonelessChangeDetection } from '@angular/core';
import { provideClientHydration } from '@angular/platform-browser';

/**
 * Zoneless: signals tell Angular when to render, and the app is stable when no `PendingTasks`
 * are left. The socket's timers (backoff waits, heartbeat, the countdown) are plain rxjs timers
 * that no zone tracks, so they never hold `ApplicationRef.whenStable()` back, even while the
 * socket is reconnecting for minutes (with zone.js they would have to run outside the zone).
 *
 * Hydration: a page rendered on the server (src/main.server.ts, app.config.server.ts) is taken
 * over in the browser without re-creating its DOM; a page served without it (dist/browser's
 * index.csr.html) is rendered from scratch as usual.
 */
export const appConfig: ApplicationConfig = {
  providers: [provideZonelessChangeDetection(), provideBrowserGlobalErrorListeners(), provideClientHydration()],
};
