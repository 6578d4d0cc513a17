// @ts-check
import { defineConfig } from 'vitest/config';
import { here, reporting } from './shared.js';

/** Unit tests: beside the code, no network, no Redis, never retried. */
export const unitConfig = defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    retry: 0,
    testTimeout: 5_000,
    setupFiles: [here('./no-network.ts')],
    ...reporting('unit'),
  },
});

export default unitConfig;
