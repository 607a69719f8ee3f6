// A ws server for scripts/perf, run in its own process (the client's CPU is measured alone).
// Paths: /sink?n=N counts N client messages {"seq":i} (checking order), then answers "done:<n>:<errors>";
// /push?n=N waits for "go", then pushes N ~100-byte JSON frames over 10 topics; /idle holds the socket.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const topics = Array.from({ length: 10 }, (_, i) => `t${i}`);

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://x');
  const n = Number(url.searchParams.get('n') ?? 0);
  if (url.pathname === '/sink') {
    let count = 0;
    let errors = 0;
    // Reads the seq digits of {"seq":123,...} from the bytes: the server must not be the bottleneck.
    ws.on('message', (data) => {
      if (data[0] !== 0x7b || data[2] !== 0x73) return; // not {"seq": a subscribe/hello frame
      let seq = 0;
      for (let i = 7; data[i] >= 0x30 && data[i] <= 0x39; i++) seq = seq * 10 + data[i] - 0x30;
      if (seq !== count) errors++;
      count++;
      if (count === n) ws.send(`done:${count}:${errors}`);
    });
  } else if (url.pathname === '/push') {
    ws.on('message', (data) => {
      if (data.toString() !== '"go"') return;
      // Everything in one corked burst: the client always finds a full read buffer, so the
      // syscalls per message are the same for every stack, however fast it consumes.
      const perTopic = new Array(10).fill(0);
      ws._socket.cork();
      for (let seq = 0; seq < n; seq++) {
        const t = seq % 10;
        perTopic[t]++;
        ws.send(
          `{"type":"msg","channel":"${topics[t]}","seq":${perTopic[t]},"price":${(100 + (seq % 997) / 7).toFixed(3)},"size":${seq % 5000},"side":"${seq % 2 ? 'buy' : 'sell'}","g":${seq + 1}}`,
        );
      }
      ws.send('{"type":"end"}');
      ws._socket.uncork();
    });
  }
});

wss.on('listening', () => process.send?.({ port: wss.address().port }));
process.on('message', (m) => {
  if (m === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
