import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts scripts/perf/server.mjs in a child process; resolves with { port, stop }. */
export function startServer() {
  const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), [], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', ({ port }) =>
      resolve({ port, stop: () => new Promise((r) => { child.once('exit', r); child.send('exit'); }) }),
    );
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const fmt = (x, d = 2) => x.toFixed(d);
export const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

/**
 * Bundles src/index.ts as tsup builds dist (esbuild, ESM, es2022, rxjs and ws external, no
 * keepNames) and imports it. Running the sources through tsx instead would measure tsx's
 * `__name()` wrappers: 256 bytes of properties on every named inner function.
 */
export async function loadRxtether() {
  const { build } = await import('esbuild');
  const { writeFileSync } = await import('node:fs');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = await build({
    entryPoints: [`${root}src/index.ts`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['rxjs', 'ws', 'node:*'],
    write: false,
    logLevel: 'silent',
  });
  const file = `${root}node_modules/.rxtether-perf-${process.pid}.mjs`;
  writeFileSync(file, out.outputFiles[0].text);
  const mod = await import(file);
  (await import('node:fs')).rmSync(file);
  return mod;
}
