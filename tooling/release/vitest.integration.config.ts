import { integrationConfig } from '@jobgate/vitest-config/integration';
import { defineConfig, mergeConfig } from 'vitest/config';

// The two files share nothing (hooks.test.ts commits in its own clone, release.test.ts in its own
// fixtures): both run at once, where vitest's default on 2 cores is one file after the other, and
// release.test.ts runs its cases 2 at a time (`describe.concurrent`).
export default mergeConfig(
  integrationConfig,
  defineConfig({ test: { maxWorkers: 2, maxConcurrency: 2 } }),
);
