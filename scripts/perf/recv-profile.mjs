// The createSocket stack of recv.mjs alone, for node --cpu-prof:
// node --cpu-prof --cpu-prof-dir /tmp/prof scripts/perf/recv-profile.mjs [--keyed | --bench] [--n 400000]
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
const { createSocket, isNextInSequence } = await loadRxtether();
import { arg, loadRxtether, startServer } from './util.mjs';

const N = Number(arg('n', 400_000));
const keyed = process.argv.includes('--keyed');
const bench = process.argv.includes('--bench');
const server = await startServer();
const url = `ws://127.0.0.1:${server.port}/push?n=${N}`;
for (let rep = 0; rep < 3; rep++) {
  // --bench: configured as bench/stacks.ts's full client (pings, resume with isNext, channels
  // routed by channelKeyOf alone).
  const socket = createSocket(
    bench
      ? {
          url,
          WebSocketCtor: WebSocket,
          heartbeat: { interval: 15_000, timeout: 45_000, message: () => ({ type: 'ping' }) },
          resume: { cursorOf: (m) => m.g, isNext: isNextInSequence },
          channelKeyOf: (m) => m.channel,
        }
      : {
          url,
          WebSocketCtor: WebSocket,
          heartbeat: { timeout: 60_000 },
          resume: { cursorOf: (m) => m.g },
          ...(keyed ? { channelKeyOf: (m) => m.channel } : {}),
        },
  );
  let count = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  for (let i = 0; i < 10; i++) {
    const name = `t${i}`;
    socket
      .channel(
        bench
          ? { key: name, subscribe: () => ({ type: 'subscribe', channel: name }) }
          : { key: name, subscribe: () => ({ type: 'subscribe', channel: name }), matches: (m) => m.type === 'msg' && m.channel === name, cursorOf: (m) => m.seq, isNext: isNextInSequence },
      )
      .subscribe(() => count++);
  }
  socket.messages$.pipe(filter((m) => m.type === 'end')).subscribe(() => done());
  await firstValueFrom(socket.status$.pipe(filter((s) => s.state === 'open')));
  const c0 = process.cpuUsage();
  socket.send('go');
  await finished;
  const c = process.cpuUsage(c0);
  console.log(`${count} msgs, ${(((c.user + c.system) * 1000) / N).toFixed(0)} ns/msg`);
  socket.close();
}
await server.stop();
