import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real sockets on loopback: keep workers few so the 2-core machines stay responsive.
    pool: 'forks',
    maxWorkers: 2,
  },
});
