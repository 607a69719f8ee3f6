import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples import 'rxtether' as users do; in this repo it resolves to the sources.
  resolve: {
    alias: {
      'rxtether/node': fileURLToPath(new URL('./src/node/index.ts', import.meta.url)),
      'rxtether/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      'rxtether/operators': fileURLToPath(new URL('./operators/index.ts', import.meta.url)),
      rxtether: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    // In CI, also write a machine-readable report: .ci/run prints its totals as a plain
    // "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]] : ['default'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real sockets on loopback: keep workers few so the 2-core machines stay responsive.
    pool: 'forks',
    maxWorkers: 2,
  },
});
