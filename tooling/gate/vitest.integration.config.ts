import { integrationConfig } from '@jobgate/vitest-config/integration';
import { defineConfig, mergeConfig } from 'vitest/config';

// Each test drives whole gate runs (several turbo and vitest processes) in fixture repos, each in
// its own temp directories: they share nothing, so two files run at once (on 2 cores vitest's
// default is one) and a file's tests run up to 2 at a time (`describe.concurrent`), which overlaps
// the waits (held tests, timeouts, process startup) instead of adding them up.
export default mergeConfig(
  integrationConfig,
  defineConfig({ test: { testTimeout: 120_000, maxWorkers: 2, maxConcurrency: 2 } }),
);
