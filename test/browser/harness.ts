// The real-browser rig: Debian's Chromium driven by playwright-core, a page that runs
// rxtether bundled from its sources (esbuild), served from 127.0.0.1 port 0 by this process.
// Nothing is downloaded: a missing /usr/bin/chromium fails every test with the way to fix it.
import { existsSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type RawData, WebSocketServer } from 'ws';
import type { PageApi } from './page/api.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const PAGE_ENTRY = fileURLToPath(new URL('./page/main.ts', import.meta.url));

/** Launches Debian's Chromium, or fails with the command that installs it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The browser suite needs Chromium at ${CHROMIUM_PATH}, which is missing. ` +
        'Install it with `bash scripts/ensure-chromium.sh` as root (it runs `apt-get install -y chromium`). ' +
        'No browser is ever downloaded by the tests.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 15_000 });
}

/** rxtether's sources plus page/main.ts, as one classic script for the page. */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [PAGE_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no bundle');
  return file.text;
}

export interface PageServer {
  /** `http://127.0.0.1:PORT/`: the page, which loads the bundle. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the page and its bundle on 127.0.0.1, port 0, plus a WebSocket echo at `/echo` (same
 * origin, for relative URLs). The page must come from loopback: Chromium's Local Network
 * Access blocks WebSockets to 127.0.0.1 from a public or opaque origin such as `about:blank`.
 */
export async function servePage(bundle: string): Promise<PageServer> {
  const html = '<!doctype html><meta charset="utf-8"><title>rxtether browser suite</title><script src="/bundle.js"></script>';
  const echo = new WebSocketServer({ noServer: true });
  echo.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => ws.send(isBinary ? data : data.toString()));
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(html);
    } else if (request.url === '/bundle.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      response.end(bundle);
    } else {
      response.writeHead(404).end();
    }
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (request.url !== '/echo') return socket.destroy();
    echo.handleUpgrade(request, socket, head, (ws) => echo.emit('connection', ws, request));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of echo.clients) client.terminate();
        echo.close();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

type Api = PageApi;
type Fn<K extends keyof Api> = Api[K] extends (...args: infer A) => infer R ? { args: A; result: Awaited<R> } : never;

export interface BrowserRig {
  /** The current test's page (a fresh context per test). */
  page(): Page;
  context(): BrowserContext;
  /** Calls `window.rxtetherTest[name](...args)` in the page and returns its (serializable) result. */
  call<K extends keyof Api>(name: K, ...args: Fn<K>['args']): Promise<Fn<K>['result']>;
  /** Console errors and uncaught page errors of the current test, for diagnostics. */
  log(): string[];
}

/**
 * Registers the file's hooks: one Chromium and one page server for the file (beforeAll /
 * afterAll), and a fresh context and page per test, so that `setOffline` and page state never
 * leak between tests. An uncaught error in the page fails the test that caused it.
 */
export function useBrowser(): BrowserRig {
  let browser: Browser | undefined;
  let server: PageServer | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let log: string[] = [];
  let pageErrors: string[] = [];
  let startError: unknown;

  // A rig that cannot start (no Chromium) fails every test with the reason, rather than
  // leaving them reported as skipped.
  beforeAll(async () => {
    try {
      const bundle = await bundlePage();
      server = await servePage(bundle);
      browser = await launchChromium();
    } catch (error) {
      startError = error;
    }
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    if (startError !== undefined) throw startError;
    if (!browser || !server) throw new Error('the browser rig did not start');
    log = [];
    pageErrors = [];
    context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') log.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => {
      pageErrors.push(String(error));
      log.push(`pageerror: ${String(error)}`);
    });
    await page.goto(server.url);
    await page.waitForFunction(() => window.rxtetherTest !== undefined);
  });

  afterEach(async () => {
    const errors = pageErrors;
    await context?.close();
    context = undefined;
    page = undefined;
    if (errors.length > 0) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
  });

  return {
    page: () => {
      if (!page) throw new Error('no page: call it inside a test');
      return page;
    },
    context: () => {
      if (!context) throw new Error('no context: call it inside a test');
      return context;
    },
    call: async (name, ...args) => {
      if (!page) throw new Error('no page: call it inside a test');
      const result = await page.evaluate(
        ({ name, args }) => {
          const api = window.rxtetherTest as unknown as Record<string, (...a: unknown[]) => unknown>;
          return api[name]!(...args);
        },
        { name, args: args as unknown[] },
      );
      return result as never;
    },
    log: () => [...log],
  };
}
