import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'renderer/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: integration files start several redis-servers each.
    maxWorkers: 2,
    reporters: ['default', './test/support/summaryReporter.ts'],
  },
});
