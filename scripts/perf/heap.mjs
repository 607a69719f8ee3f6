// Idle heap per connection: N connections open in one process against a ws server in another,
// heap used after GC (--expose-gc) before and after, / N. Each stack runs in its own child
// process; repetitions alternate the stacks.
// node scripts/perf/heap.mjs [--n 2000] [--reps 3]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, fmt, heapAfterGc, median, startServer } from './util.mjs';

const N = Number(arg('n', 2000));
const REPS = Number(arg('reps', 3));
const stack = arg('stack', undefined);


if (stack) {
  const { WebSocket } = await import('ws');
  const { connect, createSocket } = await (await import('./util.mjs')).loadRxtether();
  const { filter, firstValueFrom } = await import('rxjs');
  const url = `ws://127.0.0.1:${arg('port')}/idle`;
  const keep = [];
  // One options object and one set of callbacks for all connections, as an application that
  // opens many would: what is measured is what each connection adds.
  const observer = { next() {}, error() {} };
  const noop = () => {};
  let opened = noop;
  const bare$ = connect({ url, WebSocketCtor: WebSocket, onOpen: () => opened() });
  const clientConfig = { url, WebSocketCtor: WebSocket, heartbeat: { timeout: 60_000 } };
  const spec = { key: 'a', subscribe: () => ({ type: 'subscribe', channel: 'a' }), matches: (m) => m.channel === 'a' };
  const isOpen = (s) => s.state === 'open';
  const open = {
    async 'raw ws'() {
      const ws = new WebSocket(url); // default options, as connect() creates it
      ws.on('message', noop);
      ws.on('error', noop);
      ws.on('close', noop);
      await new Promise((r) => ws.once('open', r));
      keep.push(ws);
    },
    async 'bare connect'() {
      const p = new Promise((r) => (opened = r));
      keep.push(bare$.subscribe(observer));
      await p;
    },
    async 'createSocket + 1 channel'() {
      const socket = createSocket(clientConfig);
      const sub = socket.channel(spec).subscribe(observer);
      await firstValueFrom(socket.status$.pipe(filter(isOpen)));
      keep.push(socket, sub);
    },
  }[stack];
  // Connections open one at a time here (a shared `opened`).
  const openAll = async (n) => {
    for (let i = 0; i < n; i++) await open();
  };
  await open(); // warm up code paths (and JIT) before the baseline
  const before = await heapAfterGc();
  await openAll(N);
  const after = await heapAfterGc();
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
