// Send throughput: N small JSON messages, C per macrotask, until the server (another process)
// has counted all N in order. Stacks interleaved per repetition; ratios to raw ws per rep.
// node scripts/perf/send.mjs [--n 200000] [--chunk 1000] [--reps 5]
import { Subject, filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
const { connect, createSocket } = await loadRxtether();
import { arg, loadRxtether, fmt, median, startServer } from './util.mjs';

const N = Number(arg('n', 200_000));
const C = Number(arg('chunk', 1000));
const REPS = Number(arg('reps', 5));
const payload = 'x'.repeat(40);
const msg = (i) => ({ seq: i, p: payload });

/** Sends N messages with `send`, C per macrotask; resolves when `done` resolves. */
async function pump(send, done) {
  const t0 = performance.now();
  let i = 0;
  await new Promise((resolve) => {
    const step = () => {
      const end = Math.min(N, i + C);
      for (; i < end; i++) send(msg(i));
      if (i < N) setImmediate(step);
      else resolve();
    };
    step();
  });
  const reply = await done;
  const ms = performance.now() - t0;
  const [, count, errors] = String(reply).split(':');
  if (Number(count) !== N || Number(errors) !== 0) throw new Error(`WRONG: ${reply}`);
  return ms;
}

const stacks = {
  async 'raw ws'(url) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((r) => ws.once('open', r));
    const done = new Promise((r) => ws.once('message', (d) => r(d.toString())));
    const ms = await pump((m) => ws.send(JSON.stringify(m)), done);
    ws.close();
    return ms;
  },
  async 'rxtether connect'(url) {
    const out = new Subject();
    let opened;
    const open = new Promise((r) => (opened = r));
    let gotDone;
    const done = new Promise((r) => (gotDone = r));
    const sub = connect({ url, WebSocketCtor: WebSocket, outgoing: out, deserialize: (d) => d, onOpen: () => opened() }).subscribe((d) => gotDone(d));
    await open;
    await new Promise((r) => setImmediate(r)); // outgoing is subscribed after onOpen
    const ms = await pump((m) => out.next(m), done);
    sub.unsubscribe();
    return ms;
  },
  async 'rxtether createSocket'(url) {
    const socket = createSocket({ url, WebSocketCtor: WebSocket, deserialize: (d) => d, backoff: { initialDelay: 10 } });
    const done = firstValueFrom(socket.messages$);
    await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
    const ms = await pump((m) => socket.send(m), done);
    socket.close();
    return ms;
  },
};

const server = await startServer();
const url = `ws://127.0.0.1:${server.port}/sink?n=${N}`;
const results = Object.fromEntries(Object.keys(stacks).map((k) => [k, []]));
const ratios = Object.fromEntries(Object.keys(stacks).map((k) => [k, []]));
for (let rep = -1; rep < REPS; rep++) {
  const names = Object.keys(stacks);
  const order = rep < 0 ? names : names.map((_, j) => names[(j + rep) % names.length]);
  const row = {};
  for (const name of order) row[name] = await stacks[name](url);
  if (rep < 0) continue; // warm-up
  for (const name of names) {
    results[name].push(row[name]);
    ratios[name].push(row['raw ws'] / row[name]);
  }
}
await server.stop();
console.log(`send: N=${N}, ${C} per macrotask, ${REPS} reps (median; throughput ratio vs raw ws in the same rep)`);
for (const name of Object.keys(stacks)) {
  const ms = median(results[name]);
  console.log(`${name.padEnd(24)} ${fmt((N / ms) * 1000, 0).padStart(9)} msg/s  ${fmt(ms, 1).padStart(7)} ms  × raw: ${fmt(median(ratios[name]))} (${fmt(Math.min(...ratios[name]))}–${fmt(Math.max(...ratios[name]))})`);
}
