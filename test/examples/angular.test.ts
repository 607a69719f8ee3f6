/**
 * examples/angular: installs the example's own dependencies when they are missing, builds it
 * with its own `npm run build` (Angular's application builder: browser and server bundles),
 * renders it on the server in a child Node process (the example's scripts/render.mjs, with a
 * feed server listening on 127.0.0.1) and checks that the render completes with the initial
 * status and makes no WebSocket, no connection and no timer; then serves that server-rendered
 * page and dist/browser on 127.0.0.1 next to the example's unstable server, and drives the page
 * in Debian's Chromium: hydration keeps the server's DOM, the status text through a drop and a
 * restart, ticks with no gap after recovery, `whenStable()` while reconnecting, and the socket
 * closed with 1000 when the app is destroyed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createTcpServer } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type UnstableServer, startUnstableServer } from '../../examples/angular/server/unstable-server.js';

const exampleDir = fileURLToPath(new URL('../../examples/angular/', import.meta.url));
const distDir = join(exampleDir, 'dist', 'browser');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Runs a command in the example's folder; rejects with its output if it fails. */
function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: exampleDir,
      env: { ...process.env, CI: 'true', NG_CLI_ANALYTICS: 'false', NG_FORCE_TTY: 'false', npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

/** `npm ci` unless node_modules was installed from the current lock file. */
function needsInstall(): boolean {
  const installed = join(exampleDir, 'node_modules', '.package-lock.json');
  return !existsSync(installed) || statSync(installed).mtimeMs < statSync(join(exampleDir, 'package-lock.json')).mtimeMs;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.ico': 'image/x-icon',
};

/**
 * A static server for dist/browser; every other path gets `page` (the server-rendered page), as
 * an SSR server's fallback would.
 */
async function serveDist(page: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(distDir, path);
    if (!(file.startsWith(distDir + sep) && existsSync(file) && statSync(file).isFile())) {
      res.writeHead(200, { 'content-type': TYPES['.html'] }).end(page);
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** What scripts/render.mjs prints with `--json` (see there). */
interface RenderReport {
  readonly error?: string;
  readonly html?: string;
  readonly sockets: readonly string[];
  readonly timers?: { readonly control: number; readonly atStable: number | undefined; readonly afterRender: number };
  readonly added?: { readonly atStable: readonly string[] | undefined; readonly afterRender: readonly string[] };
}

/**
 * Renders the app on the server: scripts/render.mjs in a child Node process, pointed at a TCP
 * server on 127.0.0.1 that counts every connection made to it until the child has exited.
 */
async function renderOnServer(): Promise<{ report: RenderReport; exitCode: number | null; connections: number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const feed = createTcpServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
  try {
    const url = `ws://127.0.0.1:${(feed.address() as AddressInfo).port}/`;
    const child = spawn(process.execPath, ['scripts/render.mjs', url, '--json'], { cwd: exampleDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const line = stdout.trim().split('\n').pop() ?? '';
    let report: RenderReport;
    try {
      report = JSON.parse(line) as RenderReport;
    } catch {
      report = { error: `scripts/render.mjs exited with ${exitCode} and printed no report:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`, sockets: [] };
    }
    return { report, exitCode, connections };
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => feed.close(resolve));
  }
}

interface PageHooks {
  rxtetherExample: { whenStable(): Promise<void>; destroy(): void };
  statusLog: string[];
  /** The status element of the page as it arrived, before the app's script ran. */
  serverStatus: Element | null;
  serverStatusText: string | undefined;
}

const text = (page: Page, testId: string): Promise<string> =>
  page.locator(`[data-testid="${testId}"]`).innerText().then((t) => t.trim());
const number = async (page: Page, testId: string): Promise<number> => Number(await text(page, testId));

/** Waits (by condition, in the page) until the element's text matches. */
async function waitForText(page: Page, testId: string, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    ([id, source]) => new RegExp(source).test(document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() ?? ''),
    [testId, pattern.source] as const,
  );
  return text(page, testId);
}

/** Waits until the element shows a number at least `min`. */
async function waitForAtLeast(page: Page, testId: string, min: number): Promise<number> {
  await page.waitForFunction(
    ([id, least]) => Number(document.querySelector(`[data-testid="${id}"]`)?.textContent) >= least,
    [testId, min] as const,
  );
  return number(page, testId);
}

describe('examples/angular', () => {
  let browser: Browser | undefined;
  let http: Server | undefined;
  let feed: UnstableServer | undefined;
  let ssr: Awaited<ReturnType<typeof renderOnServer>>;

  beforeAll(async () => {
    if (needsInstall()) await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund']);
    await run('npm', ['run', 'build', '--', '--stats-json']);
    ssr = await renderOnServer();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await feed?.close();
    if (http) {
      http.closeAllConnections();
      await new Promise((resolve) => http?.close(resolve));
    }
  });

  it('should bundle rxtether from the sources with one copy of rxjs, the example\'s own', () => {
    const stats = JSON.parse(readFileSync(join(exampleDir, 'dist', 'stats.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(stats.inputs);
    expect(inputs).toContain('../../src/client.ts');
    const rxjs = inputs.filter((path) => /(^|\/)node_modules\/rxjs\//.test(path));
    expect(rxjs.length).toBeGreaterThan(0);
    expect(rxjs.filter((path) => !path.startsWith('node_modules/rxjs/'))).toEqual([]);
  });

  it('should render on the server with the initial status, and construct no WebSocket, open no connection and leave no timer', () => {
    const { report, exitCode, connections } = ssr;
    // Completes: renderApplication() awaits whenStable(), and the render returned its HTML.
    expect(report.error, 'scripts/render.mjs failed').toBeUndefined();
    expect(exitCode).toBe(0);
    // The rest are soft: a failure reports every broken claim at once.
    expect.soft(report.timers?.atStable, 'whenStable() resolved during the render').toBeDefined();
    // Nothing reached for the network: the globalThis.WebSocket spy saw no construction, and the
    // feed server (whose URL the page had, in ?ws=) no connection.
    expect.soft(report.sockets, 'WebSockets constructed during the server render').toEqual([]);
    expect.soft(connections, 'connections to the feed server during the server render').toBe(0);
    // The page as the server renders it: the initial state, `idle` with no ticks.
    const html = report.html ?? '';
    const status = /<p [^>]*data-testid="status"[^>]*>[^<]*<\/p>/.exec(html)?.[0];
    expect.soft(status, 'the server-rendered status').toMatch(/data-state="idle"[^>]*>Idle</);
    expect.soft(html, 'the server-rendered tick count').toMatch(/data-testid="received"[^>]*>0</);
    // No timer: the probe sees one when there is one (control), and none was pending once the
    // app was stable, nor after the render; and no other handle (socket, connect) was left.
    expect.soft(report.timers?.control, 'process.getActiveResourcesInfo() lists a pending timer').toBe(1);
    expect.soft(report.timers?.atStable, 'timers pending when the server app was stable').toBe(0);
    expect.soft(report.timers?.afterRender, 'timers pending after the server render').toBe(0);
    expect.soft(report.added?.atStable, 'Node resources added by the server render, at whenStable()').toEqual([]);
    expect.soft(report.added?.afterRender, 'Node resources added by the server render, after it').toEqual([]);
  });

  it('should show the status through a drop and a restart, resume with no gap, stay stable while reconnecting, and close on destroy', async () => {
    feed = await startUnstableServer({ interval: 100 });
    expect(ssr.report.html, 'the server-rendered page (see the test above)').toBeDefined();
    http = await serveDist(ssr.report.html ?? '');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    page.setDefaultTimeout(60_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    // Every status text the page renders, in order (a MutationObserver cannot miss one).
    await page.addInitScript(() => {
      const log: string[] = [];
      Object.assign(window, { statusLog: log });
      new MutationObserver(() => {
        const status = document.querySelector('[data-testid="status"]')?.textContent?.trim();
        if (status !== undefined && status !== log[log.length - 1]) log.push(status);
      }).observe(document, { subtree: true, childList: true, characterData: true });
      // The page is parsed ('interactive') before its module scripts run: the server's DOM.
      document.addEventListener('readystatechange', () => {
        if (document.readyState !== 'interactive') return;
        const status = document.querySelector('[data-testid="status"]');
        Object.assign(window, { serverStatus: status, serverStatusText: status?.textContent?.trim() });
      });
    });
    const whenStable = () => page.evaluate(() => (window as unknown as PageHooks).rxtetherExample.whenStable());
    const statusLog = () => page.evaluate(() => (window as unknown as PageHooks).statusLog);

    const { port } = http.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/?e2e&ws=${encodeURIComponent(feed.url)}`);

    // Connected, ticks flowing, and the app is stable with a live socket and its heartbeat.
    await waitForText(page, 'status', /^Connected$/);
    await waitForAtLeast(page, 'received', 3);
    await whenStable();

    // Hydrated: the page arrived rendered by the server (Idle), and the app took over that very
    // element instead of rendering a new one.
    const hydration = await page.evaluate(() => {
      const hooks = window as unknown as PageHooks;
      return {
        text: hooks.serverStatusText,
        same: hooks.serverStatus !== null && hooks.serverStatus === document.querySelector('[data-testid="status"]'),
      };
    });
    expect(hydration, 'the status element the server rendered, kept by hydration').toEqual({ text: 'Idle', same: true });

    // A drop (no close frame): reconnect on the backoff, resume, go on.
    const dropped = feed.nextClose();
    feed.drop();
    expect(await dropped).toBe(1006);
    await waitForAtLeast(page, 'reconnects', 1);
    await waitForText(page, 'status', /^Connected$/);
    await waitForAtLeast(page, 'last', feed.published + 1);

    // The server stops: refused connections, the countdown, and a stable app meanwhile.
    await feed.stop();
    const stoppedAt = feed.published;
    await waitForText(page, 'status', /^Reconnecting in \d+ s…$/);
    await whenStable();
    expect(await text(page, 'status')).toMatch(/^(Reconnecting in \d+ s…|Connecting…)$/);
    await feed.untilPublished(stoppedAt + 5); // ticks the page must catch up on

    // Back up; `online` cuts the backoff wait short (the service's retryNow).
    await feed.start();
    const restartedAt = feed.published;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitForText(page, 'status', /^Connected$/);
    const last = await waitForAtLeast(page, 'last', restartedAt + 5);

    // Every tick once, in order, from the first one seen: nothing lost across both outages.
    const tally = await page.evaluate(() =>
      Object.fromEntries(['first', 'last', 'received', 'gaps'].map((id) => [id, document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim()])),
    );
    expect(tally['gaps']).toBe('0 / 0');
    const [first, received] = [Number(tally['first']), Number(tally['received'])];
    expect(Number(tally['last'])).toBeGreaterThanOrEqual(last);
    expect(received).toBe(Number(tally['last']) - first + 1);
    expect(first).toBeLessThan(stoppedAt);

    const log = await statusLog();
    expect(log[0]).toMatch(/^(Idle|Connecting…)$/);
    const reconnecting = log.findIndex((s) => /^Reconnecting in \d+ s…$/.test(s));
    expect(reconnecting).toBeGreaterThan(log.indexOf('Connected'));
    expect(log.lastIndexOf('Connected')).toBeGreaterThan(reconnecting);

    // Destroying the app closes the socket for good, with 1000.
    const closed = feed.nextClose();
    await page.evaluate(() => (window as unknown as PageHooks).rxtetherExample.destroy());
    expect(await closed).toBe(1000);
    expect(errors).toEqual([]);
  }, 120_000);
});
