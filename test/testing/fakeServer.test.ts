import { connect, isConnectionClosedError, isDecodeError } from 'rxtether';
import { createFakeServer, rawFrame } from 'rxtether/testing';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';

const testScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const closed = (code: number, reason = '') => expect.objectContaining({ name: 'ConnectionClosedError', code, reason });

describe('createFakeServer: scripts', () => {
  it('should play each connection script in marbles, with groups and time progressions', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-o-a-(bc) 5ms d-#'], { values: { a: 1, b: 2, c: 3, d: 4 } });
      const messages$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory });
      // (bc) at 5 takes 4 frames, 5 ms more: d at 14, the drop at 16
      expectObservable(messages$).toBe('---a-(bc) 5ms d-#', { a: 1, b: 2, c: 3, d: 4 }, closed(1006));
    });
  });

  it('should close with the scripted code and reason, as a clean close frame', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, [{ marbles: '-o--#', close: { code: 4001, reason: 'kicked' } }]);
      expectObservable(connect({ url: 'ws://test/', socketFactory: server.socketFactory })).toBe('----#', undefined, closed(4001, 'kicked'));
    });
    scheduler.run(() => {
      const server = createFakeServer(scheduler, [{ marbles: '-o-#', close: { code: 4001, reason: 'kicked' } }, '-#']);
      const events: unknown[] = [];
      const clean = server.socketFactory('ws://test/');
      clean.onerror = () => events.push('error');
      clean.onclose = (e) => events.push(['close', e.code, e.reason, e.wasClean, clean.readyState]);
      const failed = server.socketFactory('ws://test/');
      failed.onerror = () => events.push(['error', failed.readyState]);
      failed.onclose = (e) => events.push(['close', e.code, e.reason, e.wasClean, failed.readyState]);
      scheduler.flush();
      expect(events).toEqual([
        ['error', 3], // a refused connection: error (readyState already CLOSED), then close 1006
        ['close', 1006, '', false, 3],
        ['close', 4001, 'kicked', true, 3], // no error event for a close frame
      ]);
    });
  });

  it('should take one script per connection attempt and record each connection', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['--#', { marbles: '-o', protocol: 'v2' }]);
      const first = server.socketFactory('ws://test/a', 'v2');
      scheduler.schedule(() => server.socketFactory(new URL('ws://test/b'), ['v1', 'v2']), 5);
      scheduler.flush();
      expect(server.connections.map(({ index, url, protocols, createdAt, endedAt }) => ({ index, url, protocols, createdAt, endedAt }))).toEqual([
        { index: 0, url: 'ws://test/a', protocols: ['v2'], createdAt: 0, endedAt: 2 },
        { index: 1, url: 'ws://test/b', protocols: ['v1', 'v2'], createdAt: 5, endedAt: undefined },
      ]);
      expect(server.connections[0]!.socket).toBe(first);
      expect(server.connections[1]!.socket.protocol).toBe('v2');
      expect(server.connections[1]!.socket.readyState).toBe(1);
    });
  });

  it('should fail a connection whose scripted subprotocol the client did not offer, as browsers do', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, [{ marbles: '-o-a', values: { a: 1 }, protocol: 'v3' }]);
      expectObservable(connect({ url: 'ws://test/', protocols: ['v1'], socketFactory: server.socketFactory })).toBe('-#', undefined, closed(1006));
    });
  });

  it('should keep a connection open and silent when its script ends, and never answer a close after a freeze', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o', '-o~']);
      const quiet = server.socketFactory('ws://test/');
      const frozen = server.socketFactory('ws://test/');
      const events: unknown[] = [];
      quiet.onclose = (e) => events.push(['quiet', scheduler.now(), e.code]);
      frozen.onclose = (e) => events.push(['frozen', scheduler.now(), e.code]);
      scheduler.schedule(() => {
        quiet.close(1000);
        frozen.close(1000);
      }, 50);
      scheduler.flush();
      expect(events).toEqual([['quiet', 50, 1000]]);
      expect([quiet.readyState, frozen.readyState]).toEqual([3, 2]); // the frozen one stays CLOSING
      expect(server.connections.map((c) => c.endedAt)).toEqual([50, 50]);
    });
  });

  it('should deliver binary and raw frames as they are, and encode the rest as JSON', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const bytes = new Uint8Array([1, 2, 3]);
      const server = createFakeServer(scheduler, ['-o-(bjrt)'], {
        values: { b: bytes, j: { n: 1 }, r: rawFrame('{oops'), t: rawFrame(new Uint8Array([9]).buffer) },
      });
      const decodeErrors: unknown[] = [];
      const values: unknown[] = [];
      connect({ url: 'ws://test/', socketFactory: server.socketFactory, onDecodeError: (e) => decodeErrors.push(e.data) }).subscribe((v) =>
        values.push(v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v),
      );
      scheduler.flush();
      expect(values).toEqual([[1, 2, 3], { n: 1 }, [9]]);
      expect(decodeErrors).toEqual(['{oops']);
    });
  });

  it('should deliver binary frames as Blobs until the client asks for ArrayBuffers', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o-(bb)'], { values: { b: new Uint8Array([7]) } });
      const socket = server.socketFactory('ws://test/');
      const types: string[] = [];
      socket.onmessage = (e) => {
        types.push((e.data as object).constructor.name);
        socket.binaryType = 'arraybuffer';
      };
      socket.binaryType = 'nonsense'; // ignored, as browsers do
      scheduler.flush();
      expect(types).toEqual(['Blob', 'ArrayBuffer']);
    });
  });

  it('should use options.encode and options.decode', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer<string>(scheduler, ['-o-a'], {
        values: { a: 'hi' },
        encode: (m) => `<${String(m)}>`,
        decode: (data) => `decoded ${String(data)}`,
      });
      const socket = server.socketFactory('ws://test/');
      const received: unknown[] = [];
      socket.onmessage = (e) => {
        received.push(e.data);
        socket.send('back');
      };
      scheduler.flush();
      expect(received).toEqual(['<hi>']);
      expect(server.sent).toEqual([{ frame: 3, connection: 0, data: 'decoded back' }]);
    });
  });
});

