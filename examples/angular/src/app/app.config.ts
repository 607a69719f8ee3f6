import { type ApplicationConfig, provideBrowserGlobalErrorListeners, provideZonelessChangeDetection } from '@angular/core';

/**
 * Zoneless: signals tell Angular when to render, and the app is stable when no `PendingTasks`
 * are left. The socket's timers (backoff waits, heartbeat, the countdown) are plain rxjs timers
 * that no zone tracks, so they never hold `ApplicationRef.whenStable()` back, even while the
 * socket is reconnecting for minutes (with zone.js they would have to run outside the zone).
 */
export const appConfig: ApplicationConfig = {
  providers: [provideZonelessChangeDetection(), provideBrowserGlobalErrorListeners()],
};
