import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests share one real build; run files one at a time so two real builds never race for 2 cores
    fileParallelism: false,
    reporters: ['default'],
  },
});