describe('createFakeServer: a socket that behaves like a browser WebSocket', () => {
  it('should open asynchronously, on the scripted frame, never inside the factory', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['o']);
      const socket = server.socketFactory('ws://test/');
      const opened: number[] = [];
      socket.onopen = () => opened.push(socket.readyState);
      expect([socket.readyState, opened]).toEqual([0, []]);
      scheduler.flush();
      expect(opened).toEqual([1]); // readyState is OPEN by the time open fires
    });
  });

  it('should throw an InvalidStateError on send() while connecting, and discard sends after close()', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o']);
      const socket = server.socketFactory('ws://test/');
      expect(() => socket.send('early')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
      scheduler.schedule(() => {
        socket.send('"open"');
        socket.close(1000);
        socket.send('"closing"'); // CLOSING: no error, nothing sent
      }, 2);
      scheduler.flush();
      expect(server.sent).toEqual([{ frame: 2, connection: 0, data: 'open' }]);
      expect(() => socket.send('"closed"')).not.toThrow();
      expect(server.sent).toHaveLength(1);
    });
  });

  it('should go CLOSING at once on close() and fire close later in the same frame, echoing the code', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o-a-b', '-o'], { values: { a: 1, b: 2 } });
      const socket = server.socketFactory('ws://test/');
      const bare = server.socketFactory('ws://test/');
      const log: unknown[] = [];
      socket.onmessage = (e) => log.push(['message', e.data]);
      socket.onclose = (e) => log.push(['close', scheduler.now(), e.code, e.reason, e.wasClean, socket.readyState]);
      bare.onclose = (e) => log.push(['bare', scheduler.now(), e.code, e.reason, e.wasClean]);
      scheduler.schedule(() => {
        socket.close(4000, 'bye');
        log.push(['after close()', socket.readyState]);
        bare.close(); // no code: the peer sees a close frame without one
      }, 4);
      scheduler.flush();
      expect(log).toEqual([
        ['message', '1'],
        ['after close()', 2],
        ['close', 4, 4000, 'bye', true, 3],
        ['bare', 4, 1005, '', true],
      ]); // 'b' at 5 is never delivered
      expect(server.closeRequests).toEqual([
        { frame: 4, connection: 0, code: 4000, reason: 'bye' },
        { frame: 4, connection: 1, code: undefined, reason: undefined },
      ]);
    });
  });

  it('should fail a connection closed while connecting: error, then close 1006', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['--o']);
      const socket = server.socketFactory('ws://test/');
      const log: unknown[] = [];
      socket.onopen = () => log.push('open');
      socket.onerror = () => log.push(['error', socket.readyState]);
      socket.onclose = (e) => log.push(['close', scheduler.now(), e.code, e.wasClean]);
      scheduler.schedule(() => {
        socket.close();
        socket.close(); // a second call does nothing
        log.push(['closing', socket.readyState]);
      }, 1);
      scheduler.flush();
      expect(log).toEqual([['closing', 2], ['error', 3], ['close', 1, 1006, false]]);
      expect(server.closeRequests).toEqual([{ frame: 1, connection: 0, code: undefined, reason: undefined }]);
    });
  });

  it("should reject the close codes and reasons a browser rejects, with the browser's errors", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['o']);
      const socket = server.socketFactory('ws://test/');
      expect(() => socket.close(1001)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
      expect(() => socket.close(1000.5)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
      expect(() => socket.close(5000)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
      expect(() => socket.close(1000, 'é'.repeat(62))).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
      expect(server.closeRequests).toEqual([]);
      expect(socket.readyState).toBe(0);
    });
  });

  it("should serve as a WebSocketCtor, with the constructor's constants, and refuse a call without new", () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-o-a'], { values: { a: { hi: 1 } } });
      expectObservable(connect({ url: 'ws://test/', WebSocketCtor: server.WebSocket })).toBe('---a', { a: { hi: 1 } });
      expect([server.WebSocket.CONNECTING, server.WebSocket.OPEN, server.WebSocket.CLOSING, server.WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
      expect(() => (server.WebSocket as unknown as (url: string) => unknown)('ws://test/')).toThrow(TypeError);
    });
  });
});

