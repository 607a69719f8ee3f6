/**
 * Runs the unstable server for `ng serve`: `npm run server -- --port 8787 --chaos 10`.
 *
 * Type a command and Enter: `drop` (cut every connection), `stop` (refuse connections),
 * `start`, `restart [seconds]` (stop, wait, start; default 3). `--chaos N` drops or restarts
 * on its own every N seconds.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startUnstableServer } from './unstable-server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    chaos: { type: 'string' },
  },
});

const server = await startUnstableServer({ port: Number(values.port), host: values.host });
const say = (text: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
say(`listening on ${server.url} — commands: drop | stop | start | restart [seconds]`);

async function restart(seconds: number): Promise<void> {
  await server.stop();
  say(`stopped for ${seconds} s (seq ${server.published})`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await server.start();
  say(`listening again (seq ${server.published})`);
}

async function run(line: string): Promise<void> {
  const [command = '', arg] = line.trim().split(/\s+/);
  if (command === 'drop') {
    say(`dropping ${server.connections} connection(s) (seq ${server.published})`);
    server.drop();
  } else if (command === 'stop') {
    await server.stop();
    say(`stopped: connections are refused (seq ${server.published})`);
  } else if (command === 'start') {
    await server.start();
    say(`listening again on ${server.url}`);
  } else if (command === 'restart') {
    await restart(Number(arg ?? 3));
  } else if (command !== '') {
    say(`unknown command "${command}": drop | stop | start | restart [seconds]`);
  }
}

// One command at a time, in the order typed.
let queue = Promise.resolve();
const enqueue = (line: string): void => {
  queue = queue.then(() => run(line)).catch((error: unknown) => say(`failed: ${String(error)}`));
};
createInterface({ input: process.stdin }).on('line', enqueue);

if (values.chaos !== undefined) {
  const every = Number(values.chaos) * 1000;
  let round = 0;
  setInterval(() => enqueue(++round % 2 === 0 ? 'restart 4' : 'drop'), every);
}

process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
