// @ts-check
import { defineConfig } from 'vitest/config';
import { MAX_RETRIES, RETRYABLE_FAILURE } from './retry.js';
import { here, limits, reporting } from './shared.js';

/** Integration tests: real Redis (started here unless REDIS_URL is set), real HTTP on loopback. */
export const integrationConfig = defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: [here('./redis-global-setup.ts')],
    // Files run in a reused worker without a new module graph each, as unit files do: a process,
    // environment and imports per file cost more than many files' tests (alone, under the lock:
    // core 21.6 → 10.6 CPU-s, api 29.4 → 15.7, testkit 8.8 → 6.4, every test passing). Each file
    // sets up and tears down its own servers, namespaces and env changes.
    isolate: false,
    ...limits('integration'),
    retry: { count: MAX_RETRIES, condition: RETRYABLE_FAILURE },
    ...reporting('integration'),
  },
});

export default integrationConfig;
