// Where the full client's idle heap goes: heap per client (N clients in one process, after GC)
// for createSocket configured step by step, each step in its own child process.
// node scripts/perf/heap-client.mjs [--n 1000]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, fmt, heapAfterGc, startServer } from './util.mjs';

const N = Number(arg('n', 1000));
const step = arg('step', undefined);
const steps = [
  'raw ws',
  'createSocket, not subscribed',
  'messages$, open',
  '+ heartbeat',
  '+ heartbeat pings',
  '+ resume',
  '+ 1 channel (channelKeyOf)',
];
if (step) {
  const { WebSocket } = await import('ws');
  const { createSocket, isNextInSequence } = await (await import('./util.mjs')).loadRxtether();
  const { filter, firstValueFrom } = await import('rxjs');
  const url = `ws://127.0.0.1:${arg('port')}/idle`;
  const keep = [];
  const observer = { next() {}, error() {} };
  const noop = () => {};
  const i = steps.indexOf(step);
  const config = { url, WebSocketCtor: WebSocket };
  if (i >= 3) config.heartbeat = { timeout: 45_000 };
  if (i >= 4) config.heartbeat = { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) };
  if (i >= 5) config.resume = { cursorOf: (m) => m.seq, isNext: isNextInSequence };
  if (i >= 6) config.channelKeyOf = (m) => m.channel;
  const spec = { key: 'a', subscribe: () => ({ type: 'subscribe', channel: 'a' }) };
  const isOpen = (s) => s.state === 'open';
  const open = async () => {
    if (i === 0) {
      const ws = new WebSocket(url);
      ws.on('message', noop);
      ws.on('error', noop);
      ws.on('close', noop);
      await new Promise((r) => ws.once('open', r));
      keep.push(ws);
      return;
    }
    const socket = createSocket(config);
    keep.push(socket);
    if (i === 1) return;
    keep.push((i >= 6 ? socket.channel(spec) : socket.messages$).subscribe(observer));
    await firstValueFrom(socket.status$.pipe(filter(isOpen)));
  };
  for (let k = 0; k < 20; k++) await open();
  const before = await heapAfterGc();
  for (let k = 0; k < N; k++) await open();
  const after = await heapAfterGc();
  process.stdout.write(JSON.stringify({ perClient: (after - before) / N }));
  process.exit(0);
} else {
  const server = await startServer();
  const script = fileURLToPath(import.meta.url);
  let previous;
  console.log(`idle heap per client, N=${N} (bytes; step = added by that line)`);
  for (const s of steps) {
    const out = execFileSync(process.execPath, ['--expose-gc', script, '--step', s, '--port', String(server.port), '--n', String(N)]);
    const v = JSON.parse(out.toString()).perClient;
    console.log(`${s.padEnd(30)} ${fmt(v, 0).padStart(6)} B  ${previous === undefined || s === 'createSocket, not subscribed' ? '' : `+${fmt(v - previous, 0)}`}`);
    previous = v;
  }
  await server.stop();
}
