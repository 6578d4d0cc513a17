// @ts-check
import { defineConfig } from 'vitest/config';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';
import { here, limits, reporting } from './shared.js';

/** Integration tests: real Redis (started here unless REDIS_URL is set), real HTTP on loopback. */
export const integrationConfig = defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: [here('./redis-global-setup.ts')],
    ...limits('integration'),
    retry: { count: MAX_RETRIES, condition: RETRYABLE_FAILURE },
    ...reporting('integration'),
  },
});

export default integrationConfig;
