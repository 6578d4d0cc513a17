// @ts-check
import { defineConfig } from 'vitest/config';
import { here, limits, reporting } from './shared.js';

/** Unit tests: beside the code, no network, no Redis, never retried. */
export const unitConfig = defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    retry: 0,
    // One worker runs a package's files one after another without a fresh module graph per file:
    // a new process and environment per file cost more than the tests (core: 11.3 → 4.4 CPU-s, the
    // gate 9.3 → 3.4). A file must leave no global state behind (env stubs undone, timers real).
    isolate: false,
    ...limits('unit'),
    setupFiles: [here('./no-network.ts')],
    ...reporting('unit'),
  },
});

export default unitConfig;
