// Which objects an idle connection retains: heap snapshots before and after N connections of one
// stack, aggregated by constructor (count and self size per connection).
// node --expose-gc scripts/perf/heapdiff.mjs --stack 'bare connect' [--n 500]
import { writeHeapSnapshot } from 'node:v8';
import { Subject, filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
const { connect, createSocket } = await loadRxtether();
import { arg, loadRxtether, startServer, summarizeSnapshot } from './util.mjs';

const N = Number(arg('n', 500));
const stack = arg('stack', 'bare connect');
const server = await startServer();
const url = `ws://127.0.0.1:${server.port}/idle`;
const keep = [];
const open = {
  async 'raw ws'() {
    const ws = new WebSocket(url);
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
  // As bench/stacks.ts opens raw ws in scenario 4 (its closures included).
  async 'bench raw'() {
    let opened;
    const p = new Promise((r) => (opened = r));
    let ws;
    let closed = false;
    const open = () => {
      const socket = new WebSocket(url);
      ws = socket;
      socket.on('open', () => opened());
      socket.on('message', (data, isBinary) => { if (!isBinary) JSON.parse(data.toString()); });
      socket.on('error', () => {});
      socket.on('close', () => { if (!closed) open(); });
    };
    open();
    keep.push({ send: (m) => ws.send(JSON.stringify(m)), close: () => { closed = true; ws.close(); } });
    await p;
  },
  // As bench/stacks.ts opens them in scenario 4 (a connect() and an outgoing Subject each).
  async 'bench connect'() {
    let opened;
    const p = new Promise((r) => (opened = r));
    const outgoing = new Subject();
    const channels = [];
    const sub = connect({ url, WebSocketCtor: WebSocket, handshake: () => channels, outgoing, onOpen: () => queueMicrotask(opened) }).subscribe({ next() {}, error() {} });
    keep.push({ send: (m) => outgoing.next(m), close: () => sub.unsubscribe() });
    await p;
  },
  async 'createSocket, not subscribed'() {
    keep.push(createSocket({ url, WebSocketCtor: WebSocket, heartbeat: { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) }, resume: { cursorOf: (m) => m.seq }, channelKeyOf: (m) => m.channel }));
  },
  async 'createSocket + 1 channel'() {
    const socket = createSocket({ url, WebSocketCtor: WebSocket, heartbeat: { timeout: 60_000 } });
    const sub = socket.channel({ key: 'a', subscribe: () => ({ type: 'subscribe', channel: 'a' }), matches: (m) => m.channel === 'a' }).subscribe({ next() {}, error() {} });
    await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
    keep.push(socket, sub);
  },
}[stack];
const gc = async () => { for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } };
/** "Owner.edge" of each node's first retainer, by node offset (built once per snapshot). */
const retainersOf = new WeakMap();
function retainerOf(snap, offset) {
  let retainer = retainersOf.get(snap);
  if (!retainer) {
    retainer = new Map();
    const f = snap.snapshot.meta.node_fields;
    const types = snap.snapshot.meta.node_types[0];
    const ef = snap.snapshot.meta.edge_fields;
    const eTypes = snap.snapshot.meta.edge_types[0];
    const w = f.length, ew = ef.length;
    const it = f.indexOf('type'), iname = f.indexOf('name'), iec = f.indexOf('edge_count');
    const ito = ef.indexOf('to_node'), ien = ef.indexOf('name_or_index'), iet = ef.indexOf('type');
    for (let i = 0, e = 0; i < snap.nodes.length; i += w) {
      const count = snap.nodes[i + iec];
      const ownerType = types[snap.nodes[i + it]];
      const owner = ownerType === 'object' || ownerType === 'closure' ? snap.strings[snap.nodes[i + iname]] : `(${ownerType})`;
      for (let k = 0; k < count; k++, e += ew) {
        const to = snap.edges[e + ito];
        if (retainer.has(to)) continue;
        const et = eTypes[snap.edges[e + iet]];
        const en = et === 'element' || et === 'hidden' ? `[${et}]` : snap.strings[snap.edges[e + ien]];
        retainer.set(to, `${owner}.${en}`);
      }
    }
    retainersOf.set(snap, retainer);
  }
  return retainer.get(offset);
}

// --code names code objects; --retainers names arrays, hidden nodes, plain Objects and
// contexts by their first retainer: "(array) <- Owner.edge".
const summarize = (file) =>
  summarizeSnapshot(file, (snap, offset, type, name) => {
    if (type === 'code' && process.argv.includes('--code')) {
      name = `(code) ${snap.strings[snap.nodes[offset + snap.snapshot.meta.node_fields.indexOf('name')]]}`;
    }
    if (process.argv.includes('--retainers') && (type === 'array' || type === 'hidden' || name === 'Array' || name === 'Object' || name === 'system / Context')) {
      name += ` <- ${retainerOf(snap, offset) ?? '?'}`;
    }
    return name;
  });
await open();
await gc();
const a = await summarize(writeHeapSnapshot('/tmp/before.heapsnapshot'));
for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: Math.min(100, N - i) }, open));
await gc();
const b = await summarize(writeHeapSnapshot('/tmp/after.heapsnapshot'));
const rows = [];
let total = 0;
for (const [k, [n, s]] of b) {
  const [n0, s0] = a.get(k) ?? [0, 0];
  const dn = (n - n0) / N, ds = (s - s0) / N;
  total += ds;
  if (Math.abs(ds) >= 16) rows.push([k, dn, ds]);
}
rows.sort((x, y) => y[2] - x[2]);
console.log(`${stack}: ${total.toFixed(0)} B per connection (snapshot self sizes)`);
for (const [k, dn, ds] of rows.slice(0, Number(arg('top', 45)))) console.log(`${ds.toFixed(0).padStart(6)} B ${dn.toFixed(2).padStart(6)} × ${k}`);
await server.stop();
process.exit(0);
