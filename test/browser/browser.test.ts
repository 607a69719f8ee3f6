// rxtether in a real browser (issue 8, "Real browser suite"): Debian's Chromium, the
// browser's native WebSocket, rxtether bundled from src/ by esbuild. The page asserts what only
// it can see and reports plain results (test/browser/page/); this file asserts on them and on
// what the servers on 127.0.0.1 saw. One browser per file, a fresh context per test.
import { describe, expect, it } from 'vitest';
import { useDisposer } from '../helpers/dispose.js';
import { framesOf } from '../helpers/protocolClient.js';
import { type ProtocolServerOptions, startProtocolServer } from '../helpers/protocolServer.js';
import { type ServerConnection, startRejectingServer, startServer, startSilentServer } from '../helpers/server.js';
import { startCommandServer } from './commandServer.js';
import { useBrowser } from './harness.js';
import type { CloseCase, ClientOptions, StatusSnapshot } from './page/api.js';

// Registered first, so that its afterEach runs last: each test's page closes before its servers.
const defer = useDisposer();
const browser = useBrowser();

async function commandServer() {
  const server = await startCommandServer();
  defer(() => server.close());
  return server;
}

async function protocolServer(options: ProtocolServerOptions = {}) {
  const server = await startProtocolServer(options);
  defer(() => server.close());
  return server;
}

