// Scenario 7 on its own: the reconnect-storm simulator.
//
//   npx tsx bench/storm/main.ts                 # N = 100,000 and 1,000,000, D = 10 s, C = 5,000/s
//   npx tsx bench/storm/main.ts --quick         # N = 10,000, C = 500/s (same shape), < 3 s
//   npx tsx bench/storm/main.ts --clients 250000 --down 30 --capacity 2000 --seed 7 --out /tmp/storm
//
// Writes STORM.md (the RESULTS.md section) and one SVG chart per N into the output directory:
// bench/storm/results/ for a full run, bench/.out/storm/ for a quick one, unless --out is given.
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberFlag, readFlags } from '../args.js';
import { runStorm } from './index.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function usage(message: string): never {
  console.error(`storm: ${message}
usage: npx tsx bench/storm/main.ts [--quick] [--clients N] [--down S] [--capacity C] [--seed S] [--out DIR]
  --quick        N = 10000, C = 500/s: the full run's shape at a tenth of the size
  --clients N    one fleet size instead of 100000 and 1000000 (up to 10000000)
  --down S       outage in seconds (default 10)
  --capacity C   handshakes per second once up (default 5000, 500 with --quick)
  --seed S       PRNG seed (default 1)
  --out DIR      output directory (default bench/storm/results, bench/.out/storm with --quick)`);
  process.exit(2);
}

function parse(argv: string[]) {
  const flags = readFlags(
    argv,
    {
      quick: { type: 'boolean' },
      clients: { type: 'string' },
      down: { type: 'string' },
      capacity: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
    usage,
  );
  return {
    quick: flags.quick ?? false,
    clients: numberFlag('--clients', flags.clients, (n) => Number.isSafeInteger(n) && n >= 1 && n <= 10_000_000, 'an integer in 1–10,000,000', usage),
    down: numberFlag('--down', flags.down, (n) => Number.isFinite(n) && n >= 0 && n <= 3600, 'seconds in 0–3600', usage),
    capacity: numberFlag('--capacity', flags.capacity, (n) => Number.isFinite(n) && n > 0, 'a positive number', usage),
    seed: numberFlag('--seed', flags.seed, (n) => Number.isSafeInteger(n), 'an integer', usage),
    out: flags.out,
  };
}

const args = parse(process.argv.slice(2));
const outDir = resolve(args.out ?? (args.quick ? resolve(HERE, '../.out/storm') : resolve(HERE, 'results')));
const report = await runStorm({
  quick: args.quick,
  outDir,
  ...(args.clients !== undefined ? { clients: [args.clients] } : {}),
  ...(args.down !== undefined ? { downSeconds: args.down } : {}),
  ...(args.capacity !== undefined ? { capacityPerSecond: args.capacity } : {}),
  ...(args.seed !== undefined ? { seed: args.seed } : {}),
  log: (line) => console.error(line),
});
const markdownFile = resolve(outDir, 'STORM.md');
writeFileSync(markdownFile, report.markdown);
console.log(report.markdown);
console.error(`wrote ${markdownFile}`);
for (const file of report.chartFiles) console.error(`wrote ${file}`);
