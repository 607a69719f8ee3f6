// How the benchmark loads rxtether: the way users get it, not through tsx.
//
// tsx compiles TypeScript with esbuild's `keepNames`, which wraps every named inner function
// in a `__name(fn, "fn")` call: ~256 bytes of extra properties per closure and a call per
// creation. Loaded that way, rxtether measured 13.3 KB per bare connect() and 50.5 KB per full
// client (scenario 4) against 5.2 and 24.6 KB as dist builds it, and its CPU figures were
// skewed too. So the runner builds, once per run, an ESM bundle of the current sources as tsup
// builds dist/ (esbuild, ESM, es2022, platform neutral, code splitting, rxjs and ws external,
// no keepNames, no minification) into bench/.out/rxtether-<pid>/, and every process that runs
// rxtether code (the client workers, scenario 6, the import-time children) imports that.
// dist/ itself is not used: it is only as fresh as the last `npm run build`.
//
// A plain `.js` ES module is not transformed by tsx (it only rewrites dynamic imports), and
// `importRxtether()` checks that the code it got has no `__name(` wrappers and that it uses
// the same rxjs instance as the importing process.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

export type Rxtether = typeof import('rxtether');

export interface RxtetherBuild {
  /** The output directory: `index.js`, `operators.js` and their shared chunks. */
  readonly dir: string;
  /** `file:` URL of the `rxtether` entry. */
  readonly indexUrl: string;
  /** `file:` URL of the `rxtether/operators` entry. */
  readonly operatorsUrl: string;
  /** Build time, ms. */
  readonly ms: number;
  /** Bytes of JavaScript written (entries and chunks). */
  readonly bytes: number;
  /** What was built, how and when, for the console and the RESULTS header. */
  readonly description: string;
  /** {@link dir}, relative to the repository. */
  readonly shown: string;
  /** Deletes the output directory. */
  remove(): void;
}

/**
 * Bundles src/index.ts and operators/index.ts with esbuild, as tsup builds dist/ (see
 * tsup.config.ts; without its declaration files, source maps and CommonJS copies), into
 * bench/.out/rxtether-<pid>/: one directory per run, as a quick smoke run and a full run may
 * overlap.
 */
export async function buildRxtether(): Promise<RxtetherBuild> {
  const { build } = await import('esbuild');
  const dir = resolve(HERE, `.out/rxtether-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  await build({
    entryPoints: { index: resolve(ROOT, 'src/index.ts'), operators: resolve(ROOT, 'operators/index.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['rxjs', 'rxjs/*', 'ws', 'node:*'],
    keepNames: false,
    minify: false,
    tsconfig: resolve(ROOT, 'tsconfig.build.json'),
    outdir: dir,
    logLevel: 'silent',
  });
  const ms = performance.now() - t0;
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  let bytes = 0;
  for (const f of files) {
    const text = readFileSync(resolve(dir, f), 'utf8');
    bytes += text.length;
    if (text.includes('__name(')) throw new Error(`bench: the rxtether bundle ${f} has __name() wrappers (keepNames)`);
  }
  const shown = relative(ROOT, dir);
  return {
    dir,
    indexUrl: pathToFileURL(resolve(dir, 'index.js')).href,
    operatorsUrl: pathToFileURL(resolve(dir, 'operators.js')).href,
    ms,
    bytes,
    description:
      `esbuild bundle of the current sources (src/index.ts + operators/index.ts: ESM, es2022, no keepNames, ` +
      `rxjs and ws external, as tsup builds dist/), built at the start of the run ` +
      `(${files.length} files, ${(bytes / 1024).toFixed(1)} KiB, ${ms.toFixed(0)} ms)`,
    shown,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Imports the bundle at `indexUrl` (from {@link buildRxtether}) and checks it: no function it
 * exports carries a `__name(` wrapper in its code as V8 loaded it (so no loader re-compiled it
 * with keepNames), and the observables it makes are instances of this process's rxjs
 * `Observable` (one rxjs, resolved alike by the bundle and by the benchmark's own code).
 */
export async function importRxtether(indexUrl: string): Promise<Rxtether> {
  if (!indexUrl.startsWith('file:') || !existsSync(fileURLToPath(indexUrl))) {
    throw new Error(`bench: no rxtether bundle at ${indexUrl}: the runner (bench/run.ts) builds it`);
  }
  const mod = (await import(indexUrl)) as Rxtether;
  checkRxtether(mod, indexUrl);
  const { Observable } = await import('rxjs');
  const probe = mod.connect({ url: 'ws://127.0.0.1:9/', socketFactory: () => ({}) as never }); // cold: nothing opens
  if (!(probe instanceof Observable)) {
    throw new Error(`bench: the rxtether bundle uses another rxjs than the benchmark (${rxjsLocation()}): two copies are loaded`);
  }
  return mod;
}

/** Throws if any exported function's source, as loaded, has a keepNames `__name(` call. */
export function checkRxtether(mod: object, where: string): void {
  const wrapped = Object.entries(mod)
    .filter(([, v]) => typeof v === 'function' && Function.prototype.toString.call(v).includes('__name('))
    .map(([k]) => k);
  if (wrapped.length) throw new Error(`bench: rxtether from ${where} was compiled with keepNames (__name() in ${wrapped.slice(0, 5).join(', ')})`);
}

/** Where this process resolves `rxjs` from (for messages). */
export function rxjsLocation(): string {
  try {
    return relative(ROOT, fileURLToPath(import.meta.resolve('rxjs')));
  } catch {
    return 'rxjs';
  }
}
