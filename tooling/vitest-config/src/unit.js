// @ts-check
import { defineConfig } from 'vitest/config';
import { here, limits, reporting } from './shared.js';

/** Unit tests: beside the code, no network, no Redis, never retried. */
export const unitConfig = defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    retry: 0,
    ...limits('unit'),
    setupFiles: [here('./no-network.ts')],
    ...reporting('unit'),
  },
});

export default unitConfig;
