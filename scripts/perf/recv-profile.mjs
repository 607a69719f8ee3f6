// The createSocket stack of recv.mjs alone, for node --cpu-prof:
// node --cpu-prof --cpu-prof-dir /tmp/prof scripts/perf/recv-profile.mjs [--keyed] [--n 400000]
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
const { createSocket, isNextInSequence } = await loadRxtether();
import { arg, loadRxtether, startServer } from './util.mjs';

const N = Number(arg('n', 400_000));
const keyed = process.argv.includes('--keyed');
const server = await startServer();
const url = `ws://127.0.0.1:${server.port}/push?n=${N}`;
for (let rep = 0; rep < 3; rep++) {
  const socket = createSocket({
    url,
    WebSocketCtor: WebSocket,
    heartbeat: { timeout: 60_000 },
    resume: { cursorOf: (m) => m.g },
    ...(keyed ? { channelKeyOf: (m) => m.channel } : {}),
  });
  let count = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  for (let i = 0; i < 10; i++) {
    const name = `t${i}`;
    socket
      .channel({ key: name, subscribe: () => ({ type: 'subscribe', channel: name }), matches: (m) => m.type === 'msg' && m.channel === name, cursorOf: (m) => m.seq, isNext: isNextInSequence })
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
