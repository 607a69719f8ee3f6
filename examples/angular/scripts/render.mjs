#!/usr/bin/env node
/**
 * Renders the app on the server, in this Node process, from the server bundle that `npm run build`
 * writes to dist/server/ (the `server` entry src/main.server.ts): Angular's `renderApplication`
 * with the server config (`PLATFORM_ID` is `'server'`), as an SSR server would for a request.
 *
 *   node scripts/render.mjs [ws-url] [--json]
 *
 * The page is rendered at `http://localhost/?ws=<ws-url>` (default ws://127.0.0.1:8787/), so a
 * socket, if the app made one, would go to that server. While it renders:
 *
 * - `globalThis.WebSocket` is a spy: each construction is recorded (with its URL), then handed to
 *   `ws`'s WebSocket, so a real connection would reach the server as well;
 * - `process.getActiveResourcesInfo()` (Node's live handles and requests: 'Timeout' for each
 *   pending timer, 'TCPSocketWrap' for a socket…) is read before the render, when `whenStable()`
 *   resolves (the app still alive) and after the render has returned (the app destroyed). A
 *   timer started and cleared here first checks that this Node lists timers at all (`control`).
 *
 * Prints the rendered HTML, or with `--json` one JSON report:
 * `{ html, sockets, timers: { control, atStable, afterRender }, added: { atStable, afterRender } }`:
 * the URLs of the WebSockets constructed, the number of timers pending beyond those before the
 * render, and every resource listed beyond those before the render. If `renderApplication` fails,
 * or never resolves (a `whenStable()` that never comes, with nothing left for Node to wait on),
 * it prints `{ error, sockets }` instead and exits with 1.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket as NodeWebSocket } from 'ws';

const args = process.argv.slice(2);
const json = args.includes('--json');
const wsUrl = args.find((arg) => !arg.startsWith('--')) ?? 'ws://127.0.0.1:8787/';
const dist = new URL('../dist/', import.meta.url);

const sockets = [];
globalThis.WebSocket = class SpyWebSocket extends NodeWebSocket {
  constructor(url, protocols) {
    sockets.push(String(url));
    super(url, protocols);
  }
};

const resources = () => process.getActiveResourcesInfo();
const timeouts = () => resources().filter((name) => name === 'Timeout').length;
/** What `after` lists beyond `before` (both as multisets). */
function added(before, after) {
  const left = [...before];
  return after.filter((name) => {
    const i = left.indexOf(name);
    if (i === -1) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Reports `{ error, sockets }` as JSON on stdout, whatever the mode. */
const printError = (error) => process.stdout.write(`${JSON.stringify({ error, sockets })}\n`);
function fail(error) {
  settled = true;
  printError(error);
  process.exit(1);
}

let settled = false;
process.on('exit', () => {
  if (settled) return;
  printError('renderApplication never resolved: whenStable() did not come and nothing was left to wait on');
  process.exitCode = 1;
});

const [{ default: bootstrap, renderApplication }, document] = await Promise.all([
  import(new URL('server/main.server.mjs', dist).href),
  readFile(fileURLToPath(new URL('server/index.server.html', dist)), 'utf8'),
]).catch((error) => fail(`no server build in dist/server (run npm run build): ${String(error)}`));

// The probe must see a timer when there is one, or its zeros below would mean nothing.
const beforeProbe = timeouts();
const probe = setTimeout(() => {}, 60_000);
const control = timeouts() - beforeProbe;
clearTimeout(probe);

// Node opens stdout and stderr on first use: open them now, so that a log line during the
// render does not count as a handle the render added.
void process.stdout, void process.stderr;
const before = resources();
let atStable;
const html = await renderApplication(
  async (context) => {
    const appRef = await bootstrap(context);
    // Registered before renderApplication's own whenStable(): runs first, with the app alive.
    void appRef.whenStable().then(() => (atStable = added(before, resources())));
    return appRef;
  },
  { document, url: `http://localhost/?ws=${encodeURIComponent(wsUrl)}`, allowedHosts: ['localhost'] },
).catch((error) => fail(`the render failed: ${error instanceof Error ? error.stack : String(error)}`));
// Let whatever the destroyed app scheduled for "right after" run (or show up) first.
await new Promise((resolve) => setImmediate(resolve));
const afterRender = added(before, resources());
settled = true;

const count = (names) => names?.filter((name) => name === 'Timeout').length;
const report = {
  html,
  sockets,
  timers: { control, atStable: count(atStable), afterRender: count(afterRender) },
  added: { atStable, afterRender },
};
if (json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  process.stdout.write(`${html}\n`);
  process.stderr.write(
    `WebSockets constructed: ${sockets.length}; timers pending at whenStable / after the render: ${report.timers.atStable} / ${report.timers.afterRender}\n`,
  );
}
// Exit now: a socket or timer the app leaked must not keep this process (and a test) waiting.
process.exit(0);
