import type { Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { WebSocketLike } from '../../src/index.js';

/** A close notification for {@link scriptedSockets}: the error value of a marble's `#`. */
export interface ScriptedClose {
  readonly code: number;
  readonly reason?: string;
}

/** A socket event scheduled by a marble: `o` opens, other letters deliver their JSON value. */
export interface ScriptedSockets {
  /** Pass as `socketFactory`: each call takes the next script. */
  readonly factory: (url: string) => WebSocketLike;
  /** What the client sent, decoded, with the virtual time and the connection index. */
  readonly sent: Array<{ readonly frame: number; readonly connection: number; readonly data: unknown }>;
  /** Virtual times at which each connection was created. */
  readonly created: number[];
  /** Closes the client asked for, with their virtual time. */
  readonly closed: Array<{ readonly frame: number; readonly connection: number; readonly code: number | undefined }>;
}

/**
 * Sockets whose lives are scripted in marbles, one script per connection, for
 * `TestScheduler.run`: `'-o-a-b-#'` opens at 1, delivers `values.a` at 3 and `values.b` at 5,
 * and closes at 7 with the `#` error value (a {@link ScriptedClose}).
 */
export function scriptedSockets(
  scheduler: TestScheduler,
  cold: (marbles: string, values?: Record<string, unknown>, error?: unknown) => Observable<unknown>,
  scripts: ReadonlyArray<{ readonly marbles: string; readonly values?: Record<string, unknown>; readonly close?: ScriptedClose }>,
): ScriptedSockets {
  const sent: ScriptedSockets['sent'] = [];
  const created: number[] = [];
  const closed: ScriptedSockets['closed'] = [];
  const factory = (): WebSocketLike => {
    const index = created.length;
    const script = scripts[index];
    if (!script) throw new Error(`scriptedSockets: no script for connection ${index}`);
    created.push(scheduler.now());
    const socket: WebSocketLike = {
      readyState: 0,
      protocol: '',
      binaryType: 'blob',
      onopen: null,
      onmessage: null,
      onerror: null,
      onclose: null,
      send: (data) => sent.push({ frame: scheduler.now(), connection: index, data: JSON.parse(String(data)) }),
      close: (code?: number) => {
        closed.push({ frame: scheduler.now(), connection: index, code });
        events.unsubscribe();
        (socket as { readyState: number }).readyState = 3;
      },
    };
    const events = cold(script.marbles, { o: 'open', ...script.values }, script.close ?? { code: 1006 }).subscribe({
      next: (value) => {
        if (value === 'open') {
          (socket as { readyState: number }).readyState = 1;
          socket.onopen?.({});
        } else socket.onmessage?.({ data: JSON.stringify(value) });
      },
      error: (close: ScriptedClose) => {
        (socket as { readyState: number }).readyState = 3;
        socket.onclose?.({ code: close.code, reason: close.reason ?? '', wasClean: close.code !== 1006 });
      },
    });
    return socket;
  };
  return { factory, sent, created, closed };
}
