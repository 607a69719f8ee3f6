// Receive CPU per message: the server (another process) pushes N ~130-byte JSON frames over 10
// channels; the client decodes, routes to 10 subscribers and checks order. CPU = process.cpuUsage
// from "go" to the last frame, / N. Stacks interleaved per repetition; ratios to raw ws per rep.
// node scripts/perf/recv.mjs [--n 200000] [--reps 5] [--only name,name]
import { Subject, filter, firstValueFrom, share, map } from 'rxjs';
import { webSocket } from 'rxjs/webSocket';
import { WebSocket } from 'ws';
const { createSocket, isNextInSequence } = await loadRxtether();
import { arg, loadRxtether, fmt, median, startServer } from './util.mjs';

const N = Number(arg('n', 200_000));
const REPS = Number(arg('reps', 5));
const TOPICS = Array.from({ length: 10 }, (_, i) => `t${i}`);

/** Ten order-checking counters, one per channel; resolves at the end frame. */
function tally() {
  const last = new Array(10).fill(0);
  let count = 0;
  let errors = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));
  return {
    finished,
    on(i, m) {
      if (m.seq !== last[i] + 1) errors++;
      last[i] = m.seq;
      count++;
    },
    end() {
      finish();
    },
    check() {
      if (count !== N || errors !== 0) throw new Error(`WRONG: ${count} of ${N}, ${errors} out of order`);
    },
  };
}

async function measure(start, t) {
  const c0 = process.cpuUsage();
  start();
  await t.finished;
  const c = process.cpuUsage(c0);
  t.check();
  return ((c.user + c.system) * 1000) / N; // ns per message
}

const stacks = {
  async 'raw ws'(url) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((r) => ws.once('open', r));
    const t = tally();
    const index = Object.fromEntries(TOPICS.map((n, i) => [n, i]));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'end') t.end();
      else t.on(index[m.channel], m);
    });
    const ns = await measure(() => ws.send('"go"'), t);
    ws.close();
    return ns;
  },
  async 'rxjs webSocket+share+10 filters'(url) {
    const subject = webSocket({ url, WebSocketCtor: WebSocket });
    const shared = subject.pipe(share());
    const t = tally();
    const subs = TOPICS.map((name, i) => shared.pipe(filter((m) => m.channel === name)).subscribe((m) => t.on(i, m)));
    subs.push(shared.pipe(filter((m) => m.type === 'end')).subscribe(() => t.end()));
    await new Promise((r) => setTimeout(r, 50));
    const ns = await measure(() => subject.next('go'), t);
    for (const s of subs) s.unsubscribe();
    return ns;
  },
  async 'createSocket 10 channels'(url, keyed) {
    const socket = createSocket({
      url,
      WebSocketCtor: WebSocket,
      heartbeat: { timeout: 60_000 },
      resume: { cursorOf: (m) => m.g },
      ...(keyed ? { channelKeyOf: (m) => m.channel } : {}),
    });
    const t = tally();
    const subs = TOPICS.map((name, i) =>
      socket
        .channel({
          key: name,
          subscribe: () => ({ type: 'subscribe', channel: name }),
          matches: (m) => m.type === 'msg' && m.channel === name,
          cursorOf: (m) => m.seq,
          isNext: isNextInSequence,
        })
        .subscribe((m) => t.on(i, m)),
    );
    subs.push(socket.messages$.pipe(filter((m) => m.type === 'end')).subscribe(() => t.end()));
    await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
    const ns = await measure(() => socket.send('go'), t);
    socket.close();
    return ns;
  },
};
if (process.argv.includes('--keyed')) stacks['createSocket 10 channels, keyed'] = (url) => stacks['createSocket 10 channels'](url, true);
const only = arg('only', undefined)?.split(',');
const names = Object.keys(stacks).filter((n) => !only || n === 'raw ws' || only.some((o) => n.includes(o)));

const server = await startServer();
const url = `ws://127.0.0.1:${server.port}/push?n=${N}`;
const results = Object.fromEntries(names.map((k) => [k, []]));
const ratios = Object.fromEntries(names.map((k) => [k, []]));
for (let rep = -1; rep < REPS; rep++) {
  const order = rep < 0 ? names : names.map((_, j) => names[(j + rep) % names.length]);
  const row = {};
  for (const name of order) row[name] = await stacks[name](url);
  if (rep < 0) continue;
  for (const name of names) {
    results[name].push(row[name]);
    ratios[name].push(row[name] / row['raw ws']);
  }
}
await server.stop();
console.log(`receive: N=${N}, ${REPS} reps (median client CPU ns/msg; ratio to raw ws in the same rep)`);
for (const name of names) {
  console.log(`${name.padEnd(36)} ${fmt(median(results[name]), 0).padStart(6)} ns/msg  × raw: ${fmt(median(ratios[name]))} (${fmt(Math.min(...ratios[name]))}–${fmt(Math.max(...ratios[name]))})`);
}
