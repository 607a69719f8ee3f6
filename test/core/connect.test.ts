import { Observable, Subject, concatMap, config as rxjsConfig, of } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  ConnectionClosedError,
  DecodeError,
  type ConnectionCloseInfo,
  type WebSocketLike,
  connect,
  isConnectionClosedError,
  isDecodeError,
  isHandshakeRejectedError,
  isHeartbeatTimeoutError,
  isOpenTimeoutError,
  isRetryableError,
} from '../../src/index.js';
import { useDisposer } from '../helpers/dispose.js';
import { collectGarbage, reachable } from '../helpers/gc.js';
import { observe } from '../helpers/observe.js';
import { startDeafServer, startRejectingServer, startServer, startSilentServer } from '../helpers/server.js';
import { clientFrames, closeFrameOf } from '../helpers/wsFrames.js';

const defer = useDisposer();

async function server(options?: Parameters<typeof startServer>[0]) {
  const s = await startServer(options);
  defer(() => s.close());
  return s;
}

/** A promise for the next `open`, and the `onOpen` hook that resolves it. */
function openSignal(): { opened: Promise<void>; onOpen: () => void } {
  let onOpen = (): void => {};
  const opened = new Promise<void>((resolve) => {
    onOpen = resolve;
  });
  return { opened, onOpen };
}

/** Subscribes and unsubscribes after the test. */
function watch<T>(source: Parameters<typeof observe<T>>[0]) {
  const o = observe(source);
  defer(() => o.subscription.unsubscribe());
  return o;
}

