import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; lab tests build real namespaces, so they get
// long timeouts and at most two files at once (the CI machine has 2 cores).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    passWithNoTests: false,
    // A user's environment, not the CI machine's (see the file).
    setupFiles: ['test/setup-env.ts'],
  },
});
