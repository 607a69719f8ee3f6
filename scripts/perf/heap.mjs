// Idle heap per connection: N connections open in one process against a ws server in another,
// heap used after GC (--expose-gc) before and after, / N. Each stack runs in its own child
// process; repetitions alternate the stacks.
// node scripts/perf/heap.mjs [--n 2000] [--reps 3]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, fmt, median, startServer } from './util.mjs';

const N = Number(arg('n', 2000));
const REPS = Number(arg('reps', 3));
const stack = arg('stack', undefined);

const gc = async () => {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
};

if (stack) {
  const { WebSocket } = await import('ws');
  const { connect, createSocket } = await (await import('./util.mjs')).loadRxtether();
  const { filter, firstValueFrom } = await import('rxjs');
  const url = `ws://127.0.0.1:${arg('port')}/idle`;
  const keep = [];
  const open = {
    async 'raw ws'() {
      const ws = new WebSocket(url); // default options, as connect() creates it
      ws.on('message', () => {});
      ws.on('error', () => {});
      ws.on('close', () => {});
      await new Promise((r) => ws.once('open', r));
      keep.push(ws);
    },
    async 'bare connect'() {
      let opened;
      const p = new Promise((r) => (opened = r));
      keep.push(connect({ url, WebSocketCtor: WebSocket, onOpen: () => opened() }).subscribe({ next() {}, error() {} }));
      await p;
    },
    async 'createSocket + 1 channel'() {
      const socket = createSocket({ url, WebSocketCtor: WebSocket, heartbeat: { timeout: 60_000 } });
      const sub = socket
        .channel({ key: 'a', subscribe: () => ({ type: 'subscribe', channel: 'a' }), matches: (m) => m.channel === 'a' })
        .subscribe({ next() {}, error() {} });
      await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
      keep.push(socket, sub);
    },
  }[stack];
  await open(); // warm up code paths (and JIT) before the baseline
  const before = await gc();
  for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: Math.min(100, N - i) }, open));
  const after = await gc();
  process.stdout.write(JSON.stringify({ perConnection: (after - before) / N }));
  process.exit(0);
} else {
  const server = await startServer();
  const stacks = ['raw ws', 'bare connect', 'createSocket + 1 channel'];
  const results = Object.fromEntries(stacks.map((s) => [s, []]));
  const ratios = Object.fromEntries(stacks.map((s) => [s, []]));
  const script = fileURLToPath(import.meta.url);
  for (let rep = 0; rep < REPS; rep++) {
    const row = {};
    for (const s of rep % 2 ? [...stacks].reverse() : stacks) {
      const outText = execFileSync(process.execPath, ['--expose-gc', script, '--stack', s, '--port', String(server.port), '--n', String(N)]);
      row[s] = JSON.parse(outText.toString()).perConnection;
    }
    for (const s of stacks) {
      results[s].push(row[s]);
      ratios[s].push(row[s] / row['raw ws']);
    }
  }
  await server.stop();
  console.log(`idle heap per connection: N=${N}, ${REPS} reps (median bytes; ratio to raw ws in the same rep)`);
  for (const s of stacks) console.log(`${s.padEnd(26)} ${fmt(median(results[s]), 0).padStart(6)} B  × raw: ${fmt(median(ratios[s]))} (${fmt(Math.min(...ratios[s]))}–${fmt(Math.max(...ratios[s]))})`);
}
