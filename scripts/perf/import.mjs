// import('rxtether') cost over import('rxjs') alone, in fresh processes, alternating, several reps.
// The sources are bundled as dist would be (esbuild, ESM, rxjs and ws external).
// node scripts/perf/import.mjs [--reps 15]
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { arg, fmt, median } from './util.mjs';

const REPS = Number(arg('reps', 15));
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = await build({
  entryPoints: [`${root}src/index.ts`],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  external: ['rxjs', 'ws', 'node:*'],
  write: false,
  logLevel: 'silent',
});
const entry = `${root}node_modules/.rxtether-perf-import.mjs`;
writeFileSync(entry, out.outputFiles[0].text);
const time = (spec) =>
  Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', `const t=performance.now(); await import(${JSON.stringify(spec)}); console.log(performance.now()-t)`], { cwd: root }).toString(),
  );
// Also: rxjs first, then rxtether, timed separately in the same fresh process: the increment
// alone, far steadier than the difference of two processes on a busy machine.
const after = () =>
  Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', `await import('rxjs'); const t=performance.now(); await import(${JSON.stringify(entry)}); console.log(performance.now()-t)`], { cwd: root }).toString(),
  );
const rx = [];
const rt = [];
const diff = [];
const inc = [];
for (let i = 0; i < REPS + 2; i++) {
  const a = time('rxjs');
  const b = time(entry);
  const c = after();
  if (i < 2) continue;
  rx.push(a);
  rt.push(b);
  diff.push(b - a);
  inc.push(c);
}
rmSync(entry);
console.log(`import, ${REPS} reps in fresh processes (median, min–max), bundle ${(out.outputFiles[0].text.length / 1024).toFixed(1)} KiB`);
console.log(`rxjs alone               ${fmt(median(rx))} ms (${fmt(Math.min(...rx))}–${fmt(Math.max(...rx))})`);
console.log(`rxtether (imports rxjs)  ${fmt(median(rt))} ms (${fmt(Math.min(...rt))}–${fmt(Math.max(...rt))})`);
console.log(`added by rxtether        ${fmt(median(diff))} ms (${fmt(Math.min(...diff))}–${fmt(Math.max(...diff))})`);
console.log(`rxtether after rxjs     ${fmt(median(inc))} ms (${fmt(Math.min(...inc))}–${fmt(Math.max(...inc))})  same process, rxjs already loaded`);
