import { defineConfig } from 'vitest/config';

/**
 * The suites `npm run mutate` runs against each mutant: the in-process unit and store tests of the
 * code it mutates (src/reconcile, the twin mappings, src/store). The end-to-end suites spawn the
 * built CLI, which a mutant of src/ never reaches, and take minutes: they stay in `npm test` only.
 */
export default defineConfig({
  test: {
    include: ['test/reconcile/**/*.test.ts', 'test/commands/**/*.test.ts', 'test/store/**/*.test.ts', 'test/config.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
