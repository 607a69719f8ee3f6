// The benchmark server: a child process (never the client's), listening on 127.0.0.1, driven
// by its parent over IPC (bench/processes.ts). It speaks just enough WebSocket (RFC 6455) for
// the scenarios, by hand, so that it stays far cheaper per message than any client it serves
// and the client is what each scenario measures:
//
// - pushed frames are built once (`prepare`) and written to the TCP socket in one write;
// - received frames are counted with a byte-level check of their `seq`, without JSON.parse;
// - no extension is negotiated (so no compression), no subprotocol.
//
// What a connection does depends on its URL path (see bench/wire.ts for the messages):
//
//   /push               {"type":"go","n":N} → the N prepared messages, in one write
//   /echo               every {"type":"msg",…} frame is sent back verbatim
//   /count?n=N          counts {"type":"m","seq":…} frames, checks seq 1, 2, 3, …; after N, replies
//                       {"type":"count","channel":"t0","n":N,"outOfOrder":k}
//   any path, ?subs=K   the connection counts as subscribed once K subscribe frames arrived
//
// Every connection answers {"type":"ping"} with {"type":"pong"}, protocol pings with pongs, and
// a close frame with a close frame before ending the TCP connection.
//
// IPC commands (each with a request id `rid`, answered with the same `rid`):
//   { cmd: 'listen', port }                   → { port, at }       port 0 picks a free one
//   { cmd: 'prepare', n }                     → {}                  builds the push frames for N
//   { cmd: 'wait-subscribed', count, timeout }→ { subscribed, lastMs, handshakesMs }
//       resolves once `count` connections accepted since `listen` are subscribed, or after
//       `timeout` ms with what there is; times are ms since listening, in this process's clock.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const COUNTED_PREFIX = Buffer.from('{"type":"m","seq":');
const MSG_PREFIX = Buffer.from('{"type":"msg"');

type Mode = 'push' | 'echo' | 'count' | 'idle';

interface Connection {
  readonly socket: Socket;
  readonly mode: Mode;
  /** Subscribe frames that make this connection "subscribed"; 0: never. */
  readonly subscribesExpected: number;
  subscribes: number;
  /** Count mode: frames expected, counted, the next seq expected, how many were not it. */
  readonly countExpected: number;
  counted: number;
  nextSeq: number;
  outOfOrder: number;
  /** Bytes received but not yet parsed (a frame split across TCP chunks). */
  pending: Buffer | undefined;
}

interface Waiter {
  readonly count: number;
  readonly resolve: () => void;
}

let listenAt = 0;
const handshakesMs: number[] = [];
const subscribedMs: number[] = [];
const waiters = new Set<Waiter>();
const prepared = new Map<number, Buffer>();

// ---------------------------------------------------------------------------------------------
// Frames

/** An unmasked server text frame (or another opcode) around `payload`. */
function frame(payload: Buffer, opcode = 0x1): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, header);
  return out;
}

function textFrame(text: string): Buffer {
  return frame(Buffer.from(text));
}

/** The push scenario's N messages as one buffer of frames, built before any client asks. */
async function preparePush(n: number): Promise<void> {
  if (prepared.has(n)) return;
  const { pushedMessage } = await import('./wire.js');
  const frames = new Array<Buffer>(n);
  for (let seq = 1; seq <= n; seq++) frames[seq - 1] = textFrame(pushedMessage(seq));
  prepared.set(n, Buffer.concat(frames));
}

// ---------------------------------------------------------------------------------------------
// Connections

