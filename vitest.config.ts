import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; lab tests build real namespaces, so they get
// long timeouts and at most two files at once (the CI machine has 2 cores).
// test/alone: tests that load the whole host (thousands of connections, whose
// host-wide tracepoint events reach every lab's probe), run one at a time
// after every other file has finished, so no other test shares the machine
// with them.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    passWithNoTests: false,
    // A user's environment, not the CI machine's (see the file).
    setupFiles: ['test/setup-env.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: ['test/alone/**'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'alone', include: ['test/alone/**/*.test.ts'], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
