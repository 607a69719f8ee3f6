// CPU per value added by each operator, in memory: N pre-parsed objects pushed through
// `new Subject()` → operator → subscriber, against the same Subject → subscriber with nothing
// between. Variants interleaved in chunks (so none gets the JIT to itself); median of reps.
// node scripts/perf/operators.mjs [--n 1000000] [--reps 7] [--only 'substring of a variant']
//
// With --heap: what an idle subscription of each operator retains, by heap-snapshot diff (as
// heapdiff.mjs): snapshots before and after N subscriptions to a source that never emits
// (heartbeatTimeout with its check pending on asyncScheduler), aggregated by constructor.
// node --expose-gc scripts/perf/operators.mjs --heap [--n 2000] [--only ...] [--top 15]
import { writeHeapSnapshot } from 'node:v8';
import { Observable, Subject, asyncScheduler, map } from 'rxjs';
import { arg, fmt, loadRxtether, median, summarizeSnapshot } from './util.mjs';

const { heartbeatTimeout, resumeFrom, createResumeCursor, isNextInSequence, retryWithJitteredBackoff } = await loadRxtether('operators/index.ts');
if (process.argv.includes('--heap')) {
  await heap();
  process.exit(0);
}
const N = Number(arg('n', 1_000_000));
const REPS = Number(arg('reps', 7));
const CHUNK = 10_000;
const values = Array.from({ length: N }, (_, i) => ({ type: 'msg', channel: `t${i % 10}`, seq: i + 1, price: 100 + (i % 997) / 7 }));

const variants = {
  'nothing': () => (s) => s,
  'map(x => x) (rxjs, one layer)': () => map((x) => x),
  'Date.now() per value (tap)': () => map((x) => (Date.now() > 0 ? x : x)),
  'heartbeatTimeout(60_000)': () => heartbeatTimeout({ timeout: 60_000 }),
  // The same with a clock that costs nothing: what the operator costs besides its one clock read.
  'heartbeatTimeout, clock () => 0': () =>
    heartbeatTimeout({ timeout: 60_000, scheduler: { now: () => 0, schedule: (...a) => asyncScheduler.schedule(...a) } }),
  'heartbeatTimeout + isAlive': () => heartbeatTimeout({ timeout: 60_000, isAlive: (m) => m.type === 'msg' }),
  'resumeFrom(seq, isNextInSequence)': () => resumeFrom(createResumeCursor({ cursorOf: (m) => m.seq, isNext: isNextInSequence })),
  'retryWithJitteredBackoff()': () => retryWithJitteredBackoff(),
  'all three': () => (s) =>
    s.pipe(
      heartbeatTimeout({ timeout: 60_000 }),
      resumeFrom(createResumeCursor({ cursorOf: (m) => m.seq, isNext: isNextInSequence })),
      retryWithJitteredBackoff(),
    ),
};
const only = arg('only', undefined);
const names = Object.keys(variants).filter((n) => !only || n === 'nothing' || n.includes(only));
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let rep = -1; rep < REPS; rep++) {
  const runs = {};
  for (const n of names) {
    const subject = new Subject();
    let count = 0;
    let last = 0;
    const sub = subject.pipe(variants[n]()).subscribe((v) => {
      count++;
      last = v.seq;
    });
    runs[n] = { subject, sub, ns: 0, count: () => count, last: () => last };
  }
  for (let from = 0; from < N; from += CHUNK) {
    const to = Math.min(N, from + CHUNK);
    for (let j = 0; j < names.length; j++) {
      const run = runs[names[(j + from / CHUNK) % names.length]];
      const { subject } = run;
      const t0 = process.hrtime.bigint();
      for (let i = from; i < to; i++) subject.next(values[i]);
      run.ns += Number(process.hrtime.bigint() - t0);
    }
  }
  for (const n of names) {
    const run = runs[n];
    if (run.count() !== N || run.last() !== N) throw new Error(`WRONG ${n}: ${run.count()} values, last ${run.last()}`);
    run.sub.unsubscribe();
    if (rep >= 0) results[n].push(run.ns / N);
  }
}
console.log(`operators, Subject → operator → subscriber: N=${N}, ${REPS} reps, ns/value: median (min–max); added = median of per-rep differences to 'nothing'`);
const base = results.nothing;
for (const n of names) {
  const added = results[n].map((x, i) => x - base[i]);
  console.log(
    `${n.padEnd(36)} ${fmt(median(results[n]), 1).padStart(7)} ns (${fmt(Math.min(...results[n]), 1)}–${fmt(Math.max(...results[n]), 1)})` +
      (n === 'nothing' ? '' : `   added ${fmt(median(added), 1).padStart(6)} ns (${fmt(Math.min(...added), 1)}–${fmt(Math.max(...added), 1)})`),
  );
}

async function heap() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const n = Number(arg('n', 2000));
  const silent = new Observable(() => {});
  const cursor = createResumeCursor({ cursorOf: (m) => m.seq, isNext: isNextInSequence });
  const operators = {
    'nothing (source only)': (s) => s,
    'heartbeatTimeout(60_000)': heartbeatTimeout({ timeout: 60_000 }),
    'resumeFrom(cursor)': resumeFrom(cursor),
    'retryWithJitteredBackoff()': retryWithJitteredBackoff(),
  };
  const only = arg('only', undefined);
  const gc = async () => {
    for (let i = 0; i < 4; i++) {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
    }
  };
  for (const [name, operator] of Object.entries(operators)) {
    if (only && !name.includes(only)) continue;
    const keep = [];
    const next = () => {};
    const open = () => keep.push(silent.pipe(operator).subscribe({ next, error: next }));
    open(); // warm up: compile and allocate whatever is shared before the first snapshot
    await gc();
    const before = await summarizeSnapshot(writeHeapSnapshot(`/tmp/operators-before-${process.pid}.heapsnapshot`));
    for (let i = 0; i < n; i++) open();
    await gc();
    const after = await summarizeSnapshot(writeHeapSnapshot(`/tmp/operators-after-${process.pid}.heapsnapshot`));
    const rows = [];
    let total = 0;
    for (const [key, [count, size]] of after) {
      const [count0, size0] = before.get(key) ?? [0, 0];
      const dn = (count - count0) / n;
      const ds = (size - size0) / n;
      total += ds;
      if (Math.abs(ds) >= 4) rows.push([key, dn, ds]);
    }
    rows.sort((x, y) => y[2] - x[2]);
    console.log(`${name}: ${total.toFixed(0)} B per subscription (snapshot self sizes, N=${n})`);
    for (const [key, dn, ds] of rows.slice(0, Number(arg('top', 15)))) {
      console.log(`  ${ds.toFixed(0).padStart(5)} B ${dn.toFixed(2).padStart(5)} × ${key}`);
    }
    for (const sub of keep) sub.unsubscribe();
  }
}

