import { integrationConfig } from '@jobgate/vitest-config/integration';
import { defineConfig, mergeConfig } from 'vitest/config';

// The two files share nothing (hooks.test.ts commits in its own clone, release.test.ts in its own
// fixtures): both run at once, where vitest's default on 2 cores is one file after the other, and
// release.test.ts runs its six `pnpm release` cases all at once (`describe.concurrent`). Each is a
// chain of short processes (git, zx, changesets) of about 2 CPU-s; in the loaded integration level
// a chain gets a thread's share of two cores, so two at a time in three rounds made this file the
// level's tail (a round of 121-155 s in a soak run), where six at once end with the slowest.
export default mergeConfig(
  integrationConfig,
  defineConfig({ test: { maxWorkers: 2, maxConcurrency: 6 } }),
);
