import { defineConfig } from 'vitest/config';

// Two tiers (`npm test` runs both, unit first):
//   unit  no real build, VM or chroot: `npm run test:unit`, well under a minute
//   e2e   *.e2e.test.ts: the real build (shared by every e2e file), the smoke VM, packages in a chroot
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.e2e.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/globalSetup.ts'],
          // e2e files share one real build; one at a time so two builds never race for 2 cores
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
