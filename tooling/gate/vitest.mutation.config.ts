import { unitConfig } from '@jobgate/vitest-config/unit';
import { defineConfig } from 'vitest/config';

// Stryker's runs (`pnpm gate mutation gate`): the unit preset, narrowed to the test files of the
// policy code it mutates. The bundle and checkout tests (esbuild, git) cover none of it and would
// make every one of several hundred runs seconds slower.
export default defineConfig({
  ...unitConfig,
  test: {
    ...unitConfig.test,
    include: [
      'src/policy.test.ts',
      'src/results.test.ts',
      'src/quarantine.test.ts',
      'src/tiers.test.ts',
      'src/tiers-file.test.ts',
      'src/counts.test.ts',
      'src/shards.test.ts',
      'src/shards-files.test.ts',
      'src/slow.test.ts',
      'src/soak.test.ts',
    ],
  },
});
