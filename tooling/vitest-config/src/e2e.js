// @ts-check
import { defineConfig } from 'vitest/config';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';
import { here, limits, reporting } from './shared.js';

/** End-to-end tests: whole apps as processes against real Redis; files run one at a time. */
export const e2eConfig = defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: [here('./redis-global-setup.ts')],
    ...limits('e2e'),
    fileParallelism: false,
    retry: { count: MAX_RETRIES, condition: RETRYABLE_FAILURE },
    ...reporting('e2e'),
  },
});

export default e2eConfig;
