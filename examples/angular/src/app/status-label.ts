import { type Observable, distinctUntilChanged, map, of, switchMap, timer } from 'rxjs';
import type { SocketStatus } from 'rxtether';

/** The text of one status; `now` places a reconnect's countdown. */
export function statusLabel(status: SocketStatus, now: number): string {
  switch (status.state) {
    case 'idle':
      return 'Idle';
    case 'connecting':
      return 'Connecting…';
    case 'open':
      return 'Connected';
    case 'reconnecting':
      return `Reconnecting in ${Math.max(1, Math.ceil((status.nextAttemptAt - now) / 1000))} s…`;
    case 'closed':
      return status.reason === 'client' ? 'Closed' : `Closed: ${status.error instanceof Error ? status.error.name : String(status.error)}`;
  }
}

/** The live text: while reconnecting, it counts down to the next attempt. */
export function statusLabel$(status$: Observable<SocketStatus>, now: () => number = Date.now): Observable<string> {
  return status$.pipe(
    switchMap((status) =>
      status.state === 'reconnecting'
        ? timer(0, 200).pipe(map(() => statusLabel(status, now())))
        : of(statusLabel(status, now())),
    ),
    distinctUntilChanged(),
  );
}
