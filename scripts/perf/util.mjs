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

/** Heap used after full GCs (needs --expose-gc), with a turn of the event loop between them. */
export async function heapAfterGc() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
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
 * Bundles `entry` (src/index.ts by default) as tsup builds dist (esbuild, ESM, es2022, no
 * keepNames) and imports it. Running the sources through tsx instead would measure tsx's
 * `__name()` wrappers: 256 bytes of properties on every named inner function.
 */
export async function loadRxtether(entry = 'src/index.ts') {
  const { build } = await import('esbuild');
  const { writeFileSync, rmSync } = await import('node:fs');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = await build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['rxjs', 'ws', 'node:*'],
    write: false,
    logLevel: 'silent',
  });
  const file = `${root}node_modules/.rxtether-perf-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`;
  writeFileSync(file, out.outputFiles[0].text);
  const mod = await import(file);
  rmSync(file);
  return mod;
}

/**
 * Reads (and deletes) a heap snapshot: Map(constructor or closure name → [count, self size]).
 * `nameOf(type, name, index)` may rename a node (heapdiff.mjs names arrays by their retainer).
 */
export async function summarizeSnapshot(file, nameOf) {
  const { readFileSync, rmSync } = await import('node:fs');
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const agg = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    let name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
    if (nameOf) name = nameOf(snap, i, type, name);
    const key = `${type === 'closure' ? 'closure ' : ''}${name}`.slice(0, 60);
    const a = agg.get(key) ?? [0, 0];
    a[0]++;
    a[1] += snap.nodes[i + iSize];
    agg.set(key, a);
  }
  return agg;
}
