// The test kit cannot use @jobgate/vitest-config: that package depends on this one (a cycle Turbo
// refuses). Its own tests start their own servers, so it needs no global Redis either.
import { defineConfig } from 'vitest/config';
import './src/node20-polyfills.js';

const level = process.env.VITEST_LEVEL === 'integration' ? 'integration' : 'unit';
export default defineConfig({
  test: {
    include: level === 'unit' ? ['src/**/*.test.ts'] : ['test/integration/**/*.test.ts'],
    testTimeout: level === 'unit' ? 5_000 : 30_000,
    passWithNoTests: true,
    // As the presets: files reuse a worker (integration alone: 8.8 → 6.4 CPU-s).
    isolate: false,
    includeTaskLocation: true,
    reporters: [process.env.CI ? 'dot' : 'default', 'json', 'junit'],
    outputFile: {
      json: `.test-results/${level}/results.json`,
      junit: `.test-results/${level}/junit.xml`,
    },
  },
});
