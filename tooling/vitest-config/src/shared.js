// @ts-check
import '@jobgate/testkit/node20-polyfills';
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
      [here('./gate-reporter.js'), { outputFile: `${dir}/gate.json` }],
    ],
    outputFile: { json: `${dir}/results.json`, junit: `${dir}/junit.xml` },
    includeTaskLocation: true,
    passWithNoTests: true,
  };
}

/** @param {string} file */
export function here(file) {
  return new URL(file, import.meta.url).pathname;
}