describe('connect', () => {
  describe('cold and lazy', () => {
    it('should create no socket until subscribe, and one socket per subscription', async () => {
      const s = await server();
      const created: string[] = [];
      const messages$ = connect({
        url: s.url,
        socketFactory: (url, protocols) => {
          created.push(url);
          return new WebSocket(url, protocols);
        },
      });
      expect(created).toEqual([]);
      watch(messages$);
      watch(messages$);
      expect(created).toEqual([`${s.url}/`, `${s.url}/`]);
      await s.connections.next();
      await s.connections.next();
      expect(s.accepted()).toBe(2);
    });

    it('should emit decoded JSON messages in order', async () => {
      const s = await server();
      const o = watch(connect<{ seq: number }>({ url: s.url, WebSocketCtor: WebSocket }));
      const conn = await s.connections.next();
      for (let seq = 1; seq <= 5; seq++) conn.sendJson({ seq });
      const seen = [];
      for (let i = 0; i < 5; i++) seen.push((await o.values.next()).seq);
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    });

    it('should close the socket with 1000 when the subscriber unsubscribes', async () => {
      const s = await server();
      const closes: ConnectionCloseInfo[] = [];
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, onClose: (i) => closes.push(i) }));
      const conn = await s.connections.next();
      conn.sendJson('hello');
      await o.values.next();
      o.subscription.unsubscribe();
      expect(await conn.closed).toEqual({ code: 1000, reason: '' });
      expect(closes).toEqual([{ code: 1000, reason: '', wasOpen: true, error: undefined }]);
      expect(o.stopped()).toBe(false);
    });

    it('should send closeOnUnsubscribe, evaluated at teardown, so a replaced socket avoids 1000', async () => {
      const s = await server();
      let replacing = false;
      const { opened, onOpen } = openSignal();
      const o = observe(
        connect({
          url: s.url,
          WebSocketCtor: WebSocket,
          onOpen,
          closeOnUnsubscribe: () => (replacing ? { code: 4000, reason: 'reconnect' } : { code: 1000 }),
        }),
      );
      const conn = await s.connections.next();
      await opened;
      replacing = true;
      o.subscription.unsubscribe();
      expect(await conn.closed).toEqual({ code: 4000, reason: 'reconnect' });
    });

    it('should abort the handshake when unsubscribed while connecting', async () => {
      const silent = await startSilentServer();
      defer(() => silent.close());
      const closes: ConnectionCloseInfo[] = [];
      const o = observe(connect({ url: silent.url, WebSocketCtor: WebSocket, onClose: (i) => closes.push(i) }));
      const tcp = await silent.connections.next();
      await tcp.firstData;
      o.subscription.unsubscribe();
      await tcp.closed; // would hang (and time out) if the socket were left half-open
      expect(tcp.received().toString()).toContain('Upgrade: websocket');
      expect(closes).toEqual([{ code: 1006, reason: '', wasOpen: false, error: undefined }]);
    });

    it('should keep only message, error and close listeners on an open ws socket, and none of its own after it ends', async () => {
      const s = await server();
      const sockets: WebSocket[] = [];
      const { opened, onOpen } = openSignal();
      const o = observe(
        connect({
          url: s.url,
          onOpen,
          socketFactory: (url, protocols) => {
            const ws = new WebSocket(url, protocols);
            sockets.push(ws);
            return ws;
          },
        }),
      );
      const conn = await s.connections.next();
      await opened;
      const ws = sockets[0]!;
      // The handshake's listeners ('open', 'upgrade', 'unexpected-response') are gone: an idle
      // connection keeps as few as raw ws use.
      expect(ws.eventNames().sort()).toEqual(['close', 'error', 'message']);
      expect(ws.eventNames().map((name) => ws.listenerCount(name))).toEqual([1, 1, 1]);
      conn.sendJson({ n: 1 });
      expect(await o.values.next()).toEqual({ n: 1 });
      o.subscription.unsubscribe();
      expect(await conn.closed).toEqual({ code: 1000, reason: '' });
      // Left: the error guard ws needs and the close-handshake watcher of the teardown.
      expect(ws.listenerCount('message')).toBe(0);
      expect(ws.listeners('close').length).toBeLessThanOrEqual(1);
    });

    it("should report ws's own wasClean: false for a close frame followed by a TCP reset, true when followed by FIN", async () => {
      const results: Array<{ ws: [number, boolean]; rx: [number, boolean] }> = [];
      for (const ending of ['reset', 'fin'] as const) {
        const raw = await startDeafServer();
        defer(() => raw.close());
        let wsEvent: [number, boolean] | undefined;
        const o = observe(
          connect({
            url: raw.url,
            socketFactory: (url, protocols) => {
              const ws = new WebSocket(url, protocols);
              ws.addEventListener('close', (e) => (wsEvent = [e.code, e.wasClean]));
              return ws;
            },
          }),
        );
        const tcp = await raw.connections.next();
        const frame = Buffer.from([0x88, 2, 4001 >> 8, 4001 & 0xff]); // close 4001, unmasked
        if (ending === 'reset') tcp.socket.write(frame, () => tcp.socket.resetAndDestroy());
        else tcp.socket.end(frame);
        const error = (await o.error) as ConnectionClosedError;
        results.push({ ws: wsEvent!, rx: [error.code, error.wasClean] });
      }
      // ws could not answer the frame before the reset: not a clean close (its CloseEvent).
      expect(results).toEqual([
        { ws: [4001, false], rx: [4001, false] },
        { ws: [4001, true], rx: [4001, true] },
      ]);
    });

    it('should open and relay through a socketFactory wrapper that forwards on/removeListener to a ws inside', async () => {
      const s = await server();
      // Passes for a ws (it has on, terminate, ping, pause…), but ws calls the listeners with
      // the inner socket as `this`: connect must not rely on `this` then.
      const wrap = (inner: WebSocket): WebSocketLike =>
        ({
          get readyState() {
            return inner.readyState;
          },
          get protocol() {
            return inner.protocol;
          },
          get binaryType() {
            return inner.binaryType;
          },
          set binaryType(value: string) {
            inner.binaryType = value as WebSocket['binaryType'];
          },
          set onopen(handler: never) {
            inner.onopen = handler;
          },
          set onmessage(handler: never) {
            inner.onmessage = handler;
          },
          set onerror(handler: never) {
            inner.onerror = handler;
          },
          set onclose(handler: never) {
            inner.onclose = handler;
          },
          send: (data: string, options?: never, cb?: never) => inner.send(data, options ?? {}, cb),
          close: (code?: number, reason?: string) => inner.close(code, reason),
          on: (event: string, listener: never) => inner.on(event, listener),
          removeListener: (event: string, listener: never) => inner.removeListener(event, listener),
          terminate: () => inner.terminate(),
          ping: () => inner.ping(),
          pause: () => inner.pause(),
          resume: () => inner.resume(),
        }) as unknown as WebSocketLike;
      const inners: WebSocket[] = [];
      const o = observe(
        connect({
          url: s.url,
          socketFactory: (url, protocols) => {
            const inner = new WebSocket(url, protocols);
            inners.push(inner);
            return wrap(inner);
          },
        }),
      );
      const conn = await s.connections.next();
      conn.sendJson({ n: 1 });
      expect(await o.values.next()).toEqual({ n: 1 });
      o.subscription.unsubscribe();
      expect(await conn.closed).toEqual({ code: 1000, reason: '' });
      expect(inners[0]!.listenerCount('message')).toBe(0);
    });

    it('should terminate the socket when the peer never answers the close frame', async () => {
      const deaf = await startDeafServer();
      defer(() => deaf.close());
      const { opened, onOpen } = openSignal();
      const o = observe(connect({ url: deaf.url, WebSocketCtor: WebSocket, closeTimeout: 50, onOpen }));
      const tcp = await deaf.connections.next();
      await opened;
      o.subscription.unsubscribe();
      await tcp.closed; // ws alone would wait 30 s for the close handshake
      // The close frame was sent first, with code 1000.
      expect(closeFrameOf(clientFrames(tcp.received()))).toEqual({ code: 1000, reason: '' });
    });
  });

  describe('closing a replaced socket', () => {
    it('should send the close frame and terminate at once with terminate: true, without waiting for the peer', async () => {
      const deaf = await startDeafServer();
      defer(() => deaf.close());
      const { opened, onOpen } = openSignal();
      const o = observe(
        connect({
          url: deaf.url,
          WebSocketCtor: WebSocket,
          closeTimeout: 60_000, // waiting for the handshake would time this test out
          onOpen,
          closeOnUnsubscribe: { code: 4000, reason: 'reconnect', terminate: true },
        }),
      );
      const tcp = await deaf.connections.next();
      await opened;
      o.subscription.unsubscribe();
      await tcp.closed;
      // The frame went out first.
      expect(closeFrameOf(clientFrames(tcp.received()))).toEqual({ code: 4000, reason: 'reconnect' });
    });
  });

  describe('sending', () => {
    it('should send handshake values first, in order, then outgoing values', async () => {
      const s = await server();
      const outgoing = new Subject<{ n: number }>();
      const { opened, onOpen: open } = openSignal();
      const handshake = vi.fn(() => [{ op: 'auth' }, { op: 'resume', seq: 7 }]);
      const o = watch(
        connect<unknown, object>({
          url: s.url,
          WebSocketCtor: WebSocket,
          handshake,
          outgoing: outgoing.pipe(),
          onOpen: () => {
            outgoing.next({ n: 0 }); // before outgoing is subscribed: not seen
            open();
          },
        }),
      );
      const conn = await s.connections.next();
      await opened;
      outgoing.next({ n: 1 });
      outgoing.next({ n: 2 });
      const got = [];
      for (let i = 0; i < 4; i++) got.push(JSON.parse(String(await conn.messages.next())));
      expect(got).toEqual([{ op: 'auth' }, { op: 'resume', seq: 7 }, { n: 1 }, { n: 2 }]);
      expect(handshake).toHaveBeenCalledTimes(1);
      expect(handshake).toHaveBeenCalledWith({ protocol: '' });
      expect(o.stopped()).toBe(false);
    });

    it('should use serialize and deserialize', async () => {
      const s = await server();
      const o = watch(
        connect<string, string>({
          url: s.url,
          WebSocketCtor: WebSocket,
          serialize: (v) => `out:${v}`,
          deserialize: (d) => `in:${String(d)}`,
          outgoing: of('x'),
        }),
      );
      const conn = await s.connections.next();
      expect(await conn.messages.next()).toBe('out:x');
      conn.socket.send('y');
      expect(await o.values.next()).toBe('in:y');
    });

    it('should end the connection with the error when a value cannot be serialized', async () => {
      const s = await server();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing: of<unknown>(10n) }));
      const conn = await s.connections.next();
      const error = await o.error;
      expect(error).toBeInstanceOf(TypeError);
      expect(isRetryableError(error)).toBe(false);
      expect((await conn.closed).code).toBe(1006); // terminated, no close handshake
    });

    it('should end the connection with the error of outgoing', async () => {
      const s = await server();
      const boom = new Error('outgoing failed');
      const outgoing = new Subject<string>();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing }));
      await s.connections.next();
      await vi.waitFor(() => expect(outgoing.observed).toBe(true));
      outgoing.error(boom);
      expect(await o.error).toBe(boom);
    });
  });

  describe('sending: teardown', () => {
    it('should unsubscribe outgoing even when it ends the connection while being subscribed', async () => {
      const s = await server();
      let torndown = false;
      const outgoing = new Observable<unknown>((subscriber) => {
        subscriber.next(10n); // cannot be serialized: ends the connection inside subscribe()
        return () => {
          torndown = true;
        };
      });
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing }));
      await s.connections.next();
      expect(await o.error).toBeInstanceOf(TypeError);
      expect(torndown).toBe(true);
    });

    it('should unsubscribe paused even when it ends the connection while being subscribed', async () => {
      const s = await server();
      let torndown = false;
      const paused = new Observable<boolean>((subscriber) => {
        subscriber.next(true); // pause() throws: ends the connection inside subscribe()
        return () => {
          torndown = true;
        };
      });
      const outgoing = new Subject<unknown>();
      const socketFactory = (url: string, protocols: string[] | undefined) => {
        const ws = new WebSocket(url, protocols);
        ws.pause = () => {
          throw new Error('cannot pause');
        };
        return ws;
      };
      const o = observe(connect({ url: s.url, socketFactory, paused, outgoing }));
      await s.connections.next();
      expect(((await o.error) as Error).message).toBe('cannot pause');
      expect(torndown).toBe(true);
      expect(outgoing.observed).toBe(false); // never subscribed once the connection ended
    });

    it('should not call handshake when the subscriber unsubscribes inside onOpen', async () => {
      const s = await server();
      const handshake = vi.fn(() => [{ op: 'auth' }]);
      const closes: ConnectionCloseInfo[] = [];
      const o = observe(
        connect({
          url: s.url,
          WebSocketCtor: WebSocket,
          handshake,
          onOpen: () => o.subscription.unsubscribe(),
          onClose: (i) => closes.push(i),
        }),
      );
      const conn = await s.connections.next();
      expect(await conn.closed).toEqual({ code: 1000, reason: '' });
      expect(handshake).not.toHaveBeenCalled();
      expect(closes).toEqual([{ code: 1000, reason: '', wasOpen: true, error: undefined }]);
    });
  });

  describe('closing', () => {
    it.each([
      [1000, ''],
      [1001, 'going away'],
      [4001, 'custom'],
    ])('should turn a server close %i into a ConnectionClosedError', async (code, reason) => {
      const s = await server();
      const closes: ConnectionCloseInfo[] = [];
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, onClose: (i) => closes.push(i) }));
      const conn = await s.connections.next();
      conn.socket.close(code, reason);
      const error = await o.error;
      expect(isConnectionClosedError(error)).toBe(true);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code, reason, wasClean: true });
      expect(closes).toEqual([{ code, reason, wasOpen: true, error }]);
    });

    it('should deliver the error and report, not throw, an exception from onClose', async () => {
      const s = await server();
      const reported: unknown[] = [];
      const previous = rxjsConfig.onUnhandledError;
      rxjsConfig.onUnhandledError = (e) => reported.push(e);
      defer(() => {
        rxjsConfig.onUnhandledError = previous;
      });
      const hookBug = new Error('hook bug');
      const o = observe(
        connect({
          url: s.url,
          WebSocketCtor: WebSocket,
          onClose: () => {
            throw hookBug;
          },
        }),
      );
      const conn = await s.connections.next();
      conn.socket.close(4001);
      expect(await o.error).toMatchObject({ code: 4001 });
      expect(reported).toEqual([hookBug]);
    });

    it('should report the peer close code when the peer never ends TCP after its close frame', async () => {
      const deaf = await startDeafServer();
      defer(() => deaf.close());
      const { opened, onOpen } = openSignal();
      const o = observe(
        connect({ url: deaf.url, WebSocketCtor: WebSocket, onOpen, closeTimeout: 30, ping: { interval: 20, timeout: 20 } }),
      );
      const tcp = await deaf.connections.next();
      await opened;
      // An unmasked close frame with code 4001, then silence: TCP stays open.
      tcp.socket.write(Buffer.from([0x88, 0x02, 0x0f, 0xa1]));
      const error = await o.error;
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 4001 }); // not a HeartbeatTimeoutError
      await tcp.closed;
    });

    it('should report an inbound message over maxPayload as a terminal 1009', async () => {
      const s = await server();
      const o = observe(
        connect({ url: s.url, socketFactory: (url, protocols) => new WebSocket(url, protocols, { maxPayload: 64 }) }),
      );
      const conn = await s.connections.next();
      conn.sendJson('x'.repeat(100));
      const error = await o.error;
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1009 });
      expect(isRetryableError(error)).toBe(false); // no replay loop on the same poison message
    });

    it('should report a TCP reset as 1006, not clean', async () => {
      const s = await server();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket }));
      const conn = await s.connections.next();
      conn.sendJson(1);
      await o.values.next();
      (conn.socket as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
      const error = await o.error;
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1006, wasClean: false });
      expect(isRetryableError(error)).toBe(true);
    });

    it('should report a refused connection as a retryable 1006 with the cause', async () => {
      const s = await server();
      const url = s.url;
      await s.close();
      const error = await observe(connect({ url, WebSocketCtor: WebSocket })).error;
      expect(error).toMatchObject({ code: 1006, wasClean: false });
      expect((error as ConnectionClosedError).cause).toMatchObject({ code: 'ECONNREFUSED' });
      expect(isRetryableError(error)).toBe(true);
    });

    it('should report a DNS failure (injected lookup) as retryable', async () => {
      const lookup = (_host: string, _opts: unknown, cb: (e: Error) => void) =>
        cb(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }));
      const error = await observe(
        connect({
          url: 'ws://nowhere.invalid/',
          socketFactory: (url, protocols) => new WebSocket(url, protocols, { lookup: lookup as never }),
        }),
      ).error;
      expect((error as ConnectionClosedError).cause).toMatchObject({ code: 'ENOTFOUND' });
      expect(isRetryableError(error)).toBe(true);
    });

    it('should end the attempt when the socket fires error and never close', async () => {
      class ErrorOnlySocket implements WebSocketLike {
        static created: ErrorOnlySocket[] = [];
        readyState = 0;
        protocol = '';
        binaryType = 'blob';
        onopen: WebSocketLike['onopen'] = null;
        onmessage: WebSocketLike['onmessage'] = null;
        onerror: WebSocketLike['onerror'] = null;
        onclose: WebSocketLike['onclose'] = null;
        closeCalls = 0;
        constructor() {
          ErrorOnlySocket.created.push(this);
          queueMicrotask(() => this.onerror?.({ type: 'error' }));
        }
        send(): void {}
        close(): void {
          this.closeCalls++;
        }
      }
      const closes: ConnectionCloseInfo[] = [];
      const error = await observe(
        connect({ url: 'ws://127.0.0.1:9/', WebSocketCtor: ErrorOnlySocket, closeTimeout: 20, onClose: (i) => closes.push(i) }),
      ).error;
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1006, cause: { type: 'error' } });
      const [socket] = ErrorOnlySocket.created;
      expect(socket?.closeCalls).toBe(1); // aborted, not left connecting
      expect(socket?.onerror).not.toBeNull(); // a no-op stays, so a late 'error' cannot crash ws
      expect(socket?.onclose).toBeNull();
      expect(closes).toHaveLength(1);
    });
  });

  describe('handshake rejection and timeouts', () => {
    it('should abort with OpenTimeoutError when the upgrade is never answered', async () => {
      const silent = await startSilentServer();
      defer(() => silent.close());
      const o = observe(connect({ url: silent.url, WebSocketCtor: WebSocket, openTimeout: 50 }));
      const tcp = await silent.connections.next();
      const error = await o.error;
      expect(isOpenTimeoutError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'OpenTimeoutError', timeout: 50 });
      expect(isRetryableError(error)).toBe(true);
      await tcp.closed; // no half-open socket left behind
    });

    it('should count the open timeout from subscription, covering a hung async url', async () => {
      const o = observe(connect({ url: () => new Promise<string>(() => {}), WebSocketCtor: WebSocket, openTimeout: 20 }));
      expect(isOpenTimeoutError(await o.error)).toBe(true);
    });

    it('should turn HTTP 401 into a terminal HandshakeRejectedError', async () => {
      const rejecting = await startRejectingServer(401);
      defer(() => rejecting.close());
      const error = await observe(connect({ url: rejecting.url, WebSocketCtor: WebSocket })).error;
      expect(isHandshakeRejectedError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'HandshakeRejectedError', status: 401, retryAfter: undefined });
      expect(isRetryableError(error)).toBe(false);
    });

    it('should turn HTTP 503 + Retry-After (seconds) into a retryable error carrying the hint', async () => {
      const rejecting = await startRejectingServer(503, { 'Retry-After': '7' });
      defer(() => rejecting.close());
      const error = await observe(connect({ url: rejecting.url, WebSocketCtor: WebSocket })).error;
      expect(error).toMatchObject({ status: 503, retryAfter: 7000 });
      expect(isRetryableError(error)).toBe(true);
    });

    it('should read a Retry-After HTTP date as ms from now', async () => {
      const date = new Date(Date.now() + 60_000).toUTCString();
      const rejecting = await startRejectingServer(429, { 'Retry-After': date });
      defer(() => rejecting.close());
      const error = (await observe(connect({ url: rejecting.url, WebSocketCtor: WebSocket })).error) as {
        status: number;
        retryAfter: number;
      };
      expect(error.status).toBe(429);
      expect(error.retryAfter).toBeGreaterThan(55_000);
      expect(error.retryAfter).toBeLessThanOrEqual(60_000);
    });

    it('should end with HeartbeatTimeoutError when pongs stop (frozen peer)', async () => {
      const s = await server({ autoPong: false });
      const pings: number[] = [];
      s.wss.on('connection', (socket) => socket.on('ping', () => pings.push(Date.now())));
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, ping: { interval: 20, timeout: 30 } }));
      const conn = await s.connections.next();
      const error = await o.error;
      expect(isHeartbeatTimeoutError(error)).toBe(true);
      expect((error as { silentFor: number }).silentFor).toBeGreaterThanOrEqual(50);
      expect(pings.length).toBeGreaterThanOrEqual(1);
      expect((await conn.closed).code).toBe(1006); // terminated, no close handshake
    });

    it('should stay connected while pongs arrive', async () => {
      const s = await server();
      let pings = 0;
      const fifthPing = new Promise<void>((resolve) =>
        s.wss.on('connection', (socket) => socket.on('ping', () => ++pings === 5 && resolve())),
      );
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket, ping: { interval: 10, timeout: 15 } }));
      await fifthPing;
      expect(o.stopped()).toBe(false);
    });

    it('should count any frame as liveness and not ping a chatty peer', async () => {
      const s = await server({ autoPong: false });
      let pings = 0;
      s.wss.on('connection', (socket) => socket.on('ping', () => pings++));
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket, ping: { interval: 40, timeout: 40 } }));
      const conn = await s.connections.next();
      for (let i = 0; i < 10; i++) {
        conn.sendJson(i);
        await o.values.next(); // one message per round trip: far below the 40 ms interval
      }
      expect(pings).toBe(0);
      expect(o.stopped()).toBe(false);
    });
  });

  describe('liveness', () => {
    it("should count the server's pings as liveness", async () => {
      const s = await server();
      let clientPings = 0;
      // The server pings every 5 ms, 20 times: at least 100 ms, over three client intervals.
      const serverDone = new Promise<void>((resolve) =>
        s.wss.on('connection', (socket) => {
          socket.on('ping', () => clientPings++);
          let sent = 0;
          const timer = setInterval(() => {
            socket.ping();
            if (++sent === 20) {
              clearInterval(timer);
              resolve();
            }
          }, 5);
        }),
      );
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket, ping: { interval: 30, timeout: 30 } }));
      await serverDone;
      expect(clientPings).toBe(0);
      expect(o.stopped()).toBe(false);
    });
  });

  describe('frames', () => {
    it('should report a malformed frame and keep the stream alive by default', async () => {
      const s = await server();
      const reported: DecodeError[] = [];
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket, onDecodeError: (e) => reported.push(e) }));
      const conn = await s.connections.next();
      conn.socket.send('{"seq":1,');
      conn.sendJson({ seq: 2 });
      expect(await o.values.next()).toEqual({ seq: 2 });
      expect(reported).toHaveLength(1);
      expect(isDecodeError(reported[0])).toBe(true);
      expect(reported[0]?.data).toBe('{"seq":1,');
      expect(reported[0]?.cause).toBeInstanceOf(SyntaxError);
    });

    it('should log a malformed frame with console.error when no handler is given', async () => {
      const s = await server();
      const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
      defer(() => spy.mockRestore());
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket }));
      const conn = await s.connections.next();
      conn.socket.send('not json');
      conn.sendJson('after');
      expect(await o.values.next()).toBe('after');
      expect(spy).toHaveBeenCalledTimes(1);
      expect(isDecodeError(spy.mock.calls[0]?.[0])).toBe(true);
    });

    it("should end the stream with DecodeError when onDecodeError is 'error'", async () => {
      const s = await server();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, onDecodeError: 'error' }));
      const conn = await s.connections.next();
      conn.socket.send('nope');
      const error = await o.error;
      expect(error).toMatchObject({ name: 'DecodeError', data: 'nope' });
      expect(isRetryableError(error)).toBe(false);
    });

    it('should deliver binary frames as an ArrayBuffer', async () => {
      const s = await server();
      const o = watch(connect({ url: s.url, WebSocketCtor: WebSocket }));
      const conn = await s.connections.next();
      conn.socket.send(Buffer.from([1, 2, 3]), { binary: true });
      const value = await o.values.next();
      expect(value).toBeInstanceOf(ArrayBuffer);
      expect([...new Uint8Array(value as ArrayBuffer)]).toEqual([1, 2, 3]);
    });

    it('should fail the connection with a retryable 1006, as browsers do, when a text frame is not valid UTF-8', async () => {
      const s = await server();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket }));
      const conn = await s.connections.next();
      // A raw text frame with an invalid UTF-8 byte (0xff), written past ws's own encoder.
      (conn.socket as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x81, 0x01, 0xff]));
      const error = await o.error;
      // Browsers report a failed connection as 1006; Node does the same, with ws's error as cause.
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 1006, cause: { code: 'WS_ERR_INVALID_UTF8' } });
      expect(isRetryableError(error)).toBe(true);
    });
  });

  describe('url and protocols', () => {
    it('should call a url function once per subscription', async () => {
      const s = await server();
      let n = 0;
      const messages$ = connect({ url: () => `${s.url}/?token=t${++n}`, WebSocketCtor: WebSocket });
      watch(messages$);
      expect((await s.connections.next()).request.url).toBe('/?token=t1');
      watch(messages$);
      expect((await s.connections.next()).request.url).toBe('/?token=t2');
      expect(n).toBe(2);
    });

    it('should accept async url and protocols', async () => {
      const s = await server({ handleProtocols: (set) => (set.has('v2') ? 'v2' : false) });
      const opened: string[] = [];
      watch(
        connect({
          url: async () => `${s.url}/async`,
          protocols: async () => ['v1', 'v2'],
          WebSocketCtor: WebSocket,
          onOpen: (i) => opened.push(i.protocol),
        }),
      );
      const conn = await s.connections.next();
      expect(conn.request.url).toBe('/async');
      conn.sendJson('x');
      await vi.waitFor(() => expect(opened).toEqual(['v2']));
    });

    it('should emit a terminal TypeError without the secret when a url function returns an invalid URL', async () => {
      const error = await observe(connect({ url: () => 'ftp://user:s3cret@host/?token=s3cret', WebSocketCtor: WebSocket }))
        .error;
      expect(error).toBeInstanceOf(TypeError);
      expect(String((error as Error).message)).not.toContain('s3cret');
      expect(isRetryableError(error)).toBe(false);
    });

    it('should emit the rejection of an async url', async () => {
      const boom = new Error('token endpoint down');
      expect(await observe(connect({ url: () => Promise.reject(boom), WebSocketCtor: WebSocket })).error).toBe(boom);
    });

    it('should explain how to pass ws when there is no global WebSocket', async () => {
      expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined(); // Node 20
      const error = await observe(connect('ws://127.0.0.1:9/')).error;
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain("WebSocketCtor: WebSocket");
    });
  });

  describe('invalid options', () => {
    const base = { url: 'ws://127.0.0.1:9/', WebSocketCtor: WebSocket };
    it.each([
      ['not a url', { url: 'not a url' }, TypeError, 'url'],
      ['ftp scheme', { url: 'ftp://host/' }, TypeError, 'url must use ws:'],
      ['fragment', { url: 'ws://host/path#frag' }, TypeError, 'fragment'],
      ['empty fragment', { url: 'ws://host/path#' }, TypeError, 'fragment'],
      ['url number', { url: 42 }, TypeError, 'url'],
      ['openTimeout negative', { openTimeout: -1 }, RangeError, 'openTimeout'],
      ['openTimeout NaN', { openTimeout: Number.NaN }, RangeError, 'openTimeout'],
      ['openTimeout Infinity', { openTimeout: Number.POSITIVE_INFINITY }, RangeError, 'openTimeout'],
      ['openTimeout > 2^31-1', { openTimeout: 2 ** 31 }, RangeError, 'openTimeout'],
      ['openTimeout string', { openTimeout: '100' }, TypeError, 'openTimeout'],
      ['closeTimeout 0', { closeTimeout: 0 }, RangeError, 'closeTimeout'],
      ['ping.interval NaN', { ping: { interval: Number.NaN, timeout: 10 } }, RangeError, 'ping.interval'],
      ['ping.timeout Infinity', { ping: { interval: 10, timeout: Number.POSITIVE_INFINITY } }, RangeError, 'ping.timeout'],
      ['ping null', { ping: null }, TypeError, 'ping'],
      ['protocols', { protocols: [1] }, TypeError, 'protocols'],
      ['WebSocketCtor', { WebSocketCtor: 'ws' }, TypeError, 'WebSocketCtor'],
      ['deserialize', { deserialize: 1 }, TypeError, 'deserialize'],
      ['onDecodeError', { onDecodeError: 'skip' }, TypeError, 'onDecodeError'],
      ['outgoing', { outgoing: [1] }, TypeError, 'outgoing'],
      ['scheduler', { scheduler: {} }, TypeError, 'scheduler'],
      ['closeOnUnsubscribe null', { closeOnUnsubscribe: null }, TypeError, 'closeOnUnsubscribe'],
      ['closeOnUnsubscribe 1001', { closeOnUnsubscribe: { code: 1001 } }, RangeError, 'close code'],
      ['closeOnUnsubscribe reason', { closeOnUnsubscribe: { code: 4000, reason: 'x'.repeat(124) } }, RangeError, 'reason'],
    ])('should throw at creation for %s', (_name, patch, ErrorType, mention) => {
      expect(() => connect({ ...base, ...(patch as object) } as never)).toThrow(ErrorType);
      expect(() => connect({ ...base, ...(patch as object) } as never)).toThrow(mention);
    });

    it('should not echo a token from an invalid static url', () => {
      expect(() => connect({ url: 'gopher://x/?token=s3cret' })).toThrow(/^(?!.*s3cret)/);
    });

    it('should accept http(s) URLs as ws(s)', async () => {
      const s = await server();
      watch(connect({ url: s.url.replace('ws:', 'http:'), WebSocketCtor: WebSocket }));
      expect((await s.connections.next()).request.url).toBe('/');
    });

    it('should abort the socket and throw when closeOnUnsubscribe returns an invalid close', async () => {
      const s = await server();
      const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, closeOnUnsubscribe: () => ({ code: 1001 }) }));
      const conn = await s.connections.next();
      await vi.waitFor(() => expect(conn.socket.readyState).toBe(WebSocket.OPEN));
      expect(() => o.subscription.unsubscribe()).toThrow(/close code/);
      expect((await conn.closed).code).toBe(1006);
    });
  });
});

describe('connect: a long-lived outgoing stream', () => {
  it('does not keep every finished inner subscription of a concatMap for the life of the connection', async () => {
    const s = await startServer();
    defer(() => s.close());
    const refs: WeakRef<object>[] = [];
    const commands = new Subject<number>();
    // A common shape: each command is turned into what is sent by an inner observable.
    const outgoing = commands.pipe(
      concatMap(
        (n) =>
          new Observable<{ n: number }>((subscriber) => {
            refs.push(new WeakRef(subscriber));
            subscriber.next({ n });
            subscriber.complete();
          }),
      ),
    );
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const o = observe(connect({ url: s.url, WebSocketCtor: WebSocket, outgoing, onOpen: () => opened() }));
    defer(() => o.subscription.unsubscribe());
    const conn = await s.connections.next();
    await open;
    const count = 200;
    for (let n = 1; n <= count; n++) commands.next(n);
    for (let n = 1; n <= count; n++) expect(await conn.messages.next()).toBe(JSON.stringify({ n }));
    await collectGarbage();
    // The connection is still open: only what it needs may stay reachable.
    expect(reachable(refs)).toBe(0);
  });
});