/** The page's createSocket for the protocol server: hello/ready sessions, per-channel resume, acks. */
function client(url: string, options: Partial<ClientOptions> & Pick<ClientOptions, 'subscribers'>): ClientOptions {
  return { url, backoff: { initialDelay: 5, maxDelay: 50 }, ...options };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const states = (statuses: readonly StatusSnapshot[]) => statuses.map((st) => st.state);

describe('connect() on the native WebSocket', () => {
  it('should open, send the handshake and outgoing values, close with 1000 on unsubscribe, and type every other ending', async () => {
    const command = await commandServer();
    const silent = await startSilentServer();
    defer(() => silent.close());
    const unauthorized = await startRejectingServer(401);
    defer(() => unauthorized.close());
    const gone = await startServer();
    const refused = gone.url;
    await gone.close(); // nothing listens there any more

    const result = await browser.call('connectBasics', { command: command.url, refused, silent: silent.url, unauthorized: unauthorized.url });

    expect(result.nativeWebSocket).toBe(true);
    expect(result.echoed).toEqual(['handshake', 'outgoing']);
    const serverSaw: Array<{ code: number; reason: string }> = [];
    for (let i = 0; i < 5; i++) serverSaw.push(await (await command.connections.next()).closed);
    expect(serverSaw).toEqual([
      { code: 1000, reason: '' }, // unsubscribed
      { code: 4321, reason: 'bye' }, // the server's own close, echoed back
      { code: 1005, reason: '' },
      { code: 1002, reason: 'Invalid UTF-8 in text frame' }, // Chromium's own close for it
      { code: 1006, reason: '' }, // terminated
    ]);

    // Every close the subscriber did not ask for is a typed error, as in Node.
    expect(result.serverClose).toMatchObject({ name: 'ConnectionClosedError', code: 4321, reason: 'bye', wasClean: true, retryable: true });
    expect(result.serverCloseNoStatus).toMatchObject({ name: 'ConnectionClosedError', code: 1005, wasClean: true, retryable: true });
    // A text frame that is not UTF-8: the browser fails the connection and reports 1006, as
    // rxtether reports it for ws in Node (FAULTS.md row 24/25: same handling in both).
    expect(result.invalidUtf8).toMatchObject({ name: 'ConnectionClosedError', code: 1006, wasClean: false, retryable: true });
    // HTTP 401 on upgrade: the browser hides the status, so unlike Node (HandshakeRejectedError,
    // terminal) this is a plain 1006 and is retried. Servers that want browsers to stop must
    // accept the upgrade and close with an application code listed in terminalCodes.
    expect(result.unauthorized).toMatchObject({ name: 'ConnectionClosedError', code: 1006, wasClean: false, retryable: true });
    expect(result.serverTerminate).toMatchObject({ name: 'ConnectionClosedError', code: 1006, wasClean: false, retryable: true });
    // A refused connection: the browser hides the cause, rxtether still says 1006 and retries.
    expect(result.refused).toMatchObject({ name: 'ConnectionClosedError', code: 1006, wasClean: false, retryable: true, causeType: 'Event' });
    expect(result.openTimeout).toMatchObject({ name: 'OpenTimeoutError', timeout: 300, retryable: true });
    expect(result.badUrl).toMatchObject({ name: 'TypeError', retryable: false });
    expect(result.badUrl.message).not.toContain('example.com'); // URLs may carry tokens: never echoed

    // The hanging handshake was aborted: the browser dropped its TCP connection.
    const hung = await silent.connections.next();
    await hung.closed;

    expect(result.opens).toEqual(['', '', '', '', '']); // the five that reached the command server
    expect(result.closes).toEqual([
      { code: 1000, reason: '', wasOpen: true },
      { code: 4321, reason: 'bye', wasOpen: true, error: 'ConnectionClosedError' },
      { code: 1005, reason: '', wasOpen: true, error: 'ConnectionClosedError' },
      { code: 1006, reason: '', wasOpen: true, error: 'ConnectionClosedError' },
      { code: 1006, reason: '', wasOpen: false, error: 'ConnectionClosedError' }, // 401
      { code: 1006, reason: '', wasOpen: true, error: 'ConnectionClosedError' },
      { code: 1006, reason: '', wasOpen: false, error: 'ConnectionClosedError' },
      { code: 1006, reason: '', wasOpen: false, error: 'OpenTimeoutError' },
      { code: 1006, reason: '', wasOpen: false, error: 'TypeError' },
    ]);
  });

  it('should resolve a relative URL against the page and switch http: to ws:', async () => {
    const result = await browser.call('relativeUrl');
    expect(result.echoed).toBe('relative');
    // So in a page, the README's example of an invalid URL, 'not a url', is a relative path:
    // connect() accepts it (in Node it throws a TypeError).
    expect(result.notAUrl).toBe('ok');
  });

  it('should deliver binary frames as ArrayBuffer, send ArrayBuffer and views, and report binary-for-text as a DecodeError', async () => {
    const command = await commandServer();
    const result = await browser.call('binaryFrames', command.url);

    expect(result.fromServer).toEqual({ type: 'ArrayBuffer', bytes: [0, 1, 2, 127, 128, 255] }); // not a Blob
    expect(result.echoedView).toEqual({ type: 'ArrayBuffer', bytes: [9, 8, 7] });
    const big = Buffer.from(Uint8Array.from({ length: 70_000 }, (_, i) => i % 251));
    const sum = [...big].reduce((a, b) => (a * 31 + b) % 1_000_003, 0);
    expect(result.large).toEqual({ type: 'ArrayBuffer', length: 70_000, sum });
    expect(result.decodeError).toEqual({ name: 'DecodeError', dataType: 'ArrayBuffer', bytes: [1, 2, 3] });
    expect(result.afterDecodeError).toBe('still here');

    // What the server received from the page: the view and the buffer as binary frames, intact.
    const conn = await command.connections.next();
    const frames: Array<string | Buffer> = [];
    while (frames.filter(Buffer.isBuffer).length < 2) frames.push(await conn.messages.next());
    const binary = frames.filter(Buffer.isBuffer);
    expect([...binary[0]!]).toEqual([9, 8, 7]);
    expect(binary[1]!.equals(big)).toBe(true);
  });
});

describe('close codes: rxtether validates exactly what the browser accepts', () => {
  const code = (c: number): CloseCase => ({ label: `code ${c}`, code: c, reason: null });
  const reason = (label: string, r: string): CloseCase => ({ label, code: 4000, reason: r });
  const integerCases: CloseCase[] = [
    ...[-1, 0, 999, 1000, 1001, 1002, 1003, 1005, 1006, 1008, 1011, 1012, 1015, 2000, 2999, 3000, 3999, 4000, 4999, 5000, 65535, 66536].map(code),
    reason('reason 123 ASCII bytes', 'x'.repeat(123)),
    reason('reason 124 ASCII bytes', 'x'.repeat(124)),
    reason('reason 61 × é (122 bytes)', 'é'.repeat(61)),
    reason('reason 62 × é (124 bytes)', 'é'.repeat(62)),
    reason('reason 30 × 😀 (120 bytes)', '😀'.repeat(30)),
    reason('reason 31 × 😀 (124 bytes)', '😀'.repeat(31)),
    reason('reason 41 lone surrogates (123 bytes as U+FFFD)', '\uD800'.repeat(41)),
    reason('reason 42 lone surrogates (126 bytes as U+FFFD)', '\uD800'.repeat(42)),
  ];
  const nonIntegerCases: CloseCase[] = [1000.5, 2999.5, 3000.4, 4999.6, Number.NaN, Number.POSITIVE_INFINITY].map(code);

  async function closesByCase(server: { connections: { next(): Promise<ServerConnection> } }, count: number) {
    const byId = new Map<string, { code: number; reason: string }>();
    for (let i = 0; i < count; i++) {
      const conn = await server.connections.next();
      byId.set(conn.request.url!.replace(/^\/\?/, ''), await conn.closed);
    }
    return byId;
  }

  it('should agree with Chromium on every integer code and on reason length in UTF-8 bytes', async () => {
    const server = await commandServer();
    const results = await browser.call('closeCodes', server.url, integerCases);
    const received = await closesByCase(server, integerCases.length);

    const disagreements = results.filter((r) => (r.rxtether === 'ok') !== (r.browser === 'ok'));
    expect(disagreements).toEqual([]);
    for (const r of results) {
      if (r.browser === 'ok') continue;
      expect(r.rxtether, r.label).toBe('RangeError');
      expect(r.browser, r.label).toBe(r.label.startsWith('reason') ? 'SyntaxError' : 'InvalidAccessError');
    }
    // Accepted ones reach the server as given (a lone surrogate as U+FFFD, as USVString says).
    const accepted = results.filter((r) => r.browser === 'ok').map((r) => r.label);
    expect(accepted).toEqual([
      'code 1000',
      'code 3000',
      'code 3999',
      'code 4000',
      'code 4999',
      'reason 123 ASCII bytes',
      'reason 61 × é (122 bytes)',
      'reason 30 × 😀 (120 bytes)',
      'reason 41 lone surrogates (123 bytes as U+FFFD)',
    ]);
    for (const [i, r] of results.entries()) {
      if (r.browser !== 'ok') continue;
      const c = integerCases[i]!;
      const expected = { code: c.code ?? 1005, reason: (c.reason ?? '').replace(LONE_SURROGATE, '\uFFFD') };
      expect(received.get(r.socketId!), r.label).toEqual(expected);
    }
  });

  it('should reject every non-integer code, which Chromium truncates rather than rejects', async () => {
    const server = await commandServer();
    const results = await browser.call('closeCodes', server.url, nonIntegerCases);
    const received = await closesByCase(server, nonIntegerCases.length);

    for (const r of results) expect(r.rxtether, r.label).toBe('RangeError');
    // Chromium converts the code to an integer first (WebIDL [Clamp] unsigned short), then checks it.
    const browserSaid = Object.fromEntries(results.map((r) => [r.label, r.browser]));
    expect(browserSaid).toEqual({
      'code 1000.5': 'ok',
      'code 2999.5': 'InvalidAccessError',
      'code 3000.4': 'ok',
      'code 4999.6': 'ok',
      'code NaN': 'InvalidAccessError',
      'code Infinity': 'InvalidAccessError',
    });
    for (const [i, r] of results.entries()) {
      if (r.browser !== 'ok') continue;
      const sent = nonIntegerCases[i]!.code!;
      const got = received.get(r.socketId!)!.code;
      expect([Math.trunc(sent), Math.round(sent)], r.label).toContain(got); // an integer on the wire
    }
  });

  it("should throw from createSocket's close() and connect()'s options before the browser ever sees a bad code", async () => {
    const server = await commandServer();
    const result = await browser.call('clientClose', server.url);
    expect(result.closeWith1001).toBe('RangeError');
    expect(result.statusAfterInvalidClose).toBe('open'); // the bad call changed nothing
    expect(result.connectWith1005).toBe('RangeError');
    expect(result.finalStatus).toMatchObject({ state: 'closed' });
    expect(result.sendAfterClose).toBe('ClientClosedError');
    const conn = await server.connections.next();
    expect(await conn.closed).toEqual({ code: 4001, reason: 'bye' });
    expect(server.accepted()).toBe(1);
  });
});

describe('createSocket in the browser', () => {
  it('should share one server subscription per channel key, isolate a rejected channel, and unsubscribe after the last local subscriber', async () => {
    const server = await protocolServer({ rejectChannels: ['forbidden'] });
    await browser.call('startClient', client(server.url, { subscribers: ['a', 'a', 'b', 'forbidden'] }));
    const conn = await server.connections.next();
    await framesOf(conn, 'subscribe', 3);
    expect(conn.subscribeCount('a')).toBe(1);
    expect(conn.subscribeCount('b')).toBe(1);

    server.publish('a', 'a1');
    server.publish('b', 'b1');
    expect(await browser.call('waitValues', 0, 1)).toEqual(['a1']);
    expect(await browser.call('waitValues', 1, 1)).toEqual(['a1']);
    expect(await browser.call('waitValues', 2, 1)).toEqual(['b1']);

    await browser.call('unsubscribe', 0); // 'a' still has a subscriber: nothing sent
    await browser.call('unsubscribe', 1);
    await framesOf(conn, 'unsubscribe', 1);
    await browser.call('send', { type: 'publish', id: 'p1', channel: 'out', data: 1 });
    await framesOf(conn, 'publish', 1);
    expect(conn.received.filter((f) => f.type === 'unsubscribe')).toEqual([{ type: 'unsubscribe', channel: 'a' }]);
    expect(conn.subscriptions()).toEqual(new Set(['b']));

    server.publish('a', 'a2'); // nobody listens any more
    server.publish('b', 'b2');
    expect(await browser.call('waitValues', 2, 2)).toEqual(['b1', 'b2']);

    const report = await browser.call('report');
    expect(report.values).toEqual([['a1'], ['a1'], ['b1', 'b2'], []]);
    expect(report.errors).toEqual([null, null, null, expect.objectContaining({ name: 'ChannelRejectedError' })]);
    expect(states(report.statuses)).toEqual(['idle', 'connecting', 'open']);
    expect(server.accepted()).toBe(1);
  });

  it('should survive a server restart: resume the session and every channel, nothing lost or duplicated, then flush the outbox', async () => {
    const server = await protocolServer();
    await browser.call('startClient', client(server.url, { subscribers: ['feed', 'news'] }));
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 2);
    for (let i = 1; i <= 3; i++) server.publish('feed', i);
    server.publish('news', 'n1');
    await browser.call('waitValues', 0, 3);
    await browser.call('waitValues', 1, 1);
    const session = first.session();

    await server.stop({ code: 1001, reason: 'restart' });
    const reconnecting = await browser.call('waitStatus', { state: 'reconnecting' });
    for (let i = 4; i <= 6; i++) server.publish('feed', i); // published while down
    server.publish('news', 'n2');
    await browser.call('send', { type: 'publish', id: 'o1', channel: 'out', data: 1 }); // held in the outbox
    await browser.call('send', { type: 'publish', id: 'o2', channel: 'out', data: 2 });
    await server.start();

    const second = await server.connections.next();
    await framesOf(second, 'publish', 2);
    server.publish('feed', 7); // live, after the replay: a duplicate would show up before it
    expect(await browser.call('waitValues', 0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await browser.call('waitValues', 1, 2)).toEqual(['n1', 'n2']);

    expect(reconnecting.cause).toMatchObject({ name: 'ConnectionClosedError', code: 1001, retryable: true });
    expect(second.received.slice(0, 5)).toEqual([
      { type: 'hello', session },
      { type: 'subscribe', channel: 'feed', after: 3 },
      { type: 'subscribe', channel: 'news', after: 1 },
      { type: 'publish', id: 'o1', channel: 'out', data: 1 },
      { type: 'publish', id: 'o2', channel: 'out', data: 2 },
    ]);
    expect(second.sent[0]).toMatchObject({ type: 'ready', session, resumed: true });
    expect(server.receivedPublishIds()).toEqual(['o1', 'o2']);
    const report = await browser.call('report');
    expect(report.values).toEqual([[1, 2, 3, 4, 5, 6, 7], ['n1', 'n2']]);
    expect(report.events.filter((e) => e.startsWith('gap'))).toEqual([]);
    expect(report.statuses.at(-1)).toMatchObject({ state: 'open', buffered: 0 });
  });

  it('should replace a frozen server connection once the heartbeat deadline passes, and resume', async () => {
    const server = await protocolServer();
    await browser.call(
      'startClient',
      // Roomy on a busy 2-core machine: a late pong must not count as a frozen server.
      client(server.url, { subscribers: ['feed'], heartbeat: { interval: 100, timeout: 1000 }, backoff: { initialDelay: 1, maxDelay: 5 } }),
    );
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('feed', 1);
    expect(await browser.call('waitValues', 0, 1)).toEqual([1]);
    await framesOf(first, 'ping', 1); // the page pings after 100 ms of silence, the server answers

    first.freeze(); // TCP stays open, nothing is answered: only the heartbeat can tell
    server.publish('feed', 2); // held by the frozen connection, kept in the history
    const second = await server.connections.next();
    expect(await browser.call('waitValues', 0, 2)).toEqual([1, 2]);

    const report = await browser.call('report');
    const reconnects = report.statuses.filter((st) => st.state === 'reconnecting');
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]!.cause).toMatchObject({ name: 'HeartbeatTimeoutError', timeout: 1000, retryable: true });
    expect(second.received.find((f) => f.type === 'subscribe')).toEqual({ type: 'subscribe', channel: 'feed', after: 1 });
    // The browser cannot terminate a socket: it sent 4000 (not 1000/1001, so the session survives).
    first.thaw();
    expect(await first.closed).toEqual({ code: 4000, reason: 'reconnect' });
  });

  it("should use the window's offline → online events as a retry-now signal, with the heartbeat catching the silent socket", async () => {
    const server = await protocolServer();
    // Attempt 1 waits 1 ms, attempt 2 waits 60 s: only the `online` event can bring it back in time.
    await browser.call(
      'startClient',
      client(server.url, {
        subscribers: ['feed'],
        heartbeat: { interval: 100, timeout: 1000 },
        retryNowOnOnline: true,
        backoff: { initialDelay: 1, maxDelay: 60_000, factor: 60_000, jitter: 'none' },
      }),
    );
    const first = await server.connections.next();
    await framesOf(first, 'subscribe', 1);
    server.publish('feed', 1);
    await browser.call('waitValues', 0, 1);

    // Chromium's offline emulation (what DevTools does) keeps an open loopback WebSocket OPEN and
    // lets its frames out, but holds every incoming frame, and fails new sockets with
    // net::ERR_INTERNET_DISCONNECTED. Only the heartbeat can notice the first; backoff cannot
    // cure the second.
    await browser.context().setOffline(true);
    await browser.call('waitWindowEvent', 'offline');
    server.publish('feed', 2); // held by the browser, never delivered on this socket
    const waiting = await browser.call('waitStatus', { state: 'reconnecting', attempt: 2 });
    expect(waiting).toMatchObject({ delay: 60_000, cause: { name: 'ConnectionClosedError', code: 1006, wasClean: false } });
    expect(server.accepted()).toBe(1);
    server.publish('feed', 3);

    await browser.context().setOffline(false); // fires `online`: the 60 s wait ends now
    const second = await server.connections.next();
    expect((await framesOf(second, 'subscribe', 1))[0]).toEqual({ type: 'subscribe', channel: 'feed', after: 1 });
    expect(await browser.call('waitValues', 0, 3)).toEqual([1, 2, 3]);

    const report = await browser.call('report');
    expect(report.windowEvents).toEqual(['offline', 'online']);
    expect(report.onLine).toBe(true);
    const afterDrop = report.statuses.slice(report.statuses.findIndex((st) => st.state === 'reconnecting'));
    expect(states(afterDrop)).toEqual(['reconnecting', 'connecting', 'reconnecting', 'connecting', 'open']);
    expect(afterDrop[0]).toMatchObject({ attempt: 1, delay: 1, cause: { name: 'HeartbeatTimeoutError', timeout: 1000 } });
    expect(report.values).toEqual([[1, 2, 3]]);
    expect(server.accepted()).toBe(2);
    // The replaced socket's 4000 close frame went out while offline; the browser cannot
    // terminate a socket, so its TCP connection ended only once the server's answer got in.
    expect(await first.closed).toEqual({ code: 4000, reason: 'reconnect' });
  });
});