describe('createFakeServer: what the client did', () => {
  it('should assert the sent frames in marbles, per connection or filtered', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer<{ op: string }>(scheduler, ['-o-#', '-o']);
      const socket0 = server.socketFactory('ws://test/');
      socket0.onopen = () => {
        socket0.send(JSON.stringify({ op: 'hello' }));
        socket0.send(JSON.stringify({ op: 'sub' }));
      };
      scheduler.schedule(() => {
        const socket1 = server.socketFactory('ws://test/');
        socket1.onopen = () => socket1.send(JSON.stringify({ op: 'sub' }));
      }, 5);
      const values = { h: { op: 'hello' }, s: { op: 'sub' } };
      server.expectSent().toBe('-(hs)-s', values);
      server.expectSent({ connection: 1 }).toBe('------s', values);
      server.expectSent({ filter: (m) => m.op === 'sub' }).toBe('-s----s', values);
      server.expectConnections().toBe(['^--!', '-----^']);
    });
  });

  it('should report each expectSent and expectConnections that differs, and only those', () => {
    // The scheduler's assertion records whether each comparison held: a kit whose toBe()
    // compared nothing would report nothing, and this test would fail.
    const outcomes: Array<'match' | 'mismatch'> = [];
    const scheduler = new TestScheduler((actual, expected) => {
      try {
        expect(actual).toEqual(expected);
        outcomes.push('match');
      } catch {
        outcomes.push('mismatch');
      }
    });
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o']);
      const socket = server.socketFactory('ws://test/');
      socket.onopen = () => socket.send('{"n":1}');
      server.expectSent().toBe('-s', { s: { n: 1 } }); // right
      server.expectSent().toBe('--s', { s: { n: 1 } }); // one frame late
      server.expectSent().toBe('-s', { s: { n: 2 } }); // another value
      server.expectConnections().toBe('^!'); // the connection stays open
    });
    expect(outcomes.filter((o) => o === 'mismatch')).toHaveLength(3);
    expect(outcomes).toHaveLength(4);
  });

  it('should replay frames sent in the current frame, and refuse to assert frames already in the past', () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['o']);
      const socket = server.socketFactory('ws://test/');
      socket.onopen = () => socket.send('1');
      scheduler.flush(); // the frame is sent at 0; the clock stays at 0
      server.expectSent().toBe('s--t', { s: 1, t: 2 });
      scheduler.schedule(() => {
        socket.send('2');
        server.expectSent({ filter: (n) => n === 2 }).toBe('---s', { s: 2 }); // same frame: replayed
      }, 3);
      scheduler.schedule(() => {
        expect(() => server.expectSent()).toThrow(/called at frame 4, after the client sent at frame 0: call it before flush\(\)/);
        expect(() => server.expectSent({ filter: (n) => n === 2 })).toThrow(/at frame 3/);
      }, 4);
    });
  });

  it('should fail loudly, from the factory and from flush(), when the client makes a connection no script covers', () => {
    const scheduler = testScheduler();
    const errors: unknown[] = [];
    expect(() =>
      scheduler.run(() => {
        const server = createFakeServer(scheduler, ['-#']);
        connect({ url: 'ws://test/', socketFactory: server.socketFactory }).subscribe({ error: () => {} });
        scheduler.schedule(() => {
          try {
            server.socketFactory('ws://test/');
          } catch (error) {
            errors.push(error);
          }
        }, 5);
      }),
    ).toThrow(/scripts has 1 script, none for connection 1 \(attempt 2\)/);
    expect(errors).toEqual([expect.any(RangeError)]);
  });
});

