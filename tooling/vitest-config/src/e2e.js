// @ts-check
import { defineConfig } from 'vitest/config';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';
import { here, limits, reporting } from './shared.js';

/**
 * End-to-end tests: whole apps as processes against real Redis; files run one at a time, in a
 * worker that stays (`isolate: false`): a fresh worker per file (node, vitest's runner, the
 * stack's imports transformed again) cost about 1.2 CPU-s and 2-6 s between files beside chaos.
 * Each file starts and stops its own processes and namespaces.
 */
export const e2eConfig = defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: [here('./redis-global-setup.ts')],
    ...limits('e2e'),
    fileParallelism: false,
    isolate: false,
    retry: { count: MAX_RETRIES, condition: RETRYABLE_FAILURE },
    ...reporting('e2e'),
  },
});

export default e2eConfig;
