import { defineConfig } from 'vitest/config';

// Three tiers (`npm test` runs them all, in this order):
//   unit  in-process and fast: `npm run test:unit`, under a minute on 2 busy cores
//   cli   the files listed in CLI_TIER: they run the CLI as a child process many times (flags,
//         interrupts, I/O faults, doctor, audit), local HTTP servers and a real OCI registry;
//         `npm run test:cli`, a few minutes
//   e2e   *.e2e.test.ts: the real build (shared by every e2e file), the smoke VM, packages in a chroot
// A file joins CLI_TIER when it takes more than ~2.5 s alone (measured in a full run).
const CLI_TIER = [
  'audit', 'build-progress', 'cache-integrity', 'doctor', 'extract', 'faults-extract', 'faults-fetch',
  'faults-flags', 'faults-gc', 'faults-interrupt', 'faults-io', 'faults-recipes', 'faults-verify',
  'fetch', 'fetch-command', 'nginxtests-command', 'npm-package', 'package-interrupt', 'package-outdir', 'recipes',
  'provenance-cli', 'remote-cache', 'remote-oci', 'smoke-cli', 'smoke-fake', 'terminal', 'tokens',
].map((f) => `test/${f}.test.ts`);
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // unit tests mostly wait (CLI child processes, local servers): more workers than the 2 cores
    maxWorkers: 4,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.e2e.test.ts', ...CLI_TIER],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'cli',
          include: CLI_TIER,
          sequence: { groupOrder: 1 },
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
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