describe('createFakeServer: invalid input', () => {
  it('should refuse to run outside TestScheduler.run, or with another scheduler', () => {
    const scheduler = testScheduler();
    expect(() => createFakeServer(scheduler, ['o'])).toThrow(new TypeError('createFakeServer: call it inside scheduler.run(...): scripts count 1 ms per character, as marbles do there'));
    expect(() => createFakeServer({} as TestScheduler, ['o'])).toThrow(/scheduler must be a TestScheduler/);
    expect(() => scheduler.run(() => createFakeServer(scheduler, 'o' as never))).toThrow(/scripts must be an array/);
  });

  it.each([
    [['-o-|'], TypeError, /scripts\[0\]: unexpected '\|' at index 3 of "-o-\|": a socket does not complete/],
    [['o', '^o'], TypeError, /scripts\[1\]: unexpected '\^'/],
    [['o!'], TypeError, /unexpected '!'/],
    [['-o-q'], TypeError, /scripts\[0\]: 'q' at index 3 of "-o-q" has no message in values/],
    [['-o 10msa'], TypeError, /'1' at index 3 of "-o 10msa" has no message in values \(a time progression such as 10ms needs a space before and after it\)/],
    [[{ marbles: '-a-o', values: { a: 1 } }], TypeError, /message 'a' at index 1 of "-a-o" comes before 'o'/],
    [[{ marbles: '-o-#-a', values: { a: 1 } }], TypeError, /'a' at index 5 of "-o-#-a" comes after '#'/],
    [[{ marbles: '-o~a', values: { a: 1 } }], TypeError, /comes after '~': nothing can happen after the connection froze/],
    [['oo'], TypeError, /a second 'o'/],
    [['((o))'], TypeError, /nested '\('/],
    [['(o'], TypeError, /'\(' is never closed/],
    [['o)'], TypeError, /'\)' without '\('/],
    [[42], TypeError, /scripts\[0\] must be marbles or \{ marbles/],
    [[{ marbles: 42 }], TypeError, /scripts\[0\]: marbles must be a string, got number/],
    [[{ marbles: '-#', close: { code: 4000 } }], RangeError, /scripts\[0\]\.close\.code 4000 needs an 'o' before '#'/],
    [[{ marbles: '-o#', close: { code: 1004 } }], RangeError, /scripts\[0\]\.close\.code must be 1000–1003, 1005–1015 or 3000–4999/],
    [[{ marbles: '-o#', close: { code: 5000 } }], RangeError, /close\.code must be/],
    [[{ marbles: '-o#', close: { code: '4000' } }], TypeError, /close\.code must be a number/],
    [[{ marbles: '-o#', close: { code: 1006, reason: 'x' } }], RangeError, /close\.reason must be '' with code 1006/],
    [[{ marbles: '-o#', close: { code: 4000, reason: 'é'.repeat(62) } }], RangeError, /close\.reason must be at most 123 UTF-8 bytes, got 124/],
    [[{ marbles: 'o', protocol: 1 }], TypeError, /scripts\[0\]\.protocol must be a string/],
    [[{ marbles: 'oa', values: { o: 1 } }], TypeError, /scripts\[0\]\.values cannot use 'o'/],
  ])('should reject scripts %j', (scripts, type, message) => {
    const scheduler = testScheduler();
    const attempt = () => scheduler.run(() => createFakeServer(scheduler, scripts as never));
    expect(attempt).toThrow(type);
    expect(attempt).toThrow(message);
  });

  it('should reject bad options, naming them', () => {
    const scheduler = testScheduler();
    const attempt = (options: unknown, scripts: unknown[] = ['oa']) => () =>
      scheduler.run(() => createFakeServer(scheduler, scripts as never, options as never));
    expect(attempt(null)).toThrow(new TypeError('createFakeServer: options must be an object, got null'));
    expect(attempt({ values: { '#': 1 } })).toThrow(/options\.values cannot use '#'/);
    expect(attempt({ values: { a: 1 }, encode: 'json' })).toThrow(/options\.encode must be a function/);
    expect(attempt({ values: { a: 1 }, decode: 1 })).toThrow(/options\.decode must be a function/);
    expect(attempt({ values: { a: undefined } })).toThrow(/scripts\[0\]: message 'a': undefined cannot be encoded as JSON/);
    expect(attempt({ values: { a: 1 }, encode: () => 7 })).toThrow(/options\.encode must return a string or binary data, got number/);
    expect(() => rawFrame(7 as never)).toThrow(/rawFrame: data must be a string/);
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['o']);
      expect(() => server.expectSent({ connection: -1 })).toThrow(RangeError);
      expect(() => server.expectSent({ filter: 1 as never })).toThrow(/options\.filter must be a function/);
    });
  });
});

