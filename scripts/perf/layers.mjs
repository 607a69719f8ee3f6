// CPU per message added by each client feature, without a network: an in-memory socket pushes
// N frames (the ones of recv.mjs) through connect() or createSocket; ns per message over a
// JSON.parse baseline. Variants interleaved in chunks; median of reps. With --preparsed, every
// stack is given its messages already parsed (a `deserialize` that returns a prepared object),
// so that the figures are the pipeline's alone, over a baseline that only counts.
// node scripts/perf/layers.mjs [--n 400000] [--reps 5] [--only 'substring of a variant'] [--preparsed]
import { Subject, filter, firstValueFrom } from 'rxjs';
import { arg, fmt, loadRxtether, median } from './util.mjs';

const { connect, createSocket, isNextInSequence } = await loadRxtether();
const N = Number(arg('n', 400_000));
const REPS = Number(arg('reps', 5));
const CHUNK = 10_000;
const PREPARSED = process.argv.includes('--preparsed');
const frames = Array.from({ length: N }, (_, seq) => {
  const t = seq % 10;
  return `{"type":"msg","channel":"t${t}","seq":${Math.floor(seq / 10) + 1},"price":${(100 + (seq % 997) / 7).toFixed(3)},"size":${seq % 5000},"side":"${seq % 2 ? 'buy' : 'sell'}","g":${seq + 1}}`;
});
// --preparsed: the frames parsed beforehand, and a deserialize that looks them up by index.
const parsed = PREPARSED ? frames.map((f) => JSON.parse(f)) : undefined;
const decode = PREPARSED ? { deserialize: (i) => parsed[i] } : {};

class Fake {
  readyState = 1; protocol = ''; binaryType = ''; onopen = null; onmessage = null; onerror = null; onclose = null;
  send() {}
  close(code = 1000, reason = '') { this.readyState = 3; const h = this.onclose; if (h) queueMicrotask(() => h({ code, reason, wasClean: true })); }
  push(from, to) { for (let i = from; i < to; i++) this.onmessage({ data: PREPARSED ? i : frames[i] }); }
}

const channel = (name, i, count, cursors) => ({
  key: name,
  subscribe: () => ({ type: 'subscribe', channel: name }),
  ...(cursors === 'keyOnly' ? {} : { matches: (m) => m.type === 'msg' && m.channel === name }),
  ...(cursors === true ? { cursorOf: (m) => m.seq, isNext: isNextInSequence } : {}),
});

async function client(extra, channels, cursors) {
  const fake = new Fake();
  const socket = createSocket({ url: 'ws://fake/', socketFactory: () => fake, ...decode, ...extra });
  const counts = new Array(10).fill(0);
  const subs = [];
  if (channels) for (let i = 0; i < 10; i++) subs.push(socket.channel(channel(`t${i}`, i, counts, cursors)).subscribe(() => counts[i]++));
  else subs.push(socket.messages$.subscribe(() => counts[0]++));
  await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
  return { push: (a, b) => fake.push(a, b), count: () => counts.reduce((x, y) => x + y, 0), end: () => socket.close() };
}

const variants = {
  'JSON.parse only': async () => {
    let c = 0;
    return { push: (a, b) => { for (let i = a; i < b; i++) if (PREPARSED ? parsed[i] : JSON.parse(frames[i])) c++; }, count: () => c, end() {} };
  },
  'connect()': async () => {
    const fake = new Fake(); let c = 0;
    const sub = connect({ url: 'ws://fake/', socketFactory: () => fake, ...decode }).subscribe(() => c++);
    return { push: (a, b) => fake.push(a, b), count: () => c, end: () => sub.unsubscribe() };
  },
  'createSocket, messages$': () => client({}, false),
  '+ heartbeat': () => client({ heartbeat: { timeout: 60_000 } }, false),
  '+ resume (connection-wide)': () => client({ heartbeat: { timeout: 60_000 }, resume: { cursorOf: (m) => m.g } }, false),
  '+ 10 channels (matches)': () => client({ heartbeat: { timeout: 60_000 }, resume: { cursorOf: (m) => m.g } }, true),
  '+ 10 channels, channelKeyOf': () => client({ heartbeat: { timeout: 60_000 }, resume: { cursorOf: (m) => m.g }, channelKeyOf: (m) => m.channel }, true),
  // What bench/stacks.ts's full client configures: a heartbeat with pings, resume with isNext,
  // channels routed by channelKeyOf alone (no matches).
  'bench full client': () => client({ heartbeat: { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) }, resume: { cursorOf: (m) => m.g, isNext: isNextInSequence }, channelKeyOf: (m) => m.channel }, true, 'keyOnly'),
  '+ per-channel cursors (keyed)': () => client({ heartbeat: { timeout: 60_000 }, resume: { cursorOf: (m) => m.g }, channelKeyOf: (m) => m.channel }, true, true),
  // Not rxtether: the bench full client's work per message written as one hand-made function,
  // as bench/stacks.ts's hand-fused floor does it over a real socket (decode, the deadline's
  // clock read, the resume checks, route by key, the channel subscriber), to show what fusing
  // the stages could save at best.
  'hand-fused floor (not rxtether)': async () => {
    const fake = new Fake();
    const counts = new Array(10).fill(0);
    const routes = new Map(Array.from({ length: 10 }, (_, i) => {
      const subject = new Subject();
      subject.subscribe(() => counts[i]++);
      return [`t${i}`, subject];
    }));
    let last;
    let gaps = 0;
    let lastAlive = 0;
    fake.onmessage = (event) => {
      const m = PREPARSED ? parsed[event.data] : JSON.parse(event.data);
      lastAlive = Date.now();
      if (m.type === 'msg') {
        if (last !== undefined && m.g <= last) return;
        if (last !== undefined && m.g !== last + 1) gaps++;
        last = m.g;
      }
      routes.get(m.channel)?.next(m);
    };
    return { push: (a, b) => fake.push(a, b), count: () => counts.reduce((x, y) => x + y, 0), end: () => void (lastAlive + gaps) };
  },
};
const only = arg('only', undefined);
const names = Object.keys(variants).filter((n) => !only || n === 'JSON.parse only' || n.includes(only));
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let rep = -1; rep < REPS; rep++) {
  const runs = {};
  for (const n of names) runs[n] = { ...(await variants[n]()), ns: 0 };
  for (let from = 0; from < N; from += CHUNK) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(j + from / CHUNK) % names.length];
      const t0 = process.hrtime.bigint();
      runs[n].push(from, Math.min(N, from + CHUNK));
      runs[n].ns += Number(process.hrtime.bigint() - t0);
    }
  }
  for (const n of names) {
    if (runs[n].count() !== N) throw new Error(`WRONG ${n}: ${runs[n].count()}`);
    runs[n].end();
    if (rep >= 0) results[n].push(runs[n].ns / N);
  }
}
console.log(`layers, in-memory socket: N=${N}, ${REPS} reps, median ns/msg (× JSON.parse only)${PREPARSED ? '; --preparsed: the baseline only counts, ratios mean little' : ''}`);
const base = median(results['JSON.parse only']);
for (const n of names) console.log(`${n.padEnd(32)} ${fmt(median(results[n]), 0).padStart(6)} ns  ${fmt(median(results[n]) / base)}×`);
