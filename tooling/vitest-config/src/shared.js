// @ts-check
import '@jobgate/testkit/node20-polyfills';
import { sep } from 'node:path';
// The presets are plain JavaScript on purpose: Vite bundles a package's vitest config and leaves
// workspace packages reached through node_modules to Node, which cannot load .ts on Node 20.

/** @typedef {'unit' | 'integration' | 'e2e' | 'chaos'} Level */
/** @typedef {NonNullable<import('vitest/config').ViteUserConfig['test']>} TestConfig */

/**
 * Where each level writes its machine-readable results; `turbo.json` lists it as the task output.
 * @param {Level} level
 */
export function resultsDir(level) {
  return `.test-results/${level}`;
}

/**
 * How long one test (or hook) of a level may take. `timeoutMs` stops it: every wait inside a test
 * is bounded well below it (testkit `waitFor`), so reaching it means a hang, and a hang fails in
 * seconds instead of holding the run. `slowMs` is the per-test budget: a test over it passes but
 * is flagged SLOW in the gate's report (and in vitest's own output), so no test takes minutes
 * unnoticed, including one that raised its own timeout.
 * @type {Record<Level, { timeoutMs: number, slowMs: number }>}
 */
export const TEST_LIMITS = {
  unit: { timeoutMs: 5_000, slowMs: 2_000 },
  integration: { timeoutMs: 30_000, slowMs: 10_000 },
  e2e: { timeoutMs: 60_000, slowMs: 30_000 },
  // A scenario drives hundreds of jobs through killed processes; its preset keeps its own hooks' limit.
  chaos: { timeoutMs: 180_000, slowMs: 90_000 },
};

/**
 * @param {Level} level
 * @returns {TestConfig}
 */
export function limits(level) {
  const { timeoutMs, slowMs } = TEST_LIMITS[level];
  return { testTimeout: timeoutMs, hookTimeout: timeoutMs, slowTestThreshold: slowMs };
}

/**
 * @param {Level} level
 * @returns {TestConfig}
 */
export function reporting(level) {
  const dir = resultsDir(level);
  return {
    reporters: [
      process.env.CI ? 'dot' : 'default',
      'json',
      'junit',
      // Retries and flaky status per test, for the gate (vitest's JSON reporter drops them).
      [
        here('./gate-reporter.js'),
        { outputFile: `${dir}/gate.json`, slowTestMs: TEST_LIMITS[level].slowMs },
      ],
    ],
    outputFile: { json: `${dir}/results.json`, junit: `${dir}/junit.xml` },
    includeTaskLocation: true,
    passWithNoTests: true,
    ...tierFilter(),
    ...shardFilter(),
  };
}

/**
 * ADR-002 tiers: a `[P2]` tag in a test's (or its describe's) name marks it tracked-only. The gate
 * sets JOBGATE_TIERS (hashed by turbo) to the tiers it runs; without P2 those tests are skipped.
 * Plain `vitest` without the gate runs everything.
 * @returns {TestConfig}
 */
export function tierFilter() {
  const tiers = process.env.JOBGATE_TIERS;
  if (!tiers || tiers.split(',').includes('P2')) return {};
  return { testNamePattern: /^(?!.*\[P2\])/ };
}

/**
 * `gate run test:e2e --shard 2/4` runs a time-balanced share of the test files: the gate passes
 * them as JOBGATE_SHARD_FILES (`<package dir>::<file>`, comma-separated; hashed by turbo) and each
 * package keeps its own. A package with none of them runs no test file.
 * @returns {TestConfig}
 */
export function shardFilter() {
  const spec = process.env.JOBGATE_SHARD_FILES;
  if (spec === undefined) return {};
  const cwd = process.cwd().split(sep).join('/');
  const mine = spec
    .split(',')
    .map((entry) => entry.split('::'))
    .filter(([dir, file]) => dir && file && (cwd === dir || cwd.endsWith(`/${dir}`)))
    .map(([, file]) => /** @type {string} */ (file));
  return { include: mine.length > 0 ? mine : ['.gate-shard-has-no-files-here'] };
}

/** @param {string} file */
export function here(file) {
  return new URL(file, import.meta.url).pathname;
}
