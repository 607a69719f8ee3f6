import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

const entries = {
  index: 'src/index.ts',
  operators: 'operators/index.ts',
  node: 'src/node/index.ts',
  testing: 'src/testing/index.ts',
} as const;

const shared = {
  format: ['esm', 'cjs'],
  target: 'es2022',
  platform: 'neutral',
  tsconfig: 'tsconfig.build.json',
  // node:* builtins are imported by the rxtether/node entry only.
  external: ['rxjs', 'ws', /^node:/],
  // The builds below run in parallel, so none may use tsup's `clean` (it would delete the
  // others' output): dist/ is wiped once, before any of them starts.
  clean: false,
} satisfies Options;

export default defineConfig(() => {
  rmSync('dist', { recursive: true, force: true });
  return [
    // JavaScript: both entries in one build. Shared code (the error classes) lands in one
    // chunk that both entries import, so `instanceof` holds across `rxtether` and
    // `rxtether/operators` in ESM and in CJS.
    {
      ...shared,
      entry: entries,
      splitting: true,
      sourcemap: true,
      treeshake: true,
      dts: false,
    },
    // Declarations: one rollup per entry. Rolled up together, rollup-plugin-dts puts the
    // shared declarations into operators.d.ts and gives it mangled extra exports (`a`, `b`,
    // `i`, `C`, `M` for `CloseCode`, `isRetryableClose`, …) for index.d.ts to import, so
    // `import { a } from 'rxtether/operators'` would type-check and be undefined at runtime.
    // Built separately, each .d.ts/.d.cts declares exactly its entry's exports. The shared
    // types are then declared once per entry; they stay mutually assignable as long as the
    // error classes have no `private`/`#private` members, which test/package asserts.
    ...Object.entries(entries).map(
      ([name, file]): Options => ({ ...shared, entry: { [name]: file }, dts: { only: true } }),
    ),
  ];
});