describe('createFakeServer with connect', () => {
  it('should report a decode error for a raw frame and keep the connection', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-o-x-a'], { values: { x: rawFrame('{oops'), a: { ok: true } } });
      const errors: unknown[] = [];
      expectObservable(connect({ url: 'ws://test/', socketFactory: server.socketFactory, onDecodeError: (e) => errors.push(e) })).toBe(
        '-----a',
        { a: { ok: true } },
      );
      scheduler.flush();
      expect(errors).toHaveLength(1);
      expect(isDecodeError(errors[0])).toBe(true);
    });
  });

  it('should record the close connect sends on unsubscribe, and the abort of a connecting socket', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const server = createFakeServer(scheduler, ['-o', '---o']);
      const ws$ = connect({ url: 'ws://test/', socketFactory: server.socketFactory, closeOnUnsubscribe: { code: 4100, reason: 'done' } });
      expectObservable(ws$, '^---!').toBe('');
      expectObservable(ws$, '-^!').toBe('');
      server.expectConnections().toBe(['^---!', '-^!']);
      scheduler.flush();
      expect(server.closeRequests).toEqual([
        { frame: 2, connection: 1, code: undefined, reason: undefined }, // still connecting: aborted
        { frame: 4, connection: 0, code: 4100, reason: 'done' },
      ]);
    });
  });

  it("should surface a 1006 drop as connect's ConnectionClosedError after the error event", () => {
    const scheduler = testScheduler();
    scheduler.run(() => {
      const server = createFakeServer(scheduler, ['-o-#']);
      let error: unknown;
      connect({ url: 'ws://test/', socketFactory: server.socketFactory }).subscribe({ error: (e: unknown) => (error = e) });
      scheduler.flush();
      expect(isConnectionClosedError(error) && [error.code, error.wasClean]).toEqual([1006, false]);
    });
  });
});
