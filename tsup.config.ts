import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    operators: 'operators/index.ts',
  },
  format: ['esm', 'cjs'],
  // Shared code (the error classes) lands in one chunk that both entries import, so
  // `instanceof` holds across `rxtether` and `rxtether/operators` in ESM and in CJS.
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: 'es2022',
  platform: 'neutral',
  tsconfig: 'tsconfig.build.json',
  external: ['rxjs', 'ws'],
});