function onData(c: Connection, chunk: Buffer): void {
  const buf = c.pending ? Buffer.concat([c.pending, chunk]) : chunk;
  const len = buf.length;
  let off = 0;
  while (len - off >= 2) {
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    let size = b1 & 0x7f;
    let header = 2;
    if (size === 126) {
      if (len - off < 4) break;
      size = buf.readUInt16BE(off + 2);
      header = 4;
    } else if (size === 127) {
      if (len - off < 10) break;
      size = Number(buf.readBigUInt64BE(off + 2));
      header = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskAt = off + header;
    if (masked) header += 4;
    if (len - off < header + size) break;
    const payload = Buffer.allocUnsafe(size);
    const start = off + header;
    if (masked) {
      for (let i = 0; i < size; i++) payload[i] = buf[start + i]! ^ buf[maskAt + (i & 3)]!;
    } else {
      buf.copy(payload, 0, start, start + size);
    }
    off += header + size;
    if ((b0 & 0x80) === 0 || (b0 & 0x0f) === 0) {
      // Fragmented messages: no client of the benchmark sends any.
      console.error('bench server: fragmented frame received, closing the connection');
      c.socket.destroy();
      return;
    }
    onFrame(c, b0 & 0x0f, payload);
  }
  c.pending = off < len ? buf.subarray(off) : undefined;
}

function onFrame(c: Connection, opcode: number, payload: Buffer): void {
  switch (opcode) {
    case 0x1:
      onText(c, payload);
      return;
    case 0x8: // close: answer with the same code, then end the TCP connection (the server closes first)
      if (!c.socket.destroyed) c.socket.end(frame(payload.subarray(0, 2), 0x8));
      return;
    case 0x9: // ping
      c.socket.write(frame(payload, 0xa));
      return;
    default: // pong, binary: ignored
      return;
  }
}

function onText(c: Connection, payload: Buffer): void {
  if (c.mode === 'count' && startsWith(payload, COUNTED_PREFIX)) {
    let seq = 0;
    for (let i = COUNTED_PREFIX.length; i < payload.length; i++) {
      const d = payload[i]! - 48;
      if (d < 0 || d > 9) break;
      seq = seq * 10 + d;
    }
    if (seq !== c.nextSeq) c.outOfOrder++;
    c.nextSeq = seq + 1;
    if (++c.counted === c.countExpected) {
      c.socket.write(textFrame(JSON.stringify({ type: 'count', channel: 't0', n: c.counted, outOfOrder: c.outOfOrder })));
    }
    return;
  }
  if (c.mode === 'echo' && startsWith(payload, MSG_PREFIX)) {
    c.socket.write(frame(payload));
    return;
  }
  let message: { type?: unknown; n?: unknown };
  try {
    message = JSON.parse(payload.toString()) as typeof message;
  } catch {
    console.error(`bench server: not JSON: ${payload.toString().slice(0, 80)}`);
    return;
  }
  switch (message.type) {
    case 'subscribe':
      if (++c.subscribes === c.subscribesExpected) {
        subscribedMs.push(performance.now() - listenAt);
        checkWaiters();
      }
      return;
    case 'ping':
      c.socket.write(textFrame('{"type":"pong"}'));
      return;
    case 'go': {
      const n = Number(message.n);
      const frames = prepared.get(n);
      if (frames === undefined) {
        console.error(`bench server: go ${n} without prepare ${n}`);
        c.socket.destroy();
        return;
      }
      c.socket.write(frames);
      return;
    }
    default:
      return; // unsubscribe and the like
  }
}

function startsWith(payload: Buffer, prefix: Buffer): boolean {
  if (payload.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (payload[i] !== prefix[i]) return false;
  return true;
}

function checkWaiters(): void {
  for (const w of waiters) {
    if (subscribedMs.length >= w.count) {
      waiters.delete(w);
      w.resolve();
    }
  }
}

const server = createServer((_req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
});

server.on('upgrade', (req, socket: Socket, head: Buffer) => {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://bench');
  const path = url.pathname.slice(1);
  const mode: Mode = path === 'push' || path === 'echo' || path === 'count' ? path : 'idle';
  const c: Connection = {
    socket,
    mode,
    subscribesExpected: Number(url.searchParams.get('subs') ?? 0),
    subscribes: 0,
    countExpected: Number(url.searchParams.get('n') ?? 0),
    counted: 0,
    nextSeq: 1,
    outOfOrder: 0,
    pending: undefined,
  };
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.setNoDelay(true);
  socket.on('error', () => {}); // resets from clients that go away: nothing to do
  socket.on('data', (chunk: Buffer) => onData(c, chunk));
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  handshakesMs.push(performance.now() - listenAt);
  if (head.length > 0) onData(c, head);
});

// ---------------------------------------------------------------------------------------------
// IPC

type Command =
  | { rid: number; cmd: 'listen'; port: number }
  | { rid: number; cmd: 'prepare'; n: number }
  | { rid: number; cmd: 'wait-subscribed'; count: number; timeout: number };

function reply(rid: number, body: object): void {
  process.send?.({ rid, ...body });
}

process.on('message', (command: Command) => {
  switch (command.cmd) {
    case 'listen':
      server.listen({ host: '127.0.0.1', port: command.port, backlog: 4096 }, () => {
        listenAt = performance.now();
        const address = server.address();
        reply(command.rid, { port: typeof address === 'object' && address ? address.port : 0, at: listenAt });
      });
      server.once('error', (error) => reply(command.rid, { error: String(error) }));
      return;
    case 'prepare':
      void preparePush(command.n).then(() => reply(command.rid, {}));
      return;
    case 'wait-subscribed': {
      const answer = (): void => {
        clearTimeout(timer);
        reply(command.rid, {
          subscribed: subscribedMs.length,
          lastMs: subscribedMs.length >= command.count ? subscribedMs[command.count - 1] : undefined,
          handshakesMs,
        });
      };
      const waiter: Waiter = { count: command.count, resolve: answer };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        answer();
      }, command.timeout);
      waiters.add(waiter);
      checkWaiters();
      return;
    }
  }
});

// The parent went away (or killed us politely): nothing here outlives it.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
