import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Property and exhaustive corruption tests are CPU-bound; two cores on CI.
    testTimeout: 60_000,
    pool: 'forks',
  },
});
