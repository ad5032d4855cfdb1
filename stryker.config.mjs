// @ts-check
/**
 * `npm run mutate`: mutation testing of the code whose mistakes lose data or mislead — the planner,
 * the twin-to-row mappings and the store. See README, "Development".
 */
import { readFileSync } from 'node:fs';

/**
 * `mapGatewayRow` only, not the rest of gateway-ids.ts (its file writing is covered end to end,
 * which mutation testing does not run): the line range is found from the source on each run, so
 * it follows the function when the file changes.
 */
function functionLines(file, name) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(`export function ${name}(`));
  if (start < 0) throw new Error(`stryker.config.mjs: ${file} no longer declares ${name}`);
  const end = lines.findIndex((line, i) => i > start && line === '}');
  if (end < 0) throw new Error(`stryker.config.mjs: cannot find the end of ${name} in ${file}`);
  return `${file}:${start + 1}-${end + 1}`;
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  mutate: [
    'src/reconcile/**/*.ts',
    'src/commands/devices-mapping.ts',
    'src/commands/edge-mapping.ts',
    'src/commands/concentrators-mapping.ts',
    'src/commands/thing-types-mapping.ts',
    'src/commands/things-mapping.ts',
    'src/commands/greengrass-mapping.ts',
    functionLines('src/commands/gateway-ids.ts', 'mapGatewayRow'),
    'src/store/**/*.ts',
  ],
  testRunner: 'vitest',
  // Only the in-process unit and store suites: never the end-to-end ones (they spawn the CLI).
  vitest: { configFile: 'vitest.mutate.config.ts' },
  // Two suites (test/store/ensure-dir, test/store/pg-url) also run the built code in a child
  // process: build the sandbox so `dist/` is not older than the (instrumented) sources. With no
  // mutant active, the instrumented build behaves as the original.
  buildCommand: 'npm run build --silent',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // A mutant's run is allowed its dry-run time x timeoutFactor + timeoutMS; the store suites hit
  // PostgreSQL, whose temporary databases take a second or two to create.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['html', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  thresholds: { high: 85, low: 70, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
